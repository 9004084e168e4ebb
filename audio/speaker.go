//go:build cgo || !linux

package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ebitengine/oto/v3"
)

// Speaker plays through the system's audio device with ebitengine/oto.
// oto allows one context per process: the device is opened at the first
// track's rate in stereo, and later tracks are resampled to it.
type Speaker struct {
	ctx    *oto.Context
	player *oto.Player
	pw     *io.PipeWriter
	format Format
	buf    []byte
}

// NewSpeaker returns the speaker output; the device is opened by the
// first Open.
func NewSpeaker() *Speaker { return &Speaker{} }

// speakerHint is appended to device errors.
const speakerHint = "no usable audio device; use --output null or --output wav:FILE"

// Open opens the audio device on the first call. oto reports a device it
// cannot open only through Context.Err once the context is ready, so that
// is checked here rather than discovered as a hang.
func (s *Speaker) Open(f Format) (Format, error) {
	if s.ctx != nil {
		return s.format, nil
	}
	s.format = Format{SampleRate: f.SampleRate, Channels: 2}
	ctx, ready, err := oto.NewContext(&oto.NewContextOptions{
		SampleRate: f.SampleRate, ChannelCount: 2, Format: oto.FormatSignedInt16LE,
		BufferSize: 100 * time.Millisecond,
	})
	if err != nil {
		return Format{}, fmt.Errorf("speaker: %w (%s)", err, speakerHint)
	}
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		return Format{}, fmt.Errorf("speaker: the audio device did not open within 10s (%s)", speakerHint)
	}
	if err := ctx.Err(); err != nil {
		return Format{}, fmt.Errorf("speaker: %w (%s)", err, speakerHint)
	}
	pr, pw := io.Pipe()
	s.ctx, s.pw = ctx, pw
	s.player = ctx.NewPlayer(pr)
	s.player.Play()
	return s.format, nil
}

// Write hands samples to oto; it blocks while oto's buffer is full, which
// paces playback to the device.
func (s *Speaker) Write(samples [][2]float64) error {
	if s.pw == nil {
		return errors.New("speaker: not open")
	}
	need := len(samples) * 4
	if cap(s.buf) < need {
		s.buf = make([]byte, need)
	}
	b := s.buf[:need]
	for i, x := range samples {
		binary.LittleEndian.PutUint16(b[i*4:], uint16(toInt16(x[0])))
		binary.LittleEndian.PutUint16(b[i*4+2:], uint16(toInt16(x[1])))
	}
	if _, err := s.pw.Write(b); err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	if err := s.ctx.Err(); err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	return nil
}

// RealTime is true: the device paces Write.
func (s *Speaker) RealTime() bool { return true }

// Close lets what was written play out (at most 5 s), then stops.
func (s *Speaker) Close() error {
	if s.pw == nil {
		return nil
	}
	s.pw.Close()
	deadline := time.Now().Add(5 * time.Second)
	for s.player.IsPlaying() && time.Now().Before(deadline) && s.ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	err := s.player.Close()
	s.pw = nil
	if err != nil {
		return fmt.Errorf("speaker: %w", err)
	}
	return s.ctx.Err()
}
