//go:build integration

package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// TestMain removes the binaries the tests built (peertune, badpeer).
func TestMain(m *testing.M) {
	code := itest.Main(m)
	if badpeerPath != "" {
		os.RemoveAll(filepath.Dir(badpeerPath))
	}
	os.Exit(code)
}

// newEnv starts a swarm with the faults' tracker timing unless o sets its
// own: announces every 3 s, peers forgotten after three intervals.
func newEnv(t *testing.T, lib string, n int, o itest.SwarmOptions) *itest.Swarm {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = 3 * time.Second
	}
	if o.PeerTTL == 0 {
		o.PeerTTL = 3 * o.Interval
	}
	return itest.NewSwarm(t, lib, n, o)
}

// waitReports waits until a player printed n reports.
func waitReports(t *testing.T, name string, p *itest.Proc, n int, timeout time.Duration) []itest.Report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rs := itest.ParseReports(t, p.Stdout()); len(rs) >= n {
			return rs
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited %d before its report\nstderr:\n%s", name, p.Cmd.ProcessState.ExitCode(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no report within %v\nstderr:\n%s", name, timeout, p.Stderr())
		}
	}
}

// waitCached waits until the player's cache records the track complete
// (every piece verified: the player holds the whole track).
func waitCached(t *testing.T, name, cache, id string, p *itest.Proc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(cache, "meta", id+".json"))
		if err == nil {
			var e struct {
				Complete bool `json:"complete"`
			}
			if json.Unmarshal(b, &e) == nil && e.Complete {
				return
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited %d before holding the whole track\nstderr:\n%s", name, p.Cmd.ProcessState.ExitCode(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold the whole track after %v\nstderr:\n%s", name, timeout, p.Stderr())
		}
	}
}

// progressRE matches the headless progress line: position, state, bytes by
// source, connected listeners.
var progressRE = regexp.MustCompile(`(\d+):(\d\d) / \d+:\d\d\s+(\w+)\s+seed ([0-9.]+ [KMG]?i?B) .*peers ([0-9.]+ [KMG]?i?B) .*cache ([0-9.]+ [KMG]?i?B) \(\d+%\)\s+(\d+) peers`)

// progress is one parsed progress line.
type progress struct {
	pos                time.Duration
	state              string
	seed, peers, cache int64
	listeners          int
}

// progressLines parses every progress line in a player's stderr.
func progressLines(stderr string) []progress {
	var out []progress
	for _, line := range strings.Split(stderr, "\n") {
		m := progressRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		mins, _ := strconv.Atoi(m[1])
		secs, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[7])
		out = append(out, progress{pos: time.Duration(mins*60+secs) * time.Second, state: m[3],
			seed: sizeOf(m[4]), peers: sizeOf(m[5]), cache: sizeOf(m[6]), listeners: n})
	}
	return out
}

func sizeOf(s string) int64 {
	f, unit, _ := strings.Cut(s, " ")
	v, _ := strconv.ParseFloat(f, 64)
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	return int64(v * mult)
}

// makeTrack writes a 16-bit flac test track (see itest.MakeTrack) tagged
// as the faults' own.
func makeTrack(t *testing.T, dir, title string, seconds int) string {
	t.Helper()
	itest.Need(t, "ffmpeg")
	return itest.MakeTaggedTrack(t, dir, title, "Fault Artist", "Fault Album", seconds, "flac")
}

var (
	badpeerOnce sync.Once
	badpeerPath string
	badpeerErr  error
)

// badpeerBinary builds internal/cmd/badpeer once per test binary.
func badpeerBinary(t *testing.T) string {
	t.Helper()
	badpeerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "peertune-badpeer-")
		if err != nil {
			badpeerErr = err
			return
		}
		badpeerPath = filepath.Join(dir, "badpeer")
		cmd := exec.Command("go", "build", "-o", badpeerPath, "./internal/cmd/badpeer")
		cmd.Dir = itest.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			badpeerErr = fmt.Errorf("go build ./internal/cmd/badpeer: %w\n%s", err, out)
		}
	})
	if badpeerErr != nil {
		t.Fatal(badpeerErr)
	}
	return badpeerPath
}

// samePCMBut compares PCM written in real time with a direct decode,
// allowing the silence an underrun inserts (the WAV output records what
// was heard): every sample must match, in order, once runs of silent
// frames in got that are not in want are taken out. It returns the
// silence taken out, in frames.
func samePCMBut(t *testing.T, name string, got, want []byte) int {
	t.Helper()
	const frame = 4 // 16-bit stereo
	silent := func(b []byte) bool { return b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 }
	i, j, gap := 0, 0, 0
	for i+frame <= len(got) && j+frame <= len(want) {
		if bytes.Equal(got[i:i+frame], want[j:j+frame]) {
			i += frame
			j += frame
			continue
		}
		if !silent(got[i : i+frame]) {
			t.Errorf("%s: PCM differs from a direct decode at output byte %d (source byte %d), not in a silent gap", name, i, j)
			return gap
		}
		for i+frame <= len(got) && silent(got[i:i+frame]) {
			i += frame
			gap++
		}
	}
	if j != len(want) || i != len(got) {
		t.Errorf("%s: %d of %d source bytes matched; %d output bytes left over", name, j, len(want), len(got)-i)
	}
	return gap
}
