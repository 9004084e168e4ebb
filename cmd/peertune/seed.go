package main

import (
	"context"
	"net"
	"os"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/client/seeder"
)

func seedCommand(conf *config) *cli.Command {
	const name = "seed"
	return &cli.Command{
		Name:      name,
		Usage:     "publish a music folder to the tracker, serve it as an HTTP seed and over BitTorrent",
		ArgsUsage: "DIR",
		Description: "Scans DIR for mp3, flac, ogg and wav files, hashes each into its own torrent (unchanged\n" +
			"files are not hashed again), publishes them to the tracker's catalog, serves them over HTTP\n" +
			"(with /metrics and /healthz on the same address) and seeds them over BitTorrent.",
		Flags: []cli.Flag{
			trackerURLFlag(conf, name),
			&cli.StringFlag{Name: "token", Usage: "bearer token for publishing (one of the tracker's --token)", Sources: conf.sources(name, "token", "PEERTUNE_TOKEN")},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:7070", Usage: "HTTP seed address (also /metrics, /healthz)", Sources: conf.sources(name, "listen")},
			&cli.StringFlag{Name: "public-url", Usage: "base of the published seed URLs (default: http:// + --listen)", Sources: conf.sources(name, "public-url")},
			&cli.StringFlag{Name: "bt-listen", Value: ":0", Usage: "BitTorrent listen address", Sources: conf.sources(name, "bt-listen")},
			&cli.StringFlag{Name: "upload-rate", Usage: "cap on HTTP + BitTorrent upload, bytes per second (e.g. 512KiB); default: no cap", Sources: conf.sources(name, "upload-rate")},
			&cli.BoolFlag{Name: "watch", Usage: "publish new and changed files, unpublish removed ones, as they happen", Sources: conf.sources(name, "watch")},
			&cli.DurationFlag{Name: "catalog-check", Value: seeder.DefaultCatalogCheck, Usage: "how often to ask the tracker whether the published tracks are still listed: a track taken down is no longer seeded, one the catalog lost is published again; 0: never", Sources: conf.sources(name, "catalog-check")},
			&cli.BoolFlag{Name: "no-http", Usage: "publish only: do not serve HTTP; seed URLs point at --public-url", Sources: conf.sources(name, "no-http")},
			&cli.BoolFlag{Name: "no-bt", Usage: "do not seed over BitTorrent", Sources: conf.sources(name, "no-bt")},
			&cli.BoolFlag{Name: "upnp", Usage: "ask the router for a port mapping (UPnP/NAT-PMP)", Sources: conf.sources(name, "upnp")},
			&cli.BoolFlag{Name: "no-tcp", Usage: "seed over uTP only", Sources: conf.sources(name, "no-tcp")},
			&cli.BoolFlag{Name: "no-utp", Usage: "seed over TCP only; the seeder then relays no hole punch between listeners behind NAT", Sources: conf.sources(name, "no-utp")},
			logJSONFlag(conf, name),
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 1 {
				return usageErrorf("seed takes one folder, got %q", cmd.Args().Slice())
			}
			dir := cmd.Args().First()
			if st, err := os.Stat(dir); err != nil || !st.IsDir() {
				return usageErrorf("seed: %q is not a folder", dir)
			}
			rate, err := sizeFlagValue(cmd, "upload-rate")
			if err != nil {
				return err
			}
			if cmd.Bool("no-http") && cmd.String("public-url") == "" {
				return usageErrorf("--no-http needs --public-url (the server that has the files)")
			}
			if u := cmd.String("public-url"); u != "" {
				if err := seeder.CheckPublicURL(u); err != nil {
					return usageErrorf("--public-url: %w", err)
				}
			}
			for _, f := range []string{"listen", "bt-listen"} {
				if _, _, err := net.SplitHostPort(cmd.String(f)); err != nil {
					return usageErrorf("--%s %q: %w", f, cmd.String(f), err)
				}
			}
			if cmd.String("token") == "" {
				return usageErrorf("seed needs --token (or PEERTUNE_TOKEN) to publish")
			}
			client, err := api.New(cmd.String("tracker"), api.WithToken(cmd.String("token")))
			if err != nil {
				return usageErrorf("--tracker: %w", err)
			}
			log := newLogger(cmd.Bool("log-json"))
			s, err := seeder.New(seeder.Config{
				Dir:          dir,
				API:          client,
				Listen:       cmd.String("listen"),
				PublicURL:    cmd.String("public-url"),
				BTListen:     cmd.String("bt-listen"),
				UploadRate:   rate,
				Watch:        cmd.Bool("watch"),
				CatalogCheck: catalogCheck(cmd.Duration("catalog-check")),
				NoHTTP:       cmd.Bool("no-http"),
				NoBT:         cmd.Bool("no-bt"),
				UPnP:         cmd.Bool("upnp"),
				NoTCP:        cmd.Bool("no-tcp"),
				NoUTP:        cmd.Bool("no-utp"),
				ProgressBar:  term.IsTerminal(int(os.Stderr.Fd())) && !cmd.Bool("log-json"),
				Log:          log,
			})
			if err != nil {
				return err
			}
			return s.Run(ctx)
		},
	}
}

// catalogCheck maps --catalog-check to seeder.Config.CatalogCheck, where 0
// means the default: the flag's 0 turns the check off.
func catalogCheck(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
