package seeder

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/peertune/peertune/internal/itest"
)

// run runs a fixture-making tool and fails the test with its output.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
}

// ffmpegTone writes 0.3 s of a mono 22.05 kHz tone to out (its codec from
// the extension; 22.05 kHz is MPEG-2, which audio.Probe reads, where 8 kHz
// would be MPEG-2.5), with the given ffmpeg options (-metadata ...).
func ffmpegTone(t *testing.T, out string, opts ...string) {
	t.Helper()
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.3", "-ac", "1", "-ar", "22050"}
	run(t, "ffmpeg", append(append(args, opts...), out)...)
}

// TestReadMetaTags: ReadMeta over real files of the encoders and taggers
// people use, with what dhowden/tag gets wrong among them (a Vorbis
// TRACKNUMBER of "3/12", "ALBUM ARTIST", dates that are not a bare
// year).
func TestReadMetaTags(t *testing.T) {
	itest.Need(t, "ffmpeg", "lame", "flac", "oggenc")
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.wav")
	ffmpegTone(t, raw, "-map_metadata", "-1")
	full := []string{"-metadata", "title=T", "-metadata", "artist=A", "-metadata", "album=L",
		"-metadata", "album_artist=Various Artists", "-metadata", "track=3/12", "-metadata", "disc=1/2",
		"-metadata", "date=2001-05-03"}
	type want struct {
		Title, Artist, Album, AlbumArtist string
		Track, Disc, Year                 int
		Codec                             string
	}
	fullWant := func(codec string) want { return want{"T", "A", "L", "Various Artists", 3, 1, 2001, codec} }
	for _, c := range []struct {
		name string
		make func(p string)
		want want
	}{
		{"ffmpeg.mp3", func(p string) { ffmpegTone(t, p, append(full, "-id3v2_version", "4")...) }, fullWant("mp3")},
		// TYER 2001 and TDAT 0305.
		{"ffmpeg-v23.mp3", func(p string) { ffmpegTone(t, p, append(full, "-id3v2_version", "3")...) }, fullWant("mp3")},
		{"lame.mp3", func(p string) {
			run(t, "lame", "--quiet", "--tt", "T", "--ta", "A", "--tl", "L", "--ty", "2001", "--tn", "3/12",
				"--tv", "TPE2=Various Artists", "--tv", "TPOS=1/2", raw, p)
		}, fullWant("mp3")},
		// A TDRC with a time (dhowden/tag: year 0); no artist, so the
		// album artist is the artist.
		{"timestamp.mp3", func(p string) {
			ffmpegTone(t, p, "-id3v2_version", "4", "-metadata", "title=T", "-metadata", "album_artist=AA",
				"-metadata", "date=2001-05-03T10:00:00", "-metadata", "track=03")
		}, want{"T", "AA", "", "AA", 3, 0, 2001, "mp3"}},
		{"range.mp3", func(p string) {
			ffmpegTone(t, p, "-metadata", "title=T", "-metadata", "track=10000/10001", "-metadata", "disc=1000",
				"-metadata", "date=0000")
		}, want{Title: "T", Codec: "mp3"}},
		{"untagged.mp3", func(p string) { ffmpegTone(t, p, "-map_metadata", "-1", "-write_xing", "0", "-id3v2_version", "0") },
			want{Title: "untagged", Codec: "mp3"}},
		// Vorbis comments TRACKNUMBER=3/12, DISCNUMBER=1/2 (dhowden/tag: 0).
		{"ffmpeg.flac", func(p string) { ffmpegTone(t, p, full...) }, fullWant("flac")},
		{"flac.flac", func(p string) {
			run(t, "flac", "-s", "-f", "--tag=TITLE=T", "--tag=ARTIST=A", "--tag=ALBUM=L", "--tag=ALBUM ARTIST=Various Artists",
				"--tag=TRACKNUMBER=3", "--tag=TRACKTOTAL=12", "--tag=DISCNUMBER=1", "--tag=DATE=20010503", "-o", p, raw)
		}, fullWant("flac")},
		{"ffmpeg.ogg", func(p string) { ffmpegTone(t, p, append(full, "-c:a", "libvorbis")...) }, fullWant("ogg")},
		// "May 2001": dhowden/tag says the year 1.
		{"oggenc.ogg", func(p string) {
			run(t, "oggenc", "-Q", "-t", "T", "-a", "A", "-l", "L", "-c", "ALBUM_ARTIST=Various Artists", "-c", "TRACKNUMBER=3/12",
				"-c", "DISCNUMBER=1", "-d", "May 2001", "-o", p, raw)
		}, fullWant("ogg")},
		{"oggenc-albumartist.ogg", func(p string) {
			run(t, "oggenc", "-Q", "-t", "T", "-l", "L", "-c", "ALBUMARTIST=Various Artists", "-N", "3", "-d", "2001", "-o", p, raw)
		}, want{"T", "Various Artists", "L", "Various Artists", 3, 0, 2001, "ogg"}},
		// RIFF INFO: ICRD 2001-05-03, IPRT 3/12.
		{"ffmpeg.wav", func(p string) { ffmpegTone(t, p, full...) }, want{"T", "A", "L", "", 3, 0, 2001, "wav"}},
		{"committed.wav", func(p string) {
			b, err := os.ReadFile(filepath.Join("testdata", "tagged.wav"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, b)
		}, want{"Long Title", "Some Artist", "Some Album", "", 7, 0, 1999, "wav"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			c.make(p)
			m, err := ReadMeta(p)
			if err != nil {
				t.Fatal(err)
			}
			got := want{m.Title, m.Artist, m.Album, m.AlbumArtist, m.TrackNumber, m.DiscNumber, m.Year, m.Codec}
			if got != c.want {
				t.Errorf("ReadMeta = %+v\nwant       %+v", got, c.want)
			}
			if c.name != "committed.wav" && (m.DurationS < 0.25 || m.DurationS > 0.4) {
				t.Errorf("duration %v s, want 0.3", m.DurationS)
			}
		})
	}
}

func TestTagNumbers(t *testing.T) {
	for s, want := range map[string]int{
		"3": 3, "3/12": 3, " 03 / 12 ": 3, "12/": 12, "": 0, "/12": 0, "A1": 0, "3 of 12": 0, "-3": 0,
		"99999999999999999999999": 0,
	} {
		if got := tagNumber(s); got != want {
			t.Errorf("tagNumber(%q) = %d, want %d", s, got, want)
		}
	}
	for s, want := range map[string]int{
		"2001": 2001, "2001-05-03": 2001, "2001-05-03T10:00:00": 2001, "03/05/2001": 2001, "May 2001": 2001,
		"20010503": 2001, "1999/2000": 1999, "0000": 0, "": 0, "01": 0, "12345": 0, "unknown": 0, "'99": 0,
	} {
		if got := inRange(tagYear(s), maxYear); got != want {
			t.Errorf("tagYear(%q) = %d, want %d", s, got, want)
		}
	}
}
