package stream

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent"

	"github.com/peertune/peertune/client/announce"
	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/internal/btclient"
	"github.com/peertune/peertune/proto"
)

// source is where a completed piece came from.
type source uint8

const (
	srcNone source = iota
	srcCache
	srcSeedHead
	srcSeedEmergency
	srcSeedFill
	srcSeedBT
	srcPeers
	numSources
)

func (s source) String() string {
	return [...]string{"none", "cache", "seed head", "seed emergency", "seed fill", "seed over BitTorrent", "peers"}[s]
}

func sourceOf(k policy.Kind) source {
	switch k {
	case policy.KindHead:
		return srcSeedHead
	case policy.KindFill:
		return srcSeedFill
	}
	return srcSeedEmergency
}

// injection is where an HTTP injection of a piece stands.
type injection uint8

const (
	injNone      injection = iota
	injWriting             // the fetch is writing the piece
	injVerifying           // written; the BitTorrent client checks its hash
)

// pieceAcct is the byte accounting of one piece.
type pieceAcct struct {
	fromSeedBT, fromPeers, fromHTTP int64 // bytes received for the piece
	inject                          injection
	injectKind                      source
	hashSeen                        bool      // the client hashed it since the injection began
	suspectSince                    time.Time // hashed and not complete since then
	source                          source    // who completed it; srcNone while incomplete
}

// Stream is one track in the client: cached, prefetching or playing. Its
// methods are safe for concurrent use.
//
// One goroutine, the owner (run), holds all of a stream's state: anacrolix's
// callbacks, the HTTP fetches, the readers and the methods post events to it
// (inbox) or ask it (query), and it applies the source policy's decisions.
type Stream struct {
	c         *Client
	track     proto.Track
	t         *torrent.Torrent
	numPieces int
	pieceLen  int64
	size      int64
	bps       float64 // bytes of audio per second

	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup  // the owner and the fetches
	failCtx context.Context // cancelled with a *SourceError when the policy gives up
	ready   chan struct{}   // closed by the owner when the policy lets playback start
	fail    context.CancelCauseFunc
	inbox   mailbox
	done    chan struct{} // the owner has stopped
	o       *owner        // touched only by the owner, or by query once it stopped
	afterMu sync.Mutex    // serialises queries once the owner stopped
	ann     *announce.Loop

	// seedBTOpen is the carried-out SetSeedBT: whether the BitTorrent
	// client may see what seed servers hold. Read by a callback under
	// anacrolix's lock, which cannot wait for the owner.
	seedBTOpen atomic.Bool

	readersMu sync.Mutex
	readers   map[*Reader]struct{}
}

func newStream(c *Client, track proto.Track, t *torrent.Torrent) (*Stream, error) {
	select {
	case <-t.GotInfo():
	default:
		return nil, fmt.Errorf("track %s: torrent has no info", track.ID)
	}
	s := &Stream{
		c:         c,
		track:     track,
		t:         t,
		numPieces: t.NumPieces(),
		pieceLen:  track.PieceLength,
		size:      track.Size,
		bps:       bytesPerSecond(track),
		done:      make(chan struct{}),
		readers:   make(map[*Reader]struct{}),
	}
	s.inbox.wake = make(chan struct{}, 1)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.failCtx, s.fail = context.WithCancelCause(s.ctx)
	s.ready = make(chan struct{})
	h := fnv.New64a()
	h.Write([]byte(track.ID))
	id := c.cl.PeerID()
	h.Write(id[:])
	o := &owner{
		s:            s,
		pieces:       make([]policy.Piece, s.numPieces),
		acct:         make([]pieceAcct, s.numPieces),
		peersSeen:    make(map[torrent.PeerID]struct{}),
		seedAddrs:    make(map[string]torrent.PeerInfo),
		fetches:      make(map[int]*fetch),
		lastProgress: time.Now(),
		spare:        -1,
		rng:          rand.New(rand.NewPCG(h.Sum64(), uint64(time.Now().UnixNano()))),
	}
	s.o = o
	// Subscribe before reading the states, so that no change is missed.
	sub := t.SubscribePieceStateChanges()
	for i := range s.numPieces {
		st := t.Piece(i).State()
		o.pieces[i] = policy.Piece{Complete: st.Complete, Partial: st.Partial}
		if st.Complete {
			// Complete before anything was fetched: from the cache.
			o.attribute(i, srcCache)
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer sub.Close()
		o.run(sub.Values)
	}()
	return s, nil
}

// bytesPerSecond is the track's audio rate in bytes per second, from the
// catalog's bitrate, else size over duration, else 128 kbit/s.
func bytesPerSecond(t proto.Track) float64 {
	switch {
	case t.Bitrate > 0:
		return float64(t.Bitrate) / 8
	case t.DurationS > 0 && t.Size > 0:
		return float64(t.Size) / t.DurationS
	}
	return 16000
}

// Track is the catalog entry of the stream's track.
func (s *Stream) Track() proto.Track { return s.track }

// ID is the track id.
func (s *Stream) ID() string { return s.track.ID }

func (s *Stream) pieceSize(i int) int64 {
	if i == s.numPieces-1 {
		return s.size - int64(i)*s.pieceLen
	}
	return s.pieceLen
}

// post hands the owner an event; it never blocks (anacrolix calls back with
// its lock held).
func (s *Stream) post(f func(*owner)) { s.inbox.post(f) }

// query runs f on the owner and waits for it; once the owner has stopped,
// f runs on the final state.
func (s *Stream) query(f func(*owner)) {
	ran := make(chan struct{})
	s.post(func(o *owner) { f(o); close(ran) })
	select {
	case <-ran:
	case <-s.done:
		select {
		case <-ran: // it ran as the owner stopped
		default:
			s.afterMu.Lock()
			f(s.o)
			s.afterMu.Unlock()
		}
	}
}

// setMode moves the stream up to m (idle < prefetch < playing).
func (s *Stream) setMode(m policy.Mode) {
	s.post(func(o *owner) {
		if m <= o.mode {
			return
		}
		o.mode = m
		if m == policy.Playing {
			o.playingSince = time.Now()
		}
		o.dirty = true
	})
}

// inUse reports whether the stream is open for playback or prefetch
// (not evictable).
func (s *Stream) inUse() bool {
	var busy bool
	s.query(func(o *owner) { busy = o.mode != policy.Idle })
	return busy
}

func (s *Stream) touch() {
	e := CacheEntry{Track: s.track, LastUsed: time.Now()}
	s.query(func(o *owner) {
		e.Complete = o.complete == s.numPieces
		e.BytesHave = o.bytesHave()
	})
	if err := writeMeta(s.c.cfg.CacheDir, e); err != nil {
		s.c.log.Warn("recording cache entry", "id", s.track.ID, "err", err)
	}
}

// saveMeta records completeness in the cache entry, keeping LastUsed.
func (s *Stream) saveMeta() error {
	e, err := readMeta(s.c.cfg.CacheDir, s.track.ID)
	if err != nil {
		e = CacheEntry{Track: s.track, LastUsed: time.Now()}
	}
	s.query(func(o *owner) {
		e.Complete = o.complete == s.numPieces
		e.BytesHave = o.bytesHave()
	})
	return writeMeta(s.c.cfg.CacheDir, e)
}

// Close stops fetching the track; it stays in the cache and is still shared
// until the Client closes or evicts it. Open readers fail.
func (s *Stream) Close() error {
	s.post(func(o *owner) {
		o.mode = policy.Idle
		o.dirty = true
	})
	s.readersMu.Lock()
	readers := make([]*Reader, 0, len(s.readers))
	for r := range s.readers {
		readers = append(readers, r)
	}
	s.readersMu.Unlock()
	for _, r := range readers {
		r.Close()
	}
	if s.c.log.Enabled(context.Background(), slog.LevelDebug) {
		st, ts := s.Stats(), s.t.Stats()
		s.c.log.Debug("stream closed", "track", s.track.ID, "complete", st.Complete, "duplicate", st.Duplicate,
			"bt_read_data", ts.BytesReadData.Int64(), "bt_read_useful", ts.BytesReadUsefulData.Int64(),
			"bt_chunks_wasted", ts.ChunksReadWasted.Int64(), "bt_written_data", ts.BytesWrittenData.Int64(),
			"peers", st.BytesPeers, "hash_failures", st.HashFailures)
	}
	return s.saveMeta()
}

// shutdown stops the stream's goroutines (Client close and eviction).
func (s *Stream) shutdown() {
	s.stopAnnounce()
	s.cancel()
	s.wg.Wait()
}

// Range is a byte range [Start, End) of a track.
type Range struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// Stats is a snapshot of a stream's accounting. The Bytes* counters count
// each completed piece once, for the one source that completed it, so they
// add up to the bytes complete (Size once the track is complete).
type Stats struct {
	Size               int64
	BytesSeedHead      int64             // from the seed server over HTTP, the head
	BytesSeedEmergency int64             // from the seed server over HTTP inside the lead, past the head
	BytesSeedFill      int64             // from the seed server over HTTP past the lead: pieces no listener held
	BytesSeedBT        int64             // from a seed server over BitTorrent (peer id -PS)
	BytesPeers         int64             // from other listeners
	BytesPeersWire     int64             // piece data other listeners sent, every copy (duplicates included)
	BytesCache         int64             // complete when the stream was added
	Duplicate          int64             // received but not needed: duplicates, failed pieces
	HashFailures       int               // injected pieces that failed verification
	PiecesFailedHash   int64             // pieces from BitTorrent peers that failed their hash
	BannedPeers        int               // peer addresses the client banned for bad data (all tracks)
	PeersSeen          int               // distinct peer ids that connected
	Conns              proto.Connections // connections with other listeners, by kind and transport
	PeersConnected     int               // connected now, seed servers included
	SeedersConnected   int               // connected seed servers over BitTorrent
	PiecesComplete     int
	Pieces             int
	Buffered           []Range       // complete byte ranges
	BufferedAhead      time.Duration // contiguous audio from the playhead
	Playhead           int64         // byte offset of the last read
	MaxSeedLead        time.Duration // furthest a seed piece (head and fill aside) completed ahead of the playhead
	Complete           bool
}

// Stats returns a snapshot of the stream's accounting.
func (s *Stream) Stats() Stats {
	var st Stats
	s.query(func(o *owner) { st = o.stats() })
	return st
}

// StatsWhenComplete waits until every piece of the track is accounted for,
// or ctx ends, and returns the stream's accounting then.
func (s *Stream) StatsWhenComplete(ctx context.Context) Stats {
	ready := make(chan Stats, 1)
	s.post(func(o *owner) { o.completeWaiters = append(o.completeWaiters, ready); o.answerWaiters() })
	select {
	case st := <-ready:
		return st
	case <-ctx.Done():
	case <-s.done:
	}
	return s.Stats()
}

// countIPs counts distinct addresses: anacrolix may ban one IPv4 address
// both plain and IPv4-mapped.
func countIPs(ips []string) int {
	seen := make(map[netip.Addr]struct{}, len(ips))
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip); err == nil {
			seen[a.Unmap()] = struct{}{}
		} else {
			seen[netip.Addr{}] = struct{}{}
		}
	}
	return len(seen)
}

// Err is the give-up error once the policy found no source for a needed
// piece (a *SourceError), else nil.
func (s *Stream) Err() error {
	if s.failCtx.Err() == nil {
		return nil
	}
	var se *SourceError
	if errors.As(context.Cause(s.failCtx), &se) {
		return se
	}
	return nil
}

// SourceError says that no source delivered a needed piece in time, and what
// was tried.
type SourceError struct {
	TrackID   string
	Piece     int
	Waited    time.Duration
	Tried     []string // seed URL attempts with their status or error
	PeersSeen int
	PeerHad   bool // a connected peer advertised the piece
}

func (e *SourceError) Error() string {
	tried := "no seed URL"
	if len(e.Tried) > 0 {
		tried = fmt.Sprintf("seed server: %s", joinLast(e.Tried, 3))
	}
	had := "no connected peer had the piece"
	if e.PeerHad {
		had = "a connected peer had the piece but did not send it"
	}
	return fmt.Sprintf("track %s: no source delivered piece %d for %s (%s; %d peers seen, %s)",
		e.TrackID, e.Piece, e.Waited.Round(time.Second), tried, e.PeersSeen, had)
}

func joinLast(xs []string, n int) string {
	if len(xs) > n {
		xs = xs[len(xs)-n:]
	}
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += "; "
		}
		out += x
	}
	return out
}

// AddPeers hands the torrent BitTorrent addresses ("host:port") to connect
// to, as a tracker would.
func (s *Stream) AddPeers(addrs ...string) error {
	peers := make([]torrent.PeerInfo, 0, len(addrs))
	for _, a := range addrs {
		ap, err := net.ResolveTCPAddr("tcp", a)
		if err != nil {
			return fmt.Errorf("peer address %q: %w", a, err)
		}
		peers = append(peers, torrent.PeerInfo{Addr: ap, Source: torrent.PeerSourceDirect})
	}
	s.t.AddPeers(peers)
	return nil
}

// Callbacks from anacrolix (its client lock held: post only).

// notePeerWire records piece data a listener sent, needed or not.
func (s *Stream) notePeerWire(n int) {
	s.post(func(o *owner) { o.peersWire += int64(n) })
}

// noteChunk records useful bytes received over BitTorrent.
func (s *Stream) noteChunk(piece int, n int64, seed bool) {
	s.post(func(o *owner) { o.chunk(piece, n, seed) })
}

// notePeerConn records a new connection; a seed server's is remembered for
// dialling it again.
func (s *Stream) notePeerConn(pc *torrent.PeerConn) {
	id := pc.PeerID
	seed := isSeedPeerID(id)
	var addr string
	var info torrent.PeerInfo
	if seed {
		addr, info = seedDialAddr(pc, 0)
	}
	kind := connKind(pc)
	if kind.Incoming > 0 && s.c.portMapped() {
		kind.UPnP = 1 // came through the router's mapping
	}
	s.post(func(o *owner) {
		o.peersSeen[id] = struct{}{}
		if !seed {
			o.conns.Outgoing += kind.Outgoing
			o.conns.Incoming += kind.Incoming
			o.conns.Holepunched += kind.Holepunched
			o.conns.UPnP += kind.UPnP
			o.conns.UTP += kind.UTP
			o.conns.TCP += kind.TCP
		}
		if addr != "" {
			o.seedAddrs[addr] = info
		}
		o.dirty = true
	})
}

// connKind is one connection's count: who dialled, and over what.
func connKind(pc *torrent.PeerConn) proto.Connections {
	var k proto.Connections
	kind, transport := btclient.ConnKind(pc)
	switch kind {
	case btclient.ConnIncoming:
		k.Incoming = 1
	case btclient.ConnHolepunched:
		k.Outgoing, k.Holepunched = 1, 1
	default:
		k.Outgoing = 1
	}
	if transport == "tcp" {
		k.TCP = 1
	} else {
		k.UTP = 1
	}
	return k
}

// noteSeedAddr remembers where a seed server listens (its extended
// handshake says).
func (s *Stream) noteSeedAddr(pc *torrent.PeerConn, listenPort int) {
	if addr, info := seedDialAddr(pc, listenPort); addr != "" {
		s.post(func(o *owner) { o.seedAddrs[addr] = info })
	}
}

func seedDialAddr(pc *torrent.PeerConn, listenPort int) (string, torrent.PeerInfo) {
	host, port, err := net.SplitHostPort(pc.RemoteAddr.String())
	if err != nil {
		return "", torrent.PeerInfo{}
	}
	var addr string
	switch {
	case listenPort > 0:
		addr = net.JoinHostPort(host, strconv.Itoa(listenPort))
	case pc.Discovery != torrent.PeerSourceIncoming:
		addr = net.JoinHostPort(host, port)
	default:
		return "", torrent.PeerInfo{} // an incoming connection's port is not where it listens
	}
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return "", torrent.PeerInfo{}
	}
	return addr, torrent.PeerInfo{Id: pc.PeerID, Addr: ap, Source: torrent.PeerSourceDirect, Trusted: true}
}

// forgetPieceBytes drops the BitTorrent bytes received for piece i once it
// failed its hash (they count as wasted): the bytes that complete it later
// are a fresh download, and only they decide whom the piece is credited to.
// Called from the storage when anacrolix marks the piece not complete.
func (s *Stream) forgetPieceBytes(i int) {
	s.post(func(o *owner) {
		if i < 0 || i >= s.numPieces {
			return
		}
		a := &o.acct[i]
		if a.source != srcNone {
			return
		}
		o.duplicate += a.fromSeedBT + a.fromPeers
		a.fromSeedBT, a.fromPeers = 0, 0
	})
}

// mailbox is the owner's queue of events: post never blocks.
type mailbox struct {
	mu   sync.Mutex
	q    []func(*owner)
	wake chan struct{}
}

func (m *mailbox) post(f func(*owner)) {
	m.mu.Lock()
	m.q = append(m.q, f)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mailbox) take() []func(*owner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.q
	m.q = nil
	return q
}
