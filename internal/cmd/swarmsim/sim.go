package main

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/peertune/peertune/client/policy"
)

// The model's constants, from the live code.
const (
	chunkLen     = 16 << 10         // anacrolix's request size
	fetchTimeout = 10 * time.Second // client/stream's bound on one HTTP fetch
	spareWindow  = 2 * time.Second  // client/seeder's spare-rate window
	retryAfter   = time.Second      // client/seeder's Retry-After on a refused fill
)

var (
	errSeedGone     = errors.New("connection refused: the seed server is gone")
	errFetchTimeout = errors.New("no answer in 10s")
	epoch           = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

type sim struct {
	cfg    Config
	decide func(policy.Snapshot) policy.Decision
	rng    *rand.Rand

	now, dt int64 // ns
	end     int64
	dtSec   float64

	bps        float64
	size       int64
	npieces    int
	cpp        int     // chunks per piece
	chunkSize  []int32 // by chunk index i*cpp+j; 0: no such chunk
	pieceSize  []int64
	zipfCDF    []float64
	tracks     []*track
	listeners  []*listener
	online     []*listener
	playing    []*stream
	nextArrive int64
	pending    []*listener // the warm-up's listeners, by start
	next       []*listener // their track ended in the last step
	staggerN   int         // listeners started so far in stagger mode

	seed seedSrv

	stamp uint64

	// scratch
	peers   []policy.Peer
	fetches []policy.Fetch
	flows   []seedFlow

	// accounting
	r             Report
	ttfas         []float64
	onlineSum     float64
	onlineSamples int
}

type track struct {
	id        int
	members   []*stream // online streams of it: playing or cached
	holders   []int32   // online members holding each piece
	covered   int       // pieces with holders > 0
	played    bool
	complete  bool  // the swarm held every piece once
	seedBytes int64 // the seed sent for it
	seedUntil int64 // seedBytes when complete became true
}

type listener struct {
	id         int
	online     bool
	onlineIdx  int
	startAt    int64
	sessionEnd int64 // ns
	upCap      float64
	downCap    float64
	streams    []*stream // every track it holds or plays, online
	cur        *stream   // playing
	assigned   int       // chunk requests it serves
	out        []outRef  // this tick's flows it sends
	jobDst     *stream   // the receiver of the chunk it is sending ...
	jobSrc     *stream   // ... from this stream of its
	jobLeft    float64   // bytes of that chunk left
	oneTrack   bool      // stagger: plays one track, then lingers
	played     int
}

type stream struct {
	seed    *seedSrv
	l       *listener
	tr      *track
	member  int // index in tr.members
	gone    bool
	playing bool // mode Playing; else cached (Idle)
	playIdx int

	have     policy.Bits
	nHave    int
	pieces   []policy.Piece
	prioN    int     // pieces with a priority
	chunkGot []int32 // bytes of each chunk
	chunkReq []bool  // a request for it is out
	btSeed   []int32 // bytes of each piece from the seed over BitTorrent
	reqs     []request
	nReqs    int
	assign   bool  // look for sources for wanted chunks
	assignAt int64 // and at least then
	conns    []*stream
	connAt   []int64 // when each connection is established (handshake, bitfield)
	connLast []int64 // when each connection last delivered a chunk
	connCnt  []int   // steal's scratch: requests out on each connection
	refillAt int64

	// playback
	began        int64
	firstAudio   int64 // -1 before
	ready        bool  // the policy let playback start (policy.Ready)
	pos          float64
	firstMiss    int // first incomplete piece from the playhead
	readWaiting  int64
	lastProgress int64
	underruns    int
	cached       bool // complete when it began

	// policy
	mem        policy.Memory
	fetchList  []*fetch
	results    []policy.Result
	spare      float64
	spareAt    int64
	nextDecide int64
	dirty      bool
	seedBTOpen bool

	// per-tick
	visit       uint64
	flowIdx     int        // its index in the cflows of the stream visiting
	cflows      []connFlow // this tick's flows from peers
	downLeft    float64    // this tick's download left for the seed server's flows
	seedPending float64    // bytes asked of the seed server over BitTorrent
	seedFlows   int        // the seed server's flows to it this tick
	seedAlloc   float64    // this tick's allocation from the seed over BitTorrent
}

type connFlow struct {
	src    *stream
	demand float64 // bytes of the receiver's requests out at src
	alloc  float64 // what src sends this tick
}

// outRef is a flow a listener sends: dst.cflows[k].
type outRef struct {
	dst *stream
	k   int
}

type request struct {
	chunk int32
	src   *stream // nil: the seed, over BitTorrent
	dead  bool
}

type fetch struct {
	policy.Fetch
	s         *stream
	started   int64
	startAt   int64
	responded bool
	done      bool
	off, end  int64 // the range's next byte and its end (exclusive)
}

type seedSrv struct {
	alive      bool
	diesAt     int64
	fetches    []*fetch
	sentRing   []float64 // bytes sent in each of the last ticks, fills aside
	ringPos    int
	sentWindow float64
	throttled  bool    // urgent flows wanted more than the cap last tick
	tokens     float64 // the upload limiter's bucket
	burst      float64
	btReqs     int // chunk requests to it over BitTorrent
}

type seedFlow struct {
	f      *fetch  // nil: BitTorrent to s
	s      *stream // the BitTorrent receiver
	urgent bool
	demand float64
	alloc  float64
}

func (s *sim) t(ns int64) time.Time { return epoch.Add(time.Duration(ns)) }

// Run runs the scenario.
func Run(cfg Config) Report {
	s := newSim(cfg)
	s.run()
	return s.report()
}

func newSim(cfg Config) *sim {
	s := &sim{cfg: cfg, decide: cfg.Decide}
	if s.decide == nil {
		s.decide = policy.Decide
	}
	s.rng = rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	s.dt = int64(cfg.Tick)
	s.dtSec = cfg.Tick.Seconds()
	s.bps = cfg.BitrateKbps * 1000 / 8
	s.size = int64(cfg.TrackSeconds * s.bps)
	pl := cfg.PieceLen
	s.npieces = int((s.size + pl - 1) / pl)
	s.cpp = int((pl + chunkLen - 1) / chunkLen)
	cl := min(int64(chunkLen), pl)
	s.pieceSize = make([]int64, s.npieces)
	s.chunkSize = make([]int32, s.npieces*s.cpp)
	for i := range s.npieces {
		ps := min(pl, s.size-int64(i)*pl)
		s.pieceSize[i] = ps
		for j := range s.cpp {
			s.chunkSize[i*s.cpp+j] = int32(max(min(cl, ps-int64(j)*cl), 0))
		}
	}
	w := 0.0
	for k := 1; k <= cfg.Tracks; k++ {
		w += 1 / math.Pow(float64(k), cfg.Zipf)
		s.zipfCDF = append(s.zipfCDF, w)
	}
	for k := range s.zipfCDF {
		s.zipfCDF[k] /= w
	}
	for i := range cfg.Tracks {
		s.tracks = append(s.tracks, &track{id: i, holders: make([]int32, s.npieces)})
	}
	s.seed.alive = true
	s.seed.diesAt = math.MaxInt64
	if cfg.SeedDiesAt >= 0 {
		s.seed.diesAt = int64(cfg.SeedDiesAt)
	}
	s.seed.burst = min(max(cfg.SeedCap/8, chunkLen), 256<<10) // btclient.NewUploadLimiter's
	s.seed.tokens = s.seed.burst
	s.seed.sentRing = make([]float64, max(int(spareWindow/cfg.Tick), 1))
	if cfg.Stagger > 0 {
		// Until every playback ended, at most until the last one had
		// time for the track twice over.
		s.end = int64(cfg.Stagger)*int64(cfg.Listeners-1) + 2*int64(cfg.TrackSeconds*1e9) + int64(time.Minute)
	} else {
		s.end = int64(cfg.Hours * float64(time.Hour))
		// The mean online from the start: that many listeners begin
		// their first track within the first track's length, and new
		// sessions arrive at the rate that keeps the mean.
		starts := make([]int64, cfg.Listeners)
		for k := range starts {
			starts[k] = int64(s.rng.Float64() * cfg.TrackSeconds * 1e9)
		}
		slices.Sort(starts)
		for _, at := range starts {
			l := s.addListener(at)
			s.pending = append(s.pending, l)
			if cfg.Warm {
				s.comeOnline(l, false)
				s.warmCache(l)
			}
		}
		s.nextArrive = s.arrivalGap()
	}
	return s
}

// arrivalGap is the time to the next session (Poisson, the rate that keeps
// cfg.Listeners online on average), or never.
func (s *sim) arrivalGap() int64 {
	if !s.cfg.Churn {
		return math.MaxInt64
	}
	rate := float64(s.cfg.Listeners) / s.cfg.SessionMean.Seconds()
	return int64(s.rng.ExpFloat64() / rate * 1e9)
}

func (s *sim) sessionLen() int64 {
	if !s.cfg.Churn {
		return math.MaxInt64 / 2
	}
	return int64(s.rng.ExpFloat64() * float64(s.cfg.SessionMean))
}

// addListener schedules a session starting at.
func (s *sim) addListener(at int64) *listener {
	l := &listener{
		id:        len(s.listeners),
		upCap:     s.cfg.UpX * s.bps,
		downCap:   s.cfg.DownX * s.bps,
		startAt:   at,
		onlineIdx: -1,
	}
	s.listeners = append(s.listeners, l)
	return l
}

func (s *sim) pickTrack() *track {
	u := s.rng.Float64()
	return s.tracks[min(sort.SearchFloat64s(s.zipfCDF, u), len(s.tracks)-1)]
}

func (s *sim) run() {
	for s.now = 0; s.now < s.end; s.now += s.dt {
		s.events()
		if s.cfg.Stagger > 0 && s.staggerN == s.cfg.Listeners && len(s.playing) == 0 {
			break
		}
		s.decisions()
		s.transfer()
		s.playback()
		if traceEvery > 0 && s.now%int64(traceEvery) == 0 {
			s.tracePeriodic()
		}
		n := len(s.online)
		s.onlineSum += float64(n)
		s.onlineSamples++
		s.r.OnlineMax = max(s.r.OnlineMax, n)
	}
	s.r.SimS = float64(min(s.now, s.end)) / 1e9
}

// events: sessions that begin and end, the seed's death.
func (s *sim) events() {
	for _, l := range s.next {
		if l.online {
			s.nextTrack(l)
		}
	}
	s.next = s.next[:0]
	if s.seed.alive && s.now >= s.seed.diesAt {
		s.seedDies()
	}
	if s.cfg.Stagger > 0 {
		for s.staggerN < s.cfg.Listeners && int64(s.staggerN)*int64(s.cfg.Stagger) <= s.now {
			l := s.addListener(s.now)
			l.oneTrack = true
			s.comeOnline(l, true)
			s.staggerN++
		}
	} else {
		for len(s.pending) > 0 && s.pending[0].startAt <= s.now {
			l := s.pending[0]
			s.pending = s.pending[1:]
			switch {
			case !l.online && l.onlineIdx == -1:
				s.comeOnline(l, true)
			case l.online && l.cur == nil:
				s.nextTrack(l)
			}
		}
		for s.nextArrive <= s.now {
			s.comeOnline(s.addListener(s.nextArrive), true)
			s.nextArrive += s.arrivalGap()
		}
	}
	for i := 0; i < len(s.online); i++ {
		l := s.online[i]
		if l.sessionEnd <= s.now {
			s.goOffline(l)
			i--
		}
	}
}

func (s *sim) comeOnline(l *listener, play bool) {
	l.online = true
	l.onlineIdx = len(s.online)
	s.online = append(s.online, l)
	l.sessionEnd = s.now + s.sessionLen()
	s.r.Sessions++
	if play {
		s.nextTrack(l)
	}
}

// warmCache gives a listener online from the start what it would have
// played so far in a session of the steady state: its age online is
// exponential too (sessions are), a track per track length, complete in
// its cache, counted nowhere.
func (s *sim) warmCache(l *listener) {
	age := s.rng.ExpFloat64() * s.cfg.SessionMean.Seconds()
	n := min(int(age/s.cfg.TrackSeconds), 200)
	for range n {
		tr := s.pickTrack()
		if slices.ContainsFunc(l.streams, func(x *stream) bool { return x.tr == tr }) {
			continue
		}
		st := s.newStream(l, tr)
		for i := range s.npieces {
			st.pieces[i].Complete = true
			st.have.Set(i)
			tr.holders[i]++
			if tr.holders[i] == 1 {
				tr.covered++
			}
		}
		st.nHave = s.npieces
		if tr.covered == s.npieces && !tr.complete {
			tr.complete = true
		}
		s.r.WarmCached++
	}
}

func (s *sim) goOffline(l *listener) {
	if l.cur != nil {
		s.r.Left++
		s.endPlayback(l.cur)
	}
	for len(l.streams) > 0 {
		s.dropStream(l.streams[len(l.streams)-1])
	}
	last := s.online[len(s.online)-1]
	s.online[l.onlineIdx] = last
	last.onlineIdx = l.onlineIdx
	s.online = s.online[:len(s.online)-1]
	l.online = false
	l.onlineIdx = -2 // never again
}

// nextTrack starts the listener's next playback, unless it plays one only.
func (s *sim) nextTrack(l *listener) {
	if l.oneTrack && l.played > 0 {
		if s.cfg.Linger >= 0 {
			l.sessionEnd = min(l.sessionEnd, s.now+int64(s.cfg.Linger))
		}
		return
	}
	l.played++
	tr := s.pickTrack()
	if !tr.played {
		tr.played = true
		s.r.TracksPlayed++
	}
	s.r.Playbacks++
	var st *stream
	for _, x := range l.streams {
		if x.tr == tr {
			st = x
		}
	}
	if st == nil {
		st = s.newStream(l, tr)
	}
	l.cur = st
	st.playing = true
	st.playIdx = len(s.playing)
	s.playing = append(s.playing, st)
	st.began = s.now
	st.firstAudio = -1
	st.pos, st.firstMiss = 0, 0
	st.readWaiting = s.now
	st.lastProgress = s.now
	st.underruns = 0
	st.mem = policy.Memory{}
	st.ready = false
	st.spare, st.spareAt = -1, 0
	st.dirty = true
	st.nextDecide = s.now
	st.cached = st.nHave == s.npieces
	if st.cached {
		st.firstAudio = s.now
		s.r.CacheHits++
		s.r.BytesCache += s.size
		return
	}
	s.connect(st)
}

func (s *sim) newStream(l *listener, tr *track) *stream {
	st := &stream{
		seed:     &s.seed,
		l:        l,
		tr:       tr,
		member:   len(tr.members),
		have:     policy.NewBits(s.npieces),
		pieces:   make([]policy.Piece, s.npieces),
		chunkGot: make([]int32, s.npieces*s.cpp),
		chunkReq: make([]bool, s.npieces*s.cpp),
		btSeed:   make([]int32, s.npieces),
	}
	tr.members = append(tr.members, st)
	l.streams = append(l.streams, st)
	return st
}

// connect gives a stream short of connections more, as the tracker and
// PEX would: random members of the track's swarm that have a free slot.
func (s *sim) connect(st *stream) {
	st.refillAt = s.now + int64(s.cfg.Refill)
	tr := st.tr
	need := s.cfg.MaxConns - len(st.conns)
	if need <= 0 || len(tr.members) <= 1 {
		return
	}
	for tries := 3 * need; tries > 0 && need > 0; tries-- {
		o := tr.members[s.rng.IntN(len(tr.members))]
		if o == st || len(o.conns) >= s.cfg.MaxConns || (o.nHave == s.npieces && st.nHave == s.npieces) ||
			slices.Contains(st.conns, o) {
			continue
		}
		at := s.now + int64(s.cfg.PeerSetup)
		st.conns, st.connAt, st.connLast = append(st.conns, o), append(st.connAt, at), append(st.connLast, -1)
		o.conns, o.connAt, o.connLast = append(o.conns, st), append(o.connAt, at), append(o.connLast, -1)
		need--
		st.assignAt = min(st.assignAt, at)
		if o.playing {
			o.assignAt = min(o.assignAt, at)
		}
	}
}

func (s *sim) disconnect(a, b *stream) {
	a.unlink(b)
	b.unlink(a)
	a.dropReqsFrom(b)
	b.dropReqsFrom(a)
}

func (st *stream) unlink(o *stream) {
	if i := slices.Index(st.conns, o); i >= 0 {
		last := len(st.conns) - 1
		st.conns[i], st.connAt[i], st.connLast[i] = st.conns[last], st.connAt[last], st.connLast[last]
		st.conns, st.connAt, st.connLast = st.conns[:last], st.connAt[:last], st.connLast[:last]
	}
}

func (st *stream) dropReqsFrom(src *stream) {
	for k := range st.reqs {
		r := &st.reqs[k]
		if !r.dead && r.src == src {
			st.killReq(r)
			st.assign = true
		}
	}
}

func (st *stream) killReq(r *request) {
	r.dead = true
	st.nReqs--
	st.chunkReq[r.chunk] = false
	// A chunk is one message: what a dropped request delivered is lost.
	st.chunkGot[r.chunk] = 0
	if r.src != nil {
		r.src.l.assigned--
	} else {
		st.seed.btReqs--
	}
}

// dropStream takes a stream out of its swarm: its listener left, or gave it
// up.
func (s *sim) dropStream(st *stream) {
	if st.gone {
		return
	}
	if st.playing {
		s.stopPlaying(st)
	}
	st.gone = true
	for len(st.conns) > 0 {
		s.disconnect(st, st.conns[len(st.conns)-1])
	}
	for k := range st.reqs {
		if !st.reqs[k].dead {
			st.killReq(&st.reqs[k])
		}
	}
	for _, f := range st.fetchList {
		f.done = true
	}
	st.fetchList = nil
	tr := st.tr
	last := tr.members[len(tr.members)-1]
	tr.members[st.member] = last
	last.member = st.member
	tr.members = tr.members[:len(tr.members)-1]
	for i := range s.npieces {
		if st.have.Has(i) {
			tr.holders[i]--
			if tr.holders[i] == 0 {
				tr.covered--
			}
		}
	}
	l := st.l
	if i := slices.Index(l.streams, st); i >= 0 {
		l.streams = slices.Delete(l.streams, i, i+1)
	}
}

// stopPlaying makes a playing stream a cached one: no fetch, no request.
func (s *sim) stopPlaying(st *stream) {
	st.playing = false
	last := s.playing[len(s.playing)-1]
	s.playing[st.playIdx] = last
	last.playIdx = st.playIdx
	s.playing = s.playing[:len(s.playing)-1]
	for _, f := range st.fetchList {
		f.done = true
	}
	st.fetchList = nil
	st.results = nil
	for k := range st.reqs {
		if !st.reqs[k].dead {
			st.killReq(&st.reqs[k])
		}
	}
	st.reqs = st.reqs[:0]
	for i := range st.pieces {
		st.pieces[i].Priority = policy.PriorityNone
	}
	st.prioN = 0
	st.seedBTOpen = false
	if st.l.cur == st {
		st.l.cur = nil
	}
}

// endPlayback records a playback that ended for any reason.
func (s *sim) endPlayback(st *stream) {
	if st.underruns > 0 {
		s.r.PlaybacksWithUnderrun++
		s.r.Underruns += st.underruns
	}
	if st.firstAudio >= 0 {
		s.ttfas = append(s.ttfas, float64(st.firstAudio-st.began)/1e6)
	}
}

func (s *sim) seedDies() {
	s.seed.alive = false
	for _, tr := range s.tracks {
		if tr.played {
			s.r.PiecesMissingAtSeedDeath += s.npieces - tr.covered
		}
	}
	s.r.SeedBytesAtDeath = s.r.SeedHTTPBytes + s.r.SeedBTBytes
	for _, f := range s.seed.fetches {
		if !f.done {
			s.endFetch(f, errSeedGone, 0)
		}
	}
	for _, st := range s.playing {
		for k := range st.reqs {
			if r := &st.reqs[k]; !r.dead && r.src == nil {
				st.killReq(r)
				st.assign = true
			}
		}
	}
}

// decisions: each playing stream that changed, or has not decided for
// DecideEvery, decides.
func (s *sim) decisions() {
	for i := 0; i < len(s.playing); i++ {
		st := s.playing[i]
		if st.nHave == s.npieces && len(st.fetchList) == 0 && st.prioN == 0 && len(st.results) == 0 {
			continue // the policy only cancels and clears: nothing left to do
		}
		if !st.dirty && s.now < st.nextDecide {
			continue
		}
		st.dirty = false
		st.nextDecide = s.now + int64(s.cfg.DecideEvery)
		s.decideOne(st)
		if !st.playing { // gave up
			i--
		}
	}
}

func (s *sim) decideOne(st *stream) {
	peers := s.peers[:0]
	for k, c := range st.conns {
		if st.connAt[k] <= s.now { // established: its bitfield is known
			peers = append(peers, policy.Peer{Have: c.have})
		}
	}
	seedBT := 0
	if s.seed.alive {
		peers = append(peers, policy.Peer{Seed: true})
		seedBT = 1
	}
	s.peers = peers
	fs := s.fetches[:0]
	for _, f := range st.fetchList {
		fs = append(fs, f.Fetch)
	}
	s.fetches = fs
	snap := policy.Snapshot{
		Now:            s.t(s.now),
		Mode:           policy.Playing,
		Size:           s.size,
		PieceLen:       s.cfg.PieceLen,
		BytesPerSecond: s.bps,
		Pieces:         st.pieces,
		Playhead:       int64(st.pos),
		LastProgress:   s.t(st.lastProgress),
		PlayingSince:   s.t(st.began),
		Peers:          peers,
		Fetches:        fs,
		Results:        st.results,
		Seed: policy.SeedServer{
			URLs:        1,
			Spare:       st.spare,
			SpareAt:     s.t(st.spareAt),
			BTConnected: seedBT,
			BTAddrs:     1,
		},
		Params: s.cfg.Params,
		Rand:   s.rng.Uint64(),
		Memory: st.mem,
	}
	if st.readWaiting >= 0 {
		snap.ReadWaiting = s.t(st.readWaiting)
	}
	d := s.decide(snap)
	s.r.Decisions++
	if traceListener >= 0 && st.l.id == traceListener {
		s.trace(st, d)
	}
	st.results = nil
	st.mem = d.Memory
	for _, a := range d.Actions {
		if !st.playing {
			return
		}
		s.carryOut(st, a)
	}
}

func (s *sim) carryOut(st *stream, a policy.Action) {
	switch a := a.(type) {
	case policy.SetPriority:
		p := &st.pieces[a.Piece]
		if p.Priority == a.Priority {
			return
		}
		// High and Normal both ask for the piece (High only orders it
		// first, as the lead's pieces come first in piece order here).
		switch was, wants := p.Priority != policy.PriorityNone, a.Priority != policy.PriorityNone; {
		case wants && !was:
			st.prioN++
			st.assign = true
		case was && !wants:
			st.prioN--
			st.cancelPiece(a.Piece, s.cpp)
		}
		p.Priority = a.Priority
	case policy.StartFetch:
		s.r.FetchesStarted++
		f := &fetch{
			Fetch: policy.Fetch{ID: s.r.FetchesStarted, Kind: a.Kind, First: a.First, Last: a.Last, Next: a.First, Started: s.t(s.now)},
			s:     st, started: s.now, startAt: s.now + int64(s.cfg.RTT),
			off: int64(a.First) * s.cfg.PieceLen, end: min(int64(a.Last+1)*s.cfg.PieceLen, s.size),
		}
		st.fetchList = append(st.fetchList, f)
		s.seed.fetches = append(s.seed.fetches, f)
	case policy.CancelFetch:
		for _, f := range st.fetchList {
			if f.ID == a.ID && !f.done {
				s.endFetch(f, a.Reason, 0)
			}
		}
	case policy.SetSeedBT:
		st.seedBTOpen = a.Open
		if a.Open {
			st.assign = true
		} else {
			for k := range st.reqs {
				if r := &st.reqs[k]; !r.dead && r.src == nil {
					st.killReq(r)
					st.assign = true
				}
			}
		}
	case policy.Ready:
		st.ready = true
		if st.firstAudio < 0 && st.pieces[0].Complete {
			st.firstAudio = s.now
		}
	case policy.RedialSeeds:
		// The seed server is connected while it lives; dead, dialling
		// finds no one.
	case policy.GiveUp:
		s.r.GaveUp++
		s.r.Stalled++
		s.endPlayback(st)
		l := st.l
		s.dropStream(st)
		s.nextTrack(l)
	}
}

func (st *stream) cancelPiece(i, cpp int) {
	for j := range cpp {
		c := int32(i*cpp + j)
		if !st.chunkReq[c] {
			continue
		}
		for k := range st.reqs {
			if r := &st.reqs[k]; !r.dead && r.chunk == c {
				st.killReq(r)
			}
		}
	}
}

// endFetch ends a fetch; its result is in the stream's next snapshot.
func (s *sim) endFetch(f *fetch, err error, retry time.Duration) {
	f.done = true
	st := f.s
	if i := slices.Index(st.fetchList, f); i >= 0 {
		st.fetchList = slices.Delete(st.fetchList, i, i+1)
	}
	if !st.playing {
		return
	}
	st.results = append(st.results, policy.Result{ID: f.ID, Kind: f.Kind, Err: err, RetryAfter: retry})
	st.dirty = true
	if errors.Is(err, policy.ErrNoSpare) {
		s.r.FillsRefused++
	}
}

// complete marks piece i of st complete, from src, at time at.
func (s *sim) complete(st *stream, i int, src policy.Kind, bt bool, at int64) {
	if st.pieces[i].Complete {
		return
	}
	p := &st.pieces[i]
	p.Complete, p.Partial = true, false
	st.cancelPiece(i, s.cpp)
	st.have.Set(i)
	st.nHave++
	st.dirty = true
	st.lastProgress = s.now
	n := s.pieceSize[i]
	s.r.CountedBytes += n
	switch {
	case src == policy.KindHead:
		s.r.BytesSeedHead += n
	case src == policy.KindEmergency:
		s.r.BytesSeedEmergency += n
	case src == policy.KindFill:
		s.r.BytesSeedFill += n
	case bt && int64(st.btSeed[i]) > n/2:
		s.r.BytesSeedBT += n
	default:
		s.r.PeerCountedBytes += n
	}
	if i == 0 && st.firstAudio < 0 && st.ready {
		st.firstAudio = at
	}
	tr := st.tr
	tr.holders[i]++
	if tr.holders[i] == 1 {
		tr.covered++
		if tr.covered == s.npieces && !tr.complete {
			tr.complete = true
			tr.seedUntil = tr.seedBytes
		}
	}
	for _, c := range st.conns {
		if c.playing && !c.assign && c.wantsUnrequested(i, s) {
			c.assign = true
		}
	}
	if st.nHave == s.npieces {
		// anacrolix drops connections between two that hold everything.
		for k := len(st.conns) - 1; k >= 0; k-- {
			if c := st.conns[k]; c.nHave == s.npieces {
				s.disconnect(st, c)
			}
		}
	}
}

// assignReqs is anacrolix's requesting: every missing chunk of a piece with
// a priority is requested from the least busy connected holder (the seed
// server too, over BitTorrent, while the policy has its side open), in
// piece order.
func (s *sim) assignReqs(st *stream) {
	st.assign = false
	st.assignAt = s.now + int64(s.cfg.DecideEvery)
	if st.prioN == 0 {
		return
	}
	seedOK := st.seedBTOpen && s.seed.alive
	unassigned := false
	for i := range st.pieces {
		p := &st.pieces[i]
		if p.Complete || p.Priority == policy.PriorityNone {
			continue
		}
		for j := range s.cpp {
			c := i*s.cpp + j
			if st.chunkReq[c] || s.chunkSize[c] == 0 || st.chunkGot[c] >= s.chunkSize[c] {
				continue
			}
			var best *stream
			bestLoad := math.MaxInt
			ties := 0
			for k, o := range st.conns {
				if st.connAt[k] > s.now || !o.have.Has(i) {
					continue
				}
				switch ld := o.l.assigned; {
				case ld < bestLoad:
					best, bestLoad, ties = o, ld, 1
				case ld == bestLoad:
					ties++
					if s.rng.IntN(ties) == 0 {
						best = o
					}
				}
			}
			if best == nil && !seedOK {
				unassigned = true
				break // no chunk of this piece has a source
			}
			if seedOK && (best == nil || s.seed.btReqs < bestLoad) {
				st.reqs = append(st.reqs, request{chunk: int32(c)})
				s.seed.btReqs++
			} else {
				st.reqs = append(st.reqs, request{chunk: int32(c), src: best})
				best.l.assigned++
			}
			st.chunkReq[c] = true
			st.nReqs++
		}
	}
	if !unassigned {
		st.assignAt = math.MaxInt64
	}
}

// steal is anacrolix's work stealing (applyRequestState in its
// requesting.go, which runs as a connection delivers): a connection that
// delivered a chunk in the last two steps takes a request that another
// connection to a holder of its piece has out when that leaves it with
// fewer requests than the other had, so that requests drain to whoever
// delivers. The most recent request goes first (served last by the other). Only requests whose
// bytes have not begun to arrive move: anacrolix also takes one that is
// already on the wire, whose chunk then arrives twice, which is not
// modelled (see Limits in doc.go).
func (s *sim) steal(st *stream) {
	s.stamp++
	cnt := st.connCnt[:0]
	for k, o := range st.conns {
		o.visit, o.flowIdx = s.stamp, k
		cnt = append(cnt, 0)
	}
	st.connCnt = cnt
	for k := range st.reqs {
		if r := &st.reqs[k]; !r.dead && r.src != nil && r.src.visit == s.stamp {
			cnt[r.src.flowIdx]++
		}
	}
	lately := s.now - 2*s.dt
	least := func() int { // of the connections that may steal
		m := math.MaxInt - 2
		for k := range st.conns {
			if st.connLast[k] >= lately {
				m = min(m, cnt[k])
			}
		}
		return m
	}
	low := least()
	if low == math.MaxInt-2 {
		return
	}
	for k := len(st.reqs) - 1; k >= 0; k-- {
		r := &st.reqs[k]
		if r.dead || r.src == nil || r.src.visit != s.stamp || st.chunkGot[r.chunk] > 0 {
			continue
		}
		from := r.src.flowIdx
		if cnt[from] < low+2 {
			continue
		}
		i := int(r.chunk) / s.cpp
		to := -1
		for k2, o := range st.conns {
			if st.connLast[k2] >= lately && cnt[k2] <= cnt[from]-2 && o.have.Has(i) && (to < 0 || cnt[k2] < cnt[to]) {
				to = k2
			}
		}
		if to < 0 {
			continue
		}
		r.src.l.assigned--
		r.src = st.conns[to]
		r.src.l.assigned++
		cnt[from]--
		cnt[to]++
		s.r.RequestsStolen++
		low = least()
	}
}

// transfer moves this tick's bytes: the seed server's (urgent HTTP and
// BitTorrent first, fills from what is left), then the listeners'.
func (s *sim) transfer() {
	for _, l := range s.online {
		l.out = l.out[:0]
	}
	// Requests out, and the connections that carry one.
	for _, st := range s.playing {
		if st.nHave < s.npieces && len(st.conns) < s.cfg.MaxConns && s.now >= st.refillAt {
			s.connect(st)
		}
		if st.assign || s.now >= st.assignAt {
			s.assignReqs(st)
		}
		if st.nReqs > 1 && len(st.conns) > 1 && s.cfg.Steal {
			s.steal(st)
		}
		if len(st.reqs) > 2*st.nReqs+8 {
			st.reqs = slices.DeleteFunc(st.reqs, func(r request) bool { return r.dead })
		}
	}
	// Responses to fetches.
	sd := &s.seed
	live := sd.fetches[:0]
	for _, f := range sd.fetches {
		if f.done {
			continue
		}
		if !f.responded && f.startAt <= s.now {
			s.respond(f)
		}
		if !f.done && s.now-f.started >= int64(fetchTimeout) {
			s.endFetch(f, errFetchTimeout, 0)
		}
		if !f.done {
			live = append(live, f)
		}
	}
	clear(sd.fetches[len(live):])
	sd.fetches = live

	// Each connection sends its requests in order (anacrolix serves a
	// peer's requests in the order they came); a listener sends whole
	// chunks one at a time (send); the receiver's download is shared
	// max-min fairly among its flows (TCP), the seed server's included.
	for _, f := range sd.fetches {
		if f.responded {
			f.s.seedFlows++
		}
	}
	for _, st := range s.playing {
		s.stamp++
		st.cflows = st.cflows[:0]
		seedPending := 0.0
		for k := range st.reqs {
			r := &st.reqs[k]
			if r.dead {
				continue
			}
			rem := float64(s.chunkSize[r.chunk] - st.chunkGot[r.chunk])
			if r.src == nil {
				seedPending += rem
				continue
			}
			if r.src.visit != s.stamp {
				r.src.visit = s.stamp
				r.src.flowIdx = len(st.cflows)
				st.cflows = append(st.cflows, connFlow{src: r.src})
			}
			st.cflows[r.src.flowIdx].demand += rem
		}
		if seedPending > 0 {
			st.seedFlows++
		}
		st.seedPending = seedPending
		for k := range st.cflows {
			l := st.cflows[k].src.l
			l.out = append(l.out, outRef{dst: st, k: k})
		}
	}
	for _, l := range s.online {
		s.send(l)
	}
	for _, st := range s.playing {
		st.downLeft = s.shareDown(st, st.l.downCap*s.dtSec)
	}

	flows := s.flows[:0]
	for _, f := range sd.fetches {
		if f.responded {
			flows = append(flows, seedFlow{f: f, urgent: f.Kind.Urgent(), demand: float64(f.end - f.off)})
		}
	}
	for _, st := range s.playing {
		if st.seedPending > 0 {
			flows = append(flows, seedFlow{s: st, urgent: true, demand: st.seedPending})
		}
	}
	s.flows = flows
	s.seedTick(flows)

	for _, st := range s.playing {
		st.seedFlows = 0
		if len(st.cflows) == 0 && st.seedAlloc <= 0 {
			continue
		}
		s.stamp++
		for k := range st.cflows {
			st.cflows[k].src.visit = s.stamp
			st.cflows[k].src.flowIdx = k
		}
		for k := range st.reqs {
			r := &st.reqs[k]
			if r.dead {
				continue
			}
			var avail *float64
			if r.src == nil {
				avail = &st.seedAlloc
			} else {
				avail = &st.cflows[r.src.flowIdx].alloc
			}
			if *avail <= 0 {
				continue
			}
			need := float64(s.chunkSize[r.chunk] - st.chunkGot[r.chunk])
			got := min(need, *avail)
			*avail -= got
			gi := int32(math.Ceil(got))
			st.chunkGot[r.chunk] += gi
			i := int(r.chunk) / s.cpp
			if r.src == nil {
				s.seedSent(float64(gi), st.tr, false)
				s.r.SeedBTBytes += int64(gi)
				st.btSeed[i] += gi
			} else {
				s.r.PeerWireBytes += int64(gi)
			}
			st.lastProgress = s.now
			if st.chunkGot[r.chunk] < s.chunkSize[r.chunk] {
				st.pieces[i].Partial = true
				continue
			}
			r.dead = true
			st.nReqs--
			st.chunkReq[r.chunk] = false
			if r.src != nil {
				r.src.l.assigned--
				if k := slices.Index(st.conns, r.src); k >= 0 {
					st.connLast[k] = s.now
				}
			} else {
				s.seed.btReqs--
			}
			if st.pieceGot(i, s) {
				s.complete(st, i, 0, true, s.now+s.dt)
			}
		}
		st.seedAlloc = 0
	}
}

// send shares a listener's upload of a tick between the flows it sends: a
// chunk at a time, at the whole of its cap, to a flow picked at random.
// anacrolix grants its upload limiter's tokens a chunk at a time to
// whichever connection asks once they are there (PeerConn.upload), so a
// chunk leaves at the cap while the others wait, rather than all at a
// share of it.
func (s *sim) send(l *listener) {
	budget := l.upCap * s.dtSec
	out := l.out
	for budget > 0 && len(out) > 0 {
		j := -1
		if l.jobDst != nil {
			for k, o := range out {
				if o.dst == l.jobDst && o.dst.cflows[o.k].src == l.jobSrc {
					j = k
					break
				}
			}
		}
		c := (*connFlow)(nil)
		if j < 0 {
			j = s.rng.IntN(len(out))
			c = &out[j].dst.cflows[out[j].k]
			l.jobDst, l.jobSrc, l.jobLeft = out[j].dst, c.src, min(chunkLen, c.demand-c.alloc)
		} else {
			c = &out[j].dst.cflows[out[j].k]
		}
		give := min(budget, l.jobLeft, c.demand-c.alloc)
		c.alloc += give
		budget -= give
		l.jobLeft -= give
		if c.demand-c.alloc <= 0 {
			out[j] = out[len(out)-1]
			out = out[:len(out)-1]
			l.jobDst = nil
		}
		if l.jobLeft <= 0 {
			l.jobDst = nil
		}
	}
	if len(out) == 0 {
		l.jobDst = nil
	}
}

// shareDown shares a receiver's download of a tick max-min fairly between
// its peers' flows (st.cflows, whose alloc is what the sender offers,
// lowered to the share) and the seed server's (st.seedFlows, taken to want
// all): it returns what the seed server's flows may take in all.
func (s *sim) shareDown(st *stream, down float64) float64 {
	n := len(st.cflows) + st.seedFlows
	if n == 0 {
		return 0
	}
	sum := 0.0
	for _, c := range st.cflows {
		sum += c.alloc
	}
	if sum+float64(st.seedFlows)*down <= down {
		return down - sum // only when no seed flow: nothing left to share
	}
	// The level L with sum(min(alloc, L)) + seedFlows*L = down.
	level := down / float64(n)
	for range 4 {
		fixed, nfree := 0.0, st.seedFlows
		for _, c := range st.cflows {
			if c.alloc <= level {
				fixed += c.alloc
			} else {
				nfree++
			}
		}
		if nfree == 0 {
			break
		}
		next := (down - fixed) / float64(nfree)
		if next <= level {
			break
		}
		level = next
	}
	used := 0.0
	for k := range st.cflows {
		c := &st.cflows[k]
		c.alloc = min(c.alloc, level)
		used += c.alloc
	}
	return max(down-used, 0)
}

// wantsUnrequested: piece i has a priority and a chunk no one is asked for.
func (st *stream) wantsUnrequested(i int, s *sim) bool {
	if p := st.pieces[i]; p.Complete || p.Priority == policy.PriorityNone {
		return false
	}
	for j := range s.cpp {
		c := i*s.cpp + j
		if !st.chunkReq[c] && s.chunkSize[c] > 0 && st.chunkGot[c] < s.chunkSize[c] {
			return true
		}
	}
	return false
}

func (st *stream) pieceGot(i int, s *sim) bool {
	for j := range s.cpp {
		c := i*s.cpp + j
		if st.chunkGot[c] < s.chunkSize[c] {
			return false
		}
	}
	return true
}

// seedSent counts n bytes the seed server sent for track tr. A fill's do
// not count against the spare, as in client/seeder's meter: fills take
// only what urgent flows leave.
func (s *sim) seedSent(n float64, tr *track, fill bool) {
	if !fill {
		s.seed.sentRing[s.seed.ringPos] += n
	}
	tr.seedBytes += int64(n)
}

// respond answers a fetch's request: refused while the seed server is
// gone, a fill refused without spare upload or while another listener's
// fill of the same piece is being sent (as client/seeder).
func (s *sim) respond(f *fetch) {
	f.responded = true
	st := f.s
	if !s.seed.alive {
		s.endFetch(f, errSeedGone, 0)
		return
	}
	spare := max(s.cfg.SeedCap-s.seed.sentWindow/spareWindow.Seconds(), 0)
	st.spare, st.spareAt = math.Floor(spare), s.now
	if !f.Kind.Urgent() {
		threshold := min(s.cfg.SeedCap, max(s.cfg.SeedCap/8, chunkLen))
		if s.seed.throttled || spare < threshold {
			s.endFetch(f, policy.ErrNoSpare, retryAfter)
			return
		}
		for _, o := range s.seed.fetches {
			if o != f && o.responded && !o.done && !o.Kind.Urgent() && o.s.tr == st.tr && o.First <= f.Last && f.First <= o.Last {
				s.endFetch(f, policy.ErrNoSpare, retryAfter)
				return
			}
		}
	}
}

// seedTick shares the seed server's cap for a tick: urgent HTTP and
// BitTorrent flows first, fairly, then fills from what is left.
func (s *sim) seedTick(flows []seedFlow) {
	sd := &s.seed
	// A token bucket, as the seeder's limiter: a tick's rate plus what
	// idle ticks saved, up to the burst.
	budget := min(sd.tokens+s.cfg.SeedCap*s.dtSec, sd.burst+s.cfg.SeedCap*s.dtSec)
	urgentDemand := 0.0
	for k := range flows {
		fl := &flows[k]
		dst := fl.s
		if fl.f != nil {
			dst = fl.f.s
		}
		fl.demand = min(fl.demand, dst.downLeft/float64(max(dst.seedFlows, 1)))
		if fl.urgent {
			urgentDemand += fl.demand
		}
	}
	sd.throttled = urgentDemand > budget
	left := waterFill(flows, true, budget)
	sd.tokens = waterFill(flows, false, left)
	if traceSeed {
		s.traceSeed(flows, budget)
	}
	for k := range flows {
		fl := &flows[k]
		if fl.f == nil {
			fl.s.seedAlloc = fl.alloc
			continue
		}
		s.fetchBytes(fl.f, fl.alloc)
	}
	// The spare window moves on.
	sd.sentWindow = 0
	for _, v := range sd.sentRing {
		sd.sentWindow += v
	}
	sd.ringPos = (sd.ringPos + 1) % len(sd.sentRing)
	sd.sentRing[sd.ringPos] = 0
}

// waterFill shares budget fairly among the flows of the class: each gets
// at most its demand, what one does not take goes to the others. It returns
// what is left.
func waterFill(flows []seedFlow, urgent bool, budget float64) float64 {
	var idx []int
	for k := range flows {
		if flows[k].urgent == urgent && flows[k].demand > 0 {
			idx = append(idx, k)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch da, db := flows[a].demand, flows[b].demand; {
		case da < db:
			return -1
		case da > db:
			return 1
		}
		return a - b
	})
	for n, k := range idx {
		share := budget / float64(len(idx)-n)
		a := min(flows[k].demand, share)
		flows[k].alloc = a
		budget -= a
	}
	return budget
}

// fetchBytes delivers n bytes of a fetch's range, piece by piece.
func (s *sim) fetchBytes(f *fetch, n float64) {
	if n <= 0 || f.done {
		return
	}
	st := f.s
	start := f.off
	f.off = min(f.end, f.off+int64(math.Ceil(n)))
	sent := f.off - start
	s.seedSent(float64(sent), st.tr, !f.Kind.Urgent())
	s.r.SeedHTTPBytes += sent
	st.lastProgress = s.now
	for f.Next <= f.Last {
		pend := min(int64(f.Next+1)*s.cfg.PieceLen, s.size)
		if f.off < pend {
			break
		}
		frac := float64(pend-start) / float64(max(sent, 1))
		at := s.now + int64(frac*float64(s.dt))
		s.complete(st, f.Next, f.Kind, false, at)
		f.Next++
		f.Arrived = s.t(at)
		st.dirty = true
	}
	if f.Next > f.Last {
		s.endFetch(f, nil, 0)
	}
}

// playback moves every playhead on by a tick of audio, through complete
// pieces.
func (s *sim) playback() {
	step := s.bps * s.dtSec
	for i := 0; i < len(s.playing); i++ {
		st := s.playing[i]
		for st.firstMiss < s.npieces && st.pieces[st.firstMiss].Complete {
			st.firstMiss++
		}
		if st.firstAudio < 0 {
			continue // waiting for the first piece
		}
		avail := float64(s.size)
		if st.firstMiss < s.npieces {
			avail = float64(int64(st.firstMiss) * s.cfg.PieceLen)
		}
		if st.pos < avail {
			st.readWaiting = -1
			st.pos = min(st.pos+step, avail)
		}
		if st.pos >= float64(s.size) {
			s.r.Finished++
			s.endPlayback(st)
			s.stopPlaying(st)
			i--
			// The track ended during this step: the next begins with
			// the next.
			s.next = append(s.next, st.l)
			continue
		}
		if st.pos >= avail && st.readWaiting < 0 {
			st.readWaiting = s.now
			st.underruns++
			st.dirty = true
		}
	}
}

func (s *sim) report() Report {
	r := s.r
	c := s.cfg
	r.Listeners, r.Tracks, r.Hours, r.Seed, r.Zipf = c.Listeners, c.Tracks, c.Hours, c.Seed, c.Zipf
	r.TrackS, r.BitrateKbps, r.PieceLen = c.TrackSeconds, c.BitrateKbps, c.PieceLen
	r.SessionMeanS, r.Churn, r.StaggerS = c.SessionMean.Seconds(), c.Churn, c.Stagger.Seconds()
	r.LingerS = -1
	if c.Linger >= 0 {
		r.LingerS = c.Linger.Seconds()
	}
	r.Warm = c.Warm && c.Stagger == 0
	r.Steal, r.PeerWindowS = c.Steal, c.Params.WithDefaults().PeerWindow.Seconds()
	r.ListenerUpX, r.ListenerDownX = c.UpX, c.DownX
	r.SeedCap, r.SeedCapBps, r.SeedDiesAt = c.SeedCapSpec, c.SeedCap, c.SeedDiesSpec
	r.SeedDiesAtS = -1
	if c.SeedDiesAt >= 0 {
		r.SeedDiesAtS = c.SeedDiesAt.Seconds()
	}
	r.RTTms, r.TickMs, r.DecideEveryMs = ms(c.RTT), ms(c.Tick), ms(c.DecideEvery)
	r.MaxConns = c.MaxConns
	r.PeerSetupMs = ms(c.PeerSetup)
	// Playbacks still on at the end: stuck ones stalled.
	giveUp := c.Params.WithDefaults().GiveUp
	for _, st := range s.playing {
		stuck := st.readWaiting >= 0 && s.now-st.readWaiting >= int64(giveUp)
		if stuck || c.Stagger > 0 {
			r.Stalled++
		} else {
			r.InProgress++
		}
		s.endPlayback(st)
	}
	r.Started = r.Playbacks
	r.SeedBytes = r.SeedHTTPBytes + r.SeedBTBytes
	if r.CountedBytes > 0 {
		r.SeedShare = round(float64(r.SeedBytes)/float64(r.CountedBytes), 5)
	}
	slices.Sort(s.ttfas)
	r.TTFAp50ms, r.TTFAp95ms = round(rank(s.ttfas, 50), 1), round(rank(s.ttfas, 95), 1)
	if len(s.ttfas) > 0 {
		r.TTFAmaxMs = round(s.ttfas[len(s.ttfas)-1], 1)
	}
	for _, tr := range s.tracks {
		if tr.complete {
			r.TracksSwarmComplete++
			r.SeedBytesUntilComplete += tr.seedUntil
		} else {
			r.SeedBytesUntilComplete += tr.seedBytes
		}
	}
	if s.onlineSamples > 0 {
		r.OnlineMean = round(s.onlineSum/float64(s.onlineSamples), 1)
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// rank is the nearest-rank percentile of sorted xs: the value at rank
// ceil(p/100*n), as bench-swarm's table.
func rank(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	k := int(math.Ceil(p / 100 * float64(len(xs))))
	return xs[min(max(k, 1), len(xs))-1]
}
