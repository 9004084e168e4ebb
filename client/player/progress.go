package player

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// ClockText formats a duration as M:SS.
func ClockText(d time.Duration) string {
	s := max(int(d.Round(time.Second).Seconds()), 0)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// SizeText formats a byte count with a binary unit (12.3 MiB).
func SizeText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGT"[i])
}

// Sources splits a snapshot's bytes into the three the UI shows: the seed
// server (head, emergencies, fill and BitTorrent), other listeners and the cache.
func (s Snapshot) Sources() (seed, peers, cache, total int64) {
	st := s.Stats
	seed = st.BytesSeedHead + st.BytesSeedEmergency + st.BytesSeedBT + st.BytesSeedFill
	return seed, st.BytesPeers, st.BytesCache, seed + st.BytesPeers + st.BytesCache
}

func percent(n, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(float64(n) * 100 / float64(total))
}

// ProgressLine is the headless player's one-line status.
func (s Snapshot) ProgressLine() string {
	if s.State == StateIdle {
		return fmt.Sprintf("idle  %d tracks in the queue", len(s.Queue))
	}
	seed, peers, cache, total := s.Sources()
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s / %s  %s", title(s.Track), ClockText(s.Position), ClockText(s.Duration), s.State)
	fmt.Fprintf(&b, "  seed %s (%d%%)  peers %s (%d%%)  cache %s (%d%%)",
		SizeText(seed), percent(seed, total), SizeText(peers), percent(peers, total), SizeText(cache), percent(cache, total))
	fmt.Fprintf(&b, "  %d peers", s.Stats.PeersConnected-s.Stats.SeedersConnected)
	if s.Underrun > 0 {
		fmt.Fprintf(&b, "  %d underruns", s.Underrun)
	}
	// Bad data from peers is otherwise only in anacrolix's Info logs.
	if s.Stats.PiecesFailedHash > 0 || s.Stats.BannedPeers > 0 {
		fmt.Fprintf(&b, "  %d bad pieces, %d peers banned", s.Stats.PiecesFailedHash, s.Stats.BannedPeers)
	}
	return b.String()
}

// PrintProgress writes the player's progress line to w every interval
// until ctx ends (headless mode).
func PrintProgress(ctx context.Context, p *Player, w io.Writer, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprintln(w, p.Snapshot().ProgressLine())
		}
	}
}
