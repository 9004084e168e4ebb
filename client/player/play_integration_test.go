//go:build integration

// End-to-end tests of peertune play with real processes on loopback: a
// tracker, a seeder and several players (go test -tags integration
// ./client/player/). Tracks are short (12-20 s) and played in real time.

package player_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

var progressRE = regexp.MustCompile(`(\d+):(\d\d) / \d+:\d\d .*seed ([0-9.]+ [KMG]?i?B) .*peers ([0-9.]+ [KMG]?i?B) .*cache ([0-9.]+ [KMG]?i?B)`)

// lastProgress parses the last headless progress line at or past pos: the
// bytes verified so far (seed server + peers + cache).
func lastProgress(stderr string, pos time.Duration) (int64, bool) {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	m := progressRE.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		return 0, false
	}
	min, _ := strconv.Atoi(m[1])
	sec, _ := strconv.Atoi(m[2])
	if time.Duration(min*60+sec)*time.Second < pos {
		return 0, false
	}
	return sizeOf(m[3]) + sizeOf(m[4]) + sizeOf(m[5]), true
}

func sizeOf(s string) int64 {
	f, unit, _ := strings.Cut(s, " ")
	v, _ := strconv.ParseFloat(f, 64)
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	return int64(v * mult)
}

// waitReports waits until a player printed n reports.
func waitReports(t *testing.T, p *itest.Proc, n int, timeout time.Duration) []itest.Report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rs := itest.ParseReports(t, p.Stdout()); len(rs) >= n {
			return rs
		}
		select {
		case <-p.Done():
			t.Fatalf("player exited %d before its report\nstderr:\n%s", p.Cmd.ProcessState.ExitCode(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report within %v\nstderr:\n%s", timeout, p.Stderr())
		}
	}
}

func abs(x int) int { return max(x, -x) }

// Three players 5 s apart on one track, the seeder capped at four times its
// bitrate: the second and third take at least 70 % of their network bytes
// from other listeners, nobody underruns, and every WAV written is the
// direct decode of the file (mp3: within the audio engine's tolerance of
// ffmpeg's decode).
func TestSwarmOffload(t *testing.T) {
	for _, ext := range []string{"flac", "wav", "mp3"} {
		t.Run(ext, func(t *testing.T) {
			t.Parallel()
			lib := t.TempDir()
			const seconds = 20
			path := itest.MakeTrack(t, lib, "Swarm "+ext, seconds, ext)
			st, _ := os.Stat(path)
			e := newEnv(t, lib, 4*st.Size()/seconds, 1)
			tr := e.TrackByCodec(ext)
			want := itest.RefPCM(t, path)
			var players []*itest.Proc
			var wavs []string
			for i := range 3 {
				if i > 0 {
					time.Sleep(5 * time.Second)
				}
				wav := filepath.Join(t.TempDir(), "out.wav")
				wavs = append(wavs, wav)
				players = append(players, e.Play(t.TempDir(), "--output", "wav:"+wav, "--linger", "2m", tr.ID))
			}
			var reps []itest.Report
			for i, p := range players {
				r := waitReports(t, p, 1, 90*time.Second)[0]
				t.Logf("player %d: %s", i+1, r)
				reps = append(reps, r)
			}
			for i, p := range players {
				if code := p.Stop(10 * time.Second); code != 0 {
					t.Errorf("player %d: exit %d after SIGTERM while lingering", i+1, code)
				}
				if ext == "mp3" {
					// go-mp3 against ffmpeg: the audio issue's tolerance.
					got := itest.WAVPCM(t, wavs[i])
					if snr := itest.PCMSNR(got, want); snr < 60 || abs(len(got)-len(want)) > 4*1152*4 {
						t.Errorf("player %d: mp3 PCM %.1f dB SNR against ffmpeg, %d vs %d bytes; want >= 60 dB and the same length within 4 frames", i+1, snr, len(got), len(want))
					}
					continue
				}
				itest.SamePCM(t, fmt.Sprintf("player %d", i+1), itest.WAVPCM(t, wavs[i]), want)
			}
			for i, r := range reps {
				if r.Track != tr.ID {
					t.Errorf("player %d: report for %s, want %s", i+1, r.Track, tr.ID)
				}
				if r.Underruns != 0 {
					t.Errorf("player %d: %d underruns (%.0f ms)", i+1, r.Underruns, r.UnderrunMs)
				}
				if got := r.NetworkBytes() + r.BytesCache; got != tr.Size {
					t.Errorf("player %d: counters add up to %d bytes, track has %d", i+1, got, tr.Size)
				}
				if i > 0 {
					share := float64(r.BytesPeers) / float64(r.NetworkBytes())
					if share < 0.70 {
						t.Errorf("player %d: %.0f%% of network bytes from other listeners, want at least 70%%", i+1, share*100)
					}
				}
			}
		})
	}
}

// A player that holds the whole track keeps sharing (--linger) after the
// seeder dies: a new player plays the track completely from it, head
// included, with no underrun; then, with tracker, seeder and peers all
// gone, the new player's cache plays the track with no network at all.
func TestSeederGoneThenCacheOnly(t *testing.T) {
	lib := t.TempDir()
	path := itest.MakeTrack(t, lib, "Lone Peer", 12, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByCodec("flac")
	want := itest.RefPCM(t, path)

	first := e.Play(t.TempDir(), "--output", "null", "--fast", "--linger", "2m", tr.ID)
	r1 := waitReports(t, first, 1, 60*time.Second)[0]
	t.Logf("first: %s", r1)
	if r1.NetworkBytes() != tr.Size {
		t.Fatalf("first player fetched %d bytes, want the whole track (%d)", r1.NetworkBytes(), tr.Size)
	}
	if code := e.Seeder.Stop(10 * time.Second); code != 0 {
		t.Logf("seeder exit %d", code)
	}

	cache := t.TempDir()
	wav := filepath.Join(t.TempDir(), "second.wav")
	second := e.Play(cache, "--output", "wav:"+wav, tr.ID)
	r2 := itest.Finish(t, "player", second, 60*time.Second)[0]
	t.Logf("second: %s", r2)
	if r2.SeedBytes() != 0 || r2.BytesPeers != tr.Size {
		t.Errorf("second player: %d bytes from the (dead) seed server, %d from peers; want 0 and %d", r2.SeedBytes(), r2.BytesPeers, tr.Size)
	}
	if r2.Underruns != 0 {
		t.Errorf("second player: %d underruns (%.0f ms)", r2.Underruns, r2.UnderrunMs)
	}
	itest.SamePCM(t, "second player", itest.WAVPCM(t, wav), want)

	first.Stop(10 * time.Second)
	e.Tracker.Stop(10 * time.Second)
	wav3 := filepath.Join(t.TempDir(), "cached.wav")
	third := e.Play(cache, "--output", "wav:"+wav3, "--fast", tr.ID)
	r3 := itest.Finish(t, "player", third, 30*time.Second)[0]
	t.Logf("cached: %s", r3)
	if r3.NetworkBytes() != 0 || r3.BytesCache != tr.Size {
		t.Errorf("cached play: %d network bytes, %d from cache; want 0 and %d", r3.NetworkBytes(), r3.BytesCache, tr.Size)
	}
	itest.SamePCM(t, "cached play", itest.WAVPCM(t, wav3), want)
}

// A player killed with SIGKILL mid-track and started again fetches none of
// the pieces it had verified, and its cache then holds the file exactly.
func TestKillResume(t *testing.T) {
	lib := t.TempDir()
	path := itest.MakeTrack(t, lib, "Interrupted", 40, "flac")
	// The seed is capped (the track is about 80 KB/s): uncapped, a lone
	// player fills the whole track from it before the kill.
	e := newEnv(t, lib, 192<<10, 1)
	tr := e.TrackByCodec("flac")
	cache := t.TempDir()

	p1 := e.Play(cache, "--output", "null", tr.ID)
	// Kill right after a progress line past 0:05: what it counts (pieces
	// verified and attributed) is a lower bound of what was verified at the
	// kill.
	var verified int64
	deadline := time.Now().Add(30 * time.Second)
	for verified == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no progress line past 0:05\n%s", p1.Stderr())
		}
		if v, ok := lastProgress(p1.Stderr(), 5*time.Second); ok {
			verified = v
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p1.Signal(syscall.SIGKILL)
	<-p1.Done()
	time.Sleep(300 * time.Millisecond) // let the seeder's counters settle
	sentBefore := e.SeederUpload()
	t.Logf("before the kill: at least %d bytes verified; the seeder sent %d of %d", verified, sentBefore, tr.Size)
	if sentBefore >= tr.Size {
		t.Fatalf("the first run had the whole track before the kill; the test needs a partial one")
	}

	wav := filepath.Join(t.TempDir(), "resumed.wav")
	p2 := e.Play(cache, "--output", "wav:"+wav, "--fast", tr.ID)
	r := itest.Finish(t, "player", p2, 60*time.Second)[0]
	t.Logf("resumed: %s", r)
	sentAfter := e.SeederUpload() - sentBefore
	t.Logf("the seeder sent %d bytes to the restarted player (HTTP ranges cut short included)", sentAfter)
	// The progress line rounds to 0.1 MiB.
	if r.BytesCache < verified-64<<10 {
		t.Errorf("restarted player took %d bytes from its cache, but %d were verified before the kill", r.BytesCache, verified)
	}
	if r.NetworkBytes() != tr.Size-r.BytesCache {
		t.Errorf("restarted player fetched %d bytes with %d cached of %d", r.NetworkBytes(), r.BytesCache, tr.Size)
	}
	if sentBefore+sentAfter > tr.Size*5/4 {
		t.Errorf("seeder sent %d + %d bytes for a %d-byte track", sentBefore, sentAfter, tr.Size)
	}
	itest.SamePCM(t, "resumed play", itest.WAVPCM(t, wav), itest.RefPCM(t, path))

	// The cache verifies: the data file is the original, and cache ls says complete.
	orig, _ := os.ReadFile(path)
	cached, err := os.ReadFile(filepath.Join(cache, "data", tr.ID, filepath.Base(path)))
	if err != nil {
		t.Fatalf("cached data: %v", err)
	}
	if string(cached) != string(orig) {
		t.Errorf("cached data differs from the original file")
	}
	out := itest.Start(t, nil, e.Bin, "cache", "ls", "--cache", cache)
	if code, _ := out.Wait(10 * time.Second); code != 0 || !strings.Contains(out.Stdout(), "complete") || !strings.Contains(out.Stdout(), tr.ID) {
		t.Errorf("cache ls: exit %d, %q", code, out.Stdout())
	}
}

// --start 60s plays from 60 s, to within 100 ms.
func TestStartSeek(t *testing.T) {
	lib := t.TempDir()
	path := itest.MakeTrack(t, lib, "Long Song", 70, "flac")
	e := newEnv(t, lib, 0, 1)
	tr := e.TrackByCodec("flac")
	wav := filepath.Join(t.TempDir(), "seek.wav")
	r := itest.Finish(t, "player", e.Play(t.TempDir(), "--output", "wav:"+wav, "--fast", "--start", "60s", tr.ID), 60*time.Second)[0]
	t.Logf("seek: %s", r)
	got := itest.WAVPCM(t, wav)
	ref := itest.RefPCM(t, path)
	const frame = 4 // 16-bit stereo
	const rate = 44100
	if len(got) < rate*frame {
		t.Fatalf("only %d bytes of audio after the seek", len(got))
	}
	// Find where the first 50 ms of what was played sit in the original.
	probe := got[:rate/20*frame]
	at := -1
	for off := 55 * rate * frame; off+len(probe) <= min(65*rate*frame, len(ref)); off += frame {
		if string(ref[off:off+len(probe)]) == string(probe) {
			at = off
			break
		}
	}
	if at < 0 {
		t.Fatalf("the played audio is not found between 55 s and 65 s of the original")
	}
	lag := time.Duration(float64(at/frame-60*rate) / rate * float64(time.Second))
	t.Logf("playback began at 60s%+v", lag)
	if lag < -100*time.Millisecond || lag > 100*time.Millisecond {
		t.Errorf("playback began %v away from 60 s", lag)
	}
	if played := time.Duration(r.PlayedS * float64(time.Second)); played < 9*time.Second || played > 11*time.Second {
		t.Errorf("played %v after the seek, want about 10 s", played)
	}
}

// Unknown tracks and a tracker that cannot be reached fail at once with a
// clear message and a non-zero status.
func TestResolveErrors(t *testing.T) {
	lib := t.TempDir()
	itest.MakeTrack(t, lib, "Only One", 3, "flac")
	e := newEnv(t, lib, 0, 1)
	dead := fmt.Sprintf("http://127.0.0.1:%d", itest.FreePort(t))
	for _, c := range []struct {
		tracker, arg, want string
	}{
		{e.TrackerURL, "nothing like this", "no track matches"},
		{e.TrackerURL, strings.Repeat("ab", 20), "no track with id"},
		{dead, "anything", "connection refused"},
	} {
		start := time.Now()
		p := itest.Start(t, nil, e.Bin, "play", "--tracker", c.tracker, "--cache", t.TempDir(), "--output", "null", c.arg)
		code, err := p.Wait(10 * time.Second)
		if err != nil || code == 0 || !strings.Contains(p.Stderr(), c.want) {
			t.Errorf("play %q on %s: exit %d (%v), stderr %q; want non-zero mentioning %q", c.arg, c.tracker, code, err, p.Stderr(), c.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("play %q took %v to fail", c.arg, d)
		}
	}
	// search and cache ls on the same setup.
	s := itest.Start(t, nil, e.Bin, "search", "--tracker", e.TrackerURL, "only")
	if code, _ := s.Wait(10 * time.Second); code != 0 || !strings.Contains(s.Stdout(), "Only One") || !strings.Contains(s.Stdout(), "0:03") {
		t.Errorf("search: exit %d, %q", code, s.Stdout())
	}
}
