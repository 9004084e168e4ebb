// Package redis is the PeerStore that several tracker processes share:
// swarms live in Redis (7.0 or later), so a peer announced to one tracker
// is handed out by every other.
//
// Layout, under a key prefix (default "peertune:"): per swarm, four sorted
// sets (seeders and leechers, IPv4 and IPv6) whose members are the compact
// address (BEP 23/7) and peer id, scored by the last announce in
// milliseconds of the Redis server's clock, so a pick is ZRANDMEMBER alone;
// and one hash from compact address to role and peer id (plus the
// downloaded count). The address is the peer's identity, as in the memory
// store: a restarted client on the same address replaces its old entry. Redis 7.0 has no per-field expiry, so expired peers are pruned on
// every read of their swarm (ZREMRANGEBYSCORE) and by a periodic sweep, and
// every key gets a TTL on each write, so no key outlives its peers for long.
// An announce is one Lua script: prune, update, count, pick (ZRANDMEMBER).
//
// Stats reads counters kept by the same scripts (HINCRBY on every add,
// remove and prune) and the size of an index of live swarms: O(groups),
// exact as long as some tracker sweeps at least once per peer TTL (a
// swarm's keys expire two TTLs after their last write; peers that vanish by
// key expiry before a sweep saw them would stay counted).
//
// Swarms fall into 64 groups by their infohash's first byte; a group's
// swarm keys, its index of swarms and its counters share a hash tag
// ("{NN}", NN the group in hex), so each script touches one hash slot and
// runs on a Redis Cluster, where the groups spread over the masters.
package redis

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/redisconn"
	"github.com/peertune/peertune/tracker/peers"
)

// Defaults of Config.
const (
	DefaultPrefix = "peertune:"
	// scrapeBatch bounds the swarms one prune script handles, so that a
	// sweep never blocks Redis for long.
	scrapeBatch = 128
)

// Config configures a Store. The zero value gives the defaults.
type Config struct {
	// PeerTTL is how long a peer stays after its last announce (default 31m).
	PeerTTL time.Duration
	// Prefix starts every key the store uses (default "peertune:"). Trackers
	// that share swarms must use the same prefix.
	Prefix string
	// SweepInterval is how often this instance tries to sweep expired peers
	// (default PeerTTL/8, between 1s and 1m). Instances take turns: a sweep
	// runs only where it wins a lock that lasts one interval.
	SweepInterval time.Duration
	// Logger logs sweep failures (default slog.Default()).
	Logger *slog.Logger
}

// Store is the Redis PeerStore. Create it with New or Open; Close stops its
// sweep (and closes the client when Open made it).
type Store struct {
	rdb       goredis.UniversalClient
	ownClient bool
	prefix    string
	ttlMS     int64
	keyTTLMS  int64
	log       *slog.Logger
	sweepKey  string
	sweepTTL  time.Duration
	instance  string

	closed atomic.Bool
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

var _ peers.PeerStore = (*Store)(nil)

// Open connects to the Redis at url (redis://[user:pass@]host:port/db or
// rediss://…), checks that it answers, and returns a Store that owns the
// connection.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	rdb, err := redisconn.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("redis peer store: %w", err)
	}
	s, err := New(rdb, cfg)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.ownClient = true
	return s, nil
}

// New returns a started Store on rdb, which the caller keeps owning.
func New(rdb goredis.UniversalClient, cfg Config) (*Store, error) {
	if cfg.PeerTTL == 0 {
		cfg.PeerTTL = peers.DefaultPeerTTL
	}
	if cfg.PeerTTL < time.Millisecond {
		return nil, fmt.Errorf("redis peer store: peer TTL %v is under a millisecond", cfg.PeerTTL)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = min(max(cfg.PeerTTL/8, time.Second), time.Minute)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], uint64(time.Now().UnixNano()))
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		rdb:    rdb,
		prefix: cfg.Prefix,
		ttlMS:  cfg.PeerTTL.Milliseconds(),
		// Two TTLs: the sweep must see a swarm's expired peers (to take
		// them off the counters) before Redis drops the keys.
		keyTTLMS: 2 * cfg.PeerTTL.Milliseconds(),
		log:      cfg.Logger,
		sweepKey: cfg.Prefix + "sweep",
		sweepTTL: cfg.SweepInterval,
		instance: hex.EncodeToString(id[:]),
		cancel:   cancel,
		done:     make(chan struct{}),
	}
	go s.sweepLoop(ctx, cfg.SweepInterval)
	return s, nil
}

// Close stops the sweep goroutine; later calls return peers.ErrClosed.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		<-s.done
		if s.ownClient {
			if cerr := s.rdb.Close(); cerr != nil {
				err = fmt.Errorf("redis peer store: close: %w", cerr)
			}
		}
	})
	return err
}

// groups is how many hash-tag groups the swarms fall into.
const groups = 64

// groupNames are the names of the groups, two hex digits each: a slice of
// a constant, where fmt.Sprintf allocated on every announce.
const groupNames = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"

// groupName is the name of group i (0 <= i < groups).
func groupName(i int) string { return groupNames[2*i : 2*i+2] }

// group is the group of the swarm with that hex infohash: its first byte's
// top six bits, as two hex digits.
func group(ihHex string) string {
	b, _ := strconv.ParseUint(ihHex[:2], 16, 8)
	return groupName(int(b >> 2))
}

// groupKey is a key of group g: its hash tag, then name.
func (s *Store) groupKey(g, name string) string { return s.prefix + "{" + g + "}" + name }

// swarmKeys are the five keys of a swarm: seeders4, leechers4, seeders6,
// leechers6, hash.
func (s *Store) swarmKeys(dst []string, ihHex string) []string {
	base := s.groupKey(group(ihHex), "sw:"+ihHex+":")
	return append(dst, base+"s4", base+"l4", base+"s6", base+"l6", base+"h")
}

// compact is the BEP 23 / BEP 7 form of an address: the peer's identity.
func compact(ap netip.AddrPort) (member string, v4 bool, err error) {
	addr := ap.Addr().Unmap()
	if !addr.IsValid() {
		return "", false, fmt.Errorf("invalid peer address %v", ap)
	}
	var b [18]byte
	if addr.Is4() {
		a := addr.As4()
		copy(b[:], a[:])
		binary.BigEndian.PutUint16(b[4:], ap.Port())
		return string(b[:6]), true, nil
	}
	a := addr.As16()
	copy(b[:], a[:])
	binary.BigEndian.PutUint16(b[16:], ap.Port())
	return string(b[:]), false, nil
}

// parseMember decodes a sorted-set member: compact address .. peer id.
func parseMember(m string) (peers.Peer, bool) {
	const idLen = len(peers.PeerID{})
	var p peers.Peer
	switch len(m) {
	case 6 + idLen:
		p.Addr = netip.AddrPortFrom(netip.AddrFrom4([4]byte([]byte(m[:4]))), binary.BigEndian.Uint16([]byte(m[4:6])))
	case 18 + idLen:
		p.Addr = netip.AddrPortFrom(netip.AddrFrom16([16]byte([]byte(m[:16]))), binary.BigEndian.Uint16([]byte(m[16:18])))
	default:
		return p, false
	}
	copy(p.ID[:], m[len(m)-idLen:])
	return p, true
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return peers.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis peer store: %w", err)
	}
	return nil
}

// wrap reports a failure after Close as ErrClosed.
func (s *Store) wrap(err error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %v", peers.ErrClosed, err)
	}
	return err
}

// Announce implements peers.PeerStore.
func (s *Store) Announce(ctx context.Context, a peers.Announce) (peers.AnnounceResult, error) {
	if err := s.check(ctx); err != nil {
		return peers.AnnounceResult{}, err
	}
	member, v4, err := compact(a.Peer.Addr)
	if err != nil {
		return peers.AnnounceResult{}, fmt.Errorf("redis peer store: %w", err)
	}
	ihHex := hex.EncodeToString(a.InfoHash[:])
	var kb [7]string
	keys := s.swarmKeys(kb[:0], ihHex)
	// Own family first: s4 l4 s6 l6 h becomes s6 l6 s4 l4 h for IPv6.
	if !v4 {
		keys[0], keys[1], keys[2], keys[3] = keys[2], keys[3], keys[0], keys[1]
	}
	g := group(ihHex)
	keys = append(keys, s.groupKey(g, "swarms"), s.groupKey(g, "stats"))
	seeder := "0"
	if a.Seeder() {
		seeder = "1"
	}
	want := max(a.NumWant, 0)
	if a.Event == peers.EventStopped {
		want = 0
	}
	res, err := announceScript.Run(ctx, s.rdb, keys, member, a.Peer.ID[:], seeder, a.Event.String(),
		want, s.ttlMS, s.keyTTLMS, ihHex).Slice()
	if err != nil {
		return peers.AnnounceResult{}, s.wrap(fmt.Errorf("redis peer store: announce: %w", err))
	}
	if len(res) < 2 {
		return peers.AnnounceResult{}, fmt.Errorf("redis peer store: announce: malformed reply of %d values", len(res))
	}
	out := peers.AnnounceResult{Peers: a.PeerBuf[:0]}
	out.Complete, _ = asInt(res[0])
	out.Incomplete, _ = asInt(res[1])
	for _, v := range res[2:] {
		m, _ := v.(string)
		p, ok := parseMember(m)
		if !ok {
			continue // not ours: skip rather than hand out garbage
		}
		out.Peers = append(out.Peers, p)
	}
	return out, nil
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		return int(x), true
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

// Scrape implements peers.PeerStore.
func (s *Store) Scrape(ctx context.Context, hashes []peers.InfoHash) ([]peers.Swarm, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	out := make([]peers.Swarm, len(hashes))
	hexes := make([]string, len(hashes))
	byGroup := map[string][]int{} // indexes into hashes
	for i, ih := range hashes {
		hexes[i] = hex.EncodeToString(ih[:])
		g := group(hexes[i])
		byGroup[g] = append(byGroup[g], i)
	}
	for g, idx := range byGroup {
		for start := 0; start < len(idx); start += scrapeBatch {
			batch := idx[start:min(start+scrapeBatch, len(idx))]
			hs := make([]string, len(batch))
			for j, i := range batch {
				hs[j] = hexes[i]
			}
			counts, err := s.prune(ctx, g, hs)
			if err != nil {
				return nil, s.wrap(fmt.Errorf("redis peer store: scrape: %w", err))
			}
			for j, i := range batch {
				out[i] = counts[j]
			}
		}
	}
	return out, nil
}

// prune runs pruneScript over up to scrapeBatch swarms, all of group g.
func (s *Store) prune(ctx context.Context, g string, hexes []string) ([]peers.Swarm, error) {
	if len(hexes) == 0 {
		return nil, nil
	}
	keys := make([]string, 0, 2+5*len(hexes))
	keys = append(keys, s.groupKey(g, "swarms"), s.groupKey(g, "stats"))
	args := make([]any, 0, 1+len(hexes))
	args = append(args, s.ttlMS)
	for _, h := range hexes {
		keys = s.swarmKeys(keys, h)
		args = append(args, h)
	}
	res, err := pruneScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) != 3*len(hexes) {
		return nil, fmt.Errorf("malformed reply of %d values for %d swarms", len(res), len(hexes))
	}
	out := make([]peers.Swarm, len(hexes))
	for i := range out {
		out[i].Complete, _ = asInt(res[3*i])
		out[i].Incomplete, _ = asInt(res[3*i+1])
		out[i].Downloaded, _ = asInt(res[3*i+2])
	}
	return out, nil
}

// Stats implements peers.PeerStore: two reads per group, in one pipeline,
// whatever the number of swarms.
func (s *Store) Stats(ctx context.Context) (peers.Stats, error) {
	if err := s.check(ctx); err != nil {
		return peers.Stats{}, err
	}
	pipe := s.rdb.Pipeline()
	torrents := make([]*goredis.IntCmd, groups)
	counts := make([]*goredis.SliceCmd, groups)
	for i := range groups {
		g := groupName(i)
		torrents[i] = pipe.ZCard(ctx, s.groupKey(g, "swarms"))
		counts[i] = pipe.HMGet(ctx, s.groupKey(g, "stats"), "s", "l")
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return peers.Stats{}, s.wrap(fmt.Errorf("redis peer store: stats: %w", err))
	}
	var st peers.Stats
	for i := range groups {
		st.Torrents += int(torrents[i].Val())
		if vals := counts[i].Val(); len(vals) == 2 {
			n, _ := asInt(vals[0])
			st.Seeders += n
			n, _ = asInt(vals[1])
			st.Leechers += n
		}
	}
	// Counters can only go negative if Redis lost keys under us.
	st.Seeders, st.Leechers = max(st.Seeders, 0), max(st.Leechers, 0)
	return st, nil
}

func (s *Store) sweepLoop(ctx context.Context, every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("redis peer store: sweep", "err", err)
			}
		}
	}
}

// Sweep prunes every swarm now, unless another instance swept within the
// sweep interval; the sweep goroutine calls it periodically.
func (s *Store) Sweep(ctx context.Context) error {
	won, err := s.rdb.SetNX(ctx, s.sweepKey, s.instance, s.sweepTTL).Result()
	if err != nil {
		return fmt.Errorf("sweep lock: %w", err)
	}
	if !won {
		return nil
	}
	return s.SweepNow(ctx)
}

// SweepNow prunes every swarm in the indexes, lock or not, and refreshes
// the TTLs of the indexes and the counters (announces refresh them only
// when a swarm joins an index, to keep the announce script short).
func (s *Store) SweepNow(ctx context.Context) error {
	pipe := s.rdb.Pipeline()
	for i := range groups {
		g := groupName(i)
		pipe.PExpire(ctx, s.groupKey(g, "swarms"), time.Duration(s.keyTTLMS)*time.Millisecond)
		pipe.PExpire(ctx, s.groupKey(g, "stats"), time.Duration(s.keyTTLMS)*time.Millisecond)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("refresh TTLs: %w", err)
	}
	for i := range groups {
		if err := s.sweepGroup(ctx, groupName(i)); err != nil {
			return err
		}
	}
	return nil
}

// sweepGroup prunes the swarms of group g.
func (s *Store) sweepGroup(ctx context.Context, g string) error {
	var cursor uint64
	for {
		members, next, err := s.rdb.ZScan(ctx, s.groupKey(g, "swarms"), cursor, "", scrapeBatch).Result()
		if err != nil {
			return fmt.Errorf("scan swarms: %w", err)
		}
		// ZSCAN returns member, score, member, score…
		hexes := make([]string, 0, len(members)/2)
		for i := 0; i < len(members); i += 2 {
			if len(members[i]) == 40 {
				hexes = append(hexes, members[i])
			}
		}
		if _, err := s.prune(ctx, g, hexes); err != nil {
			return fmt.Errorf("prune: %w", err)
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}
