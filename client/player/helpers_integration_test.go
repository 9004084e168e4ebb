//go:build integration

package player_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// TestMain removes the peertune binary the tests built.
func TestMain(m *testing.M) { os.Exit(itest.Main(m)) }

// newEnv starts a swarm whose tracker asks for announces every 5 s, with
// the seeder capped at uploadRate bytes per second (0: uncapped), and
// waits until n tracks are published.
func newEnv(t *testing.T, lib string, uploadRate int64, n int) *itest.Swarm {
	t.Helper()
	return itest.NewSwarm(t, lib, n, itest.SwarmOptions{Interval: 5 * time.Second, UploadRate: uploadRate})
}

// privateBus starts a D-Bus session daemon of the test's own, stopped when
// the test ends, and returns its address.
func privateBus(t *testing.T) string {
	t.Helper()
	itest.Need(t, "dbus-daemon")
	bus := filepath.Join(t.TempDir(), "bus")
	daemon := itest.Start(t, nil, "dbus-daemon", "--session", "--nofork", "--nopidfile", "--address=unix:path="+bus)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(bus); err == nil {
			return "unix:path=" + bus
		}
		if time.Now().After(deadline) {
			t.Fatalf("dbus-daemon made no socket\n%s", daemon.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPlayerctl waits up to 15 s for `playerctl -p peertune ARGS` to print
// want, failing the test with what it printed last.
func waitPlayerctl(t *testing.T, what, want string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		out, _ := exec.Command("playerctl", append([]string{"-p", "peertune"}, args...)...).CombinedOutput()
		if got = strings.TrimSpace(string(out)); got == want {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: playerctl %v says %q, want %q", what, args, got, want)
}

// logIfFailed logs the file (a player's log) when the test failed.
func logIfFailed(t *testing.T, path string) {
	if !t.Failed() {
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Logf("no %s: %v", path, err)
		return
	}
	// The end of it: a debug log of a whole test is long.
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) > 400 {
		lines = lines[len(lines)-400:]
	}
	t.Logf("--- %s (its last %d lines)\n%s", path, len(lines), strings.Join(lines, ""))
}
