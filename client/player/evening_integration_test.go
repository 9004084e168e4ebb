//go:build integration

package player_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/client/ctl"
	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/internal/itest"
)

// TestAnEveningWithThePlayer is a listener's evening in one flow, as the
// player issue tells it: `peertune play` in a terminal; from another
// terminal `peertune play --album` queues an album into it and `peertune
// ctl next` skips to it; the media keys (MPRIS, on by default for a
// terminal player, driven here by playerctl) pause, resume and skip; a
// pasted search picks a track, the queue is edited, shuffle and repeat
// are keys; q quits, and `peertune play --resume` goes on where it was.
func TestAnEveningWithThePlayer(t *testing.T) {
	itest.Need(t, "tmux", "playerctl")
	lib := t.TempDir()
	itest.MakeTrackWithTags(t, lib, "opener", 60, "flac", "title=Opener", "artist=Solo Artist", "album=Singles")
	// File names out of track order: the album's order is its tags'.
	// Midnight is long: it plays through the rest of the evening.
	for _, tr := range []struct {
		file, title, track string
		seconds            int
	}{{"c", "Dusk", "1", 60}, {"a", "Midnight", "2", 240}, {"b", "Dawn", "3", 60}} {
		itest.MakeTrackWithTags(t, lib, tr.file, tr.seconds, "flac", "title="+tr.title, "artist=Evening Band",
			"album=Night Album", "track="+tr.track, "date=2024")
	}
	e := newEnv(t, lib, 0, 4)
	cache, runtime := t.TempDir(), t.TempDir()
	t.Cleanup(func() { logIfFailed(t, filepath.Join(cache, "player.log")) })
	bus := privateBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", bus)
	t.Setenv("XDG_RUNTIME_DIR", runtime)

	playCmd := fmt.Sprintf("%s play --tracker %s --cache %s --bt-listen 127.0.0.1:0 --output null --log-level debug", e.Bin, e.TrackerURL, cache)
	// After the first player quits the shell waits for Enter, then resumes.
	shell := fmt.Sprintf("export DBUS_SESSION_BUS_ADDRESS=%s XDG_RUNTIME_DIR=%s; %s %s; echo EXIT=$?; read _; %s --resume; echo RESUMED=$?; sleep 120",
		bus, runtime, playCmd, e.TrackByTitle("Opener").ID, playCmd)
	term := terminal(t, 40, shell)
	waitScreen := screenWaiter(t, term.screen)
	inOrder := func(parts ...string) func(string) bool {
		return func(s string) bool {
			at := 0
			for _, p := range parts {
				i := strings.Index(s[at:], p)
				if i < 0 {
					return false
				}
				at += i + len(p)
			}
			return true
		}
	}
	run := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, e.Bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out), 0
	}
	status := func() ctl.Status {
		t.Helper()
		out, code := run("ctl", "--cache", cache, "status", "--json")
		if code != 0 {
			t.Fatalf("ctl status: exit %d: %s", code, out)
		}
		var st ctl.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("ctl status --json: %v: %q", err, out)
		}
		return st
	}
	mediaKey := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("playerctl", append([]string{"-p", "peertune"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("playerctl %v: %v\n%s", args, err, out)
		}
	}

	waitScreen("the player plays in the terminal", screenHas("▶  1. Solo Artist – Opener", "playing"))
	waitPlayerctl(t, "MPRIS is on for a terminal player", "Opener", "metadata", "title")

	// Another terminal: an album into the running player, then next.
	if out, code := run("play", "--tracker", e.TrackerURL, "--cache", cache, "--output", "null", "--album", "Night Album"); code != 0 || !strings.Contains(out, "queued") {
		t.Fatalf("play --album into the running player: exit %d, %q", code, out)
	}
	waitScreen("the album is queued in its order", inOrder("2. Evening Band – Dusk", "3. Evening Band – Midnight", "4. Evening Band – Dawn"))
	if out, code := run("ctl", "--cache", cache, "next"); code != 0 {
		t.Fatalf("ctl next: exit %d, %q", code, out)
	}
	waitScreen("ctl next plays the album", screenHas("▶  2. Evening Band – Dusk", "playing"))

	// The media keys.
	mediaKey("play-pause")
	waitScreen("the play/pause key pauses", screenHas("paused"))
	waitPlayerctl(t, "MPRIS status", "Paused", "status")
	mediaKey("play-pause")
	waitScreen("the play/pause key resumes", screenHas("▶  2. Evening Band – Dusk", "playing"))
	mediaKey("next")
	waitScreen("the next key", screenHas("▶  3. Evening Band – Midnight", "playing"))
	waitPlayerctl(t, "MPRIS metadata follows", "Midnight", "metadata", "title")

	// A pasted search: one line of the paste is the query, its matches are
	// offered, a digit adds one.
	term.send("/")
	waitScreen("/ opens the search", screenHas("search: █"))
	term.paste("Evening Band\nnot this line")
	waitScreen("the paste is in the search field", screenHas("search: Evening Band█"))
	term.send("Enter")
	waitScreen("the search offers every match", screenHas(`3 matches for "Evening Band"`, "Dusk (Night Album)", "Midnight (Night Album)", "Dawn (Night Album)"))
	pick := regexp.MustCompile(`(\d)\. Evening Band – Dawn \(Night Album\)`).FindStringSubmatch(term.screen())
	if pick == nil {
		t.Fatalf("no numbered match for Dawn:\n%s", term.screen())
	}
	term.send(pick[1])
	waitScreen("the digit adds the match", screenHas("added Evening Band – Dawn", "5. Evening Band – Dawn"))

	// Queue editing: the cursor goes down to the added track, d removes it;
	// K moves the one above up past the playing track, J moves it back.
	term.send("Down", "Down", "d")
	waitScreen("d removes the track", func(s string) bool {
		return !strings.Contains(s, "5. Evening Band") && strings.Contains(s, "4. Evening Band – Dawn")
	})
	term.send("K")
	waitScreen("K moves it up", inOrder("3. Evening Band – Dawn", "▶  4. Evening Band – Midnight"))
	term.send("J")
	waitScreen("J moves it back", inOrder("▶  3. Evening Band – Midnight", "4. Evening Band – Dawn"))

	// Shuffle, repeat, a seek and the volume, all to be restored.
	term.send("s", "r")
	waitScreen("s and r", screenHas("shuffle", "repeat all"))
	unseeked := status().PositionS
	term.send("Right", "Right")
	deadline := time.Now().Add(10 * time.Second)
	for st := status(); st.PositionS < unseeked+9.5; st = status() {
		if time.Now().After(deadline) {
			t.Fatalf("→ → from %.1f s: at %.1f s, want 10 s on", unseeked, st.PositionS)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, code := run("ctl", "--cache", cache, "volume", "40"); code != 0 {
		t.Fatalf("ctl volume: exit %d, %q", code, out)
	}
	waitScreen("the volume", screenHas("volume 40%"))
	before := status()
	if before.Track == nil || before.Track.Title != "Midnight" || !before.Shuffle || before.Repeat != "all" || before.Volume != 40 {
		t.Fatalf("before quitting: %+v", before)
	}

	term.send("q")
	waitScreen("q quits", screenHas("EXIT="))
	if s := term.screen(); !strings.Contains(s, "EXIT=0") {
		t.Fatalf("exit status after q:\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(cache, player.StateFile)); err != nil {
		t.Fatalf("q saved no state: %v", err)
	}

	term.send("Enter") // the shell runs play --resume
	waitScreen("--resume goes on where it was", screenHas("playing", "Midnight", "shuffle", "repeat all", "volume 40%",
		"1. Solo Artist – Opener", "▶  3. Evening Band – Midnight", "4. Evening Band – Dawn"))
	after := status()
	if after.Track == nil || after.Track.Title != "Midnight" || after.PositionS < before.PositionS-1 || after.PositionS > before.PositionS+30 {
		t.Errorf("resumed at %+v; quit at %+v", after, before)
	}
	waitPlayerctl(t, "the resumed player is on the bus", "Midnight", "metadata", "title")
	term.send("q")
	waitScreen("q quits the resumed player", screenHas("RESUMED="))
	if s := term.screen(); !strings.Contains(s, "RESUMED=0") {
		t.Errorf("exit status of the resumed player:\n%s", s)
	}
}
