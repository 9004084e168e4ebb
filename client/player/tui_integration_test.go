//go:build integration

package player_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

var clockRE = regexp.MustCompile(`(\d+):(\d\d) / 0:20`)

// terminal runs shell in a tmux session of its own, 110 columns by rows,
// killed when the test ends: send types keys into it, screen is what it
// shows.
func terminal(t *testing.T, rows int, shell string) (send func(keys ...string), screen func() string) {
	t.Helper()
	session := fmt.Sprintf("peertune-tui-%d", itest.FreePort(t))
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", session, "-x", "110", "-y", strconv.Itoa(rows), shell)
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	send = func(keys ...string) { tmux(append([]string{"send-keys", "-t", session}, keys...)...) }
	return send, func() string { return tmux("capture-pane", "-p", "-t", session) }
}

// The terminal UI in a real terminal (tmux): the progress advances, space
// pauses it, → moves it forward, q exits 0 and gives the terminal back
// (canonical mode on, the alternate screen left).
func TestTerminalUI(t *testing.T) {
	itest.Need(t, "tmux")
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Screen Test", 20, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByCodec("flac")
	shell := fmt.Sprintf("%s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null %s; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 120",
		e.Bin, e.TrackerURL, t.TempDir(), tr.ID)
	send, screen := terminal(t, 30, shell)
	pos := func() (time.Duration, string) {
		s := screen()
		m := clockRE.FindStringSubmatch(s)
		if m == nil {
			return -1, s
		}
		mi, _ := strconv.Atoi(m[1])
		se, _ := strconv.Atoi(m[2])
		return time.Duration(mi*60+se) * time.Second, s
	}
	waitFor := func(what string, ok func(time.Duration, string) bool) (time.Duration, string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			p, s := pos()
			if ok(p, s) {
				return p, s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: screen:\n%s", what, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	p1, s := waitFor("the UI shows the track playing", func(p time.Duration, s string) bool {
		return p >= time.Second && strings.Contains(s, "playing")
	})
	for _, want := range []string{"Screen Test", "Test Artist", "Test Album", "peers", "seed server", "queue"} {
		if !strings.Contains(s, want) {
			t.Errorf("screen lacks %q:\n%s", want, s)
		}
	}
	waitFor("the progress advances", func(p time.Duration, _ string) bool { return p >= p1+2*time.Second })

	send("space")
	paused, _ := waitFor("space pauses", func(_ time.Duration, s string) bool { return strings.Contains(s, "paused") })
	time.Sleep(1500 * time.Millisecond)
	if p, s := pos(); p != paused || !strings.Contains(s, "paused") {
		t.Errorf("paused at %v, %v 1.5 s later:\n%s", paused, p, s)
	}
	send("space")
	send("Right")
	waitFor("→ moves forward", func(p time.Duration, s string) bool { return p >= paused+5*time.Second })

	send("q")
	_, s = waitFor("q exits", func(_ time.Duration, s string) bool {
		return strings.Contains(s, "EXIT=") && strings.Contains(s, "icanon")
	})
	if !strings.Contains(s, "EXIT=0") {
		t.Errorf("exit status after q:\n%s", s)
	}
	if strings.Contains(s, "-icanon") {
		t.Errorf("terminal left in raw mode:\n%s", s)
	}
	if strings.Contains(s, "seed server") || strings.Contains(s, "Screen Test") {
		t.Errorf("the UI is still on the screen after q:\n%s", s)
	}
}

// The terminal UI driven from another terminal: ctl sees and steers it, a
// second play on its cache queues into it (exit 0), and the screen shows
// both.
func TestTerminalUIRemote(t *testing.T) {
	itest.Need(t, "tmux")
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Screen One", 20, "flac")
	itest.MakeTrack(t, lib, "Screen Two", 20, "flac")
	e := newEnv(t, lib, 0, 2)
	one := e.TrackByTitle("Screen One")
	cache := t.TempDir()
	runtime := t.TempDir()
	shell := fmt.Sprintf("XDG_RUNTIME_DIR=%s %s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null %s; echo EXIT=$?; sleep 120",
		runtime, e.Bin, e.TrackerURL, cache, one.ID)
	send, screen := terminal(t, 40, shell)
	waitScreen := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			s := screen()
			if ok(s) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: screen:\n%s", what, s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	run := func(args ...string) (string, int) {
		cmd := exec.Command(e.Bin, args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}

	waitScreen("the UI plays the first track", func(s string) bool { return strings.Contains(s, "playing") && strings.Contains(s, "Screen One") })
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, code := run("ctl", "--cache", cache, "status")
		if code == 0 && strings.Contains(out, "Screen One") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ctl status against the UI: exit %d, %q", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := run("play", "--tracker", e.TrackerURL, "--cache", cache, "--output", "null", "Screen Two"); code != 0 || !strings.Contains(out, "queued") {
		t.Fatalf("a second play on the UI's cache: exit %d, %q", code, out)
	}
	waitScreen("the UI's queue shows the second track", func(s string) bool { return strings.Contains(s, "2. Test Artist – Screen Two") })
	run("ctl", "--cache", cache, "next")
	waitScreen("ctl next: the UI plays the second track", func(s string) bool {
		return strings.Contains(s, "▶  2. Test Artist – Screen Two") && strings.Contains(s, "playing")
	})
	run("ctl", "--cache", cache, "pause")
	waitScreen("ctl pause: the UI shows it", func(s string) bool { return strings.Contains(s, "paused") })

	send("q")
	waitScreen("q exits", func(s string) bool { return strings.Contains(s, "EXIT=") })
	if s := screen(); !strings.Contains(s, "EXIT=0") {
		t.Errorf("exit status after q:\n%s", s)
	}
}
