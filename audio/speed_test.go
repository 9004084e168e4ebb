//go:build !race

package audio

import (
	"context"
	"os"
	"testing"
)

// mp3 at 320 kbit/s decodes at least 50 times faster than real time on
// one core, measured in CPU time so that a busy machine does not fail it.
func TestMP3DecodeSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("speed measurement")
	}
	data, err := os.ReadFile(fixturePath(t, "sweep-44k-stereo-cbr320.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([][2]float64, 4096)
	cpu0 := cpuTime()
	audio := 0.0
	for range 10 {
		tr, err := OpenBytes(context.Background(), data, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, ok := tr.Stream(buf); !ok {
				break
			}
		}
		audio += tr.Duration().Seconds()
	}
	speed := audio / (cpuTime() - cpu0).Seconds()
	t.Logf("mp3 320 kbit/s: %.0fx real time (CPU time)", speed)
	if speed < 50 {
		t.Errorf("mp3 320 kbit/s decodes at %.0fx real time, want at least 50x", speed)
	}
}
