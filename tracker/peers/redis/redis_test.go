package redis_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/peerstoretest"
	"github.com/peertune/peertune/tracker/peers/redis"
)

// factory makes stores on the Redis at url, each under its own key prefix
// (removed when its test ends), so subtests and packages never collide.
func factory(url string) peerstoretest.Factory {
	return func(tb testing.TB, cfg peerstoretest.Config) peers.PeerStore {
		if cfg.Now != nil {
			tb.Fatal("the Redis store runs on the server's clock: use peerstoretest.RealClock()")
		}
		prefix := itest.RedisPrefix(tb, url)
		s, err := redis.Open(context.Background(), url, redis.Config{PeerTTL: cfg.PeerTTL, Prefix: prefix})
		if err != nil {
			tb.Fatal(err)
		}
		return s
	}
}

func TestConformance(t *testing.T) {
	peerstoretest.Run(t, factory(itest.RedisURL(t)), peerstoretest.RealClock())
}

// TestConformanceCluster: the suite on a real Redis Cluster of three
// masters, where every script must keep to one hash slot; the swarms
// spread over the masters.
func TestConformanceCluster(t *testing.T) {
	c := itest.NewRedisCluster(t, 3, 0)
	peerstoretest.Run(t, factory(c.URL), peerstoretest.RealClock())
	s := factory(c.URL)(t, peerstoretest.Config{})
	for i := range 64 {
		if _, err := s.Announce(t.Context(), peers.Announce{InfoHash: peerstoretest.IH(i),
			Peer: peers.Peer{ID: peerstoretest.PID(i), Addr: peerstoretest.Addr4(i)}, Left: 1, NumWant: 5}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range c.Masters(t) {
		if n := m.DBSize(t); n == 0 {
			t.Errorf("master %s holds no key: the swarms do not spread over the cluster", m.Addr)
		}
	}
}

// TestConformanceSentinel: the suite through Sentinels to a primary.
func TestConformanceSentinel(t *testing.T) {
	peerstoretest.Run(t, factory(itest.NewRedisSentinelSet(t).URL), peerstoretest.RealClock())
}

func BenchmarkStore(b *testing.B) { peerstoretest.Bench(b, benchFactory(itest.RedisURL(b))) }

// benchFactory passes the suite's TTL but not its clock: Redis has its own.
func benchFactory(url string) peerstoretest.Factory {
	f := factory(url)
	return func(tb testing.TB, cfg peerstoretest.Config) peers.PeerStore {
		cfg.Now = nil
		return f(tb, cfg)
	}
}

// TestSharedAcrossStores: two stores on one Redis (two trackers) see one
// swarm.
func TestSharedAcrossStores(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	open := func() *redis.Store {
		s, err := redis.Open(t.Context(), url, redis.Config{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ih := peerstoretest.IH(1)
	if _, err := a.Announce(t.Context(), peers.Announce{InfoHash: ih,
		Peer: peers.Peer{ID: peerstoretest.PID(1), Addr: peerstoretest.Addr4(1)}, Left: 0, Event: peers.EventStarted}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Announce(t.Context(), peers.Announce{InfoHash: ih,
		Peer: peers.Peer{ID: peerstoretest.PID(2), Addr: peerstoretest.Addr4(2)}, Left: 10, Event: peers.EventStarted, NumWant: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Peers) != 1 || res.Peers[0].ID != peerstoretest.PID(1) || res.Peers[0].Addr != peerstoretest.Addr4(1) || res.Complete != 1 || res.Incomplete != 1 {
		t.Fatalf("second store got %+v, want the first store's seeder", res)
	}
	for _, s := range []*redis.Store{a, b} {
		st, err := s.Stats(t.Context())
		if err != nil || st != (peers.Stats{Torrents: 1, Seeders: 1, Leechers: 1}) {
			t.Errorf("stats = %+v, %v", st, err)
		}
	}
}

// TestSweepAndKeyTTL: the sweep takes expired peers off the counters and
// the swarm index, and every key left has a TTL.
func TestSweepAndKeyTTL(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	const ttl = 300 * time.Millisecond
	s, err := redis.Open(t.Context(), url, redis.Config{Prefix: prefix, PeerTTL: ttl, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		if _, err := s.Announce(t.Context(), peers.Announce{InfoHash: peerstoretest.IH(i % 3),
			Peer: peers.Peer{ID: peerstoretest.PID(i), Addr: peerstoretest.Addr6(i)}, Left: uint64(i % 2), Event: peers.EventCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Stats(t.Context()); st != (peers.Stats{Torrents: 3, Seeders: 5, Leechers: 5}) {
		t.Fatalf("stats = %+v", st)
	}
	opts, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Fatal("no keys written")
	}
	for _, k := range keys {
		if d, err := rdb.PTTL(t.Context(), k).Result(); err != nil || d <= 0 || d > 2*ttl {
			t.Errorf("key %q has TTL %v (%v); want one of at most %v", k, d, err, 2*ttl)
		}
	}
	time.Sleep(ttl + 50*time.Millisecond)
	if err := s.SweepNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Stats(t.Context()); st != (peers.Stats{}) {
		t.Errorf("stats after sweep = %+v, want zero", st)
	}
	time.Sleep(ttl + 50*time.Millisecond) // past every key's TTL
	if keys, _ := rdb.Keys(t.Context(), prefix+"*sw:*").Result(); len(keys) != 0 {
		t.Errorf("swarm keys outlived their TTL: %q", keys)
	}
}

// TestStatsMatchSwarms: after a mix of starts, role changes, restarts on
// the same address, completions and stops, the O(1) counters equal the
// sum over the swarms.
func TestStatsMatchSwarms(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	s, err := redis.Open(t.Context(), url, redis.Config{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	events := []peers.Event{peers.EventNone, peers.EventStarted, peers.EventCompleted, peers.EventStopped}
	const swarms, addrs = 4, 12
	for range 2000 {
		n := rng.IntN(addrs)
		addr := peerstoretest.Addr4(n)
		if n%3 == 0 {
			addr = peerstoretest.Addr6(n)
		}
		_, err := s.Announce(t.Context(), peers.Announce{
			InfoHash: peerstoretest.IH(rng.IntN(swarms)),
			Peer:     peers.Peer{ID: peerstoretest.PID(rng.IntN(3 * addrs)), Addr: addr},
			Left:     uint64(rng.IntN(2)), Event: events[rng.IntN(len(events))], NumWant: rng.IntN(20),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hashes := make([]peers.InfoHash, swarms)
	for i := range hashes {
		hashes[i] = peerstoretest.IH(i)
	}
	sw, err := s.Scrape(t.Context(), hashes)
	if err != nil {
		t.Fatal(err)
	}
	var want peers.Stats
	for _, x := range sw {
		want.Seeders += x.Complete
		want.Leechers += x.Incomplete
		if x.Complete+x.Incomplete > 0 {
			want.Torrents++
		}
		if x.Complete+x.Incomplete > addrs {
			t.Errorf("swarm of %d peers from %d addresses: an address is stored twice", x.Complete+x.Incomplete, addrs)
		}
	}
	if st, err := s.Stats(t.Context()); err != nil || st != want {
		t.Errorf("stats = %+v, %v; the swarms hold %+v", st, err, want)
	}
}
