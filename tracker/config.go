package tracker

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"time"

	"github.com/peertune/peertune/internal/redisconn"
	"github.com/peertune/peertune/tracker/announce"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/peers"
)

// Config is the tracker's configuration; the zero values of the durations
// and limits take the defaults documented on each field.
type Config struct {
	Listen    string // HTTP address; default 127.0.0.1:6969
	UDP       string // UDP address; "" disables the UDP tracker
	PublicURL string // base URL advertised in announce URLs; default http:// + Listen
	DataDir   string // where the SQLite catalog lives (unless RedisURL)
	// Tokens are --token's publishers (token-1, token-2, …); TokensFile
	// and AdminTokensFile name the publishers' and admins' tokens files
	// (auth.Parse), read again on SIGHUP (Server.Reload).
	Tokens          []string
	TokensFile      string
	AdminTokensFile string
	Open            bool   // track any infohash, not only published ones
	RedisURL        string // share peers and catalog through Redis

	Interval     time.Duration // default announce.DefaultInterval (30m)
	MinInterval  time.Duration // default announce.DefaultMinInterval (15m)
	PeerTTL      time.Duration // default peers.DefaultPeerTTL (31m)
	NumWantMax   int           // default announce.DefaultNumWantMax (100)
	TrustIPParam bool
	// TrustedProxies are the proxies whose X-Forwarded-For is honoured.
	TrustedProxies []netip.Prefix

	Version string
	Logger  *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:6969"
	}
	if c.Interval == 0 {
		c.Interval = announce.DefaultInterval
	}
	if c.MinInterval == 0 {
		c.MinInterval = announce.DefaultMinInterval
	}
	if c.PeerTTL == 0 {
		c.PeerTTL = peers.DefaultPeerTTL
	}
	if c.NumWantMax == 0 {
		c.NumWantMax = announce.DefaultNumWantMax
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first configuration error, in words a user can act on.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); c.Listen != "" && err != nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if _, _, err := net.SplitHostPort(c.UDP); c.UDP != "" && err != nil {
		return fmt.Errorf("--udp %q: %w", c.UDP, err)
	}
	if c.PublicURL != "" {
		if _, err := parseHTTPURL(c.PublicURL); err != nil {
			return err
		}
	}
	if c.RedisURL != "" {
		if _, err := redisconn.ParseURL(c.RedisURL); err != nil {
			return fmt.Errorf("--redis: want a URL such as redis://127.0.0.1:6379/0, redis+cluster://host1:port1,host2:port2 or redis+sentinel://host1:port1,host2:port2/?master=NAME: %w", err)
		}
	}
	if c.Interval < 0 || c.MinInterval < 0 || c.PeerTTL < 0 {
		return errors.New("--interval, --min-interval and --peer-ttl must not be negative")
	}
	if c.MinInterval > c.Interval && c.Interval > 0 {
		return fmt.Errorf("--min-interval %v is longer than --interval %v", c.MinInterval, c.Interval)
	}
	if c.PeerTTL > 0 && c.Interval > 0 && c.PeerTTL <= c.Interval {
		return fmt.Errorf("--peer-ttl %v must be longer than --interval %v, or peers expire between announces", c.PeerTTL, c.Interval)
	}
	if c.NumWantMax < 0 || c.NumWantMax > 1000 {
		return fmt.Errorf("--numwant-max %d: want 1..1000", c.NumWantMax)
	}
	if _, err := auth.FlagEntries(c.Tokens); err != nil {
		return err
	}
	return nil
}

func parseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--public-url %q: want an http(s) URL such as https://tracker.example.org", s)
	}
	return u, nil
}
