package audio

import (
	"bytes"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

func TestProbeMatchesFFprobe(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			path := fixturePath(t, f.name)
			info, err := Probe(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Codec != f.codec || info.SampleRate != f.rate || info.Channels != f.chans {
				t.Errorf("Probe = %+v, want codec %s, %d Hz, %d channels", info, f.codec, f.rate, f.chans)
			}
			want := ffprobeDuration(t, path)
			if d := math.Abs(info.Duration.Seconds() - want); d > 0.1 {
				t.Errorf("duration %v, ffprobe says %.3fs", info.Duration, want)
			}
			st, _ := os.Stat(path)
			avg := float64(st.Size()*8) / info.Duration.Seconds()
			if info.Bitrate <= 0 || math.Abs(float64(info.Bitrate)-avg)/avg > 0.1 {
				t.Errorf("bitrate %d, size*8/duration is %.0f", info.Bitrate, avg)
			}
			if f.cbr && info.Bitrate%8000 != 0 {
				t.Errorf("CBR bitrate %d is not a frame bitrate", info.Bitrate)
			}
		})
	}
}

// The gapless length of a LAME file is exact: what was encoded.
func TestProbeMP3GaplessLength(t *testing.T) {
	info, err := Probe(fixturePath(t, "sweep-44k-stereo-vbr.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Duration != 4*time.Second {
		t.Errorf("duration %v, want 4s (the encoded length)", info.Duration)
	}
}

// An mp3 without a Xing header (stripped) is measured by scanning frames.
func TestProbeMP3WithoutXing(t *testing.T) {
	data, err := os.ReadFile(fixturePath(t, "speech-44k-mono-cbr128.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := parseMP3Header(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	stripped := append(append([]byte{}, data[:h.first]...), data[h.audio:]...)
	info, err := ProbeReader(bytes.NewReader(stripped), int64(len(stripped)), "")
	if err != nil {
		t.Fatal(err)
	}
	// No LAME tag: the length includes the priming and padding.
	want := float64(h.frames*1152) / 44100
	if d := math.Abs(info.Duration.Seconds() - want); d > 0.001 {
		t.Errorf("duration %v, want %.3fs", info.Duration, want)
	}
	if info.Bitrate != 128000 {
		t.Errorf("bitrate %d, want 128000", info.Bitrate)
	}
}

func TestProbeErrorsNameFileAndFormat(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"junk.mp3":      []byte("this is not audio at all, just text"),
		"short.flac":    []byte("fLaC\x00\x00"),
		"notvorbis.ogg": append([]byte("OggS\x00\x02"), make([]byte, 100)...),
		"nodata.wav":    []byte("RIFF\x04\x00\x00\x00WAVE"),
		"id3only.mp3":   []byte("ID3\x04\x00\x00\x00\x00\x00\x05abcde"),
	}
	for name, data := range cases {
		path := dir + "/" + name
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Probe(path)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %q does not name the file", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
