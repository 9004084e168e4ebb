package audio

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// findLag returns the offset in ref where win matches best (least squared
// difference), searching around guess within ±radius samples.
func findLag(ref, win []float64, guess, radius int) (lag int, residual float64) {
	best := math.Inf(1)
	for l := max(0, guess-radius); l <= guess+radius && l+len(win) <= len(ref); l++ {
		var ssd float64
		for i, x := range win {
			d := ref[l+i] - x
			ssd += d * d
			if ssd >= best {
				break
			}
		}
		if ssd < best {
			best, lag = ssd, l
		}
	}
	return lag, best
}

// Seeking to 25, 50 and 90 % of each fixture lands within 50 ms of the
// asked time, measured by matching the audio after the seek against
// ffmpeg's decode.
func TestSeekAccuracy(t *testing.T) {
	const window = 1024
	var mu sync.Mutex
	worstMs := map[string]float64{}
	t.Cleanup(func() { t.Logf("worst seek error per fixture (ms): %v", worstMs) })
	cases := append([]fixture(nil), fixtures...)
	// An mp3 without its Xing/Info frame: seeking by constant bitrate.
	cases = append(cases, fixture{name: "noxing", codec: CodecMP3, rate: 44100, chans: 1, cbr: true})
	for _, f := range cases {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			var path string
			if f.name == "noxing" {
				path = stripXing(t, "speech-44k-mono-cbr128.mp3")
			} else {
				path = fixturePath(t, f.name)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			ref := ints(ffmpegDecode(t, path, f.chans)[0])
			tr, err := OpenBytes(context.Background(), data, Meta{Name: f.name})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			for _, frac := range []float64{0.25, 0.5, 0.9, 0.1} {
				p := int(frac * float64(tr.Len()))
				if err := tr.Seek(p); err != nil {
					t.Fatalf("seek to %.0f%%: %v", frac*100, err)
				}
				if tr.Position() != p {
					t.Errorf("Position %d after Seek(%d)", tr.Position(), p)
				}
				buf := make([][2]float64, window)
				n, _ := tr.Stream(buf)
				if n < window {
					t.Fatalf("seek to %.0f%%: only %d samples after the seek (err %v)", frac*100, n, tr.Err())
				}
				win := make([]float64, window)
				energy := 0.0
				for i := range win {
					win[i] = buf[i][0]
					energy += win[i] * win[i]
				}
				if energy < 1e-4 {
					t.Logf("%.0f%%: silence there, cannot measure", frac*100)
					continue
				}
				lag, residual := findLag(ref, win, p, f.rate*3/10)
				errMs := float64(lag-p) / float64(f.rate) * 1000
				if math.Abs(errMs) > 50 {
					t.Errorf("seek to %.0f%% (%.3fs) landed %.1f ms off (residual %.3g)", frac*100, float64(p)/float64(f.rate), errMs, residual/energy)
				}
				t.Logf("%.0f%%: %+.2f ms (residual/energy %.2g)", frac*100, errMs, residual/energy)
				mu.Lock()
				worstMs[f.name] = max(worstMs[f.name], math.Abs(errMs))
				mu.Unlock()
			}
		})
	}
}

// stripXing writes a copy of an mp3 fixture without its Xing/Info frame
// (so without the LAME tag and its gapless information).
func stripXing(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(fixturePath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseMP3Header(bytes.NewReader(data), int64(len(data)))
	if err != nil || !h.infoFrame {
		t.Fatalf("%s: no Xing frame to strip (%v)", name, err)
	}
	out := filepath.Join(t.TempDir(), "noxing.mp3")
	stripped := append(append([]byte{}, data[:h.first]...), data[h.audio:]...)
	if err := os.WriteFile(out, stripped, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
