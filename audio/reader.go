package audio

import (
	"bufio"
	"io"
)

// countingReader tracks the byte offset of an io.ReadSeeker, so that a
// decoding error can say where in the file it happened.
type countingReader struct {
	r   io.ReadSeeker
	off int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.off += int64(n)
	return n, err
}

func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	n, err := c.r.Seek(offset, whence)
	if err == nil {
		c.off = n
	}
	return n, err
}

// noSeekReader hides the Seek of a buffered reader from a decoder, so that
// it cannot measure the file by reading it all (go-mp3 does when it can
// seek). The owner seeks the underlying reader itself and resets the buffer.
type noSeekReader struct {
	src *countingReader
	buf *bufio.Reader
}

func newNoSeekReader(src *countingReader) *noSeekReader {
	return &noSeekReader{src: src, buf: bufio.NewReaderSize(src, 16<<10)}
}

func (r *noSeekReader) Read(p []byte) (int, error) { return r.buf.Read(p) }

// offset is the byte offset of the next byte the decoder will read.
func (r *noSeekReader) offset() int64 { return r.src.off - int64(r.buf.Buffered()) }

// seek moves to an absolute byte offset and drops what was buffered.
func (r *noSeekReader) seek(off int64) error {
	if _, err := r.src.Seek(off, io.SeekStart); err != nil {
		return err
	}
	r.buf.Reset(r.src)
	return nil
}

// nopCloser gives the ogg decoder the io.ReadCloser it asks for; the
// Track, not the decoder, decides when the reader is closed.
type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
