package seeder

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestWAVTagsArePublished: a WAV with RIFF INFO tags (ffmpeg's, committed
// as testdata/tagged.wav) is published with its title, artist and album,
// not its file name.
func TestWAVTagsArePublished(t *testing.T) {
	m, err := ReadMeta(filepath.Join("testdata", "tagged.wav"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Title != "Long Title" || m.Artist != "Some Artist" || m.Album != "Some Album" {
		t.Errorf("meta %+v, want the INFO list's title, artist and album", m)
	}
	f, err := os.Open(filepath.Join("testdata", "tagged.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := readRIFFInfo(f)
	if err != nil || info.Year != "1999" || info.Track != "7" {
		t.Errorf("info %+v, %v; want year 1999, track 7", info, err)
	}
}

// riff builds a RIFF WAVE file of the given chunks (id, body).
func riff(chunks ...[2]string) []byte {
	var b bytes.Buffer
	for _, c := range chunks {
		b.WriteString(c[0])
		binary.Write(&b, binary.LittleEndian, uint32(len(c[1])))
		b.WriteString(c[1])
		if len(c[1])%2 == 1 {
			b.WriteByte(0)
		}
	}
	body := b.Bytes()
	out := []byte("RIFF")
	out = binary.LittleEndian.AppendUint32(out, uint32(4+len(body)))
	return append(append(out, "WAVE"...), body...)
}

func sub(id, text string) string {
	var b bytes.Buffer
	b.WriteString(id)
	binary.Write(&b, binary.LittleEndian, uint32(len(text)))
	b.WriteString(text)
	if len(text)%2 == 1 {
		b.WriteByte(0)
	}
	return b.String()
}

func TestReadRIFFInfo(t *testing.T) {
	for _, c := range []struct {
		name string
		file []byte
		want riffInfo
		err  bool
	}{
		{"after the data, odd sizes padded", riff([2]string{"fmt ", "0123456789abcdef"}, [2]string{"data", "xyz"},
			[2]string{"LIST", "INFO" + sub("INAM", "Odd") + sub("IART", "Ab\x00junk") + sub("ITRK", "3")}),
			riffInfo{Title: "Odd", Artist: "Ab", Track: "3"}, false},
		{"Latin-1", riff([2]string{"LIST", "INFO" + sub("INAM", "Caf\xe9")}), riffInfo{Title: "Café"}, false},
		{"another LIST first", riff([2]string{"LIST", "adtlxxxx"}, [2]string{"LIST", "INFO" + sub("IPRD", "Album")}), riffInfo{Album: "Album"}, false},
		{"no INFO", riff([2]string{"fmt ", "0123456789abcdef"}, [2]string{"data", "abcd"}), riffInfo{}, false},
		{"a sub-chunk that claims too much", riff([2]string{"LIST", "INFO" + sub("INAM", "Ok") + "IART\xff\xff\x00\x00x"}), riffInfo{Title: "Ok"}, false},
		{"truncated", riff([2]string{"LIST", "INFO" + sub("INAM", "Cut")})[:20], riffInfo{}, false},
		{"not RIFF", []byte("ID3\x04\x00\x00\x00\x00\x00\x00"), riffInfo{}, true},
	} {
		got, err := readRIFFInfo(bytes.NewReader(c.file))
		if got != c.want || (err != nil) != c.err {
			t.Errorf("%s: %+v, %v; want %+v (error %v)", c.name, got, err, c.want, c.err)
		}
	}
}

// FuzzReadRIFFInfo: any file is read without a panic, what comes out is
// text of the file, and its date and track give numbers in range.
func FuzzReadRIFFInfo(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "tagged.wav")); err == nil {
		f.Add(b)
	}
	f.Add(riff([2]string{"LIST", "INFO" + sub("INAM", "Odd") + sub("IART", "A")}))
	f.Add(riff([2]string{"LIST", "INFO\x00\x00\x00\x00\xff\xff\xff\xff"}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Add(riff([2]string{"LIST", "INFO" + sub("ICRD", "2001-05-03") + sub("IPRT", "3/12")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := readRIFFInfo(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, s := range []string{info.Title, info.Artist, info.Album, info.Year, info.Track} {
			if len(s) > 2*len(b) {
				t.Fatalf("%d bytes of text from a %d-byte file", len(s), len(b))
			}
		}
		if y := tagYear(info.Year); y < 0 || y > maxYear || (y > 0 && !strings.Contains(info.Year, fmt.Sprintf("%04d", y))) {
			t.Fatalf("year %d from %q", y, info.Year)
		}
		if n := tagNumber(info.Track); n < 0 || (n > 0 && !strings.Contains(info.Track, strconv.Itoa(n))) {
			t.Fatalf("track %d from %q", n, info.Track)
		}
	})
}
