package stream

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/anacrolix/torrent/storage"
)

// DefaultCacheSize is the cache cap when Config.CacheSize is zero.
const DefaultCacheSize = 2 << 30

// Config configures a Client.
type Config struct {
	// CacheDir holds the track data, the piece-completion store and the
	// per-track metadata. Required.
	CacheDir string
	// CacheSize caps the bytes of track data kept; least recently used whole
	// tracks are evicted, never one that is open. 0 means DefaultCacheSize;
	// negative means no cap.
	CacheSize int64
	// ListenAddr is the BitTorrent listen address (host:port); "" means ":0".
	ListenAddr string
	// UploadRate caps BitTorrent upload in bytes per second; 0 is unlimited.
	UploadRate int64
	// UPnP enables anacrolix's port forwarding (off by default: network
	// hygiene).
	UPnP bool
	// Logger receives our logs and anacrolix's warnings and errors. nil
	// discards them.
	Logger *slog.Logger
	// HTTPClient fetches from seed URLs; nil means a client with no overall
	// timeout (reads are bounded by the policy's own deadlines).
	HTTPClient *http.Client
	// Policy holds the source-policy timings; zero fields take defaults.
	Policy Policy
	// MemoryFallback caps the piece data kept in memory once the cache disk
	// is full; 0 means DefaultMemoryFallback.
	MemoryFallback int64

	// wrapDisk wraps the file storage (tests inject disk failures).
	wrapDisk func(storage.ClientImplCloser) storage.ClientImplCloser
}

// Policy holds the timings of the source policy, in seconds of audio or wall
// time as named. Zero fields take the defaults shown.
type Policy struct {
	Head               time.Duration // audio fetched from the seed server first (3s)
	EmergencyThreshold time.Duration // buffered audio under which the seed server is asked (3s)
	EmergencyGrace     time.Duration // how long peers get to deliver a needed piece first (500ms)
	SeedLead           time.Duration // seed data never further ahead of the playhead than this (15s)
	HeadTimeout        time.Duration // no complete head piece in this time: seed server is slow (2s)
	GiveUp             time.Duration // no source for a needed piece this long: Read fails (10s)
	Readahead          time.Duration // reader readahead in audio (5s)
}

func (p Policy) withDefaults() Policy {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&p.Head, 3*time.Second)
	def(&p.EmergencyThreshold, 3*time.Second)
	def(&p.EmergencyGrace, 500*time.Millisecond)
	def(&p.SeedLead, 15*time.Second)
	def(&p.HeadTimeout, 2*time.Second)
	def(&p.GiveUp, 10*time.Second)
	def(&p.Readahead, 5*time.Second)
	return p
}
