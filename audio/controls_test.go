package audio

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"
)

func openFixture(t *testing.T, name string) *Track {
	t.Helper()
	data, err := os.ReadFile(fixturePath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := OpenBytes(context.Background(), data, Meta{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// recordingOutput keeps what it is given (a null output that remembers).
type recordingOutput struct {
	mu      sync.Mutex
	samples [][2]float64
}

func (o *recordingOutput) Open(f Format) (Format, error) { return f, nil }
func (o *recordingOutput) Write(s [][2]float64) error {
	o.mu.Lock()
	o.samples = append(o.samples, s...)
	o.mu.Unlock()
	return nil
}
func (o *recordingOutput) RealTime() bool { return false }
func (o *recordingOutput) Close() error   { return nil }

// Pause, volume, mute and position, used from another goroutine while a
// paced track plays: a pause adds silence but not played time and is no
// underrun; the clock stands still while paused.
func TestPlayerControlsFromAnotherGoroutine(t *testing.T) {
	tr := openFixture(t, "sweep-48k-mono.wav") // 3 s
	out := &recordingOutput{}
	p, err := NewPlayer(out, PlayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var pausedAt, resumedAt time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(500 * time.Millisecond)
		p.SetVolume(0.5)
		p.SetPaused(true)
		pausedAt = p.Position()
		time.Sleep(400 * time.Millisecond)
		resumedAt = p.Position()
		p.SetPaused(false)
		p.SetMuted(true)
		time.Sleep(200 * time.Millisecond)
		p.SetMuted(false)
		if st := p.Status(); !st.Playing || st.Duration != 3*time.Second {
			t.Errorf("status %+v", st)
		}
	}()
	start := time.Now()
	rep, err := p.Play(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	<-done
	if rep.Played != 3*time.Second || len(rep.Underruns) != 0 {
		t.Errorf("report %+v: want 3s played, no underruns", rep)
	}
	if resumedAt != pausedAt {
		t.Errorf("position moved while paused: %v -> %v", pausedAt, resumedAt)
	}
	if wall < 3350*time.Millisecond || wall > 3700*time.Millisecond {
		t.Errorf("3 s track with a 400 ms pause took %v", wall)
	}
	// What was written: 3 s of audio + ~400 ms of pause silence; the
	// audio after the pause at half volume, some of it muted.
	got := len(out.samples)
	if want := 48000 * 34 / 10; got < want-48000/10 || got > want+48000/10 {
		t.Errorf("%d samples written, want about %d", got, want)
	}
	if peak := peakOf(out.samples[len(out.samples)-48000/2:]); peak > 0.26 || peak < 0.2 {
		t.Errorf("peak %.3f at the end, want about 0.25 (0.5 amplitude at volume 0.5)", peak)
	}
}

// Seek from another goroutine while playing (fast): playback continues
// from the new position, and the report's position is the end.
func TestPlayerSeekWhilePlaying(t *testing.T) {
	tr := openFixture(t, "sweep-44k-stereo-vbr.mp3") // 4 s
	p, err := NewPlayer(NewNullOutput(), PlayerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for p.Position() < 300*time.Millisecond {
			time.Sleep(5 * time.Millisecond)
		}
		if err := p.Seek(3 * time.Second); err != nil {
			t.Error(err)
		}
		time.Sleep(30 * time.Millisecond)
		if pos := p.Position(); pos < 3*time.Second || pos > 3200*time.Millisecond {
			t.Errorf("position %v shortly after seeking to 3s", pos)
		}
	}()
	start := time.Now()
	rep, err := p.Play(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: the seek to 3 s of 4 s did not skip", d)
	}
	if rep.Position != 4*time.Second {
		t.Errorf("final position %v, want 4s", rep.Position)
	}
	if rep.Played < 1200*time.Millisecond || rep.Played > 1500*time.Millisecond {
		t.Errorf("played %v, want about 0.3 + 1 s", rep.Played)
	}
}

// Stop ends the track at once; a reader blocked forever is unblocked by
// closing it, so Play returns (no hang past the context).
func TestPlayerStopAndCancelWithBlockedReader(t *testing.T) {
	data, err := os.ReadFile(fixturePath(t, "sweep-44k-stereo.flac"))
	if err != nil {
		t.Fatal(err)
	}
	for _, how := range []string{"stop", "cancel"} {
		t.Run(how, func(t *testing.T) {
			r := &slowReader{data: data, burst: 64 << 10, interval: 10 * time.Millisecond,
				stalls: []stall{{at: 20 << 10, d: time.Hour}}, closed: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			tr, err := Open(ctx, r, Meta{Name: "blocked.flac", Size: int64(len(data))})
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			p, _ := NewPlayer(NewNullOutput(), PlayerOptions{})
			go func() {
				time.Sleep(700 * time.Millisecond) // past the stall point
				if how == "stop" {
					p.Stop()
				} else {
					cancel()
				}
			}()
			start := time.Now()
			rep, err := p.Play(ctx, tr)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Play returned after %v", d)
			}
			switch how {
			case "stop":
				if err != nil || !rep.Stopped {
					t.Errorf("stop: report %+v, err %v", rep, err)
				}
			case "cancel":
				if !errors.Is(err, context.Canceled) {
					t.Errorf("cancel: err %v, want context.Canceled", err)
				}
			}
			if len(rep.Underruns) == 0 && how == "stop" {
				t.Errorf("a reader stalled past the buffer should have caused an underrun: %+v", rep)
			}
		})
	}
}

// Regression: a terminal player died when the next track was asked for its
// status before its first samples ("nil pointer dereference" in
// clock.underruns: the session was published before its clock was made).
// Status and Underruns answer at any moment of a track, also while it waits
// for its first samples.
func TestStatusWhileWaitingForTheFirstSamples(t *testing.T) {
	data, err := os.ReadFile(fixturePath(t, "sweep-44k-stereo.wav"))
	if err != nil {
		t.Fatal(err)
	}
	// The header reads at once; the samples never come.
	samples := bytes.Index(data, []byte("data"))
	if samples < 0 {
		t.Fatal("no data chunk in the WAV fixture")
	}
	r := &slowReader{data: data, burst: 64 << 10, interval: 10 * time.Millisecond,
		stalls: []stall{{at: int64(samples) + 8, d: time.Hour}}, closed: make(chan struct{})}
	tr, err := Open(context.Background(), r, Meta{Name: "samples-late.wav", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	p, _ := NewPlayer(NewNullOutput(), PlayerOptions{})
	done := make(chan struct{})
	var rep Report
	go func() {
		defer close(done)
		rep, _ = p.Play(context.Background(), tr)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !p.Status().Playing {
		if time.Now().After(deadline) {
			t.Fatal("Status never showed the track")
		}
		time.Sleep(time.Millisecond)
	}
	for range 50 { // while it waits
		if st := p.Status(); st.Position != 0 || st.Underruns != 0 {
			t.Fatalf("before the first samples: %+v", st)
		}
		if u := p.Underruns(); len(u) != 0 {
			t.Fatalf("underruns before the first samples: %+v", u)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.Stop()
	<-done
	if !rep.Stopped || rep.Played != 0 || len(rep.Underruns) != 0 {
		t.Errorf("a track stopped before its first samples reported %+v", rep)
	}
}
