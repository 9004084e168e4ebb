package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/client/stream"
)

func cacheCommand(conf *config) *cli.Command {
	const name = "cache"
	cacheFlag := func() cli.Flag {
		return &cli.StringFlag{Name: "cache", Usage: "cache folder (default: the user's cache directory/peertune)", Sources: conf.sources(name, "cache")}
	}
	return &cli.Command{
		Name:  name,
		Usage: "list or empty the player's cache",
		Flags: []cli.Flag{cacheFlag()},
		Commands: []*cli.Command{
			{
				Name:   "ls",
				Usage:  "list cached tracks: id, artist – title, size, complete or partial",
				Flags:  []cli.Flag{cacheFlag()},
				Action: runCacheLs,
			},
			{
				Name:   "clear",
				Usage:  "remove every cached track (refused while a player uses the cache)",
				Flags:  []cli.Flag{cacheFlag()},
				Action: runCacheClear,
			},
		},
		Action: func(context.Context, *cli.Command) error {
			return usageErrorf("cache needs ls or clear")
		},
	}
}

// defaultCacheDir is the player's cache when --cache is not given.
func defaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no --cache given and no user cache directory: %w", err)
	}
	return filepath.Join(base, "peertune"), nil
}

// cacheDirFlag reads --cache from the subcommand or, when it was given
// before the subcommand (`cache --cache DIR ls`), from its parent.
func cacheDirFlag(cmd *cli.Command) (string, error) {
	for _, c := range cmd.Lineage() {
		if c.IsSet("cache") {
			return c.String("cache"), nil
		}
	}
	if d := cmd.String("cache"); d != "" {
		return d, nil
	}
	return defaultCacheDir()
}

func runCacheLs(_ context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return usageErrorf("cache ls takes no arguments")
	}
	dir, err := cacheDirFlag(cmd)
	if err != nil {
		return err
	}
	ents, err := stream.ListCache(dir)
	if err != nil {
		return err
	}
	if len(ents) == 0 {
		fmt.Fprintf(os.Stderr, "the cache %s is empty\n", dir)
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTRACK\tSIZE\tSTATE")
	var total int64
	for _, e := range ents {
		state := "complete"
		if !e.Complete {
			pct := 0
			if e.Track.Size > 0 {
				pct = int(e.BytesHave * 100 / e.Track.Size)
			}
			state = fmt.Sprintf("partial (%d%%)", pct)
		}
		name := e.Track.Title
		if e.Track.Artist != "" {
			name = e.Track.Artist + " – " + name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Track.ID, name, player.SizeText(e.Track.Size), state)
		total += e.Track.Size
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the list: %w", err)
	}
	fmt.Fprintf(os.Stderr, "%d tracks, %s in %s\n", len(ents), player.SizeText(total), dir)
	return nil
}

func runCacheClear(_ context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() > 0 {
		return usageErrorf("cache clear takes no arguments")
	}
	dir, err := cacheDirFlag(cmd)
	if err != nil {
		return err
	}
	if err := stream.ClearCache(dir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "cleared the cache %s\n", dir)
	return nil
}
