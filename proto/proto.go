// Package proto holds what crosses the wire between peertune's parts: the
// catalog types and their JSON, the catalog API's paths and limits, and the
// BitTorrent peer-id prefixes. It does no network I/O and imports nothing of
// peertune's own, so every other package may depend on it.
package proto

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Catalog API paths, served by the tracker's --listen address.
const (
	PathInfo   = "/api/v1/info"
	PathTracks = "/api/v1/tracks" // GET (search/list), POST (publish)
	PathAlbums = "/api/v1/albums" // GET (search/list); PathAlbums + "/{id}" is one album with its tracks
	// PathTrack is PathTracks + "/{id}"; PathTrack + "/torrent" is the .torrent.
	PathTrackPrefix = PathTracks + "/"
	// PathAdminDeny is the deny list (GET, admins only); PathAdminDeny +
	// "/{infohash}" denies an infohash (PUT) or lifts its denial (DELETE).
	PathAdminDeny = "/api/v1/admin/deny"
	PathAnnounce  = "/announce"
	PathScrape    = "/scrape"
	PathMetrics   = "/metrics"
	PathHealthz   = "/healthz"
	PathReadyz    = "/readyz"
)

// Search paging limits of GET /api/v1/tracks.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// TorrentContentType is the media type of GET /api/v1/tracks/{id}/torrent.
const TorrentContentType = "application/x-bittorrent"

// BitTorrent peer-id prefixes (BEP 20 style). A player tells a seed server
// from another listener by them.
const (
	PeerIDPrefixSeeder = "-PS0100-"
	PeerIDPrefixPlayer = "-PP0100-"
)

// The seed server's side of the source policy, in HTTP headers of seed-URL
// requests and responses.
//
// A player marks each Range request with HeaderFetch: FetchHead for the
// head (a newcomer waiting for its first audio), FetchUnheld for an
// emergency whose first piece no listener it is connected to holds (only
// the seed server can send it), FetchUrgent for other emergencies (bytes
// about to play), FetchFill for a piece beyond them that no listener it
// is connected to holds yet (the seed's first copy of it, sent early). A
// seed server serves heads first, then unheld, then urgent requests, and
// fill requests only from upload it has to spare; one that has none
// answers a fill request 503 with Retry-After. A seed server that knows no
// FetchHead or FetchUnheld takes it as urgent (anything but fill is);
// servers that do not know the header (nginx, a CDN) serve every request
// alike.
//
// A player also tells, in HeaderDue, how soon the request's first byte is
// to play, in whole milliseconds ("0" for a head); within a class a seed
// server serves the soonest due first, one request after another rather
// than all side by side (a request without it is due FetchDefaultDue after
// it arrived).
//
// Every response of the seed server to a file request carries
// HeaderSeedSpare: the upload rate it has to spare now, in bytes per second
// (its cap less what it sent over HTTP and BitTorrent in the last seconds),
// or SpareUnlimited when it has no cap.
const (
	HeaderFetch     = "Peertune-Fetch"
	FetchHead       = "head"
	FetchUnheld     = "unheld"
	FetchUrgent     = "urgent"
	FetchFill       = "fill"
	HeaderDue       = "Peertune-Due"
	HeaderSeedSpare = "Peertune-Seed-Spare"
	SpareUnlimited  = "unlimited"
)

// FetchDefaultDue is when a seed-URL request without HeaderDue is taken to
// be due, after it arrived: about what an emergency has left to play.
const FetchDefaultDue = 3 * time.Second

// Codecs a track may have.
const (
	CodecMP3  = "mp3"
	CodecFLAC = "flac"
	CodecOgg  = "ogg"
	CodecWAV  = "wav"
)

// ValidCodec reports whether c is one of the codecs the catalog accepts.
func ValidCodec(c string) bool {
	switch c {
	case CodecMP3, CodecFLAC, CodecOgg, CodecWAV:
		return true
	}
	return false
}

// Info is the body of GET /api/v1/info.
type Info struct {
	Announce []string `json:"announce"`
	Version  string   `json:"version"`
}

// Track is one entry of the catalog as the API returns it.
type Track struct {
	ID          string   `json:"id"` // 40 lowercase hex: the torrent's v1 infohash
	Title       string   `json:"title"`
	Artist      string   `json:"artist"`
	Album       string   `json:"album"`
	AlbumArtist string   `json:"album_artist"` // "" when the tags name none: the album is the artist's
	TrackNumber int      `json:"track_number"` // 0: unknown
	DiscNumber  int      `json:"disc_number"`  // 0: unknown
	Year        int      `json:"year"`         // 0: unknown
	DurationS   float64  `json:"duration_s"`
	Codec       string   `json:"codec"`
	Bitrate     int64    `json:"bitrate"` // bits per second
	Size        int64    `json:"size"`    // bytes
	PieceLength int64    `json:"piece_length"`
	SeedURLs    []string `json:"seed_urls"`
	Seeders     int      `json:"seeders"`
	Leechers    int      `json:"leechers"`
}

// PublishRequest is the body of POST /api/v1/tracks. Torrent is the raw
// .torrent; encoding/json carries []byte as base64, as the contract says.
type PublishRequest struct {
	Torrent   []byte  `json:"torrent"`
	Title     string  `json:"title"`
	Artist    string  `json:"artist"`
	Album     string  `json:"album"`
	DurationS float64 `json:"duration_s"`
	Codec     string  `json:"codec"`
	Bitrate   int64   `json:"bitrate"`
	// Optional; a publisher that predates them sends none.
	AlbumArtist string `json:"album_artist,omitempty"`
	TrackNumber int    `json:"track_number,omitempty"`
	DiscNumber  int    `json:"disc_number,omitempty"`
	Year        int    `json:"year,omitempty"`
}

// AlbumArtistOrArtist is the artist an album is filed under: its album
// artist, or the track's artist when the tags name none.
func (t Track) AlbumArtistOrArtist() string {
	if t.AlbumArtist != "" {
		return t.AlbumArtist
	}
	return t.Artist
}

// Album is one album of the catalog: the tracks that share an album name
// and the artist it is filed under (Track.AlbumArtistOrArtist), compared
// without regard to ASCII case. Year is the earliest year its tracks name
// (0: none does).
type Album struct {
	ID         string `json:"id"` // 32 lowercase hex, from the artist and album name
	Title      string `json:"album"`
	Artist     string `json:"album_artist"`
	Year       int    `json:"year"`
	TrackCount int    `json:"track_count"`
}

// AlbumList is the body of GET /api/v1/albums.
type AlbumList struct {
	Albums []Album `json:"albums"`
	Total  int     `json:"total"`
}

// AlbumTracks is the body of GET /api/v1/albums/{id}: the album and its
// tracks in disc, track and title order.
type AlbumTracks struct {
	Album  Album   `json:"album"`
	Tracks []Track `json:"tracks"`
}

// AlbumID is the id of the album a track belongs to, or "" when it names
// no album. Names are compared as SQLite's NOCASE compares (ASCII case
// only), as the catalog sorts them.
func AlbumID(albumArtist, album string) string {
	if album == "" {
		return ""
	}
	sum := sha1.Sum([]byte(ASCIILower(albumArtist) + "\x00" + ASCIILower(album)))
	return hex.EncodeToString(sum[:16])
}

// ParseAlbumID checks that s is an album id and returns it lowercased.
func ParseAlbumID(s string) (string, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("album id %q: want 32 hex digits, have %d characters", s, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("album id %q: not hex", s)
	}
	return strings.ToLower(s), nil
}

// ASCIILower folds ASCII letters only, as SQLite's COLLATE NOCASE does.
func ASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// TrackList is the body of GET /api/v1/tracks.
type TrackList struct {
	Tracks []Track `json:"tracks"`
	Total  int     `json:"total"`
}

// PlayReport is what `peertune play --json` prints, one line per track when
// it ends. For a local file the byte counters and PeersSeen are 0.
type PlayReport struct {
	Track              string  `json:"track"`
	TTFAms             float64 `json:"ttfa_ms"`
	Underruns          int     `json:"underruns"`
	UnderrunMs         float64 `json:"underrun_ms"`
	BytesSeedHead      int64   `json:"bytes_seed_head"`
	BytesSeedEmergency int64   `json:"bytes_seed_emergency"`
	BytesSeedBT        int64   `json:"bytes_seed_bt"`
	BytesSeedFill      int64   `json:"bytes_seed_fill"`
	BytesPeers         int64   `json:"bytes_peers"`
	// BytesPeersWire is the piece data other listeners sent over
	// BitTorrent, every copy: at least BytesPeers; the rest is duplicate
	// chunks (two peers sent the same one) and pieces that failed.
	BytesPeersWire int64       `json:"bytes_peers_wire"`
	BytesCache     int64       `json:"bytes_cache"`
	PeersSeen      int         `json:"peers_seen"`
	PlayedS        float64     `json:"played_s"`
	Connections    Connections `json:"connections"`
}

// Connections counts the BitTorrent connections a player had with other
// listeners (seed servers not counted) for a track, by who dialled and by
// transport; a peer that reconnects counts again.
type Connections struct {
	Outgoing int `json:"outgoing"` // we dialled
	Incoming int `json:"incoming"` // they dialled us
	// Holepunched counts the outgoing ones dialled on a hole-punch
	// rendezvous (BEP 55): a peer behind NAT we could not dial directly.
	Holepunched int `json:"holepunched"`
	// UPnP counts the incoming ones that came through a port mapping the
	// player asked its home router for (--upnp).
	UPnP int `json:"upnp"`
	UTP  int `json:"utp"`
	TCP  int `json:"tcp"`
}

// SeedBytes is what the seed server sent, by every route.
func (r PlayReport) SeedBytes() int64 {
	return r.BytesSeedHead + r.BytesSeedEmergency + r.BytesSeedBT + r.BytesSeedFill
}

// NetworkBytes is what came over the network: from the seed server and from
// other listeners.
func (r PlayReport) NetworkBytes() int64 { return r.SeedBytes() + r.BytesPeers }

func (r PlayReport) String() string {
	return fmt.Sprintf("ttfa %.0fms, %d underruns (%.0fms), head %d, emergency %d, fill %d, seed bt %d, peers %d, cache %d, %d peers seen, %.1fs played",
		r.TTFAms, r.Underruns, r.UnderrunMs, r.BytesSeedHead, r.BytesSeedEmergency, r.BytesSeedFill, r.BytesSeedBT, r.BytesPeers, r.BytesCache, r.PeersSeen, r.PlayedS)
}

// Error is the body of every 4xx/5xx answer of the catalog API. Code, when
// set, tells a client program what happened without parsing the message.
type Error struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

// ErrorCodeTakenDown is the Code of the 403 that refuses to publish a track
// the tracker's admins took down (it is on the deny list).
const ErrorCodeTakenDown = "taken_down"

// Denial is one entry of the tracker's deny list (GET /api/v1/admin/deny):
// an infohash whose track was taken down, or denied before it was
// published. The tracker refuses its publication and its swarm.
type Denial struct {
	ID     string    `json:"id"` // 40 lowercase hex: the v1 infohash
	Reason string    `json:"reason"`
	By     string    `json:"by"` // the admin's name
	At     time.Time `json:"at"` // UTC
}

// DenyRequest is the optional body of PUT /api/v1/admin/deny/{infohash}.
type DenyRequest struct {
	Reason string `json:"reason"`
}

// ParseTrackID checks that s is a track id (40 hex digits) and returns it in
// its canonical lowercase form.
func ParseTrackID(s string) (string, error) {
	if len(s) != 40 {
		return "", fmt.Errorf("track id %q: want 40 hex digits, have %d characters", s, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		return "", fmt.Errorf("track id %q: not hex", s)
	}
	return strings.ToLower(s), nil
}
