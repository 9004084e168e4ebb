package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/client/ctl"
	"github.com/peertune/peertune/client/player"
)

// ctlCommand is `peertune ctl VERB`: the remote control of the running
// player of a cache, as cmus-remote is cmus's.
func ctlCommand(conf *config) *cli.Command {
	const name = "ctl"
	flags := func(extra ...cli.Flag) []cli.Flag {
		return append([]cli.Flag{
			&cli.StringFlag{Name: "cache", Usage: "the cache folder of the player to control (default: the user's cache directory/peertune)", Sources: ctlCacheSources(conf)},
			&cli.BoolFlag{Name: "json", Usage: "print the player's status (or what queue added) as JSON", Sources: conf.sources(name, "json")},
		}, extra...)
	}
	verb := func(v, usage, args string, extra ...cli.Flag) *cli.Command {
		return &cli.Command{Name: v, Usage: usage, ArgsUsage: args, Flags: flags(extra...), Action: runCtl}
	}
	return &cli.Command{
		Name:  name,
		Usage: "control the running player of a cache: status, pause, play, next, seek, volume, queue…",
		Description: "A running `peertune play` listens on a control socket of its cache; ctl talks to it.\n" +
			"Without --json, status prints a line for people and the other verbs print nothing.",
		Flags: flags(),
		Commands: []*cli.Command{
			verb(ctl.VerbStatus, "what the player is doing (--json: state, track, position_s, duration_s, volume, queue)", ""),
			verb(ctl.VerbPause, "pause", ""),
			verb(ctl.VerbPlay, "resume, or start again after stop", ""),
			verb(ctl.VerbToggle, "pause or resume", ""),
			verb(ctl.VerbNext, "skip to the next track", ""),
			verb(ctl.VerbPrev, "go back to the previous track", ""),
			verb(ctl.VerbStop, "stop at the current track (play starts it again)", ""),
			seekVerb(verb(ctl.VerbSeek, "seek: +10s and -5 move, 1:30 or 90s go to a position (flags before the verb: ctl --json seek -5)", "[+|-]DURATION")),
			verb(ctl.VerbVolume, "set the volume in percent, 0-100 (up to the player's --softvol-max, at most 400)", "PERCENT"),
			verb(ctl.VerbQueue, "queue the best match of each query or track id (every match with --all); none: list the queue", "[QUERY|TRACK_ID…]",
				&cli.BoolFlag{Name: "all", Usage: "queue every match of a query, not only the best", Sources: conf.sources(name, "all")},
				&cli.BoolFlag{Name: "album", Usage: "the queries name albums: queue each one's tracks in order", Sources: conf.sources(name, "album")}),
			verb(ctl.VerbClear, "empty the queue after the current track", ""),
			verb(ctl.VerbShuffle, "shuffle the tracks after the current one, or put them back in order (none: toggle)", "[on|off|toggle]"),
			verb(ctl.VerbRepeat, "at a track's end: go on (off), play it again (one), start the queue over after the last (all); none: the next mode", "[off|one|all]"),
		},
		Action: func(context.Context, *cli.Command) error {
			return usageErrorf("ctl needs a verb: status, pause, play, toggle, next, prev, stop, seek, volume, queue, clear, shuffle or repeat")
		},
	}
}

// ctlCacheSources: ctl finds the player's cache where play does, unless
// told otherwise in ctl's own variable or section.
func ctlCacheSources(conf *config) cli.ValueSourceChain {
	chain := conf.sources("ctl", "cache", "PEERTUNE_PLAY_CACHE")
	chain.Chain = append(chain.Chain, conf.source("play", "cache"))
	return chain
}

// seekVerb reads its arguments unparsed: "-5" is a position, not a flag.
func seekVerb(c *cli.Command) *cli.Command {
	c.SkipFlagParsing = true
	return c
}

func runCtl(ctx context.Context, cmd *cli.Command) error {
	dir, err := cacheDirFlag(cmd)
	if err != nil {
		return err
	}
	req := ctl.Request{Verb: cmd.Name, Args: cmd.Args().Slice(), All: cmd.Bool("all"), Album: cmd.Bool("album")}
	if err := req.Check(); err != nil {
		return usageErrorf("ctl %w", err)
	}
	path, err := ctl.SocketPath(dir)
	if err != nil {
		return err
	}
	rep, err := ctl.Call(ctx, path, req)
	if errors.Is(err, ctl.ErrNoPlayer) {
		return fmt.Errorf("no player is running on the cache %s (start one with peertune play)", dir)
	}
	if err != nil {
		return fmt.Errorf("the player refused %s: %w", req.Verb, err)
	}
	if lineageBool(cmd, "json") {
		var v any = rep.Status
		if req.Verb == ctl.VerbQueue && len(req.Args) > 0 {
			v = map[string]any{"added": rep.Added, "status": rep.Status}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding the status: %w", err)
		}
		fmt.Println(string(b))
		return nil
	}
	switch {
	case req.Verb == ctl.VerbStatus:
		fmt.Println(statusLine(rep.Status))
	case req.Verb == ctl.VerbQueue && len(req.Args) > 0:
		for _, t := range rep.Added {
			fmt.Printf("queued %s\n", trackName(t))
		}
	case req.Verb == ctl.VerbQueue:
		for i, t := range rep.QueueTracks {
			fmt.Printf("%d. %s (%s)\n", i+1, trackName(t), player.ClockText(time.Duration(t.DurationS*float64(time.Second))))
		}
		if len(rep.QueueTracks) == 0 {
			fmt.Fprintln(os.Stderr, "the queue after the current track is empty")
		}
	}
	return nil
}

// statusLine is `ctl status` for people: state, track, position, volume
// and what is queued.
func statusLine(s ctl.Status) string {
	if s.Track == nil {
		return fmt.Sprintf("%s  volume %d%%", s.State, s.Volume)
	}
	pos := time.Duration(s.PositionS * float64(time.Second))
	dur := time.Duration(s.DurationS * float64(time.Second))
	modes := ""
	if s.Shuffle {
		modes += "  shuffle"
	}
	if s.Repeat != "" && s.Repeat != "off" {
		modes += "  repeat " + s.Repeat
	}
	return fmt.Sprintf("%s  %s  %s / %s  volume %d%%  %d queued%s", s.State, trackName(*s.Track), player.ClockText(pos), player.ClockText(dur), s.Volume, len(s.Queue), modes)
}

// lineageBool reads a boolean flag given on the command or before it
// (`ctl --json status`).
func lineageBool(cmd *cli.Command, name string) bool {
	for _, c := range cmd.Lineage() {
		if c.IsSet(name) {
			return c.Bool(name)
		}
	}
	return false
}
