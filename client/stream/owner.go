package stream

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/anacrolix/torrent"

	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/proto"
)

// tickEvery is how often the owner decides while the stream fetches, when
// nothing else wakes it.
const tickEvery = 100 * time.Millisecond

// owner is a stream's state. Only the owner goroutine (run) touches it.
type owner struct {
	s *Stream

	mode          policy.Mode
	playingSince  time.Time
	pieces        []policy.Piece // as anacrolix's piece-state subscription says
	acct          []pieceAcct
	counts        [numSources]int64
	duplicate     int64
	peersWire     int64 // piece data listeners sent, every copy
	hashFailures  int
	complete      int // pieces attributed
	lastProgress  time.Time
	maxSeedLead   float64 // seconds of audio
	peersSeen     map[torrent.PeerID]struct{}
	conns         proto.Connections // with other listeners, counted as they come
	readyGiven    bool              // s.ready is closed
	peersNow      int
	seedersNow    int
	seedAddrs     map[string]torrent.PeerInfo // BitTorrent addresses of seed servers
	tried         []string                    // seed URL attempts, for the give-up error
	noSeedURLSaid bool

	playhead    int64
	readWaiting time.Time // a read blocks since then; zero when none does

	fetches map[int]*fetch
	nextID  int
	results []policy.Result
	spare   float64 // what the seed server said it can spare, bytes/s; -1 unknown
	spareAt time.Time
	mem     policy.Memory
	rng     *rand.Rand

	completeWaiters []chan Stats
	metaSaved       bool
	dirty           bool // decide now, not at the next tick
}

// fetch is an HTTP fetch in flight.
type fetch struct {
	policy.Fetch
	cancel    context.CancelCauseFunc
	cancelled error // the reason it was cancelled for; nil while it runs
}

// run is the owner goroutine: it takes events, keeps the state and carries
// out the policy's decisions.
func (o *owner) run(changes <-chan torrent.PieceStateChange) {
	s := o.s
	defer close(s.done)
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	for {
		// Cached tracks only seed: they need no ticks, only events.
		var tickC <-chan time.Time
		if o.mode != policy.Idle || len(o.fetches) > 0 {
			tickC = tick.C
		}
		select {
		case <-s.ctx.Done():
			o.drain()
			for _, f := range o.fetches {
				f.cancel(ErrClosed)
			}
			return
		case ch, ok := <-changes:
			if !ok {
				return
			}
			// Bytes and injections noted before the change came first.
			o.drain()
			o.pieceChanged(ch)
		case <-s.inbox.wake:
			o.drain()
		case <-tickC:
			o.dirty = true
		}
		if o.dirty {
			o.dirty = false
			o.decide()
		}
	}
}

func (o *owner) drain() {
	for _, f := range o.s.inbox.take() {
		f(o)
	}
}

// pieceChanged takes in anacrolix's word on a piece: the one truth of
// completion.
func (o *owner) pieceChanged(ch torrent.PieceStateChange) {
	i := ch.Index
	if i < 0 || i >= len(o.pieces) {
		return
	}
	p := &o.pieces[i]
	was := p.Complete
	p.Complete, p.Partial = ch.Complete, ch.Partial
	a := &o.acct[i]
	// Checking: its bytes are all here and being verified, so it will not
	// be fetched again. anacrolix also hashes pieces it knows nothing of
	// when a torrent is added (its initial check, of a file not written
	// yet): that is no delivery, and counting it made the head skip piece
	// 0 (first audio 500 ms late, an emergency after the grace).
	defer func() {
		hashing := ch.Hashing || ch.QueuedForHash || ch.Marking
		p.Checking = a.inject != injNone || (hashing && a.fromPeers+a.fromSeedBT >= o.s.pieceSize(i))
	}()
	if ch.Hashing || ch.QueuedForHash || ch.Marking {
		a.hashSeen = true
		return
	}
	switch {
	case ch.Complete && a.source == srcNone:
		src := srcCache // completed with no bytes received: verified from disk
		switch {
		case a.inject != injNone:
			src = a.injectKind
		case a.fromSeedBT > a.fromPeers:
			src = srcSeedBT
		case a.fromPeers > 0:
			src = srcPeers
		}
		a.inject, a.suspectSince = injNone, time.Time{}
		o.attribute(i, src)
	case !ch.Complete && a.inject != injNone && a.hashSeen && a.suspectSince.IsZero():
		// Hashed since the injection began and not complete: failed, or
		// not marked yet (the client publishes a state between hashing
		// and marking). decide settles it.
		a.suspectSince = time.Now()
	}
	if ch.Complete != was {
		o.dirty = true
	}
}

// attribute counts piece i as completed by src.
func (o *owner) attribute(i int, src source) {
	s := o.s
	a := &o.acct[i]
	if a.source != srcNone {
		return
	}
	a.source = src
	n := s.pieceSize(i)
	o.counts[src] += n
	o.complete++
	o.lastProgress = time.Now()
	received := a.fromSeedBT + a.fromPeers + a.fromHTTP
	if src != srcCache {
		received -= n
	}
	if received > 0 {
		o.duplicate += received
	}
	if src == srcSeedBT || src == srcSeedEmergency {
		lead := (float64(int64(i)*s.pieceLen+n) - float64(o.playhead)) / s.bps
		o.maxSeedLead = max(o.maxSeedLead, lead)
	}
	o.answerWaiters()
}

func (o *owner) answerWaiters() {
	if o.complete < o.s.numPieces || len(o.completeWaiters) == 0 {
		return
	}
	st := o.stats()
	for _, w := range o.completeWaiters {
		w <- st
	}
	o.completeWaiters = nil
}

// injectSettle is how long an injected piece may stay hashed and not
// complete before it counts as failed.
const injectSettle = time.Second

// settleInjections fails the injected pieces that were hashed and did not
// become complete.
func (o *owner) settleInjections(now time.Time) {
	for i := range o.acct {
		a := &o.acct[i]
		if a.inject != injNone && !a.suspectSince.IsZero() && now.Sub(a.suspectSince) > injectSettle && !o.pieces[i].Complete {
			o.injectFailed(i)
		}
	}
}

func (o *owner) injectFailed(i int) {
	a := &o.acct[i]
	a.inject, a.suspectSince = injNone, time.Time{}
	o.pieces[i].Checking = false
	o.dirty = true
	o.hashFailures++
	o.duplicate += a.fromHTTP
	a.fromHTTP = 0
	// The seed server's bytes do not match the torrent: its HTTP side is
	// of no use for now.
	for _, f := range o.fetches {
		if f.First <= i && i <= f.Last {
			f.cancel(fmt.Errorf("piece %d from the seed server: %w", i, errHashMismatch))
		}
	}
}

var errHashMismatch = errors.New("failed verification")

func (o *owner) chunk(piece int, n int64, seed bool) {
	if piece < 0 || piece >= len(o.acct) {
		return
	}
	o.lastProgress = time.Now()
	a := &o.acct[piece]
	if a.source != srcNone {
		o.duplicate += n
		return
	}
	if seed {
		a.fromSeedBT += n
	} else {
		a.fromPeers += n
	}
}

func (o *owner) bytesHave() int64 {
	var n int64
	for i := range o.acct {
		if o.acct[i].source != srcNone {
			n += o.s.pieceSize(i)
		}
	}
	return n
}

func (o *owner) noteTried(msg string) {
	if len(o.tried) > 0 && o.tried[len(o.tried)-1] == msg {
		return
	}
	o.tried = append(o.tried, msg)
	if len(o.tried) > 20 {
		o.tried = o.tried[len(o.tried)-20:]
	}
}

// decide builds a snapshot, asks the policy and carries out its actions.
func (o *owner) decide() {
	s := o.s
	if s.ctx.Err() != nil {
		return
	}
	now := time.Now()
	o.settleInjections(now)
	conns := s.t.PeerConns()
	peers := make([]policy.Peer, 0, len(conns))
	seeders := 0
	for _, pc := range conns {
		o.peersSeen[pc.PeerID] = struct{}{}
		p := policy.Peer{Seed: isSeedPeerID(pc.PeerID)}
		if p.Seed {
			seeders++
		} else {
			have := pc.PeerPieces()
			p.Have = policy.NewBits(s.numPieces)
			it := have.Iterator()
			for it.HasNext() {
				p.Have.Set(int(it.Next()))
			}
		}
		peers = append(peers, p)
	}
	o.peersNow, o.seedersNow = len(conns), seeders
	fetches := make([]policy.Fetch, 0, len(o.fetches))
	for _, f := range o.fetches {
		fetches = append(fetches, f.Fetch)
	}
	snap := policy.Snapshot{
		Now:            now,
		Mode:           o.mode,
		Size:           s.size,
		PieceLen:       s.pieceLen,
		BytesPerSecond: s.bps,
		Pieces:         o.pieces,
		Playhead:       o.playhead,
		ReadWaiting:    o.readWaiting,
		LastProgress:   o.lastProgress,
		PlayingSince:   o.playingSince,
		Peers:          peers,
		Fetches:        fetches,
		Results:        o.results,
		Seed: policy.SeedServer{
			URLs:        len(s.track.SeedURLs),
			Spare:       o.spare,
			SpareAt:     o.spareAt,
			BTConnected: seeders,
			BTAddrs:     len(o.seedAddrs),
		},
		Params: s.c.policy,
		Rand:   o.rng.Uint64(),
		Memory: o.mem,
	}
	d := policy.Decide(snap)
	o.results = nil
	o.mem = d.Memory
	for _, a := range d.Actions {
		o.carryOut(a, conns)
	}
	if o.mode == policy.Playing && len(s.track.SeedURLs) == 0 && !o.noSeedURLSaid {
		o.noSeedURLSaid = true
		o.noteTried("the catalog lists no seed URL")
	}
	if o.complete == s.numPieces && !o.metaSaved {
		o.metaSaved = true
		go func() { // saveMeta queries the owner
			if err := s.saveMeta(); err != nil {
				s.c.log.Warn("recording complete track", "id", s.track.ID, "err", err)
			}
		}()
	}
}

func (o *owner) carryOut(a policy.Action, conns []*torrent.PeerConn) {
	s := o.s
	switch a := a.(type) {
	case policy.SetPriority:
		prio := torrent.PiecePriorityNone
		switch a.Priority {
		case policy.PriorityNormal:
			prio = torrent.PiecePriorityNormal
		case policy.PriorityHigh:
			prio = torrent.PiecePriorityHigh
		}
		s.t.Piece(a.Piece).SetPriority(prio)
		o.pieces[a.Piece].Priority = a.Priority
	case policy.StartFetch:
		s.c.log.Debug("fetching from the seed server", "track", s.track.ID, "kind", a.Kind, "unheld", a.Unheld, "first", a.First, "last", a.Last,
			"due", a.Due, "playhead_piece", o.playhead/s.pieceLen, "spare", o.spare)
		o.startFetch(a)
	case policy.CancelFetch:
		if f, ok := o.fetches[a.ID]; ok && f.cancelled == nil {
			s.c.log.Debug("cancelling a fetch", "track", s.track.ID, "kind", f.Kind, "first", f.First, "last", f.Last, "why", a.Reason)
			f.cancelled = a.Reason
			f.cancel(a.Reason)
		}
	case policy.SetSeedBT:
		if s.seedBTOpen.Swap(a.Open) != a.Open {
			// What a seed server holds is read when its connection
			// starts: connect again for the change to show.
			for _, pc := range conns {
				if isSeedPeerID(pc.PeerID) {
					pc.Close()
				}
			}
			o.redial()
		}
	case policy.Ready:
		if !o.readyGiven {
			o.readyGiven = true
			close(s.ready)
		}
	case policy.RedialSeeds:
		o.redial()
	case policy.GiveUp:
		err := &SourceError{
			TrackID:   s.track.ID,
			Piece:     a.Piece,
			Waited:    a.Waited,
			Tried:     append([]string(nil), o.tried...),
			PeersSeen: len(o.peersSeen),
			PeerHad:   a.PeerHad,
		}
		s.c.log.Warn("giving up on track", "err", err)
		s.fail(err)
	}
}

func (o *owner) redial() {
	if len(o.seedAddrs) == 0 {
		return
	}
	peers := make([]torrent.PeerInfo, 0, len(o.seedAddrs))
	for _, p := range o.seedAddrs {
		peers = append(peers, p)
	}
	o.s.t.AddPeers(peers)
}

// stats is the stream's accounting now.
func (o *owner) stats() Stats {
	s := o.s
	ts := s.t.Stats()
	st := Stats{
		PiecesFailedHash:   ts.PiecesDirtiedBad.Int64(),
		BannedPeers:        countIPs(s.c.cl.BadPeerIPs()),
		Size:               s.size,
		BytesSeedHead:      o.counts[srcSeedHead],
		BytesSeedEmergency: o.counts[srcSeedEmergency],
		BytesSeedFill:      o.counts[srcSeedFill],
		BytesSeedBT:        o.counts[srcSeedBT],
		BytesPeers:         o.counts[srcPeers],
		BytesPeersWire:     o.peersWire,
		BytesCache:         o.counts[srcCache],
		Duplicate:          o.duplicate,
		HashFailures:       o.hashFailures,
		PeersSeen:          len(o.peersSeen),
		Conns:              o.conns,
		PeersConnected:     o.peersNow,
		SeedersConnected:   o.seedersNow,
		PiecesComplete:     o.complete,
		Pieces:             s.numPieces,
		Playhead:           o.playhead,
		MaxSeedLead:        time.Duration(o.maxSeedLead * float64(time.Second)),
		Complete:           o.complete == s.numPieces,
	}
	for i := 0; i < s.numPieces; {
		if o.acct[i].source == srcNone {
			i++
			continue
		}
		j := i
		for j < s.numPieces && o.acct[j].source != srcNone {
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
