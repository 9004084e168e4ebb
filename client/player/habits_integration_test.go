//go:build integration

package player_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// A track that cannot be played (no source has it) is skipped with a
// message, the next one plays, and the exit status says one failed, as
// cmus and mpv go on.
func TestSkipsATrackThatCannotBePlayed(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Playable", 3, "flac")
	e := newEnv(t, lib, 0, 1)
	good := e.TrackByTitle("Playable")
	// A second seeder publishes a track whose only seed URL is dead.
	nowhere := t.TempDir()
	itest.MakeTrack(t, nowhere, "Nowhere", 3, "flac")
	dead := fmt.Sprintf("http://127.0.0.1:%d", itest.FreePort(t))
	itest.Start(t, nil, e.Bin, "seed", "--tracker", e.TrackerURL, "--token", "tok", "--listen", fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)),
		"--no-http", "--no-bt", "--public-url", dead, nowhere)
	deadline := time.Now().Add(30 * time.Second)
	for len(e.Tracks()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the second seeder published nothing")
		}
		time.Sleep(200 * time.Millisecond)
	}
	bad := e.TrackByTitle("Nowhere")

	p := e.Play(t.TempDir(), "--output", "null", "--fast", bad.ID, good.ID)
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
	if !strings.Contains(p.Stderr(), "skipping a track that cannot be played") || !strings.Contains(p.Stderr(), "Nowhere") {
		t.Errorf("stderr does not say which track was skipped:\n%s", p.Stderr())
	}
}

// Ctrl-C (SIGINT) stops a player with exit status 130, as a shell expects
// of an interrupted program; SIGTERM is a clean stop (0).
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
