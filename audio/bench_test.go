package audio

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	gomp3 "github.com/hajimehoshi/go-mp3"
)

// BenchmarkDecode decodes each fixture whole and reports the speed in
// multiples of real time (seconds of audio per second of CPU, one core):
//
//	go test -run '^$' -bench Decode -cpu 1 ./audio
func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{
		"sweep-44k-stereo-cbr320.mp3", "sweep-44k-stereo-vbr.mp3", "speech-44k-mono-cbr128.mp3",
		"sweep-44k-stereo.flac", "sweep-44k-stereo.ogg", "sweep-44k-stereo.wav",
	} {
		b.Run(name, func(b *testing.B) {
			data, err := os.ReadFile(fixturePath(b, name))
			if err != nil {
				b.Fatal(err)
			}
			buf := make([][2]float64, 4096)
			var audio time.Duration
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				tr, err := OpenBytes(context.Background(), data, Meta{Name: name})
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, ok := tr.Stream(buf); !ok {
						break
					}
				}
				if tr.Err() != nil {
					b.Fatal(tr.Err())
				}
				audio += tr.Duration()
			}
			b.ReportMetric(audio.Seconds()/b.Elapsed().Seconds(), "x_realtime")
			b.ReportMetric(audio.Seconds()/(cpuTime()-cpu0).Seconds(), "x_realtime_cpu")
			b.SetBytes(int64(len(data)))
		})
	}
}

// BenchmarkPlayFast runs the whole pipeline (decoding goroutine, ahead
// buffer, clock, pause, volume, a wav output) on mp3 at 320 kbit/s,
// resampled to 48 kHz and not.
func BenchmarkPlayFast(b *testing.B) {
	data, err := os.ReadFile(fixturePath(b, "sweep-44k-stereo-cbr320.mp3"))
	if err != nil {
		b.Fatal(err)
	}
	for _, rate := range []int{0, 48000} {
		name := "native"
		if rate != 0 {
			name = "resampled-48k"
		}
		b.Run(name, func(b *testing.B) {
			var audio time.Duration
			cpu0 := cpuTime()
			for range b.N {
				tr, err := OpenBytes(context.Background(), data, Meta{})
				if err != nil {
					b.Fatal(err)
				}
				p, _ := NewPlayer(fixedRateOutput{rate}, PlayerOptions{Fast: true})
				rep, err := p.Play(context.Background(), tr)
				if err != nil {
					b.Fatal(err)
				}
				audio += rep.Played
			}
			b.ReportMetric(audio.Seconds()/b.Elapsed().Seconds(), "x_realtime")
			b.ReportMetric(audio.Seconds()/(cpuTime()-cpu0).Seconds(), "x_realtime_cpu")
		})
	}
}

// BenchmarkGoMP3Raw is go-mp3 alone on the same file (the reference for
// what the pipeline costs on top).
func BenchmarkGoMP3Raw(b *testing.B) {
	data, err := os.ReadFile(fixturePath(b, "sweep-44k-stereo-cbr320.mp3"))
	if err != nil {
		b.Fatal(err)
	}
	var audio float64
	cpu0 := cpuTime()
	for range b.N {
		d, err := gomp3.NewDecoder(struct{ io.Reader }{bytes.NewReader(data)})
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, d)
		audio += float64(n) / 4 / float64(d.SampleRate())
	}
	b.ReportMetric(audio/b.Elapsed().Seconds(), "x_realtime")
	b.ReportMetric(audio/(cpuTime()-cpu0).Seconds(), "x_realtime_cpu")
}

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// fixedRateOutput is a null output that wants a given rate (0: any).
type fixedRateOutput struct{ rate int }

func (o fixedRateOutput) Open(f Format) (Format, error) {
	if o.rate != 0 {
		f.SampleRate = o.rate
	}
	return f, nil
}
func (o fixedRateOutput) Write([][2]float64) error { return nil }
func (o fixedRateOutput) RealTime() bool           { return false }
func (o fixedRateOutput) Close() error             { return nil }
