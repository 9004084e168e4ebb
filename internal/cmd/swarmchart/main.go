// Command swarmchart turns the run directories that scripts/bench-swarm.sh
// writes into the benchmark's Markdown table (on stdout) and its chart (a
// PNG): the seed server's and the peers' upload rate over time, and per
// player a stacked bar of the bytes it received by source (seed head,
// emergency and fill over HTTP, seed over BitTorrent, peers, cache); and,
// with -summary, the figures as JSON (see SummaryFile). With -sim, the
// table has a "simulated" column and summary.json a "simulated" entry,
// from internal/cmd/swarmsim's --json report of the same scenario.
//
//	swarmchart -run OUT/p2p [-baseline OUT/baseline] [-sim OUT/sim.json] [-png FILE] [-summary FILE]
//
// A run directory holds meta.json (the seeder's and tracker's counters and
// /proc figures the script measured), players.tsv (index, start offset,
// exit status), player-N.json (each player's --json reports) and
// samples.csv (cumulative upload counters, one line a second).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"gonum.org/v1/plot/vg"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "swarmchart:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("swarmchart", flag.ContinueOnError)
	runDir := fs.String("run", "", "the peer-to-peer run's directory (required)")
	baseDir := fs.String("baseline", "", "the baseline run's directory (optional)")
	pngPath := fs.String("png", "", "write the chart to this PNG file")
	summaryPath := fs.String("summary", "", "write the figures as JSON to this file")
	simPath := fs.String("sim", "", "swarmsim's --json report of the same scenario: a \"simulated\" column and summary entry (optional)")
	width := fs.Float64("width", 900, "chart width in points")
	height := fs.Float64("height", 820, "chart height in points")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runDir == "" {
		return errors.New("-run DIR is required")
	}
	r, err := LoadRun(*runDir)
	if err != nil {
		return err
	}
	var base *Run
	if *baseDir != "" {
		b, err := LoadRun(*baseDir)
		if err != nil {
			return err
		}
		base = &b
	}
	var sim *SimReport
	if *simPath != "" {
		s, err := LoadSim(*simPath)
		if err != nil {
			return err
		}
		sim = &s
	}
	if err := WriteTable(stdout, r, base, sim); err != nil {
		return err
	}
	if *summaryPath != "" {
		if err := writeFile(*summaryPath, func(w io.Writer) error { return WriteSummary(w, r, base, sim) }); err != nil {
			return err
		}
	}
	if *pngPath == "" {
		return nil
	}
	return writeFile(*pngPath, func(w io.Writer) error {
		return WriteChart(w, r, base, vg.Length(*width), vg.Length(*height))
	})
}

// writeFile creates path and fills it with write.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
