package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/tracker"
	"github.com/peertune/peertune/tracker/announce"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/peers"
)

func trackerCommand(conf *config) *cli.Command {
	const name = "tracker"
	return &cli.Command{
		Name:  name,
		Usage: "run the tracker: BitTorrent announce and scrape (HTTP, UDP) and the track catalog",
		Description: "The tracker keeps the catalog of published tracks and, per track, the swarm of\n" +
			"listeners that hold it. --listen serves announce, scrape, the catalog API (/api/v1/…),\n" +
			"/metrics, /healthz, /readyz and, on every other path, the web page (search, artists,\n" +
			"albums, each track's swarm); --udp serves the BEP 15 tracker.\n\n" +
			"Publishers and admins are named in tokens files (--tokens, --admin-tokens): one\n" +
			"\"name token\" per line, # comments, mode 0600 or 0400. SIGHUP reads them again.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:6969", Usage: "HTTP address: announce, scrape, catalog API, metrics, the web page", Sources: conf.sources(name, "listen")},
			&cli.StringFlag{Name: "udp", Value: "127.0.0.1:6969", Usage: `UDP tracker address (BEP 15); "" disables it`, Sources: conf.sources(name, "udp")},
			&cli.StringFlag{Name: "public-url", Usage: "base URL the tracker advertises in its announce URLs (default: http:// + --listen)", Sources: conf.sources(name, "public-url")},
			&cli.StringFlag{Name: "data", Usage: "directory of the catalog (default: $XDG_STATE_HOME/peertune/tracker)", Sources: conf.sources(name, "data")},
			&cli.StringSliceFlag{Name: "token", Usage: "a publisher's bearer token (named token-1, token-2, …); repeatable; with no --token and no --tokens, publishing is refused", Sources: conf.sources(name, "token", "PEERTUNE_TOKEN")},
			&cli.StringFlag{Name: "tokens", Usage: "`FILE` of publishers, one \"name token\" per line (mode 0600 or 0400); SIGHUP reloads it", Sources: conf.sources(name, "tokens")},
			&cli.StringFlag{Name: "admin-tokens", Usage: "`FILE` of admins, who take tracks down and keep the deny list; same format, reloaded with --tokens", Sources: conf.sources(name, "admin-tokens")},
			&cli.BoolFlag{Name: "open", Usage: "track any infohash, not only the catalog's (a public tracker)", Sources: conf.sources(name, "open")},
			&cli.StringFlag{Name: "redis", Usage: "keep peers and catalog in Redis to run several trackers: redis://host:port/db, a cluster redis+cluster://host1:port1,host2:port2,… or Sentinels redis+sentinel://host1:port1,…/?master=NAME", Sources: conf.sources(name, "redis")},
			&cli.DurationFlag{Name: "interval", Value: announce.DefaultInterval, Usage: "announce interval told to clients", Sources: conf.sources(name, "interval")},
			&cli.DurationFlag{Name: "min-interval", Value: announce.DefaultMinInterval, Usage: "minimum announce interval told to clients", Sources: conf.sources(name, "min-interval")},
			&cli.DurationFlag{Name: "peer-ttl", Value: peers.DefaultPeerTTL, Usage: "a peer silent this long leaves the swarm", Sources: conf.sources(name, "peer-ttl")},
			&cli.IntFlag{Name: "numwant-max", Value: announce.DefaultNumWantMax, Usage: "most peers in one announce reply (default reply: 50)", Sources: conf.sources(name, "numwant-max")},
			&cli.BoolFlag{Name: "trust-ip-param", Usage: "use the announce's ip= parameter as the peer's address", Sources: conf.sources(name, "trust-ip-param")},
			&cli.StringSliceFlag{Name: "trusted-proxy", Usage: "CIDR of a proxy whose X-Forwarded-For is honoured; repeatable", Sources: conf.sources(name, "trusted-proxy")},
			logJSONFlag(conf, name),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Present() {
				return usageErrorf("tracker takes no arguments, got %q", cmd.Args().Slice())
			}
			cfg := tracker.Config{
				Listen:          cmd.String("listen"),
				UDP:             cmd.String("udp"),
				PublicURL:       cmd.String("public-url"),
				DataDir:         cmd.String("data"),
				Tokens:          cmd.StringSlice("token"),
				TokensFile:      cmd.String("tokens"),
				AdminTokensFile: cmd.String("admin-tokens"),
				Open:            cmd.Bool("open"),
				RedisURL:        cmd.String("redis"),
				Interval:        cmd.Duration("interval"),
				MinInterval:     cmd.Duration("min-interval"),
				PeerTTL:         cmd.Duration("peer-ttl"),
				NumWantMax:      cmd.Int("numwant-max"),
				TrustIPParam:    cmd.Bool("trust-ip-param"),
				Version:         version,
				Logger:          newLogger(cmd.Bool("log-json")),
			}
			for _, s := range cmd.StringSlice("trusted-proxy") {
				p, err := netip.ParsePrefix(s)
				if err != nil {
					a, aerr := netip.ParseAddr(s)
					if aerr != nil {
						return usageErrorf("--trusted-proxy %q: want a CIDR such as 10.0.0.0/8: %w", s, err)
					}
					p = netip.PrefixFrom(a, a.BitLen())
				}
				cfg.TrustedProxies = append(cfg.TrustedProxies, p.Masked())
			}
			if cfg.DataDir == "" {
				dir, err := defaultStateDir()
				if err != nil {
					return err
				}
				cfg.DataDir = filepath.Join(dir, "tracker")
			}
			if err := cfg.Validate(); err != nil {
				return usageError{err}
			}
			err := tracker.Run(ctx, cfg)
			var bad *auth.LoadError
			if errors.As(err, &bad) {
				return usageError{err}
			}
			return err
		},
	}
}

// defaultStateDir is $XDG_STATE_HOME/peertune, or ~/.local/state/peertune.
func defaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "peertune"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no state directory: set XDG_STATE_HOME or HOME: %w", err)
	}
	return filepath.Join(home, ".local", "state", "peertune"), nil
}
