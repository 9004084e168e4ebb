package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// SummaryFile is OUT/summary.json: the figures a program compares between
// runs, the same as the table's. Baseline is null without a baseline run.
type SummaryFile struct {
	PeerToPeer RunSummary  `json:"peer_to_peer"`
	Baseline   *RunSummary `json:"baseline"`
}

// RunSummary is one run in summary.json.
type RunSummary struct {
	Started  int `json:"started"`
	Finished int `json:"finished"` // exited 0 with a report that played the track to its end
	// Players with a report with underruns > 0.
	PlaybacksWithUnderrun int `json:"playbacks_with_underrun"`
	// The seeder's own upload (HTTP + BitTorrent, end minus start) ÷ the
	// network bytes the players' reports count (cache excluded); above 1
	// when the seeder sent more than the players counted.
	SeedShare float64 `json:"seed_share"`
	// Nearest-rank percentiles over the players that produced a report.
	TTFAp50ms float64 `json:"ttfa_p50_ms"`
	TTFAp95ms float64 `json:"ttfa_p95_ms"`
	// TCP bytes acknowledged on player-to-player sockets (ss), the last
	// sample's total.
	PeerWireBytes int64 `json:"peer_wire_bytes"`
	// The sum of the players' bytes_peers.
	PeerCountedBytes int64 `json:"peer_counted_bytes"`
}

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
		PeerWireBytes:         int64(math.Round(s.PeerUploadTCP)),
		PeerCountedBytes:      s.Peers,
	}
}

// WriteSummary writes summary.json for a run and its baseline (nil: none).
func WriteSummary(w io.Writer, run Run, baseline *Run) error {
	f := SummaryFile{PeerToPeer: NewRunSummary(run)}
	if baseline != nil {
		b := NewRunSummary(*baseline)
		f.Baseline = &b
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
