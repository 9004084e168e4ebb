package policy

import (
	"errors"
	"math/rand/v2"
	"time"
)

// Mode is what a stream is for.
type Mode uint8

const (
	Idle     Mode = iota // cached: shared, nothing fetched
	Prefetch             // fetched from peers only, before it plays
	Playing              // the whole policy
)

// Priority is a piece's priority in the BitTorrent client, which requests
// the pieces that have one from whichever connected peer holds them.
type Priority uint8

const (
	PriorityNone   Priority = iota // not requested
	PriorityNormal                 // requested from peers that hold it
	PriorityHigh                   // requested before the Normal ones
)

// Kind is the kind of a fetch from the seed server over HTTP.
type Kind uint8

const (
	KindHead      Kind = iota + 1 // the first seconds, at the start
	KindEmergency                 // inside the lead: the buffer is low, or no listener holds it
	KindFill                      // beyond the lead: no connected listener holds it
)

// Urgent reports whether the seed server should serve fetches of this kind
// before others: their bytes are about to play.
func (k Kind) Urgent() bool { return k != KindFill }

func (k Kind) String() string {
	switch k {
	case KindHead:
		return "head"
	case KindEmergency:
		return "emergency"
	case KindFill:
		return "fill"
	}
	return "none"
}

// Why a fetch ended early. The stream reports them in Result.Err (wrapped or
// not) and the policy gives them to CancelFetch.
var (
	ErrPeersDelivered = errors.New("peers delivered the pieces first")
	ErrSeedSlow       = errors.New("the seed server sent no head piece in time")
	ErrNoSpare        = errors.New("the seed server has no upload to spare")
	ErrNotNeeded      = errors.New("the stream no longer fetches")
	ErrUrgent         = errors.New("a piece of the fill is about to play: fetched as urgent instead")
)

// Piece is one piece as the BitTorrent client reports it.
type Piece struct {
	Complete bool
	Checking bool     // all its bytes are here and being verified: it completes shortly, or fails
	Partial  bool     // some of its chunks are here: a peer is sending it
	Priority Priority // as last set
}

// Peer is one connected peer.
type Peer struct {
	Seed bool // a seed server (its peer id says so), not a listener
	Have Bits // the pieces it holds
}

// Fetch is one HTTP fetch from the seed server in flight.
type Fetch struct {
	ID          int
	Kind        Kind
	First, Last int       // pieces [First, Last], in order
	Next        int       // the next piece to arrive; Last+1 when all have
	Started     time.Time // when the request went out
	Arrived     time.Time // when its last piece arrived; zero before the first
}

// Result is how a fetch ended; each is reported once, in the snapshot after
// it ended.
type Result struct {
	ID         int
	Kind       Kind
	Err        error         // nil: every piece arrived; ErrNoSpare: refused; a CancelFetch reason; else it failed
	RetryAfter time.Duration // with ErrNoSpare: what the seed server asked for
}

// SeedServer is what the stream knows of the track's seed server.
type SeedServer struct {
	URLs        int       // seed URLs in the catalog
	Spare       float64   // upload it said it can spare, bytes per second; negative: it did not say
	SpareAt     time.Time // when it said so
	BTConnected int       // connections to it over BitTorrent
	BTAddrs     int       // its BitTorrent addresses known, for dialling it again
}

// Params are the policy's timings. Zero fields take the defaults in
// DefaultParams.
type Params struct {
	Head               time.Duration // audio fetched from the seed server first
	EmergencyThreshold time.Duration // buffered audio under which the seed server is asked
	EmergencyGrace     time.Duration // how long peers that hold a needed piece get to deliver it first
	SeedLead           time.Duration // pieces that listeners hold never come from the seed further ahead than this
	PeerLead           time.Duration // while playing, peers are asked for pieces this far ahead of the playhead
	PeerWindow         time.Duration // and, while the buffer holds WindowBuffer, for pieces WindowHolders connected listeners hold this far ahead
	WindowBuffer       time.Duration
	WindowHolders      int
	LeadStep           time.Duration // audio per fetch of pieces inside the lead that no listener holds, while no listener is connected
	HeadTimeout        time.Duration // no head piece in this time: the seed server is slow
	GiveUp             time.Duration // no source for the piece a read waits on this long: give up
	GiveUpHeld         time.Duration // the same when a connected listener holds the piece (it may be choking us)
	Prebuffer          time.Duration // audio buffered before playback starts when the seed server's HTTP side has not delivered
	SeedBTHold         time.Duration // the seed server's BitTorrent side stays open at least this long
	Redial             time.Duration // least time between dials of the seed server's BitTorrent side
}

// DefaultParams are the timings a player uses.
var DefaultParams = Params{
	Head:               3 * time.Second,
	EmergencyThreshold: 3 * time.Second,
	EmergencyGrace:     500 * time.Millisecond,
	SeedLead:           15 * time.Second,
	PeerLead:           15 * time.Second,
	PeerWindow:         60 * time.Second,
	WindowBuffer:       10 * time.Second,
	WindowHolders:      3,
	LeadStep:           5 * time.Second,
	HeadTimeout:        2 * time.Second,
	GiveUp:             10 * time.Second,
	// Real clients unchoke on a 10 s cycle and optimistically every 30 s.
	GiveUpHeld: 40 * time.Second,
	Prebuffer:  5 * time.Second,
	SeedBTHold: 10 * time.Second,
	Redial:     2 * time.Second,
}

// WithDefaults fills the zero fields from DefaultParams.
func (p Params) WithDefaults() Params {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	d := DefaultParams
	def(&p.Head, d.Head)
	def(&p.EmergencyThreshold, d.EmergencyThreshold)
	def(&p.EmergencyGrace, d.EmergencyGrace)
	def(&p.SeedLead, d.SeedLead)
	def(&p.PeerLead, d.PeerLead)
	def(&p.PeerWindow, d.PeerWindow)
	def(&p.WindowBuffer, d.WindowBuffer)
	if p.WindowHolders <= 0 {
		p.WindowHolders = d.WindowHolders
	}
	def(&p.LeadStep, d.LeadStep)
	def(&p.HeadTimeout, d.HeadTimeout)
	def(&p.GiveUp, d.GiveUp)
	def(&p.GiveUpHeld, d.GiveUpHeld)
	def(&p.Prebuffer, d.Prebuffer)
	def(&p.SeedBTHold, d.SeedBTHold)
	def(&p.Redial, d.Redial)
	return p
}

// Memory is what the policy remembers between decisions. The stream keeps
// it, untouched, from one Decision to the next Snapshot.
type Memory struct {
	HeadStarted    bool
	HTTPBadUntil   time.Time // the seed server's HTTP side failed: not asked before this
	FillRetryAt    time.Time // no fill before this
	WaitPiece      int       // the piece peers were given the grace for ...
	WaitSince      time.Time // ... since then
	SeedBTOpen     bool      // the seed server's BitTorrent side is a source
	SeedBTOpenedAt time.Time
	LastRedial     time.Time
	GaveUp         bool
	HTTPFailed     bool // the seed server's HTTP side failed last time it was asked
	Ready          bool // playback may start (Ready was given)
}

// Snapshot is everything a decision looks at.
type Snapshot struct {
	Now            time.Time
	Mode           Mode
	Size           int64 // bytes of the track
	PieceLen       int64
	BytesPerSecond float64 // of the audio
	Pieces         []Piece
	Playhead       int64     // byte offset of the last read
	ReadWaiting    time.Time // a read has waited for bytes since then; zero when none waits
	LastProgress   time.Time // when a byte last arrived from any source
	PlayingSince   time.Time // when the mode became Playing
	Peers          []Peer    // connected now
	Fetches        []Fetch   // in flight
	Results        []Result  // fetches that ended since the last decision
	Seed           SeedServer
	Params         Params
	Rand           uint64 // seeds the decision's random choices
	Memory         Memory
}

// Action is one thing the stream is to do.
type Action interface{ isAction() }

// StartFetch fetches pieces [First, Last] from the seed server over HTTP
// (one Range request), each piece put into the torrent as it arrives.
type StartFetch struct {
	Kind        Kind
	First, Last int
	// Unheld: an emergency (the buffer is low) whose first piece no
	// connected listener holds nor is sending: only the seed server can
	// send it, and it serves such requests before other emergencies. Not
	// the steps of the lead fetched ahead: they are not about to play,
	// and first on a saturated seed server they starved the listeners
	// behind the first (bench-internet's public run: 1402 s of underrun
	// with them marked, 723 s without).
	Unheld bool
	// Due is how soon the first piece is to play (0 when it is playing):
	// the seed server serves the soonest due of a class first.
	Due time.Duration
}

// CancelFetch stops a fetch in flight; its Result carries Reason.
type CancelFetch struct {
	ID     int
	Reason error
}

// SetPriority sets a piece's priority in the BitTorrent client.
type SetPriority struct {
	Piece    int
	Priority Priority
}

// SetSeedBT opens the seed server's BitTorrent side as a source, or closes
// it (its connections stay; only what is asked of them changes).
type SetSeedBT struct{ Open bool }

// RedialSeeds dials the seed server's BitTorrent addresses again.
type RedialSeeds struct{}

// Ready lets playback start: reads wait for it. Given once per stream.
type Ready struct{}

// GiveUp fails the waiting reads: no source delivered Piece for Waited.
type GiveUp struct {
	Piece   int
	Waited  time.Duration
	PeerHad bool // a connected listener held the piece
}

func (StartFetch) isAction()  {}
func (CancelFetch) isAction() {}
func (SetPriority) isAction() {}
func (SetSeedBT) isAction()   {}
func (RedialSeeds) isAction() {}
func (GiveUp) isAction()      {}
func (Ready) isAction()       {}

// Decision is what Decide returns: the actions, in order, and the memory
// for the next snapshot.
type Decision struct {
	Actions []Action
	Memory  Memory
}

// Decide is the source policy.
func Decide(s Snapshot) Decision {
	d := decider{Snapshot: s, p: s.Params.WithDefaults(), m: s.Memory}
	d.run()
	return Decision{Actions: d.acts, Memory: d.m}
}

type decider struct {
	Snapshot
	p    Params
	m    Memory
	acts []Action

	avail        []int         // connected listeners holding each piece
	fillOf       map[int]Fetch // the fill fetch that brings a piece
	seeds        int           // connected seed servers
	inFlight     []bool        // a fetch of ours will deliver it
	urgentBusy   bool
	fillBusy     bool
	pp           int // the playhead's piece
	firstMissing int // first missing piece from the playhead; -1 when none
	leadEnd      int // last piece inside the lead
	peerLeadEnd  int // last piece asked of peers while playing, in order
	windowEnd    int // last piece of the window beyond it; peerLeadEnd when closed
	bufSec       float64
}

func (d *decider) act(a Action) { d.acts = append(d.acts, a) }

func (d *decider) run() {
	d.learn()
	n := len(d.Pieces)
	if n == 0 {
		return
	}
	if d.Mode == Idle || d.allComplete(0, n-1) {
		if d.Mode == Playing && !d.m.Ready {
			d.m.Ready = true
			d.act(Ready{})
		}
		reason := ErrNotNeeded
		if d.Mode != Idle {
			reason = ErrPeersDelivered
		}
		for _, f := range d.Fetches {
			d.act(CancelFetch{ID: f.ID, Reason: reason})
		}
		d.setPriorities(func(int) Priority { return PriorityNone })
		return
	}
	d.measure()
	d.ready()
	d.cancelStale()
	d.seedBT()
	if d.Mode == Playing {
		d.head()
	}
	d.priorities()
	if d.Mode == Playing {
		d.urgent()
		d.fill()
	}
	d.giveUp()
}

// learn takes in how the fetches that ended went.
func (d *decider) learn() {
	for _, f := range d.Fetches {
		if !f.Arrived.IsZero() {
			d.m.HTTPFailed = false
		}
	}
	for _, r := range d.Results {
		if r.Err == nil {
			d.m.HTTPFailed = false
		}
		switch {
		case r.Err == nil, errors.Is(r.Err, ErrPeersDelivered), errors.Is(r.Err, ErrNotNeeded), errors.Is(r.Err, ErrUrgent):
		case errors.Is(r.Err, ErrNoSpare):
			d.m.FillRetryAt = d.Now.Add(max(r.RetryAfter, time.Second) + d.jitter(time.Second))
		case r.Kind == KindFill:
			// A failed fill says little about urgent requests; try
			// fills again later.
			d.m.FillRetryAt = d.Now.Add(d.p.HeadTimeout + d.jitter(time.Second))
		case r.Kind == KindHead:
			d.markHTTPBad(5 * d.p.HeadTimeout)
		default:
			d.markHTTPBad(d.p.HeadTimeout)
		}
	}
}

func (d *decider) markHTTPBad(for_ time.Duration) {
	d.m.HTTPFailed = true
	if until := d.Now.Add(for_); until.After(d.m.HTTPBadUntil) {
		d.m.HTTPBadUntil = until
	}
}

func (d *decider) httpOK() bool { return d.Seed.URLs > 0 && !d.Now.Before(d.m.HTTPBadUntil) }

// jitter is a random duration in [0, max): players that were refused at the
// same moment do not all ask again at the same moment.
func (d *decider) jitter(max time.Duration) time.Duration {
	r := rand.New(rand.NewPCG(d.Rand, 0x6a09e667))
	return time.Duration(r.Int64N(int64(max)))
}

func (d *decider) measure() {
	n := len(d.Pieces)
	d.avail = make([]int, n)
	full := 0 // listeners that hold every piece: counted once
	for _, p := range d.Peers {
		switch {
		case p.Seed:
			d.seeds++
		case p.Have.hasAll(n):
			full++
		default:
			p.Have.addTo(d.avail)
		}
	}
	if full > 0 {
		for i := range d.avail {
			d.avail[i] += full
		}
	}
	d.inFlight = make([]bool, n)
	for i, p := range d.Pieces {
		d.inFlight[i] = p.Checking && !p.Complete
	}
	d.fillOf = map[int]Fetch{}
	for _, f := range d.Fetches {
		for i := max(f.Next, 0); i <= f.Last && i < n; i++ {
			d.inFlight[i] = true
			if f.Kind == KindFill {
				d.fillOf[i] = f
			}
		}
	}
	d.pp = d.pieceOf(d.Playhead)
	d.firstMissing = -1
	for i := d.pp; i < n; i++ {
		if !d.Pieces[i].Complete {
			d.firstMissing = i
			break
		}
	}
	buffered := d.Size - d.Playhead
	if d.firstMissing >= 0 {
		buffered = int64(d.firstMissing)*d.PieceLen - d.Playhead
	}
	d.bufSec = float64(max(buffered, 0)) / d.BytesPerSecond
	d.leadEnd = d.pieceOf(d.Playhead + d.audioBytes(d.p.SeedLead))
	d.peerLeadEnd = max(d.leadEnd, d.pieceOf(d.Playhead+d.audioBytes(d.p.PeerLead)))
	d.windowEnd = d.peerLeadEnd
	if d.bufSec >= d.p.WindowBuffer.Seconds() {
		d.windowEnd = max(d.peerLeadEnd, d.pieceOf(d.Playhead+d.audioBytes(d.p.PeerWindow)))
	}
}

func (d *decider) audioBytes(t time.Duration) int64 { return int64(t.Seconds() * d.BytesPerSecond) }

func (d *decider) pieceOf(off int64) int {
	n := len(d.Pieces)
	switch {
	case off < 0:
		return 0
	case off >= d.Size:
		return n - 1
	}
	return min(int(off/d.PieceLen), n-1)
}

func (d *decider) allComplete(from, to int) bool {
	for i := max(from, 0); i <= to && i < len(d.Pieces); i++ {
		if !d.Pieces[i].Complete {
			return false
		}
	}
	return true
}

// cancelStale cancels fetches that peers overtook, and a head that the seed
// server is too slow to start.
func (d *decider) cancelStale() {
	for _, f := range d.Fetches {
		switch {
		case f.Next <= f.Last && d.allComplete(f.Next, f.Last):
			d.act(CancelFetch{ID: f.ID, Reason: ErrPeersDelivered})
			d.clearInFlight(f)
			continue
		case f.Kind == KindHead && f.Arrived.IsZero() && d.Now.Sub(f.Started) > d.p.HeadTimeout &&
			!d.anyComplete(f.First, f.Last):
			d.act(CancelFetch{ID: f.ID, Reason: ErrSeedSlow})
			d.markHTTPBad(5 * d.p.HeadTimeout)
			d.clearInFlight(f)
			continue
		}
		if f.Kind.Urgent() {
			d.urgentBusy = true
		} else {
			d.fillBusy = true
		}
	}
}

func (d *decider) clearInFlight(f Fetch) {
	for i := max(f.Next, 0); i <= f.Last && i < len(d.inFlight); i++ {
		d.inFlight[i] = d.Pieces[i].Checking && !d.Pieces[i].Complete
	}
}

func (d *decider) anyComplete(from, to int) bool {
	for i := max(from, 0); i <= to && i < len(d.Pieces); i++ {
		if d.Pieces[i].Complete {
			return true
		}
	}
	return false
}

// seedBT opens the seed server's BitTorrent side as a source only while its
// HTTP side cannot serve, and keeps a connection to it (it relays hole
// punches and knows every listener).
func (d *decider) seedBT() {
	open := !d.httpOK()
	if open != d.m.SeedBTOpen && (open || d.Now.Sub(d.m.SeedBTOpenedAt) >= d.p.SeedBTHold) {
		d.act(SetSeedBT{Open: open})
		d.m.SeedBTOpen = open
		if open {
			d.m.SeedBTOpenedAt = d.Now
		}
	}
	if d.seeds == 0 && d.Seed.BTConnected == 0 && d.Seed.BTAddrs > 0 && d.Now.Sub(d.m.LastRedial) >= d.p.Redial {
		d.act(RedialSeeds{})
		d.m.LastRedial = d.Now
	}
}

// seedBTSource reports whether pieces may come from the seed server over
// BitTorrent now.
func (d *decider) seedBTSource() bool { return d.m.SeedBTOpen && d.seeds > 0 }

// head starts the fetch of the first seconds, once.
func (d *decider) head() {
	if d.m.HeadStarted {
		return
	}
	d.m.HeadStarted = true
	if !d.httpOK() || d.urgentBusy {
		return
	}
	last := d.pieceOf(d.Playhead + max(d.audioBytes(d.p.Head), 1) - 1)
	for i := d.pp; i <= last; i++ {
		if !d.Pieces[i].Complete && !d.inFlight[i] {
			d.start(StartFetch{Kind: KindHead, First: i, Last: last})
			return
		}
	}
}

func (d *decider) start(f StartFetch) {
	if d.BytesPerSecond > 0 {
		ahead := max(int64(f.First)*d.PieceLen-d.Playhead, 0)
		f.Due = time.Duration(float64(ahead) / d.BytesPerSecond * float64(time.Second)).Round(time.Millisecond)
	}
	d.act(f)
	for i := f.First; i <= f.Last; i++ {
		d.inFlight[i] = true
	}
	if f.Kind.Urgent() {
		d.urgentBusy = true
	} else {
		d.fillBusy = true
	}
}

// priorities: while playing, the missing pieces inside the lead, first
// (listeners serve at a capped rate in request order: a whole track queued
// at them would delay the next player's head); then, once the buffer is
// comfortable, the pieces of a longer window that several connected
// listeners hold, so that a connection with room has work of its own
// instead of taking (BitTorrent's request stealing) a chunk that a slower
// one is already sending, which then arrives twice; with the seed server's
// BitTorrent side open, also the pieces beyond the lead that no listener
// holds (the fill, over BitTorrent). A prefetch takes whatever listeners
// hold, and the lead.
func (d *decider) priorities() {
	d.setPriorities(func(i int) Priority {
		if d.Pieces[i].Complete {
			return PriorityNone
		}
		inLead := i >= d.pp && i <= d.leadEnd
		switch d.Mode {
		case Playing:
			if i >= d.pp && i <= d.peerLeadEnd {
				return PriorityHigh
			}
			if (i > d.peerLeadEnd && i <= d.windowEnd && d.avail[i] >= d.p.WindowHolders) ||
				(d.seedBTSource() && d.avail[i] == 0) {
				return PriorityNormal
			}
		case Prefetch:
			// The lead too, so that the client connects to the peers
			// it was given before anyone's bitfield is known.
			if d.avail[i] > 0 || inLead {
				return PriorityNormal
			}
		}
		return PriorityNone
	})
}

func (d *decider) setPriorities(want func(int) Priority) {
	for i, p := range d.Pieces {
		if w := want(i); w != p.Priority {
			d.act(SetPriority{Piece: i, Priority: w})
		}
	}
}

// urgent asks the seed server for what is about to play: the first missing
// piece when the buffer is low and peers did not deliver it in their grace
// (at once when no listener holds it), else pieces inside the lead that no
// listener holds, in steps.
func (d *decider) urgent() {
	if d.firstMissing < 0 {
		d.m.WaitSince = time.Time{}
		return
	}
	f := d.firstMissing
	low := d.bufSec < d.p.EmergencyThreshold.Seconds()
	if low {
		// Peers found by the tracker may still be connecting in the
		// first HeadTimeout: they get the grace too.
		peersMay := d.avail[f] > 0 || d.Pieces[f].Partial || d.seedBTSource() ||
			d.Now.Sub(d.PlayingSince) < d.p.HeadTimeout
		// The grace runs per piece, from when the policy began waiting
		// for that one (the buffer starts low: the head is about the
		// threshold).
		if d.m.WaitSince.IsZero() || d.m.WaitPiece != f || !peersMay || !d.httpOK() {
			d.m.WaitPiece, d.m.WaitSince = f, d.Now
		}
		// A fill of ours brings the piece, at the seed server's leisure:
		// about to play, it is urgent now.
		if fl, ok := d.fillOf[f]; ok && d.httpOK() && !d.urgentBusy {
			d.act(CancelFetch{ID: fl.ID, Reason: ErrUrgent})
			d.clearInFlight(fl)
			d.fillBusy = false
			delete(d.fillOf, f)
			peersMay = false
		}
		if d.httpOK() && !d.urgentBusy && !d.inFlight[f] && (!peersMay || d.Now.Sub(d.m.WaitSince) >= d.p.EmergencyGrace) {
			last := d.missingRun(f, max(d.pieceOf(d.Playhead+d.audioBytes(d.p.EmergencyThreshold)), f))
			d.start(StartFetch{Kind: KindEmergency, First: f, Last: last, Unheld: d.avail[f] == 0 && !d.Pieces[f].Partial})
		}
		return
	}
	d.m.WaitSince = time.Time{}
	// Inside the lead, pieces no connected listener holds come from the
	// seed server anyway: fetch them in steps, once peers found by the
	// tracker had a moment to connect and while the buffer is under two
	// thirds of the lead.
	if !d.httpOK() || d.urgentBusy || d.seedBTSource() || d.Now.Sub(d.PlayingSince) < d.p.HeadTimeout ||
		d.bufSec >= d.p.SeedLead.Seconds()*2/3 {
		return
	}
	var cands []int
	for i := f; i <= d.leadEnd; i++ {
		if d.unheld(i) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return
	}
	if listeners := len(d.Peers) - d.seeds; listeners > 0 {
		// Listeners are connected: one piece at random among the first
		// listeners+1, so that listeners who play close together fetch
		// different first copies and trade them, rather than all asking
		// the seed server for the same next pieces (bench-internet's
		// public run: its HTTP side sent 476 copies of 140 distinct
		// pieces to the first listeners, bunched within seconds of one
		// another).
		r := rand.New(rand.NewPCG(d.Rand, 0xbb67ae85))
		i := cands[r.IntN(min(len(cands), listeners+1))]
		d.start(StartFetch{Kind: KindEmergency, First: i, Last: i})
		return
	}
	i := cands[0]
	stepEnd := min(d.leadEnd, d.pieceOf(int64(i)*d.PieceLen+d.audioBytes(d.p.LeadStep)))
	last := i
	for last+1 <= stepEnd && d.unheld(last+1) {
		last++
	}
	d.start(StartFetch{Kind: KindEmergency, First: i, Last: last})
}

// unheld: missing, not coming from a fetch of ours, not being sent by a
// peer, and held by no connected listener.
func (d *decider) unheld(i int) bool {
	p := d.Pieces[i]
	return !p.Complete && !p.Partial && !d.inFlight[i] && d.avail[i] == 0
}

// missingRun is the last piece of the run of missing pieces from first, no
// further than last.
func (d *decider) missingRun(first, last int) int {
	end := first
	for end+1 <= last && end+1 < len(d.Pieces) && !d.Pieces[end+1].Complete && !d.inFlight[end+1] {
		end++
	}
	return end
}

// fill fetches one piece beyond the lead that no connected listener holds,
// from the seed server's spare upload: rarest first (all such pieces are
// equally rare here), at random among them, so that players pull different
// pieces and then trade them.
func (d *decider) fill() {
	// Not while peers found by the tracker may still be connecting (every
	// piece looks unheld then), nor while this player's own buffer is low.
	if !d.httpOK() || d.fillBusy || d.seedBTSource() || d.Now.Before(d.m.FillRetryAt) ||
		d.Now.Sub(d.PlayingSince) < d.p.HeadTimeout || d.bufSec < d.p.EmergencyThreshold.Seconds() {
		return
	}
	if d.Seed.Spare >= 0 && d.Seed.Spare < 1 && d.Now.Sub(d.Seed.SpareAt) < time.Second {
		return // it just said it has nothing to spare
	}
	var cands []int
	for i := range d.Pieces {
		if (i < d.pp || i > d.leadEnd) && d.unheld(i) {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return
	}
	r := rand.New(rand.NewPCG(d.Rand, uint64(len(cands))))
	i := cands[r.IntN(len(cands))]
	d.start(StartFetch{Kind: KindFill, First: i, Last: i})
}

// ready lets playback start, once the piece at the playhead is here. At
// once while the seed server's HTTP side can be asked and did not fail
// (an emergency fetch covers a slow peer); otherwise the only sources are
// peers, and a real client may deliver in bursts between its unchoke
// cycles: playback starts once the buffer holds Prebuffer of audio and
// what the peers' rate so far cannot bring in time, so that it does not
// start only to stall.
func (d *decider) ready() {
	if d.m.Ready || d.Mode != Playing || d.firstMissing == d.pp {
		return
	}
	if d.firstMissing < 0 || (d.httpOK() && !d.m.HTTPFailed) {
		d.m.Ready = true
		d.act(Ready{})
		return
	}
	remaining := max(d.Size-d.Playhead, 0)
	buffered := int64(d.bufSec * d.BytesPerSecond)
	need := int64(d.audioBytes(d.p.Prebuffer))
	if el := d.Now.Sub(d.PlayingSince).Seconds(); el > 0 {
		// At 80 % of the rate since the start (dial time included), the
		// buffer must hold what the rest of the track outruns it by.
		rate := 0.8 * float64(d.completeBytes()) / el
		need = max(need, int64(float64(remaining)*(1-rate/d.BytesPerSecond)))
	} else {
		need = max(need, remaining)
	}
	if buffered >= min(need, remaining) {
		d.m.Ready = true
		d.act(Ready{})
	}
}

// completeBytes is the bytes of the complete pieces.
func (d *decider) completeBytes() int64 {
	var b int64
	for i, p := range d.Pieces {
		if p.Complete {
			b += min(d.PieceLen, d.Size-int64(i)*d.PieceLen)
		}
	}
	return b
}

// giveUp fails the reads when the one waiting has had no byte from any
// source for GiveUp (GiveUpHeld when a connected listener holds the piece
// it waits on). Before playback starts, the piece waited on is the first
// missing one: the buffer is filling.
func (d *decider) giveUp() {
	if d.m.GaveUp || d.ReadWaiting.IsZero() || d.firstMissing < 0 || (d.m.Ready && d.firstMissing != d.pp) {
		return
	}
	piece := d.firstMissing
	since := d.ReadWaiting
	if d.LastProgress.After(since) {
		since = d.LastProgress
	}
	waited := d.Now.Sub(since)
	held := d.avail[piece] > 0
	limit := d.p.GiveUp
	if held {
		limit = d.p.GiveUpHeld
	}
	if waited < limit {
		return
	}
	d.m.GaveUp = true
	d.act(GiveUp{Piece: piece, Waited: waited, PeerHad: held})
}
