// Package peers keeps the swarms: for each tracked infohash, the peers that
// announced it recently. PeerStore is the interface the announce frontends
// use; every backend (memory here, redis in peers/redis) passes the
// conformance suite in peers/peerstoretest and runs its benchmark suite.
package peers

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// DefaultPeerTTL is how long a peer that stops announcing stays in its
// swarm when a backend's Config does not say: one announce interval
// (30 minutes by default) and a minute's grace.
const DefaultPeerTTL = 31 * time.Minute

// InfoHash is a torrent's v1 infohash: the track id in its raw form.
type InfoHash [20]byte

// PeerID is the 20-byte id a BitTorrent client announces itself with.
type PeerID [20]byte

// Peer is one member of a swarm as other peers are told of it.
type Peer struct {
	ID   PeerID
	Addr netip.AddrPort // the connection's source address, never trusted input by default
}

// Event is the announce's event parameter.
type Event uint8

const (
	EventNone Event = iota
	EventStarted
	EventCompleted
	EventStopped
)

func (e Event) String() string {
	switch e {
	case EventStarted:
		return "started"
	case EventCompleted:
		return "completed"
	case EventStopped:
		return "stopped"
	}
	return ""
}

// Announce is a validated announce, whatever frontend it came through.
type Announce struct {
	InfoHash InfoHash
	Peer     Peer
	Left     uint64 // 0 means the peer is a seeder
	Event    Event
	NumWant  int // already clamped by the frontend; 0 means none wanted
	// PeerBuf, if not nil, is reused for AnnounceResult.Peers (appended to
	// from PeerBuf[:0]) so a frontend can pool it; a store may ignore it.
	PeerBuf []Peer
}

// Seeder reports whether the announcing peer holds the whole torrent.
func (a Announce) Seeder() bool { return a.Left == 0 }

// AnnounceResult is what a store answers to an announce.
type AnnounceResult struct {
	// Peers holds at most NumWant peers of the swarm, never the announcing
	// peer itself, and no seeders when the announcing peer is a seeder.
	Peers      []Peer
	Complete   int // seeders, the announcing peer included
	Incomplete int // leechers, the announcing peer included
}

// Swarm is one infohash's scrape entry (BEP 48).
type Swarm struct {
	Complete   int // seeders
	Incomplete int // leechers
	Downloaded int // completed events seen
}

// Stats are totals over every swarm, for /metrics.
type Stats struct {
	Torrents int
	Seeders  int
	Leechers int
}

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("peer store closed")

// PeerStore stores swarms. Implementations are safe for concurrent use and
// expire a peer that has not announced for their configured peer TTL.
type PeerStore interface {
	// Announce records (or, on EventStopped, removes) the peer and returns
	// peers for it.
	Announce(ctx context.Context, a Announce) (AnnounceResult, error)
	// Scrape returns one Swarm per infohash, in order; unknown infohashes
	// get a zero Swarm.
	Scrape(ctx context.Context, hashes []InfoHash) ([]Swarm, error)
	// Stats returns totals over every swarm.
	Stats(ctx context.Context) (Stats, error)
	// Close stops the store's background work and releases it; later
	// calls of any method return ErrClosed, and Close again is harmless.
	Close() error
}

// Local is an optional extra of a PeerStore. Local reports that its
// methods answer from process memory and never wait on a network, so that
// a frontend may call them on its accept loop rather than in a goroutine
// per request (the memory store; not Redis, whose round trips would hold
// the loop up).
type Local interface {
	Local() bool
}
