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

// tmuxTerm is a shell in a tmux session of its own, 110 columns wide,
// killed when the test ends.
type tmuxTerm struct {
	t             *testing.T
	sock, session string
}

// terminal runs shell in a tmux session rows high.
func terminal(t *testing.T, rows int, shell string) *tmuxTerm {
	t.Helper()
	term := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock"), session: fmt.Sprintf("peertune-tui-%d", itest.FreePort(t))}
	term.tmux("new-session", "-d", "-s", term.session, "-x", "110", "-y", strconv.Itoa(rows), shell)
	t.Cleanup(func() {
		// A failed test shows what the terminal showed: a player that
		// died printed why there.
		if t.Failed() {
			if out, err := exec.Command("tmux", "-S", term.sock, "capture-pane", "-p", "-S", "-", "-t", term.session).CombinedOutput(); err == nil {
				t.Logf("the terminal at the end:\n%s", out)
			}
		}
		exec.Command("tmux", "-S", term.sock, "kill-server").Run()
	})
	return term
}

func (term *tmuxTerm) tmux(args ...string) string {
	term.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", term.sock}, args...)...).CombinedOutput()
	if err != nil {
		term.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// send types keys (tmux's names: "Enter", "Right", "space", or text).
func (term *tmuxTerm) send(keys ...string) {
	term.t.Helper()
	term.tmux(append([]string{"send-keys", "-t", term.session}, keys...)...)
}

// paste pastes text as a terminal does, in bracketed-paste marks when the
// program asked for them.
func (term *tmuxTerm) paste(text string) {
	term.t.Helper()
	term.tmux("set-buffer", "-b", "test", text)
	term.tmux("paste-buffer", "-p", "-d", "-b", "test", "-t", term.session)
}

// screen is what the terminal shows.
func (term *tmuxTerm) screen() string {
	term.t.Helper()
	return term.tmux("capture-pane", "-p", "-t", term.session)
}

// The terminal UI in a real terminal (tmux): the progress advances, space
// pauses it, → moves it forward, q exits 0 and gives the terminal back
// (canonical mode on, the alternate screen left).
// screenWaiter returns a wait for the screen to show what ok looks for,
// failing the test after 15 s with the screen it saw.
func screenWaiter(t *testing.T, screen func() string) func(what string, ok func(string) bool) {
	return func(what string, ok func(string) bool) {
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
}

// screenHas is a screenWaiter condition: the screen shows every part.
func screenHas(parts ...string) func(string) bool {
	return func(s string) bool {
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	}
}

func TestTerminalUI(t *testing.T) {
	itest.Need(t, "tmux")
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Screen Test", 20, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByCodec("flac")
	shell := fmt.Sprintf("%s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null --mpris=false %s; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -- '-\\?icanon'; sleep 120",
		e.Bin, e.TrackerURL, t.TempDir(), tr.ID)
	term := terminal(t, 30, shell)
	send, screen := term.send, term.screen
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
	shell := fmt.Sprintf("XDG_RUNTIME_DIR=%s %s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null --mpris=false %s; echo EXIT=$?; sleep 120",
		runtime, e.Bin, e.TrackerURL, cache, one.ID)
	term := terminal(t, 40, shell)
	send, screen := term.send, term.screen
	waitScreen := screenWaiter(t, screen)
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

// TestTerminalUILibrary: tab opens the library beside the queue: artists,
// then an artist's albums by year, then an album's tracks in order; a
// queues the album; ← goes back up.
func TestTerminalUILibrary(t *testing.T) {
	itest.Need(t, "tmux")
	lib := t.TempDir()
	for _, tr := range []struct{ file, title, album, track, date string }{
		{"1", "Later Opener", "Second Record", "1", "2005"},
		{"2", "Song Two", "First Record", "2", "2001"},
		{"3", "Song One", "First Record", "1", "2001"},
	} {
		itest.MakeTrackWithTags(t, lib, tr.file, 10, "flac", "title="+tr.title, "artist=Lib Band",
			"album="+tr.album, "track="+tr.track, "date="+tr.date)
	}
	itest.MakeTrackWithTags(t, lib, "4", 20, "flac", "title=Elsewhere", "artist=Another Artist", "album=Other Record")
	e := newEnv(t, lib, 0, 4)
	first := e.TrackByTitle("Elsewhere")
	shell := fmt.Sprintf("XDG_RUNTIME_DIR=%s %s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null --mpris=false %s; echo EXIT=$?; sleep 120",
		t.TempDir(), e.Bin, e.TrackerURL, t.TempDir(), first.ID)
	term := terminal(t, 40, shell)
	send, screen := term.send, term.screen
	waitScreen := screenWaiter(t, screen)
	waitScreen("the UI plays", screenHas("playing", "Elsewhere"))
	send("Tab")
	waitScreen("tab: the artists", screenHas("library: artists", "Another Artist", "Lib Band", "2 albums"))
	send("Down", "Enter")
	waitScreen("enter: Lib Band's albums, by year", func(s string) bool {
		i, j := strings.Index(s, "2001  First Record"), strings.Index(s, "2005  Second Record")
		return strings.Contains(s, "library: Lib Band") && i >= 0 && j > i
	})
	send("Enter")
	waitScreen("enter: the album's tracks in order", func(s string) bool {
		i, j := strings.Index(s, "1. Song One"), strings.Index(s, "2. Song Two")
		return strings.Contains(s, "library: Lib Band – First Record") && i >= 0 && j > i
	})
	// The queue beside it still shows what plays.
	if s := screen(); !strings.Contains(s, "1. Another Artist – Elsewhere") {
		t.Errorf("the queue is not beside the library:\n%s", s)
	}
	send("a")
	waitScreen("a: the album is queued in order", func(s string) bool {
		i, j := strings.Index(s, "2. Lib Band – Song One"), strings.Index(s, "3. Lib Band – Song Two")
		return strings.Contains(s, "added First Record (2 tracks)") && i >= 0 && j > i
	})
	send("Left")
	waitScreen("←: back to the albums", screenHas("library: Lib Band", "2005  Second Record"))
	send("Tab")
	waitScreen("tab: the library closes", func(s string) bool { return !strings.Contains(s, "library:") })
	send("q")
	waitScreen("q exits", screenHas("EXIT="))
	if s := screen(); !strings.Contains(s, "EXIT=0") {
		t.Errorf("exit status after q:\n%s", s)
	}
}

// TestTerminalUIKeysFromTheConfigFile: the config file's [keys] rebinds the
// UI's keys in a real terminal (the old key does nothing, the new one acts,
// the help shows it), and a queue longer than the screen scrolls with the
// cursor.
func TestTerminalUIKeysFromTheConfigFile(t *testing.T) {
	itest.Need(t, "tmux")
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Rebound", 30, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByTitle("Rebound")
	config := t.TempDir()
	if err := os.MkdirAll(filepath.Join(config, "peertune"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := "[keys]\npause = \"x\"\nquit = [\"Q\", \"ctrl+q\"]\ncursor-down = \"ctrl+n\"\n"
	if err := os.WriteFile(filepath.Join(config, "peertune", "config.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same track 40 times over: a queue longer than 30 rows.
	ids := strings.Repeat(tr.ID+" ", 40)
	shell := fmt.Sprintf("XDG_CONFIG_HOME=%s XDG_RUNTIME_DIR=%s %s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null --mpris=false %s; echo EXIT=$?; sleep 120",
		config, t.TempDir(), e.Bin, e.TrackerURL, t.TempDir(), ids)
	term := terminal(t, 30, shell)
	waitScreen := screenWaiter(t, term.screen)

	waitScreen("the UI plays, the help shows the rebound keys", screenHas("▶  1. Test Artist – Rebound", "playing", "x pause", "Q/ctrl+q quit"))
	waitScreen("a long queue shows how many more", screenHas("▶  1. Test Artist – Rebound", "… 30 more"))
	if s := term.screen(); strings.Contains(s, "40. Test Artist") {
		t.Errorf("all 40 queued tracks on a 30-row screen:\n%s", s)
	}
	// Keys are taken in order: had space still paused, x would resume.
	term.send("space", "x")
	waitScreen("x pauses, space does not", screenHas("paused"))
	term.send("x")
	waitScreen("x resumes", screenHas("playing"))

	// The cursor (down rebound to ctrl+n) walks down the queue, and the
	// queue scrolls to keep it on the screen.
	for range 30 {
		term.send("C-n")
	}
	waitScreen("the queue scrolls with the cursor", screenHas("›  31. Test Artist – Rebound", "before"))
	if s := term.screen(); strings.Contains(s, "▶  1. Test Artist") {
		t.Errorf("the top of the queue is still shown with the cursor at 31:\n%s", s)
	}

	// Had q still quit, s would not show shuffle.
	term.send("q", "s")
	waitScreen("q does not quit", screenHas("shuffle"))
	if s := term.screen(); strings.Contains(s, "EXIT=") {
		t.Fatalf("q still quits after quit was rebound:\n%s", s)
	}
	term.send("Q")
	waitScreen("Q quits", screenHas("EXIT="))
	if s := term.screen(); !strings.Contains(s, "EXIT=0") {
		t.Errorf("exit status after Q:\n%s", s)
	}
}
