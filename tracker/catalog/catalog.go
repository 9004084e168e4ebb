// Package catalog holds the published tracks: their metadata, seed URLs and
// .torrent files, searchable by title, artist and album. Catalog is the
// interface the catalog HTTP API and the announce whitelist use; every
// backend (sqlite here, redis in catalog/redis) passes the conformance suite
// in catalog/catalogtest and runs its benchmark suite.
package catalog

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/peertune/peertune/proto"
)

// Entry is a stored track: the API's Track plus what only the tracker sees.
// Track.Seeders and Track.Leechers are not stored; the API fills them from
// the peer store.
type Entry struct {
	proto.Track
	Torrent []byte // the .torrent as published
	// Publisher is the name of the publisher that published it (see
	// tracker/auth), so that a publisher whose token is rotated keeps its
	// tracks. Entries published before publishers had names hold the hex
	// SHA-256 of their token until RenamePublishers names them. No token is
	// ever stored.
	Publisher   string
	PublishedAt time.Time // UTC
}

var (
	// ErrNotFound: no track has that id.
	ErrNotFound = errors.New("track not found")
	// ErrForbidden: the track was published by another publisher.
	ErrForbidden = errors.New("track was published by another publisher")
	// ErrDenied: the track is on the deny list (it was taken down), so it
	// may not be published.
	ErrDenied = errors.New("track was taken down: it is on the deny list")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("catalog closed")
)

// Catalog stores tracks. Implementations are safe for concurrent use.
type Catalog interface {
	// Put stores e under e.ID. When a track with that id is there already
	// and the same publisher published it, its metadata, seed URLs and
	// .torrent become e's (its PublishedAt stays): a seeder that re-reads
	// changed tags republishes them. One published by another publisher is
	// left as it was. A track whose id is on the deny list is refused with
	// ErrDenied, whoever publishes it. Put returns the stored entry and
	// whether this call created it. A failed Put leaves the catalog as it
	// was.
	Put(ctx context.Context, e Entry) (stored Entry, created bool, err error)
	// Get returns the entry with that id, or ErrNotFound.
	Get(ctx context.Context, id string) (Entry, error)
	// Search ranks tracks whose title, artist, album artist or album match
	// every word of query and returns one page of them and the number of
	// matches in all. An empty query lists every track in library order:
	// by album artist (or artist), year, album, disc, track number and
	// title (ListCompare).
	Search(ctx context.Context, query string, limit, offset int) (tracks []proto.Track, total int, err error)
	// Albums lists albums: the tracks that name an album, grouped by album
	// artist (or artist) and album name (proto.AlbumID), sorted by artist,
	// year and album. A non-empty query keeps the albums with a track whose
	// artist, album artist or album matches every word of it (titles do not
	// count). It returns one page and the number of albums in all.
	Albums(ctx context.Context, query string, limit, offset int) (albums []proto.Album, total int, err error)
	// Album returns the album with that id and its tracks in disc, track
	// and title order, or ErrNotFound.
	Album(ctx context.Context, id string) (proto.Album, []proto.Track, error)
	// Delete removes the track if publisher published it: ErrNotFound or
	// ErrForbidden otherwise.
	Delete(ctx context.Context, id, publisher string) error
	// Contains reports whether a track with that infohash is published. The
	// announce whitelist calls it on every announce: it must be cheap.
	Contains(ctx context.Context, ih [20]byte) (bool, error)
	// Count returns the number of published tracks (the tracks gauge).
	Count(ctx context.Context) (int, error)
	// RenamePublishers gives every entry whose Publisher is a key of names
	// the name it maps to, and returns how many entries changed. The
	// tracker calls it at start and on reload with the digests of the
	// configured tokens (auth.Set.Digests): entries published before
	// publishers had names are taken over by their token's publisher.
	RenamePublishers(ctx context.Context, names map[string]string) (int, error)

	// Deny puts d.ID on the deny list (replacing an earlier denial of it)
	// and, in the same step, removes the track of that id if it is
	// published (a takedown): removed says whether one was. From then on
	// Put refuses the id and Denied reports it. A zero d.At is now.
	Deny(ctx context.Context, d proto.Denial) (removed bool, err error)
	// Lift takes id off the deny list, so that it may be published again:
	// ErrNotFound when it is not on it.
	Lift(ctx context.Context, id string) error
	// Denials lists the deny list, oldest first (then by id); never nil.
	Denials(ctx context.Context) ([]proto.Denial, error)
	// Denied reports whether ih is on the deny list. Announces call it
	// (every announce under --open): it must be cheap.
	Denied(ctx context.Context, ih [20]byte) (bool, error)

	// Close releases the catalog.
	Close() error
}

// CompareDenials is the order of Denials: by time, then id.
func CompareDenials(a, b proto.Denial) int {
	if c := a.At.Compare(b.At); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// ListCompare is the library order of tracks, the order of Search without
// a query: album artist (or artist when none), year, album, disc, track
// number, title, each text compared without regard to ASCII case (SQLite's
// NOCASE), then id.
func ListCompare(a, b proto.Track) int {
	if c := strings.Compare(proto.ASCIILower(a.AlbumArtistOrArtist()), proto.ASCIILower(b.AlbumArtistOrArtist())); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Year, b.Year); c != 0 {
		return c
	}
	if c := strings.Compare(proto.ASCIILower(a.Album), proto.ASCIILower(b.Album)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.DiscNumber, b.DiscNumber); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TrackNumber, b.TrackNumber); c != 0 {
		return c
	}
	if c := strings.Compare(proto.ASCIILower(a.Title), proto.ASCIILower(b.Title)); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// SameMeta reports whether a republish of a as b changes nothing stored.
func SameMeta(a, b Entry) bool {
	return a.Title == b.Title && a.Artist == b.Artist && a.Album == b.Album && a.AlbumArtist == b.AlbumArtist &&
		a.TrackNumber == b.TrackNumber && a.DiscNumber == b.DiscNumber && a.Year == b.Year &&
		a.DurationS == b.DurationS && a.Codec == b.Codec && a.Bitrate == b.Bitrate && a.Size == b.Size &&
		a.PieceLength == b.PieceLength && slices.Equal(a.SeedURLs, b.SeedURLs) && bytes.Equal(a.Torrent, b.Torrent)
}

// AlbumOf is the album whose tracks, in album order, these are.
func AlbumOf(id string, tracks []proto.Track) proto.Album {
	a := proto.Album{ID: id, TrackCount: len(tracks)}
	if len(tracks) > 0 {
		a.Title, a.Artist = tracks[0].Album, tracks[0].AlbumArtistOrArtist()
	}
	for _, t := range tracks {
		if t.Year > 0 && (a.Year == 0 || t.Year < a.Year) {
			a.Year = t.Year
		}
	}
	return a
}
