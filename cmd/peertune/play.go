package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/client/stream"
	"github.com/peertune/peertune/proto"
)

func playCommand(conf *config) *cli.Command {
	const name = "play"
	return &cli.Command{
		Name:      name,
		Usage:     "stream tracks from the tracker's catalog (QUERY or TRACK_ID), or play local files",
		ArgsUsage: "QUERY|TRACK_ID|FILE...",
		Description: "Each QUERY plays its best match in the tracker's catalog (--all: every match); a\n" +
			"TRACK_ID (40 hex) plays that track; with --album each QUERY plays an album in track order. The head of a track comes from the seed server, the\n" +
			"rest from other listeners; played tracks stay in the cache and are shared. On a terminal\n" +
			"a terminal UI runs (? for its keys) and keeps sharing until q; otherwise a progress line\n" +
			"goes to stderr every few seconds and play exits when its queue ends (--linger keeps it sharing).\n" +
			"An argument that names an existing file plays that file through the audio engine\n" +
			"(mp3, flac, ogg/vorbis, wav), with no network. --output picks where the sound goes;\n" +
			"every output is paced to real time unless --fast (null and wav only). With --json one\n" +
			"JSON report per track is printed on stdout when the track ends.",
		Flags: []cli.Flag{
			trackerURLFlag(conf, name),
			&cli.StringFlag{Name: "cache", Usage: "cache folder (default: the user's cache directory/peertune)", Sources: conf.sources(name, "cache")},
			&cli.StringFlag{Name: "log-level", Value: "warn", Usage: "least level logged to stderr (or the terminal UI's player.log): debug, info, warn or error; debug traces the source policy's fetches", Sources: conf.sources(name, "log-level")},
			&cli.StringFlag{Name: "cache-size", Usage: "cache size cap, e.g. 2GiB (default 2GiB)", Sources: conf.sources(name, "cache-size")},
			&cli.StringFlag{Name: "bt-listen", Value: ":0", Usage: "BitTorrent listen address (streaming)", Sources: conf.sources(name, "bt-listen")},
			&cli.StringFlag{Name: "output", Value: "speaker", Usage: "speaker, null or wav:FILE (16-bit PCM at the source's rate and channels; tracks appended)", Sources: conf.sources(name, "output")},
			&cli.BoolFlag{Name: "fast", Usage: "do not pace to real time (null and wav outputs only)", Sources: conf.sources(name, "fast")},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON report per track on stdout", Sources: conf.sources(name, "json")},
			&cli.DurationFlag{Name: "head", Value: policy.DefaultParams.Head, Usage: "audio fetched from the seed server first (streaming)", Sources: conf.sources(name, "head")},
			&cli.DurationFlag{Name: "start", Usage: "start each track at this position (e.g. 1m30s)", Sources: conf.sources(name, "start")},
			&cli.BoolFlag{Name: "all", Usage: "play every track that matches QUERY (streaming; with --album every album)", Sources: conf.sources(name, "all")},
			&cli.BoolFlag{Name: "album", Usage: "each QUERY names an album (words of its artist or name; or an ALBUM_ID): play the best match's tracks in order (streaming)", Sources: conf.sources(name, "album")},
			&cli.DurationFlag{Name: "linger", Usage: "keep serving peers this long after the last track (streaming)", Sources: conf.sources(name, "linger")},
			&cli.StringFlag{Name: "upload-rate", Usage: "cap on upload to peers, bytes per second (streaming); under it the pacer finds the line's rate", Sources: conf.sources(name, "upload-rate")},
			&cli.BoolFlag{Name: "no-upload-pacing", Usage: "upload as fast as the sockets take it, not just under the line's rate (streaming)", Sources: conf.sources(name, "no-upload-pacing")},
			&cli.IntFlag{Name: "max-peers", Value: stream.DefaultMaxPeers, Usage: fmt.Sprintf("BitTorrent connections per track, the seed server's included: anacrolix splits the upload evenly over all of them; unset, %d once the upload pacer finds the uplink full (streaming)", stream.SlowLineMaxPeers), Sources: conf.sources(name, "max-peers")},
			&cli.BoolFlag{Name: "upnp", Usage: "ask the router for a port mapping (streaming)", Sources: conf.sources(name, "upnp")},
			&cli.IntFlag{Name: "softvol-max", Value: 100, Usage: "the highest volume in percent, 100 to 400: above 100 the player amplifies, and loud tracks clip", Sources: conf.sources(name, "softvol-max")},
			&cli.BoolFlag{Name: "resume", Usage: "go on where the last player of this cache stopped: its queue, track and position, volume, shuffle and repeat (QUERY arguments are queued after them)", Sources: conf.sources(name, "resume")},
			&cli.BoolFlag{Name: "mpris", Usage: "register on the session D-Bus as an MPRIS player, for media keys and playerctl (default: with the terminal UI; --mpris=false turns it off)", Sources: conf.sources(name, "mpris")},
			&cli.BoolFlag{Name: "no-tcp", Usage: "BitTorrent over uTP only (streaming)", Sources: conf.sources(name, "no-tcp")},
			&cli.BoolFlag{Name: "no-utp", Usage: "BitTorrent over TCP only; a listener behind NAT then cannot be reached by hole punching (streaming)", Sources: conf.sources(name, "no-utp")},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error { return runPlay(ctx, cmd, conf) },
	}
}

func runPlay(ctx context.Context, cmd *cli.Command, conf *config) error {
	args := cmd.Args().Slice()
	if len(args) == 0 && !cmd.Bool("resume") {
		return usageErrorf("play needs a QUERY, TRACK_ID or FILE (or --resume)")
	}
	// Arguments that name existing files play locally; anything else is
	// resolved on the tracker. A mix is refused: one path or the other.
	files := 0
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.Mode().IsRegular() {
			files++
		}
	}
	if files == 0 {
		return runPlayNetwork(ctx, cmd, conf, args)
	}
	if cmd.Bool("album") {
		return usageErrorf("--album plays albums from the tracker, not local files")
	}
	if cmd.Bool("resume") {
		return usageErrorf("--resume goes on with the last queue from the tracker, not with local files")
	}
	if files != len(args) {
		return usageErrorf("play: give either local files or tracker queries and track ids, not both")
	}
	spec := cmd.String("output")
	fast := cmd.Bool("fast")
	if fast && (spec == "speaker" || spec == "") {
		return usageErrorf("--fast is only for --output null or wav:FILE")
	}
	out, err := audio.NewOutput(spec)
	if err != nil {
		return usageErrorf("--output: %w", err)
	}
	player, err := audio.NewPlayer(out, audio.PlayerOptions{Fast: fast})
	if err != nil {
		out.Close()
		return usageErrorf("%w", err)
	}
	jsonOut := cmd.Bool("json")
	var playErr error
	var failed []error // files skipped as bad input, as cmus and mpv go on
	for _, path := range args {
		rep, err := playFile(ctx, player, path, cmd.Duration("start"), !jsonOut)
		if err != nil {
			if ctx.Err() != nil {
				playErr = interrupted(ctx) // a signal stopped it: 130 after Ctrl-C, else a clean stop
				break
			}
			var ue usageError
			if !errors.As(err, &ue) || len(args) == 1 {
				playErr = err // the output failed (or the only file): nothing else would play
				break
			}
			fmt.Fprintf(os.Stderr, "peertune: skipping %s: %v\n", path, err)
			failed = append(failed, err)
			continue
		}
		if jsonOut {
			line, _ := json.Marshal(rep)
			fmt.Fprintln(os.Stdout, string(line))
		}
	}
	if err := out.Close(); err != nil && playErr == nil {
		playErr = err
	}
	if playErr == nil && len(failed) > 0 {
		// Bad input, as for one file: exit 2, once the rest has played.
		playErr = usageErrorf("%d of %d files could not be played; the first: %w", len(failed), len(args), failed[0])
	}
	return playErr
}

// playFile plays one local file and returns its report.
func playFile(ctx context.Context, p *audio.Player, path string, start time.Duration, progress bool) (proto.PlayReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return proto.PlayReport{}, usageErrorf("play: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return proto.PlayReport{}, fmt.Errorf("play: %w", err)
	}
	tr, err := audio.Open(ctx, f, audio.Meta{Name: filepath.Base(path), Codec: audio.CodecFromName(path), Size: st.Size()})
	if err != nil && errors.Is(err, context.Canceled) {
		return proto.PlayReport{}, err
	}
	if err != nil {
		// Decide by content, not by name, before calling it bad input.
		if _, serr := f.Seek(0, io.SeekStart); serr == nil {
			tr, err = audio.Open(ctx, f, audio.Meta{Name: filepath.Base(path), Size: st.Size()})
		}
		if err != nil {
			return proto.PlayReport{}, usageErrorf("play: %w", err)
		}
	}
	defer tr.Close()
	if start > 0 {
		if start >= tr.Duration() {
			return proto.PlayReport{}, usageErrorf("--start %v is past the end of %s (%v)", start, path, tr.Duration().Round(time.Millisecond))
		}
		if err := tr.SeekTime(start); err != nil {
			return proto.PlayReport{}, usageErrorf("play: %w", err)
		}
	}
	stopProgress := func() {}
	if progress {
		stopProgress = showProgress(p, filepath.Base(path), tr.Duration())
	}
	rep, err := p.Play(ctx, tr)
	stopProgress()
	if err != nil {
		if ctx.Err() == nil && !isOutputError(err) {
			// A decoding failure: the file is bad input.
			return proto.PlayReport{}, usageErrorf("play: %w", err)
		}
		return proto.PlayReport{}, fmt.Errorf("play %s: %w", path, err)
	}
	return proto.PlayReport{
		Track:      path,
		TTFAms:     float64(rep.TTFA.Microseconds()) / 1000,
		Underruns:  len(rep.Underruns),
		UnderrunMs: float64(rep.UnderrunTotal.Microseconds()) / 1000,
		PlayedS:    rep.Played.Seconds(),
	}, nil
}

func isOutputError(err error) bool {
	var oe *audio.OutputError
	return errors.As(err, &oe)
}

// showProgress prints "name  M:SS / M:SS" to stderr once a second (in
// place on a terminal) until the returned function is called.
func showProgress(p *audio.Player, name string, total time.Duration) (stop func()) {
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				if tty {
					fmt.Fprintln(os.Stderr)
				}
				return
			case <-tick.C:
				st := p.Status()
				line := fmt.Sprintf("%s  %s / %s", name, clockText(st.Position), clockText(total))
				if st.Underruns > 0 {
					line += fmt.Sprintf("  %d underruns", st.Underruns)
				}
				if tty {
					fmt.Fprintf(os.Stderr, "\r%s\033[K", line)
				} else {
					fmt.Fprintln(os.Stderr, line)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// clockText formats a duration as M:SS.
func clockText(d time.Duration) string {
	s := int(d.Round(time.Second).Seconds())
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
