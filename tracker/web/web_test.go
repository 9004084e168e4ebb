package web

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
	"github.com/peertune/peertune/tracker/catalog/sqlite"
	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
)

var testAnnounce = []string{"http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969/announce"}

// fixture is the page over a real SQLite catalog and memory peer store.
type fixture struct {
	srv     *httptest.Server
	catalog *sqlite.Store
	swarms  *memory.Store
	n       int // tracks put so far, for distinct ids
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cat, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	swarms, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { swarms.Close() })
	h, err := New(Config{
		Catalog:            cat,
		Swarms:             swarms,
		Announce:           testAnnounce,
		AnnouncesPerSecond: func() float64 { return 2.25 },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, catalog: cat, swarms: swarms}
}

// put stores a track made from tr (its id is made up) and returns it.
func (f *fixture) put(t *testing.T, tr proto.Track) proto.Track {
	t.Helper()
	f.n++
	tr.ID = fmt.Sprintf("%040x", 0xabc000+f.n)
	if tr.Codec == "" {
		tr.Codec = proto.CodecFLAC
	}
	if tr.DurationS == 0 {
		tr.DurationS = 187.4
	}
	stored, _, err := f.catalog.Put(t.Context(), catalog.Entry{Track: tr, Torrent: []byte("d4:infod6:lengthi1eee"), Publisher: "p"})
	if err != nil {
		t.Fatal(err)
	}
	return stored.Track
}

// announce adds a peer to the track's swarm: a seeder when left is 0.
func (f *fixture) announce(t *testing.T, id string, peer int, left uint64, ev peers.Event) {
	t.Helper()
	var a peers.Announce
	if _, err := hex.Decode(a.InfoHash[:], []byte(id)); err != nil {
		t.Fatal(err)
	}
	copy(a.Peer.ID[:], fmt.Sprintf("-PP0100-%012d", peer))
	a.Peer.Addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(7000+peer))
	a.Left, a.Event = left, ev
	if _, err := f.swarms.Announce(t.Context(), a); err != nil {
		t.Fatal(err)
	}
}

type page struct {
	status int
	header http.Header
	body   string
	doc    *html.Node
}

func (f *fixture) get(t *testing.T, path string) page {
	t.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := page{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: Content-Type %q, want HTML", path, ct)
	}
	if p.doc, err = html.Parse(bytes.NewReader(b)); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return p
}

// wantPage fails unless the page answered status.
func (p page) want(t *testing.T, path string, status int) page {
	t.Helper()
	if p.status != status {
		t.Fatalf("GET %s: %d, want %d; body:\n%s", path, p.status, status, p.body)
	}
	return p
}

func find(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	for c := range n.Descendants() {
		if c.Type == html.ElementNode && match(c) {
			out = append(out, c)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for c := range n.Descendants() {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return strings.TrimSpace(b.String())
}

// byID is the text of the element with that id, or fails.
func (p page) byID(t *testing.T, id string) string {
	t.Helper()
	n := find(p.doc, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(n) != 1 {
		t.Fatalf("%d elements with id %q in:\n%s", len(n), id, p.body)
	}
	return text(n[0])
}

// links are the href and text of the anchors with class cls.
func (p page) links(cls string) (hrefs, texts []string) {
	for _, n := range find(p.doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "class") == cls }) {
		hrefs = append(hrefs, attr(n, "href"))
		texts = append(texts, text(n))
	}
	return hrefs, texts
}

// The front page without a query: the catalog's and the peer store's
// totals, the announce rate, the search box and the way to browse.
func TestHomeTotals(t *testing.T) {
	f := newFixture(t)
	p := f.get(t, "/").want(t, "/", http.StatusOK)
	for id, want := range map[string]string{"tracks": "0", "albums": "0", "torrents": "0", "seeders": "0", "leechers": "0"} {
		if got := p.byID(t, id); got != want {
			t.Errorf("empty catalog: %s = %q, want %q", id, got, want)
		}
	}

	a := f.put(t, proto.Track{Title: "So What", Artist: "Miles Davis", Album: "Kind of Blue", TrackNumber: 1})
	f.put(t, proto.Track{Title: "Freddie Freeloader", Artist: "Miles Davis", Album: "Kind of Blue", TrackNumber: 2})
	f.put(t, proto.Track{Title: "Naima", Artist: "John Coltrane", Album: "Giant Steps"})
	f.put(t, proto.Track{Title: "A single", Artist: "Nobody"}) // no album: a track, not an album
	f.announce(t, a.ID, 1, 0, peers.EventStarted)
	f.announce(t, a.ID, 2, 500, peers.EventStarted)
	f.announce(t, a.ID, 3, 500, peers.EventStarted)

	p = f.get(t, "/").want(t, "/", http.StatusOK)
	for id, want := range map[string]string{"tracks": "4", "albums": "2", "torrents": "1", "seeders": "1", "leechers": "2",
		"announce-rate": "2.2 per second over the last minute"} {
		if got := p.byID(t, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	form := find(p.doc, func(n *html.Node) bool { return attr(n, "id") == "search" })
	if len(form) != 1 || attr(form[0], "action") != "/" || attr(form[0], "method") != "get" {
		t.Fatalf("no search form that GETs /: %v", form)
	}
	if input := find(form[0], func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "q" }); len(input) != 1 {
		t.Fatal("the search form has no q box")
	}
	if browse := find(p.doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "href") == "/artists" }); len(browse) == 0 {
		t.Error("no link to /artists")
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	// A blank query is no query.
	if p := f.get(t, "/?q=++").want(t, "/?q=++", http.StatusOK); p.byID(t, "tracks") != "4" {
		t.Error("a blank query did not show the totals")
	}
}

// A search lists the catalog's ranked matches, each linking to its track,
// 50 a page with a next page link; bad input is a 400 page.
func TestSearch(t *testing.T) {
	f := newFixture(t)
	so := f.put(t, proto.Track{Title: "So What", Artist: "Miles Davis", Album: "Kind of Blue", Year: 1959})
	f.put(t, proto.Track{Title: "Naima", Artist: "John Coltrane", Album: "Giant Steps"})
	hostile := f.put(t, proto.Track{Title: `<script>alert("x")</script> Miles & "Co"`, Artist: "Miles Smith"})

	p := f.get(t, "/?q=miles").want(t, "/?q=miles", http.StatusOK)
	hrefs, titles := p.links("track")
	if len(hrefs) != 2 || !slices.Contains(hrefs, "/tracks/"+so.ID) || !slices.Contains(hrefs, "/tracks/"+hostile.ID) {
		t.Fatalf("search miles: links %v, want the two Miles tracks", hrefs)
	}
	if !slices.Contains(titles, hostile.Title) {
		t.Errorf("titles %q: the hostile title is not shown as text", titles)
	}
	if strings.Contains(p.body, "<script>") {
		t.Error("a title's <script> reached the page unescaped")
	}
	if box := find(p.doc, func(n *html.Node) bool { return attr(n, "id") == "q" }); attr(box[0], "value") != "miles" {
		t.Errorf("search box value %q, want the query", attr(box[0], "value"))
	}
	if _, ok := p.linkByRel("next"); ok {
		t.Error("a next page link on the only page")
	}
	if p := f.get(t, "/?q=coltrane+steps"); len(must(p.links("track"))) != 1 {
		t.Errorf("search coltrane steps: %v", must(p.links("track")))
	}
	if p := f.get(t, "/?q=nothing-like-it").want(t, "", http.StatusOK); !strings.Contains(p.body, "No track matches") {
		t.Error("an empty result does not say so")
	}

	// 53 matches: 50 on page 1, 3 on page 2, linked both ways.
	for i := range 51 {
		f.put(t, proto.Track{Title: fmt.Sprintf("Interlude %02d", i), Artist: "Ensemble"})
	}
	p = f.get(t, "/?q=interlude").want(t, "", http.StatusOK)
	if n := len(must(p.links("track"))); n != PageSize {
		t.Fatalf("page 1: %d matches, want %d", n, PageSize)
	}
	next, ok := p.linkByRel("next")
	if !ok || next != "/?page=2&q=interlude" {
		t.Fatalf("page 1: next link %q", next)
	}
	p = f.get(t, next).want(t, next, http.StatusOK)
	if n := len(must(p.links("track"))); n != 1 {
		t.Fatalf("page 2: %d matches, want 1", n)
	}
	if _, ok := p.linkByRel("next"); ok {
		t.Error("page 2 (the last) has a next link")
	}
	if prev, _ := p.linkByRel("prev"); prev != "/?q=interlude" {
		t.Errorf("page 2: prev link %q", prev)
	}
	if p := f.get(t, "/?q=interlude&page=9").want(t, "", http.StatusOK); !strings.Contains(p.body, "there are 51 in all") {
		t.Errorf("a page past the end: %s", p.body)
	}

	for _, bad := range []string{"/?q=miles&page=0", "/?q=miles&page=two", "/?q=miles&page=-1", "/?q=" + strings.Repeat("a", 257)} {
		p := f.get(t, bad).want(t, bad, http.StatusBadRequest)
		if p.byID(t, "message") == "" {
			t.Errorf("GET %s: a 400 page without a message", bad)
		}
	}
}

func (p page) linkByRel(rel string) (string, bool) {
	n := find(p.doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "rel") == rel })
	if len(n) == 0 {
		return "", false
	}
	return attr(n[0], "href"), true
}

func must(hrefs, _ []string) []string { return hrefs }

// /artists groups the album listing by album artist, each album linking to
// its page.
func TestArtists(t *testing.T) {
	f := newFixture(t)
	if p := f.get(t, "/artists").want(t, "/artists", http.StatusOK); !strings.Contains(p.body, "No album is published yet") {
		t.Error("an empty catalog's artists page does not say so")
	}
	f.put(t, proto.Track{Title: "So What", Artist: "Miles Davis", Album: "Kind of Blue", Year: 1959})
	f.put(t, proto.Track{Title: "Miles Runs the Voodoo Down", Artist: "miles davis", Album: "Bitches Brew", Year: 1970})
	f.put(t, proto.Track{Title: "Naima", Artist: "John Coltrane", Album: "Giant Steps", Year: 1960})
	f.put(t, proto.Track{Title: "Ode", Artist: "Someone", AlbumArtist: "Various Artists", Album: "Jazz Sampler"})

	p := f.get(t, "/artists").want(t, "/artists", http.StatusOK)
	var got []string
	for _, sec := range find(p.doc, func(n *html.Node) bool { return n.Data == "section" && attr(n, "class") == "artist" }) {
		h2 := find(sec, func(n *html.Node) bool { return n.Data == "h2" })
		line := text(h2[0]) + ":"
		for _, a := range find(sec, func(n *html.Node) bool { return attr(n, "class") == "album" }) {
			line += " " + text(a)
			if !strings.HasPrefix(attr(a, "href"), "/albums/") {
				t.Errorf("album link %q", attr(a, "href"))
			}
		}
		got = append(got, line)
	}
	want := []string{"John Coltrane: Giant Steps", "Miles Davis: Kind of Blue Bitches Brew", "Various Artists: Jazz Sampler"}
	if !slices.Equal(got, want) {
		t.Errorf("artists page:\n got %q\nwant %q", got, want)
	}
	// Each album link leads to that album.
	hrefs, titles := p.links("album")
	for i, href := range hrefs {
		if h1 := f.get(t, href).want(t, href, http.StatusOK).h1(); h1 != titles[i] {
			t.Errorf("%s: heading %q, want %q", href, h1, titles[i])
		}
	}
	for _, bad := range []string{"/artists?page=0", "/artists?page=x"} {
		f.get(t, bad).want(t, bad, http.StatusBadRequest)
	}
}

func (p page) h1() string {
	h := find(p.doc, func(n *html.Node) bool { return n.Data == "h1" })
	if len(h) == 0 {
		return ""
	}
	return text(h[0])
}

// An album's page lists its tracks in disc and track order, each linking
// to its page; a bad or unknown id is a 404 page.
func TestAlbum(t *testing.T) {
	f := newFixture(t)
	var ids []string
	for _, tr := range []proto.Track{
		{Title: "Third", TrackNumber: 3, DiscNumber: 1},
		{Title: "Second disc, first", TrackNumber: 1, DiscNumber: 2},
		{Title: "First", TrackNumber: 1, DiscNumber: 1},
		{Title: "Second", TrackNumber: 2, DiscNumber: 1},
	} {
		tr.Artist, tr.Album, tr.Year = "Band", "Double", 2001
		ids = append(ids, f.put(t, tr).ID)
	}
	f.announce(t, ids[2], 1, 0, peers.EventStarted)
	path := "/albums/" + proto.AlbumID("Band", "Double")
	p := f.get(t, path).want(t, path, http.StatusOK)
	hrefs, titles := p.links("track")
	if want := []string{"First", "Second", "Third", "Second disc, first"}; !slices.Equal(titles, want) {
		t.Errorf("album tracks %q, want %q", titles, want)
	}
	if want := []string{"/tracks/" + ids[2], "/tracks/" + ids[3], "/tracks/" + ids[0], "/tracks/" + ids[1]}; !slices.Equal(hrefs, want) {
		t.Errorf("album links %q, want %q", hrefs, want)
	}
	rows := find(p.doc, func(n *html.Node) bool { return n.Data == "tr" })
	var first []string
	for _, td := range find(rows[1], func(n *html.Node) bool { return n.Data == "td" }) {
		first = append(first, text(td))
	}
	if want := []string{"1-1", "First", "Band", "3:07", "1", "0"}; !slices.Equal(first, want) {
		t.Errorf("first row %q, want %q", first, want)
	}
	if h1 := p.h1(); h1 != "Double" {
		t.Errorf("heading %q", h1)
	}

	for _, bad := range []string{"/albums/nothex", "/albums/" + strings.Repeat("0", 32), "/albums/" + strings.Repeat("z", 32), "/albums/", "/albums/" + proto.AlbumID("Band", "Double") + "/x"} {
		f.get(t, bad).want(t, bad, http.StatusNotFound)
	}
}

// A track's page: its metadata, seed URLs, swarm (seeders, leechers,
// completed) and magnet and .torrent links; a bad or missing id is a 404.
func TestTrack(t *testing.T) {
	f := newFixture(t)
	tr := f.put(t, proto.Track{Title: "Blue in Green", Artist: "Miles Davis", Album: "Kind of Blue",
		AlbumArtist: "Miles Davis Sextet", TrackNumber: 3, DiscNumber: 1, Year: 1959, DurationS: 337.5,
		Codec: proto.CodecFLAC, Bitrate: 901_400, Size: 38_000_000, PieceLength: 32 << 10,
		SeedURLs: []string{"http://seed.example/blue.flac", "javascript:alert(1)"}})
	f.announce(t, tr.ID, 1, 0, peers.EventStarted)
	f.announce(t, tr.ID, 2, 100, peers.EventStarted)
	f.announce(t, tr.ID, 3, 100, peers.EventStarted)
	f.announce(t, tr.ID, 3, 0, peers.EventCompleted)
	f.announce(t, tr.ID, 4, 100, peers.EventStarted)
	f.announce(t, tr.ID, 5, 100, peers.EventStarted)

	path := "/tracks/" + tr.ID
	p := f.get(t, path).want(t, path, http.StatusOK)
	for id, want := range map[string]string{"seeders": "2", "leechers": "3", "completed": "1"} {
		if got := p.byID(t, id); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	meta := map[string]string{}
	dl := find(p.doc, func(n *html.Node) bool { return attr(n, "id") == "meta" })[0]
	var key string
	for c := range dl.ChildNodes() {
		switch c.Data {
		case "dt":
			key = text(c)
		case "dd":
			meta[key] = text(c)
		}
	}
	want := map[string]string{"Title": "Blue in Green", "Artist": "Miles Davis", "Album": "Kind of Blue",
		"Album artist": "Miles Davis Sextet", "Track": "3", "Disc": "1", "Year": "1959", "Duration": "5:38",
		"Codec": "flac", "Bitrate": "901 kbit/s", "Size": "36.2 MiB (38000000 bytes)", "Id": tr.ID}
	for k, v := range want {
		if meta[k] != v {
			t.Errorf("%s: %q, want %q", k, meta[k], v)
		}
	}
	var seeds []string
	for _, a := range find(p.doc, func(n *html.Node) bool { return n.Data == "a" && n.Parent.Data == "li" }) {
		seeds = append(seeds, attr(a, "href"))
	}
	// html/template keeps the http URL and defuses the javascript: one.
	if !slices.Equal(seeds, []string{"http://seed.example/blue.flac", "#ZgotmplZ"}) {
		t.Errorf("seed URL links %q", seeds)
	}
	if got := p.byID(t, "seed-urls"); !strings.Contains(got, "http://seed.example/blue.flac") || !strings.Contains(got, "javascript:alert(1)") {
		t.Errorf("seed URLs shown as %q, want both as text", got)
	}

	magnet := attrByID(t, p, "magnet", "href")
	mu, err := url.Parse(magnet)
	if err != nil || mu.Scheme != "magnet" {
		t.Fatalf("magnet link %q: %v", magnet, err)
	}
	mq := mu.Query()
	if mq.Get("xt") != "urn:btih:"+tr.ID || mq.Get("dn") != tr.Title || !slices.Equal(mq["tr"], testAnnounce) {
		t.Errorf("magnet link %q: %v", magnet, mq)
	}
	if got := attrByID(t, p, "torrent", "href"); got != "/api/v1/tracks/"+tr.ID+"/torrent" {
		t.Errorf(".torrent link %q", got)
	}
	if got := attrByID(t, p, "album", "href"); got != "/albums/"+proto.AlbumID("Miles Davis Sextet", "Kind of Blue") {
		t.Errorf("album link %q", got)
	}
	// The id is case-insensitive, as in the API.
	f.get(t, "/tracks/"+strings.ToUpper(tr.ID)).want(t, path, http.StatusOK)

	for _, bad := range []string{"/tracks/xyz", "/tracks/" + strings.Repeat("0", 40), "/tracks/" + strings.Repeat("g", 40), "/tracks/", "/tracks/" + tr.ID + "/torrent"} {
		p := f.get(t, bad).want(t, bad, http.StatusNotFound)
		if p.byID(t, "message") == "" {
			t.Errorf("GET %s: a 404 page without a message", bad)
		}
	}
}

func attrByID(t *testing.T, p page, id, key string) string {
	t.Helper()
	n := find(p.doc, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(n) != 1 {
		t.Fatalf("%d elements with id %q", len(n), id)
	}
	return attr(n[0], key)
}

// Every other path is a 404 page; the style sheet is served.
func TestNotFoundAndStyle(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/nope", "/index.html", "/artists/x", "/static/", "/static/other.css", "/tracks", "/albums", "/%3Cscript%3E"} {
		p := f.get(t, path).want(t, path, http.StatusNotFound)
		if strings.Contains(p.body, "<script>") {
			t.Errorf("GET %s: the path reached the page unescaped", path)
		}
	}
	resp, err := f.srv.Client().Get(f.srv.URL + StylePath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" || !bytes.Equal(b, style) {
		t.Errorf("GET %s: %d %q, %d bytes", StylePath, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
	}
}

// A peer store that does not answer leaves the catalog on show; a catalog
// that does not answer is a 500 page.
func TestStoreFailures(t *testing.T) {
	f := newFixture(t)
	tr := f.put(t, proto.Track{Title: "So What", Artist: "Miles Davis", Album: "Kind of Blue"})
	f.swarms.Close()
	if p := f.get(t, "/").want(t, "/", http.StatusOK); !strings.Contains(p.byID(t, "torrents"), "unavailable") {
		t.Errorf("totals with a closed peer store: %q", p.byID(t, "torrents"))
	}
	if p := f.get(t, "/tracks/"+tr.ID).want(t, "", http.StatusOK); !strings.Contains(p.byID(t, "swarm"), "Unavailable") {
		t.Errorf("a track with a closed peer store: %q", p.byID(t, "swarm"))
	}
	if p := f.get(t, "/?q=miles").want(t, "", http.StatusOK); len(must(p.links("track"))) != 1 {
		t.Error("search with a closed peer store lost the match")
	}
	f.catalog.Close()
	for _, path := range []string{"/", "/?q=miles", "/artists", "/tracks/" + tr.ID, "/albums/" + proto.AlbumID("Miles Davis", "Kind of Blue")} {
		f.get(t, path).want(t, path, http.StatusInternalServerError)
	}
}

func TestNewNeedsStores(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a catalog and a peer store succeeded")
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{formatDuration(0), "0:00"}, {formatDuration(59.6), "1:00"}, {formatDuration(337.5), "5:38"},
		{formatDuration(3600), "1:00:00"}, {formatDuration(3725), "1:02:05"},
		{formatBytes(0), "0 bytes"}, {formatBytes(1023), "1023 bytes"}, {formatBytes(1536), "1.5 KiB (1536 bytes)"},
		{formatBytes(5 << 30), "5.0 GiB (5368709120 bytes)"},
		{formatBitrate(0), "—"}, {formatBitrate(320_000), "320 kbit/s"}, {formatBitrate(1_411_200), "1411 kbit/s"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}
