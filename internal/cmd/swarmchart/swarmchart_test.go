package main

import (
	"bytes"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun writes a run directory the way bench-swarm.sh does: n players,
// player i with ttfa (i+1)*10 ms, one underrun for player 3, and samples in
// which the seed server uploads 1000 B/s and the peers 4000 B/s.
func writeRun(t *testing.T, n int, seedHTTP, seedBT int64) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meta.json", fmt.Sprintf(`{"name":"p2p","track_bytes":400000,"bitrate":64000,"track_seconds":60,
		"seed_cap":32000,"player_cap":16000,"wall_s":100,"seed_http_bytes":%d,"seed_bt_bytes":%d,
		"announces":50,"seeder_rss_kib":51200,"seeder_cpu_s":2.5,"player_rss_kib":40960,"player_cpu_s":1.5}`, seedHTTP, seedBT))
	var tsv strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&tsv, "%d %.1f 0\n", i, float64(i-1)*3)
		underruns, ms := 0, 0
		if i == 3 {
			underruns, ms = 1, 250
		}
		write(fmt.Sprintf("player-%d.json", i), fmt.Sprintf(
			`{"track":"ab","ttfa_ms":%d,"underruns":%d,"underrun_ms":%d,"bytes_seed_head":10000,"bytes_seed_emergency":0,"bytes_seed_bt":0,"bytes_peers":90000,"bytes_cache":5,"peers_seen":3,"played_s":60}`+"\n",
			(i)*10, underruns, ms))
	}
	write("players.tsv", tsv.String())
	var csv strings.Builder
	csv.WriteString("t_s,seed_http_bytes,seed_bt_bytes,peer_upload_bytes\n")
	for s := 0; s <= 10; s++ {
		fmt.Fprintf(&csv, "%d,%d,%d,%d\n", s, s*600, s*400, s*4000)
	}
	write("samples.csv", csv.String())
	return dir
}

func TestSummarize(t *testing.T) {
	r, err := LoadRun(writeRun(t, 20, 150000, 50000))
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(r)
	if s.Started != 20 || s.Finished != 20 || s.Playbacks != 20 {
		t.Errorf("players: %+v", s)
	}
	// Nearest rank: p50 of 10..200 is the 10th value, p95 the 19th.
	if s.TTFAp50 != 100 || s.TTFAp95 != 190 || s.TTFAmax != 200 {
		t.Errorf("ttfa p50/p95/max = %v/%v/%v, want 100/190/200", s.TTFAp50, s.TTFAp95, s.TTFAmax)
	}
	if s.WithUnderrun != 1 || s.UnderrunS != 0.25 {
		t.Errorf("underruns: %d playbacks, %v s; want 1, 0.25", s.WithUnderrun, s.UnderrunS)
	}
	if s.Network != 20*100000 || s.Peers != 20*90000 {
		t.Errorf("network %d peers %d", s.Network, s.Peers)
	}
	if s.SeedServer != 200000 || s.SeedShare != 0.1 {
		t.Errorf("seed server %d share %v, want 200000 and 0.1", s.SeedServer, s.SeedShare)
	}
	if s.AnnouncesPerS != 0.5 {
		t.Errorf("announces/s = %v", s.AnnouncesPerS)
	}
	if s.PeakSeedRate != 1000 || s.PeakPeerRate != 4000 {
		t.Errorf("peak rates seed %v peers %v, want 1000 and 4000", s.PeakSeedRate, s.PeakPeerRate)
	}
}

func TestTableAndChart(t *testing.T) {
	r, err := LoadRun(writeRun(t, 20, 150000, 50000))
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadRun(writeRun(t, 20, 1500000, 500000))
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := WriteTable(&table, r, &b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| players finished / started | 20 / 20 | 20 / 20 |",
		"100 / 190 / 200 ms",
		"195.3 KiB (10.0 %)",      // seed server, peer-to-peer
		"1.9 MiB (100.0 %)",       // seed server, baseline
		"| 10.0× |",               // baseline ÷ peer-to-peer
		"5.0 % (1 of 20)",         // playbacks with an underrun
		"1000 B/s (0.1× bitrate)", // peak seed rate
		"≤ 15 % ✓",
		"p95 < 500 ms ✓",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var img bytes.Buffer
	if err := WriteChart(&img, r, &b, 450, 400); err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(&img)
	if err != nil {
		t.Fatalf("chart is not a PNG: %v", err)
	}
	// 450×400 points at 96 dpi.
	if cfg.Width != 600 || cfg.Height != 533 {
		t.Errorf("chart is %d×%d px, want 600×533", cfg.Width, cfg.Height)
	}
}

func TestLoadRunErrors(t *testing.T) {
	dir := writeRun(t, 2, 1, 1)
	if err := os.WriteFile(filepath.Join(dir, "players.tsv"), []byte("1 0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "players.tsv:1") {
		t.Errorf("short players.tsv line: err = %v", err)
	}
	dir = writeRun(t, 2, 1, 1)
	if err := os.WriteFile(filepath.Join(dir, "player-2.json"), []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "player-2.json:1") {
		t.Errorf("bad report: err = %v", err)
	}
	// A player with no report counts as started, not finished.
	dir = writeRun(t, 2, 1, 1)
	if err := os.Remove(filepath.Join(dir, "player-2.json")); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(r); s.Started != 2 || s.Finished != 1 {
		t.Errorf("started %d finished %d, want 2 and 1", s.Started, s.Finished)
	}
}
