package audio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// slowReader delivers its bytes in bursts (burst bytes every interval,
// from when it was first read) and, when a read reaches byte stall[i].at,
// delivers nothing for stall[i].d, then resumes bursting: a torrent whose
// next piece arrives late. Reads block until their bytes are released.
type slowReader struct {
	data     []byte
	off      int64
	burst    int
	interval time.Duration
	stalls   []stall
	closed   chan struct{}
	once     sync.Once

	epoch time.Time // bursts counted from here
	base  int64     // bytes released at epoch

	mu       sync.Mutex
	complete time.Time // when the last byte was delivered
}

type stall struct {
	at   int64
	d    time.Duration
	done bool
}

func (r *slowReader) wait(d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-r.closed:
		return errors.New("slowReader: closed")
	}
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	if r.epoch.IsZero() {
		r.epoch = time.Now()
	}
	limit := int64(len(r.data))
	for i := range r.stalls {
		s := &r.stalls[i]
		if s.done {
			continue
		}
		if r.off >= s.at { // the reader needs the late piece
			s.done = true
			if err := r.wait(s.d); err != nil {
				return 0, err
			}
			r.epoch, r.base = time.Now(), r.off
			continue
		}
		limit = min(limit, s.at)
	}
	for {
		bursts := int64(time.Since(r.epoch)/r.interval) + 1
		released := min(r.base+bursts*int64(r.burst), limit)
		if released > r.off {
			n := copy(p, r.data[r.off:released])
			r.off += int64(n)
			if r.off == int64(len(r.data)) {
				r.mu.Lock()
				r.complete = time.Now()
				r.mu.Unlock()
			}
			return n, nil
		}
		next := r.epoch.Add(time.Duration(bursts) * r.interval)
		if err := r.wait(time.Until(next)); err != nil {
			return 0, err
		}
	}
}

func (r *slowReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += int64(len(r.data))
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	r.off = off
	return off, nil
}

func (r *slowReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}

// A reader that delivers 3x faster than real time, in bursts, with two
// injected stalls: playback starts after the first bytes, not after the
// whole file, and the underruns match the stalls minus what was buffered
// ahead, within one output chunk plus one decode block.
func TestPlaySlowBurstyReaderUnderruns(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 4 s in real time")
	}
	if raceEnabled {
		// Regression: it failed under -race in CI with a third, 80 ms
		// underrun that no stall caused (the decoder was starved).
		t.Skip("checks real-time underruns: run without -race (the integration pass does)")
	}
	path := fixturePath(t, "sweep-44k-stereo.wav")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const bytesPerSec = 44100 * 4
	interval := 20 * time.Millisecond
	r := &slowReader{
		data: data, burst: 3 * bytesPerSec * int(interval) / int(time.Second), interval: interval,
		stalls: []stall{
			{at: 44 + bytesPerSec*1, d: 400 * time.Millisecond},
			{at: 44 + bytesPerSec*5/2, d: 700 * time.Millisecond},
		},
		closed: make(chan struct{}),
	}
	opts := PlayerOptions{BufferAhead: 100 * time.Millisecond, Chunk: 20 * time.Millisecond}
	p, err := NewPlayer(NewNullOutput(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tr, err := Open(ctx, r, Meta{Name: "slow.wav", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	start := time.Now()
	rep, err := p.Play(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	r.mu.Lock()
	complete := r.complete.Sub(start)
	r.mu.Unlock()
	t.Logf("ttfa %v, file complete after %v, played %v in %v, underruns %+v (total %v)",
		rep.TTFA, complete, rep.Played, wall, rep.Underruns, rep.UnderrunTotal)
	if rep.TTFA > complete/4 || rep.TTFA > 300*time.Millisecond {
		t.Errorf("time to first audio %v: playback did not start soon after the first bytes (file complete at %v)", rep.TTFA, complete)
	}
	if d := rep.Played - 4*time.Second; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("played %v, want 4s", rep.Played)
	}
	if len(rep.Underruns) != 2 {
		t.Fatalf("%d underruns, want 2 (one per stall): %+v", len(rep.Underruns), rep.Underruns)
	}
	// Each stall is absorbed by the audio buffered ahead (BufferAhead plus
	// the decode block in flight) and ends at the next burst.
	tol := opts.Chunk + 1024*time.Second/44100 + interval
	for i, u := range rep.Underruns {
		want := r.stalls[i].d - opts.BufferAhead
		if diff := u.Duration - want; diff < -tol || diff > tol {
			t.Errorf("underrun %d: %v, want %v ± %v (stall %v minus %v buffered)", i, u.Duration, want, tol, r.stalls[i].d, opts.BufferAhead)
		}
	}
	// Paced: wall time is the audio plus the silence plus the wait for
	// the first audio.
	if extra := wall - rep.Played - rep.UnderrunTotal - rep.TTFA; extra < -50*time.Millisecond || extra > 150*time.Millisecond {
		t.Errorf("wall time %v vs played %v + underruns %v + ttfa %v: pacing off by %v", wall, rep.Played, rep.UnderrunTotal, rep.TTFA, extra)
	}
}

// Playing into a wav file (fast) reproduces the decode exactly, at the
// source's rate and channel count.
func TestPlayFastWAVOutputExact(t *testing.T) {
	for _, name := range []string{"speech-44k-mono.flac", "noise-48k-stereo.flac", "sweep-44k-stereo.wav"} {
		t.Run(name, func(t *testing.T) {
			path := fixturePath(t, name)
			out := filepath.Join(t.TempDir(), "out.wav")
			o, err := NewWAVOutput(out)
			if err != nil {
				t.Fatal(err)
			}
			p, err := NewPlayer(o, PlayerOptions{Fast: true})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(path)
			tr, err := OpenBytes(context.Background(), data, Meta{Name: name})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := p.Play(context.Background(), tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := o.Close(); err != nil {
				t.Fatal(err)
			}
			info, err := Probe(out)
			if err != nil {
				t.Fatal(err)
			}
			src, _ := Probe(path)
			if info.SampleRate != src.SampleRate || info.Channels != src.Channels {
				t.Errorf("wav output %d Hz %d ch, source %d Hz %d ch", info.SampleRate, info.Channels, src.SampleRate, src.Channels)
			}
			want, _ := exec16(t, path, src.Channels)
			got, _ := exec16(t, out, src.Channels)
			if !bytes.Equal(want, got) {
				t.Errorf("wav output differs from ffmpeg's decode (%d vs %d bytes)", len(got), len(want))
			}
			if rep.Played != src.Duration || len(rep.Underruns) != 0 {
				t.Errorf("report %+v, want played %v and no underruns", rep, src.Duration)
			}
		})
	}
}

func exec16(t *testing.T, path string, ch int) ([]byte, error) {
	pcm := ffmpegDecode(t, path, ch)
	var b bytes.Buffer
	for i := range pcm[0] {
		for c := 0; c < ch; c++ {
			v := int16(pcm[c][i])
			b.WriteByte(byte(v))
			b.WriteByte(byte(uint16(v) >> 8))
		}
	}
	return b.Bytes(), nil
}

var _ = math.Abs
