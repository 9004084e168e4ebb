package announce

import (
	"context"
	"sync"
	"time"
)

// RateMeter turns a growing count (Metrics.Announces) into a rate per
// second over a sliding window, from samples of the count that Run takes
// at a steady tick. Reading the count on the hot path costs nothing more:
// the meter only reads it when it samples and when asked for the rate.
type RateMeter struct {
	count  func() uint64
	window time.Duration

	mu      sync.Mutex
	samples []rateSample // oldest first, none older than window before the newest
}

type rateSample struct {
	at time.Time
	n  uint64
}

// NewRateMeter returns a meter of count over window (e.g. a minute).
func NewRateMeter(count func() uint64, window time.Duration) *RateMeter {
	return &RateMeter{count: count, window: window}
}

// Run samples the count every tick until ctx is done. Take the first
// sample with Sample before the count can grow (before serving), so that
// the rate counts every announce from the start.
func (m *RateMeter) Run(ctx context.Context, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			m.Sample(now)
		}
	}
}

// Sample records the count as of now and forgets samples older than the
// window.
func (m *RateMeter) Sample(now time.Time) {
	n := m.count()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.samples = append(m.samples, rateSample{at: now, n: n})
	keep := 0
	for keep < len(m.samples)-1 && now.Sub(m.samples[keep].at) > m.window {
		keep++
	}
	m.samples = append(m.samples[:0], m.samples[keep:]...)
}

// PerSecond is the rate of the count over the window before now: the
// growth since the oldest sample within it, divided by the time since that
// sample (at least a second, so that a tracker that has just started does
// not report one announce in a millisecond as a thousand a second). It is
// 0 before the first sample.
func (m *RateMeter) PerSecond(now time.Time) float64 {
	n := m.count()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range m.samples {
		if now.Sub(s.at) > m.window {
			continue
		}
		span := max(now.Sub(s.at), time.Second)
		if n < s.n { // cannot happen with a counter; never report a negative rate
			return 0
		}
		return float64(n-s.n) / span.Seconds()
	}
	return 0
}
