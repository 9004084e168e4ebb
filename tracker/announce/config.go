package announce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// Defaults of Config.
const (
	DefaultInterval       = 30 * time.Minute
	DefaultMinInterval    = 15 * time.Minute
	DefaultNumWant        = 50
	DefaultNumWantMax     = 100
	MaxScrapeHashesHTTP   = 50
	maxAnnounceQueryBytes = 2 << 10
	maxScrapeQueryBytes   = 4 << 10 // 50 info_hash of up to 70 bytes each
)

// TrackedFunc reports whether the tracker serves a torrent (by default: the
// catalog holds it), or whether it was taken down. It is called once per
// announce and once per scraped infohash, so it should be fast.
type TrackedFunc func(ctx context.Context, ih peers.InfoHash) (bool, error)

// TakenDownReason is the failure reason (HTTP) or error message (UDP) of an
// announce or scrape of a torrent that was taken down.
const TakenDownReason = "torrent taken down: the tracker's admins removed it and refuse its swarm"

// Config configures the HTTP and UDP frontends.
type Config struct {
	// Store holds the swarms. Required.
	Store peers.PeerStore
	// Tracked decides which infohashes are served. Required unless Open.
	Tracked TrackedFunc
	// Open serves every infohash (--open); Tracked is then ignored.
	Open bool
	// TakenDown, if set, reports the infohashes taken down (the deny
	// list): their announces and scrapes fail with TakenDownReason, also
	// when Open.
	TakenDown TrackedFunc
	// Interval and MinInterval are told to clients (default 30m and 15m).
	Interval, MinInterval time.Duration
	// NumWantDefault is the peers given when the client does not say
	// (default 50); NumWantMax caps what it asks for (default 100).
	NumWantDefault, NumWantMax int
	// TrustIPParam honours the client's ip= (HTTP) or IP field (UDP).
	TrustIPParam bool
	// TrustedProxies are the remote addresses whose X-Forwarded-For and
	// X-Real-IP headers are believed (HTTP only).
	TrustedProxies []netip.Prefix
	// Logger gets server-side errors (default slog.Default()).
	Logger *slog.Logger
	// Metrics, if not nil, counts requests (see NewMetrics).
	Metrics *Metrics
	// Now is the clock for UDP connection ids (default time.Now).
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.Store == nil {
		return c, errors.New("announce: no peer store")
	}
	if c.Tracked == nil && !c.Open {
		return c, errors.New("announce: no Tracked hook and not open")
	}
	if c.Open {
		c.Tracked = nil
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.Interval < time.Second || c.MinInterval < time.Second || c.MinInterval > c.Interval {
		return c, fmt.Errorf("announce: interval %v / min interval %v: want 1s <= min interval <= interval", c.Interval, c.MinInterval)
	}
	if c.NumWantDefault == 0 {
		c.NumWantDefault = DefaultNumWant
	}
	if c.NumWantMax == 0 {
		c.NumWantMax = DefaultNumWantMax
	}
	if c.NumWantDefault < 0 || c.NumWantMax < 0 || c.NumWantMax > 1000 {
		return c, fmt.Errorf("announce: numwant default %d / max %d out of range (max at most 1000)", c.NumWantDefault, c.NumWantMax)
	}
	c.NumWantDefault = min(c.NumWantDefault, c.NumWantMax)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// numWant turns the client's request (negative: not given) into a count.
func (c *Config) numWant(asked int64) int {
	if asked < 0 {
		return c.NumWantDefault
	}
	return int(min(asked, int64(c.NumWantMax)))
}

// serves says whether the tracker serves ih: resultOK, resultUnregistered
// or resultTakenDown. A tracked infohash is not asked about again (a taken
// down track is not in the catalog); under Open every one is, since any
// infohash is served.
func (c *Config) serves(ctx context.Context, ih peers.InfoHash) (int, error) {
	if c.Tracked != nil {
		ok, err := c.Tracked(ctx, ih)
		if err != nil {
			return resultError, fmt.Errorf("tracked check: %w", err)
		}
		if ok {
			return resultOK, nil
		}
	}
	if c.TakenDown != nil {
		down, err := c.TakenDown(ctx, ih)
		if err != nil {
			return resultError, fmt.Errorf("deny list check: %w", err)
		}
		if down {
			return resultTakenDown, nil
		}
	}
	if c.Tracked == nil {
		return resultOK, nil
	}
	return resultUnregistered, nil
}

// isLocal reports whether store says it answers from memory (peers.Local),
// so that a frontend may call it on its accept or read loop.
func isLocal(store peers.PeerStore) bool {
	l, ok := store.(peers.Local)
	return ok && l.Local()
}
