package seeder

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/peertune/peertune/proto"
)

// Spare-rate measurement.
const (
	spareWindow = 2 * time.Second
	spareStep   = spareWindow / 10 // the finest sample spacing kept
)

// spareMeter measures the upload rate the seeder has to spare: the cap of
// the shared upload limiter less the rate it sent at over the last
// spareWindow for everything but fills (urgent HTTP and BitTorrent), from
// samples of the upload counters. Fills do not count: they take only what
// urgent uploads leave (they come last in the uploadQueue), so the fills in
// flight do not keep another listener's fill out; counted, they made the
// seeder refuse fills while it had upload to spare, and a seed that died
// early left pieces no listener had (the swarm simulator's seed death:
// 10 of 10 listeners stalled). Samples are taken when asked (every request) and, while run
// runs, every spareStep, so that BitTorrent-only traffic is seen too.
type spareMeter struct {
	limiter *rate.Limiter
	sent    func() int64 // bytes sent so far, every protocol
	now     func() time.Time

	mu      sync.Mutex
	samples []spareSample // oldest first; samples[0] is at or before now-spareWindow when known
}

type spareSample struct {
	t    time.Time
	sent int64
}

func newSpareMeter(limiter *rate.Limiter, sent func() int64, now func() time.Time) *spareMeter {
	if now == nil {
		now = time.Now
	}
	m := &spareMeter{limiter: limiter, sent: sent, now: now}
	m.samples = []spareSample{{t: now(), sent: sent()}}
	return m
}

// sampleLocked records the counters now and drops samples no longer needed.
func (m *spareMeter) sampleLocked() spareSample {
	cur := spareSample{t: m.now(), sent: m.sent()}
	if last := m.samples[len(m.samples)-1]; cur.t.Sub(last.t) >= spareStep || len(m.samples) == 1 {
		m.samples = append(m.samples, cur)
	}
	// Keep one sample at or before the window's start.
	from := cur.t.Add(-spareWindow)
	i := 0
	for i+1 < len(m.samples) && !m.samples[i+1].t.After(from) {
		i++
	}
	m.samples = m.samples[i:]
	return cur
}

// sentRate is the upload rate in bytes per second over the last window:
// what was sent since the oldest sample kept, over at least the window
// (a young meter counts the time before it as idle, so a burst of the
// limiter's bucket is not taken for a rate), over more when samples are
// sparse (no run).
func (m *spareMeter) sentRate() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := m.sampleLocked()
	base := m.samples[0]
	el := max(cur.t.Sub(base.t), spareWindow).Seconds()
	return float64(cur.sent-base.sent) / el
}

// spare is the upload rate to spare now in bytes per second, at least 0;
// limited is false when uploads have no cap (spare is then meaningless).
func (m *spareMeter) spare() (bytesPerSecond int64, limited bool) {
	lim := m.limiter.Limit()
	if lim == rate.Inf {
		return 0, false
	}
	return max(int64(float64(lim)-m.sentRate()), 0), true
}

// header is the value of proto.HeaderSeedSpare now.
func (m *spareMeter) header() string { return spareHeader(m.spare()) }

// spareHeader is the value of proto.HeaderSeedSpare for what spare returned.
func spareHeader(s int64, limited bool) string {
	if !limited {
		return proto.SpareUnlimited
	}
	return strconv.FormatInt(s, 10)
}

// fillThreshold is the least spare rate a fill request is served with:
// an eighth of the cap, at least one 16 KiB chunk per second (at most the
// cap: below one chunk per second of cap, only an idle seeder serves
// fills).
func fillThreshold(limit rate.Limit) int64 {
	c := int64(limit)
	return min(c, max(c/8, httpChunk))
}

// run samples every spareStep until ctx ends.
func (m *spareMeter) run(ctx context.Context) {
	t := time.NewTicker(spareStep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.mu.Lock()
			m.sampleLocked()
			m.mu.Unlock()
		}
	}
}

// fillsInFlight is the byte ranges of the fills being sent, by file: the
// first copy of a piece has to leave the seeder once, and a second
// listener asking for the same piece meanwhile would make it leave twice
// (each picks at random among the pieces no listener it knows holds, so
// near the end of a track they meet). Such a fill is refused like one
// without spare upload; the piece reaches the second listener from the
// first.
type fillsInFlight struct {
	mu    sync.Mutex
	spans map[string][]byteSpan
}

type byteSpan struct{ first, last int64 }

func newFillsInFlight() *fillsInFlight {
	return &fillsInFlight{spans: make(map[string][]byteSpan)}
}

// claim records a fill of bytes [first, last] of file rel; ok is false
// when one in flight overlaps them. release ends the claim.
func (f *fillsInFlight) claim(rel string, first, last int64) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.spans[rel] {
		if s.first <= last && first <= s.last {
			return nil, false
		}
	}
	sp := byteSpan{first, last}
	f.spans[rel] = append(f.spans[rel], sp)
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		ss := f.spans[rel]
		for i, s := range ss {
			if s == sp {
				ss[i] = ss[len(ss)-1]
				ss = ss[:len(ss)-1]
				break
			}
		}
		if len(ss) == 0 {
			delete(f.spans, rel)
		} else {
			f.spans[rel] = ss
		}
	}, true
}

// fillRange is the one byte range of a fill's Range header, "bytes=a-b";
// ok is false for anything else (such a fill is served without a claim).
func fillRange(h string) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false
	}
	return first, last, true
}
