package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/catalog"
	"github.com/peertune/peertune/tracker/catalog/catalogtest"
	"github.com/peertune/peertune/tracker/catalog/sqlite"
	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
)

const (
	aliceToken = "alice-secret-token"
	bobToken   = "bob-secret-token"
)

type fixture struct {
	srv     *httptest.Server
	catalog *sqlite.Store
	swarms  *memory.Store
	reg     *prometheus.Registry
	keys    *auth.Keyring
	now     atomic.Pointer[time.Time] // the API's clock when set
}

// newFixture serves the API with these tokens as --token's publishers
// (token-1, token-2, …) and no admin.
func newFixture(t *testing.T, tokens ...string) *fixture {
	t.Helper()
	pubs, err := auth.FlagEntries(tokens)
	if err != nil {
		t.Fatal(err)
	}
	set, err := auth.NewSet(pubs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureKeys(t, set)
}

// newFixtureKeys serves the API with set in force; f.keys swaps it.
func newFixtureKeys(t *testing.T, set *auth.Set) *fixture {
	t.Helper()
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	swarms, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swarms.Close() })
	reg := prometheus.NewRegistry()
	f := &fixture{catalog: cat, swarms: swarms, reg: reg, keys: auth.NewKeyring(set)}
	h, err := New(Config{
		Catalog: cat,
		Swarms:  swarms,
		Keys:    f.keys,
		Now: func() time.Time {
			if t := f.now.Load(); t != nil {
				return *t
			}
			return time.Now()
		},
		Announce: []string{"http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969"},
		Version:  "test-1.2.3",
		Metrics:  reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h) // listens on 127.0.0.1
	t.Cleanup(f.srv.Close)
	return f
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, token string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := response{resp.StatusCode, resp.Header, b}
	if r.status >= 400 {
		checkErrorBody(t, method+" "+path, r)
	}
	return r
}

// checkErrorBody asserts the contract's error form: JSON {"error": "…"}.
func checkErrorBody(t *testing.T, what string, r response) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: %d with Content-Type %q, want application/json", what, r.status, ct)
	}
	var e proto.Error
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == "" {
		t.Errorf("%s: %d with body %q: not {\"error\": \"…\"} (%v)", what, r.status, r.body, err)
	}
}

func (r response) errorText() string {
	var e proto.Error
	json.Unmarshal(r.body, &e)
	return e.Error
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
	return v
}

// publish publishes a fresh torrent (content distinguishes torrents) and
// returns the response and the torrent's infohash.
func (f *fixture) publish(t *testing.T, token, content string, mutate func(*proto.PublishRequest)) (response, string) {
	t.Helper()
	torrent, id := buildTorrent(t, torrentSpec{content: []byte(strings.Repeat(content, 1000))})
	return f.do(t, "POST", proto.PathTracks, token, publishBody(t, torrent, mutate)), id
}

func (f *fixture) count(t *testing.T) int {
	t.Helper()
	n, err := f.catalog.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks, "", nil))
	if list.Total != n {
		t.Fatalf("Count %d, API total %d", n, list.Total)
	}
	return n
}

func TestPublishFindDownload(t *testing.T) {
	f := newFixture(t, aliceToken, bobToken)
	torrent, id := buildTorrent(t, torrentSpec{urls: []string{"http://127.0.0.1:7070/t/song.flac"}})
	r := f.do(t, "POST", proto.PathTracks, aliceToken, publishBody(t, torrent, nil))
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != proto.PathTracks+"/"+id {
		t.Errorf("Location %q", loc)
	}
	tr := decode[proto.Track](t, r)
	want := proto.Track{ID: id, Title: "Paranoid Android", Artist: "Radiohead", Album: "OK Computer",
		DurationS: 383.4, Codec: "flac", Bitrate: 900_000, Size: 40000, PieceLength: 16 << 10,
		SeedURLs: []string{"http://127.0.0.1:7070/t/song.flac"}}
	if fmt.Sprint(tr) != fmt.Sprint(want) {
		t.Errorf("published track\n %+v\nwant\n %+v", tr, want)
	}

	for _, q := range []string{"radiohead", "Radio", "android", "paranoid%20android", "ok%20comp"} {
		list := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks+"?q="+q, "", nil))
		if list.Total != 1 || len(list.Tracks) != 1 || list.Tracks[0].ID != id {
			t.Errorf("search %q: %+v", q, list)
		}
	}
	if list := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks+"?q=beatles", "", nil)); list.Total != 0 || list.Tracks == nil {
		t.Errorf("search for an absent word: %+v (tracks must be [] not null)", list)
	}

	// The .torrent comes back byte for byte, and its infohash is the id.
	r = f.do(t, "GET", proto.PathTracks+"/"+id+"/torrent", "", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != proto.TorrentContentType {
		t.Fatalf("torrent: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="`+id+`.torrent"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	mi, err := metainfo.Load(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if h := mi.HashInfoBytes(); h.HexString() != id || !bytes.Equal(r.body, torrent) {
		t.Errorf("downloaded torrent has infohash %s, want %s", h.HexString(), id)
	}

	// An uppercase id is the same track; its JSON id is lowercase.
	r = f.do(t, "GET", proto.PathTracks+"/"+strings.ToUpper(id), "", nil)
	if r.status != http.StatusOK || decode[proto.Track](t, r).ID != id {
		t.Errorf("GET uppercase id: %d %s", r.status, r.body)
	}
}

func TestSwarmCounts(t *testing.T) {
	f := newFixture(t, aliceToken)
	r, id := f.publish(t, aliceToken, "swarm", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	var ih peers.InfoHash
	copy(ih[:], mustHex(t, id))
	for i, left := range []uint64{0, 100, 200} {
		_, err := f.swarms.Announce(context.Background(), peers.Announce{
			InfoHash: ih, Left: left, Event: peers.EventStarted,
			Peer: peers.Peer{ID: peers.PeerID{byte(i + 1)}, Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.0.1:%d", 7000+i))},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	tr := decode[proto.Track](t, f.do(t, "GET", proto.PathTracks+"/"+id, "", nil))
	if tr.Seeders != 1 || tr.Leechers != 2 {
		t.Errorf("track seeders/leechers %d/%d, want 1/2", tr.Seeders, tr.Leechers)
	}
	list := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks, "", nil))
	if len(list.Tracks) != 1 || list.Tracks[0].Seeders != 1 || list.Tracks[0].Leechers != 2 {
		t.Errorf("list seeders/leechers: %+v", list.Tracks)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	var h metainfo.Hash
	if err := h.FromHexString(s); err != nil {
		t.Fatal(err)
	}
	return h[:]
}

func TestPublishAuth(t *testing.T) {
	f := newFixture(t, aliceToken, bobToken)
	if r, _ := f.publish(t, aliceToken, "first", nil); r.status != http.StatusCreated {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	before := f.count(t)
	torrent, id := buildTorrent(t, torrentSpec{content: bytes.Repeat([]byte("denied"), 1000)})
	body := publishBody(t, torrent, nil)
	for name, header := range map[string]string{
		"none":           "",
		"wrong token":    "Bearer not-a-token",
		"empty bearer":   "Bearer ",
		"basic":          "Basic " + aliceToken,
		"token prefix":   "Bearer " + aliceToken[:5],
		"token extended": "Bearer " + aliceToken + "x",
		"bare token":     aliceToken,
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+proto.PathTracks, bytes.NewReader(body))
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := response{resp.StatusCode, resp.Header, b}
		if r.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, r.status)
		}
		checkErrorBody(t, name, r)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: no WWW-Authenticate", name)
		}
	}
	if after := f.count(t); after != before {
		t.Errorf("catalog went from %d to %d tracks after refused publishes", before, after)
	}
	if r := f.do(t, "GET", proto.PathTracks+"/"+id, "", nil); r.status != http.StatusNotFound {
		t.Errorf("refused track is there: %d", r.status)
	}
	// The scheme name is case-insensitive.
	req, _ := http.NewRequest("POST", f.srv.URL+proto.PathTracks, bytes.NewReader(body))
	req.Header.Set("Authorization", "bearer "+bobToken)
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("lowercase bearer: %d", resp.StatusCode)
	}
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "unauthorized"); got != 7 {
		t.Errorf("unauthorized publishes counted %v, want 7", got)
	}
}

func TestPublishDisabled(t *testing.T) {
	f := newFixture(t) // no tokens
	r, _ := f.publish(t, aliceToken, "x", nil)
	if r.status != http.StatusUnauthorized || r.errorText() != DisabledMessage {
		t.Errorf("publish without configured tokens: %d %q", r.status, r.errorText())
	}
	r = f.do(t, "DELETE", proto.PathTracks+"/"+strings.Repeat("ab", 20), aliceToken, nil)
	if r.status != http.StatusUnauthorized || r.errorText() != DisabledMessage {
		t.Errorf("delete without configured tokens: %d %q", r.status, r.errorText())
	}
	if f.count(t) != 0 {
		t.Error("catalog changed")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a catalog: no error")
	}
}

func TestPublishIdempotent(t *testing.T) {
	f := newFixture(t, aliceToken, bobToken)
	torrent, id := buildTorrent(t, torrentSpec{})
	body := publishBody(t, torrent, nil)
	if r := f.do(t, "POST", proto.PathTracks, aliceToken, body); r.status != http.StatusCreated {
		t.Fatalf("first publish: %d %s", r.status, r.body)
	}
	r := f.do(t, "POST", proto.PathTracks, aliceToken, body)
	if r.status != http.StatusOK || decode[proto.Track](t, r).ID != id {
		t.Errorf("republish: %d %s", r.status, r.body)
	}
	// Another publisher re-publishing the same torrent gets the existing
	// track (first metadata wins) and does not become its owner.
	r = f.do(t, "POST", proto.PathTracks, bobToken, publishBody(t, torrent, func(p *proto.PublishRequest) { p.Title = "Other Title" }))
	if r.status != http.StatusOK || decode[proto.Track](t, r).Title != "Paranoid Android" {
		t.Errorf("republish by another token: %d %s", r.status, r.body)
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+id, bobToken, nil); r.status != http.StatusForbidden {
		t.Errorf("delete by the re-publisher: %d", r.status)
	}
	if n := f.count(t); n != 1 {
		t.Errorf("%d tracks after republishing, want 1", n)
	}
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "exists"); got != 2 {
		t.Errorf("exists publishes %v, want 2", got)
	}
}

// TestRepublishUpdates: the same token republishing a track with other
// tags (a retagged library, a seeder that reads more tags) updates its
// entry; the listing, the search and the albums follow.
func TestRepublishUpdates(t *testing.T) {
	f := newFixture(t, aliceToken)
	torrent, id := buildTorrent(t, torrentSpec{})
	if r := f.do(t, "POST", proto.PathTracks, aliceToken, publishBody(t, torrent, nil)); r.status != http.StatusCreated {
		t.Fatalf("first publish: %d %s", r.status, r.body)
	}
	retag := func(p *proto.PublishRequest) {
		p.AlbumArtist, p.TrackNumber, p.DiscNumber, p.Year = "Radiohead", 2, 1, 1997
	}
	r := f.do(t, "POST", proto.PathTracks, aliceToken, publishBody(t, torrent, retag))
	got := decode[proto.Track](t, r)
	if r.status != http.StatusOK || got.ID != id || got.TrackNumber != 2 || got.Year != 1997 || got.AlbumArtist != "Radiohead" {
		t.Fatalf("republish with new tags: %d %s", r.status, r.body)
	}
	if got := decode[proto.Track](t, f.do(t, "GET", proto.PathTracks+"/"+id, "", nil)); got.TrackNumber != 2 || got.DiscNumber != 1 {
		t.Errorf("GET after republish: %+v", got)
	}
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "updated"); got != 1 {
		t.Errorf("updated publishes %v, want 1", got)
	}
	// The same again changes nothing.
	f.do(t, "POST", proto.PathTracks, aliceToken, publishBody(t, torrent, retag))
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "exists"); got != 1 {
		t.Errorf("exists publishes %v, want 1", got)
	}
}

// TestAlbums: GET /api/v1/albums lists and searches albums; GET
// /api/v1/albums/{id} gives one with its tracks in order, swarm counts
// filled.
func TestAlbums(t *testing.T) {
	f := newFixture(t, aliceToken)
	for i, title := range []string{"Airbag", "Paranoid Android", "Subterranean Homesick Alien"} {
		r, _ := f.publish(t, aliceToken, title, func(p *proto.PublishRequest) {
			p.Title, p.TrackNumber, p.Year = title, 3-i, 1997 // published last to first
		})
		if r.status != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", title, r.status, r.body)
		}
	}
	f.publish(t, aliceToken, "other", func(p *proto.PublishRequest) { p.Artist, p.Album = "Massive Attack", "Mezzanine" })
	list := decode[proto.AlbumList](t, f.do(t, "GET", proto.PathAlbums, "", nil))
	if list.Total != 2 || len(list.Albums) != 2 || list.Albums[0].Artist != "Massive Attack" || list.Albums[1].Title != "OK Computer" {
		t.Fatalf("albums: %+v", list)
	}
	ok := list.Albums[1]
	if ok.TrackCount != 3 || ok.Year != 1997 || ok.ID != proto.AlbumID("Radiohead", "OK Computer") {
		t.Errorf("album %+v", ok)
	}
	if l := decode[proto.AlbumList](t, f.do(t, "GET", proto.PathAlbums+"?q=radio&limit=1", "", nil)); l.Total != 1 || l.Albums[0].ID != ok.ID {
		t.Errorf("albums?q=radio: %+v", l)
	}
	if l := decode[proto.AlbumList](t, f.do(t, "GET", proto.PathAlbums+"?q=airbag", "", nil)); l.Total != 0 || l.Albums == nil {
		t.Errorf("albums?q=airbag (a title): %+v; want none, as []", l)
	}
	at := decode[proto.AlbumTracks](t, f.do(t, "GET", proto.PathAlbums+"/"+ok.ID, "", nil))
	var titles []string
	for _, tr := range at.Tracks {
		titles = append(titles, tr.Title)
		if tr.SeedURLs == nil {
			t.Errorf("album track %s has seed_urls null", tr.Title)
		}
	}
	if at.Album != ok || strings.Join(titles, ", ") != "Subterranean Homesick Alien, Paranoid Android, Airbag" {
		t.Errorf("album %+v tracks %v; want them by track number", at.Album, titles)
	}
	// The JSON carries the field names of the contract.
	raw := string(f.do(t, "GET", proto.PathAlbums, "", nil).body)
	for _, field := range []string{`"albums":`, `"album":"OK Computer"`, `"album_artist":"Radiohead"`, `"year":1997`, `"track_count":3`, `"total":2`} {
		if !strings.Contains(raw, field) {
			t.Errorf("albums JSON %s lacks %s", raw, field)
		}
	}
	raw = string(f.do(t, "GET", proto.PathTracks+"?q=airbag", "", nil).body)
	for _, field := range []string{`"track_number":3`, `"disc_number":0`, `"year":1997`, `"album_artist":""`} {
		if !strings.Contains(raw, field) {
			t.Errorf("tracks JSON %s lacks %s", raw, field)
		}
	}
}

func TestPublishInvalid(t *testing.T) {
	f := newFixture(t, aliceToken)
	multi, _ := buildTorrent(t, torrentSpec{multiFile: true})
	exe, _ := buildTorrent(t, torrentSpec{name: "x.exe"})
	for _, tt := range []struct {
		name   string
		body   []byte
		status int
	}{
		{"garbage", []byte("garbage"), http.StatusBadRequest},
		{"unknown field", []byte(`{"titel":"x"}`), http.StatusBadRequest},
		{"not a torrent", publishBody(t, []byte("hello"), nil), http.StatusUnprocessableEntity},
		{"multi-file", publishBody(t, multi, nil), http.StatusUnprocessableEntity},
		{"not audio", publishBody(t, exe, nil), http.StatusUnprocessableEntity},
		{"no title", publishBody(t, multi, func(r *proto.PublishRequest) { r.Title = "" }), http.StatusUnprocessableEntity},
		{"negative track", publishBody(t, multi, func(r *proto.PublishRequest) { r.TrackNumber = -1 }), http.StatusUnprocessableEntity},
		{"disc 1000", publishBody(t, multi, func(r *proto.PublishRequest) { r.DiscNumber = 1000 }), http.StatusUnprocessableEntity},
		{"year 10000", publishBody(t, multi, func(r *proto.PublishRequest) { r.Year = 10000 }), http.StatusUnprocessableEntity},
		{"control in album artist", publishBody(t, multi, func(r *proto.PublishRequest) { r.AlbumArtist = "a\x07b" }), http.StatusUnprocessableEntity},
		{"too large", bytes.Repeat([]byte(" "), MaxPublishBody+1), http.StatusRequestEntityTooLarge},
	} {
		if r := f.do(t, "POST", proto.PathTracks, aliceToken, tt.body); r.status != tt.status {
			t.Errorf("%s: status %d (%s), want %d", tt.name, r.status, r.errorText(), tt.status)
		}
	}
	if f.count(t) != 0 {
		t.Error("an invalid publish changed the catalog")
	}
}

func TestDelete(t *testing.T) {
	f := newFixture(t, aliceToken, bobToken)
	r, id := f.publish(t, aliceToken, "delete me", nil)
	if r.status != http.StatusCreated {
		t.Fatal(r.status)
	}
	path := proto.PathTracks + "/" + id
	for _, tt := range []struct {
		name, path, token string
		status            int
	}{
		{"no token", path, "", http.StatusUnauthorized},
		{"invalid token", path, "nope", http.StatusUnauthorized},
		{"other publisher", path, bobToken, http.StatusForbidden},
		{"unknown id", proto.PathTracks + "/" + strings.Repeat("0", 40), aliceToken, http.StatusNotFound},
		{"bad id", proto.PathTracks + "/xyz", aliceToken, http.StatusBadRequest},
	} {
		if r := f.do(t, "DELETE", tt.path, tt.token, nil); r.status != tt.status {
			t.Errorf("%s: %d, want %d", tt.name, r.status, tt.status)
		}
	}
	if f.count(t) != 1 {
		t.Fatal("a refused delete changed the catalog")
	}
	if r := f.do(t, "DELETE", proto.PathTracks+"/"+strings.ToUpper(id), aliceToken, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("delete by its publisher: %d %q", r.status, r.body)
	}
	if r := f.do(t, "GET", path, "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET after delete: %d", r.status)
	}
	if r := f.do(t, "GET", path+"/torrent", "", nil); r.status != http.StatusNotFound {
		t.Errorf("GET torrent after delete: %d", r.status)
	}
	if r := f.do(t, "DELETE", path, aliceToken, nil); r.status != http.StatusNotFound {
		t.Errorf("second delete: %d", r.status)
	}
}

func TestPagination(t *testing.T) {
	f := newFixture(t, aliceToken)
	ctx := context.Background()
	for i := range 60 {
		if _, _, err := f.catalog.Put(ctx, catalogtest.NewEntry(fmt.Sprint(i), fmt.Sprintf("Song %02d", i), "Pager", "Pages")); err != nil {
			t.Fatal(err)
		}
	}
	list := decode[proto.TrackList](t, f.do(t, "GET", proto.PathTracks, "", nil))
	if list.Total != 60 || len(list.Tracks) != proto.DefaultLimit {
		t.Errorf("default page: %d tracks, total %d; want %d, 60", len(list.Tracks), list.Total, proto.DefaultLimit)
	}
	var seen []string
	for offset := 0; offset < 60; offset += 25 {
		page := decode[proto.TrackList](t, f.do(t, "GET", fmt.Sprintf("%s?q=pager&limit=25&offset=%d", proto.PathTracks, offset), "", nil))
		if page.Total != 60 || len(page.Tracks) != min(25, 60-offset) {
			t.Errorf("offset %d: %d tracks, total %d", offset, len(page.Tracks), page.Total)
		}
		for _, tr := range page.Tracks {
			seen = append(seen, tr.ID)
		}
	}
	unique := map[string]bool{}
	for _, id := range seen {
		unique[id] = true
	}
	if len(seen) != 60 || len(unique) != 60 {
		t.Errorf("pages gave %d ids, %d distinct; want 60", len(seen), len(unique))
	}
	if r := f.do(t, "GET", proto.PathTracks+"?limit=500&offset=59", "", nil); r.status != http.StatusOK || len(decode[proto.TrackList](t, r).Tracks) != 1 {
		t.Errorf("limit=500 offset=59: %d %s", r.status, r.body)
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=-1", "limit=abc", "limit=1e2", "offset=-1",
		"offset=x", "limit=99999999999999999999", "q=" + strings.Repeat("a", MaxQueryLen+1)} {
		if r := f.do(t, "GET", proto.PathTracks+"?"+q, "", nil); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, r.status)
		}
	}
	// Hostile queries are answered, never with an error.
	for _, q := range []string{`%22`, `NEAR(a%20b)`, `*`, `-`, `AND%20OR%20NOT`, `(`, `%00`} {
		if r := f.do(t, "GET", proto.PathTracks+"?q="+q, "", nil); r.status != http.StatusOK {
			t.Errorf("q=%s: %d %s", q, r.status, r.body)
		}
	}
}

func TestRoutes(t *testing.T) {
	f := newFixture(t, aliceToken)
	id := strings.Repeat("ab", 20)
	info := decode[proto.Info](t, f.do(t, "GET", proto.PathInfo, "", nil))
	if info.Version != "test-1.2.3" || len(info.Announce) != 2 || info.Announce[1] != "udp://127.0.0.1:6969" {
		t.Errorf("info: %+v", info)
	}
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", proto.PathTracks + "/xyz", http.StatusBadRequest, ""},
		{"GET", proto.PathTracks + "/" + id[:39], http.StatusBadRequest, ""},
		{"GET", proto.PathTracks + "/" + id + "0", http.StatusBadRequest, ""},
		{"GET", proto.PathTracks + "/" + strings.Repeat("g", 40), http.StatusBadRequest, ""},
		{"GET", proto.PathTracks + "/xyz/torrent", http.StatusBadRequest, ""},
		{"GET", proto.PathTracks + "/" + id, http.StatusNotFound, ""},
		{"GET", proto.PathTracks + "/" + id + "/torrent", http.StatusNotFound, ""},
		{"GET", "/api/v1/nothing", http.StatusNotFound, ""},
		{"GET", proto.PathTracks + "/" + id + "/other", http.StatusNotFound, ""},
		{"PUT", proto.PathTracks, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"DELETE", proto.PathTracks, http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"POST", proto.PathInfo, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PATCH", proto.PathTracks + "/" + id, http.StatusMethodNotAllowed, "GET, HEAD, DELETE"},
		{"POST", proto.PathTracks + "/" + id, http.StatusMethodNotAllowed, "GET, HEAD, DELETE"},
		{"DELETE", proto.PathTracks + "/" + id + "/torrent", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", proto.PathAlbums + "/" + id[:32], http.StatusNotFound, ""},
		{"GET", proto.PathAlbums + "/" + id, http.StatusBadRequest, ""},
		{"GET", proto.PathAlbums + "/xyz", http.StatusBadRequest, ""},
		{"GET", proto.PathAlbums + "?limit=0", http.StatusBadRequest, ""},
		{"POST", proto.PathAlbums, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"DELETE", proto.PathAlbums + "/" + id[:32], http.StatusMethodNotAllowed, "GET, HEAD"},
	} {
		r := f.do(t, tt.method, tt.path, aliceToken, nil)
		if r.status != tt.status || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q, want %d Allow %q", tt.method, tt.path, r.status, r.header.Get("Allow"), tt.status, tt.allow)
		}
	}
	if r := f.do(t, "HEAD", proto.PathInfo, "", nil); r.status != http.StatusOK {
		t.Errorf("HEAD info: %d", r.status)
	}
}

func TestMetrics(t *testing.T) {
	f := newFixture(t, aliceToken)
	f.publish(t, aliceToken, "one", nil)
	f.publish(t, aliceToken, "two", nil)
	f.publish(t, aliceToken, "bad", func(r *proto.PublishRequest) { r.Codec = "aac" })
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "created"); got != 2 {
		t.Errorf("created %v, want 2", got)
	}
	if got := counterValue(t, f, "peertune_catalog_publishes_total", "invalid"); got != 1 {
		t.Errorf("invalid %v, want 1", got)
	}
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var tracks float64 = -2
	for _, mf := range families {
		if mf.GetName() == "peertune_catalog_tracks" {
			tracks = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if tracks != 2 {
		t.Errorf("peertune_catalog_tracks = %v, want 2", tracks)
	}
	// Registering twice on one registry is an error, not a panic.
	if _, err := New(Config{Catalog: f.catalog, Metrics: f.reg}); err == nil {
		t.Error("second registration: no error")
	}
}

// counterValue reads one labelled counter from the fixture's registry; 0
// when it has not been counted yet.
func counterValue(t *testing.T, f *fixture, name, result string) float64 {
	t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// A catalog that fails shows as a 500 JSON error, never a panic or a hang.
type failingCatalog struct{ catalog.Catalog }

func (failingCatalog) Search(context.Context, string, int, int) ([]proto.Track, int, error) {
	return nil, 0, fmt.Errorf("disk on fire")
}

func (failingCatalog) Get(context.Context, string) (catalog.Entry, error) {
	return catalog.Entry{}, fmt.Errorf("disk on fire")
}

func TestCatalogFailure(t *testing.T) {
	f := newFixture(t, aliceToken)
	h, err := New(Config{Catalog: failingCatalog{f.catalog}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	f.srv = srv
	for _, path := range []string{proto.PathTracks, proto.PathTracks + "/" + strings.Repeat("0", 40)} {
		r := f.do(t, "GET", path, "", nil)
		if r.status != http.StatusInternalServerError || strings.Contains(string(r.body), "fire") {
			t.Errorf("GET %s: %d %s; want 500 without internals", path, r.status, r.body)
		}
	}
}
