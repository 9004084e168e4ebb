package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peertune/peertune/internal/benchsummary"
)

// SummaryFile is OUT/summary.json: the figures a program compares between
// runs, the same as the table's. Baseline is null without a baseline run;
// Simulated, internal/cmd/swarmsim's figures for the same scenario (-sim),
// is absent without one.
type SummaryFile struct {
	PeerToPeer RunSummary  `json:"peer_to_peer"`
	Baseline   *RunSummary `json:"baseline"`
	Simulated  *RunSummary `json:"simulated,omitempty"`
}

// RunSummary is one run in summary.json.
type RunSummary = benchsummary.Run

// NewRunSummary is a run's entry in summary.json.
func NewRunSummary(r Run) RunSummary {
	s := Summarize(r)
	return RunSummary{
		Started:               s.Started,
		Finished:              s.Finished,
		PlaybacksWithUnderrun: s.PlayersWithUnderrun,
		SeedShare:             s.SeedShare,
		TTFAp50ms:             s.TTFAp50,
		TTFAp95ms:             s.TTFAp95,
		PeerWireBytes:         s.PeerWire,
		PeerCountedBytes:      s.Peers,
	}
}

// WriteSummary writes summary.json for a run, its baseline (nil: none) and
// the simulator's report (nil: none).
func WriteSummary(w io.Writer, run Run, baseline *Run, sim *SimReport) error {
	f := SummaryFile{PeerToPeer: NewRunSummary(run)}
	if baseline != nil {
		b := NewRunSummary(*baseline)
		f.Baseline = &b
	}
	if sim != nil {
		s := sim.RunSummary
		f.Simulated = &s
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding summary: %w", err)
	}
	if _, err := w.Write(append(out, '\n')); err != nil {
		return fmt.Errorf("writing summary: %w", err)
	}
	return nil
}

// SimReport is the part of internal/cmd/swarmsim's --json line (its last
// stdout line; bench-swarm.sh --sim saves it as OUT/sim.json) that the table
// and summary.json use. RunSummary's fields have the simulator's names.
type SimReport struct {
	RunSummary
	TTFAmaxMs    float64 `json:"ttfa_max_ms"`
	SeedBytes    int64   `json:"seed_bytes"`
	CountedBytes int64   `json:"counted_bytes"` // network bytes: pieces received from the seed server or peers
}

// LoadSim reads a swarmsim --json report: the file's last non-empty line.
func LoadSim(path string) (SimReport, error) {
	var r SimReport
	b, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("reading the simulation: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	last := lines[len(lines)-1]
	// The fields the table needs must be there: a JSON object without them
	// is not swarmsim's report.
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(last), &keys); err != nil {
		return r, fmt.Errorf("%s: not swarmsim's JSON report: %w", path, err)
	}
	for _, k := range []string{"started", "finished", "playbacks_with_underrun", "seed_share", "ttfa_p50_ms", "ttfa_p95_ms", "peer_wire_bytes", "peer_counted_bytes"} {
		if _, ok := keys[k]; !ok {
			return r, fmt.Errorf("%s: not swarmsim's JSON report (no %q)", path, k)
		}
	}
	if err := json.Unmarshal([]byte(last), &r); err != nil {
		return r, fmt.Errorf("%s: not swarmsim's JSON report: %w", path, err)
	}
	return r, nil
}
