package audio

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// A truncated file fails with an error that names the format and the
// byte where decoding stopped; a corrupted one never panics, and where the
// format can tell (flac's CRCs) it fails the same way.
func TestTruncatedAndCorruptFiles(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(fixturePath(t, f.name))
			if err != nil {
				t.Fatal(err)
			}
			info, err := Probe(fixturePath(t, f.name))
			if err != nil {
				t.Fatal(err)
			}
			cut := data[:len(data)*6/10]
			// The catalog knows the duration; the file does not say it is
			// short (an ogg's last page is simply an earlier one).
			err = decodeErr(t, cut, Meta{Name: f.name, Duration: info.Duration})
			if err == nil {
				t.Errorf("truncated to %d of %d bytes: no error", len(cut), len(data))
			} else {
				checkErrNames(t, err, f.codec)
			}

			bad := append([]byte(nil), data...)
			for i := len(bad) / 2; i < len(bad)/2+2000 && i < len(bad); i++ {
				bad[i] ^= byte(i*131 + 7)
			}
			err = decodeErr(t, bad, Meta{Name: f.name})
			switch {
			case err != nil:
				checkErrNames(t, err, f.codec)
				// Regression: a flac error said the sample was the
				// last, as beep's decoder does once it has failed.
				var sample int
				if i := strings.Index(err.Error(), "(sample "); i >= 0 {
					fmt.Sscanf(err.Error()[i:], "(sample %d)", &sample)
					if total := int(info.Duration.Seconds() * float64(info.SampleRate)); sample < total/4 || sample > total*3/4 {
						t.Errorf("corrupt in the middle, the error says sample %d of %d", sample, total)
					}
				}
			case f.codec == CodecFLAC:
				t.Errorf("corrupt flac decoded without error")
			}
			t.Logf("truncated/corrupt: %v", err)
		})
	}
}

func decodeErr(t *testing.T, data []byte, meta Meta) error {
	t.Helper()
	tr, err := OpenBytes(context.Background(), data, meta)
	if err != nil {
		return err
	}
	defer tr.Close()
	buf := make([][2]float64, 4096)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, ok := tr.Stream(buf); !ok {
			return tr.Err()
		}
	}
	t.Fatal("decoding did not end within 10 s")
	return nil
}

func checkErrNames(t *testing.T, err error, codec string) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, codec) && !(codec == CodecOgg && strings.Contains(msg, "vorbis")) {
		t.Errorf("error %q does not name the format %s", msg, codec)
	}
	if !strings.Contains(msg, "byte") {
		t.Errorf("error %q does not name the byte offset", msg)
	}
}

func TestUnsupportedInput(t *testing.T) {
	cases := map[string][]byte{
		"text":        []byte("hello, this is not audio"),
		"empty":       {},
		"opus in ogg": append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13OpusHead"), make([]byte, 20)...),
	}
	for name, data := range cases {
		_, err := OpenBytes(context.Background(), data, Meta{Name: name})
		if err == nil {
			t.Errorf("%s: opened", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := OpenBytes(context.Background(), []byte("fLaC"), Meta{Name: "x", Codec: CodecMP3}); err == nil || !strings.Contains(err.Error(), "flac") {
		t.Errorf("codec mismatch: %v", err)
	}
}
