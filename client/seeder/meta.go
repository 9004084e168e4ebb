package seeder

import (
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/dhowden/tag"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/proto"
)

// The ranges of the numbers a tag may give; a number outside its range is
// dropped (0: unknown).
const (
	maxTrackNumber = 9999
	maxDiscNumber  = 999
	maxYear        = 9999
)

// ReadMeta reads what the catalog shows of a track: title, artist, album,
// album artist, track and disc number and year from its tags
// (dhowden/tag; a WAV's RIFF INFO list, which dhowden/tag does not read;
// the title falls back to the file name), codec, duration and bitrate from
// its audio headers (audio.Probe). A file whose audio cannot be probed is
// an error: the seeder skips it.
func ReadMeta(absPath string) (Meta, error) {
	info, err := audio.Probe(absPath)
	if err != nil {
		return Meta{}, fmt.Errorf("not decodable: %w", err)
	}
	if !proto.ValidCodec(info.Codec) {
		return Meta{}, fmt.Errorf("unsupported codec %q", info.Codec)
	}
	if info.Duration <= 0 {
		return Meta{}, fmt.Errorf("no audio (duration %v)", info.Duration)
	}
	m := Meta{Codec: info.Codec, DurationS: info.Duration.Seconds(), Bitrate: info.Bitrate}
	if f, err := os.Open(absPath); err == nil {
		// A file without tags (wav, or an untagged mp3) is fine: the
		// title falls back to the file name below.
		if md, err := tag.ReadFrom(f); err == nil {
			readTags(md, &m)
		} else if info.Codec == proto.CodecWAV {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				if ri, err := readRIFFInfo(f); err == nil {
					m.Title, m.Artist, m.Album = clean(ri.Title), clean(ri.Artist), clean(ri.Album)
					m.TrackNumber = inRange(tagNumber(ri.Track), maxTrackNumber)
					m.Year = inRange(tagYear(ri.Year), maxYear)
				}
			}
		}
		f.Close()
	}
	if m.Artist == "" {
		m.Artist = m.AlbumArtist
	}
	if m.Title == "" {
		base := path.Base(strings.ReplaceAll(absPath, "\\", "/"))
		m.Title = strings.TrimSuffix(base, path.Ext(base))
	}
	return m, nil
}

// readTags fills m from md. dhowden/tag reads ID3 (v1, v2.2, v2.3, v2.4)
// right; of Vorbis comments (flac, ogg) it misses what real files carry:
// a TRACKNUMBER or DISCNUMBER of "3/12" (what ffmpeg writes) gives 0, only
// ALBUMARTIST is an album artist ("ALBUM ARTIST" and "ALBUM_ARTIST" are
// common too), and a DATE it cannot parse (e.g. "20010503", "May 2001",
// "2001-05-03T10:00") is the year 1. Those come from md.Raw() here, and
// so does an ID3v2 year with more than a date ("2001-05-03T10:00:00").
func readTags(md tag.Metadata, m *Meta) {
	m.Title = clean(md.Title())
	m.Artist = clean(md.Artist())
	m.Album = clean(md.Album())
	raw := md.Raw()
	var track, disc, year int
	if md.Format() == tag.VORBIS {
		// dhowden/tag keeps the comments by lowercased name.
		m.AlbumArtist = rawText(raw, "albumartist", "album artist", "album_artist")
		track = firstNumber(raw, tagNumber, "tracknumber")
		disc = firstNumber(raw, tagNumber, "discnumber")
		year = firstNumber(raw, tagYear, "date", "year")
	} else {
		// ID3: TPE2, TRCK and TPOS (TP2, TRK, TPA in v2.2) are read
		// right; the year is TDRC in v2.4 (a timestamp), TYER in v2.3,
		// TYE in v2.2, "year" in ID3v1.
		m.AlbumArtist = clean(md.AlbumArtist())
		track, _ = md.Track()
		disc, _ = md.Disc()
		if year = firstNumber(raw, tagYear, "TDRC", "TYER", "TYE"); year == 0 {
			year = md.Year()
		}
	}
	m.TrackNumber = inRange(track, maxTrackNumber)
	m.DiscNumber = inRange(disc, maxDiscNumber)
	m.Year = inRange(year, maxYear)
}

// rawText is the first of the named raw tags that is non-empty text.
func rawText(raw map[string]any, names ...string) string {
	for _, n := range names {
		if s, ok := raw[n].(string); ok {
			if s = clean(s); s != "" {
				return s
			}
		}
	}
	return ""
}

// firstNumber is the first non-zero number that parse finds in the named
// raw tags.
func firstNumber(raw map[string]any, parse func(string) int, names ...string) int {
	for _, n := range names {
		if s, ok := raw[n].(string); ok {
			if v := parse(clean(s)); v != 0 {
				return v
			}
		}
	}
	return 0
}

// tagNumber reads a track or disc number: "3", " 03 " or "3/12" is 3;
// anything else is 0.
func tagNumber(s string) int {
	s, _, _ = strings.Cut(s, "/")
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// tagYear reads the year of a date: its first run of four digits
// ("2001", "2001-05-03", "2001-05-03T10:00:00", "03/05/2001", "May 2001"),
// or the first four of a run of eight (20010503); 0 when there is none.
func tagYear(s string) int {
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if j-i == 4 || j-i == 8 {
			n, _ := strconv.Atoi(s[i : i+4])
			return n
		}
		i = j
	}
	return 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// inRange is n when it is in 1..hi, else 0 (unknown).
func inRange(n, hi int) int {
	if n < 1 || n > hi {
		return 0
	}
	return n
}

// clean trims spaces and the NULs some ID3v2 writers leave.
func clean(s string) string { return strings.TrimSpace(strings.Trim(s, "\x00")) }
