package btclient

import (
	"math"
	"testing"
	"time"
)

func TestPace(t *testing.T) {
	const tick = 250 * time.Millisecond
	p := PaceParams{}.WithDefaults()
	for _, c := range []struct {
		name  string
		p     PaceParams
		s     PaceState
		x     PaceSample
		check func(t *testing.T, s PaceState)
	}{
		{
			name: "the first limit is Start",
			x:    PaceSample{Elapsed: tick},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != p.Start {
					t.Errorf("limit %.0f, want %.0f", s.Limit, p.Start)
				}
			},
		},
		{
			name: "the limit holds uploads back and the sockets keep up: it climbs fast until the line is found full",
			s:    PaceState{Limit: 100e3, SentRate: 100e3},
			x:    PaceSample{Elapsed: tick, LetIn: 25e3, Sent: 25e3},
			check: func(t *testing.T, s PaceState) {
				if want := 100e3 * math.Pow(p.Climb, tick.Seconds()); math.Abs(s.Limit-want) > 1 || s.Full {
					t.Errorf("limit %.0f full %v, want %.0f, not full", s.Limit, s.Full, want)
				}
			},
		},
		{
			name: "once the line was found full, it probes slowly",
			s:    PaceState{Limit: 100e3, SentRate: 100e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 25e3, Sent: 25e3},
			check: func(t *testing.T, s PaceState) {
				if want := 100e3 * math.Pow(p.Probe, tick.Seconds()); math.Abs(s.Limit-want) > 1 {
					t.Errorf("limit %.0f, want %.0f", s.Limit, want)
				}
			},
		},
		{
			name: "the peers ask for less than the limit lets through: it stays",
			s:    PaceState{Limit: 100e3, SentRate: 10e3},
			x:    PaceSample{Elapsed: tick, LetIn: 2500, Sent: 2500},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 100e3 {
					t.Errorf("limit %.0f, want 100000", s.Limit)
				}
			},
		},
		{
			name: "the sockets fall more than one and a half chunks behind: the line is full, the limit is 0.9 of what they take",
			s:    PaceState{Limit: 60e3, SentRate: 40e3},
			x:    PaceSample{Elapsed: tick, LetIn: 15e3, Sent: 10e3, Backlog: 40e3},
			check: func(t *testing.T, s PaceState) {
				if !s.Full {
					t.Errorf("not full")
				}
				if want := p.Backoff * s.SentRate; math.Abs(s.Limit-want) > 1 {
					t.Errorf("limit %.0f, want %.0f", s.Limit, want)
				}
			},
		},
		{
			name: "while the backlog drains it stays under the line and does not probe",
			s:    PaceState{Limit: 36e3, SentRate: 40e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 9e3, Sent: 10e3, Backlog: 39e3},
			check: func(t *testing.T, s PaceState) {
				if s.Limit > 40e3 {
					t.Errorf("limit %.0f over the line's 40000", s.Limit)
				}
			},
		},
		{
			name: "on a fast line a few chunks are nothing: full only past QueueTime at the sockets' rate",
			s:    PaceState{Limit: 10e6, SentRate: 10e6},
			x:    PaceSample{Elapsed: tick, LetIn: 2.5e6, Sent: 2.5e6, Backlog: 1e6},
			check: func(t *testing.T, s PaceState) {
				if s.Full || s.Limit != 10e6 {
					t.Errorf("full %v limit %.0f: a 100 ms queue taken for a full line", s.Full, s.Limit)
				}
			},
		},
		{
			name: "never above the user's cap",
			p:    PaceParams{Max: 30e3},
			s:    PaceState{Limit: 29e3, SentRate: 29e3},
			x:    PaceSample{Elapsed: tick, LetIn: 7250, Sent: 7250},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 30e3 {
					t.Errorf("limit %.0f, want the cap 30000", s.Limit)
				}
			},
		},
		{
			name: "never below Min, however little the sockets take",
			s:    PaceState{Limit: 20e3, SentRate: 100},
			x:    PaceSample{Elapsed: tick, LetIn: 1000, Sent: 10, Backlog: 1e6},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != p.Min {
					t.Errorf("limit %.0f, want Min %.0f", s.Limit, p.Min)
				}
			},
		},
		{
			name: "no time passed: nothing changes",
			s:    PaceState{Limit: 20e3, SentRate: 20e3},
			x:    PaceSample{LetIn: 1e6},
			check: func(t *testing.T, s PaceState) {
				if (s != PaceState{Limit: 20e3, SentRate: 20e3}) {
					t.Errorf("state %+v changed", s)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, Pace(c.p, c.s, c.x)) })
	}
}

// line is a model of an uplink of rate bytes per second under peers that
// ask for more than it carries: the limiter lets in up to limit·dt (its
// burst aside), the buffers before the sockets take what the line sends.
type line struct {
	rate    float64
	backlog float64 // let in, not yet sent
}

func (l *line) tick(limit float64, dt time.Duration) PaceSample {
	in := limit * dt.Seconds()
	l.backlog += in
	sent := min(l.backlog, l.rate*dt.Seconds())
	l.backlog -= sent
	return PaceSample{Elapsed: dt, LetIn: int64(in), Sent: int64(sent), Backlog: int64(l.backlog)}
}

// TestPacerFindsTheLine runs the pacer against model lines from a home
// uplink to a fast one: after the first seconds it lets through about the
// line's rate (so the line is used) and the buffers before the sockets hold
// well under a second of it (so a chunk crosses soon after it is let in).
func TestPacerFindsTheLine(t *testing.T) {
	for _, rate := range []float64{40e3, 250e3, 5e6} {
		p := PaceParams{}.WithDefaults()
		l := &line{rate: rate}
		var s PaceState
		var sent, worst float64
		const settle, run = 20 * time.Second, 120 * time.Second
		for at := time.Duration(0); at < settle+run; at += p.Tick {
			limit := s.Limit
			if limit == 0 {
				limit = p.Start
			}
			x := l.tick(limit, p.Tick)
			s = Pace(p, s, x)
			if at >= settle {
				sent += float64(x.Sent)
				worst = max(worst, l.backlog/rate)
			}
		}
		used := sent / run.Seconds() / rate
		t.Logf("line %.0f B/s: used %.2f of it, worst queue %.2f s, limit now %.0f", rate, used, worst, s.Limit)
		if used < 0.85 {
			t.Errorf("line %.0f B/s: only %.2f of it used", rate, used)
		}
		if worst > 1 {
			t.Errorf("line %.0f B/s: up to %.2f s queued before the sockets", rate, worst)
		}
	}
}
