package seeder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// riffInfo is what a WAV file's RIFF INFO list says of it (dhowden/tag
// reads no WAV tags; ffmpeg, sox and most editors write these).
type riffInfo struct {
	Title, Artist, Album, Year, Track string
}

// The bounds of a RIFF scan: a WAV has a handful of chunks, and an INFO
// list a few hundred bytes.
const (
	riffMaxChunks = 64
	riffMaxInfo   = 1 << 20
)

var errNotRIFF = errors.New("not a RIFF WAVE file")

// readRIFFInfo finds the LIST INFO chunk of a RIFF WAVE file and reads its
// title (INAM), artist (IART), album (IPRD), date (ICRD) and track (IPRT
// or ITRK), skipping the audio data without reading it.
func readRIFFInfo(r io.ReadSeeker) (riffInfo, error) {
	var head [12]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return riffInfo{}, errNotRIFF
	}
	if string(head[0:4]) != "RIFF" || string(head[8:12]) != "WAVE" {
		return riffInfo{}, errNotRIFF
	}
	for range riffMaxChunks {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return riffInfo{}, nil // the end, and no INFO list
		}
		size := int64(binary.LittleEndian.Uint32(ch[4:8]))
		padded := size + size&1
		if string(ch[0:4]) == "LIST" && size >= 4 && size <= riffMaxInfo {
			body := make([]byte, size)
			if _, err := io.ReadFull(r, body); err != nil {
				return riffInfo{}, nil
			}
			if string(body[0:4]) == "INFO" {
				return parseINFO(body[4:]), nil
			}
			if size&1 == 1 {
				if _, err := r.Seek(1, io.SeekCurrent); err != nil {
					return riffInfo{}, nil
				}
			}
			continue
		}
		if _, err := r.Seek(padded, io.SeekCurrent); err != nil {
			return riffInfo{}, nil
		}
	}
	return riffInfo{}, nil
}

// parseINFO reads the sub-chunks of an INFO list: an id, a size and text
// (NUL-terminated, padded to an even length).
func parseINFO(b []byte) riffInfo {
	var info riffInfo
	for len(b) >= 8 {
		id := string(b[0:4])
		size := int(binary.LittleEndian.Uint32(b[4:8]))
		b = b[8:]
		if size < 0 || size > len(b) {
			break
		}
		text := riffText(b[:size])
		switch id {
		case "INAM":
			info.Title = text
		case "IART":
			info.Artist = text
		case "IPRD":
			info.Album = text
		case "ICRD":
			info.Year = text
		case "IPRT", "ITRK":
			info.Track = text
		}
		b = b[min(size+size&1, len(b)):]
	}
	return info
}

// riffText is a sub-chunk's text: up to its first NUL, UTF-8 when it is
// valid UTF-8, else Latin-1 (what older writers use).
func riffText(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if utf8.Valid(b) {
		return strings.TrimSpace(string(b))
	}
	var s strings.Builder
	for _, c := range b {
		s.WriteRune(rune(c))
	}
	return strings.TrimSpace(s.String())
}
