package catalogtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// The library suite: republishing, the library order and albums.

// libEntry is NewEntry with the library fields.
func libEntry(key, title, artist, album, albumArtist string, year, disc, track int) catalog.Entry {
	e := NewEntry(key, title, artist, album)
	e.AlbumArtist, e.Year, e.DiscNumber, e.TrackNumber = albumArtist, year, disc, track
	return e
}

func testPutUpdates(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	first := mustPut(t, c, libEntry("re", "Old Title", "Old Artist", "Old Album", "", 1999, 1, 1))
	mustPut(t, c, NewEntry("other", "Other", "Zed", "Other Album"))
	again := libEntry("re", "New Title", "New Artist", "New Album", "Various Artists", 2001, 2, 7)
	again.PublishedAt = first.PublishedAt.Add(48 * 3600e9)
	again.SeedURLs = []string{"http://127.0.0.1:7071/moved.flac"}
	again.Torrent = []byte("d4:infod6:lengthi22667000eee-moved")
	stored, created, err := c.Put(ctx, again)
	if err != nil {
		t.Fatalf("republish: %v", err)
	}
	if created {
		t.Errorf("republish: created = true")
	}
	want := again
	want.PublishedAt = first.PublishedAt // published when it first was
	equalEntry(t, "republish's stored entry", stored, want)
	got, err := c.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	equalEntry(t, "Get after republish", got, want)
	// The index follows: old words find nothing, new ones find it.
	wantIDs(t, c, "old")
	wantIDs(t, c, "new title", want)
	wantIDs(t, c, "various", want)
	if n, err := c.Count(ctx); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	tracks, _ := search(t, c, "", 10, 0)
	if got := ids(tracks); !slices.Equal(got, []string{want.ID, NewEntry("other", "", "", "").ID}) {
		t.Errorf("list after republish = %v; want the republished track (Various Artists) first", got)
	}
	albums, total, err := c.Albums(ctx, "", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(albums) != 2 || albums[0].Title != "New Album" || albums[0].Artist != "Various Artists" {
		t.Errorf("albums after republish = %+v (total %d); want New Album by Various Artists, Other Album", albums, total)
	}
}

func testPutSameAgain(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	first := mustPut(t, c, libEntry("same", "Title", "Artist", "Album", "", 2000, 1, 3))
	again := first
	again.PublishedAt = first.PublishedAt.Add(3600e9)
	stored, created, err := c.Put(ctx, again)
	if err != nil || created {
		t.Fatalf("Put again = created %v, %v; want false, nil", created, err)
	}
	equalEntry(t, "Put again", stored, first)
	wantIDs(t, c, "title", first)
	if albums, total, err := c.Albums(ctx, "", 10, 0); err != nil || total != 1 || len(albums) != 1 || albums[0].TrackCount != 1 {
		t.Errorf("albums after Put again = %+v (total %d), %v; want one album of one track", albums, total, err)
	}
}

func testListLibraryOrder(t *testing.T, c catalog.Catalog) {
	// Album artist (or artist), year, album, disc, track, title; lower and
	// upper case alike.
	var (
		comp2 = libEntry("c2", "Zebra", "Guest", "Compilation", "Various", 1990, 1, 2)
		comp1 = libEntry("c1", "Yak", "Other Guest", "Compilation", "various", 1990, 1, 1)
		late  = libEntry("l1", "A Song", "Band", "Later", "", 2005, 1, 1)
		d2t1  = libEntry("e3", "First On Disc Two", "Band", "Early", "", 1995, 2, 1)
		d1t2  = libEntry("e2", "Aardvark", "band", "Early", "", 1995, 1, 2)
		d1t1  = libEntry("e1", "Zulu", "Band", "early", "", 1995, 1, 1)
		noTag = libEntry("n1", "Untagged", "Band", "", "", 0, 0, 0)
	)
	for _, e := range []catalog.Entry{comp2, late, d2t1, comp1, d1t2, noTag, d1t1} {
		mustPut(t, c, e)
	}
	want := []string{noTag.ID, d1t1.ID, d1t2.ID, d2t1.ID, late.ID, comp1.ID, comp2.ID}
	tracks, total := search(t, c, "", 100, 0)
	if got := ids(tracks); !slices.Equal(got, want) || total != len(want) {
		var titles []string
		for _, tr := range tracks {
			titles = append(titles, tr.Title)
		}
		t.Errorf("list = %v (total %d), want untagged, early disc 1 (zulu, aardvark), early disc 2, later, compilation 1, 2", titles, total)
	}
	if !slices.IsSortedFunc(tracks, catalog.ListCompare) {
		t.Errorf("list is not in catalog.ListCompare's order")
	}
	for _, tr := range tracks {
		if tr.ID == comp1.ID && (tr.AlbumArtist != "various" || tr.Year != 1990 || tr.DiscNumber != 1 || tr.TrackNumber != 1) {
			t.Errorf("listed track %+v lost its library fields", tr)
		}
	}
}

func testSearchAlbumArtist(t *testing.T, c catalog.Catalog) {
	a := mustPut(t, c, libEntry("a", "Get Lucky", "Daft Punk feat. Pharrell", "Random Access Memories", "Daft Punk", 2013, 1, 8))
	mustPut(t, c, NewEntry("b", "Teardrop", "Massive Attack", "Mezzanine"))
	wantIDs(t, c, "pharrell", a)
	wantIDs(t, c, "daft punk", a)
	tracks, _ := search(t, c, "daft", 10, 0)
	if len(tracks) != 1 || tracks[0].AlbumArtist != "Daft Punk" || tracks[0].TrackNumber != 8 {
		t.Errorf("search result %+v lost its library fields", tracks)
	}
}

func albums(t *testing.T, c catalog.Catalog, q string, limit, offset int) ([]proto.Album, int) {
	t.Helper()
	as, total, err := c.Albums(context.Background(), q, limit, offset)
	if err != nil {
		t.Fatalf("Albums(%q, %d, %d): %v", q, limit, offset, err)
	}
	if as == nil {
		t.Fatalf("Albums(%q): nil slice; want an empty one", q)
	}
	return as, total
}

func albumTitles(as []proto.Album) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Artist + "/" + a.Title
	}
	return out
}

func testAlbums(t *testing.T, c catalog.Catalog) {
	for _, e := range []catalog.Entry{
		libEntry("b1", "B One", "Beta", "Second", "", 2010, 1, 1),
		libEntry("b2", "B Two", "Beta", "second", "", 0, 1, 2), // same album, other case, no year
		libEntry("b3", "B Three", "Beta", "First", "", 2004, 1, 1),
		libEntry("a1", "A One", "Alpha", "Only", "", 0, 0, 0),
		libEntry("v1", "V One", "Guest One", "Mix", "Various", 1999, 1, 1),
		libEntry("v2", "V Two", "Guest Two", "Mix", "Various", 1998, 1, 2),
		libEntry("s1", "Single", "Alpha", "", "", 2020, 0, 0), // no album: in no album
	} {
		mustPut(t, c, e)
	}
	as, total := albums(t, c, "", 100, 0)
	want := []string{"Alpha/Only", "Beta/First", "Beta/Second", "Various/Mix"}
	if got := albumTitles(as); !slices.Equal(got, want) || total != len(want) {
		t.Fatalf("albums = %v (total %d), want %v", got, total, want)
	}
	wantCounts := []int{1, 1, 2, 2}
	wantYears := []int{0, 2004, 2010, 1998}
	for i, a := range as {
		if a.TrackCount != wantCounts[i] || a.Year != wantYears[i] {
			t.Errorf("album %s: %d tracks, year %d; want %d, %d", want[i], a.TrackCount, a.Year, wantCounts[i], wantYears[i])
		}
		if a.ID != proto.AlbumID(a.Artist, a.Title) {
			t.Errorf("album %s: id %q, want proto.AlbumID's %q", want[i], a.ID, proto.AlbumID(a.Artist, a.Title))
		}
	}
	// Albums order by year within an artist: an earlier year first even
	// when its name sorts later.
	mustPut(t, c, libEntry("b4", "B Four", "Beta", "Zero Hour", "", 2001, 1, 1))
	as, _ = albums(t, c, "", 100, 0)
	want = []string{"Alpha/Only", "Beta/Zero Hour", "Beta/First", "Beta/Second", "Various/Mix"}
	if got := albumTitles(as); !slices.Equal(got, want) {
		t.Errorf("albums = %v, want %v", got, want)
	}
}

func testAlbumsQuery(t *testing.T, c catalog.Catalog) {
	for _, e := range []catalog.Entry{
		libEntry("d1", "One More Time", "Daft Punk", "Discovery", "", 2001, 1, 1),
		libEntry("d2", "Aerodynamic", "Daft Punk", "Discovery", "", 2001, 1, 2),
		libEntry("d3", "Da Funk", "Daft Punk", "Homework", "", 1997, 1, 7),
		libEntry("o1", "Discovery Channel", "Someone Else", "Unrelated", "", 2010, 1, 1),
		libEntry("c1", "Get Lucky", "Daft Punk feat. Pharrell", "Random Access Memories", "Daft Punk", 2013, 1, 8),
	} {
		mustPut(t, c, e)
	}
	cases := []struct {
		q    string
		want []string
	}{
		{"daft", []string{"Daft Punk/Homework", "Daft Punk/Discovery", "Daft Punk/Random Access Memories"}},
		{"discovery", []string{"Daft Punk/Discovery"}}, // the title "Discovery Channel" does not count
		{"daft disc", []string{"Daft Punk/Discovery"}},
		{"pharrell", []string{"Daft Punk/Random Access Memories"}}, // a track artist of the album
		{"lucky", nil},
		{"!!", nil},
	}
	for _, tc := range cases {
		as, total := albums(t, c, tc.q, 100, 0)
		if got := albumTitles(as); !slices.Equal(got, append([]string{}, tc.want...)) || total != len(tc.want) {
			t.Errorf("Albums(%q) = %v (total %d), want %v", tc.q, got, total, tc.want)
		}
	}
	// A match counts every track of its album, not only those that matched.
	if as, _ := albums(t, c, "aerodynamic discovery", 10, 0); len(as) != 0 {
		t.Errorf("Albums(title word) = %v; titles must not match", albumTitles(as))
	}
	if as, _ := albums(t, c, "discovery", 10, 0); len(as) != 1 || as[0].TrackCount != 2 {
		t.Errorf("Albums(discovery) = %+v; want Discovery with its 2 tracks", as)
	}
}

func testAlbumsPagination(t *testing.T, c catalog.Catalog) {
	const n = 12
	for i := range n {
		mustPut(t, c, libEntry(fmt.Sprint("pa", i), "Song", "Pager", fmt.Sprintf("Album %02d", i), "", 2000, 1, 1))
		mustPut(t, c, libEntry(fmt.Sprint("pb", i), "Song B", "Pager", fmt.Sprintf("Album %02d", i), "", 2000, 1, 2))
	}
	for _, q := range []string{"", "pager"} {
		all, total := albums(t, c, q, 100, 0)
		if total != n || len(all) != n {
			t.Fatalf("q=%q: %d albums, total %d; want %d", q, len(all), total, n)
		}
		var paged []string
		for offset := 0; offset < total; offset += 5 {
			page, pageTotal := albums(t, c, q, 5, offset)
			if pageTotal != total || len(page) != min(5, total-offset) {
				t.Errorf("q=%q offset %d: page of %d, total %d", q, offset, len(page), pageTotal)
			}
			paged = append(paged, albumTitles(page)...)
		}
		if !slices.Equal(paged, albumTitles(all)) {
			t.Errorf("q=%q: pages %v differ from one page %v", q, paged, albumTitles(all))
		}
		if page, pageTotal := albums(t, c, q, 0, 0); len(page) != 0 || pageTotal != n {
			t.Errorf("q=%q limit 0: %d albums, total %d", q, len(page), pageTotal)
		}
		if page, pageTotal := albums(t, c, q, 5, n+3); len(page) != 0 || pageTotal != n {
			t.Errorf("q=%q past the end: %d albums, total %d", q, len(page), pageTotal)
		}
	}
}

func testAlbumTracks(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	t3 := mustPut(t, c, libEntry("t3", "Third", "Band", "Record", "", 2002, 1, 3))
	d2 := mustPut(t, c, libEntry("d2", "Disc Two Opener", "Band", "Record", "", 2002, 2, 1))
	t1 := mustPut(t, c, libEntry("t1", "First", "Band", "record", "", 2002, 1, 1))
	mustPut(t, c, libEntry("x", "Elsewhere", "Band", "Other Record", "", 2002, 1, 2))
	id := proto.AlbumID("BAND", "RECORD")
	a, tracks, err := c.Album(ctx, id)
	if err != nil {
		t.Fatalf("Album: %v", err)
	}
	if got, want := ids(tracks), []string{t1.ID, t3.ID, d2.ID}; !slices.Equal(got, want) {
		t.Errorf("album tracks %v, want first, third, disc two opener", got)
	}
	if a.ID != id || a.TrackCount != 3 || a.Year != 2002 || a.Title != "record" || a.Artist != "Band" {
		t.Errorf("album = %+v; want its first track's names (record by Band), 3 tracks, 2002", a)
	}
	if tracks[0].SeedURLs == nil || tracks[0].Size != t1.Size {
		t.Errorf("album track %+v lacks its metadata", tracks[0])
	}
	for _, bad := range []string{proto.AlbumID("Nobody", "Nothing"), "", "zz", id + "00"} {
		if _, _, err := c.Album(ctx, bad); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Album(%q) = %v, want ErrNotFound", bad, err)
		}
	}
	// An uppercase id is the same album.
	if _, tracks, err := c.Album(ctx, toUpperHex(id)); err != nil || len(tracks) != 3 {
		t.Errorf("Album(uppercase id) = %d tracks, %v", len(tracks), err)
	}
}

func toUpperHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func testAlbumsFollowChanges(t *testing.T, c catalog.Catalog) {
	ctx := context.Background()
	a1 := mustPut(t, c, libEntry("m1", "Mover", "Band", "Before", "", 2000, 1, 1))
	mustPut(t, c, libEntry("m2", "Stayer", "Band", "Before", "", 1990, 1, 2))
	// Retagged into another album (and year): both albums follow.
	moved := libEntry("m1", "Mover", "Band", "After", "", 2011, 1, 1)
	if _, _, err := c.Put(ctx, moved); err != nil {
		t.Fatal(err)
	}
	as, _ := albums(t, c, "", 10, 0)
	if got, want := albumTitles(as), []string{"Band/Before", "Band/After"}; !slices.Equal(got, want) {
		t.Fatalf("albums after retag = %v, want %v", got, want)
	}
	if as[0].TrackCount != 1 || as[0].Year != 1990 || as[1].TrackCount != 1 || as[1].Year != 2011 {
		t.Errorf("albums after retag = %+v; want Before (1 track, 1990), After (1 track, 2011)", as)
	}
	if _, _, err := c.Album(ctx, proto.AlbumID("Band", "After")); err != nil {
		t.Errorf("Album(After): %v", err)
	}
	// The year of an album is its earliest track's: deleting that one
	// moves the album.
	mustPut(t, c, libEntry("m3", "Early Bird", "Band", "After", "", 1980, 1, 2))
	as, _ = albums(t, c, "", 10, 0)
	if got, want := albumTitles(as), []string{"Band/After", "Band/Before"}; !slices.Equal(got, want) {
		t.Errorf("albums = %v, want %v (After now from 1980)", got, want)
	}
	if err := c.Delete(ctx, NewEntry("m3", "", "", "").ID, PublisherA); err != nil {
		t.Fatal(err)
	}
	as, _ = albums(t, c, "", 10, 0)
	if got, want := albumTitles(as), []string{"Band/Before", "Band/After"}; !slices.Equal(got, want) {
		t.Errorf("albums after deleting the 1980 track = %v, want %v", got, want)
	}
	// Deleting an album's last track removes the album.
	if err := c.Delete(ctx, a1.ID, PublisherA); err != nil {
		t.Fatal(err)
	}
	as, total := albums(t, c, "", 10, 0)
	if got := albumTitles(as); !slices.Equal(got, []string{"Band/Before"}) || total != 1 {
		t.Errorf("albums after deleting After's last track = %v (total %d)", got, total)
	}
	if _, _, err := c.Album(ctx, proto.AlbumID("Band", "After")); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("Album(After) after its last track went = %v, want ErrNotFound", err)
	}
	if as, _ := albums(t, c, "after", 10, 0); len(as) != 0 {
		t.Errorf("Albums(after) = %v, want none", albumTitles(as))
	}
}
