package memory_test

import (
	"sync/atomic"
	"time"

	"testing"

	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
	"github.com/peertune/peertune/tracker/peers/peerstoretest"
)

func newStore(tb testing.TB, cfg peerstoretest.Config) peers.PeerStore {
	s, err := memory.New(memory.Config{PeerTTL: cfg.PeerTTL, Now: cfg.Now})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) { peerstoretest.Run(t, newStore) }

// TestConformanceRealClock runs the suite on the wall clock, as a Redis
// backend will, to keep that mode of the suite honest.
func TestConformanceRealClock(t *testing.T) {
	peerstoretest.Run(t, func(tb testing.TB, cfg peerstoretest.Config) peers.PeerStore {
		if cfg.Now != nil {
			tb.Fatal("real-clock mode passed a fake clock")
		}
		return newStore(tb, cfg)
	}, peerstoretest.RealClock())
}

func BenchmarkStore(b *testing.B) { peerstoretest.Bench(b, newStore) }

func TestSweepDropsExpiredSwarms(t *testing.T) {
	var now atomic.Int64 // the sweep goroutine reads the clock too
	now.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	s, err := memory.New(memory.Config{PeerTTL: time.Minute, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		if _, err := s.Announce(t.Context(), peers.Announce{InfoHash: peerstoretest.IH(i),
			Peer: peers.Peer{ID: peerstoretest.PID(i), Addr: peerstoretest.Addr4(i)}, Left: 1}); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Stats(t.Context())
	if st.Torrents != 10 || st.Leechers != 10 {
		t.Fatalf("stats = %+v", st)
	}
	now.Add(int64(2 * time.Minute))
	s.Sweep()
	st, _ = s.Stats(t.Context())
	if st != (peers.Stats{}) {
		t.Fatalf("stats after sweep = %+v, want empty", st)
	}
}

func TestConfigValidation(t *testing.T) {
	if _, err := memory.New(memory.Config{PeerTTL: 30 * 24 * time.Hour}); err == nil {
		t.Error("a 30-day TTL was accepted")
	}
	if _, err := memory.New(memory.Config{Shards: 1 << 20}); err == nil {
		t.Error("a million shards were accepted")
	}
	s, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second close:", err)
	}
}
