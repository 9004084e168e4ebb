package audio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// Format is a stream's sample rate and channel count.
type Format struct {
	SampleRate int
	Channels   int
}

// Output is where played samples go. The Player calls Open before each
// track, then Write with the track's samples (and silence), from one
// goroutine.
type Output interface {
	// Open prepares for a track in format f and returns the format the
	// output wants its samples in; the Player resamples to that rate.
	// The channel count of the result is what the output stores (samples
	// always arrive as stereo pairs; a mono output takes their mean).
	Open(f Format) (Format, error)
	// Write plays samples. An output that plays in real time (the
	// speaker) blocks until the device has room; the others return at
	// once and the Player paces them unless told to go fast.
	Write(samples [][2]float64) error
	// RealTime reports whether Write is paced by the device itself.
	RealTime() bool
	// Close flushes and releases the output; the speaker first lets
	// what was written play out.
	Close() error
}

// NewOutput makes an output from its command-line name: "speaker",
// "null" or "wav:FILE".
func NewOutput(spec string) (Output, error) {
	switch {
	case spec == "" || spec == "speaker":
		return NewSpeaker(), nil
	case spec == "null":
		return NewNullOutput(), nil
	case strings.HasPrefix(spec, "wav:") && len(spec) > 4:
		return NewWAVOutput(spec[4:])
	}
	return nil, fmt.Errorf("unknown output %q (want speaker, null or wav:FILE)", spec)
}

// NullOutput discards samples.
type NullOutput struct{ format Format }

// NewNullOutput returns an output that discards what it is given.
func NewNullOutput() *NullOutput { return &NullOutput{} }

// Open accepts any format: nothing is resampled.
func (o *NullOutput) Open(f Format) (Format, error) { o.format = f; return f, nil }

// Write discards samples.
func (o *NullOutput) Write([][2]float64) error { return nil }

// RealTime is false: the Player paces the null output.
func (o *NullOutput) RealTime() bool { return false }

// Close does nothing.
func (o *NullOutput) Close() error { return nil }

// WAVOutput writes 16-bit PCM WAV at the first track's rate and channel
// count; later tracks are appended (resampled to that rate if theirs
// differs).
type WAVOutput struct {
	f      *os.File
	w      *bufio.Writer
	format Format
	frames int64
	buf    []byte
	err    error
}

// NewWAVOutput creates (or truncates) the file at path.
func NewWAVOutput(path string) (*WAVOutput, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("wav output: %w", err)
	}
	return &WAVOutput{f: f, w: bufio.NewWriterSize(f, 64<<10)}, nil
}

// Open fixes the file's format at the first track's.
func (o *WAVOutput) Open(f Format) (Format, error) {
	if o.format.SampleRate == 0 {
		if f.Channels < 1 || f.Channels > 2 || f.SampleRate < 1 {
			return Format{}, fmt.Errorf("wav output: unsupported format %+v", f)
		}
		o.format = f
		if _, err := o.w.Write(wavHeaderBytes(f, 0)); err != nil {
			return Format{}, fmt.Errorf("wav output: %w", err)
		}
	}
	return o.format, nil
}

// Write appends samples as 16-bit PCM.
func (o *WAVOutput) Write(samples [][2]float64) error {
	if o.err != nil {
		return o.err
	}
	ch := o.format.Channels
	need := len(samples) * 2 * ch
	if cap(o.buf) < need {
		o.buf = make([]byte, need)
	}
	b := o.buf[:need]
	for i, s := range samples {
		if ch == 1 {
			binary.LittleEndian.PutUint16(b[i*2:], uint16(toInt16((s[0]+s[1])/2)))
		} else {
			binary.LittleEndian.PutUint16(b[i*4:], uint16(toInt16(s[0])))
			binary.LittleEndian.PutUint16(b[i*4+2:], uint16(toInt16(s[1])))
		}
	}
	if _, err := o.w.Write(b); err != nil {
		o.err = fmt.Errorf("wav output: %w", err)
		return o.err
	}
	o.frames += int64(len(samples))
	return nil
}

// RealTime is false: the Player paces the wav output unless fast.
func (o *WAVOutput) RealTime() bool { return false }

// Close writes the final sizes into the header and closes the file.
func (o *WAVOutput) Close() error {
	err := o.err
	if o.format.SampleRate == 0 { // nothing was played: an empty but valid file
		o.format = Format{SampleRate: 44100, Channels: 2}
		_, err = o.w.Write(wavHeaderBytes(o.format, 0))
	}
	err = errors.Join(err, o.w.Flush())
	if err == nil {
		if _, err = o.f.Seek(0, io.SeekStart); err == nil {
			_, err = o.f.Write(wavHeaderBytes(o.format, o.frames*int64(2*o.format.Channels)))
		}
	}
	err = errors.Join(err, o.f.Close())
	if err != nil {
		return fmt.Errorf("wav output %s: %w", o.f.Name(), err)
	}
	return nil
}

func wavHeaderBytes(f Format, dataSize int64) []byte {
	if dataSize > math.MaxUint32-36 {
		dataSize = math.MaxUint32 - 36
	}
	h := make([]byte, 44)
	copy(h, "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataSize))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], uint16(f.Channels))
	binary.LittleEndian.PutUint32(h[24:], uint32(f.SampleRate))
	binary.LittleEndian.PutUint32(h[28:], uint32(f.SampleRate*2*f.Channels))
	binary.LittleEndian.PutUint16(h[32:], uint16(2*f.Channels))
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataSize))
	return h
}

// toInt16 quantises a sample in [-1, 1) to 16 bits; decoded 16-bit input
// (x = n/32768) comes back exactly as n.
func toInt16(x float64) int16 {
	v := math.Round(x * 32768)
	return int16(min(max(v, -32768), 32767))
}
