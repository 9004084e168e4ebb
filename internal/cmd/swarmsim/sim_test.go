package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/client/policy"
	player "github.com/peertune/peertune/client/stream"
)

// TestMaxConnsIsThePlayers pins the simulated connection limit to the
// player's: the limit decides how a capped upload is split.
func TestMaxConnsIsThePlayers(t *testing.T) {
	if got := DefaultConfig().MaxConns; got != player.DefaultMaxPeers {
		t.Fatalf("--max-conns defaults to %d; the player's --max-peers to %d", got, player.DefaultMaxPeers)
	}
}

func small() Config {
	cfg := DefaultConfig()
	cfg.Listeners, cfg.Tracks, cfg.Hours = 60, 12, 0.1
	return cfg
}

// stagger is the seed-death scenario without the death:
// --listeners 10 --tracks 1 --stagger 3s --churn off --seed-cap 4x.
func stagger() Config {
	cfg := DefaultConfig()
	cfg.Listeners, cfg.Tracks = 10, 1
	cfg.Stagger = 3 * time.Second
	cfg.Churn = false
	cfg.SeedCap, cfg.SeedCapSpec = 4*20000, "4x"
	return cfg
}

// diesAt sets the death as --seed-dies-at Mx does.
func diesAt(cfg Config, m float64) Config {
	size := cfg.TrackSeconds * cfg.BitrateKbps * 1000 / 8
	cfg.SeedDiesAt = time.Duration(m * size * float64(cfg.Tracks) / cfg.SeedCap * 1e9)
	cfg.SeedDiesSpec = "test"
	return cfg
}

func jsonOf(t *testing.T, r Report) string {
	t.Helper()
	r.WallS = 0
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDeterministic(t *testing.T) {
	for name, cfg := range map[string]Config{"poisson": small(), "stagger": diesAt(stagger(), 1.5)} {
		a, b := jsonOf(t, Run(cfg)), jsonOf(t, Run(cfg))
		if a != b {
			t.Errorf("%s: two runs with seed %d differ:\n%s\n%s", name, cfg.Seed, a, b)
		}
		cfg.Seed++
		if c := jsonOf(t, Run(cfg)); c == a && name == "poisson" {
			t.Errorf("%s: seeds %d and %d gave the same run", name, cfg.Seed-1, cfg.Seed)
		}
	}
}

func TestLoneListenerTakesEverythingFromTheSeed(t *testing.T) {
	cfg := stagger()
	cfg.Listeners = 1
	r := Run(cfg)
	size := int64(cfg.TrackSeconds * cfg.BitrateKbps * 1000 / 8)
	if r.Finished != 1 || r.Stalled != 0 {
		t.Fatalf("finished %d stalled %d, want 1 and 0", r.Finished, r.Stalled)
	}
	if r.CountedBytes != size || r.PeerCountedBytes != 0 || r.PeerWireBytes != 0 {
		t.Errorf("counted %d (peers %d, wire %d), want %d all from the seed", r.CountedBytes, r.PeerCountedBytes, r.PeerWireBytes, size)
	}
	if got := r.BytesSeedHead + r.BytesSeedEmergency + r.BytesSeedFill + r.BytesSeedBT; got != size {
		t.Errorf("from the seed %d, want %d", got, size)
	}
	if r.SeedShare < 1 {
		t.Errorf("seed share %v, want at least 1", r.SeedShare)
	}
	if r.TracksSwarmComplete != 1 || r.SeedBytesUntilComplete < size {
		t.Errorf("swarm complete %d after %d seed bytes, want 1 after at least %d", r.TracksSwarmComplete, r.SeedBytesUntilComplete, size)
	}
}

// The seed-death scenario: --listeners 10 --tracks 1 --stagger 3s
// --churn off --seed-cap 4x --seed-dies-at 1.5x: no one stalls, over a few
// seeds. (It did, 10 of 10, while the seeder counted fills against its
// spare and served two fills of one piece at once.) An early death stalls
// listeners: the policy has no copy to fall back on.
func TestSeedDeath(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		cfg := diesAt(stagger(), 1.5)
		cfg.Seed = seed
		r := Run(cfg)
		t.Logf("seed %d: dies at %.1f s: stalled %d of %d, %d pieces held by no one then, the seed had sent %d bytes",
			seed, r.SeedDiesAtS, r.Stalled, r.Playbacks, r.PiecesMissingAtSeedDeath, r.SeedBytesAtDeath)
		if r.SeedBytes != r.SeedBytesAtDeath {
			t.Errorf("the seed sent %d bytes, %d of them by its death: it sent after", r.SeedBytes, r.SeedBytesAtDeath)
		}
		if r.Stalled != 0 || r.PiecesMissingAtSeedDeath != 0 || r.Finished != r.Playbacks {
			t.Errorf("seed %d, dying at 1.5x (%.1f s): stalled %d, %d pieces missing, finished %d of %d; want none stalled",
				seed, r.SeedDiesAtS, r.Stalled, r.PiecesMissingAtSeedDeath, r.Finished, r.Playbacks)
		}
	}

	r := Run(diesAt(stagger(), 2))
	if r.Stalled != 0 || r.PiecesMissingAtSeedDeath != 0 || r.Finished != r.Playbacks {
		t.Errorf("dying at 2x (%.1f s): stalled %d, %d pieces missing, finished %d of %d; want none stalled",
			r.SeedDiesAtS, r.Stalled, r.PiecesMissingAtSeedDeath, r.Finished, r.Playbacks)
	}

	cfg := stagger()
	cfg.SeedDiesAt = 15 * time.Second
	r = Run(cfg)
	if r.Stalled == 0 || r.GaveUp == 0 {
		t.Errorf("the seed dead at 15 s: stalled %d, gave up %d; want some", r.Stalled, r.GaveUp)
	}
}

// A change to Decide shows in the simulator: without fills, the swarm does
// not hold the track when the seed dies at 2x, so listeners stall.
func TestDecideChangesTheOutcome(t *testing.T) {
	cfg := diesAt(stagger(), 2)
	real := Run(cfg)
	cfg.Decide = func(s policy.Snapshot) policy.Decision {
		d := policy.Decide(s)
		kept := d.Actions[:0]
		for _, a := range d.Actions {
			if f, ok := a.(policy.StartFetch); ok && f.Kind == policy.KindFill {
				continue
			}
			kept = append(kept, a)
		}
		d.Actions = kept
		return d
	}
	noFill := Run(cfg)
	if real.BytesSeedFill == 0 || noFill.BytesSeedFill != 0 {
		t.Fatalf("fill bytes: real %d, without fills %d", real.BytesSeedFill, noFill.BytesSeedFill)
	}
	if noFill.Stalled <= real.Stalled || noFill.PiecesMissingAtSeedDeath <= real.PiecesMissingAtSeedDeath {
		t.Errorf("without fills: stalled %d (real %d), pieces missing at the death %d (real %d); want more",
			noFill.Stalled, real.Stalled, noFill.PiecesMissingAtSeedDeath, real.PiecesMissingAtSeedDeath)
	}

	// A Params change too: a higher emergency threshold asks the seed
	// server sooner, so more of the track comes from it as emergencies.
	cfg = stagger()
	base := Run(cfg)
	cfg.Params.EmergencyThreshold = 8 * time.Second
	highThreshold := Run(cfg)
	if jsonOf(t, base) == jsonOf(t, highThreshold) {
		t.Errorf("EmergencyThreshold 8s: the same outcome as the default")
	}
	t.Logf("emergency bytes: default %d, EmergencyThreshold 8s %d", base.BytesSeedEmergency, highThreshold.BytesSeedEmergency)
	if highThreshold.BytesSeedEmergency <= base.BytesSeedEmergency {
		t.Errorf("EmergencyThreshold 8s: %d emergency bytes, default %d; want more", highThreshold.BytesSeedEmergency, base.BytesSeedEmergency)
	}
}

// TestStealingMovesRequestsToWhoDelivers: with the 60 s peer window many
// requests go out at once, to whichever holder was least busy then; without
// stealing they wait there, and the seed covers what comes late.
func TestStealingMovesRequestsToWhoDelivers(t *testing.T) {
	cfg := stagger()
	cfg.Listeners, cfg.Linger = 20, 30*time.Second
	on := Run(cfg)
	cfg.Steal = false
	off := Run(cfg)
	t.Logf("steal on: %d stolen, seed share %.3f, %d with an underrun; off: %d, %.3f, %d",
		on.RequestsStolen, on.SeedShare, on.PlaybacksWithUnderrun, off.RequestsStolen, off.SeedShare, off.PlaybacksWithUnderrun)
	if on.RequestsStolen == 0 || off.RequestsStolen != 0 {
		t.Errorf("requests stolen: %d with stealing, %d without; want some and none", on.RequestsStolen, off.RequestsStolen)
	}
	if on.SeedShare >= off.SeedShare {
		t.Errorf("seed share %.3f with stealing, %.3f without: stealing should spare the seed", on.SeedShare, off.SeedShare)
	}
}

func TestSmallSwarm(t *testing.T) {
	r := Run(small())
	if r.Stalled != 0 || r.Playbacks == 0 || r.Finished == 0 {
		t.Errorf("playbacks %d finished %d stalled %d", r.Playbacks, r.Finished, r.Stalled)
	}
	if r.PeerCountedBytes == 0 || r.SeedShare <= 0 || r.SeedShare >= 0.5 {
		t.Errorf("peers %d bytes, seed share %v", r.PeerCountedBytes, r.SeedShare)
	}
	if r.PeerWireBytes < r.PeerCountedBytes {
		t.Errorf("peer wire %d < counted %d", r.PeerWireBytes, r.PeerCountedBytes)
	}
}

func TestCLI(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--listeners", "0"}, 2, "--listeners"},
		{[]string{"--listeners", "x"}, 2, "invalid value"},
		{[]string{"--churn", "maybe"}, 2, "--churn"},
		{[]string{"--seed-cap", "fast"}, 2, "--seed-cap"},
		{[]string{"--seed-cap", "0x"}, 2, "--seed-cap"},
		{[]string{"--seed-dies-at", "soon"}, 2, "--seed-dies-at"},
		{[]string{"--hours", "0"}, 2, "--hours"},
		{[]string{"--stagger", "-1s"}, 2, "--stagger"},
		{[]string{"--linger", "forever"}, 2, "--linger"},
		{[]string{"--steal", "sometimes"}, 2, "--steal"},
		{[]string{"--bogus"}, 2, "bogus"},
		{[]string{"extra"}, 2, "unexpected argument"},
		{[]string{"--help"}, 0, "--seed-dies-at"},
	} {
		var out, errb bytes.Buffer
		if code := cli(tc.args, &out, &errb); code != tc.code || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.err)
		}
	}
	var out, errb bytes.Buffer
	args := []string{"--listeners", "3", "--tracks", "1", "--stagger", "3s", "--churn", "off", "--seed-cap", "4x", "--seed-dies-at", "10s", "--seed", "7"}
	if code := cli(args, &out, &errb); code != 0 {
		t.Fatalf("%v: exit %d, stderr %q", args, code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	for _, k := range []string{"listeners", "playbacks", "playbacks_with_underrun", "stalled", "seed_share", "ttfa_p50_ms", "ttfa_p95_ms",
		"seed_bytes_until_swarm_complete", "wall_s", "started", "finished", "peer_wire_bytes", "peer_counted_bytes",
		"tracks", "seed", "zipf", "seed_cap", "seed_dies_at", "churn", "stagger_s", "steal", "peer_window_s", "requests_stolen"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, lines[len(lines)-1])
		}
	}
	if m["seed_dies_at_s"] != 10.0 || m["seed"] != 7.0 || m["stalled"].(float64) == 0 {
		t.Errorf("seed_dies_at_s %v seed %v stalled %v", m["seed_dies_at_s"], m["seed"], m["stalled"])
	}
	out.Reset()
	if code := cli([]string{"--listeners", "2", "--tracks", "1", "--stagger", "1s", "--json"}, &out, &errb); code != 0 || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("--json: exit %d, output %q; want one line", code, out.String())
	}
}

// TestTargets runs the default scenario (about 30 s); set
// SWARMSIM_TARGETS=1.
func TestTargets(t *testing.T) {
	if os.Getenv("SWARMSIM_TARGETS") == "" {
		t.Skip("SWARMSIM_TARGETS=1 runs 1000 listeners for an hour")
	}
	began := time.Now()
	r := Run(DefaultConfig())
	t.Logf("%s (%.1f s)", jsonOf(t, r), time.Since(began).Seconds())
	if r.SeedShare > 0.03 || r.Stalled != 0 {
		t.Errorf("seed share %v (want <= 0.03), stalled %d (want 0)", r.SeedShare, r.Stalled)
	}
}
