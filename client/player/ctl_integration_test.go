//go:build integration

package player_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peertune/peertune/client/ctl"
	"github.com/peertune/peertune/client/player"
	"github.com/peertune/peertune/internal/itest"
)

// A headless player driven from outside, as a script or a window
// manager's key would: `peertune ctl` pauses, resumes, seeks, sets the
// volume, skips, stops and queues; a second `peertune play` on the same
// cache queues into the running player and exits 0; a killed player's
// socket is replaced by the next player.
func TestRemoteControl(t *testing.T) {
	lib := t.TempDir()
	for _, title := range []string{"Remote One", "Remote Two", "Remote Three"} {
		itest.MakeTrack(t, lib, title, 30, "flac")
	}
	e := newEnv(t, lib, 0, 3)
	one, two, three := e.TrackByTitle("Remote One"), e.TrackByTitle("Remote Two"), e.TrackByTitle("Remote Three")
	cache := t.TempDir()
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)

	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(e.Bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return stdout.String(), stderr.String(), code
	}
	control := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(append([]string{"ctl", "--cache", cache}, args...)...)
		if code != 0 {
			t.Fatalf("ctl %v: exit %d\n%s", args, code, errOut)
		}
		return out
	}
	tryStatus := func() (ctl.Status, string) {
		t.Helper()
		var st ctl.Status
		out, errOut, code := run("ctl", "--cache", cache, "status", "--json")
		if code != 0 {
			return st, errOut
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v: %q", err, out)
		}
		return st, ""
	}
	status := func() ctl.Status {
		t.Helper()
		st, errOut := tryStatus()
		if errOut != "" {
			t.Fatalf("ctl status: %s", errOut)
		}
		return st
	}
	// waitStatus also waits for a player that has not opened its socket yet.
	waitStatus := func(what string, ok func(ctl.Status) bool) ctl.Status {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			st, errOut := tryStatus()
			if errOut == "" && ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %+v %s", what, st, errOut)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	playingTrack := func(id string) func(ctl.Status) bool {
		return func(st ctl.Status) bool {
			return st.State == ctl.StatePlaying && st.Track != nil && st.Track.ID == id && st.PositionS > 0.3
		}
	}

	p := e.Play(cache, "--output", "null", one.ID)
	st := waitStatus("the player plays the first track", playingTrack(one.ID))
	if st.DurationS < 29 || st.DurationS > 31 || st.Volume != 100 || len(st.Queue) != 0 {
		t.Errorf("status %+v: want a 30 s track at volume 100 with nothing queued", st)
	}
	socks, _ := filepath.Glob(filepath.Join(runtime, "peertune", "*.sock"))
	if len(socks) != 1 {
		t.Fatalf("sockets under the runtime dir: %v, want one", socks)
	}
	if fi, err := os.Stat(socks[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %s: mode %v, %v; want 0600", socks[0], fi.Mode(), err)
	}
	if line := control("status"); !strings.Contains(line, "playing") || !strings.Contains(line, "Remote One") {
		t.Errorf("status for people: %q", line)
	}

	control("pause")
	paused := waitStatus("pause", func(st ctl.Status) bool { return st.State == ctl.StatePaused })
	time.Sleep(time.Second)
	if st := status(); st.State != ctl.StatePaused || st.PositionS-paused.PositionS > 0.2 {
		t.Errorf("paused at %.2f s, a second later %+v", paused.PositionS, st)
	}
	control("toggle")
	waitStatus("toggle resumes", func(st ctl.Status) bool { return st.State == ctl.StatePlaying && st.PositionS > paused.PositionS+0.3 })

	control("volume", "40")
	if st := status(); st.Volume != 40 {
		t.Errorf("volume 40: status says %d", st.Volume)
	}
	control("seek", "15")
	waitStatus("seek 15 goes to 0:15", func(st ctl.Status) bool { return st.PositionS >= 15 && st.PositionS < 18 })
	control("seek", "-10")
	waitStatus("seek -10 goes back", func(st ctl.Status) bool { return st.PositionS >= 4 && st.PositionS < 9 })
	for _, bad := range [][]string{{"volume", "401"}, {"seek", "soon"}, {"dance"}, {"pause", "now"}} {
		if _, errOut, code := run(append([]string{"ctl", "--cache", cache}, bad...)...); code != 2 {
			t.Errorf("ctl %v: exit %d (%s), want 2", bad, code, errOut)
		}
	}

	// A second play on the same cache queues into this player.
	out, errOut, code := run("play", "--tracker", e.TrackerURL, "--cache", cache, "--bt-listen", "127.0.0.1:0", "--output", "null", "Remote Two")
	if code != 0 || !strings.Contains(errOut, "queued") || !strings.Contains(errOut, "Remote Two") {
		t.Fatalf("a second play on the cache: exit %d\nstdout %q\nstderr %q", code, out, errOut)
	}
	var added struct {
		Added  []struct{ ID string } `json:"added"`
		Status ctl.Status            `json:"status"`
	}
	if err := json.Unmarshal([]byte(control("queue", "--json", "Remote Three")), &added); err != nil || len(added.Added) != 1 || added.Added[0].ID != three.ID {
		t.Fatalf("queue Remote Three: %+v, %v", added, err)
	}
	if q := status().Queue; !slices.Equal(q, []string{two.ID, three.ID}) {
		t.Errorf("queue %v, want [%s %s]", q, two.ID, three.ID)
	}
	if listing := control("queue"); !strings.Contains(listing, "1. Test Artist – Remote Two") || !strings.Contains(listing, "2. Test Artist – Remote Three") {
		t.Errorf("queue listing:\n%s", listing)
	}

	control("next")
	st = waitStatus("next plays the second track", playingTrack(two.ID))
	if !slices.Equal(st.Queue, []string{three.ID}) {
		t.Errorf("after next the queue is %v, want [%s]", st.Queue, three.ID)
	}
	control("prev")
	waitStatus("prev goes back to the first", playingTrack(one.ID))

	control("stop")
	st = waitStatus("stop", func(st ctl.Status) bool { return st.State == ctl.StateStopped })
	if st.Track == nil || st.Track.ID != one.ID {
		t.Errorf("stopped at %+v, want the first track", st.Track)
	}
	time.Sleep(time.Second)
	if st := status(); st.State != ctl.StateStopped {
		t.Errorf("a second after stop: %+v", st)
	}
	control("play")
	waitStatus("play starts the track again", playingTrack(one.ID))
	control("clear")
	if q := status().Queue; len(q) != 0 {
		t.Errorf("after clear the queue is %v", q)
	}
	// --all: every match, by ctl and by a second play.
	if err := json.Unmarshal([]byte(control("queue", "--json", "--all", "Remote")), &added); err != nil || len(added.Added) != 3 {
		t.Errorf("queue --all Remote: %+v, %v; want the three tracks", added, err)
	}
	if _, errOut, code := run("play", "--tracker", e.TrackerURL, "--cache", cache, "--output", "null", "--all", "Remote"); code != 0 || strings.Count(errOut, "queued ") != 3 {
		t.Errorf("play --all Remote into the player: exit %d, %q; want the three tracks queued", code, errOut)
	}
	everyTrack := func(ids []string) bool {
		return len(ids) == 3 && slices.Contains(ids, one.ID) && slices.Contains(ids, two.ID) && slices.Contains(ids, three.ID)
	}
	if q := status().Queue; len(q) != 6 || !everyTrack(q[:3]) || !everyTrack(q[3:]) {
		t.Errorf("after queue --all and play --all the queue is %v, want the three tracks twice", q)
	}
	control("clear")
	control("repeat", "one")
	control("shuffle")
	if st := status(); st.Repeat != "one" || !st.Shuffle {
		t.Errorf("repeat one, shuffle: status says repeat %q, shuffle %v", st.Repeat, st.Shuffle)
	}
	control("repeat")
	control("shuffle", "off")
	if st := status(); st.Repeat != "off" || st.Shuffle {
		t.Errorf("repeat (one → off), shuffle off: repeat %q, shuffle %v", st.Repeat, st.Shuffle)
	}

	// A killed player leaves its socket; ctl says no player runs, and the
	// next player replaces it.
	p.Signal(syscall.SIGKILL)
	<-p.Done()
	if _, err := os.Stat(socks[0]); err != nil {
		t.Fatalf("the killed player's socket: %v", err)
	}
	if _, errOut, code := run("ctl", "--cache", cache, "status"); code != 1 || !strings.Contains(errOut, "no player is running") {
		t.Errorf("ctl status after the player was killed: exit %d, %q; want 1 and no player", code, errOut)
	}
	e.Play(cache, "--output", "null", two.ID)
	waitStatus("a new player on the cache answers", playingTrack(two.ID))
	if _, errOut, code := run("ctl", "--cache", t.TempDir(), "status"); code != 1 || !strings.Contains(errOut, "no player is running") {
		t.Errorf("ctl status on another cache: exit %d, %q", code, errOut)
	}
}

// The player on a private session bus, driven by a real MPRIS controller
// (playerctl): it finds the player by name, reads the track's metadata and
// status, and pauses, resumes, skips and sets the volume; a second player
// on the bus takes the instance name.
func TestMPRIS(t *testing.T) {
	itest.Need(t, "dbus-daemon", "playerctl")
	lib := t.TempDir()
	for i, title := range []string{"Bus One", "Bus Two"} {
		itest.MakeTrackWithTags(t, lib, title, 30, "flac", "title="+title, "artist=Test Artist",
			"album=Test Album", "album_artist=Bus Band", fmt.Sprintf("track=%d", i+1))
	}
	e := newEnv(t, lib, 0, 2)
	one, two := e.TrackByTitle("Bus One"), e.TrackByTitle("Bus Two")

	t.Setenv("DBUS_SESSION_BUS_ADDRESS", privateBus(t))
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())

	playerctl := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("playerctl", append([]string{"-p", "peertune"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("playerctl %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}

	cache := t.TempDir()
	p := e.Play(cache, "--output", "null", "--mpris", one.ID, two.ID)
	waitPlayerctl(t, "the player is on the bus, playing", "Playing", "status")
	if got := playerctl("metadata", "title"); got != "Bus One" {
		t.Errorf("metadata title %q, want Bus One", got)
	}
	if got := playerctl("metadata", "artist"); got != "Test Artist" {
		t.Errorf("metadata artist %q, want Test Artist", got)
	}
	if got := playerctl("metadata", "album"); got != "Test Album" {
		t.Errorf("metadata album %q, want Test Album", got)
	}
	if got := strings.Trim(playerctl("metadata", "mpris:trackid"), "'"); got != "/org/peertune/track/"+one.ID {
		t.Errorf("mpris:trackid %q", got)
	}
	if got := playerctl("metadata", "mpris:length"); got != "30000000" && !strings.HasPrefix(got, "299") && !strings.HasPrefix(got, "300") {
		t.Errorf("mpris:length %q, want about 30 s in microseconds", got)
	}
	if got := playerctl("metadata", "xesam:trackNumber"); got != "1" {
		t.Errorf("xesam:trackNumber %q, want 1", got)
	}
	if got := playerctl("metadata", "xesam:albumArtist"); got != "Bus Band" {
		t.Errorf("xesam:albumArtist %q, want Bus Band", got)
	}

	// playerctl --follow prints the status at each PropertiesChanged
	// signal: what a desktop's media widget listens to.
	follow := itest.Start(t, nil, "playerctl", "-p", "peertune", "--follow", "status")
	waitForOutput := func(what string, proc *itest.Proc, want string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !strings.Contains(proc.Stdout(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: playerctl --follow printed %q, want %q in it", what, proc.Stdout(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitForOutput("follow starts", follow, "Playing\n")

	playerctl("pause")
	waitPlayerctl(t, "pause", "Paused", "status")
	playerctl("play")
	waitPlayerctl(t, "play", "Playing", "status")
	playerctl("play-pause")
	waitPlayerctl(t, "play-pause pauses", "Paused", "status")
	playerctl("play-pause")
	waitPlayerctl(t, "play-pause resumes", "Playing", "status")
	waitForOutput("PropertiesChanged signals", follow, "Playing\nPaused\nPlaying\nPaused\nPlaying\n")

	playerctl("volume", "0.5")
	waitPlayerctl(t, "volume", "0.500000", "volume")
	control := func(args ...string) string {
		out, err := exec.Command(e.Bin, append([]string{"ctl", "--cache", cache}, args...)...).Output()
		if err != nil {
			t.Fatalf("ctl %v: %v", args, err)
		}
		return string(out)
	}
	if !strings.Contains(control("status", "--json"), `"volume":50`) {
		t.Errorf("after playerctl volume 0.5, ctl status: %s", control("status", "--json"))
	}
	waitPosition := func(what string, lo, hi float64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			pos, _ := strconv.ParseFloat(playerctl("position"), 64)
			if pos >= lo && pos < hi {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: position %v, want %v to %v", what, pos, lo, hi)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	playerctl("position", "12")
	waitPosition("position 12", 12, 15)

	// Relative seeks (MPRIS Seek), forward and back.
	playerctl("position", "6+")
	waitPosition("position 6+", 18, 22)
	playerctl("position", "10-")
	waitPosition("position 10-", 8, 13)

	playerctl("loop", "Playlist")
	waitPlayerctl(t, "loop Playlist", "Playlist", "loop")
	playerctl("shuffle", "On")
	waitPlayerctl(t, "shuffle On", "On", "shuffle")
	if st := control("status", "--json"); !strings.Contains(st, `"repeat":"all"`) || !strings.Contains(st, `"shuffle":true`) {
		t.Errorf("after playerctl loop Playlist and shuffle On, ctl status: %s", st)
	}
	playerctl("shuffle", "Off")
	playerctl("loop", "None")
	waitPlayerctl(t, "loop None", "None", "loop")

	playerctl("next")
	waitPlayerctl(t, "next", "Bus Two", "metadata", "title")
	waitPlayerctl(t, "the next track's number", "2", "metadata", "xesam:trackNumber")
	playerctl("previous")
	waitPlayerctl(t, "previous", "Bus One", "metadata", "title")
	playerctl("stop")
	waitPlayerctl(t, "stop", "Stopped", "status")

	// A second player on the bus takes the instance name.
	other := e.Play(t.TempDir(), "--output", "null", "--mpris", one.ID)
	name := fmt.Sprintf("org.mpris.MediaPlayer2.peertune.instance%d", other.Cmd.Process.Pid)
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, _ := exec.Command("playerctl", "-l").CombinedOutput()
		if strings.Contains(string(out), "peertune.instance") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s on the bus; playerctl -l:\n%s", name, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Errorf("the first player exited %d", code)
	}
}

// Without a session bus, a player asked for MPRIS says so once and plays.
func TestMPRISWithoutABus(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "No Bus", 3, "flac")
	e := newEnv(t, lib, 0, 1)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	p := e.Play(t.TempDir(), "--output", "null", "--fast", "--mpris", e.TrackByTitle("No Bus").ID)
	reps := itest.Finish(t, "player", p, 60*time.Second)
	if len(reps) != 1 {
		t.Fatalf("%d reports, want 1", len(reps))
	}
	if n := strings.Count(p.Stderr(), "MPRIS off"); n != 1 || !strings.Contains(p.Stderr(), "no D-Bus session bus") {
		t.Errorf("stderr says MPRIS off %d times (want once, naming the missing bus):\n%s", n, p.Stderr())
	}
}

// Quit, then `play --resume`: the same queue, track, position, volume,
// shuffle and repeat, as the user left them.
func TestResume(t *testing.T) {
	lib := t.TempDir()
	for _, title := range []string{"Resume One", "Resume Two"} {
		itest.MakeTrack(t, lib, title, 30, "flac")
	}
	e := newEnv(t, lib, 0, 2)
	one, two := e.TrackByTitle("Resume One"), e.TrackByTitle("Resume Two")
	cache := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	control := func(args ...string) ctl.Status {
		t.Helper()
		var st ctl.Status
		deadline := time.Now().Add(15 * time.Second)
		for {
			out, err := exec.Command(e.Bin, append([]string{"ctl", "--cache", cache, "--json"}, args...)...).Output()
			if err == nil {
				if err := json.Unmarshal(out, &st); err != nil {
					t.Fatalf("ctl %v: %v: %q", args, err, out)
				}
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("ctl %v: %v", args, err)
			}
			time.Sleep(100 * time.Millisecond) // the player is starting
		}
	}

	p := e.Play(cache, "--output", "null", one.ID, two.ID)
	control("status")
	control("seek", "12")
	control("volume", "35")
	control("repeat", "all")
	st := control("status")
	if st.PositionS < 12 || st.Volume != 35 || st.Repeat != "all" {
		t.Fatalf("before quitting: %+v", st)
	}
	if code := p.Stop(10 * time.Second); code != 0 {
		t.Fatalf("the player exited %d on SIGTERM", code)
	}
	state, err := os.ReadFile(filepath.Join(cache, player.StateFile))
	if err != nil {
		t.Fatalf("no state saved: %v", err)
	}
	t.Logf("saved: %s", state)

	r := e.Play(cache, "--output", "null", "--resume")
	deadline := time.Now().Add(15 * time.Second)
	for st = control("status"); st.PositionS == 0 && time.Now().Before(deadline); st = control("status") {
		time.Sleep(100 * time.Millisecond) // the track is being opened
	}
	if st.Track == nil || st.Track.ID != one.ID || st.PositionS < 12 || st.PositionS > 20 || st.Volume != 35 || st.Repeat != "all" ||
		!slices.Equal(st.Queue, []string{two.ID}) {
		t.Errorf("resumed: %+v; want the first track from 0:12 at volume 35, repeat all, the second queued", st)
	}
	r.Stop(10 * time.Second)

	// Nothing saved in another cache: --resume says so.
	out, err := exec.Command(e.Bin, "play", "--tracker", e.TrackerURL, "--cache", t.TempDir(), "--output", "null", "--resume").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "nothing to resume") {
		t.Errorf("--resume on a fresh cache: %v, %s", err, out)
	}
}
