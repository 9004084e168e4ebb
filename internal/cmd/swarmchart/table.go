package main

import (
	"fmt"
	"io"
	"strings"
)

// Targets of the default run (issue 6).
const (
	targetSeedShare = 0.08 // issue 12's targets
	targetTTFAp95ms = 500
	targetWireRatio = 1.1 // player-to-player bytes on the wire ÷ bytes the players counted from peers
)

// WriteTable prints the Markdown table of a run, with the baseline's column
// and the ratio of seed-server bytes when a baseline is given, and a
// "simulated" column when the simulator's report is given (filled in the
// rows the simulator has figures for, empty elsewhere).
func WriteTable(w io.Writer, run Run, baseline *Run, sim *SimReport) error {
	s := Summarize(run)
	var b *Summary
	if baseline != nil {
		bs := Summarize(*baseline)
		b = &bs
	}
	m := run.Meta
	header := []string{"", "peer-to-peer"}
	if b != nil {
		header = append(header, "baseline: seed server alone")
	}
	if sim != nil {
		header = append(header, "simulated")
	}
	header = append(header, "target")
	var rows [][]string
	// simf, nil for a row the simulator has no figure for, fills the
	// "simulated" column.
	rowSim := func(name string, target string, f func(Summary, Meta) string, simf func(SimReport) string) {
		r := []string{name, f(s, m)}
		if b != nil {
			r = append(r, f(*b, baseline.Meta))
		}
		if sim != nil {
			c := ""
			if simf != nil {
				c = simf(*sim)
			}
			r = append(r, c)
		}
		rows = append(rows, append(r, target))
	}
	row := func(name string, target string, f func(Summary, Meta) string) { rowSim(name, target, f, nil) }
	wireRatio := func(s Summary) float64 { return float64(s.PeerWire) / float64(max(s.Peers, 1)) }
	rowSim("players finished / started", "", func(s Summary, _ Meta) string {
		return fmt.Sprintf("%d / %d", s.Finished, s.Started)
	}, func(r SimReport) string { return fmt.Sprintf("%d / %d", r.Finished, r.Started) })
	rowSim("time to first audio p50 / p95 / max", fmt.Sprintf("p95 < %d ms %s", targetTTFAp95ms, mark(s.Playbacks > 0 && s.TTFAp95 < targetTTFAp95ms)),
		func(s Summary, _ Meta) string {
			return fmt.Sprintf("%.0f / %.0f / %.0f ms", s.TTFAp50, s.TTFAp95, s.TTFAmax)
		}, func(r SimReport) string {
			return fmt.Sprintf("%.0f / %.0f / %.0f ms", r.TTFAp50ms, r.TTFAp95ms, r.TTFAmaxMs)
		})
	rowSim("playbacks with an underrun", "0 "+mark(s.Playbacks > 0 && s.WithUnderrun == 0), func(s Summary, _ Meta) string {
		return fmt.Sprintf("%s (%d of %d)", pct(float64(s.WithUnderrun), float64(s.Playbacks)), s.WithUnderrun, s.Playbacks)
	}, func(r SimReport) string {
		return fmt.Sprintf("%s (%d of %d)", pct(float64(r.PlaybacksWithUnderrun), float64(r.Started)), r.PlaybacksWithUnderrun, r.Started)
	})
	row("total underrun time", "", func(s Summary, _ Meta) string { return fmt.Sprintf("%.1f s", s.UnderrunS) })
	rowSim("bytes from the seed server (its HTTP + BitTorrent upload), share of network bytes",
		fmt.Sprintf("≤ %.0f %% %s", targetSeedShare*100, mark(s.Network > 0 && s.SeedShare <= targetSeedShare)),
		func(s Summary, _ Meta) string {
			return fmt.Sprintf("%s (%s)", sizeText(float64(s.SeedServer)), pct(float64(s.SeedServer), float64(s.Network)))
		}, func(r SimReport) string {
			return fmt.Sprintf("%s (%.1f %%)", sizeText(float64(r.SeedBytes)), r.SeedShare*100)
		})
	row("seed-server bytes by route (players' reports: heads / emergency / fill over HTTP / BitTorrent; the rest no player counted), share of network bytes", "",
		func(s Summary, _ Meta) string {
			n := float64(s.Network)
			return fmt.Sprintf("%s / %s / %s / %s; %s uncounted", pct(float64(s.SeedHead), n), pct(float64(s.SeedEmergency), n),
				pct(float64(s.SeedFill), n), pct(float64(s.SeedBT), n), pct(float64(s.SeedServer-s.SeedReported()), n))
		})
	rowSim("bytes from peers (players' reports), share of network bytes", "", func(s Summary, _ Meta) string {
		return fmt.Sprintf("%s (%s)", sizeText(float64(s.Peers)), pct(float64(s.Peers), float64(s.Network)))
	}, func(r SimReport) string {
		return fmt.Sprintf("%s (%s)", sizeText(float64(r.PeerCountedBytes)), pct(float64(r.PeerCountedBytes), float64(r.CountedBytes)))
	})
	rowSim("network bytes the players received (reports, cache excluded)", "", func(s Summary, _ Meta) string {
		return sizeText(float64(s.Network))
	}, func(r SimReport) string { return sizeText(float64(r.CountedBytes)) })
	wireText := func(wire float64, peers int64) string {
		if peers == 0 {
			return sizeText(wire)
		}
		return fmt.Sprintf("%s (%.2f×)", sizeText(wire), wire/float64(peers))
	}
	rowSim("piece data players sent each other, every copy (players' reports), × bytes from peers",
		fmt.Sprintf("≤ %.1f× %s", targetWireRatio, mark(s.Peers > 0 && wireRatio(s) <= targetWireRatio)),
		func(s Summary, _ Meta) string { return wireText(float64(s.PeerWire), s.Peers) },
		func(r SimReport) string { return wireText(float64(r.PeerWireBytes), r.PeerCountedBytes) })
	row("of it over TCP (bytes acknowledged, ss; the rest went over uTP)", "", func(s Summary, _ Meta) string {
		return sizeText(s.PeerUploadTCP)
	})
	row("seed server's peak upload rate (3 s average)", "", func(s Summary, m Meta) string {
		return fmt.Sprintf("%s/s (%s)", sizeText(s.PeakSeedRate), bitrateMultiple(s.PeakSeedRate, m))
	})
	row("tracker announces per second", "", func(s Summary, _ Meta) string { return fmt.Sprintf("%.2f", s.AnnouncesPerS) })
	row("seeder peak RSS / CPU time", "", func(_ Summary, m Meta) string {
		return fmt.Sprintf("%s / %.1f s", sizeText(float64(m.SeederRSSKiB)*1024), m.SeederCPUS)
	})
	row("one player's peak RSS / CPU time", "", func(_ Summary, m Meta) string {
		return fmt.Sprintf("%s / %.1f s", sizeText(float64(m.PlayerRSSKiB)*1024), m.PlayerCPUS)
	})
	if b != nil && s.SeedServer > 0 {
		r := []string{"seed-server bytes, baseline ÷ peer-to-peer", fmt.Sprintf("%.1f×", float64(b.SeedServer)/float64(s.SeedServer)), ""}
		if sim != nil {
			r = append(r, "")
		}
		rows = append(rows, append(r, ""))
	}

	var out strings.Builder
	line := func(cells []string) { out.WriteString("| " + strings.Join(cells, " | ") + " |\n") }
	line(header)
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	fmt.Fprintf(&out, "\nOne track of %s, %.0f s at %.0f kbit/s; %s.\n",
		sizeText(float64(m.TrackBytes)), m.TrackSeconds, float64(m.Bitrate)/1000, capsText(m))
	_, err := io.WriteString(w, out.String())
	if err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

func pct(n, total float64) string {
	if total <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", n*100/total)
}

func bitrateMultiple(rate float64, m Meta) string {
	if m.Bitrate <= 0 {
		return "bitrate unknown"
	}
	return fmt.Sprintf("%.1f× bitrate", rate*8/float64(m.Bitrate))
}

// sizeText formats bytes with a binary unit.
func sizeText(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
