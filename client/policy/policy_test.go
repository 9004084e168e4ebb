package policy

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// The tests' track: 40 pieces of 16 KiB at 16 KiB of audio a second, so a
// piece is a second: the head is pieces 0-2, the lead from piece 0 ends at
// piece 15, the emergency threshold is 3 pieces.
const (
	testPieces   = 40
	testPieceLen = 16 << 10
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// snap is a track that has just begun playing: nothing here, no peers, one
// seed URL, the head already started.
func snap() Snapshot {
	return Snapshot{
		Now:            t0.Add(10 * time.Second),
		Mode:           Playing,
		Size:           testPieces * testPieceLen,
		PieceLen:       testPieceLen,
		BytesPerSecond: testPieceLen,
		Pieces:         make([]Piece, testPieces),
		PlayingSince:   t0,
		Seed:           SeedServer{URLs: 1, Spare: -1},
		Memory:         Memory{HeadStarted: true},
	}
}

// at plays from piece i, with pieces [i, i+buffered) complete.
func (s Snapshot) at(i, buffered int) Snapshot {
	s.Playhead = int64(i) * testPieceLen
	s.complete(i, i+buffered-1)
	return s
}

func (s Snapshot) complete(from, to int) Snapshot {
	for i := from; i <= to; i++ {
		s.Pieces[i].Complete = true
	}
	return s
}

func (s Snapshot) listener(pieces ...int) Snapshot {
	s.Peers = append(s.Peers, Peer{Have: BitsOf(pieces...)})
	return s
}

func span(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func fetches(acts []Action) []StartFetch {
	var out []StartFetch
	for _, a := range acts {
		if f, ok := a.(StartFetch); ok {
			out = append(out, f)
		}
	}
	return out
}

func cancels(acts []Action) []CancelFetch {
	var out []CancelFetch
	for _, a := range acts {
		if c, ok := a.(CancelFetch); ok {
			out = append(out, c)
		}
	}
	return out
}

// wantPrios checks the priorities a decision sets on a track with none set
// yet: the pieces in each span get that priority, every other piece none.
func wantPrios(t *testing.T, d Decision, spans map[Priority][2]int) {
	t.Helper()
	p := prios(d.Actions)
	for i := range testPieces {
		want := PriorityNone
		for prio, sp := range spans {
			if i >= sp[0] && i <= sp[1] {
				want = prio
			}
		}
		if p[i] != want {
			t.Errorf("piece %d: priority %d, want %d", i, p[i], want)
		}
	}
}

// prios maps the pieces given a priority to it.
func prios(acts []Action) map[int]Priority {
	out := map[int]Priority{}
	for _, a := range acts {
		if p, ok := a.(SetPriority); ok {
			out[p.Piece] = p.Priority
		}
	}
	return out
}

func has[T Action](acts []Action) (T, bool) {
	for _, a := range acts {
		if x, ok := a.(T); ok {
			return x, true
		}
	}
	var zero T
	return zero, false
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name  string
		snap  Snapshot
		check func(t *testing.T, d Decision)
	}{
		{
			name: "at the start the head comes from the seed server",
			snap: func() Snapshot { s := snap(); s.Memory = Memory{}; s.Now = t0; return s }(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d, StartFetch{Kind: KindHead, First: 0, Last: 2})
				if !d.Memory.HeadStarted {
					t.Error("head not remembered as started")
				}
			},
		},
		{
			name: "the head starts at the first piece the cache lacks",
			snap: func() Snapshot { s := snap().complete(0, 0); s.Memory = Memory{}; s.Now = t0; return s }(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d, StartFetch{Kind: KindHead, First: 1, Last: 2, Due: time.Second})
			},
		},
		{
			name: "a cached head is not fetched",
			snap: func() Snapshot { s := snap().complete(0, 20); s.Memory = Memory{}; s.Now = t0; return s }(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "without a seed URL there is no head, and the seed server's BitTorrent side opens",
			snap: func() Snapshot { s := snap(); s.Memory = Memory{}; s.Now = t0; s.Seed.URLs = 0; return s }(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
				if a, ok := has[SetSeedBT](d.Actions); !ok || !a.Open {
					t.Errorf("seed BitTorrent side not opened: %v", d.Actions)
				}
			},
		},
		{
			name: "a head fetch stops once peers delivered the rest of it",
			snap: func() Snapshot {
				s := snap().complete(0, 2)
				s.Fetches = []Fetch{{ID: 7, Kind: KindHead, First: 0, Last: 2, Next: 1, Started: t0}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantCancel(t, d, 7, ErrPeersDelivered)
			},
		},
		{
			name: "a head with no piece after HeadTimeout is given up, and HTTP rests",
			snap: func() Snapshot {
				s := snap()
				s.Now = t0.Add(2100 * time.Millisecond)
				s.Fetches = []Fetch{{ID: 1, Kind: KindHead, First: 0, Last: 2, Started: t0}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantCancel(t, d, 1, ErrSeedSlow)
				if !d.Memory.HTTPBadUntil.After(t0.Add(10 * time.Second)) {
					t.Errorf("HTTP bad until %v, want 5×HeadTimeout from now", d.Memory.HTTPBadUntil)
				}
				wantFetches(t, d)
			},
		},
		{
			name: "pieces inside the lead are asked of peers, first; beyond it nothing",
			snap: snap().at(0, 3),
			check: func(t *testing.T, d Decision) {
				wantPrios(t, d, map[Priority][2]int{PriorityHigh: {3, 15}})
			},
		},
		{
			name: "with WindowBuffer buffered, pieces beyond the lead that WindowHolders listeners hold are asked of peers too, after the lead",
			snap: snap().at(0, 10).listener(span(0, 39)...).listener(span(0, 39)...).listener(span(0, 39)...),
			check: func(t *testing.T, d Decision) {
				wantPrios(t, d, map[Priority][2]int{PriorityHigh: {10, 15}, PriorityNormal: {16, 39}})
				wantFetches(t, d)
			},
		},
		{
			name: "the window ends PeerWindow ahead of the playhead",
			snap: func() Snapshot {
				s := snap().at(0, 10).listener(span(0, 39)...).listener(span(0, 39)...).listener(span(0, 39)...)
				s.Params.PeerWindow = 30 * time.Second
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantPrios(t, d, map[Priority][2]int{PriorityHigh: {10, 15}, PriorityNormal: {16, 30}})
			},
		},
		{
			name: "beyond the lead, pieces fewer than WindowHolders listeners hold wait",
			snap: snap().at(0, 10).listener(span(0, 39)...).listener(span(0, 39)...).listener(span(0, 20)...),
			check: func(t *testing.T, d Decision) {
				wantPrios(t, d, map[Priority][2]int{PriorityHigh: {10, 15}, PriorityNormal: {16, 20}})
			},
		},
		{
			name: "under WindowBuffer buffered, the window is closed: the lead alone",
			snap: func() Snapshot {
				s := snap().at(0, 9).listener(span(0, 39)...).listener(span(0, 39)...).listener(span(0, 39)...)
				for i := 16; i <= 39; i++ {
					s.Pieces[i].Priority = PriorityNormal // the window was open
				}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				p := prios(d.Actions)
				for i := 9; i <= 15; i++ {
					if p[i] != PriorityHigh {
						t.Errorf("piece %d: priority %d, want high", i, p[i])
					}
				}
				for i := 16; i <= 39; i++ {
					if got, ok := p[i]; !ok || got != PriorityNone {
						t.Errorf("piece %d: priority %d (set %v), want none", i, got, ok)
					}
				}
			},
		},
		{
			name: "a prefetch asks peers for the lead and whatever listeners hold, and the seed server for nothing",
			snap: func() Snapshot {
				s := snap().listener(span(10, 30)...)
				s.Mode = Prefetch
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				p := prios(d.Actions)
				for i := range testPieces {
					want := PriorityNone
					if i <= 30 { // 0-15 the lead, 10-30 held by the listener
						want = PriorityNormal
					}
					if p[i] != want {
						t.Errorf("piece %d: priority %d, want %d", i, p[i], want)
					}
				}
				wantFetches(t, d)
			},
		},
		{
			name: "buffer low, a listener holds the next piece: peers get the grace first",
			snap: snap().at(5, 2).listener(span(0, 39)...),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
				if d.Memory.WaitPiece != 7 || !d.Memory.WaitSince.Equal(t0.Add(10*time.Second)) {
					t.Errorf("waiting for piece %d since %v; want 7 since now", d.Memory.WaitPiece, d.Memory.WaitSince)
				}
			},
		},
		{
			name: "buffer low, peers held the piece through the grace: emergency up to the threshold",
			snap: func() Snapshot {
				s := snap().at(5, 2).listener(span(0, 39)...)
				s.Memory.WaitPiece, s.Memory.WaitSince = 7, s.Now.Add(-600*time.Millisecond)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d, StartFetch{Kind: KindEmergency, First: 7, Last: 8, Due: 2 * time.Second})
			},
		},
		{
			name: "the grace runs per piece: a new piece to wait for starts it again",
			snap: func() Snapshot {
				s := snap().at(5, 2).listener(span(0, 39)...)
				s.Memory.WaitPiece, s.Memory.WaitSince = 6, s.Now.Add(-600*time.Millisecond)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "buffer low and no listener holds the next piece: emergency at once, marked unheld (only the seed server can send it)",
			snap: snap().at(5, 2).listener(span(0, 6)...),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d, StartFetch{Kind: KindEmergency, First: 7, Last: 8, Unheld: true, Due: 2 * time.Second})
			},
		},
		{
			name: "a fill of the piece about to play gives way to an urgent fetch of it",
			snap: func() Snapshot {
				s := snap().at(5, 2).listener(span(0, 6)...)
				s.Fetches = []Fetch{{ID: 8, Kind: KindFill, First: 7, Last: 7, Next: 7, Started: s.Now.Add(-time.Second)}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantCancel(t, d, 8, ErrUrgent)
				wantFetches(t, d, StartFetch{Kind: KindEmergency, First: 7, Last: 8, Unheld: true, Due: 2 * time.Second})
			},
		},
		{
			name: "in the first HeadTimeout, peers that may still connect get the grace even for a piece no listener holds",
			snap: func() Snapshot { s := snap().at(0, 2); s.Now = t0.Add(time.Second); return s }(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "one urgent fetch at a time",
			snap: func() Snapshot {
				s := snap().at(5, 2)
				s.Fetches = []Fetch{{ID: 3, Kind: KindEmergency, First: 7, Last: 7, Next: 7, Started: s.Now}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				for _, f := range fetches(d.Actions) {
					if f.Kind.Urgent() {
						t.Errorf("second urgent fetch %+v", f)
					}
				}
			},
		},
		{
			name: "inside the lead, pieces no listener holds come from the seed server in steps (not marked unheld: they are not about to play)",
			snap: snap().at(0, 5),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d, StartFetch{Kind: KindEmergency, First: 5, Last: 10, Due: 5 * time.Second}, StartFetch{Kind: KindFill})
			},
		},
		{
			name: "... but not in the first HeadTimeout, while peers found by the tracker connect",
			snap: func() Snapshot { s := snap().at(0, 5); s.Now = t0.Add(time.Second); return s }(),
			check: func(t *testing.T, d Decision) {
				for _, f := range fetches(d.Actions) {
					if f.Kind == KindEmergency {
						t.Errorf("fetched %+v", f)
					}
				}
			},
		},
		{
			name: "... and not while the buffer holds two thirds of the lead",
			snap: snap().at(0, 11),
			check: func(t *testing.T, d Decision) {
				for _, f := range fetches(d.Actions) {
					if f.Kind == KindEmergency {
						t.Errorf("fetched %+v", f)
					}
				}
			},
		},
		{
			name: "pieces inside the lead that listeners hold are left to them",
			snap: snap().at(0, 5).listener(span(0, 15)...),
			check: func(t *testing.T, d Decision) {
				for _, f := range fetches(d.Actions) {
					if f.First <= 15 {
						t.Errorf("fetched %+v from the seed server: listeners hold it", f)
					}
				}
			},
		},
		{
			name: "beyond the lead, a piece no connected listener holds is filled from the seed server",
			snap: snap().at(0, 5).listener(span(0, 30)...),
			check: func(t *testing.T, d Decision) {
				fs := fetches(d.Actions)
				if len(fs) != 1 || fs[0].Kind != KindFill || fs[0].First != fs[0].Last || fs[0].First <= 30 {
					t.Fatalf("fetches %+v, want one fill of a piece in 31-39", fs)
				}
			},
		},
		{
			name: "pieces behind the playhead that no listener holds are filled too",
			snap: snap().at(30, 10).listener(span(5, 39)...),
			check: func(t *testing.T, d Decision) {
				fs := fetches(d.Actions)
				if len(fs) != 1 || fs[0].Kind != KindFill || fs[0].First >= 5 {
					t.Fatalf("fetches %+v, want one fill of a piece in 0-4", fs)
				}
			},
		},
		{
			name: "no fill of a piece a peer is sending or a fetch of ours brings",
			snap: func() Snapshot {
				s := snap().at(0, 5).listener(span(0, 37)...)
				s.Pieces[38].Partial = true
				s.Fetches = []Fetch{{ID: 4, Kind: KindEmergency, First: 39, Last: 39, Next: 39, Started: s.Now}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "one fill at a time",
			snap: func() Snapshot {
				s := snap().at(0, 20)
				s.Fetches = []Fetch{{ID: 4, Kind: KindFill, First: 30, Last: 30, Next: 30, Started: s.Now}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "a refused fill waits for the seed server's Retry-After",
			snap: func() Snapshot {
				s := snap().at(0, 20)
				s.Results = []Result{{ID: 4, Kind: KindFill, Err: fmt.Errorf("status 503: %w", ErrNoSpare), RetryAfter: 2 * time.Second}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
				if d.Memory.FillRetryAt.Before(t0.Add(12*time.Second)) || !d.Memory.HTTPBadUntil.IsZero() {
					t.Errorf("fill retry at %v, HTTP bad until %v; want 2-3 s from now, and HTTP fine",
						d.Memory.FillRetryAt, d.Memory.HTTPBadUntil)
				}
			},
		},
		{
			name: "no fill from a seed server that has just said it has nothing to spare",
			snap: func() Snapshot {
				s := snap().at(0, 20)
				s.Seed.Spare, s.Seed.SpareAt = 0, s.Now.Add(-200*time.Millisecond)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
			},
		},
		{
			name: "a failed emergency rests HTTP and opens the seed server's BitTorrent side",
			snap: func() Snapshot {
				s := snap().at(5, 2)
				s.Seed.BTConnected = 1
				s.Peers = []Peer{{Seed: true, Have: BitsOf(span(0, 39)...)}}
				s.Results = []Result{{ID: 2, Kind: KindEmergency, Err: errors.New("connection refused")}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantFetches(t, d)
				if a, ok := has[SetSeedBT](d.Actions); !ok || !a.Open {
					t.Errorf("seed BitTorrent side not opened: %v", d.Actions)
				}
				if p := prios(d.Actions); p[39] != PriorityNormal {
					t.Errorf("piece 39 (no listener holds it) not asked of the seed over BitTorrent: priority %d", p[39])
				}
			},
		},
		{
			name: "the seed server's BitTorrent side stays open SeedBTHold after HTTP recovers",
			snap: func() Snapshot {
				s := snap().at(5, 2)
				s.Memory.SeedBTOpen, s.Memory.SeedBTOpenedAt = true, s.Now.Add(-5*time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if a, ok := has[SetSeedBT](d.Actions); ok {
					t.Errorf("seed BitTorrent side set to %v after 5 s", a.Open)
				}
			},
		},
		{
			name: "... and closes after it",
			snap: func() Snapshot {
				s := snap().at(5, 2)
				s.Memory.SeedBTOpen, s.Memory.SeedBTOpenedAt = true, s.Now.Add(-11*time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if a, ok := has[SetSeedBT](d.Actions); !ok || a.Open {
					t.Errorf("seed BitTorrent side not closed: %v", d.Actions)
				}
			},
		},
		{
			name: "no connection to the seed server: dial it again, at most every Redial",
			snap: func() Snapshot {
				s := snap().at(0, 5)
				s.Seed.BTAddrs = 1
				s.Memory.LastRedial = s.Now.Add(-3 * time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[RedialSeeds](d.Actions); !ok {
					t.Error("no redial")
				}
				s := snap().at(0, 5)
				s.Seed.BTAddrs = 1
				s.Memory = d.Memory
				s.Now = s.Now.Add(time.Second)
				if _, ok := has[RedialSeeds](Decide(s).Actions); ok {
					t.Error("redialled again after a second")
				}
			},
		},
		{
			name: "a read that waited GiveUp with no byte from anywhere gives up",
			snap: func() Snapshot {
				s := snap().at(5, 0).listener(span(0, 4)...)
				s.Seed.URLs = 0
				s.ReadWaiting = s.Now.Add(-11 * time.Second)
				s.LastProgress = s.Now.Add(-20 * time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				g, ok := has[GiveUp](d.Actions)
				if !ok || g.Piece != 5 || g.PeerHad || g.Waited < 10*time.Second {
					t.Errorf("give-up %+v (%v), want piece 5 after 11 s, no peer had it", g, ok)
				}
				if !d.Memory.GaveUp {
					t.Error("give-up not remembered")
				}
			},
		},
		{
			name: "a byte from anywhere resets the give-up clock",
			snap: func() Snapshot {
				s := snap().at(5, 0)
				s.ReadWaiting = s.Now.Add(-11 * time.Second)
				s.LastProgress = s.Now.Add(-time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[GiveUp](d.Actions); ok {
					t.Error("gave up")
				}
			},
		},
		{
			name: "a read that waits on a piece a connected listener holds waits GiveUpHeld: the listener may be choking us until its next unchoke",
			snap: func() Snapshot {
				s := snap().at(5, 0).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.ReadWaiting = s.Now.Add(-35 * time.Second)
				s.LastProgress = s.Now.Add(-35 * time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if g, ok := has[GiveUp](d.Actions); ok {
					t.Errorf("gave up after 35 s on a piece a listener holds: %+v", g)
				}
			},
		},
		{
			name: "after GiveUpHeld it gives up, saying a listener had the piece",
			snap: func() Snapshot {
				s := snap().at(5, 0).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.ReadWaiting = s.Now.Add(-41 * time.Second)
				s.LastProgress = s.Now.Add(-41 * time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if g, ok := has[GiveUp](d.Actions); !ok || g.Piece != 5 || !g.PeerHad {
					t.Errorf("give-up %+v (%v), want piece 5, a peer had it", g, ok)
				}
			},
		},
		{
			name: "once the seed server has delivered, playback may start at once",
			snap: func() Snapshot {
				s := snap().at(0, 1)
				s.Fetches = []Fetch{{ID: 1, Kind: KindHead, First: 0, Last: 2, Next: 1, Started: t0, Arrived: t0.Add(80 * time.Millisecond)}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); !ok || !d.Memory.Ready {
					t.Errorf("not ready: %v", d.Actions)
				}
			},
		},
		{
			name: "with peers the only source, playback waits for Prebuffer of audio",
			snap: func() Snapshot {
				s := snap().at(0, 4).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.Now = t0.Add(time.Second) // four pieces in a second: fast enough, but short of Prebuffer
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); ok {
					t.Error("ready with 4 s buffered, want Prebuffer (5 s)")
				}
			},
		},
		{
			name: "with peers the only source and fast, Prebuffer of audio is enough to start",
			snap: func() Snapshot {
				s := snap().at(0, 5).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.Now = t0.Add(time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); !ok {
					t.Error("not ready with Prebuffer buffered at 5× real time")
				}
			},
		},
		{
			name: "with peers the only source and slower than the audio, the buffer must cover what they cannot bring in time",
			snap: func() Snapshot {
				// 10 pieces in 20 s: half real time; at 80 % of that the
				// other 30 pieces need 30×(1-0.4) = 18 s buffered.
				s := snap().at(0, 10).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.Now = t0.Add(20 * time.Second)
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); ok {
					t.Error("ready with 10 s buffered from a source at half real time")
				}
				s := snap().at(0, 26).listener(span(0, 39)...)
				s.Seed.URLs = 0
				s.Now = t0.Add(52 * time.Second) // still half real time, 26 pieces: enough
				if _, ok := has[Ready](Decide(s).Actions); !ok {
					t.Error("not ready with 26 s buffered and 14 s left to come at 0.4× real time")
				}
			},
		},
		{
			name: "a seed server whose HTTP side failed does not count: peers alone must fill the buffer first",
			snap: func() Snapshot {
				s := snap().at(0, 2).listener(span(0, 39)...)
				s.Memory.HTTPFailed = true // its back-off is over, but it has not delivered since
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); ok {
					t.Error("ready with 2 s buffered and a seed server that failed")
				}
			},
		},
		{
			name: "nothing is decided about the start before the piece at the playhead is here",
			snap: snap().listener(span(0, 39)...),
			check: func(t *testing.T, d Decision) {
				if _, ok := has[Ready](d.Actions); ok {
					t.Error("ready with nothing to play")
				}
			},
		},
		{
			name: "a closed stream cancels its fetches and asks peers for nothing",
			snap: func() Snapshot {
				s := snap().at(0, 3)
				s.Mode = Idle
				s.Pieces[10].Priority = PriorityNormal
				s.Fetches = []Fetch{{ID: 9, Kind: KindFill, First: 30, Last: 30, Next: 30}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantCancel(t, d, 9, ErrNotNeeded)
				if p := prios(d.Actions); len(p) != 1 || p[10] != PriorityNone {
					t.Errorf("priorities %v, want piece 10 to none", p)
				}
				wantFetches(t, d)
			},
		},
		{
			name: "a complete track cancels what is left in flight",
			snap: func() Snapshot {
				s := snap().complete(0, testPieces-1)
				s.Fetches = []Fetch{{ID: 5, Kind: KindFill, First: 30, Last: 30, Next: 30}}
				return s
			}(),
			check: func(t *testing.T, d Decision) {
				wantCancel(t, d, 5, ErrPeersDelivered)
				wantFetches(t, d)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, Decide(tc.snap))
		})
	}
}

// Players that see the same swarm pull different pieces for their fills.
func TestFillsSpreadAcrossPlayers(t *testing.T) {
	picked := map[int]int{}
	for seed := range uint64(40) {
		s := snap().at(0, 5).listener(span(0, 15)...)
		s.Rand = seed
		for _, f := range fetches(Decide(s).Actions) {
			if f.Kind == KindFill {
				picked[f.First]++
			}
		}
	}
	// 24 candidates (16-39), 40 players: a uniform pick leaves few twice.
	if len(picked) < 15 {
		t.Errorf("40 players picked only %d different pieces: %v", len(picked), picked)
	}
	for p := range picked {
		if p <= 15 {
			t.Errorf("filled piece %d, which a listener holds or is inside the lead", p)
		}
	}
}

// Listeners who play close together fetch different first copies inside
// the lead: one piece each, at random among the first listeners+1 that no
// one holds, not the same next pieces.
func TestLeadStepsSpreadAcrossPlayers(t *testing.T) {
	picked := map[int]int{}
	for seed := range uint64(40) {
		s := snap().at(0, 5).listener(span(0, 4)...).listener(span(0, 4)...).listener(span(0, 4)...)
		s.Rand = seed
		var steps []StartFetch
		for _, f := range fetches(Decide(s).Actions) {
			if f.Kind == KindEmergency {
				steps = append(steps, f)
			}
		}
		if len(steps) != 1 || steps[0].First != steps[0].Last || steps[0].Unheld {
			t.Fatalf("seed %d: lead steps %+v, want one piece, not marked unheld", seed, steps)
		}
		picked[steps[0].First]++
	}
	// Three listeners: pieces 5-8, each picked by some of 40 players.
	for p := 5; p <= 8; p++ {
		if picked[p] == 0 {
			t.Errorf("no player picked piece %d: %v", p, picked)
		}
	}
	if len(picked) != 4 {
		t.Errorf("picked %v, want pieces 5-8 only", picked)
	}
}

// Decide is a function of the snapshot alone.
func TestDecideIsDeterministic(t *testing.T) {
	s := snap().at(0, 5).listener(span(0, 20)...)
	s.Rand = 42
	a, b := Decide(s), Decide(s)
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("two decisions on one snapshot differ:\n%v\n%v", a, b)
	}
}

func wantFetches(t *testing.T, d Decision, want ...StartFetch) {
	t.Helper()
	got := fetches(d.Actions)
	if len(got) != len(want) {
		t.Fatalf("fetches %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.Kind || g.Unheld != w.Unheld || (w.Kind != KindFill && (g.First != w.First || g.Last != w.Last || g.Due != w.Due)) {
			t.Errorf("fetch %d: %+v, want %+v", i, g, w)
		}
	}
}

func wantCancel(t *testing.T, d Decision, id int, reason error) {
	t.Helper()
	for _, c := range cancels(d.Actions) {
		if c.ID == id {
			if !errors.Is(c.Reason, reason) {
				t.Errorf("fetch %d cancelled with %v, want %v", id, c.Reason, reason)
			}
			return
		}
	}
	t.Errorf("fetch %d not cancelled: %v", id, d.Actions)
}
