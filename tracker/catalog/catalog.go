// Package catalog holds the published tracks: their metadata, seed URLs and
// .torrent files, searchable by title, artist and album. Catalog is the
// interface the catalog HTTP API and the announce whitelist use; every
// backend (sqlite here, redis in catalog/redis) passes the conformance suite
// in catalog/catalogtest and runs its benchmark suite.
package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/peertune/peertune/proto"
)

// Entry is a stored track: the API's Track plus what only the tracker sees.
// Track.Seeders and Track.Leechers are not stored; the API fills them from
// the peer store.
type Entry struct {
	proto.Track
	Torrent     []byte    // the .torrent as published
	Publisher   string    // hex SHA-256 of the publishing token; the token itself is never stored
	PublishedAt time.Time // UTC
}

var (
	// ErrNotFound: no track has that id.
	ErrNotFound = errors.New("track not found")
	// ErrForbidden: the track was published with another token.
	ErrForbidden = errors.New("track was published by another publisher")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("catalog closed")
)

// Catalog stores tracks. Implementations are safe for concurrent use.
type Catalog interface {
	// Put stores e under e.ID unless a track with that id is there already;
	// it returns the stored entry and whether it was created by this call.
	// A failed Put leaves the catalog as it was.
	Put(ctx context.Context, e Entry) (stored Entry, created bool, err error)
	// Get returns the entry with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (Entry, error)
	// Search ranks tracks whose title, artist or album match every word of
	// query (an empty query lists every track) and returns one page of them
	// and the number of matches in all.
	Search(ctx context.Context, query string, limit, offset int) (tracks []proto.Track, total int, err error)
	// Delete removes the track if publisher published it: ErrNotFound or
	// ErrForbidden otherwise.
	Delete(ctx context.Context, id, publisher string) error
	// Contains reports whether a track with that infohash is published. The
	// announce whitelist calls it on every announce: it must be cheap.
	Contains(ctx context.Context, ih [20]byte) (bool, error)
	// Count returns the number of published tracks (the tracks gauge).
	Count(ctx context.Context) (int, error)
	// Close releases the catalog.
	Close() error
}
