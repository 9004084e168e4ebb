// Package memory is the default PeerStore: swarms kept in process memory,
// sharded by infohash, each peer packed into 30 bytes of map slot (IPv4) and
// expired after the peer TTL by a sweep goroutine the store owns and by
// pruning on read.
package memory

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// Defaults of Config.
const (
	DefaultShards = 1024
	// maxPeerTTL bounds the TTL so that millisecond ages, kept in 32 bits with
	// wrapping arithmetic, never wrap while a peer is still stored.
	maxPeerTTL = 7 * 24 * time.Hour
)

// Config configures a Store. The zero value gives the defaults.
type Config struct {
	// PeerTTL is how long a peer stays after its last announce (default 31m).
	PeerTTL time.Duration
	// Shards is the number of independently locked parts (default 1024,
	// rounded up to a power of two).
	Shards int
	// SweepInterval is how often the store drops expired peers and empty
	// swarms in the background (default PeerTTL/8, between 1s and 1m).
	SweepInterval time.Duration
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
}

// addr4 and addr6 are compact addresses (BEP 23 / BEP 7 layout): the map key.
type addr4 [6]byte
type addr6 [18]byte

// compactAddr is either key type; the code that keeps and picks peers is
// written once for both.
type compactAddr interface {
	addr4 | addr6
	addrPort() netip.AddrPort
}

func newAddr4(a netip.Addr, port uint16) (k addr4) {
	b := a.As4()
	copy(k[:], b[:])
	binary.BigEndian.PutUint16(k[4:], port)
	return k
}

func newAddr6(a netip.Addr, port uint16) (k addr6) {
	b := a.As16()
	copy(k[:], b[:])
	binary.BigEndian.PutUint16(k[16:], port)
	return k
}

func (k addr4) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(k[:4])), binary.BigEndian.Uint16(k[4:]))
}

func (k addr6) addrPort() netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte(k[:16])), binary.BigEndian.Uint16(k[16:]))
}

// rec is what a map slot holds besides the key: the peer id and the
// last-seen time in milliseconds since the store's epoch (wrapping). Byte
// arrays only, so the slot needs no alignment padding: 6+24 = 30 bytes.
type rec struct {
	id   peers.PeerID
	seen [4]byte
}

func (r rec) seenMS() uint32 { return binary.LittleEndian.Uint32(r.seen[:]) }

func newRec(id peers.PeerID, now uint32) rec {
	var r rec
	r.id = id
	binary.LittleEndian.PutUint32(r.seen[:], now)
	return r
}

// swarm is one infohash's peers, split by role and address family so that a
// seeder's reply skips seeders without looking at them and counts are len().
type swarm struct {
	seeders4, leechers4 map[addr4]rec
	seeders6, leechers6 map[addr6]rec
	downloaded          int
	// oldest is a lower bound of every stored peer's seen time: while
	// now-oldest < ttl nothing in the swarm can have expired.
	oldest uint32
}

func (s *swarm) complete() int   { return len(s.seeders4) + len(s.seeders6) }
func (s *swarm) incomplete() int { return len(s.leechers4) + len(s.leechers6) }
func (s *swarm) empty() bool     { return s.complete()+s.incomplete() == 0 }

type shard struct {
	mu     sync.Mutex
	swarms map[peers.InfoHash]*swarm
	_      [40]byte // keep neighbouring shards' locks off one cache line
}

// Store is the in-memory PeerStore. Create it with New; Close stops its sweep.
type Store struct {
	shards []shard
	mask   uint32
	ttlMS  uint32
	now    func() time.Time
	epoch  time.Time
	closed atomic.Bool
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var (
	_ peers.PeerStore = (*Store)(nil)
	_ peers.Local     = (*Store)(nil)
)

// Local implements peers.Local: the store never waits on I/O.
func (s *Store) Local() bool { return true }

// New returns a started Store.
func New(cfg Config) (*Store, error) {
	if cfg.PeerTTL == 0 {
		cfg.PeerTTL = peers.DefaultPeerTTL
	}
	if cfg.PeerTTL < time.Millisecond || cfg.PeerTTL > maxPeerTTL {
		return nil, fmt.Errorf("memory peer store: peer TTL %v out of range (1ms..%v)", cfg.PeerTTL, maxPeerTTL)
	}
	if cfg.Shards <= 0 {
		cfg.Shards = DefaultShards
	}
	if cfg.Shards > 1<<16 {
		return nil, fmt.Errorf("memory peer store: %d shards is too many (at most 65536)", cfg.Shards)
	}
	n := 1
	for n < cfg.Shards {
		n <<= 1
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = min(max(cfg.PeerTTL/8, time.Second), time.Minute)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Store{
		shards: make([]shard, n),
		mask:   uint32(n - 1),
		ttlMS:  uint32(cfg.PeerTTL / time.Millisecond),
		now:    cfg.Now,
		epoch:  cfg.Now(),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for i := range s.shards {
		s.shards[i].swarms = make(map[peers.InfoHash]*swarm)
	}
	go s.sweepLoop(cfg.SweepInterval)
	return s, nil
}

// nowMS is the clock in milliseconds since the epoch, wrapping at 2^32 (49
// days); ages are differences, so wrapping is harmless while every stored
// peer is younger than that, which the sweep guarantees.
func (s *Store) nowMS() uint32 {
	return uint32(s.now().Sub(s.epoch) / time.Millisecond)
}

func (s *Store) expired(seen, now uint32) bool { return now-seen >= s.ttlMS }

func (s *Store) shardOf(ih peers.InfoHash) *shard {
	// Infohashes are SHA-1 outputs: any four bytes are uniformly spread.
	return &s.shards[binary.LittleEndian.Uint32(ih[:4])&s.mask]
}

// Close stops the sweep goroutine. Later calls return peers.ErrClosed.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		<-s.done
	})
	return nil
}

func (s *Store) sweepLoop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// Sweep drops expired peers and empty swarms now; the sweep goroutine calls
// it periodically. An empty swarm's downloaded count is dropped with it.
func (s *Store) Sweep() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		now := s.nowMS()
		for ih, sw := range sh.swarms {
			s.pruneIfDue(sw, now)
			if sw.empty() {
				delete(sh.swarms, ih)
			}
		}
		sh.mu.Unlock()
	}
}

// pruneIfDue removes the swarm's expired peers when one may have expired.
func (s *Store) pruneIfDue(sw *swarm, now uint32) {
	if !s.expired(sw.oldest, now) || sw.empty() {
		return
	}
	oldest := now
	pruneMap(sw.seeders4, s, now, &oldest)
	pruneMap(sw.leechers4, s, now, &oldest)
	pruneMap(sw.seeders6, s, now, &oldest)
	pruneMap(sw.leechers6, s, now, &oldest)
	sw.oldest = oldest
}

func pruneMap[K comparable](m map[K]rec, s *Store, now uint32, oldest *uint32) {
	for k, r := range m {
		seen := r.seenMS()
		if s.expired(seen, now) {
			delete(m, k)
		} else if now-seen > now-*oldest {
			*oldest = seen
		}
	}
}

// Announce implements peers.PeerStore.
func (s *Store) Announce(ctx context.Context, a peers.Announce) (peers.AnnounceResult, error) {
	if s.closed.Load() {
		return peers.AnnounceResult{}, peers.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return peers.AnnounceResult{}, fmt.Errorf("memory peer store: %w", err)
	}
	addr := a.Peer.Addr.Addr().Unmap()
	if !addr.IsValid() {
		return peers.AnnounceResult{}, fmt.Errorf("memory peer store: invalid peer address %v", a.Peer.Addr)
	}
	port := a.Peer.Addr.Port()
	sh := s.shardOf(a.InfoHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sw := sh.swarms[a.InfoHash]
	now := s.nowMS()
	if sw == nil {
		if a.Event == peers.EventStopped {
			return peers.AnnounceResult{Peers: a.PeerBuf[:0]}, nil
		}
		sw = &swarm{oldest: now}
		sh.swarms[a.InfoHash] = sw
	} else {
		s.pruneIfDue(sw, now)
		if sw.empty() {
			sw.oldest = now
		}
	}

	var (
		k4        addr4
		k6        addr6
		wasSeeder bool
	)
	if addr.Is4() {
		k4 = newAddr4(addr, port)
		wasSeeder = update(&sw.seeders4, &sw.leechers4, k4, a, now)
	} else {
		k6 = newAddr6(addr, port)
		wasSeeder = update(&sw.seeders6, &sw.leechers6, k6, a, now)
	}
	if a.Event == peers.EventCompleted && !wasSeeder {
		sw.downloaded++
	}
	var res peers.AnnounceResult
	res.Peers = s.pick(sw, a, addr.Is4(), k4, k6, now)
	res.Complete = sw.complete()
	res.Incomplete = sw.incomplete()
	if sw.empty() && sw.downloaded == 0 {
		delete(sh.swarms, a.InfoHash)
	}
	return res, nil
}

// update stores (or on stopped, removes) the peer under key k in the map of
// its role, removing it from the other role's map. It reports whether the
// peer was stored as a seeder before.
func update[K comparable](seeders, leechers *map[K]rec, k K, a peers.Announce, now uint32) (wasSeeder bool) {
	_, wasSeeder = (*seeders)[k]
	if wasSeeder {
		delete(*seeders, k)
	} else if *leechers != nil {
		delete(*leechers, k)
	}
	if a.Event == peers.EventStopped {
		return wasSeeder
	}
	m := leechers
	if a.Seeder() {
		m = seeders
	}
	if *m == nil {
		*m = make(map[K]rec)
	}
	(*m)[k] = newRec(a.Peer.ID, now)
	return wasSeeder
}

// pick chooses up to a.NumWant peers for the announcing peer: its own
// address family first, then the other; for a leecher at most half from
// seeders at first so that listeners also learn of each other; for a seeder
// leechers only. Go's map iteration starts at a random slot, which makes the
// choice random enough when the swarm is larger than NumWant.
func (s *Store) pick(sw *swarm, a peers.Announce, self4 bool, k4 addr4, k6 addr6, now uint32) []peers.Peer {
	out := a.PeerBuf[:0]
	want := a.NumWant
	if want <= 0 || a.Event == peers.EventStopped {
		return out
	}
	type source struct {
		v4   bool
		seed bool
		max  int
	}
	var order [6]source
	n := 0
	fams := [2]bool{self4, !self4}
	for _, v4 := range fams {
		if a.Seeder() {
			order[n] = source{v4, false, want}
			n++
			continue
		}
		order[n] = source{v4, true, (want + 1) / 2}
		order[n+1] = source{v4, false, want}
		n += 2
	}
	if !a.Seeder() {
		// Fill what leechers left over with more seeders.
		order[n] = source{self4, true, want}
		order[n+1] = source{!self4, true, want}
		n += 2
	}
	for _, src := range order[:n] {
		if len(out) >= want {
			break
		}
		limit := min(want, len(out)+src.max)
		// Only the seeder maps are visited twice; the second visit must
		// skip what the first took.
		dedupe := src.seed && src.max == want
		switch {
		case src.v4 && src.seed:
			out = collect(out, sw.seeders4, s, k4, now, limit, dedupe)
		case src.v4:
			out = collect(out, sw.leechers4, s, k4, now, limit, false)
		case src.seed:
			out = collect(out, sw.seeders6, s, k6, now, limit, dedupe)
		default:
			out = collect(out, sw.leechers6, s, k6, now, limit, false)
		}
	}
	return out
}

// collect appends peers of m until out holds limit, skipping the announcing
// peer, peers already in out, and expired peers (which it deletes).
func collect[K compactAddr](out []peers.Peer, m map[K]rec, s *Store, self K, now uint32, limit int, dedupe bool) []peers.Peer {
	if len(m) == 0 {
		return out
	}
	start := len(out)
	for k, r := range m {
		if len(out) >= limit {
			break
		}
		if k == self {
			continue
		}
		if s.expired(r.seenMS(), now) {
			delete(m, k)
			continue
		}
		ap := k.addrPort()
		if dedupe && has(out[:start], ap) {
			continue
		}
		out = append(out, peers.Peer{ID: r.id, Addr: ap})
	}
	return out
}

// has reports whether ps holds addr.
func has(ps []peers.Peer, addr netip.AddrPort) bool {
	for i := range ps {
		if ps[i].Addr == addr {
			return true
		}
	}
	return false
}

// Scrape implements peers.PeerStore.
func (s *Store) Scrape(ctx context.Context, hashes []peers.InfoHash) ([]peers.Swarm, error) {
	if s.closed.Load() {
		return nil, peers.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory peer store: %w", err)
	}
	out := make([]peers.Swarm, len(hashes))
	for i, ih := range hashes {
		sh := s.shardOf(ih)
		sh.mu.Lock()
		if sw := sh.swarms[ih]; sw != nil {
			s.pruneIfDue(sw, s.nowMS())
			out[i] = peers.Swarm{Complete: sw.complete(), Incomplete: sw.incomplete(), Downloaded: sw.downloaded}
		}
		sh.mu.Unlock()
	}
	return out, nil
}

// Stats implements peers.PeerStore. Peers that expired since the last sweep
// or read of their swarm may still be counted.
func (s *Store) Stats(ctx context.Context) (peers.Stats, error) {
	if s.closed.Load() {
		return peers.Stats{}, peers.ErrClosed
	}
	var st peers.Stats
	for i := range s.shards {
		if err := ctx.Err(); err != nil {
			return peers.Stats{}, fmt.Errorf("memory peer store: %w", err)
		}
		sh := &s.shards[i]
		sh.mu.Lock()
		for _, sw := range sh.swarms {
			if !sw.empty() {
				st.Torrents++
			}
			st.Seeders += sw.complete()
			st.Leechers += sw.incomplete()
		}
		sh.mu.Unlock()
	}
	return st, nil
}
