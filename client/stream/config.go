package stream

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/anacrolix/torrent/storage"

	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/client/stream/cachestore"
)

// DefaultCacheSize is the cache cap when Config.CacheSize is zero.
const DefaultCacheSize = 2 << 30

// DefaultMemoryFallback is the cap on piece data held in memory once the
// cache disk is full, when Config.MemoryFallback is zero: a few whole tracks.
const DefaultMemoryFallback = cachestore.DefaultMemoryFallback

// DefaultMaxPeers is the connections a stream keeps per track when
// Config.MaxPeers is zero and the uplink is not full: anacrolix's own
// limit. Where uplinks are fast, fewer peers cost seed-server bytes: a
// listener that sees fewer holders fetches more first copies from the
// seed server (bench-swarm, 12 connections: 13.5 % of the bytes from the
// seed server against 6 % with 50).
const DefaultMaxPeers = 50

// SlowLineMaxPeers is the connections a stream keeps per track, with
// Config.MaxPeers zero, once the upload pacer found the uplink full.
// anacrolix uploads to every interested peer at once (it has no unchoke
// slots), so a listener's upload is split evenly over its connections: on
// a home uplink of twice the bitrate, with twenty listeners, each
// connection got a trickle, the pieces a listener was the first to hold
// reached the others seconds late, and they asked the seed server for
// copies instead, which left it too little for the swarm's new pieces
// (bench-internet, public, every player on its defaults: 115 s of
// underrun over 10 playbacks; the same with 8 connections, none).
const SlowLineMaxPeers = 8

// RequestSize is the size of the chunks a stream asks peers for: half of
// BitTorrent's usual 16 KiB. On a home uplink a listener's upload is split
// over its connections (anacrolix has no unchoke slots), so a 16 KiB chunk
// takes a second or more to leave, and anacrolix's request stealing moves
// the request to another peer meanwhile: both copies arrive. A smaller
// chunk is in flight for less time and a lost race wastes less. Measured
// (bench-internet --only public; bench-swarm --no-baseline, loopback):
//
//	request   internet: wire/counted, seed share   loopback: wire/counted
//	16 KiB    2.93×, 40.7 %                        1.09×
//	 8 KiB    1.99×, 25.6 %                        1.10×
//	 4 KiB    1.84×, 25.8 %                        1.11×, 1.12×
//	 2 KiB    1.77×, 28.2 %
//
// 8 KiB takes the whole of the seed server's saving for the least extra
// on fast links (more chunks, more of loopback's millisecond races).
// Every client serves chunks of any size up to 16 KiB.
const RequestSize = 8 << 10

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
	// NoUploadPacing turns the upload pacer off (btclient.RunPacer), which
	// keeps upload just under the rate the line carries once its TCP
	// connections' round trips show a queue at the router, so that chunks
	// cross a slow uplink one after another rather than side by side
	// (where the peers that asked for them take them from other peers too,
	// and both copies arrive). Off, TCP sockets are anacrolix's own.
	NoUploadPacing bool
	// MaxPeers caps a track's BitTorrent connections (other listeners and
	// the seed server); 0 means DefaultMaxPeers, and SlowLineMaxPeers once
	// the upload pacer found the uplink full (never without the pacer).
	MaxPeers int
	// UPnP asks the home router (UPnP-IGD) to forward the BitTorrent port
	// (off by default: network hygiene); incoming connections then count
	// as UPnP ones in Stats.Conns.
	UPnP bool
	// NoTCP and NoUTP turn a BitTorrent transport off (both on by default;
	// a listener behind NAT is reached by hole punching, over uTP only).
	NoTCP, NoUTP bool
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

// Policy holds the timings of the source policy (client/policy.Params:
// head, emergency threshold and grace, seed lead, head timeout, give-up);
// zero fields take policy.DefaultParams.
type Policy = policy.Params

// DefaultReadahead is how much audio a reader asks the BitTorrent client for
// ahead of where it reads.
const DefaultReadahead = 5 * time.Second
