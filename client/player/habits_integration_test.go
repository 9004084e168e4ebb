//go:build integration

package player_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// A track that cannot be played (no source has it, or its bytes are
// corrupt) is skipped with a message, the next one plays, and the exit
// status says some failed, as cmus and mpv go on.
func TestSkipsATrackThatCannotBePlayed(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Playable", 3, "flac")
	// A corrupt one: its headers are sound (the seeder publishes it), its
	// frames from a third of the way on are not.
	corrupt := itest.MakeTrack(t, lib, "Corrupt", 10, "flac")
	data, err := os.ReadFile(corrupt)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(data) / 3; i < len(data)*2/3; i++ {
		data[i] ^= byte(i*131 + 7)
	}
	if err := os.WriteFile(corrupt, data, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, lib, 0, 2)
	good, broken := e.TrackByTitle("Playable"), e.TrackByTitle("Corrupt")
	// A second seeder publishes a track whose only seed URL is dead.
	nowhere := t.TempDir()
	itest.MakeTrack(t, nowhere, "Nowhere", 3, "flac")
	dead := fmt.Sprintf("http://127.0.0.1:%d", itest.FreePort(t))
	itest.Start(t, nil, e.Bin, "seed", "--tracker", e.TrackerURL, "--token", "tok", "--listen", fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)),
		"--no-http", "--no-bt", "--public-url", dead, nowhere)
	deadline := time.Now().Add(30 * time.Second)
	for len(e.Tracks()) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("the second seeder published nothing")
		}
		time.Sleep(200 * time.Millisecond)
	}
	bad := e.TrackByTitle("Nowhere")

	p := e.Play(t.TempDir(), "--output", "null", "--fast", bad.ID, broken.ID, good.ID)
	code, err := p.Wait(60 * time.Second)
	if err != nil {
		t.Fatalf("the player is still running: %v", err)
	}
	reps := itest.ParseReports(t, p.Stdout())
	if len(reps) != 1 || reps[0].Track != good.ID || reps[0].PlayedS < 2.9 {
		t.Errorf("reports %v, want one for the playable track, played whole", reps)
	}
	if code != 1 {
		t.Errorf("exit %d, want 1: a track failed", code)
	}
	if strings.Contains(p.Stderr(), `Corrupt": Test Artist – Corrupt`) {
		t.Errorf("the error names the track twice:\n%s", p.Stderr())
	}
	for _, want := range []string{"Nowhere", "Test Artist – Corrupt: flac: decoding failed near byte", "2 tracks could not be played"} {
		if !strings.Contains(p.Stderr(), want) {
			t.Errorf("stderr lacks %q: it does not say which tracks were skipped and why:\n%s", want, p.Stderr())
		}
	}
	if n := strings.Count(p.Stderr(), "skipping a track that cannot be played"); n != 2 {
		t.Errorf("%d tracks skipped, want 2:\n%s", n, p.Stderr())
	}
}

// Ctrl-C (SIGINT) stops a player with exit status 130, as a shell expects
// of an interrupted program; SIGTERM is a clean stop (0); the tracker and
// seeder stop with 0 on SIGINT.
func TestInterruptExits130(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Long Enough", 20, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByTitle("Long Enough")
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 0}} {
		p := e.Play(t.TempDir(), "--output", "null", tr.ID)
		time.Sleep(2 * time.Second)
		p.Signal(c.sig)
		code, err := p.Wait(10 * time.Second)
		if err != nil || code != c.code {
			t.Errorf("%v: exit %d (%v), want %d\n%s", c.sig, code, err, c.code, p.Stderr())
		}
	}
	// A local file too.
	wav := filepath.Join(t.TempDir(), "out.wav")
	p := itest.Start(t, nil, e.Bin, "play", "--output", "wav:"+wav, itest.MakeTrack(t, t.TempDir(), "Local", 20, "flac"))
	time.Sleep(2 * time.Second)
	p.Signal(syscall.SIGINT)
	if code, err := p.Wait(10 * time.Second); err != nil || code != 130 {
		t.Errorf("a local file, SIGINT: exit %d (%v), want 130\n%s", code, err, p.Stderr())
	}
	// The servers are not interrupted programs but services: Ctrl-C stops
	// them cleanly, with 0 (SIGTERM too: every test's Stop checks that).
	for _, srv := range []struct {
		name string
		proc *itest.Proc
	}{{"seeder", e.Seeder}, {"tracker", e.Tracker}} {
		srv.proc.Signal(syscall.SIGINT)
		if code, err := srv.proc.Wait(10 * time.Second); err != nil || code != 0 {
			t.Errorf("the %s on SIGINT: exit %d (%v), want 0\n%s", srv.name, code, err, srv.proc.Stderr())
		}
	}
}

// play --softvol-max lets ctl and MPRIS go above 100 % up to it (the +
// key too: TestVolumeStopsAtMaxVolume), and no further: ctl refuses more,
// naming the player's maximum and the flag; without the flag 100 % is the
// most.
func TestSoftVolMax(t *testing.T) {
	itest.Need(t, "playerctl")
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Loud", 30, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByTitle("Loud")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", privateBus(t))
	ctlRun := func(cache string, args ...string) (int, string) {
		t.Helper()
		out, err := exec.Command(e.Bin, append([]string{"ctl", "--cache", cache}, args...)...).CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	statusVolume := func(cache string) int {
		t.Helper()
		code, out := ctlRun(cache, "status", "--json")
		if code != 0 {
			t.Fatalf("ctl status: exit %d, %s", code, out)
		}
		var st struct{ Volume int }
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("ctl status --json: %v: %q", err, out)
		}
		return st.Volume
	}
	for _, c := range []struct {
		flags    []string
		most     int
		tooLoud  string
		mprisSet string // playerctl volume
		mprisGot int    // what ctl status says after it
	}{
		{[]string{"--softvol-max", "150"}, 150, "160", "1.4", 140},
		{nil, 100, "120", "1.4", 100},
	} {
		cache := t.TempDir()
		p := e.Play(cache, append(append([]string{"--output", "null", "--mpris"}, c.flags...), tr.ID)...)
		deadline := time.Now().Add(15 * time.Second)
		for code, _ := ctlRun(cache, "status"); code != 0; code, _ = ctlRun(cache, "status") {
			if time.Now().After(deadline) {
				t.Fatalf("%v: no player answers ctl", c.flags)
			}
			time.Sleep(100 * time.Millisecond) // the player is starting
		}
		if code, out := ctlRun(cache, "volume", strconv.Itoa(c.most)); code != 0 {
			t.Errorf("%v: ctl volume %d: exit %d, %q", c.flags, c.most, code, out)
		}
		if v := statusVolume(cache); v != c.most {
			t.Errorf("%v: ctl volume %d, status says %d", c.flags, c.most, v)
		}
		if code, out := ctlRun(cache, "volume", c.tooLoud); code != 1 || !strings.Contains(out, fmt.Sprintf("maximum of %d%%", c.most)) || !strings.Contains(out, "--softvol-max") {
			t.Errorf("%v: ctl volume %s: exit %d, %q; want 1, naming the player's maximum and the flag", c.flags, c.tooLoud, code, out)
		}
		if v := statusVolume(cache); v != c.most {
			t.Errorf("%v: a refused volume changed it to %d", c.flags, v)
		}
		// MPRIS: a Volume above 1.0 goes as far as the player allows.
		if out, err := exec.Command("playerctl", "-p", "peertune", "volume", c.mprisSet).CombinedOutput(); err != nil {
			t.Fatalf("playerctl volume %s: %v, %s", c.mprisSet, err, out)
		}
		deadline = time.Now().Add(10 * time.Second)
		for v := statusVolume(cache); v != c.mprisGot; v = statusVolume(cache) {
			if time.Now().After(deadline) {
				t.Fatalf("%v: playerctl volume %s: status says %d, want %d", c.flags, c.mprisSet, v, c.mprisGot)
			}
			time.Sleep(100 * time.Millisecond)
		}
		p.Stop(10 * time.Second)
	}
	out, err := exec.Command(e.Bin, "play", "--tracker", e.TrackerURL, "--cache", t.TempDir(), "--softvol-max", "401", tr.ID).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "--softvol-max 401") {
		t.Errorf("--softvol-max 401: %v, %s", err, out)
	}
}

// A WAV file's RIFF INFO tags (ffmpeg's -metadata) are published: the
// track is found by its artist, with its title and album.
func TestWAVTagsAreSearchable(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTaggedTrack(t, lib, "long", "Riff Artist", "Riff Album", 2, "wav")
	e := newEnv(t, lib, 0, 1)
	s := itest.Start(t, nil, e.Bin, "search", "--tracker", e.TrackerURL, "--json", "riff artist")
	if code, err := s.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("search: exit %d (%v)", code, err)
	}
	out := s.Stdout()
	for _, want := range []string{`"title":"long"`, `"artist":"Riff Artist"`, `"album":"Riff Album"`} {
		if !strings.Contains(out, want) {
			t.Errorf("search by artist: %s lacks %s", out, want)
		}
	}
}

// An album plays in its track order whatever the order its files were
// published in; `search --albums` lists it; a second `play --album` queues
// a whole album into the running player.
func TestPlayAlbumInOrder(t *testing.T) {
	lib := t.TempDir()
	// File names sort against the track order; disc 2 comes last.
	for _, tr := range []struct{ file, title, track, disc string }{
		{"a", "Closing Song", "1", "2"},
		{"b", "Middle Song", "2", "1"},
		{"c", "Opening Song", "1", "1"},
	} {
		itest.MakeTrackWithTags(t, lib, tr.file, 2, "flac", "title="+tr.title, "artist=Album Band feat. Guest",
			"album_artist=Album Band", "album=Ordered Album", "track="+tr.track, "disc="+tr.disc+"/2", "date=2003")
	}
	itest.MakeTrackWithTags(t, lib, "d", 2, "flac", "title=Other Song", "artist=Album Band", "album=Second Album", "date=2009")
	itest.MakeTrackWithTags(t, lib, "e", 30, "flac", "title=Long Song", "artist=Somebody Else", "album=Long Album")
	e := newEnv(t, lib, 0, 5)
	if tr := e.TrackByTitle("Middle Song"); tr.TrackNumber != 2 || tr.DiscNumber != 1 || tr.Year != 2003 || tr.AlbumArtist != "Album Band" {
		t.Fatalf("published %+v: the tags' track, disc, year and album artist are missing", tr)
	}

	s := itest.Start(t, nil, e.Bin, "search", "--tracker", e.TrackerURL, "--albums", "album band")
	if code, err := s.Wait(10 * time.Second); err != nil || code != 0 {
		t.Fatalf("search --albums: exit %d (%v)\n%s", code, err, s.Stderr())
	}
	lines := strings.Split(strings.TrimSpace(s.Stdout()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "Ordered Album") || !strings.Contains(lines[1], "2003") ||
		!strings.Contains(lines[2], "Second Album") {
		t.Errorf("search --albums album band:\n%s\nwant Ordered Album (2003), then Second Album (2009)", s.Stdout())
	}

	want := []string{e.TrackByTitle("Opening Song").ID, e.TrackByTitle("Middle Song").ID, e.TrackByTitle("Closing Song").ID}
	p := e.Play(t.TempDir(), "--output", "null", "--fast", "--album", "ordered")
	reps := itest.Finish(t, "play --album", p, 60*time.Second)
	var got []string
	for _, r := range reps {
		got = append(got, r.Track)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("play --album played %v, want opening, middle, closing %v", got, want)
	}
	none := e.Play(t.TempDir(), "--output", "null", "--album", "no such album")
	if code, _ := none.Wait(20 * time.Second); code != 2 || !strings.Contains(none.Stderr(), `no album matches "no such album"`) {
		t.Errorf("play --album of nothing: exit %d, want 2 and a message\n%s", code, none.Stderr())
	}

	// Into a running player: the album is queued after what plays.
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	cache := t.TempDir()
	running := e.Play(cache, "--output", "null", e.TrackByTitle("Long Song").ID)
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := itest.Start(t, nil, e.Bin, "ctl", "--cache", cache, "status")
		if code, _ := st.Wait(10 * time.Second); code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the player does not answer ctl\n%s", running.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	q := e.Play(cache, "--album", "album band ordered")
	if code, err := q.Wait(20 * time.Second); err != nil || code != 0 {
		t.Fatalf("second play --album: exit %d (%v)\n%s", code, err, q.Stderr())
	}
	st := itest.Start(t, nil, e.Bin, "ctl", "--cache", cache, "status", "--json")
	if code, _ := st.Wait(10 * time.Second); code != 0 {
		t.Fatalf("ctl status: %s", st.Stderr())
	}
	var status struct {
		Queue []string `json:"queue"`
	}
	if err := json.Unmarshal([]byte(st.Stdout()), &status); err != nil {
		t.Fatalf("status --json %q: %v", st.Stdout(), err)
	}
	if strings.Join(status.Queue, " ") != strings.Join(want, " ") {
		t.Errorf("queue after play --album %v, want the album in order %v", status.Queue, want)
	}
	running.Stop(5 * time.Second)
}
