package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/client/ctl"
	"github.com/peertune/peertune/client/mpris"
	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/client/stream"
	"github.com/peertune/peertune/proto"
)

// processStart is when the process started (set once, at init): the first
// track's ttfa_ms counts from here.
var processStart = time.Now()

// runPlayNetwork is play's network path: it resolves QUERY and TRACK_ID
// arguments on the tracker and streams them (head from the seed server, the
// rest from other listeners), with the terminal UI on a terminal and
// progress lines (and --json reports) otherwise.
func runPlayNetwork(ctx context.Context, cmd *cli.Command, conf *config, args []string) error {
	jsonOut := cmd.Bool("json")
	headless := jsonOut || !stdoutIsTerminal()
	spec := cmd.String("output")
	fast := cmd.Bool("fast")
	if fast && (spec == "speaker" || spec == "") {
		return usageErrorf("--fast is only for --output null or wav:FILE")
	}
	cacheDir, err := cacheDirFlag(cmd)
	if err != nil {
		return err
	}
	cacheSize, err := sizeFlagValue(cmd, "cache-size")
	if err != nil {
		return err
	}
	uploadRate, err := sizeFlagValue(cmd, "upload-rate")
	if err != nil {
		return err
	}
	if cmd.Int("max-peers") < 1 {
		return usageErrorf("--max-peers must be at least 1")
	}
	maxPeers := 0 // the stream's default: fewer once the uplink is full
	if cmd.IsSet("max-peers") {
		maxPeers = int(cmd.Int("max-peers"))
	}
	if v := cmd.Int("softvol-max"); v < 100 || v > ctl.VolumeCeiling {
		return usageErrorf("--softvol-max %d: want 100 to %d (percent)", v, ctl.VolumeCeiling)
	}
	if cmd.Duration("linger") < 0 || cmd.Duration("start") < 0 || cmd.Duration("head") < 0 {
		return usageErrorf("--linger, --start and --head must not be negative")
	}
	apiClient, err := newAPIClient(cmd.String("tracker"))
	if err != nil {
		return err
	}
	sock, err := ctl.SocketPath(cacheDir)
	if err != nil {
		return err
	}
	// One player per cache: a second play on it queues into the first.
	if queued, err := queueInRunningPlayer(ctx, sock, args, cmd.Bool("all"), cmd.Bool("album")); queued || err != nil {
		return err
	}

	// The state the last player of this cache saved, for --resume.
	statePath := filepath.Join(cacheDir, player.StateFile)
	var saved *player.Saved
	if cmd.Bool("resume") {
		s, err := player.LoadState(statePath)
		if err != nil {
			return usageErrorf("play --resume: %w", err)
		}
		saved = &s
	}

	// Resolve first: an unknown track or a dead tracker fails at once.
	var tracks []proto.Track
	if len(args) > 0 { // --resume may come alone
		if cmd.Bool("album") {
			tracks, err = player.ResolveAlbums(ctx, apiClient, args, cmd.Bool("all"))
		} else {
			tracks, err = player.Resolve(ctx, apiClient, args, cmd.Bool("all"), cachedLookup(cacheDir))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted
		}
		// An argument that is neither a file nor a track on the tracker
		// is bad input, whether the tracker said no or could not be asked.
		return usageErrorf("play: not a file, and %w", err)
	}

	// The terminal UI owns the terminal: logs go to a file in the cache.
	logOut := io.Writer(os.Stderr)
	if !headless {
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			return fmt.Errorf("creating cache %s: %w", cacheDir, err)
		}
		f, err := os.OpenFile(filepath.Join(cacheDir, "player.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("opening the player log: %w", err)
		}
		defer f.Close()
		logOut = f
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmd.String("log-level"))); err != nil {
		return usageErrorf("--log-level %q: want debug, info, warn or error", cmd.String("log-level"))
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: level}))

	out, err := audio.NewOutput(spec)
	if err != nil {
		return usageErrorf("--output: %w", err)
	}
	defer out.Close()
	ap, err := audio.NewPlayer(out, audio.PlayerOptions{Fast: fast})
	if err != nil {
		return usageErrorf("%w", err)
	}

	sc, err := stream.New(stream.Config{
		CacheDir:       cacheDir,
		CacheSize:      cacheSize,
		ListenAddr:     cmd.String("bt-listen"),
		UploadRate:     uploadRate,
		NoUploadPacing: cmd.Bool("no-upload-pacing"),
		MaxPeers:       maxPeers,
		UPnP:           cmd.Bool("upnp"),
		NoTCP:          cmd.Bool("no-tcp"),
		NoUTP:          cmd.Bool("no-utp"),
		Logger:         log,
		Policy:         stream.Policy{Head: cmd.Duration("head")},
	})
	if errors.Is(err, stream.ErrCacheInUse) {
		return fmt.Errorf("%w: give each player its own --cache", err)
	}
	if err != nil {
		return err
	}
	defer sc.Close()

	var outMu sync.Mutex
	p, err := player.New(player.Config{
		API:       apiClient,
		Stream:    sc,
		Audio:     ap,
		Start:     cmd.Duration("start"),
		Began:     processStart,
		Keep:      !headless,
		MaxVolume: float64(cmd.Int("softvol-max")) / 100,
		Logger:    log,
		OnReport: func(r player.Report) {
			if !jsonOut {
				if headless {
					fmt.Fprintf(os.Stderr, "played %s: %s\n", trackName(r.Track), reportSummary(r))
				}
				return
			}
			line, _ := json.Marshal(networkReport(r))
			outMu.Lock()
			fmt.Fprintln(os.Stdout, string(line))
			outMu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	p.Add(tracks...)
	if saved != nil {
		p.Restore(*saved)
	}
	// Saved on the way out, whatever the way: quit, Ctrl-C, SIGTERM, the
	// queue's end.
	defer func() {
		if err := player.SaveState(statePath, p.Saved()); err != nil {
			log.Warn("the player's state is not saved", "err", err)
		}
	}()

	if ln, err := ctl.Listen(sock); err != nil {
		log.Warn("no remote control for this player", "err", err)
	} else {
		resolve := func(ctx context.Context, args []string, all, album bool) ([]proto.Track, error) {
			if album {
				return player.ResolveAlbums(ctx, apiClient, args, all)
			}
			return player.Resolve(ctx, apiClient, args, all, cachedLookup(cacheDir))
		}
		cctx, stopCtl := context.WithCancel(ctx)
		ctlDone := make(chan error, 1)
		go func() { ctlDone <- ctl.Serve(cctx, ln, player.Control(p, resolve)) }()
		defer func() {
			stopCtl()
			if err := <-ctlDone; err != nil {
				log.Warn("remote control", "err", err)
			}
		}()
	}

	mprisOn := !headless // a terminal player's default
	if cmd.IsSet("mpris") {
		mprisOn = cmd.Bool("mpris")
	}
	if mprisOn {
		srv, err := mpris.Start(p, log)
		if err != nil {
			// Said once (the log is stderr when headless, a file with
			// the UI): the player runs on without it.
			msg := "MPRIS off: " + err.Error()
			log.Warn(msg)
			if !headless {
				p.Notify(msg)
			}
		} else {
			log.Info("on the session bus", "name", srv.Name())
			defer srv.Close()
		}
	}

	if !headless {
		keys, err := conf.keys() // checked before any command ran
		if err != nil {
			return err
		}
		return runTUI(ctx, p, apiClient, keys)
	}

	pctx, stopProgress := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		player.PrintProgress(pctx, p, os.Stderr, 2*time.Second)
	}()
	runErr := p.Run(ctx)
	stopProgress()
	wg.Wait()
	if runErr != nil {
		var failed *player.TracksFailedError
		if ctx.Err() != nil && !errors.As(runErr, &failed) {
			return interrupted(ctx) // a clean stop
		}
		return runErr
	}
	if linger := cmd.Duration("linger"); linger > 0 {
		fmt.Fprintf(os.Stderr, "queue done; sharing %d cached tracks for %v\n", len(sc.Streams()), linger)
		select {
		case <-ctx.Done():
		case <-time.After(linger):
		}
	}
	return interrupted(ctx)
}

// queueInRunningPlayer hands args to the player already running on the
// cache of sock, if one answers there: it queues their best matches (every
// match with all) and says what it took.
func queueInRunningPlayer(ctx context.Context, sock string, args []string, all, album bool) (bool, error) {
	rep, err := ctl.Call(ctx, sock, ctl.Request{Verb: ctl.VerbQueue, Args: args, All: all, Album: album})
	var refused *ctl.RefusedError
	switch {
	case errors.As(err, &refused):
		return true, usageErrorf("play: the player running on this cache could not queue it: %w", err)
	case err != nil:
		return false, nil // no player answers here: this one plays
	}
	for _, t := range rep.Added {
		fmt.Fprintf(os.Stderr, "queued %s in the player running on this cache\n", trackName(t))
	}
	return true, nil
}

// runTUI runs the queue beside the terminal UI; the player keeps sharing
// after the queue ends until the user quits.
func runTUI(ctx context.Context, p *player.Player, catalog *api.Client, keys map[string][]string) error {
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	var runErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		runErr = p.Run(rctx)
		if runErr != nil && rctx.Err() == nil {
			p.Notify("stopped: " + runErr.Error())
		}
	}()
	err := player.RunTUI(ctx, p, player.TUIOptions{
		Search: func(ctx context.Context, q string) ([]proto.Track, error) {
			list, err := catalog.Search(ctx, q, player.SearchLimit, 0)
			return list.Tracks, err
		},
		Catalog: catalog,
		Keys:    keys,
	})
	stop()
	<-done
	if errors.Is(err, player.ErrInterrupted) {
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			fmt.Fprintf(os.Stderr, "peertune: %v\n", runErr)
		}
		return cli.Exit("", exitInterrupted)
	}
	if err != nil {
		return err
	}
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	return interrupted(ctx)
}

// cachedLookup finds a track in the cache, for playing a track id while the
// tracker is down.
func cachedLookup(dir string) player.CachedFunc {
	return func(id string) (proto.Track, bool) {
		ents, err := stream.ListCache(dir)
		if err != nil {
			return proto.Track{}, false
		}
		for _, e := range ents {
			if e.Track.ID == id {
				return e.Track, true
			}
		}
		return proto.Track{}, false
	}
}

func networkReport(r player.Report) proto.PlayReport {
	return proto.PlayReport{
		Track:              r.Track.ID,
		TTFAms:             float64(r.TTFA.Microseconds()) / 1000,
		Underruns:          r.Underruns,
		UnderrunMs:         float64(r.UnderrunTotal.Microseconds()) / 1000,
		BytesSeedHead:      r.Stats.BytesSeedHead,
		BytesSeedEmergency: r.Stats.BytesSeedEmergency,
		BytesSeedBT:        r.Stats.BytesSeedBT,
		BytesSeedFill:      r.Stats.BytesSeedFill,
		BytesPeers:         r.Stats.BytesPeers,
		BytesPeersWire:     r.Stats.BytesPeersWire,
		BytesCache:         r.Stats.BytesCache,
		PeersSeen:          r.Stats.PeersSeen,
		PlayedS:            r.Played.Seconds(),
		Connections:        r.Stats.Conns,
	}
}

func trackName(t proto.Track) string {
	if t.Artist != "" {
		return t.Artist + " – " + t.Title
	}
	return t.Title
}

func reportSummary(r player.Report) string {
	st := r.Stats
	return fmt.Sprintf("%.1fs played, first audio after %dms, %d underruns; seed head %s, emergency %s, fill %s, seed BT %s, peers %s, cache %s",
		r.Played.Seconds(), r.TTFA.Milliseconds(), r.Underruns,
		player.SizeText(st.BytesSeedHead), player.SizeText(st.BytesSeedEmergency), player.SizeText(st.BytesSeedFill), player.SizeText(st.BytesSeedBT),
		player.SizeText(st.BytesPeers), player.SizeText(st.BytesCache))
}
