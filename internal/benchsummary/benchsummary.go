// Package benchsummary is what the swarm benches (bench-swarm's
// swarmchart, bench-internet) write for one run in summary.json, and the
// percentile they take, so that the two agree field for field.
package benchsummary

import "math"

// Run is one run in summary.json.
type Run struct {
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
	// The sum of the players' bytes_peers_wire: piece data they sent each
	// other, every copy, over TCP and uTP.
	PeerWireBytes int64 `json:"peer_wire_bytes"`
	// The sum of the players' bytes_peers.
	PeerCountedBytes int64 `json:"peer_counted_bytes"`
}

// Percentile is the nearest-rank percentile p (0–100) of sorted values:
// the value at rank ceil(p/100 × n); 0 when there are none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}
