package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/tracker"
)

// Defaults of Config.
const (
	DefaultMinRetry       = time.Second
	DefaultMaxRetry       = 30 * time.Second
	DefaultAttemptTimeout = 5 * time.Second
	DefaultStopTimeout    = 3 * time.Second
	DefaultNumWant        = 50
	// fallbackInterval is used when a tracker answers without an interval.
	fallbackInterval = 5 * time.Minute
)

// Config says what a Loop announces and where.
type Config struct {
	// InfoHash is the torrent's v1 infohash.
	InfoHash metainfo.Hash
	// URLs are the torrent's announce URLs (http, https, udp), in order of
	// preference: each announce goes to the first that answers.
	URLs []string
	// PeerID and Port are the BitTorrent client's (cl.PeerID(),
	// cl.LocalPort()).
	PeerID [20]byte
	Port   int
	// Left returns the bytes still missing; 0 makes the client a seeder
	// in the tracker's eyes. Required.
	Left func() int64
	// Completed, if not nil, is closed when the torrent completes: an
	// event=completed announce follows at once (unless the torrent was
	// already complete at the first announce).
	Completed <-chan struct{}
	// AddPeers receives the peers each announce returns. nil drops them
	// (a seeder that only wants to be found).
	AddPeers func([]torrent.PeerInfo)
	// NumWant is the peers asked for (default DefaultNumWant; negative
	// asks for none).
	NumWant int
	// MinRetry and MaxRetry bound the backoff after a failed announce: it
	// starts at MinRetry and doubles up to MaxRetry or the tracker's last
	// interval, whichever is shorter. Each wait is jittered down by up to
	// a quarter.
	MinRetry, MaxRetry time.Duration
	// AttemptTimeout bounds one announce to one HTTP URL. A UDP tracker
	// that is down never answers, so a UDP attempt waits no longer than
	// the current backoff (MinRetry after a success), within
	// AttemptTimeout: a dead UDP fallback must not hold up the next try
	// of a tracker that comes back.
	AttemptTimeout time.Duration
	// StopTimeout bounds the event=stopped announce on Close.
	StopTimeout time.Duration
	// Logger gets announce failures at debug level and recoveries at info
	// (default: discarded).
	Logger *slog.Logger
}

// Status is a snapshot of a Loop's progress.
type Status struct {
	Announces int           // successful announces
	Failures  int           // announce rounds in which no URL answered
	URL       string        // the URL that answered last
	Interval  time.Duration // the interval that URL asked for
	LastErr   error         // the last round's error, nil after a success
	Peers     int           // peers in the last answer
}

// Loop announces one torrent until Close. Create it with Start.
type Loop struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once

	mu        sync.Mutex
	status    Status
	preferred int // index in cfg.URLs of the URL that answered last
}

// Start checks cfg and starts announcing: event=started at once, then
// every interval. A Config without URLs gives a Loop that does nothing.
func Start(cfg Config) (*Loop, error) {
	if cfg.Left == nil {
		return nil, errors.New("announce: no Left function")
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("announce: port %d out of range", cfg.Port)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.MinRetry, DefaultMinRetry)
	def(&cfg.MaxRetry, DefaultMaxRetry)
	def(&cfg.AttemptTimeout, DefaultAttemptTimeout)
	def(&cfg.StopTimeout, DefaultStopTimeout)
	cfg.MaxRetry = max(cfg.MaxRetry, cfg.MinRetry)
	switch {
	case cfg.NumWant == 0:
		cfg.NumWant = DefaultNumWant
	case cfg.NumWant < 0:
		cfg.NumWant = 0
	}
	cfg.URLs = append([]string(nil), cfg.URLs...)
	l := &Loop{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	l.log = l.log.With("infohash", cfg.InfoHash.HexString())
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	if len(cfg.URLs) == 0 {
		close(l.done)
		return l, nil
	}
	go func() {
		defer close(l.done)
		l.run(ctx)
	}()
	return l, nil
}

// Status returns a snapshot of the loop's progress.
func (l *Loop) Status() Status {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status
}

// Close stops announcing and, if the tracker heard from us, sends
// event=stopped (bounded by StopTimeout). It returns when the loop's
// goroutine has ended; later calls return at once.
func (l *Loop) Close() error {
	l.once.Do(l.cancel)
	<-l.done
	return nil
}

func (l *Loop) run(ctx context.Context) {
	event := tracker.Started
	completed := l.cfg.Completed
	if l.cfg.Left() == 0 {
		completed = nil // a seeder from the start: started says so
	}
	backoff := l.cfg.MinRetry
	var interval time.Duration // the tracker's last interval; 0 before an answer
	announced := false         // the tracker may know us: send stopped on Close
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		start := time.Now()
		err := l.announceOnce(ctx, event, backoff)
		if ctx.Err() != nil {
			// Cut short by Close: the tracker may have heard it.
			announced = true
			break
		}
		var wait time.Duration
		if err == nil {
			if !announced || backoff > l.cfg.MinRetry {
				l.log.Info("announced", "event", event.String(), "tracker", l.Status().URL)
			}
			announced = true
			event = tracker.None
			backoff = l.cfg.MinRetry
			interval = l.Status().Interval
			wait = interval
		} else {
			l.log.Debug("announce failed", "event", event.String(), "retry_in", backoff, "err", err)
			// Jitter down by up to a quarter: clients that lost the same
			// tracker do not come back in lockstep.
			wait = backoff - rand.N(backoff/4+1)
			limit := l.cfg.MaxRetry
			if interval > 0 {
				limit = min(limit, interval)
			}
			backoff = max(min(backoff*2, limit), l.cfg.MinRetry)
			// A slow failure (a UDP timeout) already waited.
			wait = max(wait-time.Since(start), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-timer.C:
		case <-completed:
			completed = nil
			if event == tracker.None {
				event = tracker.Completed
			} // else started is still pending and carries left=0
			timer.Stop() // Go 1.23+: no stale tick to drain
		}
		if ctx.Err() != nil {
			break
		}
	}
	if announced {
		sctx, cancel := context.WithTimeout(context.Background(), l.cfg.StopTimeout)
		defer cancel()
		if err := l.announceOnce(sctx, tracker.Stopped, l.cfg.StopTimeout); err != nil {
			l.log.Debug("stopped announce failed", "err", err)
		}
	}
}

// announceOnce sends one announce, to the URL that answered last and then
// to the others in order, and records the answer.
func (l *Loop) announceOnce(ctx context.Context, event tracker.AnnounceEvent, udpTimeout time.Duration) error {
	l.mu.Lock()
	first := l.preferred
	l.mu.Unlock()
	numWant := int32(l.cfg.NumWant)
	if event == tracker.Stopped {
		numWant = 0
	}
	req := tracker.AnnounceRequest{
		InfoHash: l.cfg.InfoHash,
		PeerId:   l.cfg.PeerID,
		Port:     uint16(l.cfg.Port),
		Left:     max(l.cfg.Left(), 0),
		Event:    event,
		NumWant:  numWant,
	}
	var errs []error
	n := len(l.cfg.URLs)
	for k := range n {
		i := (first + k) % n
		u := l.cfg.URLs[i]
		timeout := l.cfg.AttemptTimeout
		if strings.HasPrefix(u, "udp") {
			timeout = min(timeout, udpTimeout)
		}
		res, err := l.announceTo(ctx, u, req, timeout)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		peers := toPeerInfos(res.Peers)
		iv := time.Duration(res.Interval) * time.Second
		if iv <= 0 {
			iv = fallbackInterval
		}
		l.mu.Lock()
		l.preferred = i
		l.status.Announces++
		l.status.URL = u
		l.status.Interval = iv
		l.status.LastErr = nil
		l.status.Peers = len(peers)
		l.mu.Unlock()
		if len(peers) > 0 && l.cfg.AddPeers != nil && event != tracker.Stopped {
			l.cfg.AddPeers(peers)
		}
		return nil
	}
	err := fmt.Errorf("announce %s: %w", event.String(), errors.Join(errs...))
	l.mu.Lock()
	l.status.Failures++
	l.status.LastErr = err
	l.mu.Unlock()
	return err
}

func (l *Loop) announceTo(ctx context.Context, url string, req tracker.AnnounceRequest, timeout time.Duration) (tracker.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := tracker.NewClient(url, tracker.NewClientOpts{})
	if err != nil {
		return tracker.AnnounceResponse{}, err
	}
	defer c.Close()
	return c.Announce(ctx, req, tracker.AnnounceOpt{})
}

// toPeerInfos turns a tracker's peers into anacrolix's, skipping ones with
// no usable address.
func toPeerInfos(ps []tracker.Peer) []torrent.PeerInfo {
	out := make([]torrent.PeerInfo, 0, len(ps))
	for _, p := range ps {
		if p.IP == nil || p.Port <= 0 || p.Port > 65535 || p.IP.IsUnspecified() {
			continue
		}
		pi := torrent.PeerInfo{
			Addr:   &net.TCPAddr{IP: p.IP, Port: p.Port},
			Source: torrent.PeerSourceTracker,
		}
		copy(pi.Id[:], p.ID)
		out = append(out, pi)
	}
	return out
}
