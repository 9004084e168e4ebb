package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
	"github.com/peertune/peertune/tracker/catalog/catalogtest"
)

func open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "data", FileName))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog { return open(t) })
}

func BenchmarkCatalog(b *testing.B) {
	catalogtest.Bench(b, func(b *testing.B) catalog.Catalog { return open(b) })
}

func TestReopenKeepsTracks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	kept := catalogtest.NewEntry("kept", "Persistent Song", "Durable Artist", "Stored Album")
	gone := catalogtest.NewEntry("gone", "Deleted Song", "Durable Artist", "Stored Album")
	for _, e := range []catalog.Entry{kept, gone} {
		if _, _, err := s.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, gone.ID, gone.Publisher); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, kept.ID); !errors.Is(err, catalog.ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Contains(ctx, [20]byte{}); !errors.Is(err, catalog.ErrClosed) {
		t.Errorf("Contains after Close = %v, want ErrClosed", err)
	}

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(ctx, kept.ID)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if got.Title != kept.Title || string(got.Torrent) != string(kept.Torrent) ||
		!got.PublishedAt.Equal(kept.PublishedAt) || got.SeedURLs[0] != kept.SeedURLs[0] {
		t.Errorf("after reopen got %+v, want %+v", got, kept)
	}
	var ih [20]byte
	hex.Decode(ih[:], []byte(kept.ID))
	if ok, err := s.Contains(ctx, ih); err != nil || !ok {
		t.Errorf("Contains after reopen = %v, %v (the id set must be loaded at open)", ok, err)
	}
	hex.Decode(ih[:], []byte(gone.ID))
	if ok, _ := s.Contains(ctx, ih); ok {
		t.Errorf("a deleted track is back after reopen")
	}
	tracks, total, err := s.Search(ctx, "durable", 10, 0)
	if err != nil || total != 1 || tracks[0].ID != kept.ID {
		t.Errorf("search after reopen = %v, %d, %v", tracks, total, err)
	}
}

func TestSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var version int
	if err := s.reader.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	if err := s.reader.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil || version != len(migrations) {
		t.Errorf("user_version = %d, %v; want %d", version, err, len(migrations))
	}
	// A file from a newer peertune is refused, not silently misread.
	if _, err := s.writer.ExecContext(ctx, `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(ctx, path); err == nil {
		s.Close()
		t.Fatal("Open of a schema newer than this code: no error")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open(\"\"): no error")
	}
	notDB := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(notDB, []byte("this is not an SQLite database, not at all, really"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(ctx, notDB); err == nil {
		s.Close()
		t.Error("Open of a file that is not SQLite: no error")
	}
}

func TestMatchExpr(t *testing.T) {
	for q, want := range map[string]string{
		`radio head`:          `"radio"* "head"*`,
		`"NEAR(a b)" -x AND*`: `"NEAR"* "a"* "b"* "x"* "AND"*`,
		`Björk`:               `"Björk"*`,
	} {
		if got := matchExpr(catalog.QueryWords(q)); got != want {
			t.Errorf("matchExpr(%q) = %s, want %s", q, got, want)
		}
	}
}

// A catalog written by a peertune before the library fields (schema 1) is
// migrated on open: its tracks keep their metadata, get album ids, and
// are found by the new queries.
func TestMigrateFromSchema1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	old := catalogtest.NewEntry("old", "Old Song", "Old Band", "Old Album")
	if _, err := db.Exec(migrations[0] + `; PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO tracks (id, title, artist, album, duration_s, codec, bitrate, size,
		piece_length, seed_urls, torrent, publisher, published_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		old.ID, old.Title, old.Artist, old.Album, old.DurationS, old.Codec, old.Bitrate, old.Size,
		old.PieceLength, `["`+old.SeedURLs[0]+`"]`, old.Torrent, old.Publisher, old.PublishedAt.UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open a schema 1 catalog: %v", err)
	}
	defer s.Close()
	got, err := s.Get(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != old.Title || got.Album != old.Album || got.AlbumArtist != "" || got.Year != 0 {
		t.Errorf("migrated track = %+v", got.Track)
	}
	if tracks, total, err := s.Search(ctx, "old band", 10, 0); err != nil || total != 1 || len(tracks) != 1 {
		t.Errorf("search after migration: %d tracks (total %d), %v", len(tracks), total, err)
	}
	albums, total, err := s.Albums(ctx, "", 10, 0)
	if err != nil || total != 1 || albums[0].ID != proto.AlbumID("Old Band", "Old Album") {
		t.Fatalf("albums after migration = %+v (total %d), %v", albums, total, err)
	}
	if _, tracks, err := s.Album(ctx, albums[0].ID); err != nil || len(tracks) != 1 {
		t.Errorf("album after migration: %d tracks, %v", len(tracks), err)
	}
	// Republished by its seeder with the new tags, it is updated.
	re := old
	re.AlbumArtist, re.Year, re.TrackNumber = "Old Band", 1971, 4
	if stored, created, err := s.Put(ctx, re); err != nil || created || stored.Year != 1971 {
		t.Errorf("republish after migration = %+v, %v, %v", stored.Track, created, err)
	}
}

// The deny list survives a restart, and Denied answers from it at once
// (its in-memory set is loaded at open).
func TestReopenKeepsDenials(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	e := catalogtest.NewEntry("down", "Bootleg", "Infringer", "Bootlegs")
	if _, _, err := s.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Deny(ctx, proto.Denial{ID: e.ID, Reason: "notice", By: "root"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Denied(ctx, [20]byte{}); !errors.Is(err, catalog.ErrClosed) {
		t.Errorf("Denied after Close = %v, want ErrClosed", err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ih [20]byte
	hex.Decode(ih[:], []byte(e.ID))
	if ok, err := s.Denied(ctx, ih); err != nil || !ok {
		t.Errorf("Denied after reopen = %v, %v", ok, err)
	}
	if list, err := s.Denials(ctx); err != nil || len(list) != 1 || list[0].Reason != "notice" || list[0].By != "root" {
		t.Errorf("Denials after reopen = %+v, %v", list, err)
	}
	if _, _, err := s.Put(ctx, e); !errors.Is(err, catalog.ErrDenied) {
		t.Errorf("Put after reopen = %v, want ErrDenied", err)
	}
}
