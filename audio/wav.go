package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// wavDecoder streams PCM from a WAV file's data chunk. It replaces beep's
// wav decoder, which loses frame alignment when a Read returns a partial
// frame (as a network reader does) and never ends on a truncated file.
type wavDecoder struct {
	src *countingReader
	hdr wavHeader
	pos int64 // frames delivered
	buf []byte
	err error
}

func openWAV(src *countingReader) (*wavDecoder, error) {
	h, err := parseWAVHeader(src)
	if err != nil {
		return nil, err
	}
	switch {
	case h.format == 1 && (h.bits == 8 || h.bits == 16 || h.bits == 24 || h.bits == 32):
	case h.format == 3 && h.bits == 32:
	default:
		return nil, fmt.Errorf("wav: unsupported sample format %d with %d bits (want PCM 8/16/24/32 or float 32)", h.format, h.bits)
	}
	if h.blockAlign != h.channels*h.bits/8 {
		return nil, fmt.Errorf("wav: block size %d does not fit %d channels of %d bits", h.blockAlign, h.channels, h.bits)
	}
	return &wavDecoder{src: src, hdr: h}, nil
}

func (d *wavDecoder) frames() int64 { return d.hdr.dataSize / int64(d.hdr.blockAlign) }

func (d *wavDecoder) Len() int      { return int(d.frames()) }
func (d *wavDecoder) Position() int { return int(d.pos) }
func (d *wavDecoder) Err() error    { return d.err }

func (d *wavDecoder) Stream(samples [][2]float64) (int, bool) {
	if d.err != nil {
		return 0, false
	}
	n := int(min(int64(len(samples)), d.frames()-d.pos))
	if n <= 0 {
		return 0, false
	}
	ba := d.hdr.blockAlign
	if cap(d.buf) < n*ba {
		d.buf = make([]byte, n*ba)
	}
	b := d.buf[:n*ba]
	got, err := io.ReadFull(d.src, b)
	n = got / ba
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("truncated: the data chunk ends at byte %d, %d frames short", d.src.off, d.frames()-d.pos-int64(n))
		}
		d.err = fmt.Errorf("wav: reading near byte %d: %w", d.src.off, err)
		if n == 0 {
			return 0, false
		}
	}
	bps := d.hdr.bits / 8
	right := 0
	if d.hdr.channels > 1 {
		right = bps
	}
	for i := 0; i < n; i++ {
		f := b[i*ba:]
		samples[i][0] = d.sample(f)
		samples[i][1] = d.sample(f[right:])
	}
	d.pos += int64(n)
	return n, true
}

func (d *wavDecoder) sample(b []byte) float64 {
	switch {
	case d.hdr.format == 3:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
	case d.hdr.bits == 8:
		return (float64(b[0]) - 128) / 128
	case d.hdr.bits == 16:
		return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15)
	case d.hdr.bits == 24:
		return float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8) / (1 << 23)
	}
	return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
}

func (d *wavDecoder) Seek(p int) error {
	if p < 0 || int64(p) > d.frames() {
		return fmt.Errorf("wav: seek to frame %d outside 0-%d", p, d.frames())
	}
	off := d.hdr.dataOffset + int64(p)*int64(d.hdr.blockAlign)
	if _, err := d.src.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("wav: seek to byte %d: %w", off, err)
	}
	d.pos, d.err = int64(p), nil
	return nil
}
