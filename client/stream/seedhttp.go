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
)

// startHead fetches the head of the track from the seed server: one HTTP
// Range request, each piece injected as soon as its bytes arrive.
func (s *Stream) startHead() {
	headBytes := int64(s.c.policy.Head.Seconds() * s.bps)
	headEnd := int(min(int64(s.numPieces), max(1, (headBytes+s.pieceLen-1)/s.pieceLen)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head != headNone {
		return
	}
	s.headEnd = headEnd
	first := -1
	for i := range headEnd {
		if s.acct[i].source == srcNone {
			first = i
			break
		}
	}
	if first < 0 || len(s.track.SeedURLs) == 0 {
		s.head = headDone
		if first >= 0 {
			s.tried = append(s.tried, "the catalog lists no seed URL")
		}
		return
	}
	ctx, cancel := context.WithCancelCause(s.ctx)
	s.head = headRunning
	s.headCancel = cancel
	s.headStarted = time.Now()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel(nil)
		err := s.fetchSeed(ctx, first, headEnd-1, srcSeedHead)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err == nil {
			s.head = headDone
			return
		}
		cause := context.Cause(ctx)
		if cause != nil && ctx.Err() != nil {
			err = cause
		}
		if strings.HasPrefix(err.Error(), "peers delivered") {
			s.head = headDone
			return
		}
		// Slow or failed: the head and emergencies come from peers for a while.
		s.head = headFailed
		s.httpBadUntil = time.Now().Add(5 * s.c.policy.HeadTimeout)
		s.c.log.Info("seed server did not deliver the head; using peers", "id", s.track.ID, "err", err)
	}()
}

func (s *Stream) cancelHead(cause error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headCancel != nil && s.head == headRunning {
		s.headCancel(cause)
		if !strings.HasPrefix(cause.Error(), "peers delivered") {
			s.tried = append(s.tried, cause.Error())
		}
	}
}

// startFetch fetches pieces [first, last] from the seed server as an
// emergency, in the background.
func (s *Stream) startFetch(first, last int) {
	s.mu.Lock()
	if s.fetchBusy {
		s.mu.Unlock()
		return
	}
	s.fetchBusy = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(s.ctx, s.c.policy.GiveUp)
		defer cancel()
		err := s.fetchSeed(ctx, first, last, srcSeedEmergency)
		s.mu.Lock()
		s.fetchBusy = false
		if err != nil && s.ctx.Err() == nil {
			s.httpBadUntil = time.Now().Add(s.c.policy.HeadTimeout)
		}
		s.mu.Unlock()
		s.poke()
	}()
}

// fetchSeed fetches pieces [first, last] from the first seed URL that
// answers, injecting each piece as soon as it has arrived.
func (s *Stream) fetchSeed(ctx context.Context, first, last int, kind source) error {
	var errs []error
	for _, u := range s.track.SeedURLs {
		err := s.fetchSeedURL(ctx, u, first, last, kind)
		if err == nil {
			return nil
		}
		s.noteTried(fmt.Sprintf("%s: %v", u, err))
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return errors.New("no seed URL")
	}
	return errors.Join(errs...)
}

func (s *Stream) fetchSeedURL(ctx context.Context, url string, first, last int, kind source) error {
	start := int64(first) * s.pieceLen
	end := min(int64(last+1)*s.pieceLen, s.size) // exclusive
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("bad seed URL: %w", err)
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end-1))
	resp, err := s.c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		rs, re, total, err := parseContentRange(resp.Header.Get("Content-Range"))
		if err != nil {
			return fmt.Errorf("status %s: %w", resp.Status, err)
		}
		if rs != start || re < end-1 || (total >= 0 && total != s.size) {
			return fmt.Errorf("status %s: Content-Range %q does not match bytes %d-%d of %d",
				resp.Status, resp.Header.Get("Content-Range"), start, end-1, s.size)
		}
	case http.StatusOK:
		// A server that ignores Range sends the whole file: usable from 0 only.
		if start != 0 {
			return fmt.Errorf("status %s: the server ignored the Range request", resp.Status)
		}
	default:
		return fmt.Errorf("status %s", resp.Status)
	}
	for i := first; i <= last; i++ {
		buf := make([]byte, s.pieceSize(i))
		n, err := io.ReadFull(resp.Body, buf)
		s.noteHTTP(i, int64(n))
		if err != nil {
			if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
				return cause
			}
			return fmt.Errorf("reading piece %d: %w", i, err)
		}
		if err := s.inject(ctx, i, buf, kind); err != nil {
			return err
		}
		if s.allComplete(i+1, last) {
			return nil // peers delivered the rest of the range
		}
	}
	return nil
}

func (s *Stream) allComplete(from, to int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := from; i <= to; i++ {
		if s.acct[i].source == srcNone {
			return false
		}
	}
	return true
}

func (s *Stream) noteHTTP(i int, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastProgress = time.Now()
	a := &s.acct[i]
	if a.source != srcNone {
		s.duplicate += n
		return
	}
	a.fromHTTP += n
}

// inject writes a piece fetched over HTTP into the torrent and verifies it,
// unless it is already complete (writing a complete piece is wasted at best).
func (s *Stream) inject(ctx context.Context, i int, buf []byte, kind source) error {
	c := s.c
	c.lifeMu.RLock()
	defer c.lifeMu.RUnlock()
	if c.closed || s.ctx.Err() != nil {
		return ErrClosed
	}
	p := s.t.Piece(i)
	if p.State().Complete {
		// Completed by a peer; its completion event attributes it.
		return nil
	}
	s.mu.Lock()
	if s.acct[i].source != srcNone {
		s.mu.Unlock()
		return nil
	}
	s.acct[i].injecting = kind
	s.mu.Unlock()
	ok, err := s.writeAndVerify(ctx, i, buf)
	s.mu.Lock()
	s.acct[i].injecting = srcNone
	if ok {
		s.attributeLocked(i, kind)
	} else if err == nil {
		s.hashFailures++
	}
	s.mu.Unlock()
	if !ok && p.State().Complete {
		// A peer completed it while the injection failed or was cancelled.
		s.onPieceComplete(i)
	}
	s.poke()
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("piece %d failed verification", i)
	}
	return nil
}

func (s *Stream) writeAndVerify(ctx context.Context, i int, buf []byte) (bool, error) {
	p := s.t.Piece(i)
	sp := p.Storage()
	write := sp.WriteAt
	if fp, ok := sp.PieceImpl.(*fbPiece); ok {
		// Sealed against peers' chunks until checked: one landing after
		// the check would leave their bytes in a "complete" piece.
		write = func(b []byte, _ int64) (int, error) { return fp.writeWhole(b) }
	}
	if _, err := write(buf, 0); err != nil {
		return false, fmt.Errorf("writing piece %d: %w", i, err)
	}
	if err := p.VerifyDataContext(ctx); err != nil {
		return false, fmt.Errorf("verifying piece %d: %w", i, err)
	}
	// VerifyData returns a little before the piece is marked complete.
	deadline := time.Now().Add(5 * time.Second)
	for {
		st := p.State()
		if !st.Hashing && !st.QueuedForHash && !st.Marking {
			return st.Complete, nil
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("piece %d: verification did not settle", i)
		}
		select {
		case <-ctx.Done():
			return false, context.Cause(ctx)
		case <-time.After(time.Millisecond):
		}
	}
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
