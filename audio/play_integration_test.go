//go:build integration

package audio

import (
	"encoding/binary"
	"encoding/json"
	"math"
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

type playJSON struct {
	Track              string   `json:"track"`
	TTFAms             *float64 `json:"ttfa_ms"`
	Underruns          *int     `json:"underruns"`
	UnderrunMs         *float64 `json:"underrun_ms"`
	BytesSeedHead      *int64   `json:"bytes_seed_head"`
	BytesSeedEmergency *int64   `json:"bytes_seed_emergency"`
	BytesSeedBT        *int64   `json:"bytes_seed_bt"`
	BytesPeers         *int64   `json:"bytes_peers"`
	BytesCache         *int64   `json:"bytes_cache"`
	PeersSeen          *int     `json:"peers_seen"`
	PlayedS            *float64 `json:"played_s"`
}

func runPlay(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(itest.Binary(t), append([]string{"play"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var so, se strings.Builder
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("peertune play: %v", err)
	}
	return so.String(), se.String(), code
}

// `peertune play --output wav:OUT.wav --json FILE` (paced, as a user runs
// it) writes what ffmpeg decodes (flac and wav sample-exact, mp3 and ogg
// above 60 dB SNR) and reports no underruns and the fixture's duration.
func TestPlayCommandWAVOutput(t *testing.T) {
	bin := itest.Binary(t)
	_ = bin
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			path := fixturePath(t, f.name)
			out := filepath.Join(t.TempDir(), "out.wav")
			start := time.Now()
			stdout, stderr, code := runPlay(t, nil, "--output", "wav:"+out, "--json", path)
			wall := time.Since(start)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			info, err := Probe(path)
			if err != nil {
				t.Fatal(err)
			}
			if wall < info.Duration {
				t.Errorf("played %v of audio in %v: not paced to real time", info.Duration, wall)
			}
			var rep playJSON
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one JSON line, got %q", stdout)
			}
			if err := json.Unmarshal([]byte(lines[0]), &rep); err != nil {
				t.Fatalf("%v: %q", err, stdout)
			}
			if rep.TTFAms == nil || rep.Underruns == nil || rep.UnderrunMs == nil || rep.PlayedS == nil ||
				rep.BytesSeedHead == nil || rep.BytesSeedEmergency == nil || rep.BytesSeedBT == nil ||
				rep.BytesPeers == nil || rep.BytesCache == nil || rep.PeersSeen == nil || rep.Track == "" {
				t.Fatalf("report lacks fields of the contract: %s", lines[0])
			}
			if *rep.Underruns != 0 || *rep.TTFAms < 0 || *rep.TTFAms > 1000 {
				t.Errorf("report %s: want 0 underruns and a small ttfa", lines[0])
			}
			if d := math.Abs(*rep.PlayedS - info.Duration.Seconds()); d > 0.05 {
				t.Errorf("played_s %.3f, fixture lasts %v", *rep.PlayedS, info.Duration)
			}
			got, err := Probe(out)
			if err != nil {
				t.Fatal(err)
			}
			if got.SampleRate != f.rate || got.Channels != f.chans {
				t.Errorf("output %d Hz %d ch, want %d Hz %d ch", got.SampleRate, got.Channels, f.rate, f.chans)
			}
			want := ffmpegDecode(t, path, f.chans)
			have := ffmpegDecode(t, out, f.chans)
			if len(have[0]) != len(want[0]) {
				t.Errorf("%d samples written, ffmpeg decodes %d", len(have[0]), len(want[0]))
			}
			for c := range want {
				db, maxDiff := snr(ints(want[c]), ints(have[c]))
				switch f.codec {
				case CodecFLAC, CodecWAV:
					if maxDiff != 0 {
						t.Errorf("channel %d not sample-exact (max diff %.0f LSB)", c, maxDiff*32768)
					}
				default:
					if db < 60 {
						t.Errorf("channel %d: SNR %.1f dB", c, db)
					}
				}
			}
		})
	}
}

func TestPlayCommandStartAndFast(t *testing.T) {
	path := fixturePath(t, "sweep-44k-stereo-vbr.mp3")
	stdout, stderr, code := runPlay(t, nil, "--output", "null", "--fast", "--json", "--start", "3s", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep playJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if math.Abs(*rep.PlayedS-1) > 0.05 {
		t.Errorf("--start 3s of a 4 s track played %.3f s", *rep.PlayedS)
	}
}

func TestPlayCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mp3")
	os.WriteFile(junk, []byte("not an mp3 at all, only words"), 0o644)
	data, _ := os.ReadFile(fixturePath(t, "sweep-44k-stereo.flac"))
	cut := filepath.Join(dir, "cut.flac")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--output", "null", "no such file"}, "not a file"},
		{[]string{"--output", "null", junk}, "unsupported format"},
		{[]string{"--output", "null", "--fast", cut}, "flac"},
		{[]string{"--fast", fixturePath(t, "sweep-44k-stereo.flac")}, "--fast"},
		{[]string{"--output", "tape", junk}, "--output"},
	} {
		_, stderr, code := runPlay(t, nil, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("play %q: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, stderr, c.want)
		}
	}
}

// TestPlayCommandSkipsABadFile plays three files of which two are bad (not
// audio; cut in half): each bad one is reported by name and skipped, the
// good one plays, and the exit status says bad input once all have run.
func TestPlayCommandSkipsABadFile(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.mp3")
	os.WriteFile(junk, []byte("not an mp3 at all, only words"), 0o644)
	good := fixturePath(t, "sweep-44k-stereo.flac")
	data, _ := os.ReadFile(good)
	cut := filepath.Join(dir, "cut.flac")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	stdout, stderr, code := runPlay(t, nil, "--output", "null", "--fast", "--json", junk, good, cut)
	if code != 2 {
		t.Errorf("exit %d, want 2 (bad input)\n%s", code, stderr)
	}
	for _, want := range []string{"skipping " + junk, "skipping " + cut, "2 of 3 files could not be played"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], `"track":"`+good+`"`) {
		t.Errorf("reports %q, want one, of %s", lines, good)
	}
}

// The real oto path without a sound card: ALSA's default pcm is a `file`
// plugin over the null device, which captures what oto played (float32
// stereo at the track's rate); it must match the decoded PCM.
func TestPlayCommandSpeakerThroughALSAFile(t *testing.T) {
	if _, err := os.Stat("/usr/share/alsa/alsa.conf"); err != nil {
		t.Skip("no ALSA configuration (libasound2) on this machine")
	}
	dir := t.TempDir()
	capture := filepath.Join(dir, "capture.raw")
	conf := filepath.Join(dir, "asound.conf")
	os.WriteFile(conf, []byte("</usr/share/alsa/alsa.conf>\n"+
		"pcm.!default {\n  type file\n  slave.pcm \"null\"\n  file \""+capture+"\"\n  format \"raw\"\n}\n"), 0o644)
	path := fixturePath(t, "sweep-44k-stereo.flac")
	_, stderr, code := runPlay(t, []string{"ALSA_CONFIG_PATH=" + conf}, "--output", "speaker", "--json", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	raw, err := os.ReadFile(capture)
	if err != nil {
		t.Fatal(err)
	}
	got := make([][]int, 2)
	for i := 0; i+8 <= len(raw); i += 8 {
		for c := 0; c < 2; c++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[i+4*c:]))
			got[c] = append(got[c], int(math.Round(float64(v)*32768)))
		}
	}
	want := ffmpegDecode(t, path, 2)
	// The ALSA null device is not paced: oto's mixer runs ahead of the
	// player and fills with silence whenever it has nothing, so silence is
	// interleaved with the audio. Compare the non-silent frames.
	nonSilent := func(pcm [][]int) [][2]int {
		var out [][2]int
		for i := range pcm[0] {
			if pcm[0][i] != 0 || pcm[1][i] != 0 {
				out = append(out, [2]int{pcm[0][i], pcm[1][i]})
			}
		}
		return out
	}
	g, w := nonSilent(got), nonSilent(want)
	if len(g) != len(w) {
		t.Fatalf("captured %d non-silent frames, the decode has %d", len(g), len(w))
	}
	for i := range w {
		if g[i] != w[i] {
			t.Fatalf("frame %d of the non-silent audio: captured %v, decoded %v", i, g[i], w[i])
		}
	}
	t.Logf("captured %d frames; its %d non-silent frames match the decode exactly", len(got[0]), len(g))
}

// Without any usable device the speaker fails at start with the device
// error and the hint, instead of hanging.
func TestPlayCommandSpeakerWithoutDevice(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "asound.conf")
	os.WriteFile(conf, []byte("pcm.!default {\n  type hw\n  card 99\n}\n"), 0o644)
	start := time.Now()
	_, stderr, code := runPlay(t, []string{"ALSA_CONFIG_PATH=" + conf}, fixturePath(t, "sweep-48k-mono.wav"))
	if code != 1 || !strings.Contains(stderr, "--output null") || !strings.Contains(stderr, "ALSA") {
		t.Errorf("exit %d, stderr %q: want exit 1 naming the ALSA error and suggesting --output null", code, stderr)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v", d)
	}
}
