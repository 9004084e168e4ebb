package peerstoretest

import (
	"runtime"
	"testing"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// benchSwarms and benchSwarmSize shape the populated store the announce and
// scrape benchmarks run against.
const (
	benchSwarms    = 1000
	benchSwarmSize = 50
)

func benchStore(b *testing.B, f Factory) peers.PeerStore {
	b.Helper()
	s := f(b, Config{PeerTTL: peers.DefaultPeerTTL, Now: time.Now})
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func populate(b *testing.B, s peers.PeerStore, swarms, size int) {
	b.Helper()
	ctx := b.Context()
	for i := range swarms {
		for j := range size {
			n := i*size + j
			_, err := s.Announce(ctx, peers.Announce{
				InfoHash: IH(i), Peer: peers.Peer{ID: PID(n), Addr: Addr4(n)},
				Left: uint64(n % 10), Event: peers.EventStarted, // one peer in ten seeds
			})
			if err != nil {
				b.Fatalf("populate: %v", err)
			}
		}
	}
}

// Bench runs the benchmark suite against stores made by f.
func Bench(b *testing.B, f Factory) {
	b.Run("AnnounceLeecher", func(b *testing.B) { benchAnnounce(b, f, 5) })
	b.Run("AnnounceSeeder", func(b *testing.B) { benchAnnounce(b, f, 0) })
	b.Run("Scrape10", func(b *testing.B) {
		s := benchStore(b, f)
		populate(b, s, benchSwarms, benchSwarmSize)
		hashes := make([]peers.InfoHash, 10)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for j := range hashes {
				hashes[j] = IH((i*10 + j) % benchSwarms)
			}
			i++
			if _, err := s.Scrape(b.Context(), hashes); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AnnounceParallel", func(b *testing.B) {
		s := benchStore(b, f)
		populate(b, s, benchSwarms, benchSwarmSize)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]peers.Peer, 0, 50)
			n := 0
			for pb.Next() {
				n++
				a := announceFor(n*7919, 5)
				a.PeerBuf = buf
				res, err := s.Announce(b.Context(), a)
				if err != nil {
					b.Error(err)
					return
				}
				buf = res.Peers
			}
		})
	})
	b.Run("Memory1M", func(b *testing.B) { benchMemory(b, f) })
}

// announceFor is a re-announce of an existing peer of the populated store,
// or a new one when n is past it.
func announceFor(n int, left uint64) peers.Announce {
	n %= benchSwarms * benchSwarmSize * 2
	return peers.Announce{
		InfoHash: IH(n % benchSwarms), Peer: peers.Peer{ID: PID(n), Addr: Addr4(n)},
		Left: left, NumWant: 50,
	}
}

func benchAnnounce(b *testing.B, f Factory, left uint64) {
	s := benchStore(b, f)
	populate(b, s, benchSwarms, benchSwarmSize)
	buf := make([]peers.Peer, 0, 50)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		a := announceFor(n, left)
		a.PeerBuf = buf
		res, err := s.Announce(b.Context(), a)
		if err != nil {
			b.Fatal(err)
		}
		buf = res.Peers
	}
}

// benchMemory stores one million peers (1000 swarms of 1000, one in ten a
// seeder, distinct IPv4 addresses) and reports the Go heap it grew by per
// peer. For a backend that keeps peers outside this process (Redis) the
// figure is its client-side heap only.
func benchMemory(b *testing.B, f Factory) {
	const swarms, size = 1000, 1000
	for range b.N {
		before := heapInUse()
		s := benchStore(b, f)
		populate(b, s, swarms, size)
		after := heapInUse()
		st, err := s.Stats(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		if st.Seeders+st.Leechers != swarms*size {
			b.Fatalf("store holds %d peers, want %d", st.Seeders+st.Leechers, swarms*size)
		}
		b.ReportMetric(float64(after-before)/float64(swarms*size), "bytes/peer")
		runtime.KeepAlive(s)
		_ = s.Close()
	}
}

func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
