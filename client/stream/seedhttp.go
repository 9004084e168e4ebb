package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/client/stream/cachestore"
	"github.com/peertune/peertune/proto"
)

// fetchTimeout bounds one HTTP fetch from the seed server.
const fetchTimeout = 10 * time.Second

// startFetch carries out a StartFetch: one HTTP Range request in its own
// goroutine, each piece put into the torrent as soon as its bytes arrived.
// The goroutine reports to the owner by events; the owner ends it with
// cancel.
func (o *owner) startFetch(a policy.StartFetch) {
	s := o.s
	o.nextID++
	id := o.nextID
	ctx, cancel := context.WithCancelCause(s.ctx)
	f := &fetch{Fetch: policy.Fetch{ID: id, Kind: a.Kind, First: a.First, Last: a.Last, Next: a.First, Started: time.Now()}, cancel: cancel}
	o.fetches[id] = f
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		tctx, stop := context.WithTimeoutCause(ctx, fetchTimeout, fmt.Errorf("no answer in %s", fetchTimeout))
		defer stop()
		retry, err := s.fetchSeed(tctx, id, a)
		if err != nil && ctx.Err() != nil {
			if cause := context.Cause(ctx); cause != nil {
				err = cause // cancelled by the owner: its reason
			}
		}
		s.post(func(o *owner) { o.fetchEnded(id, err, retry) })
	}()
}

func (o *owner) fetchEnded(id int, err error, retry time.Duration) {
	f, ok := o.fetches[id]
	if !ok {
		return
	}
	delete(o.fetches, id)
	o.results = append(o.results, policy.Result{ID: id, Kind: f.Kind, Err: err, RetryAfter: retry})
	o.dirty = true
	o.s.c.log.Debug("seed server fetch ended", "track", o.s.track.ID, "kind", f.Kind, "first", f.First, "last", f.Last,
		"next", f.Next, "took", time.Since(f.Started).Round(time.Millisecond), "err", err)
}

// fetchSeed fetches the pieces from the first seed URL that answers.
func (s *Stream) fetchSeed(ctx context.Context, id int, a policy.StartFetch) (time.Duration, error) {
	var errs []error
	for _, u := range s.track.SeedURLs {
		retry, err := s.fetchSeedURL(ctx, id, u, a)
		if err == nil || errors.Is(err, policy.ErrNoSpare) {
			return retry, err
		}
		if ctx.Err() != nil {
			return 0, err
		}
		msg := fmt.Sprintf("%s: %v", u, err)
		s.post(func(o *owner) { o.noteTried(msg) })
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return 0, errors.New("no seed URL")
	}
	return 0, errors.Join(errs...)
}

func (s *Stream) fetchSeedURL(ctx context.Context, id int, url string, a policy.StartFetch) (time.Duration, error) {
	start := int64(a.First) * s.pieceLen
	end := min(int64(a.Last+1)*s.pieceLen, s.size) // exclusive
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, fmt.Errorf("bad seed URL: %w", err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end-1))
	kind := fetchMark(a)
	req.Header.Set(proto.HeaderFetch, kind)
	req.Header.Set(proto.HeaderDue, strconv.FormatInt(a.Due.Milliseconds(), 10))
	resp, err := s.c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if v := resp.Header.Get(proto.HeaderSeedSpare); v != "" {
		spare := -1.0
		if v == proto.SpareUnlimited {
			spare = 1e18
		} else if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			spare = n
		}
		at := time.Now()
		s.post(func(o *owner) { o.spare, o.spareAt = spare, at })
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		rs, re, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return 0, fmt.Errorf("status %s: %w", resp.Status, err)
		}
		if rs != start || re < end-1 || (total >= 0 && total != s.size) {
			return 0, fmt.Errorf("status %s: Content-Range %q does not match bytes %d-%d of %d",
				resp.Status, resp.Header.Get("Content-Range"), start, end-1, s.size)
		}
	case http.StatusOK:
		// A server that ignores Range sends the whole file: usable from 0 only.
		if start != 0 {
			return 0, fmt.Errorf("status %s: the server ignored the Range request", resp.Status)
		}
	case http.StatusServiceUnavailable:
		if kind == proto.FetchFill {
			retry := time.Second
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && n > 0 {
				retry = time.Duration(n) * time.Second
			}
			return retry, fmt.Errorf("status %s: %w", resp.Status, policy.ErrNoSpare)
		}
		return 0, fmt.Errorf("status %s", resp.Status)
	default:
		return 0, fmt.Errorf("status %s", resp.Status)
	}
	src := sourceOf(a.Kind)
	for i := a.First; i <= a.Last; i++ {
		buf := make([]byte, s.pieceSize(i))
		n, err := io.ReadFull(resp.Body, buf)
		s.post(func(o *owner) { o.httpBytes(i, int64(n)) })
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				return 0, cause
			}
			return 0, fmt.Errorf("reading piece %d: %w", i, err)
		}
		if err := s.inject(ctx, i, buf, src); err != nil {
			return 0, err
		}
		arrived := time.Now()
		s.post(func(o *owner) {
			if f, ok := o.fetches[id]; ok {
				f.Next, f.Arrived = i+1, arrived
				o.dirty = true
			}
		})
	}
	return 0, nil
}

func (o *owner) httpBytes(i int, n int64) {
	o.lastProgress = time.Now()
	a := &o.acct[i]
	if a.source != srcNone {
		o.duplicate += n
		return
	}
	a.fromHTTP += n
}

// inject writes a piece fetched over HTTP into the torrent and has the
// BitTorrent client verify it, unless it is already complete (writing a
// complete piece is wasted at best). The owner learns the outcome from the
// piece-state subscription.
func (s *Stream) inject(ctx context.Context, i int, buf []byte, src source) error {
	c := s.c
	c.lifeMu.RLock()
	defer c.lifeMu.RUnlock()
	if c.closed || s.ctx.Err() != nil {
		return ErrClosed
	}
	p := s.t.Piece(i)
	if p.State().Complete {
		return nil // a peer was first; its completion is attributed to it
	}
	s.post(func(o *owner) {
		a := &o.acct[i]
		if a.source == srcNone {
			a.inject, a.injectKind, a.hashSeen = injWriting, src, false
			o.pieces[i].Checking = true
		}
	})
	sp := p.Storage()
	write := sp.WriteAt
	if fp, ok := sp.PieceImpl.(cachestore.WholeWriter); ok {
		// Sealed against peers' chunks until checked: one landing after
		// the check would leave their bytes in a "complete" piece.
		write = func(b []byte, _ int64) (int, error) { return fp.WriteWhole(b) }
	}
	_, err := write(buf, 0)
	if err == nil {
		err = p.VerifyDataContext(ctx)
	}
	s.post(func(o *owner) {
		a := &o.acct[i]
		switch {
		case a.source != srcNone || a.inject == injNone:
		case err != nil:
			a.inject = injNone
			o.pieces[i].Checking = false
			o.duplicate += a.fromHTTP
			a.fromHTTP = 0
		default:
			a.inject = injVerifying
		}
	})
	if err != nil {
		return fmt.Errorf("piece %d: %w", i, err)
	}
	return nil
}

// parseContentRange parses "bytes first-last/total" (total may be "*",
// returned as -1).
func parseContentRange(h string) (first, last, total int64, err error) {
	rest, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q: not a byte range", h)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q: no total", h)
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, fmt.Errorf("Content-Range %q: no range", h)
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, 0, fmt.Errorf("Content-Range %q: bad range", h)
	}
	total = -1
	if tot != "*" {
		total, err = strconv.ParseInt(tot, 10, 64)
		if err != nil || total <= last {
			return 0, 0, 0, fmt.Errorf("Content-Range %q: bad total", h)
		}
	}
	return first, last, total, nil
}

// fetchMark is a fetch's proto.HeaderFetch: how soon the seed server is to
// send it.
func fetchMark(a policy.StartFetch) string {
	switch {
	case a.Kind == policy.KindHead:
		return proto.FetchHead
	case !a.Kind.Urgent():
		return proto.FetchFill
	case a.Unheld:
		return proto.FetchUnheld
	}
	return proto.FetchUrgent
}
