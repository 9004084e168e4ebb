package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fixture is one file made by scripts/make-fixtures.sh.
type fixture struct {
	name  string // file name
	codec string
	rate  int
	chans int
	cbr   bool // constant bitrate mp3
}

var fixtures = []fixture{
	{"sweep-44k-stereo-cbr320.mp3", CodecMP3, 44100, 2, true},
	{"sweep-44k-stereo-vbr.mp3", CodecMP3, 44100, 2, false},
	{"speech-44k-mono-cbr128.mp3", CodecMP3, 44100, 1, true},
	{"noise-48k-stereo-vbr.mp3", CodecMP3, 48000, 2, false},
	{"sweep-48k-mono-cbr320.mp3", CodecMP3, 48000, 1, true},
	{"sweep-44k-stereo.flac", CodecFLAC, 44100, 2, false},
	{"noise-48k-stereo.flac", CodecFLAC, 48000, 2, false},
	{"speech-44k-mono.flac", CodecFLAC, 44100, 1, false},
	{"sweep-44k-stereo.ogg", CodecOgg, 44100, 2, false},
	{"sweep-48k-mono.ogg", CodecOgg, 48000, 1, false},
	{"speech-44k-mono.ogg", CodecOgg, 44100, 1, false},
	{"noise-44k-mono.wav", CodecWAV, 44100, 1, false},
	{"sweep-48k-mono.wav", CodecWAV, 48000, 1, false},
	{"sweep-44k-stereo.wav", CodecWAV, 44100, 2, false},
}

var (
	fixturesOnce sync.Once
	fixturesErr  error
)

func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find source path")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), ".."))
}

// fixturePath returns the path of a fixture, making the fixtures with
// scripts/make-fixtures.sh into testdata/fixtures (gitignored) when they
// are missing; the script is idempotent.
func fixturePath(t testing.TB, name string) string {
	t.Helper()
	root := repoRoot(t)
	dir := filepath.Join(root, "testdata", "fixtures")
	fixturesOnce.Do(func() {
		for _, f := range fixtures {
			if _, err := os.Stat(filepath.Join(dir, f.name)); err != nil {
				out, err := exec.Command(filepath.Join(root, "scripts", "make-fixtures.sh"), dir).CombinedOutput()
				if err != nil {
					fixturesErr = &scriptError{err, out}
				}
				return
			}
		}
	})
	if fixturesErr != nil {
		t.Fatal(fixturesErr)
	}
	return filepath.Join(dir, name)
}

type scriptError struct {
	err error
	out []byte
}

func (e *scriptError) Error() string {
	return "scripts/make-fixtures.sh: " + e.err.Error() + "\n" + string(e.out)
}

// ffprobeDuration is ffprobe's idea of the stream's duration in seconds.
func ffprobeDuration(t testing.TB, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration",
		"-of", "default=nw=1:nk=1", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	d, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("ffprobe %s: %q: %v", path, out, err)
	}
	return d
}

// ffmpegDecode is ffmpeg's decode of path as interleaved 16-bit samples
// (as ints) with the file's own channel count and rate.
func ffmpegDecode(t testing.TB, path string, channels int) [][]int {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", path,
		"-f", "s16le", "-acodec", "pcm_s16le", "-ac", strconv.Itoa(channels), "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", path, err)
	}
	return deinterleave16(out, channels)
}

func deinterleave16(b []byte, channels int) [][]int {
	n := len(b) / 2 / channels
	pcm := make([][]int, channels)
	for c := range pcm {
		pcm[c] = make([]int, n)
	}
	r := bytes.NewReader(b)
	var s int16
	for i := 0; i < n; i++ {
		for c := 0; c < channels; c++ {
			binary.Read(r, binary.LittleEndian, &s)
			pcm[c][i] = int(s)
		}
	}
	return pcm
}

// snr is the signal-to-noise ratio in dB of got against want (per sample,
// over the common length), and the largest absolute difference.
func snr(want, got []float64) (db float64, maxDiff float64) {
	var sig, noise float64
	n := min(len(want), len(got))
	for i := 0; i < n; i++ {
		d := want[i] - got[i]
		sig += want[i] * want[i]
		noise += d * d
		maxDiff = max(maxDiff, math.Abs(d))
	}
	if noise == 0 {
		return math.Inf(1), 0
	}
	return 10 * math.Log10(sig/noise), maxDiff
}
