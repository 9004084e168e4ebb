package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	gomp3 "github.com/hajimehoshi/go-mp3"
)

// mp3Decoder streams an mp3 through go-mp3 without letting it seek (so
// opening reads only the headers), trims the encoder's priming and padding
// named by the LAME tag (gapless), and seeks by the Xing/VBRI table of
// contents or a constant-bitrate estimate, landing on a frame boundary.
type mp3Decoder struct {
	src   *noSeekReader
	size  int64
	hdr   mp3Header
	total int64 // samples after trimming; -1 when only estimated
	est   int64 // estimated length when total is -1
	dec   *gomp3.Decoder
	raw   []byte // go-mp3 output: 16-bit little-endian stereo
	skip  int64  // samples of decoder output still to drop
	pos   int64  // samples delivered, in track time
	err   error
}

// mp3SeekWarmup is how many frames before the target a seek starts
// decoding: the first frame after a jump lacks its bit reservoir and the
// filterbank's overlap, so its output is dropped.
const mp3SeekWarmup = 8

func openMP3(src *noSeekReader, size int64, fallback int64) (*mp3Decoder, error) {
	hdr, err := parseMP3Header(src.src, size)
	if err != nil {
		return nil, err
	}
	d := &mp3Decoder{src: src, size: size, hdr: hdr, total: hdr.totalSamples()}
	if d.total == 0 {
		d.total = -1
		d.est = fallback
		if d.est <= 0 {
			d.est = hdr.estimatedSamples(size)
		}
	}
	if err := d.restart(hdr.first, hdr.skipSamples()); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *mp3Decoder) rate() int     { return d.hdr.frame.sampleRate() }
func (d *mp3Decoder) channels() int { return d.hdr.frame.channels() }

// restart starts a new go-mp3 decoder at byte offset off, dropping the
// first skip samples of its output.
func (d *mp3Decoder) restart(off int64, skip int64) error {
	if err := d.src.seek(off); err != nil {
		return fmt.Errorf("mp3: seek to byte %d: %w", off, err)
	}
	dec, err := gomp3.NewDecoder(d.src)
	if err != nil {
		return fmt.Errorf("mp3: no decodable frame at byte %d: %w", off, mp3Err(err))
	}
	d.dec, d.raw, d.skip = dec, d.raw[:0], skip
	return nil
}

func mp3Err(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (d *mp3Decoder) Len() int {
	if d.total >= 0 {
		return int(d.total)
	}
	return int(d.est)
}

func (d *mp3Decoder) Position() int { return int(d.pos) }
func (d *mp3Decoder) Err() error    { return d.err }

func (d *mp3Decoder) Stream(samples [][2]float64) (n int, ok bool) {
	if d.err != nil {
		return 0, false
	}
	for n < len(samples) {
		if d.total >= 0 && d.pos >= d.total {
			break // the encoder's padding follows
		}
		if len(d.raw) < 4 {
			if err := d.fill(); err != nil {
				if err != io.EOF {
					d.err = err
					return 0, false
				}
				if d.total >= 0 && d.pos < d.total-int64(d.hdr.frame.samples()) {
					d.err = fmt.Errorf("mp3: the stream ends at byte %d after %d of %d samples (truncated or corrupt)",
						d.src.offset(), d.pos, d.total)
					return 0, false
				}
				break
			}
			continue
		}
		m := len(d.raw) / 4
		if d.skip > 0 {
			drop := int(min(int64(m), d.skip))
			d.raw = d.raw[drop*4:]
			d.skip -= int64(drop)
			continue
		}
		m = min(m, len(samples)-n)
		if d.total >= 0 {
			m = int(min(int64(m), d.total-d.pos))
		}
		for i := 0; i < m; i++ {
			b := d.raw[i*4:]
			samples[n+i][0] = float64(int16(binary.LittleEndian.Uint16(b))) / 32768
			samples[n+i][1] = float64(int16(binary.LittleEndian.Uint16(b[2:]))) / 32768
		}
		d.raw = d.raw[m*4:]
		n += m
		d.pos += int64(m)
	}
	return n, n > 0
}

// fill reads about one frame of go-mp3 output into raw.
func (d *mp3Decoder) fill() error {
	if cap(d.raw) < 4608 {
		d.raw = make([]byte, 0, 4608*2)
	}
	buf := d.raw[len(d.raw):cap(d.raw)]
	k, err := d.dec.Read(buf)
	d.raw = d.raw[:len(d.raw)+k]
	if err != nil && k == 0 {
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("mp3: decoding failed near byte %d (frame %d): %w",
			d.src.offset(), (d.pos+d.hdr.skipSamples())/int64(d.hdr.frame.samples()), err)
	}
	return nil
}

// Seek moves to sample p (in trimmed track time).
func (d *mp3Decoder) Seek(p int) error {
	if p < 0 || (d.Len() > 0 && p > d.Len()) {
		return fmt.Errorf("mp3: seek to sample %d outside 0-%d", p, d.Len())
	}
	spf := int64(d.hdr.frame.samples())
	info := int64(0)
	if d.hdr.infoFrame {
		info = 1
	}
	out := int64(p) + d.hdr.skipSamples() // in go-mp3's output from the first frame
	k := out/spf - info - mp3SeekWarmup   // audio frame to start decoding at
	if k <= 0 {
		if err := d.restart(d.hdr.first, out); err != nil {
			return err
		}
		d.pos = int64(p)
		return nil
	}
	frames := d.hdr.frames
	if frames == 0 {
		frames = max(1, (int64(d.Len())+d.hdr.skipSamples())/spf)
	}
	off := d.hdr.seekOffset(float64(k)/float64(frames), d.size)
	off, err := d.resync(off)
	if err != nil {
		return err
	}
	// Which frame did we land on? Invert the estimate that gave off.
	landed := d.frameAt(off, frames)
	skip := out - (landed+info)*spf
	if skip < 0 { // landed past the target: start from an earlier estimate
		return d.restart(d.hdr.first, out)
	}
	if err := d.restart(off, skip); err != nil {
		return err
	}
	d.pos = int64(p)
	return nil
}

// frameAt estimates the index of the audio frame that starts at byte off.
func (d *mp3Decoder) frameAt(off int64, frames int64) int64 {
	rel := float64(off-d.hdr.audio) / float64(d.hdr.audioBytes(d.size))
	var frac float64
	switch {
	case d.hdr.cbr:
		frac = rel
	case len(d.hdr.toc) == 100:
		// Find the percent whose TOC entry brackets rel.
		x := rel * 256
		frac = 1
		for i := 0; i < 100; i++ {
			a := float64(d.hdr.toc[i])
			b := 256.0
			if i < 99 {
				b = float64(d.hdr.toc[i+1])
			}
			if x < b || i == 99 {
				t := 0.0
				if b > a {
					t = (x - a) / (b - a)
				}
				frac = (float64(i) + min(max(t, 0), 1)) / 100
				break
			}
		}
	case len(d.hdr.vbriTOC) > 1:
		x := float64(off - d.hdr.audio)
		n := len(d.hdr.vbriTOC) - 1
		frac = 1
		for i := 0; i < n; i++ {
			a, b := float64(d.hdr.vbriTOC[i]), float64(d.hdr.vbriTOC[i+1])
			if x < b || i == n-1 {
				t := 0.0
				if b > a {
					t = (x - a) / (b - a)
				}
				frac = (float64(i) + min(max(t, 0), 1)) / float64(n)
				break
			}
		}
	default:
		frac = rel
	}
	return int64(frac*float64(frames) + 0.5)
}

// resync finds the first frame header at or after off that is followed
// by another frame header of the same stream.
func (d *mp3Decoder) resync(off int64) (int64, error) {
	buf := make([]byte, 8<<10)
	if _, err := d.src.src.Seek(off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("mp3: seek to byte %d: %w", off, err)
	}
	n, err := io.ReadFull(d.src.src, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("mp3: reading at byte %d: %w", off, err)
	}
	buf = buf[:n]
	want := d.hdr.frame
	for i := 0; i+4 <= len(buf); i++ {
		h := mp3FrameHeader(binary.BigEndian.Uint32(buf[i:]))
		if !h.valid() || h.sampleRate() != want.sampleRate() || h.version() != want.version() {
			continue
		}
		j := i + h.size()
		if j+4 <= len(buf) {
			h2 := mp3FrameHeader(binary.BigEndian.Uint32(buf[j:]))
			if !h2.valid() || h2.sampleRate() != want.sampleRate() {
				continue
			}
		} else if off+int64(j) < d.size {
			continue
		}
		return off + int64(i), nil
	}
	return 0, fmt.Errorf("mp3: no frame header in bytes %d-%d", off, off+int64(n))
}
