package peerstoretest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// Config is what the suite asks of a new store.
type Config struct {
	// PeerTTL is the peer TTL the store must use.
	PeerTTL time.Duration
	// Now is the clock the store must use; nil when the suite runs with
	// RealClock, in which case the store uses the real time.
	Now func() time.Time
}

// Factory makes a fresh, empty store for one test or benchmark; the suite
// closes it. It fails tb if the store cannot be made.
type Factory func(tb testing.TB, cfg Config) peers.PeerStore

// Option changes how Run runs.
type Option func(*options)

type options struct{ realClock bool }

// RealClock makes the expiry cases use a short TTL and real sleeps, for
// backends that cannot take Config.Now.
func RealClock() Option { return func(o *options) { o.realClock = true } }

// clock is the suite's time: fake (advanced instantly) or real (slept).
type clock struct {
	real bool
	mu   sync.Mutex
	t    time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	if c.real {
		time.Sleep(d)
		return
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t     *testing.T
	ctx   context.Context
	store peers.PeerStore
	clock *clock
	ttl   time.Duration
}

func newEnv(t *testing.T, f Factory, o options) *env {
	t.Helper()
	c := &clock{real: o.realClock, t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	cfg := Config{PeerTTL: 10 * time.Minute, Now: c.Now}
	if o.realClock {
		cfg = Config{PeerTTL: 1500 * time.Millisecond}
	}
	s := f(t, cfg)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &env{t: t, ctx: t.Context(), store: s, clock: c, ttl: cfg.PeerTTL}
}

// IH makes a distinct infohash from n.
func IH(n int) peers.InfoHash {
	var ih peers.InfoHash
	binary.BigEndian.PutUint64(ih[:], uint64(n)*0x9E3779B97F4A7C15)
	binary.BigEndian.PutUint32(ih[16:], uint32(n))
	return ih
}

// PID makes a distinct peer id from n.
func PID(n int) peers.PeerID {
	var id peers.PeerID
	copy(id[:], "-PP0100-")
	binary.BigEndian.PutUint32(id[16:], uint32(n))
	return id
}

// Addr4 makes a distinct IPv4 address from n.
func Addr4(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(1024+n%60000))
}

// Addr6 makes a distinct IPv6 address from n.
func Addr6(n int) netip.AddrPort {
	var b [16]byte
	b[0], b[1] = 0xfd, 0x00
	binary.BigEndian.PutUint32(b[12:], uint32(n))
	return netip.AddrPortFrom(netip.AddrFrom16(b), uint16(1024+n%60000))
}

func (e *env) announce(ih peers.InfoHash, n int, addr netip.AddrPort, left uint64, ev peers.Event, numWant int) peers.AnnounceResult {
	e.t.Helper()
	res, err := e.store.Announce(e.ctx, peers.Announce{
		InfoHash: ih, Peer: peers.Peer{ID: PID(n), Addr: addr}, Left: left, Event: ev, NumWant: numWant,
	})
	if err != nil {
		e.t.Fatalf("announce %d: %v", n, err)
	}
	return res
}

func (e *env) scrape(ihs ...peers.InfoHash) []peers.Swarm {
	e.t.Helper()
	sw, err := e.store.Scrape(e.ctx, ihs)
	if err != nil {
		e.t.Fatalf("scrape: %v", err)
	}
	if len(sw) != len(ihs) {
		e.t.Fatalf("scrape of %d hashes returned %d entries", len(ihs), len(sw))
	}
	return sw
}

func addrs(ps []peers.Peer) map[netip.AddrPort]peers.PeerID {
	m := make(map[netip.AddrPort]peers.PeerID, len(ps))
	for _, p := range ps {
		m[p.Addr] = p.ID
	}
	return m
}

func wantCounts(t *testing.T, res peers.AnnounceResult, complete, incomplete int) {
	t.Helper()
	if res.Complete != complete || res.Incomplete != incomplete {
		t.Fatalf("complete/incomplete = %d/%d, want %d/%d", res.Complete, res.Incomplete, complete, incomplete)
	}
}

// Run runs the conformance suite against stores made by f.
func Run(t *testing.T, f Factory, opts ...Option) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cases := []struct {
		name string
		fn   func(*env)
	}{
		{"EmptyScrape", testEmptyScrape},
		{"FirstLeecherGetsNobody", testFirstLeecher},
		{"SeederAndLeechers", testSeederAndLeechers},
		{"NeverSelf", testNeverSelf},
		{"NumWant", testNumWant},
		{"RandomSelection", testRandomSelection},
		{"Stopped", testStopped},
		{"Completed", testCompleted},
		{"SameAddressReplaces", testSameAddressReplaces},
		{"IPv6", testIPv6},
		{"Stats", testStats},
		{"Expiry", testExpiry},
		{"RefreshKeepsPeer", testRefresh},
		{"Concurrent", testConcurrent},
		{"CanceledContext", testCanceled},
		{"Closed", testClosed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if o.realClock {
				t.Parallel() // the real-clock expiry cases sleep
			}
			c.fn(newEnv(t, f, o))
		})
	}
}

func testEmptyScrape(e *env) {
	for i, sw := range e.scrape(IH(1), IH(2)) {
		if sw != (peers.Swarm{}) {
			e.t.Errorf("scrape[%d] of unknown infohash = %+v, want zero", i, sw)
		}
	}
	if got := e.scrape(); len(got) != 0 {
		e.t.Errorf("scrape of nothing = %v", got)
	}
}

func testFirstLeecher(e *env) {
	res := e.announce(IH(1), 1, Addr4(1), 100, peers.EventStarted, 50)
	if len(res.Peers) != 0 {
		e.t.Errorf("first peer got %v", res.Peers)
	}
	wantCounts(e.t, res, 0, 1)
	if sw := e.scrape(IH(1))[0]; sw != (peers.Swarm{Incomplete: 1}) {
		e.t.Errorf("scrape = %+v", sw)
	}
}

func testSeederAndLeechers(e *env) {
	ih := IH(7)
	e.announce(ih, 1, Addr4(1), 0, peers.EventStarted, 50) // seeder
	e.announce(ih, 2, Addr4(2), 0, peers.EventStarted, 50) // seeder
	res := e.announce(ih, 3, Addr4(3), 10, peers.EventStarted, 50)
	wantCounts(e.t, res, 2, 1)
	got := addrs(res.Peers)
	if len(got) != 2 || got[Addr4(1)] != PID(1) || got[Addr4(2)] != PID(2) {
		e.t.Errorf("leecher got %v, want both seeders with their ids", res.Peers)
	}
	e.announce(ih, 4, Addr4(4), 10, peers.EventStarted, 50)
	res = e.announce(ih, 1, Addr4(1), 0, peers.EventNone, 50)
	wantCounts(e.t, res, 2, 2)
	got = addrs(res.Peers)
	if len(got) != 2 || got[Addr4(3)] != PID(3) || got[Addr4(4)] != PID(4) {
		e.t.Errorf("seeder got %v, want exactly the two leechers", res.Peers)
	}
}

func testNeverSelf(e *env) {
	ih := IH(3)
	for i := 1; i <= 5; i++ {
		e.announce(ih, i, Addr4(i), uint64(i%2), peers.EventStarted, 50)
	}
	for i := 1; i <= 5; i++ {
		res := e.announce(ih, i, Addr4(i), uint64(i%2), peers.EventNone, 50)
		if _, ok := addrs(res.Peers)[Addr4(i)]; ok {
			e.t.Errorf("peer %d was given itself", i)
		}
	}
}

func testNumWant(e *env) {
	ih := IH(4)
	for i := 1; i <= 30; i++ {
		e.announce(ih, i, Addr4(i), uint64(i%3), peers.EventStarted, 0)
	}
	for _, want := range []int{0, 1, 10, 29, 50} {
		res := e.announce(ih, 100, Addr4(100), 5, peers.EventNone, want)
		exp := min(want, 30)
		if len(res.Peers) != exp {
			e.t.Errorf("numwant %d: got %d peers, want %d", want, len(res.Peers), exp)
		}
		if len(addrs(res.Peers)) != len(res.Peers) {
			e.t.Errorf("numwant %d: duplicate peers in %v", want, res.Peers)
		}
	}
}

func testRandomSelection(e *env) {
	ih := IH(5)
	for i := 1; i <= 100; i++ {
		e.announce(ih, i, Addr4(i), uint64(i%2), peers.EventStarted, 0)
	}
	seen := map[netip.AddrPort]bool{}
	for range 30 {
		res := e.announce(ih, 1000, Addr4(1000), 5, peers.EventNone, 10)
		for _, p := range res.Peers {
			seen[p.Addr] = true
		}
	}
	if len(seen) < 20 {
		e.t.Errorf("30 announces with numwant 10 in a swarm of 100 saw only %d distinct peers", len(seen))
	}
}

func testStopped(e *env) {
	ih := IH(6)
	e.announce(ih, 1, Addr4(1), 0, peers.EventStarted, 50)
	e.announce(ih, 2, Addr4(2), 5, peers.EventStarted, 50)
	res := e.announce(ih, 1, Addr4(1), 0, peers.EventStopped, 50)
	if len(res.Peers) != 0 {
		e.t.Errorf("stopped announce got peers %v", res.Peers)
	}
	wantCounts(e.t, res, 0, 1)
	res = e.announce(ih, 3, Addr4(3), 5, peers.EventStarted, 50)
	if _, ok := addrs(res.Peers)[Addr4(1)]; ok {
		e.t.Errorf("stopped peer still handed out: %v", res.Peers)
	}
	// Stopping an unknown peer of an unknown swarm changes nothing.
	res = e.announce(IH(66), 9, Addr4(9), 5, peers.EventStopped, 50)
	wantCounts(e.t, res, 0, 0)
	if sw := e.scrape(IH(66))[0]; sw != (peers.Swarm{}) {
		e.t.Errorf("scrape after stray stop = %+v", sw)
	}
}

func testCompleted(e *env) {
	ih := IH(8)
	e.announce(ih, 1, Addr4(1), 100, peers.EventStarted, 50)
	e.announce(ih, 2, Addr4(2), 100, peers.EventStarted, 50)
	res := e.announce(ih, 1, Addr4(1), 0, peers.EventCompleted, 50)
	wantCounts(e.t, res, 1, 1)
	if sw := e.scrape(ih)[0]; sw != (peers.Swarm{Complete: 1, Incomplete: 1, Downloaded: 1}) {
		e.t.Errorf("scrape after completed = %+v", sw)
	}
	e.announce(ih, 2, Addr4(2), 0, peers.EventCompleted, 50)
	if sw := e.scrape(ih)[0]; sw != (peers.Swarm{Complete: 2, Downloaded: 2}) {
		e.t.Errorf("scrape after second completed = %+v", sw)
	}
}

func testSameAddressReplaces(e *env) {
	ih := IH(9)
	e.announce(ih, 1, Addr4(1), 5, peers.EventStarted, 50)
	e.announce(ih, 2, Addr4(1), 0, peers.EventStarted, 50) // restarted client, same address, now a seeder
	if sw := e.scrape(ih)[0]; sw != (peers.Swarm{Complete: 1}) {
		e.t.Errorf("scrape = %+v, want one seeder", sw)
	}
	res := e.announce(ih, 3, Addr4(3), 5, peers.EventStarted, 50)
	if len(res.Peers) != 1 || res.Peers[0].ID != PID(2) {
		e.t.Errorf("got %v, want the restarted peer with its new id", res.Peers)
	}
}

func testIPv6(e *env) {
	ih := IH(10)
	e.announce(ih, 1, Addr6(1), 0, peers.EventStarted, 50)
	e.announce(ih, 2, Addr4(2), 0, peers.EventStarted, 50)
	res := e.announce(ih, 3, Addr6(3), 5, peers.EventStarted, 50)
	wantCounts(e.t, res, 2, 1)
	got := addrs(res.Peers)
	if len(got) != 2 || got[Addr6(1)] != PID(1) || got[Addr4(2)] != PID(2) {
		e.t.Errorf("IPv6 leecher got %v, want the IPv6 and the IPv4 seeder", res.Peers)
	}
	if res.Peers[0].Addr != Addr6(1) {
		e.t.Errorf("IPv6 leecher got %v first, want its own family first", res.Peers[0].Addr)
	}
	res = e.announce(ih, 4, Addr4(4), 5, peers.EventStarted, 1)
	if len(res.Peers) != 1 || res.Peers[0].Addr != Addr4(2) {
		e.t.Errorf("IPv4 leecher with numwant 1 got %v, want the IPv4 seeder", res.Peers)
	}
	e.announce(ih, 1, Addr6(1), 0, peers.EventStopped, 50)
	if sw := e.scrape(ih)[0]; sw.Complete != 1 {
		e.t.Errorf("after IPv6 stop scrape = %+v", sw)
	}
}

func testStats(e *env) {
	for i := range 3 {
		for j := range 4 {
			e.announce(IH(100+i), j, Addr4(j), uint64(j%2), peers.EventStarted, 0)
		}
	}
	st, err := e.store.Stats(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if st != (peers.Stats{Torrents: 3, Seeders: 6, Leechers: 6}) {
		e.t.Errorf("stats = %+v", st)
	}
}

func testExpiry(e *env) {
	ih := IH(11)
	e.announce(ih, 1, Addr4(1), 0, peers.EventStarted, 50)
	e.announce(ih, 2, Addr6(2), 5, peers.EventStarted, 50)
	e.clock.Advance(e.ttl + e.ttl/2)
	if sw := e.scrape(ih)[0]; sw.Complete != 0 || sw.Incomplete != 0 {
		e.t.Errorf("scrape after TTL = %+v, want no peers", sw)
	}
	res := e.announce(ih, 3, Addr4(3), 5, peers.EventStarted, 50)
	if len(res.Peers) != 0 {
		e.t.Errorf("expired peers handed out: %v", res.Peers)
	}
	wantCounts(e.t, res, 0, 1)
}

func testRefresh(e *env) {
	ih := IH(12)
	e.announce(ih, 1, Addr4(1), 0, peers.EventStarted, 50)
	e.announce(ih, 2, Addr4(2), 5, peers.EventStarted, 50)
	e.clock.Advance(e.ttl * 6 / 10)
	e.announce(ih, 1, Addr4(1), 0, peers.EventNone, 50)
	e.clock.Advance(e.ttl * 6 / 10)
	res := e.announce(ih, 3, Addr4(3), 5, peers.EventStarted, 50)
	got := addrs(res.Peers)
	if _, ok := got[Addr4(1)]; !ok || len(got) != 1 {
		e.t.Errorf("got %v, want only the refreshed seeder", res.Peers)
	}
	wantCounts(e.t, res, 1, 1)
}

func testConcurrent(e *env) {
	const workers, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				_, err := e.store.Announce(e.ctx, peers.Announce{
					InfoHash: IH(200 + i%5), Peer: peers.Peer{ID: PID(n), Addr: Addr4(n)},
					Left: uint64(n % 2), Event: peers.EventStarted, NumWant: 20,
				})
				if err != nil {
					errs <- fmt.Errorf("announce %d: %w", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.t.Fatal(err)
	}
	total := 0
	for _, sw := range e.scrape(IH(200), IH(201), IH(202), IH(203), IH(204)) {
		total += sw.Complete + sw.Incomplete
	}
	if total != workers*each {
		e.t.Errorf("stored %d peers, want %d", total, workers*each)
	}
}

func testCanceled(e *env) {
	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	_, err := e.store.Announce(ctx, peers.Announce{InfoHash: IH(1), Peer: peers.Peer{ID: PID(1), Addr: Addr4(1)}, NumWant: 1})
	if !errors.Is(err, context.Canceled) {
		e.t.Errorf("announce with canceled context: err = %v", err)
	}
	if sw := e.scrape(IH(1))[0]; sw != (peers.Swarm{}) {
		e.t.Errorf("canceled announce was stored: %+v", sw)
	}
}

func testClosed(e *env) {
	if err := e.store.Close(); err != nil {
		e.t.Fatal(err)
	}
	_, err := e.store.Announce(e.ctx, peers.Announce{InfoHash: IH(1), Peer: peers.Peer{ID: PID(1), Addr: Addr4(1)}})
	if !errors.Is(err, peers.ErrClosed) {
		e.t.Errorf("announce after close: err = %v, want ErrClosed", err)
	}
	if _, err := e.store.Scrape(e.ctx, []peers.InfoHash{IH(1)}); !errors.Is(err, peers.ErrClosed) {
		e.t.Errorf("scrape after close: err = %v, want ErrClosed", err)
	}
}
