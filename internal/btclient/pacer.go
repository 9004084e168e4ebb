package btclient

import (
	"context"
	"math"
	"time"

	"github.com/anacrolix/torrent"
	"golang.org/x/time/rate"
)

// Upload pacing. anacrolix uploads to every interested peer at once and
// hands each connection's chunks to its socket as fast as the socket takes
// them. On a slow uplink (a home line of a few times a track's bitrate)
// the chunks then cross it side by side, each slowly, behind a queue at
// the router, and meanwhile the peer that asked for one takes it from
// another peer as well (request stealing): the cancel comes too late, both
// copies arrive, and the uplinks carry up to twice what is needed. Kept
// just under the line's rate, with a burst of one chunk, the chunks cross
// it one after another at its full speed, and the requests wait in
// anacrolix, where a cancel still reaches them.
//
// The pacer finds the line by the queue it builds: the round trip of a
// busy TCP connection grows over its least by the time its packets wait
// at the router. The least such growth over the busy connections is the
// queue of our own uplink (a peer whose uplink is queued delays its own
// connections' acknowledgements only). Until a queue is seen, uploads are
// not held back at all: a fast line never sees one, and loopback peers are
// not looked at.

// PaceParams are the pacer's settings; zero fields take the defaults in
// DefaultPaceParams.
type PaceParams struct {
	Max     float64       // the user's cap, bytes per second; 0: none
	Min     float64       // the pacer never limits below this
	Tick    time.Duration // how often the sockets are read
	Queued  time.Duration // a queue of this much says the line is full ...
	Hold    time.Duration // ... and is not judged again for this long, while it drains
	Backoff float64       // the limit then: this fraction of the rate the sockets took (or of Clear, when more)
	Climb   float64       // factor per second while the limit held uploads back and no queue was seen
	Forget  float64       // each back-off keeps this fraction of Clear (PaceState)
	Ours    float64       // a queue is taken for our uplink's only while the sockets take this fraction of Clear or more
	Linger  float64       // a queue not taken for ours keeps this fraction of Clear
}

// DefaultPaceParams are the settings a player uses.
var DefaultPaceParams = PaceParams{
	Min:     ChunkSize,
	Tick:    250 * time.Millisecond,
	Queued:  100 * time.Millisecond,
	Hold:    750 * time.Millisecond,
	Backoff: 0.85,
	Climb:   1.2,
	Forget:  0.95,
	Ours:    0.75,
	Linger:  0.99,
}

// WithDefaults fills the zero fields from DefaultPaceParams.
func (p PaceParams) WithDefaults() PaceParams {
	d := DefaultPaceParams
	or := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	ord := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&p.Min, d.Min)
	or(&p.Backoff, d.Backoff)
	or(&p.Climb, d.Climb)
	or(&p.Forget, d.Forget)
	or(&p.Ours, d.Ours)
	or(&p.Linger, d.Linger)
	ord(&p.Tick, d.Tick)
	ord(&p.Queued, d.Queued)
	ord(&p.Hold, d.Hold)
	if p.Max > 0 {
		p.Min = min(p.Min, p.Max)
	}
	return p
}

// PaceSample is one tick's reading.
type PaceSample struct {
	Elapsed time.Duration
	LetIn   int64 // piece bytes the limiter let into the connections
	Sent    int64 // bytes the sockets took, messages of every kind
	Lines   []Line
}

// PaceState is what the pacer knows between ticks.
type PaceState struct {
	Limit    float64       // bytes per second; 0: none (or the user's cap)
	SentRate float64       // bytes per second the sockets took, smoothed over about a second
	Queue    time.Duration // the last queue seen (the least over the busy connections)
	Hold     time.Duration // left of the hold after a back-off
	Full     bool          // a queue was seen once
	// Clear is the highest limit that held uploads back while no queue
	// showed: the line carries at least that much. A back-off goes no
	// lower than Backoff of it, for in a swarm whose uplinks are all busy
	// every connection's acknowledgements wait behind its peer's queued
	// uplink, and the round trips show a queue that is not ours: backing
	// off from what the sockets took then ratcheted the limit down to Min,
	// about one bitrate on a line of two (bench-internet, public: the
	// players' limits averaged 19 kB/s on 40 kB/s lines).
	Clear float64
}

// Pace is the pacer's decision: the state after one more tick.
func Pace(p PaceParams, s PaceState, x PaceSample) PaceState {
	p = p.WithDefaults()
	dt := x.Elapsed.Seconds()
	if dt <= 0 {
		return s
	}
	sent := float64(x.Sent) / dt
	if s.SentRate == 0 {
		s.SentRate = sent
	} else {
		s.SentRate += min(dt, 1) * (sent - s.SentRate)
	}
	queue, busy := time.Duration(math.MaxInt64), false
	for _, l := range x.Lines {
		if l.Busy {
			busy = true
			queue = min(queue, max(l.RTT-l.MinRTT, 0))
		}
	}
	if !busy {
		queue = 0
	}
	s.Queue = queue
	s.Hold = max(s.Hold-x.Elapsed, 0)
	limit := s.Limit
	if limit == 0 && p.Max > 0 {
		limit = p.Max
	}
	// The limit was what held uploads back (not the peers' demand).
	bound := limit > 0 && float64(x.LetIn) >= 0.8*limit*dt
	seen := busy && queue >= p.Queued && s.Hold == 0
	switch {
	case seen && s.SentRate < p.Ours*s.Clear:
		// A queue while we send well under what the line carried without
		// one is not ours (the round trips showed one with the sockets
		// taking 2 kB/s on a 40 kB/s line): nothing to back off from. It
		// forgets a little of Clear all the same, so that a line that
		// carries less than it did (another upload in the home) is found
		// again within seconds of queues.
		s.Clear *= p.Linger
	case seen:
		back := max(p.Backoff*s.SentRate, p.Backoff*s.Clear, p.Min)
		if limit == 0 || back < limit {
			s.Limit = back
		}
		// A queue at Clear's rate says the line may carry less: each
		// back-off forgets a little of it (a few take it under the line).
		s.Clear *= p.Forget
		s.Hold, s.Full = p.Hold, true
	case s.Limit > 0 && bound && queue < p.Queued/2:
		s.Clear = max(s.Clear, s.Limit)
		s.Limit *= math.Pow(p.Climb, dt)
	}
	if p.Max > 0 && s.Limit > p.Max {
		s.Limit = 0 // the cap alone
	}
	return s
}

// limit is the limiter's rate for a state.
func (s PaceState) limit(p PaceParams) rate.Limit {
	switch {
	case s.Limit > 0:
		return rate.Limit(s.Limit)
	case p.Max > 0:
		return rate.Limit(p.Max)
	}
	return rate.Inf
}

// NewPacedLimiter returns an upload limiter for a pacer: at the user's cap
// or none, with a burst of one chunk (the most anacrolix lets a peer ask
// for at once), so that chunks go out one after another once it paces.
func NewPacedLimiter(p PaceParams) *rate.Limiter {
	p = p.WithDefaults()
	return rate.NewLimiter(PaceState{}.limit(p), ChunkSize)
}

// RunPacer paces lim from cl's counters and tcp's sockets every tick until
// ctx is done. Its caller owns the goroutine it runs in; onBackoff, when
// not nil, is called each time it found a queue and backed off.
func RunPacer(ctx context.Context, p PaceParams, lim *rate.Limiter, cl *torrent.Client, tcp *TCP, onBackoff func(PaceState)) {
	p = p.WithDefaults()
	t := time.NewTicker(p.Tick)
	defer t.Stop()
	last, lastAt := cl.ConnStats(), time.Now()
	var s PaceState
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cs := cl.ConnStats()
			x := PaceSample{
				Elapsed: now.Sub(lastAt),
				LetIn:   cs.BytesWrittenData.Int64() - last.BytesWrittenData.Int64(),
				Sent:    cs.BytesWritten.Int64() - last.BytesWritten.Int64(),
			}
			if tcp != nil {
				x.Lines = tcp.Lines()
			}
			prev := s
			s = Pace(p, s, x)
			last, lastAt = cs, now
			if l := s.limit(p); l != prev.limit(p) {
				lim.SetLimit(l)
			}
			if onBackoff != nil && s.Hold > prev.Hold {
				onBackoff(s)
			}
		}
	}
}
