package announce

import (
	"context"
	"math"
	"net/url"
	"testing"
	"time"
)

// The meter's rate is the count's growth over the last window, from its
// samples: steady load, a burst that ages out, a fresh start, a stop.
func TestRateMeter(t *testing.T) {
	var count uint64
	m := NewRateMeter(func() uint64 { return count }, time.Minute)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: %v per second, want %v", what, got, want)
		}
	}

	near("no sample yet", m.PerSecond(t0), 0)
	m.Sample(t0)
	count = 3
	near("3 announces 0.2 s after the start (span floored at 1 s)", m.PerSecond(at(0.2)), 3)
	count = 10
	near("10 announces 5 s after the start", m.PerSecond(at(5)), 2)

	// 10 a second for two minutes, sampled every second: the window sees
	// the last minute only.
	count = 0
	m = NewRateMeter(func() uint64 { return count }, time.Minute)
	for s := 0; s <= 120; s++ {
		m.Sample(at(float64(s)))
		count += 10
	}
	count -= 10
	near("steady 10/s", m.PerSecond(at(120)), 10)
	if n := len(m.samples); n != 61 {
		t.Errorf("%d samples kept, want 61 (a minute of one-second samples)", n)
	}

	// A burst of 600 at 120 s, then nothing: it counts while it is within
	// the minute and is gone after.
	count += 600
	for s := 121; s <= 150; s++ {
		m.Sample(at(float64(s)))
	}
	near("30 s after a burst of 600 (on top of 10/s before it)", m.PerSecond(at(150)), (600+30*10)/60.0)
	for s := 151; s <= 190; s++ {
		m.Sample(at(float64(s)))
	}
	near("70 s after the burst", m.PerSecond(at(190)), 0)

	// When sampling stops, old samples do not pass for the last minute.
	count += 5
	near("two minutes after the last sample", m.PerSecond(at(310)), 0)
}

// Run samples on every tick until its context ends.
func TestRateMeterRun(t *testing.T) {
	var count uint64 = 7
	m := NewRateMeter(func() uint64 { return count }, time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { m.Run(ctx, 10*time.Millisecond); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		m.mu.Lock()
		n := len(m.samples)
		m.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d samples after 5 s of 10 ms ticks", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	m.mu.Lock()
	first := m.samples[0].n
	m.mu.Unlock()
	if first != 7 {
		t.Errorf("first sample %d, want the count 7", first)
	}
}

// Metrics.Announces counts every announce answered over HTTP (net/http and
// the lean front) and UDP, whatever its result, and no scrape.
func TestMetricsCountAnnounces(t *testing.T) {
	forEachFrontend(t, func(t *testing.T, fe frontend) {
		f := newFixture(t, nil, nil)
		srv := f.server(fe)
		get(t, srv, "/announce", announceQuery(ih(1), pid(1), 6881, 0))
		get(t, srv, "/announce", announceQuery(ih(1), pid(2), 6882, 100))
		get(t, srv, "/announce", "info_hash=short") // an error is an announce answered too
		get(t, srv, "/scrape", "info_hash="+url.QueryEscape(hs(ih(1))))
		if got := f.cfg.Metrics.Announces(); got != 3 {
			t.Errorf("after 3 HTTP announces and a scrape: Announces() = %d, want 3", got)
		}

		_, addr := f.udpServe("udp4")
		c := dialUDP(t, "udp4", addr)
		id := c.connect()
		parseAnnounceReply(t, c.roundTrip(announcePacket(id, 9, ih(1), pid(3), 0, 0, 10, 6883)), 9, 6)
		if got := f.cfg.Metrics.Announces(); got != 4 {
			t.Errorf("after a UDP announce too: Announces() = %d, want 4", got)
		}
	})
	var none *Metrics
	none.observe(opAnnounce, protoHTTP, resultOK, time.Now()) // a tracker without metrics counts nothing and does not panic
}
