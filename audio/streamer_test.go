package audio

import (
	"context"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gopxl/beep/v2"
)

// checkStreamer is the contract every streamer in this package passes
// (beep's rules): n never exceeds the buffer; samples past n are not
// touched; once drained (0, false) it stays drained; a short read with ok
// is the last one; after an error only (0, false); samples are finite. It
// reads with changing buffer sizes and returns the samples read.
func checkStreamer(t *testing.T, s beep.Streamer, limit int) int {
	t.Helper()
	sizes := []int{1, 7, 512, 4096, 3, 1000}
	total, drained, short := 0, false, false
	for i := 0; total < limit; i++ {
		buf := make([][2]float64, sizes[i%len(sizes)])
		for j := range buf {
			buf[j] = [2]float64{math.NaN(), math.NaN()}
		}
		n, ok := s.Stream(buf)
		if n < 0 || n > len(buf) {
			t.Fatalf("Stream returned n=%d for a buffer of %d", n, len(buf))
		}
		for j := n; j < len(buf); j++ {
			if !math.IsNaN(buf[j][0]) || !math.IsNaN(buf[j][1]) {
				t.Fatalf("Stream touched sample %d past n=%d", j, n)
			}
		}
		for j := 0; j < n; j++ {
			if math.IsNaN(buf[j][0]) || math.IsInf(buf[j][0], 0) || math.Abs(buf[j][0]) > 2 || math.Abs(buf[j][1]) > 2 {
				t.Fatalf("sample %d is %v", total+j, buf[j])
			}
		}
		if drained && (n != 0 || ok) {
			t.Fatalf("Stream returned (%d, %v) after it was drained", n, ok)
		}
		if short && (n != 0 || ok) {
			t.Fatalf("Stream returned (%d, %v) after a short read", n, ok)
		}
		if !ok && n != 0 {
			t.Fatalf("Stream returned (%d, false): n must be 0 when not ok", n)
		}
		if s.Err() != nil && (n != 0 || ok) {
			t.Fatalf("Stream returned (%d, %v) with Err %v", n, ok, s.Err())
		}
		if ok && n < len(buf) {
			short = true
		}
		if !ok {
			if drained {
				break
			}
			drained = true
		}
		total += n
	}
	return total
}

func TestStreamersContract(t *testing.T) {
	for _, f := range fixtures {
		t.Run("track/"+f.name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(fixturePath(t, f.name))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := OpenBytes(context.Background(), data, Meta{Name: f.name})
			if err != nil {
				t.Fatal(err)
			}
			n := checkStreamer(t, tr, math.MaxInt)
			if n != tr.Len() {
				t.Errorf("streamed %d samples, Len says %d", n, tr.Len())
			}
			if tr.Position() != tr.Len() {
				t.Errorf("Position %d at the end, Len %d", tr.Position(), tr.Len())
			}
		})
	}
	t.Run("resampled", func(t *testing.T) {
		data, _ := os.ReadFile(fixturePath(t, "sweep-48k-mono.wav"))
		tr, err := OpenBytes(context.Background(), data, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		n := checkStreamer(t, beep.Resample(4, 48000, 44100, tr), math.MaxInt)
		if want := 3 * 44100; n < want-10 || n > want+10 {
			t.Errorf("resampled 3 s at 48 kHz to %d samples at 44.1 kHz, want about %d", n, want)
		}
	})
	t.Run("clock", func(t *testing.T) {
		q := newRing(10000, 44100)
		gen, _ := q.result()
		q.push(gen, make([][2]float64, 5000))
		q.finish(gen, nil)
		c := &clock{ring: q, rate: 44100, resume: 882}
		if n := checkStreamer(t, c, math.MaxInt); n != 5000 {
			t.Errorf("clock streamed %d of 5000 samples", n)
		}
		if len(c.underruns()) != 0 {
			t.Errorf("underruns %v from a finished ring", c.underruns())
		}
	})
	t.Run("clock underrun", func(t *testing.T) {
		q := newRing(10000, 1000)
		gen, _ := q.result()
		q.push(gen, make([][2]float64, 100))
		c := &clock{ring: q, rate: 1000, resume: 10}
		buf := make([][2]float64, 30)
		for range 5 { // 100 samples, then 50 of silence
			if n, ok := c.Stream(buf); n != 30 || !ok {
				t.Fatalf("Stream = %d, %v", n, ok)
			}
		}
		u := c.underruns()
		if len(u) != 1 || u[0].Duration != 50*time.Millisecond || u[0].At != 100*time.Millisecond {
			t.Errorf("underruns %+v, want one of 50ms at 100ms", u)
		}
		q.finish(gen, nil)
		checkStreamer(t, c, math.MaxInt)
	})
	t.Run("pauser and volume", func(t *testing.T) {
		var paused atomic.Bool
		var gain atomic.Uint64
		var muted atomic.Bool
		gain.Store(math.Float64bits(0.5))
		src := beep.Take(10000, sine(440, 44100))
		v := &volume{s: &pauser{s: src, paused: &paused}, gain: &gain, muted: &muted}
		if n := checkStreamer(t, v, math.MaxInt); n != 10000 {
			t.Errorf("streamed %d of 10000", n)
		}
		buf := make([][2]float64, 100)
		paused.Store(true)
		v2 := &volume{s: &pauser{s: sine(440, 44100), paused: &paused}, gain: &gain, muted: &muted}
		if n, ok := v2.Stream(buf); n != 100 || !ok || buf[50] != [2]float64{} {
			t.Errorf("paused: Stream = %d, %v, sample %v; want silence", n, ok, buf[50])
		}
		paused.Store(false)
		v2.Stream(buf)
		if peak := peakOf(buf); math.Abs(peak-0.5) > 0.01 {
			t.Errorf("gain 0.5: peak %.3f", peak)
		}
		muted.Store(true)
		v2.Stream(buf)
		if peak := peakOf(buf); peak != 0 {
			t.Errorf("muted: peak %.3f", peak)
		}
	})
}

func sine(freq float64, rate int) beep.Streamer {
	i := 0
	return beep.StreamerFunc(func(s [][2]float64) (int, bool) {
		for j := range s {
			v := math.Sin(2 * math.Pi * freq * float64(i) / float64(rate))
			s[j] = [2]float64{v, v}
			i++
		}
		return len(s), true
	})
}

func peakOf(s [][2]float64) float64 {
	p := 0.0
	for _, x := range s {
		p = max(p, math.Abs(x[0]), math.Abs(x[1]))
	}
	return p
}
