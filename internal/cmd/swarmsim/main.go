package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/peertune/peertune/client/policy"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() { os.Exit(cli(os.Args[1:], os.Stdout, os.Stderr)) }

// cli runs the command: 0 after a run, whatever its outcome; 2 on bad flags.
func cli(args []string, stdout, stderr io.Writer) int {
	cfg, asJSON, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "swarmsim: %v (see --help)\n", err)
		return 2
	}
	began := time.Now()
	r := Run(cfg)
	r.WallS = round(time.Since(began).Seconds(), 2)
	if !asJSON {
		fmt.Fprintf(stdout, "%d listeners (mean %.0f online), %d tracks, %.0f s simulated in %.1f s\n",
			r.Listeners, r.OnlineMean, r.Tracks, r.SimS, r.WallS)
		fmt.Fprintf(stdout, "playbacks %d: finished %d, left %d, in progress %d, stalled %d, with underrun %d\n",
			r.Playbacks, r.Finished, r.Left, r.InProgress, r.Stalled, r.PlaybacksWithUnderrun)
		fmt.Fprintf(stdout, "seed share %.4f (%d of %d bytes), ttfa p50 %.0f ms p95 %.0f ms\n",
			r.SeedShare, r.SeedBytes, r.CountedBytes, r.TTFAp50ms, r.TTFAp95ms)
	}
	b, _ := json.Marshal(r)
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}

const usageHead = `swarmsim: a deterministic simulation of a peertune swarm that runs the
players' real source policy (client/policy.Decide).

  go run ./internal/cmd/swarmsim --listeners N --tracks M [--hours H] --seed K
      [--seed-cap 100x] [--stagger 3s] [--churn off] [--seed-dies-at 15s|1.5x]
      [--steal off] [--peer-window 15s] [--json]

Every track is --track-s long at --bitrate-kbps; its popularity is Zipf with
exponent --zipf. Sessions arrive as a Poisson process that keeps --listeners
online on average (that many begin within the first track's length), last an
exponential time of mean --session, and are a sequence of tracks; a listener
re-shares everything it played while it is online (with --warm on, those
online at the start already hold what their session so far played).
Listeners upload at --listener-up and download at --listener-down times the
bitrate; the seed server uploads at --seed-cap. With --stagger, the
listeners start that far apart and play one track each instead. --churn off
keeps every listener online to the end. --seed-dies-at is a time, or a
multiple of the catalog's bytes (the moment the seed's cap would have let it
send that much). The last line on stdout is one JSON object (the scenario and
the outcome); the exit status is 0 whatever the outcome, 2 on bad flags.

Flags:
`

func parseFlags(args []string, stderr io.Writer) (Config, bool, error) {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("swarmsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHead)
		fs.PrintDefaults()
	}
	fs.IntVar(&cfg.Listeners, "listeners", cfg.Listeners, "mean listeners online (with --stagger: how many)")
	fs.IntVar(&cfg.Tracks, "tracks", cfg.Tracks, "tracks in the catalog")
	fs.Float64Var(&cfg.Hours, "hours", cfg.Hours, "simulated hours (Poisson arrivals; ignored with --stagger)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "the random seed: the same seed gives the same output, wall_s aside")
	fs.Float64Var(&cfg.Zipf, "zipf", cfg.Zipf, "Zipf exponent of the tracks' popularity")
	fs.Float64Var(&cfg.TrackSeconds, "track-s", cfg.TrackSeconds, "every track's length, seconds")
	fs.Float64Var(&cfg.BitrateKbps, "bitrate-kbps", cfg.BitrateKbps, "every track's bitrate, kbit/s")
	pieceLen := fs.String("piece-len", "auto", "piece length; auto: the seeder's (16 KiB, doubled while a track would have more than 1500 pieces, at most 64 KiB)")
	fs.DurationVar(&cfg.SessionMean, "session", cfg.SessionMean, "mean session length (exponential)")
	churn := fs.String("churn", "on", "on: listeners leave when their session ends, mid-track or not; off: online to the end")
	warm := fs.String("warm", "on", "on: the listeners online at the start hold the tracks they would have played in their session so far (steady state); off: empty caches (a flash crowd)")
	fs.DurationVar(&cfg.Stagger, "stagger", 0, "start the listeners this far apart, one track each, instead of Poisson arrivals")
	linger := fs.String("linger", "end", "with --stagger: how long a listener stays online sharing after its track (30s, as bench-swarm's players), or end")
	fs.Float64Var(&cfg.UpX, "listener-up", cfg.UpX, "listener upload cap, a multiple of the bitrate")
	fs.Float64Var(&cfg.DownX, "listener-down", cfg.DownX, "listener download cap, a multiple of the bitrate")
	seedCap := fs.String("seed-cap", cfg.SeedCapSpec, "seed server upload cap: a multiple of the bitrate (100x) or a rate (64KiB, 2MiB, per second)")
	dies := fs.String("seed-dies-at", "never", "the seed server dies at this time (15s) or once its cap could have sent this many catalogs (1.5x)")
	fs.DurationVar(&cfg.RTT, "rtt", 0, "round-trip time before an HTTP response")
	fs.DurationVar(&cfg.PeerSetup, "peer-setup", cfg.PeerSetup, "from a peer connection's dial to its first request (TCP and BitTorrent handshakes, bitfield, unchoke)")
	fs.DurationVar(&cfg.Tick, "tick", cfg.Tick, "the model's time step")
	fs.DurationVar(&cfg.DecideEvery, "decide-every", cfg.DecideEvery, "a playing stream decides at least this often (and at once when a piece or fetch changes)")
	fs.IntVar(&cfg.MaxConns, "max-conns", cfg.MaxConns, "connections per listener and track")
	steal := fs.String("steal", "on", "on: a connection that delivered lately takes requests from one with more out (anacrolix's request stealing); off: a request stays where it went")
	fs.DurationVar(&cfg.Params.PeerWindow, "peer-window", policy.DefaultParams.PeerWindow, "the policy's PeerWindow (the player's default; its PeerLead turns the window off)")
	asJSON := fs.Bool("json", false, "print only the JSON line")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct {
		name, value string
		to          *bool
	}{{"churn", *churn, &cfg.Churn}, {"steal", *steal, &cfg.Steal}, {"warm", *warm, &cfg.Warm}} {
		switch f.value {
		case "on":
			*f.to = true
		case "off":
			*f.to = false
		default:
			return cfg, false, fmt.Errorf("--%s: on or off, not %q", f.name, f.value)
		}
	}
	if *linger != "end" {
		d, err := time.ParseDuration(*linger)
		if err != nil || d < 0 {
			return cfg, false, fmt.Errorf("--linger: a duration such as 30s, or end, not %q", *linger)
		}
		cfg.Linger = d
	}
	var err error
	switch {
	case cfg.Listeners < 1 || cfg.Listeners > 100000:
		return cfg, false, fmt.Errorf("--listeners: 1 to 100000")
	case cfg.Tracks < 1 || cfg.Tracks > 1000000:
		return cfg, false, fmt.Errorf("--tracks: 1 to 1000000")
	case cfg.Stagger < 0:
		return cfg, false, fmt.Errorf("--stagger: not negative")
	case cfg.Stagger == 0 && !(cfg.Hours > 0 && cfg.Hours <= 1000):
		return cfg, false, fmt.Errorf("--hours: more than 0, at most 1000")
	case !(cfg.Zipf >= 0 && cfg.Zipf <= 10):
		return cfg, false, fmt.Errorf("--zipf: 0 to 10")
	case !(cfg.TrackSeconds >= 1 && cfg.TrackSeconds <= 3600):
		return cfg, false, fmt.Errorf("--track-s: 1 to 3600")
	case !(cfg.BitrateKbps >= 8 && cfg.BitrateKbps <= 10000):
		return cfg, false, fmt.Errorf("--bitrate-kbps: 8 to 10000")
	case cfg.SessionMean <= 0:
		return cfg, false, fmt.Errorf("--session: more than 0")
	case !(cfg.UpX >= 0 && cfg.UpX <= 1e6) || !(cfg.DownX > 0 && cfg.DownX <= 1e6):
		return cfg, false, fmt.Errorf("--listener-up: at least 0; --listener-down: more than 0")
	case cfg.RTT < 0 || cfg.RTT > time.Minute:
		return cfg, false, fmt.Errorf("--rtt: 0 to 1m")
	case cfg.Tick < time.Millisecond || cfg.Tick > time.Second:
		return cfg, false, fmt.Errorf("--tick: 1ms to 1s")
	case cfg.DecideEvery < cfg.Tick || cfg.DecideEvery > 10*time.Second:
		return cfg, false, fmt.Errorf("--decide-every: from --tick to 10s")
	case cfg.PeerSetup < 0 || cfg.PeerSetup > time.Minute:
		return cfg, false, fmt.Errorf("--peer-setup: 0 to 1m")
	case cfg.MaxConns < 1 || cfg.MaxConns > 1000:
		return cfg, false, fmt.Errorf("--max-conns: 1 to 1000")
	}
	bps := cfg.BitrateKbps * 1000 / 8
	if *pieceLen == "auto" {
		cfg.PieceLen = seederPieceLength(int64(cfg.TrackSeconds * bps))
	} else if cfg.PieceLen, err = parseBytes(*pieceLen); err != nil || cfg.PieceLen < 1<<10 || cfg.PieceLen > 16<<20 {
		return cfg, false, fmt.Errorf("--piece-len: auto, or 1KiB to 16MiB, not %q", *pieceLen)
	}
	cfg.SeedCapSpec = *seedCap
	if x, ok := strings.CutSuffix(*seedCap, "x"); ok {
		m, err := strconv.ParseFloat(x, 64)
		if err != nil || !(m > 0 && m <= 1e6) {
			return cfg, false, fmt.Errorf("--seed-cap: a multiple such as 100x or a rate such as 64KiB, not %q", *seedCap)
		}
		cfg.SeedCap = m * bps
	} else {
		n, err := parseBytes(*seedCap)
		if err != nil || n <= 0 {
			return cfg, false, fmt.Errorf("--seed-cap: a multiple such as 100x or a rate such as 64KiB, not %q", *seedCap)
		}
		cfg.SeedCap = float64(n)
	}
	cfg.SeedDiesSpec = *dies
	switch x, ok := strings.CutSuffix(*dies, "x"); {
	case *dies == "never":
		cfg.SeedDiesAt = -1
	case ok:
		m, err := strconv.ParseFloat(x, 64)
		if err != nil || !(m >= 0 && m <= 1e6) {
			return cfg, false, fmt.Errorf("--seed-dies-at: a time such as 15s or a multiple of the catalog such as 1.5x, not %q", *dies)
		}
		size := float64(int64(cfg.TrackSeconds * bps))
		cfg.SeedDiesAt = time.Duration(m * size * float64(cfg.Tracks) / cfg.SeedCap * 1e9)
	default:
		d, err := time.ParseDuration(*dies)
		if err != nil || d < 0 {
			return cfg, false, fmt.Errorf("--seed-dies-at: a time such as 15s or a multiple of the catalog such as 1.5x, not %q", *dies)
		}
		cfg.SeedDiesAt = d
	}
	return cfg, *asJSON, nil
}

// parseBytes parses 65536, 64KiB, 2MiB, 1.5MB.
func parseBytes(s string) (int64, error) {
	mult := 1.0
	for _, u := range []struct {
		suf string
		m   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if x, ok := strings.CutSuffix(s, u.suf); ok {
			s, mult = x, u.m
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(v * mult), nil
}

// seederPieceLength is client/seeder.PieceLength (not imported: it would
// link the BitTorrent library): 16 KiB, doubled while the track would have
// more than 1500 pieces, at most 64 KiB.
func seederPieceLength(size int64) int64 {
	pl := int64(16 << 10)
	for pl < 64<<10 && (size+pl-1)/pl > 1500 {
		pl *= 2
	}
	return pl
}
