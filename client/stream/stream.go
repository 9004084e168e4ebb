package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/RoaringBitmap/roaring"
	"github.com/anacrolix/torrent"

	"github.com/peertune/peertune/client/announce"
	"github.com/peertune/peertune/proto"
)

type mode int32

const (
	modeIdle     mode = iota // cached: shared, nothing fetched
	modePrefetch             // fetched from peers, no HTTP
	modePlaying              // the full source policy
)

// source is where a completed piece came from.
type source uint8

const (
	srcNone source = iota
	srcCache
	srcSeedHead
	srcSeedEmergency
	srcSeedBT
	srcPeers
	numSources
)

func (s source) String() string {
	return [...]string{"none", "cache", "seed head", "seed emergency", "seed over BitTorrent", "peers"}[s]
}

type headState uint8

const (
	headNone headState = iota
	headRunning
	headDone
	headFailed
)

// pieceAcct is the byte accounting of one piece.
type pieceAcct struct {
	fromSeedBT, fromPeers, fromHTTP int64  // bytes received for the piece
	injecting                       source // an HTTP injection of this piece is in progress
	source                          source // who completed it; srcNone while incomplete
}

// Stream is one track in the client: cached, prefetching or playing. Its
// methods are safe for concurrent use.
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
	wg      sync.WaitGroup
	failCtx context.Context // cancelled with a *SourceError when the policy gives up
	fail    context.CancelCauseFunc
	wake    chan struct{}
	ann     *announce.Loop // the stream's tracker announcer

	mode      atomic.Int32
	playhead  atomic.Int64
	reading   atomic.Bool
	readStart atomic.Int64 // unix nanoseconds

	mu           sync.Mutex
	acct         []pieceAcct
	counts       [numSources]int64
	duplicate    int64
	hashFailures int
	complete     int
	peersSeen    map[torrent.PeerID]struct{}
	peersNow     int
	seedersNow   int
	seedAddrs    map[string]torrent.PeerInfo // BitTorrent addresses of seed servers
	lastProgress time.Time
	maxSeedLead  float64 // seconds of audio
	tried        []string
	httpBadUntil time.Time
	head         headState
	headEnd      int // head pieces are [0, headEnd)
	headCancel   context.CancelCauseFunc
	headStarted  time.Time
	playingSince time.Time
	fetchBusy    bool
	underSince   time.Time // when the policy began waiting for underPiece with the buffer low
	underPiece   int
	readers      map[*Reader]struct{}
	metaSaved    bool

	// Owned by the policy goroutine.
	prio       []torrent.PiecePriority
	lastRedial time.Time
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
		wake:      make(chan struct{}, 1),
		peersSeen: make(map[torrent.PeerID]struct{}),
		seedAddrs: make(map[string]torrent.PeerInfo),
		readers:   make(map[*Reader]struct{}),
	}
	s.acct = make([]pieceAcct, s.numPieces)
	s.prio = make([]torrent.PiecePriority, s.numPieces)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.failCtx, s.fail = context.WithCancelCause(s.ctx)
	s.lastProgress = time.Now()
	sub := t.SubscribePieceStateChanges()
	// Pieces complete before anything was fetched came from the cache.
	var cached []int
	for i := range s.numPieces {
		if t.Piece(i).State().Complete {
			cached = append(cached, i)
		}
	}
	s.mu.Lock()
	for _, i := range cached {
		s.attributeLocked(i, srcCache)
	}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer sub.Close()
		s.run(sub.Values)
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

func (s *Stream) getMode() mode { return mode(s.mode.Load()) }

func (s *Stream) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Stream) touch() {
	e := CacheEntry{Track: s.track, LastUsed: time.Now()}
	s.mu.Lock()
	e.Complete = s.complete == s.numPieces
	e.BytesHave = s.bytesHaveLocked()
	s.mu.Unlock()
	if err := writeMeta(s.c.cfg.CacheDir, e); err != nil {
		s.c.log.Warn("recording cache entry", "id", s.track.ID, "err", err)
	}
}

func (s *Stream) bytesHaveLocked() int64 {
	var n int64
	for i := range s.acct {
		if s.acct[i].source != srcNone {
			n += s.pieceSize(i)
		}
	}
	return n
}

// saveMeta records completeness in the cache entry, keeping LastUsed.
func (s *Stream) saveMeta() error {
	e, err := readMeta(s.c.cfg.CacheDir, s.track.ID)
	if err != nil {
		e = CacheEntry{Track: s.track, LastUsed: time.Now()}
	}
	s.mu.Lock()
	e.Complete = s.complete == s.numPieces
	e.BytesHave = s.bytesHaveLocked()
	s.mu.Unlock()
	return writeMeta(s.c.cfg.CacheDir, e)
}

func (s *Stream) pieceSize(i int) int64 {
	if i == s.numPieces-1 {
		return s.size - int64(i)*s.pieceLen
	}
	return s.pieceLen
}

func (s *Stream) pieceOf(off int64) int {
	if off >= s.size {
		return s.numPieces - 1
	}
	if off < 0 {
		return 0
	}
	return int(off / s.pieceLen)
}

// setMode moves the stream up to m (idle < prefetch < playing).
func (s *Stream) setMode(m mode) {
	for {
		old := s.getMode()
		if old >= m {
			return
		}
		if s.mode.CompareAndSwap(int32(old), int32(m)) {
			break
		}
	}
	if m == modePlaying {
		s.mu.Lock()
		s.playingSince = time.Now()
		s.mu.Unlock()
		s.startHead()
	}
	s.poke()
}

// Close stops fetching the track; it stays in the cache and is still shared
// until the Client closes or evicts it. Open readers fail.
func (s *Stream) Close() error {
	s.mode.Store(int32(modeIdle))
	s.mu.Lock()
	if s.headCancel != nil {
		s.headCancel(errors.New("stream closed"))
	}
	readers := make([]*Reader, 0, len(s.readers))
	for r := range s.readers {
		readers = append(readers, r)
	}
	s.mu.Unlock()
	for _, r := range readers {
		r.Close()
	}
	s.poke()
	return s.saveMeta()
}

// shutdown stops the stream's goroutines (Client close and eviction).
func (s *Stream) shutdown() {
	s.stopAnnounce()
	s.mode.Store(int32(modeIdle))
	s.cancel()
	s.wg.Wait()
}

// run is the stream's policy goroutine: it attributes completed pieces and,
// while the stream is fetching, applies the source policy every tick.
func (s *Stream) run(changes <-chan torrent.PieceStateChange) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// Cached tracks only seed: they need no ticks, only wake-ups.
		var tickC <-chan time.Time
		if s.getMode() != modeIdle {
			tickC = tick.C
		}
		select {
		case <-s.ctx.Done():
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			if ch.Complete {
				s.onPieceComplete(ch.Index)
			}
		case <-s.wake:
			s.tick()
		case <-tickC:
			s.tick()
		}
	}
}

// noteChunk records useful bytes received over BitTorrent. Called under
// anacrolix's client lock.
func (s *Stream) noteChunk(piece int, n int64, seed bool) {
	if piece < 0 || piece >= s.numPieces {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastProgress = time.Now()
	a := &s.acct[piece]
	if a.source != srcNone {
		s.duplicate += n
		return
	}
	if seed {
		a.fromSeedBT += n
	} else {
		a.fromPeers += n
	}
}

// notePeerConn runs under anacrolix's client lock when a connection is
// added; the policy decides on the next tick whether a seeder may stay.
func (s *Stream) notePeerConn(pc *torrent.PeerConn) {
	s.mu.Lock()
	s.peersSeen[pc.PeerID] = struct{}{}
	s.mu.Unlock()
	if isSeedPeerID(pc.PeerID) {
		s.noteSeedAddr(pc, 0)
		s.poke()
	}
}

// noteSeedAddr remembers a seed server's BitTorrent dial address so that the
// policy can connect to it again after dropping it.
func (s *Stream) noteSeedAddr(pc *torrent.PeerConn, listenPort int) {
	var addr string
	host, port, err := net.SplitHostPort(pc.RemoteAddr.String())
	if err != nil {
		return
	}
	switch {
	case listenPort > 0:
		addr = net.JoinHostPort(host, strconv.Itoa(listenPort))
	case pc.Discovery != torrent.PeerSourceIncoming:
		addr = net.JoinHostPort(host, port)
	default:
		return // an incoming connection's port is not where it listens
	}
	ap, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.seedAddrs[addr] = torrent.PeerInfo{Id: pc.PeerID, Addr: ap, Source: torrent.PeerSourceDirect, Trusted: true}
	s.mu.Unlock()
}

// forgetPieceBytes drops the BitTorrent bytes received for piece i once it
// failed its hash (they count as wasted): the bytes that complete it later
// are a fresh download, and only they decide whom the piece is credited to.
// Called from the storage when anacrolix marks the piece not complete,
// before the piece is requested again.
func (s *Stream) forgetPieceBytes(i int) {
	if i < 0 || i >= s.numPieces {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &s.acct[i]
	if a.source != srcNone {
		return
	}
	s.duplicate += a.fromSeedBT + a.fromPeers
	a.fromSeedBT, a.fromPeers = 0, 0
}

func (s *Stream) onPieceComplete(i int) {
	if i < 0 || i >= s.numPieces {
		return
	}
	s.mu.Lock()
	a := &s.acct[i]
	if a.source != srcNone || a.injecting != srcNone {
		// Already counted, or an HTTP injection will count it.
		s.mu.Unlock()
		return
	}
	src := srcCache // completed without bytes received: verified from disk
	switch {
	case a.fromSeedBT > a.fromPeers:
		src = srcSeedBT
	case a.fromPeers > 0:
		src = srcPeers
	}
	s.attributeLocked(i, src)
	s.mu.Unlock()
	s.poke()
}

// attributeLocked counts piece i as completed by src.
func (s *Stream) attributeLocked(i int, src source) {
	a := &s.acct[i]
	if a.source != srcNone {
		return
	}
	a.source = src
	n := s.pieceSize(i)
	s.counts[src] += n
	s.complete++
	s.lastProgress = time.Now()
	received := a.fromSeedBT + a.fromPeers + a.fromHTTP
	if src != srcCache {
		received -= n
	}
	if received > 0 {
		s.duplicate += received
	}
	if src == srcSeedBT || src == srcSeedEmergency || src == srcSeedHead {
		lead := (float64(int64(i)*s.pieceLen+n) - float64(s.playhead.Load())) / s.bps
		if src != srcSeedHead && lead > s.maxSeedLead {
			s.maxSeedLead = lead
		}
	}
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
	BytesSeedHead      int64 // from the seed server over HTTP, the head
	BytesSeedEmergency int64 // from the seed server over HTTP past the head
	BytesSeedBT        int64 // from a seed server over BitTorrent (peer id -PS)
	BytesSeedFill      int64 // from the seed server over HTTP past the lead: pieces no listener held
	BytesPeers         int64 // from other listeners
	BytesCache         int64 // complete when the stream was added
	Duplicate          int64 // received but not needed: duplicates, failed pieces
	HashFailures       int   // injected pieces that failed verification
	PiecesFailedHash   int64 // pieces from BitTorrent peers that failed their hash
	BannedPeers        int   // peer addresses the client banned for bad data (all tracks)
	PeersSeen          int   // distinct peer ids that connected
	PeersConnected     int   // connected now, seed servers included
	SeedersConnected   int   // connected seed servers over BitTorrent
	PiecesComplete     int
	Pieces             int
	Buffered           []Range       // complete byte ranges
	BufferedAhead      time.Duration // contiguous audio from the playhead
	Playhead           int64         // byte offset of the last read
	MaxSeedLead        time.Duration // furthest a seed piece (past the head) completed ahead of the playhead
	Complete           bool
}

// Stats returns a snapshot of the stream's accounting.
func (s *Stream) Stats() Stats {
	// Read anacrolix's counters before taking s.mu: onUsefulData takes
	// s.mu under anacrolix's lock.
	ts := s.t.Stats()
	bad := ts.PiecesDirtiedBad.Int64()
	banned := countIPs(s.c.cl.BadPeerIPs())
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		PiecesFailedHash:   bad,
		BannedPeers:        banned,
		Size:               s.size,
		BytesSeedHead:      s.counts[srcSeedHead],
		BytesSeedEmergency: s.counts[srcSeedEmergency],
		BytesSeedBT:        s.counts[srcSeedBT],
		BytesPeers:         s.counts[srcPeers],
		BytesCache:         s.counts[srcCache],
		Duplicate:          s.duplicate,
		HashFailures:       s.hashFailures,
		PeersSeen:          len(s.peersSeen),
		PeersConnected:     s.peersNow,
		SeedersConnected:   s.seedersNow,
		PiecesComplete:     s.complete,
		Pieces:             s.numPieces,
		Playhead:           s.playhead.Load(),
		MaxSeedLead:        time.Duration(s.maxSeedLead * float64(time.Second)),
		Complete:           s.complete == s.numPieces,
	}
	for i := 0; i < s.numPieces; {
		if s.acct[i].source == srcNone {
			i++
			continue
		}
		j := i
		for j < s.numPieces && s.acct[j].source != srcNone {
			j++
		}
		st.Buffered = append(st.Buffered, Range{int64(i) * s.pieceLen, min(int64(j)*s.pieceLen, s.size)})
		i = j
	}
	for _, r := range st.Buffered {
		if r.Start <= st.Playhead && st.Playhead < r.End {
			st.BufferedAhead = time.Duration(float64(r.End-st.Playhead) / s.bps * float64(time.Second))
		}
	}
	return st
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
	err := context.Cause(s.failCtx)
	var se *SourceError
	if errors.As(err, &se) {
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

func (s *Stream) noteTried(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tried) > 0 && s.tried[len(s.tried)-1] == msg {
		return
	}
	s.tried = append(s.tried, msg)
	if len(s.tried) > 20 {
		s.tried = s.tried[len(s.tried)-20:]
	}
}

// tick applies the source policy once.
func (s *Stream) tick() {
	m := s.getMode()
	if s.ctx.Err() != nil {
		return
	}
	if m == modeIdle {
		// Closed: stop fetching; what is here stays shared.
		for i, p := range s.prio {
			if p != torrent.PiecePriorityNone {
				s.t.Piece(i).SetPriority(torrent.PiecePriorityNone)
				s.prio[i] = torrent.PiecePriorityNone
			}
		}
		return
	}
	now := time.Now()
	pol := s.c.policy
	complete := make([]bool, s.numPieces)
	done := 0
	s.mu.Lock()
	for i := range s.acct {
		if s.acct[i].source != srcNone {
			complete[i] = true
			done++
		}
	}
	s.mu.Unlock()

	conns := s.t.PeerConns()
	var listenerHave roaring.Bitmap
	var seeders []*torrent.PeerConn
	var newSeen []torrent.PeerID
	for _, pc := range conns {
		newSeen = append(newSeen, pc.PeerID)
		if isSeedPeerID(pc.PeerID) {
			seeders = append(seeders, pc)
			continue
		}
		listenerHave.Or(pc.PeerPieces())
	}
	s.mu.Lock()
	for _, id := range newSeen {
		s.peersSeen[id] = struct{}{}
	}
	s.peersNow = len(conns)
	s.seedersNow = len(seeders)
	s.mu.Unlock()

	if done == s.numPieces {
		s.cancelHead(errors.New("peers delivered the head first"))
		if !s.metaSavedOnce() {
			if err := s.saveMeta(); err != nil {
				s.c.log.Warn("recording complete track", "id", s.track.ID, "err", err)
			}
		}
		return
	}

	play := s.playhead.Load()
	pp := s.pieceOf(play)
	firstMissing := -1
	for i := pp; i < s.numPieces; i++ {
		if !complete[i] {
			firstMissing = i
			break
		}
	}
	buffered := s.size - play
	if firstMissing >= 0 {
		buffered = int64(firstMissing)*s.pieceLen - play
	}
	bufSec := float64(max(buffered, 0)) / s.bps
	windowEnd := s.pieceOf(play + int64(pol.SeedLead.Seconds()*s.bps))

	s.mu.Lock()
	head := s.head
	headEnd := s.headEnd
	httpBad := now.Before(s.httpBadUntil)
	headStarted := s.headStarted
	fetchBusy := s.fetchBusy
	s.mu.Unlock()
	headRunning := head == headRunning

	// Peers delivered the rest of the head first: stop the HTTP request.
	if headRunning {
		all := true
		for i := 0; i < headEnd; i++ {
			if !complete[i] {
				all = false
				break
			}
		}
		if all {
			s.cancelHead(errors.New("peers delivered the head first"))
		} else if now.Sub(headStarted) > pol.HeadTimeout && !s.anyComplete(complete, 0, headEnd) {
			s.cancelHead(fmt.Errorf("no complete head piece within %s", pol.HeadTimeout))
		}
	}

	// The seed server over BitTorrent may stay connected only while some
	// piece within the seed lead is missing and no connected listener has it
	// (while the HTTP head runs, the head is the seed server's already).
	from := pp
	if headRunning && !httpBad {
		from = max(from, headEnd)
	}
	needSeed := false
	for i := from; i <= windowEnd; i++ {
		// complete lags anacrolix's own state by the attribution of the
		// last pieces: ask the torrent too, or a listener that got such a
		// piece from us looks like a source for it.
		if !complete[i] && !s.t.Piece(i).State().Complete && !listenerHave.Contains(uint32(i)) {
			needSeed = true
			break
		}
	}
	if m == modePlaying && httpBad && firstMissing >= 0 && bufSec < pol.EmergencyThreshold.Seconds() {
		needSeed = true // HTTP is down: the seed server's BitTorrent side is the emergency source
	}
	if needSeed {
		if len(seeders) == 0 {
			s.redialSeeders(now)
		}
	} else {
		for _, pc := range seeders {
			pc.Close()
		}
		seeders = nil
	}

	// Priorities: while playing, nothing further ahead than the seed lead
	// (listeners serve at a capped rate and in request order: a bulk
	// download queued at them delays the head and the next pieces of every
	// player that starts later); a prefetch takes everything a listener
	// has, as fast as they allow. While a seed server is connected nothing
	// past the lead is requested at all, since anacrolix cannot keep those
	// requests off the seeder.
	for i := range s.numPieces {
		want := torrent.PiecePriorityNone
		if !complete[i] {
			inWindow := i >= pp && i <= windowEnd
			if inWindow || (m != modePlaying && len(seeders) == 0 && listenerHave.Contains(uint32(i))) {
				want = torrent.PiecePriorityNormal
			}
		}
		if s.prio[i] != want {
			s.t.Piece(i).SetPriority(want)
			s.prio[i] = want
		}
	}

	if m != modePlaying || firstMissing < 0 {
		s.checkGiveUp(now, firstMissing, pp, &listenerHave)
		return
	}

	// Emergency: the buffer is low and peers have not delivered.
	httpOK := !httpBad && len(s.track.SeedURLs) > 0 && !headRunning
	if bufSec < pol.EmergencyThreshold.Seconds() {
		peerHas := listenerHave.Contains(uint32(firstMissing)) || len(seeders) > 0
		// Peers get the grace for each piece they hold from when the
		// policy began waiting for that piece, not from when the buffer
		// first ran low (it starts low: the head is about the threshold).
		s.mu.Lock()
		if s.underSince.IsZero() || s.underPiece != firstMissing || !peerHas || !httpOK {
			s.underSince = now
			s.underPiece = firstMissing
		}
		under := now.Sub(s.underSince)
		s.mu.Unlock()
		if httpOK && !fetchBusy && (!peerHas || under >= pol.EmergencyGrace) {
			last := s.pieceOf(play + int64(pol.EmergencyThreshold.Seconds()*s.bps))
			s.startFetch(firstMissing, s.contiguousMissing(complete, firstMissing, max(last, firstMissing)))
			fetchBusy = true
		}
	} else {
		s.mu.Lock()
		s.underSince = time.Time{}
		s.mu.Unlock()
	}
	// No peer at all: the seed server serves the track over HTTP, paced to
	// the seed lead (refilled once two thirds of it are left).
	// Peers found by the tracker take a moment to connect: wait HeadTimeout
	// after the start, and fetch in steps of Readahead so that peers that
	// appear take over.
	s.mu.Lock()
	playingFor := now.Sub(s.playingSince)
	s.mu.Unlock()
	if httpOK && !fetchBusy && len(conns) == 0 && bufSec < pol.SeedLead.Seconds()*2/3 && playingFor >= pol.HeadTimeout {
		step := s.pieceOf(int64(firstMissing)*s.pieceLen + int64(pol.Readahead.Seconds()*s.bps))
		s.startFetch(firstMissing, s.contiguousMissing(complete, firstMissing, min(windowEnd, step)))
	}
	s.checkGiveUp(now, firstMissing, pp, &listenerHave)
}

func (s *Stream) metaSavedOnce() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metaSaved {
		return true
	}
	s.metaSaved = true
	return false
}

func (s *Stream) anyComplete(complete []bool, from, to int) bool {
	for i := from; i < to; i++ {
		if complete[i] {
			return true
		}
	}
	return false
}

// contiguousMissing is the last index of the run of missing pieces from
// first, no further than last.
func (s *Stream) contiguousMissing(complete []bool, first, last int) int {
	end := first
	for end+1 <= last && end+1 < s.numPieces && !complete[end+1] {
		end++
	}
	return end
}

func (s *Stream) redialSeeders(now time.Time) {
	if now.Sub(s.lastRedial) < time.Second {
		return
	}
	s.mu.Lock()
	peers := make([]torrent.PeerInfo, 0, len(s.seedAddrs))
	for _, p := range s.seedAddrs {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	s.lastRedial = now
	s.t.AddPeers(peers)
}

// checkGiveUp fails the stream's readers when a reader has waited for the
// piece at the playhead with no progress from any source for GiveUp.
func (s *Stream) checkGiveUp(now time.Time, firstMissing, pp int, listenerHave *roaring.Bitmap) {
	if !s.reading.Load() || firstMissing != pp || s.failCtx.Err() != nil {
		return
	}
	since := time.Unix(0, s.readStart.Load())
	s.mu.Lock()
	if s.lastProgress.After(since) {
		since = s.lastProgress
	}
	s.mu.Unlock()
	waited := now.Sub(since)
	if waited < s.c.policy.GiveUp {
		return
	}
	s.mu.Lock()
	err := &SourceError{
		TrackID:   s.track.ID,
		Piece:     pp,
		Waited:    waited,
		Tried:     append([]string(nil), s.tried...),
		PeersSeen: len(s.peersSeen),
		PeerHad:   listenerHave.Contains(uint32(pp)),
	}
	s.mu.Unlock()
	s.c.log.Warn("giving up on track", "err", err)
	s.fail(err)
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
