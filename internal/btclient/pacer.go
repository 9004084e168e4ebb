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
// them. On a slow uplink (a home line of a few times a track's bitrate) the
// chunks then cross it side by side, each slowly, and meanwhile the peer
// that asked for one takes it from another peer as well (request
// stealing): the cancel comes too late, both copies arrive, and the
// uplinks carry half again or twice what is needed. Kept just under the
// line's rate, with a burst of one chunk, the chunks cross one after
// another at the line's full speed, and the requests wait where a cancel
// still reaches them (measured: scripts/bench-internet.sh, README). The
// line's rate is found by watching how fast the sockets take what the
// limiter lets through: when they fall behind, the line is full.

// PaceParams are the pacer's settings; zero fields take the defaults in
// DefaultPaceParams.
type PaceParams struct {
	Max       float64       // the user's cap, bytes per second; 0: none
	Min       float64       // never below this
	Start     float64       // the first limit
	Tick      time.Duration // how often the counters are read
	Backlog   int64         // bytes let through and not yet taken by the sockets above which the line is full ...
	QueueTime time.Duration // ... or, when more, this long at the rate the sockets take
	Backoff   float64       // the limit then: this fraction of what the sockets take
	Climb     float64       // factor per second while the line was never found full
	Probe     float64       // factor per second once it was
}

// DefaultPaceParams are the settings a player uses.
var DefaultPaceParams = PaceParams{
	Min:       ChunkSize,
	Start:     64 << 10,
	Tick:      250 * time.Millisecond,
	Backlog:   ChunkSize + ChunkSize/2,
	QueueTime: 250 * time.Millisecond,
	Backoff:   0.9,
	Climb:     2.5,
	Probe:     1.03,
}

// WithDefaults fills the zero fields from DefaultPaceParams.
func (p PaceParams) WithDefaults() PaceParams {
	d := DefaultPaceParams
	or := func(v *float64, def float64) {
		if *v <= 0 {
			*v = def
		}
	}
	or(&p.Min, d.Min)
	or(&p.Start, d.Start)
	or(&p.Backoff, d.Backoff)
	or(&p.Climb, d.Climb)
	or(&p.Probe, d.Probe)
	if p.Tick <= 0 {
		p.Tick = d.Tick
	}
	if p.Backlog <= 0 {
		p.Backlog = d.Backlog
	}
	if p.QueueTime <= 0 {
		p.QueueTime = d.QueueTime
	}
	if p.Max > 0 {
		p.Min = min(p.Min, p.Max)
		p.Start = min(p.Start, p.Max)
	}
	return p
}

// PaceSample is what the client's counters moved by in one tick, and the
// backlog at its end.
type PaceSample struct {
	Elapsed time.Duration
	LetIn   int64 // piece bytes the limiter let into the connections (ConnStats.BytesWrittenData)
	Sent    int64 // bytes the sockets took, messages of every kind (ConnStats.BytesWritten)
	// Backlog is the piece bytes let into the connections and not yet
	// taken by their sockets, summed over all but the connection with the
	// most: one slow receiver does not make the line full, all of them
	// falling behind together does. (Other messages make it an
	// underestimate.)
	Backlog int64
}

// PaceState is what the pacer knows between ticks.
type PaceState struct {
	Limit    float64 // bytes per second
	Backlog  int64   // the last sample's
	SentRate float64 // bytes per second the sockets took, smoothed over about a second
	Full     bool    // the line was found full once
}

// Pace is the pacer's decision: the state after one more tick.
func Pace(p PaceParams, s PaceState, x PaceSample) PaceState {
	p = p.WithDefaults()
	dt := x.Elapsed.Seconds()
	if dt <= 0 {
		return s
	}
	if s.Limit <= 0 {
		s.Limit = p.Start
	}
	s.Backlog = x.Backlog
	sent := float64(x.Sent) / dt
	if s.SentRate == 0 {
		s.SentRate = sent
	} else {
		a := min(dt, 1)
		s.SentRate += a * (sent - s.SentRate)
	}
	full := s.Backlog > max(p.Backlog, int64(p.QueueTime.Seconds()*s.SentRate))
	// The limit was what held the uploads back (not the peers' demand).
	bound := float64(x.LetIn) >= 0.8*s.Limit*dt
	switch {
	case full:
		s.Limit = p.Backoff * s.SentRate
		s.Full = true
	case bound && s.Backlog <= ChunkSize:
		f := p.Climb
		if s.Full {
			f = p.Probe
		}
		s.Limit *= math.Pow(f, dt)
	}
	s.Limit = max(s.Limit, p.Min)
	if p.Max > 0 {
		s.Limit = min(s.Limit, p.Max)
	}
	return s
}

// NewPacedLimiter returns an upload limiter for a pacer: a burst of one
// chunk (the most anacrolix lets a peer ask for at once), so that chunks
// go out one after another.
func NewPacedLimiter(p PaceParams) *rate.Limiter {
	p = p.WithDefaults()
	return rate.NewLimiter(rate.Limit(p.Start), ChunkSize)
}

// RunPacer paces lim from cl's counters every tick until ctx is done. Its
// caller owns the goroutine it runs in.
func RunPacer(ctx context.Context, p PaceParams, lim *rate.Limiter, cl *torrent.Client, onChange func(PaceState)) {
	p = p.WithDefaults()
	t := time.NewTicker(p.Tick)
	defer t.Stop()
	last, lastAt := cl.ConnStats(), time.Now()
	s := PaceState{Limit: float64(lim.Limit())}
	var b backlogs
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			cs := cl.ConnStats()
			prev := s
			s = Pace(p, s, PaceSample{
				Elapsed: now.Sub(lastAt),
				LetIn:   cs.BytesWrittenData.Int64() - last.BytesWrittenData.Int64(),
				Sent:    cs.BytesWritten.Int64() - last.BytesWritten.Int64(),
				Backlog: b.update(cl),
			})
			last, lastAt = cs, now
			if s.Limit != prev.Limit {
				lim.SetLimit(rate.Limit(s.Limit))
			}
			if onChange != nil && s.Full != prev.Full {
				onChange(s)
			}
		}
	}
}

// backlogs follows each connection's piece bytes let in and taken by its
// socket.
type backlogs struct {
	conns map[*torrent.PeerConn]*connBacklog
	gen   uint64
}

type connBacklog struct {
	letIn, sent, backlog int64
	gen                  uint64 // when last seen
}

// update reads every connection's counters and returns the backlog summed
// over all but the largest (PaceSample.Backlog).
func (b *backlogs) update(cl *torrent.Client) int64 {
	if b.conns == nil {
		b.conns = map[*torrent.PeerConn]*connBacklog{}
	}
	b.gen++
	var sum, largest int64
	for _, t := range cl.Torrents() {
		for _, pc := range t.PeerConns() {
			st := pc.Stats()
			in, sent := st.BytesWrittenData.Int64(), st.BytesWritten.Int64()
			c := b.conns[pc]
			if c == nil {
				c = &connBacklog{letIn: in, sent: sent}
				b.conns[pc] = c
			}
			c.backlog = max(0, c.backlog+in-c.letIn-(sent-c.sent))
			c.letIn, c.sent, c.gen = in, sent, b.gen
			sum += c.backlog
			largest = max(largest, c.backlog)
		}
	}
	for pc, c := range b.conns {
		if c.gen != b.gen {
			delete(b.conns, pc)
		}
	}
	return sum - largest
}
