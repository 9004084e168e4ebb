package audio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopxl/beep/v2"
	"github.com/gopxl/beep/v2/flac"
	"github.com/gopxl/beep/v2/vorbis"
)

// Meta is what the caller (the catalog, or the file system) knows about a
// track before it is opened.
type Meta struct {
	Name     string        // for messages: a file name or a title
	Codec    string        // mp3, flac, ogg or wav; "" to detect it from the content
	Size     int64         // bytes; 0 to ask the reader (Seek to the end)
	Duration time.Duration // used when the headers do not say (mp3 without a Xing header)
}

// Track is an opened, decoding track: a beep.StreamSeekCloser of samples
// at the file's own rate (mono is duplicated to both channels). Stream,
// Seek and Close are for one goroutine at a time; the Player calls them
// from its decoding goroutine.
type Track struct {
	meta   Meta
	info   Info
	format beep.Format
	src    *countingReader
	dec    beep.StreamSeeker
	ctx    context.Context
	stop   func() bool // stops the context watcher
	err    error
}

// Open starts decoding r. It reads only the headers it needs: for mp3 the
// ID3v2 header (not the tag), the first frames and the Xing/VBRI header;
// for flac and wav the header blocks; for ogg the first pages and the last
// one (the Vorbis reader measures the stream). r must stay open while the
// Track is used. When ctx ends, Stream fails with ctx's error, and a reader
// that is an io.Closer is closed so that a Read blocked on missing bytes
// returns.
func Open(ctx context.Context, r io.ReadSeeker, meta Meta) (t *Track, err error) {
	name := meta.Name
	if name == "" {
		name = "track"
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	src := &countingReader{r: r}
	defer func() {
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("open %s: %s: decoder panic near byte %d: %v", name, meta.Codec, src.off, p)
		}
	}()
	if meta.Size <= 0 {
		end, err := r.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, fmt.Errorf("open %s: size unknown and the reader cannot seek to its end: %w", name, err)
		}
		meta.Size = end
	}
	head := make([]byte, 12)
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("open %s: seek: %w", name, err)
	}
	n, err := io.ReadFull(src, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("open %s: reading the header: %w", name, err)
	}
	detected := DetectCodec(head[:n])
	switch {
	case meta.Codec == "" && detected == "":
		return nil, fmt.Errorf("open %s: unsupported format (not mp3, flac, ogg/vorbis or wav): starts with %q", name, head[:n])
	case meta.Codec == "":
		meta.Codec = detected
	case detected != "" && detected != meta.Codec:
		return nil, fmt.Errorf("open %s: said to be %s, but the content is %s", name, meta.Codec, detected)
	}
	t = &Track{meta: meta, src: src, ctx: ctx}
	if err := t.open(); err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	t.stop = context.AfterFunc(ctx, t.interrupt)
	return t, nil
}

func (t *Track) open() error {
	if _, err := t.src.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("%s: seek: %w", t.meta.Codec, err)
	}
	switch t.meta.Codec {
	case CodecMP3:
		fallback := int64(0)
		if t.meta.Duration > 0 {
			// Used only when the file has no Xing/VBRI header.
			fallback = -1
		}
		d, err := openMP3(newNoSeekReader(t.src), t.meta.Size, fallback)
		if err != nil {
			return err
		}
		if fallback == -1 {
			d.est = int64(t.meta.Duration.Seconds() * float64(d.rate()))
		}
		t.dec = d
		t.format = beep.Format{SampleRate: beep.SampleRate(d.rate()), NumChannels: d.channels(), Precision: 2}
		t.info = d.hdr.info(t.meta.Size)
		if d.total < 0 {
			t.info.Duration = samplesDuration(d.est, d.rate())
		}
	case CodecFLAC:
		if err := checkFLACMetadata(t.src, t.meta.Size); err != nil {
			return err
		}
		if _, err := t.src.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("flac: seek: %w", err)
		}
		s, f, err := flac.Decode(t.src)
		if err != nil {
			return fmt.Errorf("%w (near byte %d)", err, t.src.off)
		}
		t.dec, t.format = s, f
	case CodecOgg:
		s, f, err := vorbis.Decode(nopCloser{t.src})
		if err != nil {
			return fmt.Errorf("%w (near byte %d)", err, t.src.off)
		}
		t.dec, t.format = s, f
	case CodecWAV:
		d, err := openWAV(t.src)
		if err != nil {
			return err
		}
		t.dec = d
		t.format = beep.Format{SampleRate: beep.SampleRate(d.hdr.rate), NumChannels: d.hdr.channels, Precision: d.hdr.bits / 8}
	default:
		return fmt.Errorf("unsupported codec %q (want mp3, flac, ogg or wav)", t.meta.Codec)
	}
	if t.info.Codec == "" {
		t.info = Info{
			Codec: t.meta.Codec, SampleRate: int(t.format.SampleRate), Channels: t.format.NumChannels,
			Duration: samplesDuration(int64(t.dec.Len()), int(t.format.SampleRate)),
		}
	}
	if t.info.Duration > 0 && t.info.Bitrate == 0 {
		t.info.Bitrate = int64(float64(t.meta.Size*8) / t.info.Duration.Seconds())
	}
	if t.format.SampleRate <= 0 || t.format.NumChannels <= 0 {
		return fmt.Errorf("%s: bad format: %d Hz, %d channels", t.meta.Codec, t.format.SampleRate, t.format.NumChannels)
	}
	return nil
}

// Format is the decoded format: the file's rate and channel count.
func (t *Track) Format() beep.Format { return t.format }

// Info is what the headers say: codec, duration, rate, channels, bitrate.
func (t *Track) Info() Info { return t.info }

// Name is the name given in Meta.
func (t *Track) Name() string { return t.meta.Name }

// Stream decodes the next samples (beep.Streamer).
func (t *Track) Stream(samples [][2]float64) (n int, ok bool) {
	if t.err != nil {
		return 0, false
	}
	if err := t.ctx.Err(); err != nil {
		t.err = fmt.Errorf("%s: %w", t.meta.Name, err)
		return 0, false
	}
	defer func() {
		if p := recover(); p != nil {
			t.err = fmt.Errorf("%s: %s: decoding failed near byte %d: decoder panic: %v", t.meta.Name, t.meta.Codec, t.src.off, p)
			n, ok = 0, false
		}
	}()
	// A decoder that fails may lose its place (beep's flac then says it is
	// at the end): the error names the sample it had reached.
	at := t.dec.Position()
	n, ok = t.dec.Stream(samples)
	if !ok {
		if err := t.dec.Err(); err != nil {
			t.err = t.describe(err, at)
			return 0, false
		}
		if err := t.ctx.Err(); err != nil {
			// A closed reader looks like the end of the file.
			t.err = fmt.Errorf("%s: %w", t.meta.Name, err)
			return 0, false
		}
		if err := t.checkComplete(); err != nil {
			t.err = err
			return 0, false
		}
	}
	return n, ok
}

// describe names the format, byte offset and sample (at) in a decoder's
// error.
func (t *Track) describe(err error, at int) error {
	if t.meta.Codec == CodecMP3 || t.meta.Codec == CodecWAV {
		return fmt.Errorf("%s: %w", t.meta.Name, err) // they name the byte themselves
	}
	return fmt.Errorf("%s: %s: decoding failed near byte %d (sample %d): %w",
		t.meta.Name, t.meta.Codec, t.src.off, at, err)
}

// checkComplete turns an early end of the stream into an error: the
// decoders of flac, ogg and wav stop quietly at a truncated file.
func (t *Track) checkComplete() error {
	want := int64(t.dec.Len())
	got := int64(t.dec.Position())
	if t.meta.Duration > 0 {
		// What the catalog says counts too: a truncated ogg file's last
		// page makes it look complete to its own headers.
		want = max(want, int64(t.meta.Duration.Seconds()*float64(t.format.SampleRate)))
	}
	if (t.meta.Codec == CodecMP3 && t.meta.Duration == 0) || want <= 0 {
		return nil // go-mp3 reports its own truncation (mp3.go)
	}
	slack := int64(t.format.SampleRate) / 4 // a last partial frame; rounding in the catalog
	if got < want-slack {
		return fmt.Errorf("%s: %s: truncated: the stream ends near byte %d after %d of %d samples",
			t.meta.Name, t.meta.Codec, t.src.off, got, want)
	}
	return nil
}

// Err is the error that ended the stream, if any.
func (t *Track) Err() error { return t.err }

// Len is the length in samples (estimated for an mp3 without a Xing header).
func (t *Track) Len() int { return t.dec.Len() }

// Position is the position in samples.
func (t *Track) Position() int { return t.dec.Position() }

// Duration is the length of the track.
func (t *Track) Duration() time.Duration { return t.info.Duration }

// Seek moves to sample p. An error leaves the position where it was.
func (t *Track) Seek(p int) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %s decoder panic while seeking near byte %d: %v", t.meta.Name, t.meta.Codec, t.src.off, r)
		}
	}()
	if p < 0 {
		p = 0
	}
	if l := t.dec.Len(); l > 0 && p >= l {
		p = l - 1
	}
	if err := t.dec.Seek(p); err != nil {
		return fmt.Errorf("%s: seek to sample %d: %w", t.meta.Name, p, err)
	}
	t.err = nil
	return nil
}

// SeekTime moves to the time d from the start.
func (t *Track) SeekTime(d time.Duration) error {
	return t.Seek(t.format.SampleRate.N(d))
}

// PositionTime is the position as a time from the start.
func (t *Track) PositionTime() time.Duration {
	return t.format.SampleRate.D(t.dec.Position())
}

// interrupt closes the reader given to Open if it is an io.Closer, so that
// a Read blocked on bytes that have not arrived returns.
func (t *Track) interrupt() {
	if c, ok := t.src.r.(io.Closer); ok {
		c.Close()
	}
}

// Close releases the decoder and stops watching the context. It does not
// close the reader given to Open.
func (t *Track) Close() error {
	if t.stop != nil {
		t.stop()
	}
	if c, ok := t.dec.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// OpenBytes opens a track held in memory (tests, fuzzing, small files).
func OpenBytes(ctx context.Context, data []byte, meta Meta) (*Track, error) {
	meta.Size = int64(len(data))
	return Open(ctx, bytes.NewReader(data), meta)
}
