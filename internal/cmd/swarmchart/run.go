package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/peertune/peertune/internal/benchsummary"
	"github.com/peertune/peertune/proto"
)

// Meta is what bench-swarm.sh measured around one run, outside the players'
// own reports: the seeder's and the tracker's counters (end minus start) and
// /proc figures. It is RUN/meta.json.
type Meta struct {
	Name         string  `json:"name"`          // "p2p" or "baseline"
	TrackBytes   int64   `json:"track_bytes"`   // size of the benchmark track
	Bitrate      int64   `json:"bitrate"`       // bits per second, from the catalog
	TrackSeconds float64 `json:"track_seconds"` // duration, from the catalog
	SeedCap      int64   `json:"seed_cap"`      // seeder --upload-rate, bytes/s; 0: none
	PlayerCap    int64   `json:"player_cap"`    // players' --upload-rate, bytes/s; 0: none
	WallS        float64 `json:"wall_s"`        // from the first player's start to the last one's end
	SeedHTTP     int64   `json:"seed_http_bytes"`
	SeedBT       int64   `json:"seed_bt_bytes"`
	Announces    float64 `json:"announces"` // tracker announces during the run (all protocols and results)
	SeederRSSKiB int64   `json:"seeder_rss_kib"`
	SeederCPUS   float64 `json:"seeder_cpu_s"`
	PlayerRSSKiB int64   `json:"player_rss_kib"`
	PlayerCPUS   float64 `json:"player_cpu_s"`
}

// Report is one line of `peertune play --json`.
type Report = proto.PlayReport

// Player is one headless player of a run: when it started (seconds after the
// run began), how it exited and what it reported.
type Player struct {
	Index    int
	StartS   float64
	ExitCode int
	Reports  []Report
}

// Sample is one line of RUN/samples.csv: cumulative byte counters at T
// seconds after the run began.
type Sample struct {
	T          float64
	SeedHTTP   float64 // seeder's /metrics, protocol="http"
	SeedBT     float64 // seeder's /metrics, protocol="bt"
	PeerUpload float64 // TCP bytes acknowledged on player-to-player sockets (ss)
}

// Run is everything a run directory holds.
type Run struct {
	Meta    Meta
	Players []Player
	Samples []Sample
}

// LoadRun reads a run directory written by bench-swarm.sh: meta.json,
// players.tsv ("index start_s exit_code" per line), player-N.json (the
// player's stdout) and samples.csv.
func LoadRun(dir string) (Run, error) {
	var r Run
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return r, fmt.Errorf("reading run: %w", err)
	}
	if err := json.Unmarshal(b, &r.Meta); err != nil {
		return r, fmt.Errorf("parsing %s/meta.json: %w", dir, err)
	}
	if r.Players, err = loadPlayers(dir); err != nil {
		return r, err
	}
	if r.Samples, err = loadSamples(filepath.Join(dir, "samples.csv")); err != nil {
		return r, err
	}
	return r, nil
}

func loadPlayers(dir string) ([]Player, error) {
	f, err := os.Open(filepath.Join(dir, "players.tsv"))
	if err != nil {
		return nil, fmt.Errorf("reading run: %w", err)
	}
	defer f.Close()
	var players []Player
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s/players.tsv:%d: want index, start_s and exit_code, got %q", dir, line, sc.Text())
		}
		var p Player
		var errs [3]error
		p.Index, errs[0] = strconv.Atoi(fields[0])
		p.StartS, errs[1] = strconv.ParseFloat(fields[1], 64)
		p.ExitCode, errs[2] = strconv.Atoi(fields[2])
		if err := errors.Join(errs[:]...); err != nil {
			return nil, fmt.Errorf("%s/players.tsv:%d: %w", dir, line, err)
		}
		if p.Reports, err = loadReports(filepath.Join(dir, fmt.Sprintf("player-%d.json", p.Index))); err != nil {
			return nil, err
		}
		players = append(players, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s/players.tsv: %w", dir, err)
	}
	slices.SortFunc(players, func(a, b Player) int { return a.Index - b.Index })
	return players, nil
}

// loadReports reads a player's JSON lines; a missing file is a player that
// reported nothing (it failed before its track ended).
func loadReports(path string) ([]Report, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading player report: %w", err)
	}
	var reps []Report
	for i, line := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r Report
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
		reps = append(reps, r)
	}
	return reps, nil
}

func loadSamples(path string) ([]Sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading run: %w", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	var out []Sample
	for i, row := range rows {
		if i == 0 && len(row) > 0 && row[0] == "t_s" {
			continue // header
		}
		if len(row) != 4 {
			return nil, fmt.Errorf("%s:%d: want 4 columns, got %d", path, i+1, len(row))
		}
		var v [4]float64
		for j := range row {
			if v[j], err = strconv.ParseFloat(row[j], 64); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
		}
		out = append(out, Sample{T: v[0], SeedHTTP: v[1], SeedBT: v[2], PeerUpload: v[3]})
	}
	return out, nil
}

// Summary holds a run's figures as the table shows them.
type Summary struct {
	Started, Finished    int // players started; players that played the track to its end and exited 0
	TTFAp50, TTFAp95     float64
	TTFAmax              float64 // over the players that produced a report (their first)
	WithUnderrun         int     // playbacks (reports) with at least one underrun
	PlayersWithUnderrun  int     // players with a report with at least one underrun
	Playbacks            int     // reports
	UnderrunS            float64
	SeedServer           int64   // the seeder's own HTTP + BitTorrent upload
	Network              int64   // bytes players received over the network (their reports, cache excluded)
	Peers                int64   // bytes players received from other listeners
	PeerWire             int64   // piece data players sent each other, every copy (their reports)
	PeerUploadTCP        float64 // of it, what went over TCP (ss; uTP is not seen)
	AnnouncesPerS        float64
	PeakSeedRate         float64 // bytes/s over the rate window
	PeakPeerRate         float64
	SeedShare, PeerShare float64 // of Network
	// What the players' reports say they took from the seed server, by
	// route: heads, emergency pieces and fill over HTTP, pieces over
	// BitTorrent. SeedServer minus their sum is what the seeder sent that no
	// player counted.
	SeedHead, SeedEmergency, SeedFill, SeedBT int64
}

// SeedReported is the seed-server bytes the players' reports count.
func (s Summary) SeedReported() int64 { return s.SeedHead + s.SeedEmergency + s.SeedFill + s.SeedBT }

// finishedTolerance is how far short of the track's length a report's
// played_s may be for the player to have played it to its end: 2 % of the
// track, at least 1 s.
func finishedTolerance(trackSeconds float64) float64 { return max(1, 0.02*trackSeconds) }

// playedToEnd says whether a report played the whole track (any report does
// when the run does not know the track's length).
func playedToEnd(rep Report, trackSeconds float64) bool {
	return trackSeconds <= 0 || rep.PlayedS >= trackSeconds-finishedTolerance(trackSeconds)
}

// rateWindow is how many sample intervals a plotted rate averages over.
const rateWindow = 3

// Summarize computes a run's figures.
func Summarize(r Run) Summary {
	s := Summary{Started: len(r.Players)}
	var ttfa []float64
	for _, p := range r.Players {
		done, underrun := false, false
		for _, rep := range p.Reports {
			s.Playbacks++
			if rep.Underruns > 0 {
				s.WithUnderrun++
				underrun = true
			}
			done = done || playedToEnd(rep, r.Meta.TrackSeconds)
			s.UnderrunS += rep.UnderrunMs / 1000
			s.Network += rep.NetworkBytes()
			s.Peers += rep.BytesPeers
			s.PeerWire += rep.BytesPeersWire
			s.SeedHead += rep.BytesSeedHead
			s.SeedEmergency += rep.BytesSeedEmergency
			s.SeedFill += rep.BytesSeedFill
			s.SeedBT += rep.BytesSeedBT
		}
		if len(p.Reports) > 0 {
			// The benchmark's players play one track each.
			ttfa = append(ttfa, p.Reports[0].TTFAms)
		}
		if p.ExitCode == 0 && done {
			s.Finished++
		}
		if underrun {
			s.PlayersWithUnderrun++
		}
	}
	slices.Sort(ttfa)
	s.TTFAp50, s.TTFAp95 = benchsummary.Percentile(ttfa, 50), benchsummary.Percentile(ttfa, 95)
	if len(ttfa) > 0 {
		s.TTFAmax = ttfa[len(ttfa)-1]
	}
	s.SeedServer = r.Meta.SeedHTTP + r.Meta.SeedBT
	if s.Network > 0 {
		s.SeedShare = float64(s.SeedServer) / float64(s.Network)
		s.PeerShare = float64(s.Peers) / float64(s.Network)
	}
	if r.Meta.WallS > 0 {
		s.AnnouncesPerS = r.Meta.Announces / r.Meta.WallS
	}
	if n := len(r.Samples); n > 0 {
		s.PeerUploadTCP = r.Samples[n-1].PeerUpload
	}
	for _, pt := range Rates(r.Samples) {
		s.PeakSeedRate = max(s.PeakSeedRate, pt.Seed)
		s.PeakPeerRate = max(s.PeakPeerRate, pt.Peers)
	}
	return s
}

// RatePoint is the upload rate (bytes/s) of the seed server and of the
// peers together, averaged over rateWindow sample intervals ending at T.
type RatePoint struct {
	T, Seed, Peers float64
}

// Rates turns cumulative samples into rates.
func Rates(samples []Sample) []RatePoint {
	var out []RatePoint
	for i := rateWindow; i < len(samples); i++ {
		a, b := samples[i-rateWindow], samples[i]
		dt := b.T - a.T
		if dt <= 0 {
			continue
		}
		out = append(out, RatePoint{
			T:     b.T,
			Seed:  max(0, (b.SeedHTTP+b.SeedBT-a.SeedHTTP-a.SeedBT)/dt),
			Peers: max(0, (b.PeerUpload-a.PeerUpload)/dt),
		})
	}
	return out
}
