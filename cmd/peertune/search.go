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
		ArgsUsage: "QUERY",
		Description: "Lists the tracks that match QUERY (words of the title, artist or album):\n" +
			"id, artist, title, album, duration and seeders. --json prints the catalog API's JSON.",
		Flags: []cli.Flag{
			trackerURLFlag(conf, name),
			&cli.BoolFlag{Name: "json", Usage: "print the catalog API's JSON", Sources: conf.sources(name, "json")},
		},
		Action: runSearch,
	}
}

func runSearch(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() == 0 {
		return usageErrorf("search needs a QUERY")
	}
	query := strings.Join(cmd.Args().Slice(), " ")
	c, err := newAPIClient(cmd.String("tracker"))
	if err != nil {
		return err
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
		fmt.Fprintf(os.Stderr, "no track matches %q\n", query)
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

// newAPIClient makes a catalog API client whose requests fail within a
// few seconds when the tracker is down or stuck.
func newAPIClient(tracker string) (*api.Client, error) {
	c, err := api.New(tracker, api.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return nil, usageErrorf("--tracker: %w", err)
	}
	return c, nil
}
