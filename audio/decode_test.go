package audio

import (
	"context"
	"math"
	"os"
	"sync"
	"testing"
)

// decodeAll opens a fixture and decodes it whole, as float channels.
func decodeAll(t testing.TB, path string) (*Track, [][]float64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := OpenBytes(context.Background(), data, Meta{Name: path})
	if err != nil {
		t.Fatal(err)
	}
	return tr, drain(t, tr)
}

func drain(t testing.TB, s interface {
	Stream([][2]float64) (int, bool)
	Err() error
}) [][]float64 {
	t.Helper()
	out := [][]float64{nil, nil}
	buf := make([][2]float64, 1000)
	for {
		n, ok := s.Stream(buf)
		for _, x := range buf[:n] {
			out[0] = append(out[0], x[0])
			out[1] = append(out[1], x[1])
		}
		if !ok {
			break
		}
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func ints(ch []int) []float64 {
	f := make([]float64, len(ch))
	for i, v := range ch {
		f[i] = float64(v) / 32768
	}
	return f
}

// Decoded PCM against ffmpeg's decode: flac and wav sample-exact, mp3 and
// ogg by SNR (worst reported).
func TestDecodeMatchesFFmpeg(t *testing.T) {
	var mu sync.Mutex
	worst := map[string]float64{}
	t.Cleanup(func() { t.Logf("worst SNR per codec against ffmpeg (dB): %v", worst) })
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			path := fixturePath(t, f.name)
			tr, got := decodeAll(t, path)
			defer tr.Close()
			want := ffmpegDecode(t, path, f.chans)
			if d := len(got[0]) - len(want[0]); d != 0 {
				t.Errorf("%d samples, ffmpeg decodes %d (%+d)", len(got[0]), len(want[0]), d)
			}
			if int(tr.Format().SampleRate) != f.rate {
				t.Errorf("rate %d, want %d", tr.Format().SampleRate, f.rate)
			}
			minSNR := math.Inf(1)
			for c := 0; c < f.chans; c++ {
				w := ints(want[c])
				db, maxDiff := snr(w, got[c])
				switch f.codec {
				case CodecFLAC, CodecWAV:
					if maxDiff != 0 {
						t.Errorf("channel %d: not sample-exact: max difference %.0f LSB", c, maxDiff*32768)
					}
				default:
					if db < 60 {
						t.Errorf("channel %d: SNR %.1f dB < 60 dB (max difference %.0f LSB)", c, db, maxDiff*32768)
					}
				}
				minSNR = min(minSNR, db)
			}
			if f.chans == 1 {
				if _, d := snr(got[0], got[1]); d != 0 {
					t.Errorf("mono: right channel differs from left")
				}
			}
			t.Logf("SNR %.1f dB, %d samples", minSNR, len(got[0]))
			mu.Lock()
			if w, ok := worst[f.codec]; !ok || minSNR < w {
				worst[f.codec] = minSNR
			}
			mu.Unlock()
		})
	}
}
