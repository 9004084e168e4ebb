// Command benchinternet runs the swarm bench's schedule in a network lab
// (internal/netlab): a tracker and a capped seed server on the public
// segment, every listener in a home of its own on a capped, delayed line,
// run twice: all homes public, then a share of them behind NAT. It is
// scripts/bench-internet.sh's engine; see that script for the figures.
//
//	go run ./internal/cmd/benchinternet --peertune BIN --track FILE.mp3 --out DIR
//
// It needs root (network namespaces). Everything it starts is stopped, and
// every namespace removed, on exit, on failure and on Ctrl-C.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/peertune/peertune/internal/benchsummary"
	"github.com/peertune/peertune/internal/netlab"
	"github.com/peertune/peertune/proto"
)

type config struct {
	peertune, track, out string
	players              int
	stagger, linger, rtt time.Duration
	seedCap, up, down    float64 // multiples of the track's bitrate
	natShare             float64
	only                 string // "", "public" or "nat"
	playerArgs           []string
}

func main() {
	var c config
	flag.StringVar(&c.peertune, "peertune", "", "the peertune binary (required)")
	flag.StringVar(&c.track, "track", "", "the track to publish, an mp3 (required)")
	flag.StringVar(&c.out, "out", "", "folder for summary.json, each run's logs and reports (required)")
	flag.IntVar(&c.players, "players", 20, "listeners, one home each")
	flag.DurationVar(&c.stagger, "stagger", 3*time.Second, "time between two listeners' starts")
	flag.DurationVar(&c.linger, "linger", 30*time.Second, "how long a listener keeps sharing after the track")
	flag.DurationVar(&c.rtt, "rtt", 40*time.Millisecond, "round trip from a home to the public segment (half each way)")
	flag.Float64Var(&c.seedCap, "seed-cap", 4, "seed server upload cap, a multiple of the bitrate")
	flag.Float64Var(&c.up, "up", 2, "each home's upload cap, a multiple of the bitrate")
	flag.Float64Var(&c.down, "down", 10, "each home's download cap, a multiple of the bitrate")
	flag.Float64Var(&c.natShare, "nat-share", 0.7, "share of the homes behind NAT in the second run")
	flag.StringVar(&c.only, "only", "", "run one scenario only: public or nat")
	extra := flag.String("player-args", "", "more flags for every player, space-separated (e.g. --no-utp)")
	flag.Parse()
	c.playerArgs = strings.Fields(*extra)
	if c.peertune == "" || c.track == "" || c.out == "" || c.players < 1 || c.natShare < 0 || c.natShare > 1 ||
		(c.only != "" && c.only != "public" && c.only != "nat") {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := runAll(ctx, c, log); err != nil {
		log.Error("bench-internet", "err", err)
		os.Exit(1)
	}
}

// Summary is one run's figures: bench-swarm's, and the connections.
type Summary struct {
	benchsummary.Run
	Connections Connections `json:"connections"`
	// Seconds the players' playback waited for bytes: summed over the
	// players, and the median player's (over the players with a report).
	// How far a run is from no underrun at all, where the count of
	// playbacks with one says little once every playback has one.
	UnderrunS    float64 `json:"underrun_s"`
	UnderrunP50S float64 `json:"underrun_p50_s"`
}

// Connections sums the players' player-to-player connections. UPnP counts
// incoming connections through a port mapping a player asked its router
// for: none here, for the bench's routers speak no UPnP and its players do
// not ask (the lab's TestListenerBehindNATWithUPnPIsDialled does).
type Connections struct {
	Outgoing    int `json:"outgoing"`
	Incoming    int `json:"incoming"`
	Holepunched int `json:"holepunched"`
	UPnP        int `json:"upnp"`
	UTP         int `json:"utp"`
	TCP         int `json:"tcp"`
}

func runAll(ctx context.Context, c config, log *slog.Logger) error {
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return fmt.Errorf("out folder: %w", err)
	}
	res := map[string]*Summary{}
	for _, sc := range []struct {
		name  string
		share float64
	}{{"public", 0}, {"nat", c.natShare}} {
		if c.only != "" && c.only != sc.name {
			continue
		}
		log.Info("run", "scenario", sc.name, "behind NAT", sc.share)
		s, err := runOne(ctx, c, sc.name, sc.share, log)
		if err != nil {
			return fmt.Errorf("%s run: %w", sc.name, err)
		}
		res[sc.name] = s
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "summary.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	fmt.Print(table(res))
	return nil
}

// behindNAT spreads the homes behind NAT evenly: home i is when the count
// of NAT homes up to it steps.
func behindNAT(i int, share float64) bool {
	return math.Floor(float64(i+1)*share+1e-9) > math.Floor(float64(i)*share+1e-9)
}

func runOne(ctx context.Context, c config, name string, share float64, log *slog.Logger) (*Summary, error) {
	// A rerun into the same --out starts clean: the last run's tracker
	// data would list the track before this run's seeder serves it.
	dir := filepath.Join(c.out, name)
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	lab, err := netlab.New(ctx, log)
	if err != nil {
		return nil, err
	}
	defer lab.Close()
	procs := &procSet{}
	defer procs.stopAll()

	srv, err := lab.AddPublic(ctx, "srv")
	if err != nil {
		return nil, err
	}
	web := srv.HTTPClient()
	lib := filepath.Join(dir, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(c.track)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(lib, filepath.Base(c.track)), data, 0o644); err != nil {
		return nil, err
	}
	tracker := fmt.Sprintf("http://%s:7000", srv.Addr)
	if _, err := procs.start(ctx, srv, dir, "tracker", c.peertune, "tracker", "--listen", srv.Addr.String()+":7000",
		"--udp", srv.Addr.String()+":7000", "--data", filepath.Join(dir, "tracker-data"), "--token", "tok"); err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, web, tracker+proto.PathHealthz, 30*time.Second); err != nil {
		return nil, err
	}
	// The seeder is capped once the bitrate is known: from the catalog.
	probe := func() (proto.Track, bool) {
		resp, err := web.Get(tracker + proto.PathTracks)
		if err != nil {
			return proto.Track{}, false
		}
		defer resp.Body.Close()
		var list proto.TrackList
		if json.NewDecoder(resp.Body).Decode(&list) != nil || len(list.Tracks) == 0 {
			return proto.Track{}, false
		}
		return list.Tracks[0], true
	}
	bitrate, err := mp3Bitrate(ctx, c.track)
	if err != nil {
		return nil, err
	}
	bps := float64(bitrate) / 8
	seedURL := fmt.Sprintf("http://%s:7070", srv.Addr)
	if _, err := procs.start(ctx, srv, dir, "seed", c.peertune, "seed", "--tracker", tracker, "--token", "tok",
		"--listen", srv.Addr.String()+":7070", "--bt-listen", srv.Addr.String()+":7071",
		"--upload-rate", strconv.FormatInt(int64(c.seedCap*bps), 10), lib); err != nil {
		return nil, err
	}
	var track proto.Track
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ok bool
		if track, ok = probe(); ok {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the track was not published within 60 s")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	seed0, err := seedUpload(web, seedURL)
	if err != nil {
		return nil, err
	}

	link := netlab.Link{Up: int64(c.up * bps), Down: int64(c.down * bps), RTT: c.rtt}
	homes := make([]*netlab.Host, c.players)
	for i := range homes {
		if homes[i], err = lab.AddHome(ctx, fmt.Sprintf("home%d", i+1), netlab.Home{NAT: behindNAT(i, share), Link: link}); err != nil {
			return nil, err
		}
	}
	log.Info("lab ready", "scenario", name, "homes", len(homes), "track", track.ID, "bitrate", bitrate)
	trackDur := time.Duration(track.DurationS * float64(time.Second))
	type player struct {
		p     *proc
		start time.Time
	}
	players := make([]player, c.players)
	t0 := time.Now()
	for i, h := range homes {
		at := t0.Add(time.Duration(i) * c.stagger)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Until(at)):
		}
		args := append([]string{"play", "--tracker", tracker,
			"--cache", filepath.Join(dir, fmt.Sprintf("cache-%d", i+1)), "--output", "null", "--json",
			"--linger", c.linger.String(), "--log-level", "debug", "--bt-listen", "0.0.0.0:6881"}, c.playerArgs...)
		p, err := procs.start(ctx, h, dir, fmt.Sprintf("player-%d", i+1), c.peertune, append(args, track.ID)...)
		if err != nil {
			return nil, err
		}
		players[i] = player{p, time.Now()}
	}
	s := &Summary{Run: benchsummary.Run{Started: len(players)}}
	var ttfa, waited []float64
	var network int64 // bytes the players' reports count from the network
	for i, pl := range players {
		// A slow swarm plays a track in more than its length: the slack is
		// a track's length, at least a minute, and bounds the run.
		limit := time.Until(pl.start.Add(trackDur + c.linger + max(trackDur, time.Minute)))
		code := pl.p.wait(ctx, limit)
		reps, err := pl.p.reports()
		if err != nil {
			log.Warn("player reports", "player", i+1, "err", err)
		}
		done, underrun, wait := false, false, 0.0
		for _, r := range reps {
			underrun = underrun || r.Underruns > 0
			wait += r.UnderrunMs / 1000
			done = done || r.PlayedS >= track.DurationS-max(1, 0.02*track.DurationS)
			s.PeerCountedBytes += r.BytesPeers
			s.PeerWireBytes += r.BytesPeersWire
			s.Connections.Outgoing += r.Connections.Outgoing
			s.Connections.Incoming += r.Connections.Incoming
			s.Connections.Holepunched += r.Connections.Holepunched
			s.Connections.UPnP += r.Connections.UPnP
			s.Connections.UTP += r.Connections.UTP
			s.Connections.TCP += r.Connections.TCP
		}
		if len(reps) > 0 {
			ttfa = append(ttfa, reps[0].TTFAms)
			waited = append(waited, wait)
		}
		if code == 0 && done {
			s.Finished++
		}
		if underrun {
			s.PlaybacksWithUnderrun++
		}
		for _, r := range reps {
			network += r.NetworkBytes()
		}
	}
	seed1, err := seedUpload(web, seedURL)
	if err != nil {
		return nil, err
	}
	if network > 0 {
		s.SeedShare = float64(seed1-seed0) / float64(network)
	}
	slices.Sort(ttfa)
	s.TTFAp50ms, s.TTFAp95ms = benchsummary.Percentile(ttfa, 50), benchsummary.Percentile(ttfa, 95)
	for _, w := range waited {
		s.UnderrunS += w
	}
	slices.Sort(waited)
	s.UnderrunP50S = benchsummary.Percentile(waited, 50)
	return s, nil
}

func parseReports(out []byte) ([]proto.PlayReport, error) {
	var reps []proto.PlayReport
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r proto.PlayReport
		if err := json.Unmarshal(line, &r); err != nil {
			return reps, fmt.Errorf("report %q: %w", line, err)
		}
		reps = append(reps, r)
	}
	return reps, sc.Err()
}

var uploadRE = regexp.MustCompile(`(?m)^peertune_seeder_upload_bytes_total\{[^}]*\} ([0-9.e+]+)$`)

func seedUpload(web *http.Client, seedURL string) (int64, error) {
	resp, err := web.Get(seedURL + proto.PathMetrics)
	if err != nil {
		return 0, fmt.Errorf("seeder metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("seeder metrics: %w", err)
	}
	var total float64
	for _, m := range uploadRE.FindAllSubmatch(b, -1) {
		f, _ := strconv.ParseFloat(string(m[1]), 64)
		total += f
	}
	return int64(total), nil
}

func waitHTTP(ctx context.Context, web *http.Client, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := web.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not up within %v (%v)", url, d, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mp3Bitrate is the file's bit rate in bits per second (ffprobe).
func mp3Bitrate(ctx context.Context, path string) (int64, error) {
	out, err := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-show_entries", "format=bit_rate",
		"-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		return 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("ffprobe %s: bit rate %q", path, out)
	}
	return n, nil
}

// proc is a process in a host's namespace; its stdout and stderr go to
// files in the run's folder.
type proc struct {
	cmd        *exec.Cmd
	stdoutPath string
	done       chan struct{}
	code       int
}

// reports parses the play reports a player printed; call it once the
// player has exited.
func (p *proc) reports() ([]proto.PlayReport, error) {
	out, err := os.ReadFile(p.stdoutPath)
	if err != nil {
		return nil, err
	}
	return parseReports(out)
}

type procSet struct {
	mu    sync.Mutex
	procs []*proc
}

func (ps *procSet) start(ctx context.Context, h *netlab.Host, dir, name, bin string, args ...string) (*proc, error) {
	cmd := h.Command(context.Background(), bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	outPath := filepath.Join(dir, name+".out")
	outF, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	errF, err := os.Create(filepath.Join(dir, name+".err"))
	if err != nil {
		outF.Close()
		return nil, err
	}
	p := &proc{cmd: cmd, stdoutPath: outPath, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = outF, errF
	if err := cmd.Start(); err != nil {
		outF.Close()
		errF.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		err := cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		if err != nil && p.code == 0 {
			p.code = -1
		}
		outF.Close()
		errF.Close()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.procs = append(ps.procs, p)
	ps.mu.Unlock()
	return p, nil
}

// wait waits for the process to exit within d (SIGTERM, then SIGKILL 10 s
// later, past it) and returns its exit code.
func (p *proc) wait(ctx context.Context, d time.Duration) int {
	select {
	case <-p.done:
		return p.code
	case <-ctx.Done():
	case <-time.After(max(d, 0)):
	}
	p.stop()
	return p.code
}

func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func (ps *procSet) stopAll() {
	ps.mu.Lock()
	procs := slices.Clone(ps.procs)
	ps.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
}

// table is the Markdown table of the runs and the targets.
func table(res map[string]*Summary) string {
	pub, nat := res["public"], res["nat"]
	var b strings.Builder
	col := func(s *Summary, f func(*Summary) string) string {
		if s == nil {
			return "–"
		}
		return f(s)
	}
	row := func(name string, f func(*Summary) string, target string) {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, col(pub, f), col(nat, f), target)
	}
	mark := func(ok bool) string {
		if ok {
			return "✓"
		}
		return "✗"
	}
	// A target holds only when both runs finished every playback: a run
	// whose players produced no report has no figures to meet it with.
	whole := func(s *Summary) bool { return s != nil && s.Started > 0 && s.Finished == s.Started }
	both := whole(pub) && whole(nat)
	b.WriteString("| | all public | 70 % behind NAT | target |\n|---|---:|---:|---|\n")
	row("finished / started", func(s *Summary) string { return fmt.Sprintf("%d / %d", s.Finished, s.Started) }, "")
	row("playbacks with an underrun", func(s *Summary) string { return strconv.Itoa(s.PlaybacksWithUnderrun) },
		"0 in both "+mark(both && pub.PlaybacksWithUnderrun == 0 && nat.PlaybacksWithUnderrun == 0))
	row("time in underrun, all players / median player", func(s *Summary) string {
		return fmt.Sprintf("%.0f / %.1f s", s.UnderrunS, s.UnderrunP50S)
	}, "")
	row("seed share", func(s *Summary) string { return fmt.Sprintf("%.1f %%", 100*s.SeedShare) },
		"NAT ≤ 1.5 × public "+mark(both && nat.SeedShare <= 1.5*pub.SeedShare))
	row("time to first audio p50", func(s *Summary) string { return fmt.Sprintf("%.0f ms", s.TTFAp50ms) }, "")
	row("time to first audio p95", func(s *Summary) string { return fmt.Sprintf("%.0f ms", s.TTFAp95ms) },
		"NAT ≤ 2 × public "+mark(both && nat.TTFAp95ms <= 2*pub.TTFAp95ms))
	row("peer bytes on the wire / counted", func(s *Summary) string {
		return fmt.Sprintf("%.1f / %.1f MB (%.2f×)", float64(s.PeerWireBytes)/1e6, float64(s.PeerCountedBytes)/1e6,
			float64(s.PeerWireBytes)/max(float64(s.PeerCountedBytes), 1))
	}, "")
	row("connections out / in / hole-punched", func(s *Summary) string {
		return fmt.Sprintf("%d / %d / %d", s.Connections.Outgoing, s.Connections.Incoming, s.Connections.Holepunched)
	}, "NAT hole-punched > 0 "+mark(whole(nat) && nat.Connections.Holepunched > 0))
	row("connections uTP / TCP", func(s *Summary) string {
		return fmt.Sprintf("%d / %d", s.Connections.UTP, s.Connections.TCP)
	}, "")
	return b.String()
}
