package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRun writes a run directory the way bench-swarm.sh does: n players,
// player i with ttfa (i+1)*10 ms, one underrun for player 3, 100000 network
// bytes each (heads 7000, emergency 1000, fill 2000, peers 90000), and
// samples in which the seed server uploads 1000 B/s and the peers 4000 B/s.
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
			`{"track":"ab","ttfa_ms":%d,"underruns":%d,"underrun_ms":%d,"bytes_seed_head":7000,"bytes_seed_emergency":1000,"bytes_seed_bt":0,"bytes_seed_fill":2000,"bytes_peers":90000,"bytes_peers_wire":95000,"bytes_cache":5,"peers_seen":3,"played_s":60}`+"\n",
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
	if s.SeedHead != 20*7000 || s.SeedEmergency != 20*1000 || s.SeedFill != 20*2000 || s.SeedBT != 0 || s.SeedReported() != 200000 {
		t.Errorf("seed bytes by route: head %d emergency %d fill %d bt %d", s.SeedHead, s.SeedEmergency, s.SeedFill, s.SeedBT)
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
	if err := WriteTable(&table, r, &b, nil); err != nil {
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
		"≤ 8 % ✗",                 // 10 % of network bytes from the seed server
		"1.8 MiB (1.06×) | 1.8 MiB (1.06×) | ≤ 1.1× ✓", // every copy, players' reports
		"over uTP) | 39.1 KiB | 39.1 KiB |",            // of it over TCP
		"p95 < 500 ms ✓",
		// seed-server bytes by route: heads / emergency / fill / BitTorrent; uncounted
		"| 7.0 % / 1.0 % / 2.0 % / 0.0 %; 0.0 % uncounted | 7.0 % / 1.0 % / 2.0 % / 0.0 %; 90.0 % uncounted |",
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

// A player finished when it exited 0 with a report that played the track to
// its end; one that stopped short or failed only started.
func TestFinished(t *testing.T) {
	dir := writeRun(t, 4, 1, 1)
	// Player 2 stopped 5 s short of the 60 s track; player 3 failed after a
	// whole report; player 4 is within the tolerance (1.2 s for 60 s).
	edit := func(name, old, new string) {
		t.Helper()
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), old) {
			t.Fatalf("%s lacks %q", name, old)
		}
		if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit("player-2.json", `"played_s":60`, `"played_s":55`)
	edit("players.tsv", "3 6.0 0", "3 6.0 1")
	edit("player-4.json", `"played_s":60`, `"played_s":59.1`)
	r, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s := Summarize(r); s.Started != 4 || s.Finished != 2 {
		t.Errorf("started %d finished %d, want 4 and 2", s.Started, s.Finished)
	}
}

// summary.json: exactly the keys bench-swarm.sh documents, the baseline null
// without a baseline run.
func TestSummaryJSON(t *testing.T) {
	p2p := writeRun(t, 20, 150000, 50000)
	base := writeRun(t, 20, 1500000, 500000)
	// A baseline player with an underrun on a second playback too: players
	// with an underrun, not playbacks, are counted.
	if err := os.WriteFile(filepath.Join(base, "player-3.json"), []byte(
		`{"track":"ab","ttfa_ms":30,"underruns":2,"underrun_ms":500,"bytes_seed_head":100000,"played_s":60}`+"\n"+
			`{"track":"cd","ttfa_ms":35,"underruns":1,"underrun_ms":100,"bytes_seed_fill":100000,"played_s":60}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(path string) map[string]any {
		t.Helper()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("summary is not JSON: %v\n%s", err, b)
		}
		return m
	}
	keys := []string{"started", "finished", "playbacks_with_underrun", "seed_share", "ttfa_p50_ms", "ttfa_p95_ms", "peer_wire_bytes", "peer_counted_bytes"}
	check := func(name string, got any, want map[string]float64) {
		t.Helper()
		m, ok := got.(map[string]any)
		if !ok {
			t.Fatalf("%s: %v is not an object", name, got)
		}
		if len(m) != len(keys) {
			t.Errorf("%s has %d keys, want %d: %v", name, len(m), len(keys), m)
		}
		for _, k := range keys {
			if v, ok := m[k].(float64); !ok || v != want[k] {
				t.Errorf("%s.%s = %v, want %v", name, k, m[k], want[k])
			}
		}
	}

	out := filepath.Join(t.TempDir(), "summary.json")
	var table bytes.Buffer
	if err := run([]string{"-run", p2p, "-baseline", base, "-summary", out}, &table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "| players finished / started |") {
		t.Errorf("no table on stdout:\n%s", table.String())
	}
	m := load(out)
	if len(m) != 2 {
		t.Errorf("summary has keys %v, want peer_to_peer and baseline", m)
	}
	check("peer_to_peer", m["peer_to_peer"], map[string]float64{
		"started": 20, "finished": 20, "playbacks_with_underrun": 1, "seed_share": 0.1,
		"ttfa_p50_ms": 100, "ttfa_p95_ms": 190, "peer_wire_bytes": 20 * 95000, "peer_counted_bytes": 20 * 90000,
	})
	// Baseline: player 3's two reports count once; its seed bytes (200000,
	// fill included) are network bytes; its ttfa is its first report's.
	check("baseline", m["baseline"], map[string]float64{
		"started": 20, "finished": 20, "playbacks_with_underrun": 1, "seed_share": 2000000.0 / (19*100000 + 200000),
		"ttfa_p50_ms": 100, "ttfa_p95_ms": 190, "peer_wire_bytes": 19 * 95000, "peer_counted_bytes": 19 * 90000,
	})

	if err := run([]string{"-run", p2p, "-summary", out}, io.Discard); err != nil {
		t.Fatal(err)
	}
	m = load(out)
	if b, ok := m["baseline"]; !ok || b != nil {
		t.Errorf("without a baseline: baseline = %v (present %v), want null", b, ok)
	}
}

func TestSim(t *testing.T) {
	p2p := writeRun(t, 20, 150000, 50000)
	dir := t.TempDir()
	simPath := filepath.Join(dir, "sim.json")
	// As bench-swarm.sh --sim saves it: swarmsim's last stdout line (more
	// fields than the summary's).
	if err := os.WriteFile(simPath, []byte(`{"listeners":20,"tracks":1,"started":20,"finished":19,"playbacks_with_underrun":2,`+
		`"seed_share":0.25,"seed_bytes":500000,"counted_bytes":2000000,"peer_wire_bytes":1650000,"peer_counted_bytes":1500000,`+
		`"ttfa_p50_ms":202.5,"ttfa_p95_ms":409.6,"ttfa_max_ms":450,"wall_s":0.1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "summary.json")
	var table bytes.Buffer
	if err := run([]string{"-run", p2p, "-sim", simPath, "-summary", out}, &table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"|  | peer-to-peer | simulated | target |",
		"| players finished / started | 20 / 20 | 19 / 20 |  |",
		"| 100 / 190 / 200 ms | 202 / 410 / 450 ms | p95 < 500 ms ✓ |",
		"| 5.0 % (1 of 20) | 10.0 % (2 of 20) | 0 ✗ |",
		"| 195.3 KiB (10.0 %) | 488.3 KiB (25.0 %) | ≤ 8 % ✗ |",
		"| 1.4 MiB (75.0 %) |",           // bytes from peers
		"| 1.9 MiB |",                    // network bytes
		"| 1.6 MiB (1.10×) | ≤ 1.1× ✓ |", // wire
		"| tracker announces per second | 0.50 |  |  |",
	} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]float64
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("summary: %v\n%s", err, b)
	}
	want := map[string]float64{
		"started": 20, "finished": 19, "playbacks_with_underrun": 2, "seed_share": 0.25,
		"ttfa_p50_ms": 202.5, "ttfa_p95_ms": 409.6, "peer_wire_bytes": 1650000, "peer_counted_bytes": 1500000,
	}
	if got := m["simulated"]; !maps.Equal(got, want) {
		t.Errorf("simulated = %v, want %v", got, want)
	}
	if _, ok := m["peer_to_peer"]["started"]; !ok {
		t.Errorf("summary lacks peer_to_peer: %s", b)
	}

	// Without -sim: no column, no key.
	table.Reset()
	if err := run([]string{"-run", p2p, "-summary", out}, &table); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(table.String(), "simulated") {
		t.Errorf("a simulated column without -sim:\n%s", table.String())
	}
	b, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "simulated") {
		t.Errorf("a simulated key without -sim: %s", b)
	}

	// Not swarmsim's report.
	if err := os.WriteFile(simPath, []byte(`{"started":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"-run", p2p, "-sim", simPath}, io.Discard); err == nil || !strings.Contains(err.Error(), "not swarmsim's JSON report") {
		t.Errorf("a report without the figures: err = %v", err)
	}
}
