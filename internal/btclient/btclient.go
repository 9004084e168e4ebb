package btclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/anacrolix/torrent"
	"golang.org/x/time/rate"
)

// ChunkSize is the BitTorrent request size anacrolix uses: an upload
// limiter's burst must hold at least one chunk, or anacrolix panics.
const ChunkSize = 16 << 10

// dialTimeout is how long a dial to a peer may take (TCP and uTP race).
const dialTimeout = 5 * time.Second

// Options are the settings that differ between peertune's clients.
type Options struct {
	// Listen is the address to listen on, "host:port"; an empty host
	// listens on every address, port 0 picks a free port. "" is ":0".
	// A literal IPv4 (IPv6) host turns IPv6 (IPv4) off.
	Listen string
	// PeerIDPrefix is the BEP 20 prefix of the peer id, e.g.
	// proto.PeerIDPrefixPlayer.
	PeerIDPrefix string
	// UPnP asks the router for a port mapping (UPnP / NAT-PMP).
	UPnP bool
	// NoTCP and NoUTP turn a transport off; both are on by default. uTP
	// is the one hole punching (BEP 55) works over, so a listener behind
	// NAT needs it to be reached by another.
	NoTCP, NoUTP bool
	// OwnTCP: the caller brings TCP (a TCP of ListenTCP, attached to the
	// client): anacrolix listens and dials over uTP only. Listen's port
	// should then be the TCP listener's.
	OwnTCP bool
	// UploadLimiter paces uploads; its burst must be at least ChunkSize
	// (unless its limit is rate.Inf). It may be shared with other
	// uploads. Nil: UploadRate decides.
	UploadLimiter *rate.Limiter
	// UploadRate caps uploads in bytes per second with a limiter of its
	// own (NewUploadLimiter) when UploadLimiter is nil; 0: no cap.
	UploadRate int64
	// MaxConnsPerTrack caps each torrent's connections; 0 keeps
	// anacrolix's limit.
	MaxConnsPerTrack int
	// Logger gets anacrolix's log records as they are (filter them with
	// internal/btlog first if need be); nil discards them.
	Logger *slog.Logger
}

// Config checks o and returns an anacrolix client configuration with
// peertune's settings. The caller may change it further (DefaultStorage,
// Callbacks, ...) before torrent.NewClient.
func Config(o Options) (*torrent.ClientConfig, error) {
	listen := o.Listen
	if listen == "" {
		listen = ":0"
	}
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("listen address %q: port %q is not a number from 0 to 65535", listen, portStr)
	}
	limiter := o.UploadLimiter
	switch {
	case limiter != nil && o.UploadRate != 0:
		return nil, errors.New("both an upload limiter and an upload rate given")
	case o.UploadRate < 0:
		return nil, fmt.Errorf("upload rate %d: negative", o.UploadRate)
	case limiter == nil && o.UploadRate > 0:
		limiter = NewUploadLimiter(o.UploadRate)
	case limiter != nil && limiter.Limit() != rate.Inf && limiter.Burst() < ChunkSize:
		return nil, fmt.Errorf("upload limiter burst %d: under one %d-byte chunk", limiter.Burst(), ChunkSize)
	}
	if o.MaxConnsPerTrack < 0 {
		return nil, fmt.Errorf("connection limit %d: negative", o.MaxConnsPerTrack)
	}
	if o.NoTCP && o.OwnTCP {
		return nil, errors.New("TCP both off and brought by the caller")
	}
	if o.NoTCP && o.NoUTP {
		return nil, errors.New("TCP and uTP both off: no transport left to reach a peer")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	cfg := torrent.NewDefaultClientConfig()
	cfg.Seed = true
	cfg.NoDHT = true
	cfg.NoDefaultPortForwarding = !o.UPnP
	cfg.DisableWebtorrent = true
	// Web seeds: anacrolix's fetcher ignores piece priorities (the player
	// fetches from the seed URL itself) and the seeder has every byte.
	cfg.DisableWebseeds = true
	// peertune announces every torrent itself (client/announce):
	// anacrolix's announcer waits a minute after a failed announce.
	cfg.DisableTrackers = true
	// One connection per peer: two listeners that dial each other at once
	// would otherwise keep both connections, and each would get its own
	// share of the uplink, its own requests (stolen back and forth between
	// the two) and its own count as a holder in the source policy. Both
	// ends keep the same one (anacrolix prefers the connection dialled by
	// the higher peer id).
	cfg.DropDuplicatePeerIds = true
	if o.PeerIDPrefix != "" {
		cfg.Bep20 = o.PeerIDPrefix
	}
	// A peer that does not answer within a few round trips is behind NAT
	// (or gone): give up on it soon, for then anacrolix asks a relay to
	// punch a hole to it (BEP 55). Its default, 20 s with few peers, is
	// long for a listener who is waiting for the music.
	cfg.NominalDialTimeout = dialTimeout
	cfg.MinDialTimeout = min(cfg.MinDialTimeout, dialTimeout)
	cfg.DisableTCP = o.NoTCP || o.OwnTCP
	cfg.DisableUTP = o.NoUTP
	cfg.ListenHost = func(string) string { return host }
	cfg.ListenPort = port
	if ip := net.ParseIP(host); ip != nil {
		// Listening on one address family: do not try the other.
		cfg.DisableIPv6 = ip.To4() != nil
		cfg.DisableIPv4 = ip.To4() == nil
	}
	if limiter != nil {
		cfg.UploadRateLimiter = limiter
	}
	if o.MaxConnsPerTrack > 0 {
		cfg.EstablishedConnsPerTorrent = o.MaxConnsPerTrack
	}
	cfg.Slogger = log
	return cfg, nil
}

// NewUploadLimiter returns a limiter of bytesPerSecond (0 or less: no cap)
// whose burst is at least one chunk and small against a second of the
// rate (an eighth, at most 256 KiB), so that the cap holds over short
// windows. One limiter may pace several kinds of upload (the seed server
// shares it between HTTP and BitTorrent).
func NewUploadLimiter(bytesPerSecond int64) *rate.Limiter {
	if bytesPerSecond <= 0 {
		return rate.NewLimiter(rate.Inf, 256<<10)
	}
	burst := int(min(max(bytesPerSecond/8, ChunkSize), 256<<10))
	return rate.NewLimiter(rate.Limit(bytesPerSecond), burst)
}

// How a connection came, for the counts in reports and metrics.
const (
	ConnOutgoing    = "outgoing"    // we dialled
	ConnIncoming    = "incoming"    // they dialled us
	ConnHolepunched = "holepunched" // we dialled on a hole-punch rendezvous (BEP 55)
)

// ConnKind says how pc came (ConnOutgoing, ConnIncoming or
// ConnHolepunched) and over what ("tcp" or "utp").
func ConnKind(pc *torrent.PeerConn) (kind, transport string) {
	switch pc.Discovery {
	case torrent.PeerSourceIncoming:
		kind = ConnIncoming
	case torrent.PeerSourceUtHolepunch:
		kind = ConnHolepunched
	default:
		kind = ConnOutgoing
	}
	// anacrolix names a connection by its socket's network: "tcp4",
	// "tcp6", ... for TCP, the UDP network's name for uTP.
	transport = "utp"
	if strings.HasPrefix(pc.Network, "tcp") {
		transport = "tcp"
	}
	return kind, transport
}
