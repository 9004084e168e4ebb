package audio

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
)

// partialReader is a file of which only the first avail bytes have
// arrived: a read past them fails (a torrent reader would block).
type partialReader struct {
	data  []byte
	avail int64
	off   int64
	max   int64 // furthest byte read
}

func (r *partialReader) Read(p []byte) (int, error) {
	if r.off >= int64(len(r.data)) {
		return 0, io.EOF
	}
	if r.off >= r.avail {
		return 0, fmt.Errorf("byte %d has not arrived", r.off)
	}
	n := copy(p, r.data[r.off:r.avail])
	r.off += int64(n)
	r.max = max(r.max, r.off)
	return n, nil
}

func (r *partialReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.off
	case io.SeekEnd:
		off += int64(len(r.data))
	}
	r.off = off
	return off, nil
}

// Opening and starting to play needs only the first bytes: for mp3 the
// tag header, the Xing frame and a few frames (go-mp3 would read the
// whole file to measure it); for flac and wav the headers and the first
// frame. ogg is the exception: its reader measures the stream at the end.
func TestOpenReadsOnlyTheHead(t *testing.T) {
	for _, f := range fixtures {
		if f.codec == CodecOgg {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			data, err := os.ReadFile(fixturePath(t, f.name))
			if err != nil {
				t.Fatal(err)
			}
			r := &partialReader{data: data, avail: 24 << 10}
			tr, err := Open(context.Background(), r, Meta{Name: f.name, Size: int64(len(data))})
			if err != nil {
				t.Fatalf("open with only the first 24 KiB of %d: %v", len(data), err)
			}
			buf := make([][2]float64, 1024)
			if n, ok := tr.Stream(buf); n == 0 || !ok {
				t.Fatalf("no samples from the first 24 KiB: %v", tr.Err())
			}
			if tr.Duration() <= 0 {
				t.Errorf("no duration from the headers")
			}
			t.Logf("read %d of %d bytes to open and decode 1024 samples", r.max, len(data))
		})
	}
}
