package seeder

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/dhowden/tag"

	"github.com/peertune/peertune/audio"
	"github.com/peertune/peertune/proto"
)

// ReadMeta reads what the catalog shows of a track: title, artist and album
// from its tags (dhowden/tag; a WAV's RIFF INFO list, which dhowden/tag does
// not read; the title falls back to the file name), codec,
// duration and bitrate from its audio headers (audio.Probe). A file whose
// audio cannot be probed is an error: the seeder skips it.
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
			m.Title = clean(md.Title())
			m.Artist = clean(md.Artist())
			if m.Artist == "" {
				m.Artist = clean(md.AlbumArtist())
			}
			m.Album = clean(md.Album())
		} else if info.Codec == proto.CodecWAV {
			if _, err := f.Seek(0, io.SeekStart); err == nil {
				if ri, err := readRIFFInfo(f); err == nil {
					m.Title, m.Artist, m.Album = clean(ri.Title), clean(ri.Artist), clean(ri.Album)
				}
			}
		}
		f.Close()
	}
	if m.Title == "" {
		base := path.Base(strings.ReplaceAll(absPath, "\\", "/"))
		m.Title = strings.TrimSuffix(base, path.Ext(base))
	}
	return m, nil
}

// clean trims spaces and the NULs some ID3v2 writers leave.
func clean(s string) string { return strings.TrimSpace(strings.Trim(s, "\x00")) }
