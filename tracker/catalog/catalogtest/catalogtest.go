// Package catalogtest is the conformance suite and benchmark suite every
// catalog.Catalog backend runs:
//
//	func TestConformance(t *testing.T) { catalogtest.Run(t, newEmptyCatalog) }
//	func BenchmarkCatalog(b *testing.B) { catalogtest.Bench(b, newEmptyCatalogB) }
//
// It asserts only what the Catalog interface promises, not one backend's
// ranking arithmetic, so that sqlite and redis pass the same tests.
package catalogtest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// Publishers used by the suite: names, as the API stores them.
const (
	PublisherA = "alice"
	PublisherB = "bob"
)

// NewEntry returns a complete entry whose id is derived from key, so that
// equal keys give equal ids.
func NewEntry(key, title, artist, album string) catalog.Entry {
	sum := sha1.Sum([]byte(key))
	return catalog.Entry{
		Track: proto.Track{
			ID:          hex.EncodeToString(sum[:]),
			Title:       title,
			Artist:      artist,
			Album:       album,
			DurationS:   201.5,
			Codec:       proto.CodecFLAC,
			Bitrate:     900_000,
			Size:        22_667_000,
			PieceLength: 32 << 10,
			SeedURLs:    []string{"http://127.0.0.1:7070/" + key + ".flac"},
		},
		Torrent:     []byte("d4:infod6:lengthi22667000eee-" + key),
		Publisher:   PublisherA,
		PublishedAt: time.Date(2024, 5, 1, 12, 0, 0, 123_456_000, time.UTC),
	}
}

// Run runs the conformance suite; newCatalog returns a fresh, empty catalog
// for each subtest and arranges its cleanup.
func Run(t *testing.T, newCatalog func(t *testing.T) catalog.Catalog) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c catalog.Catalog)
	}{
		{"PutGet", testPutGet},
		{"PutByAnotherPublisherChangesNothing", testPutIdempotent},
		{"PutBySamePublisherUpdates", testPutUpdates},
		{"PutSameAgainChangesNothing", testPutSameAgain},
		{"PutCanonicalizesID", testPutCanonicalizesID},
		{"PutInvalidLeavesCatalogUnchanged", testPutInvalid},
		{"GetNotFound", testGetNotFound},
		{"SearchByWord", testSearchByWord},
		{"SearchPrefix", testSearchPrefix},
		{"SearchAllWords", testSearchAllWords},
		{"SearchCaseInsensitive", testSearchCaseInsensitive},
		{"SearchRanking", testSearchRanking},
		{"ListAllOrdered", testListAllOrdered},
		{"ListLibraryOrder", testListLibraryOrder},
		{"SearchAlbumArtist", testSearchAlbumArtist},
		{"Albums", testAlbums},
		{"AlbumsQuery", testAlbumsQuery},
		{"AlbumsPagination", testAlbumsPagination},
		{"AlbumTracks", testAlbumTracks},
		{"AlbumsFollowUpdatesAndDeletes", testAlbumsFollowChanges},
		{"Pagination", testPagination},
		{"Unicode", testUnicode},
		{"HostileQueries", testHostileQueries},
		{"Delete", testDelete},
		{"Contains", testContains},
		{"Count", testCount},
		{"Concurrent", testConcurrent},
		{"RenamePublishers", testRenamePublishers},
		{"TakedownRemovesAndRefuses", testTakedown},
		{"DenyBeforePublish", testDenyBeforePublish},
		{"DenyAgainReplaces", testDenyAgain},
		{"LiftAllowsPublishing", testLift},
		{"DenyInvalidLeavesCatalogUnchanged", testDenyInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newCatalog(t))
		})
	}
}

func mustPut(t testing.TB, c catalog.Catalog, e catalog.Entry) catalog.Entry {
	t.Helper()
	stored, created, err := c.Put(context.Background(), e)
	if err != nil {
		t.Fatalf("Put(%s): %v", e.ID, err)
	}
	if !created {
		t.Fatalf("Put(%s): created = false for a new track", e.ID)
	}
	return stored
}

func search(t *testing.T, c catalog.Catalog, q string, limit, offset int) ([]proto.Track, int) {
	t.Helper()
	tracks, total, err := c.Search(context.Background(), q, limit, offset)
	if err != nil {
		t.Fatalf("Search(%q, %d, %d): %v", q, limit, offset, err)
	}
	if tracks == nil {
		t.Fatalf("Search(%q): nil slice; want an empty one (JSON [] not null)", q)
	}
	return tracks, total
}

func ids(tracks []proto.Track) []string {
	out := make([]string, len(tracks))
	for i, tr := range tracks {
		out[i] = tr.ID
	}
	return out
}

// wantIDs checks that q finds exactly want, in any order.
func wantIDs(t *testing.T, c catalog.Catalog, q string, want ...catalog.Entry) {
	t.Helper()
	tracks, total := search(t, c, q, proto.MaxLimit, 0)
	got := ids(tracks)
	var wantIDs []string
	for _, e := range want {
		wantIDs = append(wantIDs, e.ID)
	}
	slices.Sort(got)
	slices.Sort(wantIDs)
	if !slices.Equal(got, wantIDs) || total != len(want) {
		t.Errorf("Search(%q) = %v (total %d), want %v", q, got, total, wantIDs)
	}
}

func equalEntry(t *testing.T, what string, got, want catalog.Entry) {
	t.Helper()
	if got.ID != want.ID || got.Title != want.Title || got.Artist != want.Artist ||
		got.Album != want.Album || got.AlbumArtist != want.AlbumArtist || got.TrackNumber != want.TrackNumber ||
		got.DiscNumber != want.DiscNumber || got.Year != want.Year || got.DurationS != want.DurationS || got.Codec != want.Codec ||
		got.Bitrate != want.Bitrate || got.Size != want.Size || got.PieceLength != want.PieceLength ||
		!slices.Equal(got.SeedURLs, want.SeedURLs) || string(got.Torrent) != string(want.Torrent) ||
		got.Publisher != want.Publisher || !got.PublishedAt.Equal(want.PublishedAt) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
	if got.Seeders != 0 || got.Leechers != 0 {
		t.Errorf("%s: seeders/leechers %d/%d stored; the catalog never stores them", what, got.Seeders, got.Leechers)
	}
}

func testPutGet(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := NewEntry("k1", "Windowlicker", "Aphex Twin", "Windowlicker EP")
	e.SeedURLs = []string{"http://127.0.0.1:7070/a.flac", "http://[::1]:7070/a.flac"}
	e.Seeders, e.Leechers = 3, 4 // not stored
	stored, created, err := c.Put(ctx, e)
	if err != nil || !created {
		t.Fatalf("Put = created %v, %v; want true, nil", created, err)
	}
	want := e
	want.Seeders, want.Leechers = 0, 0
	equalEntry(t, "Put's stored entry", stored, want)
	got, err := c.Get(ctx, e.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	equalEntry(t, "Get", got, want)
	if !got.PublishedAt.Equal(e.PublishedAt) || got.PublishedAt.Location() != time.UTC {
		t.Errorf("PublishedAt = %v, want %v in UTC", got.PublishedAt, e.PublishedAt)
	}

	// Tracks in search results carry the stored metadata too.
	tracks, _ := search(t, c, "windowlicker", 10, 0)
	if len(tracks) != 1 {
		t.Fatalf("search found %d tracks, want 1", len(tracks))
	}
	if tr := tracks[0]; tr.ID != e.ID || tr.Title != e.Title || tr.Size != e.Size ||
		tr.PieceLength != e.PieceLength || tr.Codec != e.Codec || tr.Bitrate != e.Bitrate ||
		tr.DurationS != e.DurationS || !slices.Equal(tr.SeedURLs, e.SeedURLs) {
		t.Errorf("search result %+v does not match stored %+v", tr, e.Track)
	}

	// A zero PublishedAt is set by Put.
	e2 := NewEntry("k2", "t", "a", "b")
	e2.PublishedAt = time.Time{}
	before := time.Now().Add(-time.Second)
	stored2 := mustPut(t, c, e2)
	if stored2.PublishedAt.Before(before) || stored2.PublishedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("PublishedAt = %v, want about now", stored2.PublishedAt)
	}
}

func testPutIdempotent(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	first := NewEntry("same", "First Title", "Artist", "Album")
	mustPut(t, c, first)
	again := first
	again.Title = "Second Title"
	again.Publisher = PublisherB
	stored, created, err := c.Put(ctx, again)
	if err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if created {
		t.Errorf("second Put of the same id: created = true")
	}
	equalEntry(t, "second Put returns the first entry", stored, first)
	got, err := c.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	equalEntry(t, "Get after second Put", got, first)
	if n, err := c.Count(ctx); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
	wantIDs(t, c, "second")
	wantIDs(t, c, "first", first)
}

func testPutCanonicalizesID(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := NewEntry("upper", "Title", "Artist", "Album")
	lower := e.ID
	e.ID = "ABCDEF" + lower[6:]
	canon := "abcdef" + lower[6:]
	stored, created, err := c.Put(ctx, e)
	if err != nil || !created {
		t.Fatalf("Put = %v, %v", created, err)
	}
	if stored.ID != canon {
		t.Errorf("stored id %q, want lowercase %q", stored.ID, canon)
	}
	if _, err := c.Get(ctx, canon); err != nil {
		t.Errorf("Get(lowercase): %v", err)
	}
	if _, err := c.Get(ctx, e.ID); err != nil {
		t.Errorf("Get(uppercase): %v", err)
	}
}

func testPutInvalid(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	mustPut(t, c, NewEntry("ok", "Keep", "Me", "Here"))
	for _, id := range []string{"", "xyz", "zz" + NewEntry("x", "", "", "").ID[2:], NewEntry("x", "", "", "").ID + "00"} {
		e := NewEntry("bad", "Bad Track", "Bad", "Bad")
		e.ID = id
		if _, _, err := c.Put(ctx, e); err == nil {
			t.Errorf("Put with id %q: no error", id)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, created, err := c.Put(cancelled, NewEntry("cancelled", "Bad Track", "Bad", "Bad")); err == nil && created {
		// A backend may finish before looking at ctx; if it reports success
		// the track must then really be there (checked below).
		t.Logf("Put with a cancelled context succeeded")
	}
	n, err := c.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tracks, total := search(t, c, "", 100, 0)
	if n != total || n != len(tracks) {
		t.Errorf("Count %d, list total %d, listed %d: disagree", n, total, len(tracks))
	}
	for _, tr := range tracks {
		if tr.Title == "Bad Track" && tr.ID != NewEntry("cancelled", "", "", "").ID {
			t.Errorf("a failed Put left track %+v", tr)
		}
	}
	wantIDs(t, c, "keep", NewEntry("ok", "", "", ""))
}

func testGetNotFound(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	mustPut(t, c, NewEntry("present", "T", "A", "B"))
	for _, id := range []string{NewEntry("absent", "", "", "").ID, "", "not-an-id"} {
		if _, err := c.Get(ctx, id); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Get(%q) error = %v, want ErrNotFound", id, err)
		}
	}
}

func testSearchByWord(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, NewEntry("a", "Paranoid Android", "Radiohead", "OK Computer"))
	b := mustPut(t, c, NewEntry("b", "Teardrop", "Massive Attack", "Mezzanine"))
	d := mustPut(t, c, NewEntry("d", "Angel", "Massive Attack", "Mezzanine"))
	wantIDs(t, c, "radiohead", a)    // artist word
	wantIDs(t, c, "android", a)      // title word
	wantIDs(t, c, "computer", a)     // album word
	wantIDs(t, c, "attack", b, d)    // artist word, two tracks
	wantIDs(t, c, "mezzanine", b, d) // album word, two tracks
	wantIDs(t, c, "teardrop", b)
	wantIDs(t, c, "nothingmatches")
}

func testSearchPrefix(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, NewEntry("a", "Paranoid Android", "Radiohead", "OK Computer"))
	b := mustPut(t, c, NewEntry("b", "Teardrop", "Massive Attack", "Mezzanine"))
	wantIDs(t, c, "radio", a)
	wantIDs(t, c, "r", a)
	wantIDs(t, c, "mezz", b)
	wantIDs(t, c, "tear", b)
	// Prefix of a word, never an infix.
	wantIDs(t, c, "head")
	wantIDs(t, c, "drop")
}

func testSearchAllWords(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, NewEntry("a", "Paranoid Android", "Radiohead", "OK Computer"))
	b := mustPut(t, c, NewEntry("b", "Karma Police", "Radiohead", "OK Computer"))
	mustPut(t, c, NewEntry("c", "Teardrop", "Massive Attack", "Mezzanine"))
	wantIDs(t, c, "radiohead android", a) // artist and title
	wantIDs(t, c, "android radiohead", a) // order does not matter
	wantIDs(t, c, "radiohead computer", a, b)
	wantIDs(t, c, "radio kar", b)       // prefixes, AND
	wantIDs(t, c, "radiohead teardrop") // each word matches some track, no track all
	wantIDs(t, c, "  radiohead   police  ", b)
}

func testSearchCaseInsensitive(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, NewEntry("a", "Paranoid Android", "Radiohead", "OK Computer"))
	wantIDs(t, c, "RADIOHEAD", a)
	wantIDs(t, c, "pArAnOiD", a)
	wantIDs(t, c, "Ok", a)
}

func testSearchRanking(t *testing.T, c catalog.Catalog) {
	// Both words of the query in the title beat one of them in the album.
	inAlbum := mustPut(t, c, NewEntry("album", "Intro", "Someone", "Blue Monday Sessions"))
	inTitle := mustPut(t, c, NewEntry("title", "Blue Monday", "New Order", "Substance"))
	mustPut(t, c, NewEntry("other", "Ceremony", "New Order", "Substance"))
	tracks, total := search(t, c, "blue monday", 10, 0)
	if total != 2 || len(tracks) != 2 {
		t.Fatalf("found %v (total %d), want 2 tracks", ids(tracks), total)
	}
	if tracks[0].ID != inTitle.ID || tracks[1].ID != inAlbum.ID {
		t.Errorf("ranked %q before %q; want the title match first", tracks[0].Title, tracks[1].Title)
	}
}

func testListAllOrdered(t *testing.T, c catalog.Catalog) {
	// Listed by artist, then album, then title, whatever the insertion order.
	e3 := NewEntry("3", "b title", "beta", "a album")
	e1 := NewEntry("1", "z title", "alpha", "b album")
	e4 := NewEntry("4", "a title", "beta", "b album")
	e0 := NewEntry("0", "m title", "alpha", "a album")
	e2 := NewEntry("2", "c title", "beta", "a album")
	for _, e := range []catalog.Entry{e3, e1, e4, e0, e2} {
		mustPut(t, c, e)
	}
	tracks, total := search(t, c, "", 100, 0)
	want := []string{e0.ID, e1.ID, e3.ID, e2.ID, e4.ID}
	if got := ids(tracks); !slices.Equal(got, want) || total != 5 {
		t.Errorf("list = %v (total %d), want %v", got, total, want)
	}
	// Whitespace only is an empty query too.
	tracks, total = search(t, c, " \t ", 100, 0)
	if total != 5 || len(tracks) != 5 {
		t.Errorf("whitespace query: %d tracks, total %d; want all 5", len(tracks), total)
	}
}

func testPagination(t *testing.T, c catalog.Catalog) {
	const n = 23
	for i := range n {
		mustPut(t, c, NewEntry(fmt.Sprint("p", i), fmt.Sprintf("Song %02d", i), "Pager", "Pages"))
	}
	mustPut(t, c, NewEntry("other", "Unrelated", "Someone", "Else"))
	for _, q := range []string{"pager", ""} {
		all, total := search(t, c, q, 100, 0)
		wantTotal := n
		if q == "" {
			wantTotal = n + 1
		}
		if total != wantTotal || len(all) != wantTotal {
			t.Fatalf("q=%q: %d tracks, total %d; want %d", q, len(all), total, wantTotal)
		}
		var paged []string
		for offset := 0; offset < total; offset += 5 {
			page, pageTotal := search(t, c, q, 5, offset)
			if pageTotal != total {
				t.Errorf("q=%q offset %d: total %d, want %d", q, offset, pageTotal, total)
			}
			wantLen := min(5, total-offset)
			if len(page) != wantLen {
				t.Errorf("q=%q offset %d: page of %d, want %d", q, offset, len(page), wantLen)
			}
			paged = append(paged, ids(page)...)
		}
		if !slices.Equal(paged, ids(all)) {
			t.Errorf("q=%q: pages concatenated\n %v\ndiffer from one big page\n %v", q, paged, ids(all))
		}
		if page, pageTotal := search(t, c, q, 5, total+10); len(page) != 0 || pageTotal != total {
			t.Errorf("q=%q past the end: %d tracks, total %d; want 0, %d", q, len(page), pageTotal, total)
		}
		if page, pageTotal := search(t, c, q, 0, 0); len(page) != 0 || pageTotal != total {
			t.Errorf("q=%q limit 0: %d tracks, total %d; want 0, %d", q, len(page), pageTotal, total)
		}
	}
}

func testUnicode(t *testing.T, c catalog.Catalog) {
	bjork := mustPut(t, c, NewEntry("bjork", "Jóga", "Björk", "Homogenic"))
	kino := mustPut(t, c, NewEntry("kino", "Группа крови", "Кино", "Группа крови"))
	jp := mustPut(t, c, NewEntry("jp", "丸の内サディスティック", "椎名林檎", "無罪モラトリアム"))
	emoji := mustPut(t, c, NewEntry("emoji", "Song 🎵 Title", "Émile Zola Band", "Ça va"))
	got, err := c.Get(context.Background(), jp.ID)
	if err != nil || got.Title != jp.Title || got.Artist != jp.Artist {
		t.Errorf("Get unicode track = %+v, %v", got.Track, err)
	}
	wantIDs(t, c, "björk", bjork)
	wantIDs(t, c, "BJÖRK", bjork)
	wantIDs(t, c, "jóga", bjork)
	wantIDs(t, c, "кино", kino)
	wantIDs(t, c, "КРОВИ", kino)
	wantIDs(t, c, "гру", kino)
	wantIDs(t, c, "椎名林檎", jp)
	wantIDs(t, c, "無罪", jp) // a prefix of a run of CJK characters
	wantIDs(t, c, "émile", emoji)
	wantIDs(t, c, "🎵 song", emoji) // the emoji is only a separator
	wantIDs(t, c, "ça", emoji)
}

func testHostileQueries(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, NewEntry("a", "Near Dark", "And Or Not", "Quote \"Unquote\""))
	mustPut(t, c, NewEntry("b", "Other", "Someone", "Else"))
	queries := []string{
		`"`, `""`, `"near`, `near"`, `*`, `**`, `-`, `--`, `- near`, `-near`, `^near`, `+`,
		`NEAR`, `NEAR(near dark)`, `near NEAR/2 dark`, `AND`, `OR`, `NOT`, `AND OR NOT`,
		`near AND dark`, `near OR x`, `near NOT dark`, `(`, `)`, `()`, `(near`, `near)`,
		`title:near`, `{title}:near`, `artist : and`, `'`, `''`, `near'`, `\`, `\"`, `%`, `_`,
		`near%`, `:`, `@`, `#`, `$`, `;`, `; DROP TABLE tracks; --`, "\x00", "near\x00dark",
		"\u0301", "\uFFFD", "\xff\xfe", `near*`, `*near`, `n*e*a*r`, `near dark*`, `[near]`,
		`{near}`, `<near>`, `near | dark`, `near & dark`, `~near`, `near~`, `near^2`,
		`quote "unquote"`, `"unquote"`, `@artist:{near}`, `@title:near*`, `=>`, `-- near`,
	}
	for _, q := range queries {
		tracks, total, err := c.Search(context.Background(), q, 10, 0)
		if err != nil {
			t.Errorf("Search(%q): %v; want results or none, never an error", q, err)
			continue
		}
		if tracks == nil || total < len(tracks) {
			t.Errorf("Search(%q): %d tracks, total %d, nil=%v", q, len(tracks), total, tracks == nil)
		}
	}
	// Operators are plain words: they find the track that has them.
	wantIDs(t, c, "NEAR", a)
	wantIDs(t, c, "AND OR NOT", a)
	wantIDs(t, c, `"unquote"`, a)
	wantIDs(t, c, "near*", a)
	wantIDs(t, c, "-near", a)
	wantIDs(t, c, "NEAR(near dark)", a)
}

func testDelete(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := mustPut(t, c, NewEntry("del", "Delete Me", "Gone", "Soon"))
	keep := mustPut(t, c, NewEntry("keep", "Keep Me", "Stays", "Here"))
	var ih [20]byte
	hex.Decode(ih[:], []byte(e.ID))

	if err := c.Delete(ctx, e.ID, PublisherB); !errors.Is(err, catalog.ErrForbidden) {
		t.Errorf("Delete by another publisher = %v, want ErrForbidden", err)
	}
	if _, err := c.Get(ctx, e.ID); err != nil {
		t.Errorf("a refused Delete removed the track: %v", err)
	}
	if err := c.Delete(ctx, NewEntry("absent", "", "", "").ID, PublisherA); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Delete of an unknown id = %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, "bogus", PublisherA); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Delete of a malformed id = %v, want ErrNotFound", err)
	}
	if err := c.Delete(ctx, e.ID, PublisherA); err != nil {
		t.Fatalf("Delete by its publisher: %v", err)
	}
	if _, err := c.Get(ctx, e.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if ok, err := c.Contains(ctx, ih); err != nil || ok {
		t.Errorf("Contains after Delete = %v, %v", ok, err)
	}
	wantIDs(t, c, "delete")
	wantIDs(t, c, "", keep)
	if err := c.Delete(ctx, e.ID, PublisherA); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
	// Deleted, it can be published again, by anyone.
	again := e
	again.Publisher = PublisherB
	stored, created, err := c.Put(ctx, again)
	if err != nil || !created || stored.Publisher != PublisherB {
		t.Errorf("Put after Delete = %+v, %v, %v", stored.Publisher, created, err)
	}
	wantIDs(t, c, "delete", again)
}

func testContains(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	e := NewEntry("c", "T", "A", "B")
	var ih [20]byte
	hex.Decode(ih[:], []byte(e.ID))
	if ok, err := c.Contains(ctx, ih); err != nil || ok {
		t.Errorf("Contains before Put = %v, %v", ok, err)
	}
	mustPut(t, c, e)
	if ok, err := c.Contains(ctx, ih); err != nil || !ok {
		t.Errorf("Contains after Put = %v, %v", ok, err)
	}
	if ok, err := c.Contains(ctx, [20]byte{}); err != nil || ok {
		t.Errorf("Contains(zero) = %v, %v", ok, err)
	}
}

func testCount(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	for i := range 3 {
		if n, err := c.Count(ctx); err != nil || n != i {
			t.Fatalf("Count = %d, %v; want %d", n, err, i)
		}
		mustPut(t, c, NewEntry(fmt.Sprint(i), "T", "A", "B"))
	}
	if err := c.Delete(ctx, NewEntry("1", "", "", "").ID, PublisherA); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count after Delete = %d, %v; want 2", n, err)
	}
}

func testConcurrent(t *testing.T, c catalog.Catalog) {
	// Writers race on overlapping ids; exactly one Put per id creates it.
	ctx := context.Background()
	const workers, perWorker = 4, 10
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created = map[string]int{}
		errs    []error
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				e := NewEntry(fmt.Sprint("conc", i), fmt.Sprint("Concurrent ", i), "Racer", "Race")
				_, ok, err := c.Put(ctx, e)
				if _, _, serr := c.Search(ctx, "racer", 5, 0); serr != nil {
					err = errors.Join(err, serr)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("worker %d: %w", w, err))
				}
				if ok {
					created[e.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(created) != perWorker {
		t.Errorf("%d ids created, want %d", len(created), perWorker)
	}
	for id, n := range created {
		if n != 1 {
			t.Errorf("id %s created %d times", id, n)
		}
	}
	if _, total := search(t, c, "racer", 100, 0); total != perWorker {
		t.Errorf("search total %d, want %d", total, perWorker)
	}
}
