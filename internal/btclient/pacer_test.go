package btclient

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Lines of a tick's sample: RTT over a 40 ms path, busy or idle.
func queued(d time.Duration) Line {
	return Line{RTT: 40*time.Millisecond + d, MinRTT: 40 * time.Millisecond, Busy: true}
}

var idle = Line{RTT: 2 * time.Second, MinRTT: 40 * time.Millisecond}

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
			name: "no queue on a busy line: uploads are not held back",
			x:    PaceSample{Elapsed: tick, LetIn: 250e3, Sent: 250e3, Lines: []Line{queued(5 * time.Millisecond), queued(0)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 0 || s.Full || s.limit(p) != rate.Inf {
					t.Errorf("state %+v, want no limit", s)
				}
			},
		},
		{
			name: "every busy line queued 150 ms: the line is full, the limit is Backoff of what the sockets took",
			s:    PaceState{SentRate: 40e3},
			x:    PaceSample{Elapsed: tick, LetIn: 10e3, Sent: 10e3, Lines: []Line{queued(150 * time.Millisecond), queued(300 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if want := p.Backoff * 40e3; math.Abs(s.Limit-want) > 1 || !s.Full || s.Hold != p.Hold {
					t.Errorf("state %+v, want limit %.0f, full, held %v", s, want, p.Hold)
				}
			},
		},
		{
			name: "one busy line not queued: the others' queues are their peers' uplinks, not ours",
			s:    PaceState{SentRate: 40e3},
			x:    PaceSample{Elapsed: tick, LetIn: 10e3, Sent: 10e3, Lines: []Line{queued(300 * time.Millisecond), queued(10 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 0 || s.Full {
					t.Errorf("state %+v, want no limit", s)
				}
			},
		},
		{
			name: "idle lines say nothing, however long their last round trip",
			s:    PaceState{SentRate: 40e3},
			x:    PaceSample{Elapsed: tick, LetIn: 10e3, Sent: 10e3, Lines: []Line{idle, idle}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 0 || s.Full {
					t.Errorf("state %+v, want no limit", s)
				}
			},
		},
		{
			name: "while the queue drains after a back-off, it is not judged again",
			s:    PaceState{Limit: 34e3, SentRate: 40e3, Hold: 500 * time.Millisecond, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 8500, Sent: 10e3, Lines: []Line{queued(200 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 34e3 || s.Hold != 250*time.Millisecond {
					t.Errorf("state %+v, want limit 34000 held 250ms more", s)
				}
			},
		},
		{
			name: "still queued after the hold: it backs off again",
			s:    PaceState{Limit: 34e3, SentRate: 34e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 8500, Sent: 8500, Lines: []Line{queued(200 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if want := p.Backoff * 34e3; math.Abs(s.Limit-want) > 1 {
					t.Errorf("limit %.0f, want %.0f", s.Limit, want)
				}
			},
		},
		{
			name: "the limit holds uploads back and no queue is seen: it climbs",
			s:    PaceState{Limit: 34e3, SentRate: 34e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 8500, Sent: 8500, Lines: []Line{queued(10 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if want := 34e3 * math.Pow(p.Climb, tick.Seconds()); math.Abs(s.Limit-want) > 1 {
					t.Errorf("limit %.0f, want %.0f", s.Limit, want)
				}
			},
		},
		{
			name: "a queue under Queued but over half of it: it holds",
			s:    PaceState{Limit: 34e3, SentRate: 34e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 8500, Sent: 8500, Lines: []Line{queued(70 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 34e3 {
					t.Errorf("limit %.0f, want 34000", s.Limit)
				}
			},
		},
		{
			name: "the peers ask for less than the limit lets through: it stays",
			s:    PaceState{Limit: 34e3, SentRate: 5e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 1250, Sent: 1250, Lines: []Line{queued(0)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 34e3 {
					t.Errorf("limit %.0f, want 34000", s.Limit)
				}
			},
		},
		{
			name: "a climb records the limit it climbed from as what the line carries",
			s:    PaceState{Limit: 34e3, SentRate: 34e3, Full: true, Clear: 20e3},
			x:    PaceSample{Elapsed: tick, LetIn: 8500, Sent: 8500, Lines: []Line{queued(10 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if s.Clear != 34e3 {
					t.Errorf("clear %.0f, want 34000", s.Clear)
				}
			},
		},
		{
			name: "a back-off goes no lower than Backoff of what the line carried without a queue, and forgets a little of it",
			s:    PaceState{Limit: 34e3, SentRate: 28e3, Full: true, Clear: 36e3},
			x:    PaceSample{Elapsed: tick, LetIn: 7000, Sent: 7000, Lines: []Line{queued(200 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if want := p.Backoff * 36e3; math.Abs(s.Limit-want) > 1 {
					t.Errorf("limit %.0f, want %.0f", s.Limit, want)
				}
				if want := p.Forget * 36e3; math.Abs(s.Clear-want) > 1 {
					t.Errorf("clear %.0f, want %.0f", s.Clear, want)
				}
			},
		},
		{
			name: "a queue while the sockets take well under what the line carried without one is not ours: no back-off",
			s:    PaceState{Limit: 34e3, SentRate: 10e3, Full: true, Clear: 36e3},
			x:    PaceSample{Elapsed: tick, LetIn: 2500, Sent: 2500, Lines: []Line{queued(200 * time.Millisecond)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 34e3 || s.Hold != 0 || math.Abs(s.Clear-p.Linger*36e3) > 1 {
					t.Errorf("state %+v, want limit 34000 kept, no hold, clear %.0f", s, p.Linger*36e3)
				}
			},
		},
		{
			name: "never below Min, however little the sockets took",
			s:    PaceState{SentRate: 100},
			x:    PaceSample{Elapsed: tick, Sent: 25, Lines: []Line{queued(time.Second)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != p.Min {
					t.Errorf("limit %.0f, want Min %.0f", s.Limit, p.Min)
				}
			},
		},
		{
			name: "with the user's cap and no queue: the cap",
			p:    PaceParams{Max: 30e3},
			x:    PaceSample{Elapsed: tick, LetIn: 7500, Sent: 7500, Lines: []Line{queued(0)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 0 || s.limit(PaceParams{Max: 30e3}) != 30e3 {
					t.Errorf("state %+v, want the cap 30000", s)
				}
			},
		},
		{
			name: "climbing past the user's cap: back to the cap alone",
			p:    PaceParams{Max: 30e3},
			s:    PaceState{Limit: 29.9e3, SentRate: 29.9e3, Full: true},
			x:    PaceSample{Elapsed: tick, LetIn: 7475, Sent: 7475, Lines: []Line{queued(0)}},
			check: func(t *testing.T, s PaceState) {
				if s.Limit != 0 || s.limit(PaceParams{Max: 30e3}) != 30e3 {
					t.Errorf("state %+v, want the cap 30000", s)
				}
			},
		},
		{
			name: "no time passed: nothing changes",
			s:    PaceState{Limit: 20e3, SentRate: 20e3},
			x:    PaceSample{LetIn: 1e6, Lines: []Line{queued(time.Second)}},
			check: func(t *testing.T, s PaceState) {
				if (s != PaceState{Limit: 20e3, SentRate: 20e3}) {
					t.Errorf("state %+v changed", s)
				}
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.check(t, Pace(c.p, c.s, c.x))
		})
	}
}

// A model of a home uplink: a line of 40 kB/s behind a router queue of a
// quarter second (the lab's), peers asking for more than it carries, and
// the round trip of every busy connection 40 ms plus the queue. Unpaced,
// the queue stays full (every chunk waits a quarter second more, and its
// requester has the time to take it elsewhere); paced, the queue stays
// short and the line carries most of what it can.
func TestPacerFindsTheLine(t *testing.T) {
	share, queue := modelLine(false, nil)
	t.Logf("unpaced: the line carried %.0f%% of what it can; mean queue %.0f ms", 100*share, 1000*queue)
	if queue < 0.2 {
		t.Fatalf("the model's unpaced queue is %.0f ms: it does not model a full line", 1000*queue)
	}
	share, queue = modelLine(true, nil)
	t.Logf("paced: the line carried %.0f%% of what it can; mean queue %.0f ms", 100*share, 1000*queue)
	if share < 0.8 {
		t.Errorf("the line carried %.0f%% of what it can, want at least 80%%", 100*share)
	}
	if queue > 0.12 {
		t.Errorf("mean queue %.0f ms, want at most 120", 1000*queue)
	}
}

// The same line in a swarm whose uplinks are all busy: every two seconds
// (the back-offs' pace in bench-internet's public run) every connection's
// acknowledgements also wait 150 ms behind its peer's queued uplink, a
// queue that is not ours, and the sockets, their acknowledgements late,
// take half the line meanwhile. The pacer still lets the line carry most
// of what it can: it does not back off below what the line carried
// without a queue (backing off from what the sockets took, it ratcheted
// down to Min: about one bitrate on this line of two).
func TestPacerKeepsTheLineWhenPeersQueue(t *testing.T) {
	ticks := 0
	theirs := func() time.Duration {
		ticks++
		if ticks%8 == 0 {
			return 150 * time.Millisecond
		}
		return 0
	}
	share, queue := modelLine(true, theirs)
	t.Logf("paced, peers' queues in the round trips: the line carried %.0f%% of what it can; mean queue %.0f ms", 100*share, 1000*queue)
	if share < 0.7 {
		t.Errorf("the line carried %.0f%% of what it can, want at least 70%%", 100*share)
	}
	if queue > 0.12 {
		t.Errorf("mean queue %.0f ms, want at most 120", 1000*queue)
	}
}

// modelLine runs the model for two minutes and returns the share of the
// line's rate it carried and the mean queue in seconds, after the first
// ten. theirs, when not nil, is each tick's delay that the peers' queues
// add to every round trip.
func modelLine(paced bool, theirs func() time.Duration) (share, meanQueue float64) {
	const (
		line  = 40e3
		room  = line / 4 // bytes the queue holds
		tick  = 250 * time.Millisecond
		run   = 120 * time.Second
		steps = 10 // per tick
	)
	p := PaceParams{}.WithDefaults()
	var s PaceState
	var queue, carried, queueSum float64
	var ticks int
	for at := time.Duration(0); at < run; at += tick {
		offered := math.Inf(1) // peers ask for everything
		if l := s.limit(p); l != rate.Inf {
			offered = float64(l)
		}
		var extra time.Duration
		if theirs != nil {
			extra = theirs()
		}
		if extra > 0 {
			// Acknowledgements late: the sockets send less meanwhile.
			offered = min(offered, line/2)
		}
		var letIn float64
		for range steps {
			dt := tick.Seconds() / steps
			in := min(offered*dt, room-queue+line*dt) // the socket takes what the queue has room for
			out := min(line*dt, queue+in)
			queue += in - out
			letIn += in
			if at >= 10*time.Second {
				carried += out
			}
		}
		delay := time.Duration(queue/line*float64(time.Second)) + extra
		if paced {
			s = Pace(p, s, PaceSample{Elapsed: tick, LetIn: int64(letIn), Sent: int64(letIn),
				Lines: []Line{queued(delay), queued(delay + 30*time.Millisecond)}})
		}
		if at >= 10*time.Second {
			queueSum += queue / line
			ticks++
		}
	}
	return carried / (line * (run - 10*time.Second).Seconds()), queueSum / float64(ticks)
}
