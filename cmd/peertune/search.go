package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/proto"
)

func searchCommand(conf *config) *cli.Command {
	const name = "search"
	return &cli.Command{
		Name:      name,
		Usage:     "search the tracker's catalog",
		ArgsUsage: "[QUERY]",
		Description: "Lists the tracks that match QUERY (words of the title, artist, album artist or album):\n" +
			"id, artist, title, album, duration and seeders; without QUERY the library, by album\n" +
			"artist, year, album, disc and track. --albums lists albums instead (id, artist, year,\n" +
			"album, tracks), matched by artist and album name; `play --album ID` plays one.\n" +
			"--json prints the catalog API's JSON.",
		Flags: []cli.Flag{
			trackerURLFlag(conf, name),
			&cli.BoolFlag{Name: "json", Usage: "print the catalog API's JSON", Sources: conf.sources(name, "json")},
			&cli.BoolFlag{Name: "albums", Usage: "list albums, not tracks", Sources: conf.sources(name, "albums")},
		},
		Action: runSearch,
	}
}

func runSearch(ctx context.Context, cmd *cli.Command) error {
	query := strings.Join(cmd.Args().Slice(), " ")
	c, err := newAPIClient(cmd.String("tracker"))
	if err != nil {
		return err
	}
	if cmd.Bool("albums") {
		return searchAlbums(ctx, c, query, cmd.Bool("json"))
	}
	list, err := c.Search(ctx, query, proto.MaxLimit, 0)
	if err != nil {
		return fmt.Errorf("searching for %q: %w", query, err)
	}
	if cmd.Bool("json") {
		if list.Tracks == nil {
			list.Tracks = []proto.Track{}
		}
		enc := json.NewEncoder(os.Stdout)
		return enc.Encode(list)
	}
	if len(list.Tracks) == 0 {
		if query == "" {
			fmt.Fprintln(os.Stderr, "the catalog is empty")
		} else {
			fmt.Fprintf(os.Stderr, "no track matches %q\n", query)
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tARTIST\tTITLE\tALBUM\tDURATION\tSEEDERS")
	for _, t := range list.Tracks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", t.ID, t.Artist, t.Title, t.Album,
			player.ClockText(time.Duration(t.DurationS*float64(time.Second))), t.Seeders)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if list.Total > len(list.Tracks) {
		fmt.Fprintf(os.Stderr, "%d of %d matches shown\n", len(list.Tracks), list.Total)
	}
	return nil
}

func searchAlbums(ctx context.Context, c *api.Client, query string, jsonOut bool) error {
	list, err := c.Albums(ctx, query, proto.MaxLimit, 0)
	if err != nil {
		return fmt.Errorf("searching albums for %q: %w", query, err)
	}
	if jsonOut {
		if list.Albums == nil {
			list.Albums = []proto.Album{}
		}
		return json.NewEncoder(os.Stdout).Encode(list)
	}
	if len(list.Albums) == 0 {
		if query == "" {
			fmt.Fprintln(os.Stderr, "the catalog has no albums")
		} else {
			fmt.Fprintf(os.Stderr, "no album matches %q\n", query)
		}
		return nil
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tARTIST\tYEAR\tALBUM\tTRACKS")
	for _, a := range list.Albums {
		year := ""
		if a.Year > 0 {
			year = fmt.Sprint(a.Year)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", a.ID, a.Artist, year, a.Title, a.TrackCount)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	if list.Total > len(list.Albums) {
		fmt.Fprintf(os.Stderr, "%d of %d albums shown\n", len(list.Albums), list.Total)
	}
	return nil
}

// newAPIClient makes a catalog API client whose requests fail within a
// few seconds when the tracker is down or stuck.
func newAPIClient(tracker string) (*api.Client, error) {
	c, err := api.New(tracker, api.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return nil, usageErrorf("--tracker: %w", err)
	}
	return c, nil
}
