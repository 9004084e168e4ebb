package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// Limits of a publish request.
const (
	MaxPublishBody  = 4 << 20 // bytes of JSON, the base64 .torrent included
	MinPieceLength  = 16 << 10
	MaxPieceLength  = 4 << 20
	MaxTextLen      = 512 // bytes of title, artist or album
	MaxSeedURLs     = 16
	MaxSeedURLLen   = 2048
	MaxDurationS    = 24 * 60 * 60 // one day: longer is not one track
	MaxBitrate      = 1 << 32      // bits per second
	MaxTrackNumber  = 9999
	MaxDiscNumber   = 999
	MaxYear         = 9999
	maxTrackNameLen = 1024
)

var (
	// ErrMalformed: the body is not a publish request (bad JSON, unknown
	// field, trailing data, too large). The API answers 400.
	ErrMalformed = errors.New("malformed publish request")
	// ErrInvalid: a well-formed request for something the catalog refuses
	// (not a single audio file, bad metadata). The API answers 422.
	ErrInvalid = errors.New("invalid track")
)

// codecByExt maps a file extension to the codec it holds.
var codecByExt = map[string]string{
	".mp3":  proto.CodecMP3,
	".flac": proto.CodecFLAC,
	".ogg":  proto.CodecOgg,
	".oga":  proto.CodecOgg,
	".wav":  proto.CodecWAV,
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParsePublish parses and validates the body of POST /api/v1/tracks. The
// track id is the torrent's v1 infohash, computed here; size, piece length
// and seed URLs (its url-list) come from the torrent too. Publisher and
// PublishedAt are left for the caller. Errors wrap ErrMalformed or
// ErrInvalid and say what is wrong.
//
// Unknown JSON fields are refused rather than ignored: a misspelt field
// would otherwise publish a track with its metadata silently missing.
func ParsePublish(body []byte) (catalog.Entry, error) {
	if len(body) > MaxPublishBody {
		return catalog.Entry{}, malformed("body of %d bytes exceeds %d", len(body), MaxPublishBody)
	}
	var req proto.PublishRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return catalog.Entry{}, malformed("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return catalog.Entry{}, malformed("data after the JSON object")
	}

	title, err := text("title", req.Title, true)
	if err != nil {
		return catalog.Entry{}, err
	}
	artist, err := text("artist", req.Artist, false)
	if err != nil {
		return catalog.Entry{}, err
	}
	album, err := text("album", req.Album, false)
	if err != nil {
		return catalog.Entry{}, err
	}
	albumArtist, err := text("album_artist", req.AlbumArtist, false)
	if err != nil {
		return catalog.Entry{}, err
	}
	for _, n := range []struct {
		field  string
		v, max int
	}{{"track_number", req.TrackNumber, MaxTrackNumber}, {"disc_number", req.DiscNumber, MaxDiscNumber}, {"year", req.Year, MaxYear}} {
		if n.v < 0 || n.v > n.max {
			return catalog.Entry{}, invalid("%s %d: want 0 (unknown) to %d", n.field, n.v, n.max)
		}
	}
	if math.IsNaN(req.DurationS) || req.DurationS <= 0 || req.DurationS > MaxDurationS {
		return catalog.Entry{}, invalid("duration_s %v: want seconds, more than 0 and at most %d", req.DurationS, MaxDurationS)
	}
	if req.Bitrate < 0 || req.Bitrate > MaxBitrate {
		return catalog.Entry{}, invalid("bitrate %d: want bits per second, 0 (unknown) to %d", req.Bitrate, int64(MaxBitrate))
	}
	if !proto.ValidCodec(req.Codec) {
		return catalog.Entry{}, invalid("codec %q: want one of mp3, flac, ogg, wav", req.Codec)
	}

	t, err := parseTorrent(req.Torrent)
	if err != nil {
		return catalog.Entry{}, err
	}
	if t.codec != req.Codec {
		return catalog.Entry{}, invalid("codec %q does not match the file %q (a %s file)", req.Codec, t.name, t.codec)
	}
	return catalog.Entry{
		Track: proto.Track{
			ID:          t.id,
			Title:       title,
			Artist:      artist,
			Album:       album,
			AlbumArtist: albumArtist,
			TrackNumber: req.TrackNumber,
			DiscNumber:  req.DiscNumber,
			Year:        req.Year,
			DurationS:   req.DurationS,
			Codec:       req.Codec,
			Bitrate:     req.Bitrate,
			Size:        t.size,
			PieceLength: t.pieceLength,
			SeedURLs:    t.seedURLs,
		},
		Torrent: req.Torrent,
	}, nil
}

// text checks one metadata field: valid UTF-8, no control characters,
// bounded; surrounding white space is trimmed.
func text(field, s string, required bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid UTF-8", field)
	}
	s = strings.TrimSpace(s)
	if required && s == "" {
		return "", invalid("missing %s", field)
	}
	if len(s) > MaxTextLen {
		return "", invalid("%s of %d bytes is longer than %d", field, len(s), MaxTextLen)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", invalid("%s contains a control character", field)
	}
	return s, nil
}

// decodeBencode decodes all of data into v; no string may be longer than
// data itself.
func decodeBencode(data []byte, v any) error {
	d := bencode.NewDecoder(bytes.NewReader(data))
	d.MaxStrLen = int64(len(data))
	if err := d.Decode(v); err != nil {
		return err
	}
	if err := d.ReadEOF(); err != nil {
		return fmt.Errorf("after the torrent: %w", err)
	}
	return nil
}

type torrentFacts struct {
	id          string
	name        string
	codec       string
	size        int64
	pieceLength int64
	seedURLs    []string
}

func parseTorrent(raw []byte) (torrentFacts, error) {
	var t torrentFacts
	if len(raw) == 0 {
		return t, invalid("missing torrent")
	}
	// metainfo.Load and MetaInfo.UnmarshalInfo, with string lengths bounded
	// by the input: their default bound lets a 20-byte torrent claiming a
	// 128 MiB string allocate 128 MiB.
	var mi metainfo.MetaInfo
	if err := decodeBencode(raw, &mi); err != nil {
		return t, invalid("torrent is not a .torrent file: %v", err)
	}
	if len(mi.InfoBytes) == 0 {
		return t, invalid("torrent has no info dictionary")
	}
	var info metainfo.Info
	if err := decodeBencode(mi.InfoBytes, &info); err != nil {
		return t, invalid("torrent's info dictionary: %v", err)
	}
	hash := mi.HashInfoBytes()
	t.id = hex.EncodeToString(hash[:])

	if info.HasV2() || len(info.FileTree.Dir) > 0 || len(mi.PieceLayers) > 0 {
		return t, invalid("torrent is a BitTorrent v2 or hybrid torrent; publish a v1 torrent")
	}
	if len(info.Files) > 0 {
		return t, invalid("torrent holds %d files (multi-file form); a track is one audio file", len(info.Files))
	}
	if info.Length <= 0 {
		return t, invalid("torrent's file length %d: want more than 0", info.Length)
	}
	t.size = info.Length
	if info.PieceLength < MinPieceLength || info.PieceLength > MaxPieceLength || info.PieceLength&(info.PieceLength-1) != 0 {
		return t, invalid("torrent's piece length %d: want a power of two from %d to %d", info.PieceLength, MinPieceLength, MaxPieceLength)
	}
	t.pieceLength = info.PieceLength
	wantPieces := (info.Length-1)/info.PieceLength + 1
	if int64(len(info.Pieces)) != wantPieces*20 {
		return t, invalid("torrent has %d bytes of piece hashes; %d bytes in pieces of %d need %d", len(info.Pieces), info.Length, info.PieceLength, wantPieces*20)
	}

	name := info.Name
	if info.NameUtf8 != "" {
		name = info.NameUtf8
	}
	if name == "" || len(name) > maxTrackNameLen || !utf8.ValidString(name) ||
		strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return t, invalid("torrent's file name %q is not a plain file name", name)
	}
	t.name = name
	ext := strings.ToLower(path.Ext(name))
	codec, ok := codecByExt[ext]
	if !ok {
		return t, invalid("torrent's file %q is not an audio file (want .mp3, .flac, .ogg, .oga or .wav)", name)
	}
	t.codec = codec

	if len(mi.UrlList) == 0 {
		return t, invalid("torrent has no url-list: its seed URLs (BEP 19) are required")
	}
	if len(mi.UrlList) > MaxSeedURLs {
		return t, invalid("torrent has %d seed URLs; at most %d", len(mi.UrlList), MaxSeedURLs)
	}
	t.seedURLs = make([]string, 0, len(mi.UrlList))
	for _, raw := range mi.UrlList {
		if len(raw) > MaxSeedURLLen {
			return t, invalid("seed URL of %d bytes is longer than %d", len(raw), MaxSeedURLLen)
		}
		u, err := url.Parse(raw)
		if err != nil {
			return t, invalid("seed URL %q: %v", raw, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return t, invalid("seed URL %q: want an http or https URL with a host and no user info", raw)
		}
		t.seedURLs = append(t.seedURLs, raw)
	}
	return t, nil
}
