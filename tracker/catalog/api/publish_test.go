package api

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/proto"
)

// torrentSpec describes a test torrent; zero fields take defaults.
type torrentSpec struct {
	name        string
	content     []byte
	pieceLength int64
	urls        []string
	multiFile   bool
}

// buildTorrent makes a real .torrent with anacrolix's metainfo and returns
// its bytes and v1 infohash (lowercase hex).
func buildTorrent(t testing.TB, s torrentSpec) ([]byte, string) {
	t.Helper()
	if s.name == "" {
		s.name = "song.flac"
	}
	if s.content == nil {
		s.content = bytes.Repeat([]byte("peertune test audio "), 2000) // 40000 bytes: 3 pieces
	}
	if s.pieceLength == 0 {
		s.pieceLength = 16 << 10
	}
	if s.urls == nil {
		s.urls = []string{"http://127.0.0.1:7070/" + s.name}
	}
	pieces, err := metainfo.GeneratePieces(bytes.NewReader(s.content), s.pieceLength, nil)
	if err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{Name: s.name, PieceLength: s.pieceLength, Pieces: pieces, Length: int64(len(s.content))}
	if s.multiFile {
		half := int64(len(s.content) / 2)
		info.Length = 0
		info.Files = []metainfo.FileInfo{
			{Path: []string{"a.flac"}, Length: half},
			{Path: []string{"b.flac"}, Length: int64(len(s.content)) - half},
		}
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: infoBytes, Announce: "http://127.0.0.1:6969/announce", UrlList: s.urls}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(infoBytes)
	return buf.Bytes(), hex.EncodeToString(sum[:])
}

func publishBody(t testing.TB, torrent []byte, mutate func(*proto.PublishRequest)) []byte {
	t.Helper()
	req := proto.PublishRequest{
		Torrent: torrent, Title: "Paranoid Android", Artist: "Radiohead", Album: "OK Computer",
		DurationS: 383.4, Codec: "flac", Bitrate: 900_000,
	}
	if mutate != nil {
		mutate(&req)
	}
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestParsePublishValid(t *testing.T) {
	torrent, id := buildTorrent(t, torrentSpec{urls: []string{"http://127.0.0.1:7070/a.flac", "https://seed.example/a.flac"}})
	e, err := ParsePublish(publishBody(t, torrent, func(r *proto.PublishRequest) { r.Title = "  Paranoid Android \t" }))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID != id || e.Title != "Paranoid Android" || e.Artist != "Radiohead" || e.Album != "OK Computer" ||
		e.DurationS != 383.4 || e.Codec != "flac" || e.Bitrate != 900_000 || e.Size != 40000 ||
		e.PieceLength != 16<<10 || len(e.SeedURLs) != 2 || e.SeedURLs[1] != "https://seed.example/a.flac" ||
		!bytes.Equal(e.Torrent, torrent) {
		t.Errorf("ParsePublish = %+v", e)
	}
	if e.Publisher != "" || !e.PublishedAt.IsZero() {
		t.Errorf("ParsePublish set Publisher/PublishedAt: %+v", e)
	}
	for ext, codec := range map[string]string{"a.MP3": "mp3", "b.ogg": "ogg", "c.oga": "ogg", "d.wav": "wav", "e.FLAC": "flac"} {
		torrent, _ := buildTorrent(t, torrentSpec{name: ext})
		if _, err := ParsePublish(publishBody(t, torrent, func(r *proto.PublishRequest) { r.Codec = codec })); err != nil {
			t.Errorf("%s as %s: %v", ext, codec, err)
		}
	}
	// Artist and album may be empty; bitrate 0 means unknown.
	if _, err := ParsePublish(publishBody(t, torrent, func(r *proto.PublishRequest) { r.Artist, r.Album, r.Bitrate = "", "", 0 })); err != nil {
		t.Errorf("no artist, album, bitrate: %v", err)
	}
}

func TestParsePublishRefuses(t *testing.T) {
	good, _ := buildTorrent(t, torrentSpec{})
	withTorrent := func(s torrentSpec) []byte { b, _ := buildTorrent(t, s); return b }
	edit := func(f func(*proto.PublishRequest)) []byte { return publishBody(t, good, f) }
	// A url-list given as one string is valid BEP 19: it still needs a URL.
	tests := []struct {
		name, body string
		want       error
		msg        string
	}{
		{"empty body", "", ErrMalformed, "EOF"},
		{"not json", "garbage", ErrMalformed, "invalid character"},
		{"json array", "[]", ErrMalformed, "cannot unmarshal"},
		{"unknown field", `{"title":"x","durationS":3}`, ErrMalformed, "unknown field"},
		{"trailing data", string(edit(nil)) + "{}", ErrMalformed, "after the JSON"},
		{"torrent not base64", `{"torrent":"!!!","title":"x"}`, ErrMalformed, "illegal base64"},
		{"missing title", string(edit(func(r *proto.PublishRequest) { r.Title = " " })), ErrInvalid, "missing title"},
		{"title control char", string(edit(func(r *proto.PublishRequest) { r.Title = "a\x07b" })), ErrInvalid, "control"},
		{"title too long", string(edit(func(r *proto.PublishRequest) { r.Title = strings.Repeat("x", MaxTextLen+1) })), ErrInvalid, "longer"},
		{"negative duration", string(edit(func(r *proto.PublishRequest) { r.DurationS = -1 })), ErrInvalid, "duration_s"},
		{"zero duration", string(edit(func(r *proto.PublishRequest) { r.DurationS = 0 })), ErrInvalid, "duration_s"},
		{"huge duration", string(edit(func(r *proto.PublishRequest) { r.DurationS = 1e300 })), ErrInvalid, "duration_s"},
		{"negative bitrate", string(edit(func(r *proto.PublishRequest) { r.Bitrate = -5 })), ErrInvalid, "bitrate"},
		{"unknown codec", string(edit(func(r *proto.PublishRequest) { r.Codec = "aac" })), ErrInvalid, "codec"},
		{"codec mismatch", string(edit(func(r *proto.PublishRequest) { r.Codec = "mp3" })), ErrInvalid, "does not match"},
		{"no torrent", string(edit(func(r *proto.PublishRequest) { r.Torrent = nil })), ErrInvalid, "missing torrent"},
		{"not a torrent", string(edit(func(r *proto.PublishRequest) { r.Torrent = []byte("hello") })), ErrInvalid, "not a .torrent"},
		{"no info", string(edit(func(r *proto.PublishRequest) { r.Torrent = []byte("d8:announce3:urle") })), ErrInvalid, "no info"},
		{"multi-file", string(publishBody(t, withTorrent(torrentSpec{multiFile: true}), nil)), ErrInvalid, "multi-file"},
		{"not audio", string(publishBody(t, withTorrent(torrentSpec{name: "song.exe"}), nil)), ErrInvalid, "not an audio file"},
		{"no extension", string(publishBody(t, withTorrent(torrentSpec{name: "flac"}), nil)), ErrInvalid, "not an audio file"},
		{"path in name", string(publishBody(t, withTorrent(torrentSpec{name: "../x.flac"}), nil)), ErrInvalid, "plain file name"},
		{"empty file", string(publishBody(t, withTorrent(torrentSpec{content: []byte{}}), nil)), ErrInvalid, "length"},
		{"small pieces", string(publishBody(t, withTorrent(torrentSpec{pieceLength: 8 << 10}), nil)), ErrInvalid, "piece length"},
		{"huge pieces", string(publishBody(t, withTorrent(torrentSpec{pieceLength: 8 << 20}), nil)), ErrInvalid, "piece length"},
		{"odd pieces", string(publishBody(t, withTorrent(torrentSpec{pieceLength: 20000}), nil)), ErrInvalid, "piece length"},
		{"no url-list", string(publishBody(t, withTorrent(torrentSpec{urls: []string{}}), nil)), ErrInvalid, "url-list"},
		{"ftp seed", string(publishBody(t, withTorrent(torrentSpec{urls: []string{"ftp://h/x.flac"}}), nil)), ErrInvalid, "seed URL"},
		{"relative seed", string(publishBody(t, withTorrent(torrentSpec{urls: []string{"/x.flac"}}), nil)), ErrInvalid, "seed URL"},
		{"user in seed", string(publishBody(t, withTorrent(torrentSpec{urls: []string{"http://u:p@h/x.flac"}}), nil)), ErrInvalid, "seed URL"},
		{"too large", `{"title":"` + strings.Repeat("x", MaxPublishBody) + `"}`, ErrMalformed, "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParsePublish([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
	// Pieces that do not cover the file.
	mi, err := metainfo.Load(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := mi.UnmarshalInfo()
	info.Pieces = info.Pieces[:20]
	mi.InfoBytes, _ = bencode.Marshal(info)
	var buf bytes.Buffer
	mi.Write(&buf)
	if _, err := ParsePublish(publishBody(t, buf.Bytes(), nil)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "piece hashes") {
		t.Errorf("short pieces: %v", err)
	}
}

// checkParsed asserts what every accepted publish must satisfy.
func checkParsed(t *testing.T, body []byte) {
	e, err := ParsePublish(body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v wraps neither ErrMalformed nor ErrInvalid", err)
		}
		return
	}
	mi, err := metainfo.Load(bytes.NewReader(e.Torrent))
	if err != nil {
		t.Fatalf("accepted a torrent metainfo cannot load: %v", err)
	}
	h := mi.HashInfoBytes()
	if e.ID != hex.EncodeToString(h[:]) {
		t.Fatalf("id %s is not the infohash %x", e.ID, h)
	}
	if _, err := proto.ParseTrackID(e.ID); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(e.Title) == "" || !proto.ValidCodec(e.Codec) || e.Size <= 0 ||
		e.PieceLength < MinPieceLength || e.PieceLength > MaxPieceLength || len(e.SeedURLs) == 0 ||
		math.IsNaN(e.DurationS) || e.DurationS <= 0 || e.Bitrate < 0 {
		t.Fatalf("accepted an invalid entry %+v", e)
	}
	again, err := ParsePublish(body)
	if err != nil || again.ID != e.ID {
		t.Fatalf("not deterministic: %v", err)
	}
}

func FuzzParsePublish(f *testing.F) {
	valid, _ := buildTorrent(f, torrentSpec{})
	multi, _ := buildTorrent(f, torrentSpec{multiFile: true})
	f.Add(publishBody(f, valid, nil))
	f.Add(publishBody(f, multi, nil))
	f.Add(publishBody(f, valid, func(r *proto.PublishRequest) { r.Codec = "mp3" }))
	f.Add([]byte(`{"torrent":"ZDQ6aW5mb2RlZQ==","title":"x","duration_s":1,"codec":"flac"}`))
	f.Add([]byte("garbage"))
	f.Add([]byte(`{}`))
	f.Fuzz(checkParsed)
}

// FuzzPublishTorrent puts fuzzed bytes in the torrent field of an otherwise
// valid request, so the fuzzer explores the torrent checks directly rather
// than through base64.
func FuzzPublishTorrent(f *testing.F) {
	valid, _ := buildTorrent(f, torrentSpec{})
	multi, _ := buildTorrent(f, torrentSpec{multiFile: true})
	f.Add(valid)
	f.Add(multi)
	f.Add([]byte("d4:infod6:lengthi1e4:name5:a.wav12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaae8:url-list10:http://h/ae"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, torrent []byte) {
		checkParsed(t, publishBody(t, torrent, nil))
	})
}

// TestSeedCorpus checks that the committed corpus holds what it claims: a
// valid publish that is accepted and a multi-file one that is refused.
func TestSeedCorpus(t *testing.T) {
	for file, wantErr := range map[string]error{"valid": nil, "multi-file": ErrInvalid, "garbage": ErrMalformed} {
		raw, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParsePublish", file))
		if err != nil {
			t.Fatal(err)
		}
		body := corpusBytes(t, raw)
		if _, err := ParsePublish(body); !errors.Is(err, wantErr) && !(wantErr == nil && err == nil) {
			t.Errorf("corpus %s: ParsePublish error %v, want %v", file, err, wantErr)
		}
	}
}

// corpusBytes decodes one []byte value of Go's fuzz corpus file format.
func corpusBytes(t *testing.T, raw []byte) []byte {
	t.Helper()
	header, rest, _ := strings.Cut(string(raw), "\n")
	lit, ok := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if header != "go test fuzz v1" || !ok || !ok2 {
		t.Fatalf("not a fuzz corpus file of one []byte: %q", raw)
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("corpus literal: %v", err)
	}
	return []byte(s)
}

func TestParsePublishBoundsAllocation(t *testing.T) {
	// A torrent of a few bytes claiming a 100 MB string must not make the
	// tracker allocate 100 MB.
	body := publishBody(t, []byte("d8:announce100000000:xx"), nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ParsePublish(body)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %v, want ErrInvalid", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("parsing a %d-byte body allocated %d bytes", len(body), grew)
	}
}
