package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Codec names, as the catalog API spells them.
const (
	CodecMP3  = "mp3"
	CodecFLAC = "flac"
	CodecOgg  = "ogg"
	CodecWAV  = "wav"
)

// Info is what a file's headers say about its audio.
type Info struct {
	Codec      string        // mp3, flac, ogg or wav
	Duration   time.Duration // playable audio, without encoder priming or padding
	SampleRate int           // samples per second per channel
	Channels   int
	Bitrate    int64 // bits per second; for VBR the average, size*8/duration
}

// Probe reads the headers of the audio file at path (and, for ogg, its last
// page) and returns its codec, duration, format and bitrate. The codec is
// taken from the content, not the file name.
func Probe(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("probe: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", path, err)
	}
	info, err := ProbeReader(f, st.Size(), "")
	if err != nil {
		return Info{}, fmt.Errorf("probe %s: %w", filepath.Base(path), err)
	}
	return info, nil
}

// ProbeReader is Probe for a reader of size bytes. codec may be empty
// (detected from the content) or one of the Codec constants (checked).
func ProbeReader(r io.ReadSeeker, size int64, codec string) (Info, error) {
	head := make([]byte, 12)
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("seek: %w", err)
	}
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Info{}, fmt.Errorf("reading the header: %w", err)
	}
	detected := DetectCodec(head[:n])
	if codec == "" {
		codec = detected
	}
	if codec == "" {
		return Info{}, fmt.Errorf("unsupported format (not mp3, flac, ogg/vorbis or wav): starts with %q", head[:n])
	}
	if detected != "" && detected != codec {
		return Info{}, fmt.Errorf("%s: the content is %s", codec, detected)
	}
	var info Info
	switch codec {
	case CodecMP3:
		var h mp3Header
		h, err = parseMP3Header(r, size)
		if err == nil && h.frames == 0 {
			// No Xing/VBRI header: count the frames.
			h.frames, err = scanMP3Frames(r, &h, size)
		}
		if err == nil {
			info = h.info(size)
		}
	case CodecFLAC:
		info, err = probeFLAC(r)
	case CodecOgg:
		info, err = probeOgg(r, size)
	case CodecWAV:
		var h wavHeader
		h, err = parseWAVHeader(r)
		if err == nil {
			info = h.info()
		}
	default:
		return Info{}, fmt.Errorf("unsupported codec %q (want mp3, flac, ogg or wav)", codec)
	}
	if err != nil {
		return Info{}, err
	}
	if info.Bitrate == 0 && info.Duration > 0 {
		info.Bitrate = int64(float64(size*8) / info.Duration.Seconds())
	}
	return info, nil
}

// DetectCodec names the codec of a file from its first bytes (12 are
// enough), or returns "" when it is none of the four.
func DetectCodec(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("fLaC")):
		return CodecFLAC
	case bytes.HasPrefix(head, []byte("OggS")):
		return CodecOgg
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WAVE":
		return CodecWAV
	case bytes.HasPrefix(head, []byte("ID3")):
		return CodecMP3
	case len(head) >= 4 && mp3FrameHeader(binary.BigEndian.Uint32(head)).valid():
		return CodecMP3
	}
	return ""
}

// CodecFromName guesses a codec from a file name's extension ("" if none).
func CodecFromName(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".mp3":
		return CodecMP3
	case ".flac":
		return CodecFLAC
	case ".ogg", ".oga":
		return CodecOgg
	case ".wav", ".wave":
		return CodecWAV
	}
	return ""
}

func samplesDuration(samples int64, rate int) time.Duration {
	if rate <= 0 || samples <= 0 {
		return 0
	}
	return time.Duration(float64(samples) / float64(rate) * float64(time.Second))
}

// FLAC: the STREAMINFO block, the first metadata block (34 bytes).
func probeFLAC(r io.ReadSeeker) (Info, error) {
	if _, err := r.Seek(4, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("flac: seek: %w", err)
	}
	var b [38]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Info{}, fmt.Errorf("flac: reading STREAMINFO at byte 4: %w", err)
	}
	if b[0]&0x7f != 0 || int(b[1])<<16|int(b[2])<<8|int(b[3]) < 34 {
		return Info{}, fmt.Errorf("flac: the first metadata block at byte 4 is not STREAMINFO")
	}
	si := b[4:]
	rate := int(si[10])<<12 | int(si[11])<<4 | int(si[12])>>4
	channels := int(si[12]>>1&7) + 1
	total := int64(si[13]&0x0f)<<32 | int64(binary.BigEndian.Uint32(si[14:18]))
	if rate == 0 {
		return Info{}, fmt.Errorf("flac: STREAMINFO at byte 8 gives sample rate 0")
	}
	return Info{Codec: CodecFLAC, SampleRate: rate, Channels: channels, Duration: samplesDuration(total, rate)}, nil
}

// Ogg/Vorbis: the identification header in the first page, and the granule
// position (samples) of the last page. Vorbis has no pre-skip; the first
// audio granule is 0 for a stream that starts at the beginning.
func probeOgg(r io.ReadSeeker, size int64) (Info, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Info{}, fmt.Errorf("ogg: seek: %w", err)
	}
	first := make([]byte, 27+255+64)
	n, err := io.ReadFull(r, first)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Info{}, fmt.Errorf("ogg: reading the first page: %w", err)
	}
	first = first[:n]
	if n < 27 || string(first[:4]) != "OggS" {
		return Info{}, fmt.Errorf("ogg: no page at byte 0")
	}
	serial := binary.LittleEndian.Uint32(first[14:18])
	segs := int(first[26])
	body := 27 + segs
	if len(first) < body+30 {
		return Info{}, fmt.Errorf("ogg: first page truncated at byte %d", n)
	}
	id := first[body:]
	if id[0] != 1 || string(id[1:7]) != "vorbis" {
		return Info{}, fmt.Errorf("ogg: the stream at byte %d is not Vorbis (only Vorbis is supported)", body)
	}
	channels := int(id[11])
	rate := int(binary.LittleEndian.Uint32(id[12:16]))
	nominal := int32(binary.LittleEndian.Uint32(id[20:24]))
	if rate == 0 || channels == 0 {
		return Info{}, fmt.Errorf("ogg: Vorbis header at byte %d gives rate %d, %d channels", body, rate, channels)
	}
	granule, err := lastOggGranule(r, size, serial)
	if err != nil {
		return Info{}, err
	}
	info := Info{Codec: CodecOgg, SampleRate: rate, Channels: channels, Duration: samplesDuration(granule, rate)}
	if info.Duration == 0 && nominal > 0 {
		info.Bitrate = int64(nominal)
	}
	return info, nil
}

// lastOggGranule finds the granule position of the last page of the
// stream with the given serial, reading backwards from the end.
func lastOggGranule(r io.ReadSeeker, size int64, serial uint32) (int64, error) {
	const window = 64 << 10
	for end := size; end > 0; {
		start := max(end-window, 0)
		buf := make([]byte, end-start)
		if _, err := r.Seek(start, io.SeekStart); err != nil {
			return 0, fmt.Errorf("ogg: seek to byte %d: %w", start, err)
		}
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, fmt.Errorf("ogg: reading bytes %d-%d: %w", start, end, err)
		}
		for i := bytes.LastIndex(buf, []byte("OggS")); i >= 0; i = bytes.LastIndex(buf[:i], []byte("OggS")) {
			if i+27 > len(buf) {
				continue
			}
			p := buf[i:]
			g := int64(binary.LittleEndian.Uint64(p[6:14]))
			if binary.LittleEndian.Uint32(p[14:18]) == serial && p[4] == 0 && g >= 0 {
				return g, nil
			}
		}
		if start == 0 {
			break
		}
		end = start + 27 // a page header may straddle the window edge
	}
	return 0, fmt.Errorf("ogg: no page with a granule position found")
}

// WAV: the RIFF chunks up to "data".
type wavHeader struct {
	format     uint16 // 1 PCM, 3 float, 0xfffe extensible
	channels   int
	rate       int
	bits       int
	dataOffset int64
	dataSize   int64
	blockAlign int
}

func parseWAVHeader(r io.ReadSeeker) (wavHeader, error) {
	var h wavHeader
	if _, err := r.Seek(12, io.SeekStart); err != nil {
		return h, fmt.Errorf("wav: seek: %w", err)
	}
	off := int64(12)
	haveFmt := false
	for range 64 {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return h, fmt.Errorf("wav: reading the chunk header at byte %d: %w", off, err)
		}
		size := int64(binary.LittleEndian.Uint32(ch[4:]))
		off += 8
		switch string(ch[:4]) {
		case "fmt ":
			if size < 16 || size > 1<<16 {
				return h, fmt.Errorf("wav: fmt chunk at byte %d has size %d", off-8, size)
			}
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return h, fmt.Errorf("wav: reading the fmt chunk at byte %d: %w", off, err)
			}
			h.format = binary.LittleEndian.Uint16(b[0:])
			h.channels = int(binary.LittleEndian.Uint16(b[2:]))
			h.rate = int(binary.LittleEndian.Uint32(b[4:]))
			h.blockAlign = int(binary.LittleEndian.Uint16(b[12:]))
			h.bits = int(binary.LittleEndian.Uint16(b[14:]))
			if h.format == 0xfffe && size >= 26 {
				h.format = binary.LittleEndian.Uint16(b[24:])
			}
			haveFmt = true
			off += size + size&1
			if size&1 == 1 {
				if _, err := r.Seek(1, io.SeekCurrent); err != nil {
					return h, fmt.Errorf("wav: seek: %w", err)
				}
			}
		case "data":
			if !haveFmt {
				return h, fmt.Errorf("wav: data chunk at byte %d before the fmt chunk", off-8)
			}
			h.dataOffset, h.dataSize = off, size
			if h.channels < 1 || h.rate < 1 || h.blockAlign < 1 {
				return h, fmt.Errorf("wav: fmt chunk gives %d channels at %d Hz, block %d", h.channels, h.rate, h.blockAlign)
			}
			return h, nil
		default:
			off += size + size&1
			if _, err := r.Seek(off, io.SeekStart); err != nil {
				return h, fmt.Errorf("wav: seek past chunk %q: %w", ch[:4], err)
			}
		}
	}
	return h, fmt.Errorf("wav: no data chunk in the first 64 chunks")
}

func (h wavHeader) info() Info {
	frames := h.dataSize / int64(h.blockAlign)
	return Info{
		Codec: CodecWAV, SampleRate: h.rate, Channels: h.channels,
		Duration: samplesDuration(frames, h.rate),
		Bitrate:  int64(h.rate) * int64(h.blockAlign) * 8,
	}
}

// checkFLACMetadata walks the metadata blocks and checks the counts inside
// the Vorbis comment and picture blocks against the block sizes: mewkiz/flac
// allocates what a corrupt count says (tens of GB) before reading it.
func checkFLACMetadata(r io.ReadSeeker, size int64) error {
	off := int64(4)
	for range 1024 {
		if _, err := r.Seek(off, io.SeekStart); err != nil {
			return fmt.Errorf("flac: seek to byte %d: %w", off, err)
		}
		var h [4]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return fmt.Errorf("flac: reading the metadata block header at byte %d: %w", off, err)
		}
		last, typ := h[0]&0x80 != 0, h[0]&0x7f
		length := int64(h[1])<<16 | int64(h[2])<<8 | int64(h[3])
		if size > 0 && off+4+length > size {
			return fmt.Errorf("flac: metadata block at byte %d (%d bytes) runs past the end of the file (%d bytes)", off, length, size)
		}
		if typ == 4 || typ == 6 {
			body := make([]byte, length)
			if _, err := io.ReadFull(r, body); err != nil {
				return fmt.Errorf("flac: reading the metadata block at byte %d: %w", off, err)
			}
			if err := checkFLACBlockCounts(typ, body); err != nil {
				return fmt.Errorf("flac: metadata block at byte %d: %w", off, err)
			}
		}
		off += 4 + length
		if last {
			return nil
		}
	}
	return fmt.Errorf("flac: more than 1024 metadata blocks")
}

func checkFLACBlockCounts(typ byte, b []byte) error {
	le := func(p int) (int64, bool) {
		if p+4 > len(b) {
			return 0, false
		}
		return int64(binary.LittleEndian.Uint32(b[p:])), true
	}
	be := func(p int) (int64, bool) {
		if p+4 > len(b) {
			return 0, false
		}
		return int64(binary.BigEndian.Uint32(b[p:])), true
	}
	switch typ {
	case 4: // Vorbis comment: vendor length, vendor, count, (length, comment)...
		n, ok := le(0)
		if !ok || 4+n+4 > int64(len(b)) {
			return fmt.Errorf("vorbis comment: vendor string of %d bytes in a block of %d", n, len(b))
		}
		p := 4 + n
		count, _ := le(int(p))
		if count*4 > int64(len(b))-p-4 {
			return fmt.Errorf("vorbis comment: %d comments cannot fit in %d bytes", count, len(b))
		}
		p += 4
		for range count {
			l, ok := le(int(p))
			if !ok || p+4+l > int64(len(b)) {
				return fmt.Errorf("vorbis comment: a comment of %d bytes runs past the block", l)
			}
			p += 4 + l
		}
	case 6: // picture: type, mime length, mime, desc length, desc, 4x4 numbers, data length, data
		p := int64(4)
		for range 2 {
			l, ok := be(int(p))
			if !ok || p+4+l > int64(len(b)) {
				return fmt.Errorf("picture: a string of %d bytes runs past the block", l)
			}
			p += 4 + l
		}
		p += 16
		l, ok := be(int(p))
		if !ok || p+4+l > int64(len(b)) {
			return fmt.Errorf("picture: %d bytes of data in a block of %d", l, len(b))
		}
	}
	return nil
}
