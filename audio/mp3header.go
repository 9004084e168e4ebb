package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// mp3FrameHeader is the 32-bit header of an MPEG audio frame.
type mp3FrameHeader uint32

var mp3Bitrates = [2][16]int{ // kbit/s, layer III: [MPEG1, MPEG2/2.5][index]
	{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0},
	{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0},
}

var mp3Rates = [3]int{44100, 48000, 32000}

func (h mp3FrameHeader) version() int { return int(h>>19) & 3 } // 3 MPEG1, 2 MPEG2, 0 MPEG2.5
func (h mp3FrameHeader) mpeg1() bool  { return h.version() == 3 }

// valid reports whether h is a layer III header this package decodes
// (MPEG 1 or 2; go-mp3 does not do MPEG 2.5 or free format).
func (h mp3FrameHeader) valid() bool {
	return h>>21 == 0x7ff && (h.version() == 3 || h.version() == 2) &&
		(h>>17)&3 == 1 && // layer III
		(h>>12)&15 != 0 && (h>>12)&15 != 15 && // no free format, no bad index
		(h>>10)&3 != 3 && h&3 != 2 // sample rate, emphasis
}

func (h mp3FrameHeader) sampleRate() int {
	r := mp3Rates[(h>>10)&3]
	if !h.mpeg1() {
		r /= 2
	}
	return r
}

func (h mp3FrameHeader) bitrate() int {
	row := 0
	if !h.mpeg1() {
		row = 1
	}
	return mp3Bitrates[row][(h>>12)&15] * 1000
}

func (h mp3FrameHeader) channels() int {
	if (h>>6)&3 == 3 {
		return 1
	}
	return 2
}

// samples per frame per channel.
func (h mp3FrameHeader) samples() int {
	if h.mpeg1() {
		return 1152
	}
	return 576
}

// size of the frame in bytes, header included.
func (h mp3FrameHeader) size() int {
	pad := int(h>>9) & 1
	return h.samples()/8*h.bitrate()/h.sampleRate() + pad
}

// sideInfoSize is the size of the side information after the header.
func (h mp3FrameHeader) sideInfoSize() int {
	switch {
	case h.mpeg1() && h.channels() == 2:
		return 32
	case h.mpeg1():
		return 17
	case h.channels() == 2:
		return 17
	}
	return 9
}

// mp3DecoderDelay is the delay of an MP3 decoder's filterbank in samples,
// which gapless players add to the encoder's delay from the LAME tag.
const mp3DecoderDelay = 529

// mp3Header is what the start of an mp3 file tells: where the audio
// starts, its format, and (from a Xing/Info or VBRI frame) the length,
// the seek table and the gapless trimming.
type mp3Header struct {
	first      int64 // byte offset of the first frame (the Xing/VBRI frame if there is one)
	audio      int64 // byte offset of the first audio frame
	frame      mp3FrameHeader
	infoFrame  bool  // the first frame is a Xing/Info/VBRI frame (decoded as silence)
	frames     int64 // audio frames; 0 if unknown
	bytes      int64 // audio bytes from audio on; 0 if unknown
	toc        []int // Xing: 100 entries, byte position/256 at each percent
	vbriTOC    []int64
	vbriScale  int64 // VBRI: frames per TOC entry
	encDelay   int   // LAME tag: encoder delay (priming) in samples
	encPadding int   // LAME tag: padding at the end in samples
	lame       bool  // a LAME tag was found
	cbr        bool  // an "Info" tag, or every frame scanned has one bitrate
}

// parseMP3Header reads the ID3v2 header (skipping, not reading, the tag),
// the first frame header and the Xing/Info/VBRI frame if there is one.
func parseMP3Header(r io.ReadSeeker, size int64) (mp3Header, error) {
	var h mp3Header
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return h, fmt.Errorf("mp3: seek: %w", err)
	}
	var id3 [10]byte
	if _, err := io.ReadFull(r, id3[:]); err != nil {
		return h, fmt.Errorf("mp3: reading the first 10 bytes: %w", err)
	}
	off := int64(0)
	for string(id3[:3]) == "ID3" { // ID3v2 tags, possibly several
		tagSize := int64(id3[6]&0x7f)<<21 | int64(id3[7]&0x7f)<<14 | int64(id3[8]&0x7f)<<7 | int64(id3[9]&0x7f)
		off += 10 + tagSize
		if id3[5]&0x10 != 0 {
			off += 10 // footer
		}
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return h, fmt.Errorf("mp3: seek past the ID3v2 tag to byte %d: %w", off, err)
		}
		if _, err := io.ReadFull(r, id3[:]); err != nil {
			return h, fmt.Errorf("mp3: no audio after the ID3v2 tag (byte %d): %w", off, err)
		}
	}
	// Find the first frame: a valid header followed by another valid one
	// (or the end), within 64 KiB of junk. Read a little at a time: over a
	// torrent, bytes past the first frames may not have arrived yet.
	buf := append(make([]byte, 0, 64<<10), id3[:]...)
	start := -1
	eof := false
	for start < 0 && !eof && len(buf) < 64<<10 {
		more := min(4<<10, 64<<10-len(buf))
		n, err := io.ReadFull(r, buf[len(buf):len(buf)+more])
		buf = buf[:len(buf)+n]
		if err != nil {
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
				return h, fmt.Errorf("mp3: reading at byte %d: %w", off+int64(len(buf)), err)
			}
			eof = true
		}
		start = findMP3Frame(buf, off, size, eof)
	}
	if start < 0 {
		return h, fmt.Errorf("mp3: no MPEG-1/2 layer III frame in bytes %d-%d", off, off+int64(len(buf)))
	}
	// The Xing/VBRI header lies within the first frame.
	if need := start + mp3FrameHeader(binary.BigEndian.Uint32(buf[start:])).size(); need > len(buf) && !eof {
		n, err := io.ReadFull(r, buf[len(buf):min(need, cap(buf))])
		buf = buf[:len(buf)+n]
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return h, fmt.Errorf("mp3: reading at byte %d: %w", off+int64(len(buf)), err)
		}
	}
	h.first = off + int64(start)
	h.audio = h.first
	h.frame = mp3FrameHeader(binary.BigEndian.Uint32(buf[start:]))
	frame := buf[start:min(start+h.frame.size(), len(buf))]
	h.parseInfoFrame(frame)
	if h.infoFrame {
		h.audio = h.first + int64(h.frame.size())
	}
	return h, nil
}

// findMP3Frame returns the index in buf (which starts at byte off of a
// file of size bytes) of the first frame header that is followed by
// another one, or -1. A header whose successor lies past buf counts only
// at the end of the file.
func findMP3Frame(buf []byte, off, size int64, eof bool) int {
	for i := 0; i+4 <= len(buf); i++ {
		fh := mp3FrameHeader(binary.BigEndian.Uint32(buf[i:]))
		if !fh.valid() {
			continue
		}
		next := i + fh.size()
		if next+4 <= len(buf) {
			nh := mp3FrameHeader(binary.BigEndian.Uint32(buf[next:]))
			if !nh.valid() || nh.sampleRate() != fh.sampleRate() {
				continue
			}
			return i
		}
		if eof || off+int64(next) >= size {
			return i
		}
		return -1 // need more bytes to confirm
	}
	return -1
}

// parseInfoFrame reads a Xing/Info (with LAME tag) or VBRI header from the
// first frame, if it has one.
func (h *mp3Header) parseInfoFrame(f []byte) {
	x := 4 + h.frame.sideInfoSize()
	if protected := (h.frame>>16)&1 == 0; protected {
		x += 2
	}
	if x+8 <= len(f) && (string(f[x:x+4]) == "Xing" || string(f[x:x+4]) == "Info") {
		h.infoFrame = true
		h.cbr = string(f[x:x+4]) == "Info"
		flags := binary.BigEndian.Uint32(f[x+4:])
		p := x + 8
		if flags&1 != 0 && p+4 <= len(f) {
			h.frames = int64(binary.BigEndian.Uint32(f[p:]))
			p += 4
		}
		if flags&2 != 0 && p+4 <= len(f) {
			h.bytes = int64(binary.BigEndian.Uint32(f[p:]))
			p += 4
		}
		if flags&4 != 0 && p+100 <= len(f) {
			h.toc = make([]int, 100)
			for i := range h.toc {
				h.toc[i] = int(f[p+i])
			}
			p += 100
		}
		if flags&8 != 0 {
			p += 4
		}
		// LAME tag: "LAME" or "Lavf"/"Lavc" version string, then at +21 the
		// 12-bit encoder delay and padding.
		if p+24 <= len(f) && (string(f[p:p+4]) == "LAME" || string(f[p:p+4]) == "Lavf" || string(f[p:p+4]) == "Lavc" || string(f[p:p+4]) == "L3.9") {
			d := f[p+21:]
			h.encDelay = int(d[0])<<4 | int(d[1])>>4
			h.encPadding = int(d[1]&0x0f)<<8 | int(d[2])
			h.lame = true
		}
		if h.bytes > 0 {
			h.bytes -= int64(h.frame.size()) // the count includes this frame
		}
		return
	}
	v := 4 + 32
	if v+26 <= len(f) && string(f[v:v+4]) == "VBRI" {
		h.infoFrame = true
		h.encDelay = int(binary.BigEndian.Uint16(f[v+6:]))
		h.bytes = int64(binary.BigEndian.Uint32(f[v+10:]))
		h.frames = int64(binary.BigEndian.Uint32(f[v+14:]))
		entries := int(binary.BigEndian.Uint16(f[v+18:]))
		scale := int64(binary.BigEndian.Uint16(f[v+20:]))
		entrySize := int(binary.BigEndian.Uint16(f[v+22:]))
		h.vbriScale = int64(binary.BigEndian.Uint16(f[v+24:]))
		p := v + 26
		if entrySize >= 1 && entrySize <= 4 && p+entries*entrySize <= len(f) {
			pos := int64(0)
			h.vbriTOC = append(h.vbriTOC, 0)
			for i := 0; i < entries; i++ {
				e := int64(0)
				for j := 0; j < entrySize; j++ {
					e = e<<8 | int64(f[p+i*entrySize+j])
				}
				pos += e * scale
				h.vbriTOC = append(h.vbriTOC, pos)
			}
		}
	}
}

// totalSamples is the number of samples per channel after gapless
// trimming, or 0 if the header does not say.
func (h mp3Header) totalSamples() int64 {
	if h.frames == 0 {
		return 0
	}
	n := h.frames*int64(h.frame.samples()) - int64(h.encDelay) - int64(h.encPadding)
	return max(n, 0)
}

// skipSamples is how many samples go-mp3's output starts with that are not
// audio: the info frame (decoded as a frame of silence), the encoder delay
// and the decoder delay. Without a LAME tag nothing is trimmed.
func (h mp3Header) skipSamples() int64 {
	n := int64(0)
	if h.infoFrame {
		n += int64(h.frame.samples())
	}
	if h.lame {
		n += int64(h.encDelay) + mp3DecoderDelay
	}
	return n
}

// audioBytes is the size of the audio frames: from the Xing/VBRI header,
// else the file size past the first audio frame.
func (h mp3Header) audioBytes(size int64) int64 {
	if h.bytes > 0 && (size <= 0 || h.audio+h.bytes <= size) {
		return h.bytes
	}
	return max(size-h.audio, 0)
}

// estimatedSamples estimates the length from the size and the first
// frame's bitrate (constant bitrate), when the header does not say.
func (h mp3Header) estimatedSamples(size int64) int64 {
	b := h.audioBytes(size)
	return int64(float64(b) * 8 / float64(h.frame.bitrate()) * float64(h.frame.sampleRate()))
}

func (h mp3Header) info(size int64) Info {
	total := h.totalSamples()
	if total == 0 {
		total = h.estimatedSamples(size)
	}
	info := Info{
		Codec: CodecMP3, SampleRate: h.frame.sampleRate(), Channels: h.frame.channels(),
		Duration: samplesDuration(total, h.frame.sampleRate()),
	}
	if h.cbr {
		info.Bitrate = int64(h.frame.bitrate())
	}
	return info
}

// scanMP3Frames counts the frames from the first audio frame by reading
// only their headers: the exact length of a file without a Xing header.
func scanMP3Frames(r io.ReadSeeker, h *mp3Header, size int64) (frames int64, err error) {
	off := h.audio
	h.cbr = true
	var b [4]byte
	for off+4 <= size {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return 0, fmt.Errorf("mp3: seek to byte %d: %w", off, err)
		}
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("mp3: reading the frame header at byte %d: %w", off, err)
		}
		fh := mp3FrameHeader(binary.BigEndian.Uint32(b[:]))
		if !fh.valid() {
			break // an ID3v1/APE tag or junk at the end
		}
		frames++
		off += int64(fh.size())
		h.cbr = h.cbr && fh.bitrate() == h.frame.bitrate()
	}
	return frames, nil
}

// seekOffset estimates the byte offset of the frame that holds the sample
// at fraction frac (0..1) of the audio: by the Xing or VBRI table of
// contents, else by constant bitrate. The caller resynchronises on a frame
// header from there.
func (h mp3Header) seekOffset(frac float64, size int64) int64 {
	frac = min(max(frac, 0), 1)
	audioBytes := h.audioBytes(size)
	var rel float64
	switch {
	case h.cbr:
		rel = frac * float64(audioBytes) // exact for constant bitrate
	case len(h.toc) == 100:
		pct := frac * 100
		i := min(int(pct), 99)
		a := float64(h.toc[i])
		b := 256.0
		if i < 99 {
			b = float64(h.toc[i+1])
		}
		rel = (a + (b-a)*(pct-float64(i))) / 256 * float64(audioBytes)
	case len(h.vbriTOC) > 1 && h.frames > 0:
		pos := frac * float64(len(h.vbriTOC)-1)
		i := min(int(pos), len(h.vbriTOC)-2)
		a, b := float64(h.vbriTOC[i]), float64(h.vbriTOC[i+1])
		rel = a + (b-a)*(pos-float64(i))
	default:
		rel = frac * float64(audioBytes)
	}
	return h.audio + int64(rel)
}
