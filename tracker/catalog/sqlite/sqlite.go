// Package sqlite is the tracker's default catalog backend: one SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode, searched through an FTS5 index
// over title, artist and album, ranked by bm25, with the deny list in a
// table of its own.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// FileName is the catalog's file name under the tracker's --data directory.
const FileName = "catalog.sqlite"

// busyTimeout is how long a statement waits for another process's lock.
const busyTimeout = 5 * time.Second

// migrations[i] takes the schema from user_version i to i+1. Append only.
var migrations = [...]string{
	`CREATE TABLE tracks (
		rowid        INTEGER PRIMARY KEY,
		id           TEXT    NOT NULL UNIQUE CHECK (length(id) = 40),
		title        TEXT    NOT NULL,
		artist       TEXT    NOT NULL,
		album        TEXT    NOT NULL,
		duration_s   REAL    NOT NULL,
		codec        TEXT    NOT NULL,
		bitrate      INTEGER NOT NULL,
		size         INTEGER NOT NULL,
		piece_length INTEGER NOT NULL,
		seed_urls    TEXT    NOT NULL, -- JSON array of strings
		torrent      BLOB    NOT NULL,
		publisher    TEXT    NOT NULL,
		published_at INTEGER NOT NULL  -- Unix nanoseconds, UTC
	);
	CREATE INDEX tracks_listing ON tracks (
		artist COLLATE NOCASE, album COLLATE NOCASE, title COLLATE NOCASE, id);
	CREATE VIRTUAL TABLE tracks_fts USING fts5(
		title, artist, album,
		content = 'tracks', content_rowid = 'rowid',
		tokenize = 'unicode61 remove_diacritics 2');
	CREATE TRIGGER tracks_ai AFTER INSERT ON tracks BEGIN
		INSERT INTO tracks_fts (rowid, title, artist, album)
		VALUES (new.rowid, new.title, new.artist, new.album);
	END;
	CREATE TRIGGER tracks_ad AFTER DELETE ON tracks BEGIN
		INSERT INTO tracks_fts (tracks_fts, rowid, title, artist, album)
		VALUES ('delete', old.rowid, old.title, old.artist, old.album);
	END;
	CREATE TRIGGER tracks_au AFTER UPDATE ON tracks BEGIN
		INSERT INTO tracks_fts (tracks_fts, rowid, title, artist, album)
		VALUES ('delete', old.rowid, old.title, old.artist, old.album);
		INSERT INTO tracks_fts (rowid, title, artist, album)
		VALUES (new.rowid, new.title, new.artist, new.album);
	END;`,
	// 2: the library fields; listing by album artist, year, album, disc,
	// track; album_id (proto.AlbumID, set by fillAlbumIDs) for the album
	// pages; the album artist searchable.
	`ALTER TABLE tracks ADD COLUMN album_artist TEXT NOT NULL DEFAULT '';
	ALTER TABLE tracks ADD COLUMN track_number INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE tracks ADD COLUMN disc_number INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE tracks ADD COLUMN year INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE tracks ADD COLUMN album_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE tracks ADD COLUMN list_artist TEXT
		GENERATED ALWAYS AS (CASE WHEN album_artist <> '' THEN album_artist ELSE artist END) VIRTUAL;
	DROP INDEX tracks_listing;
	CREATE INDEX tracks_listing ON tracks (list_artist COLLATE NOCASE, year, album COLLATE NOCASE,
		disc_number, track_number, title COLLATE NOCASE, id);
	CREATE INDEX tracks_album ON tracks (album_id, disc_number, track_number, title COLLATE NOCASE, id);
	DROP TRIGGER tracks_ai;
	DROP TRIGGER tracks_ad;
	DROP TRIGGER tracks_au;
	DROP TABLE tracks_fts;
	CREATE VIRTUAL TABLE tracks_fts USING fts5(
		title, artist, album, album_artist,
		content = 'tracks', content_rowid = 'rowid',
		tokenize = 'unicode61 remove_diacritics 2');
	CREATE TRIGGER tracks_ai AFTER INSERT ON tracks BEGIN
		INSERT INTO tracks_fts (rowid, title, artist, album, album_artist)
		VALUES (new.rowid, new.title, new.artist, new.album, new.album_artist);
	END;
	CREATE TRIGGER tracks_ad AFTER DELETE ON tracks BEGIN
		INSERT INTO tracks_fts (tracks_fts, rowid, title, artist, album, album_artist)
		VALUES ('delete', old.rowid, old.title, old.artist, old.album, old.album_artist);
	END;
	CREATE TRIGGER tracks_au AFTER UPDATE ON tracks BEGIN
		INSERT INTO tracks_fts (tracks_fts, rowid, title, artist, album, album_artist)
		VALUES ('delete', old.rowid, old.title, old.artist, old.album, old.album_artist);
		INSERT INTO tracks_fts (rowid, title, artist, album, album_artist)
		VALUES (new.rowid, new.title, new.artist, new.album, new.album_artist);
	END;
	INSERT INTO tracks_fts (tracks_fts) VALUES ('rebuild');`,
	// 3: the deny list; tracks by publisher (RenamePublishers).
	`CREATE TABLE denied (
		id        TEXT    PRIMARY KEY CHECK (length(id) = 40),
		reason    TEXT    NOT NULL,
		denied_by TEXT    NOT NULL,
		denied_at INTEGER NOT NULL  -- Unix nanoseconds, UTC
	) WITHOUT ROWID;
	CREATE INDEX tracks_publisher ON tracks (publisher);`,
}

// migrationFixes[i], when set, runs after migrations[i], in its
// transaction: what SQL alone cannot compute.
var migrationFixes = map[int]func(ctx context.Context, tx *sql.Tx) error{
	1: fillAlbumIDs,
}

// fillAlbumIDs sets album_id of the tracks stored before it existed.
func fillAlbumIDs(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT rowid, list_artist, album FROM tracks WHERE album <> ''`)
	if err != nil {
		return fmt.Errorf("album ids: %w", err)
	}
	type row struct {
		rowid int64
		id    string
	}
	var todo []row
	for rows.Next() {
		var r row
		var artist, album string
		if err := rows.Scan(&r.rowid, &artist, &album); err != nil {
			rows.Close()
			return fmt.Errorf("album ids: %w", err)
		}
		r.id = proto.AlbumID(artist, album)
		todo = append(todo, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("album ids: %w", err)
	}
	for _, r := range todo {
		if _, err := tx.ExecContext(ctx, `UPDATE tracks SET album_id = ? WHERE rowid = ?`, r.id, r.rowid); err != nil {
			return fmt.Errorf("album ids: %w", err)
		}
	}
	return nil
}

// bm25 column weights: a word in the title counts most, then the artist
// (or album artist), then the album.
const rankExpr = `bm25(tracks_fts, 10.0, 5.0, 2.0, 5.0)`

// listOrder is the library order (catalog.ListCompare).
const listOrder = `t.list_artist COLLATE NOCASE, t.year, t.album COLLATE NOCASE,
	t.disc_number, t.track_number, t.title COLLATE NOCASE, t.id`

// albumOrder is the order of an album's tracks.
const albumOrder = `t.disc_number, t.track_number, t.title COLLATE NOCASE, t.id`

const trackColumns = `t.id, t.title, t.artist, t.album, t.album_artist, t.track_number,
	t.disc_number, t.year, t.duration_s, t.codec, t.bitrate, t.size, t.piece_length, t.seed_urls`

// trackFields are the scan destinations of trackColumns; seedURLs gets the
// JSON to decode.
func trackFields(t *proto.Track, seedURLs *string) []any {
	return []any{&t.ID, &t.Title, &t.Artist, &t.Album, &t.AlbumArtist, &t.TrackNumber,
		&t.DiscNumber, &t.Year, &t.DurationS, &t.Codec, &t.Bitrate, &t.Size, &t.PieceLength, seedURLs}
}

// Store is a catalog.Catalog in one SQLite file. Safe for concurrent use.
type Store struct {
	writer *sql.DB // one connection, BEGIN IMMEDIATE
	reader *sql.DB // several read-only connections

	// writeMu orders each write's transaction and its update of ids and
	// denied, so that they always match the committed tables.
	writeMu sync.Mutex
	idsMu   sync.RWMutex
	ids     map[[20]byte]struct{}
	denied  map[[20]byte]struct{}

	closed atomic.Bool
}

var _ catalog.Catalog = (*Store)(nil)

// Open opens (creating it and its directory when missing) the catalog file
// at path and migrates its schema to the current version.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("open catalog: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open catalog: %w", err)
	}
	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "journal_mode(WAL)")
	// NORMAL is durable across process crashes in WAL mode; only a power
	// loss may lose the last commits.
	pragmas.Add("_pragma", "synchronous(NORMAL)")
	base := "file:" + (&url.URL{Path: path}).EscapedPath()

	writerDSN := base + "?" + pragmas.Encode() + "&_txlock=immediate"
	writer, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{writer: writer, ids: make(map[[20]byte]struct{}), denied: make(map[[20]byte]struct{})}
	if err := s.migrate(ctx); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}

	readerPragmas := url.Values{}
	readerPragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	readerPragmas.Add("_pragma", "query_only(1)")
	reader, err := sql.Open("sqlite", base+"?"+readerPragmas.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	reader.SetMaxOpenConns(4)
	reader.SetMaxIdleConns(4)
	s.reader = reader
	if err := s.loadIDs(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open catalog %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this peertune knows (%d)", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
		}
		if fix := migrationFixes[v]; fix != nil {
			if err := fix(ctx, tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", v, v+1, err)
			}
		}
	}
	// PRAGMA takes no bound parameters; the value is our own constant.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// loadIDs fills the in-memory sets of published and denied ids.
func (s *Store) loadIDs(ctx context.Context) error {
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	if err := s.loadSet(ctx, `SELECT id FROM tracks`, s.ids); err != nil {
		return fmt.Errorf("load track ids: %w", err)
	}
	if err := s.loadSet(ctx, `SELECT id FROM denied`, s.denied); err != nil {
		return fmt.Errorf("load the deny list: %w", err)
	}
	return nil
}

func (s *Store) loadSet(ctx context.Context, query string, into map[[20]byte]struct{}) error {
	rows, err := s.reader.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ih, err := rawID(id)
		if err != nil {
			return err
		}
		into[ih] = struct{}{}
	}
	return rows.Err()
}

func rawID(id string) ([20]byte, error) {
	var ih [20]byte
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return ih, err
	}
	if _, err := hex.Decode(ih[:], []byte(canon)); err != nil {
		return ih, fmt.Errorf("track id %q: %w", id, err)
	}
	return ih, nil
}

// Put implements catalog.Catalog.
func (s *Store) Put(ctx context.Context, e catalog.Entry) (catalog.Entry, bool, error) {
	if s.closed.Load() {
		return catalog.Entry{}, false, catalog.ErrClosed
	}
	id, err := proto.ParseTrackID(e.ID)
	if err != nil {
		return catalog.Entry{}, false, fmt.Errorf("put track: %w", err)
	}
	ih, _ := rawID(id)
	e.ID = id
	e.Seeders, e.Leechers = 0, 0
	if e.SeedURLs == nil {
		e.SeedURLs = []string{}
	}
	if e.PublishedAt.IsZero() {
		e.PublishedAt = time.Now()
	}
	e.PublishedAt = time.Unix(0, e.PublishedAt.UnixNano()).UTC()
	if e.Torrent == nil {
		e.Torrent = []byte{}
	}
	seedURLs, err := json.Marshal(e.SeedURLs)
	if err != nil {
		return catalog.Entry{}, false, fmt.Errorf("put track %s: encode seed urls: %w", id, err)
	}

	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: %w", id, err))
	}
	defer tx.Rollback()
	var denied int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM denied WHERE id = ?`, id).Scan(&denied); err != nil {
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: read the deny list: %w", id, err))
	}
	if denied > 0 {
		return catalog.Entry{}, false, fmt.Errorf("put track %s: %w", id, catalog.ErrDenied)
	}
	existing, err := getEntry(ctx, tx, id)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: read existing: %w", id, err))
	case existing.Publisher != e.Publisher || catalog.SameMeta(existing, e):
		return existing, false, nil
	default:
		// The same publisher republished it with other metadata.
		e.PublishedAt = existing.PublishedAt
		if _, err := tx.ExecContext(ctx, `UPDATE tracks SET title = ?, artist = ?, album = ?,
			album_artist = ?, track_number = ?, disc_number = ?, year = ?, album_id = ?, duration_s = ?,
			codec = ?, bitrate = ?, size = ?, piece_length = ?, seed_urls = ?, torrent = ? WHERE id = ?`,
			e.Title, e.Artist, e.Album, e.AlbumArtist, e.TrackNumber, e.DiscNumber, e.Year,
			proto.AlbumID(e.AlbumArtistOrArtist(), e.Album), e.DurationS, e.Codec, e.Bitrate, e.Size,
			e.PieceLength, string(seedURLs), e.Torrent, id); err != nil {
			return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: update: %w", id, err))
		}
		if err := tx.Commit(); err != nil {
			return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: commit: %w", id, err))
		}
		return e, false, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tracks (id, title, artist, album, album_artist,
		track_number, disc_number, year, album_id, duration_s, codec, bitrate, size, piece_length,
		seed_urls, torrent, publisher, published_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, e.Title, e.Artist, e.Album, e.AlbumArtist, e.TrackNumber, e.DiscNumber, e.Year,
		proto.AlbumID(e.AlbumArtistOrArtist(), e.Album), e.DurationS, e.Codec, e.Bitrate, e.Size,
		e.PieceLength, string(seedURLs), e.Torrent, e.Publisher, e.PublishedAt.UnixNano()); err != nil {
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: %w", id, err))
	}
	if err := tx.Commit(); err != nil {
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: commit: %w", id, err))
	}
	s.idsMu.Lock()
	s.ids[ih] = struct{}{}
	s.idsMu.Unlock()
	return e, true, nil
}

// queryer is what Get needs of *sql.DB and *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getEntry(ctx context.Context, q queryer, id string) (catalog.Entry, error) {
	var (
		e           catalog.Entry
		seedURLs    string
		publishedAt int64
	)
	err := q.QueryRowContext(ctx, `SELECT `+trackColumns+`, t.torrent, t.publisher, t.published_at
		FROM tracks t WHERE t.id = ?`, id).Scan(append(trackFields(&e.Track, &seedURLs),
		&e.Torrent, &e.Publisher, &publishedAt)...)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.Entry{}, catalog.ErrNotFound
	}
	if err != nil {
		return catalog.Entry{}, err
	}
	if err := json.Unmarshal([]byte(seedURLs), &e.SeedURLs); err != nil {
		return catalog.Entry{}, fmt.Errorf("decode seed urls: %w", err)
	}
	if e.Torrent == nil {
		e.Torrent = []byte{}
	}
	e.PublishedAt = time.Unix(0, publishedAt).UTC()
	return e, nil
}

// Get implements catalog.Catalog.
func (s *Store) Get(ctx context.Context, id string) (catalog.Entry, error) {
	if s.closed.Load() {
		return catalog.Entry{}, catalog.ErrClosed
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		// Not a track id, so no track has it.
		return catalog.Entry{}, fmt.Errorf("get track: %w: %v", catalog.ErrNotFound, err)
	}
	e, err := getEntry(ctx, s.reader, canon)
	if errors.Is(err, catalog.ErrNotFound) {
		return catalog.Entry{}, err
	}
	if err != nil {
		return catalog.Entry{}, s.wrap(fmt.Errorf("get track %s: %w", canon, err))
	}
	return e, nil
}

// matchExpr turns a user's query into an FTS5 MATCH expression: every word
// a quoted prefix term, implicitly ANDed. Words hold only letters, digits
// and marks (catalog.QueryWords), so the quotes are the only syntax.
func matchExpr(words []string) string {
	var b strings.Builder
	for i, w := range words {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(w, `"`, `""`))
		b.WriteString(`"*`)
	}
	return b.String()
}

// Search implements catalog.Catalog.
func (s *Store) Search(ctx context.Context, query string, limit, offset int) ([]proto.Track, int, error) {
	if s.closed.Load() {
		return nil, 0, catalog.ErrClosed
	}
	if limit < 0 || offset < 0 {
		return nil, 0, fmt.Errorf("search: negative limit %d or offset %d", limit, offset)
	}
	tracks := []proto.Track{}
	if strings.TrimSpace(query) != "" {
		words := catalog.QueryWords(query)
		if len(words) == 0 {
			// Only separators: no word can match.
			return tracks, 0, nil
		}
		return s.search(ctx, `SELECT count(*) FROM tracks_fts WHERE tracks_fts MATCH ?`,
			`SELECT `+trackColumns+` FROM tracks_fts f JOIN tracks t ON t.rowid = f.rowid
			WHERE tracks_fts MATCH ?
			ORDER BY `+rankExpr+`, `+listOrder+`
			LIMIT ? OFFSET ?`, []any{matchExpr(words)}, limit, offset)
	}
	return s.search(ctx, `SELECT count(*) FROM tracks`,
		`SELECT `+trackColumns+` FROM tracks t ORDER BY `+listOrder+` LIMIT ? OFFSET ?`, nil, limit, offset)
}

func (s *Store) search(ctx context.Context, countQuery, pageQuery string, args []any, limit, offset int) ([]proto.Track, int, error) {
	tracks := []proto.Track{}
	// One read transaction: the page and the total see the same snapshot.
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("search: %w", err))
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, countQuery, args...).Scan(&total); err != nil {
		return nil, 0, s.wrap(fmt.Errorf("search: count: %w", err))
	}
	if limit == 0 || offset >= total {
		return tracks, total, nil
	}
	rows, err := tx.QueryContext(ctx, pageQuery, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("search: %w", err))
	}
	tracks, err = scanTracks(rows)
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("search: %w", err))
	}
	return tracks, total, nil
}

// scanTracks reads rows of trackColumns and closes them.
func scanTracks(rows *sql.Rows) ([]proto.Track, error) {
	defer rows.Close()
	tracks := []proto.Track{}
	for rows.Next() {
		var t proto.Track
		var seedURLs string
		if err := rows.Scan(trackFields(&t, &seedURLs)...); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(seedURLs), &t.SeedURLs); err != nil {
			return nil, fmt.Errorf("track %s: decode seed urls: %w", t.ID, err)
		}
		tracks = append(tracks, t)
	}
	return tracks, rows.Err()
}

// albumPage makes a page of the albums of the tracks t that albumFilter
// keeps, in listing order: each one's title and artist are those of its
// first track (looked up for the page only), its year the earliest its
// tracks name. Within an album the names differ in ASCII case at most, so
// their NOCASE minimum sorts it.
const albumPage = `SELECT a.album_id, f.album, f.list_artist, a.year, a.n FROM (
		SELECT t.album_id, count(*) AS n, coalesce(min(nullif(t.year, 0)), 0) AS year,
			min(t.list_artist COLLATE NOCASE) AS artist, min(t.album COLLATE NOCASE) AS album
		FROM tracks t WHERE albumFilter GROUP BY t.album_id
		ORDER BY artist COLLATE NOCASE, year, album COLLATE NOCASE, t.album_id
		LIMIT ? OFFSET ?) a
	JOIN tracks f ON f.rowid = (SELECT t.rowid FROM tracks t WHERE t.album_id = a.album_id
		ORDER BY ` + albumOrder + ` LIMIT 1)
	ORDER BY a.artist COLLATE NOCASE, a.year, a.album COLLATE NOCASE, a.album_id`

// Albums implements catalog.Catalog.
func (s *Store) Albums(ctx context.Context, query string, limit, offset int) ([]proto.Album, int, error) {
	if s.closed.Load() {
		return nil, 0, catalog.ErrClosed
	}
	if limit < 0 || offset < 0 {
		return nil, 0, fmt.Errorf("albums: negative limit %d or offset %d", limit, offset)
	}
	albums := []proto.Album{}
	filter := `t.album_id <> ''`
	var args []any
	if strings.TrimSpace(query) != "" {
		words := catalog.QueryWords(query)
		if len(words) == 0 {
			return albums, 0, nil
		}
		filter = `t.album_id IN (SELECT t.album_id FROM tracks_fts f JOIN tracks t ON t.rowid = f.rowid
			WHERE tracks_fts MATCH ? AND t.album_id <> '')`
		args = []any{"{artist album album_artist} : (" + matchExpr(words) + ")"}
	}
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
	}
	defer tx.Rollback()
	var total int
	if err := tx.QueryRowContext(ctx, `SELECT count(DISTINCT t.album_id) FROM tracks t WHERE `+filter, args...).Scan(&total); err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: count: %w", err))
	}
	if limit == 0 || offset >= total {
		return albums, total, nil
	}
	rows, err := tx.QueryContext(ctx, strings.Replace(albumPage, "albumFilter", filter, 1), append(args, limit, offset)...)
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var a proto.Album
		if err := rows.Scan(&a.ID, &a.Title, &a.Artist, &a.Year, &a.TrackCount); err != nil {
			return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
		}
		albums = append(albums, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
	}
	return albums, total, nil
}

// Album implements catalog.Catalog.
func (s *Store) Album(ctx context.Context, id string) (proto.Album, []proto.Track, error) {
	if s.closed.Load() {
		return proto.Album{}, nil, catalog.ErrClosed
	}
	canon, err := proto.ParseAlbumID(id)
	if err != nil {
		return proto.Album{}, nil, fmt.Errorf("album: %w: %v", catalog.ErrNotFound, err)
	}
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return proto.Album{}, nil, s.wrap(fmt.Errorf("album %s: %w", canon, err))
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+trackColumns+` FROM tracks t WHERE t.album_id = ?
		ORDER BY `+albumOrder, canon)
	if err != nil {
		return proto.Album{}, nil, s.wrap(fmt.Errorf("album %s: %w", canon, err))
	}
	tracks, err := scanTracks(rows)
	if err != nil {
		return proto.Album{}, nil, s.wrap(fmt.Errorf("album %s: %w", canon, err))
	}
	if len(tracks) == 0 {
		return proto.Album{}, nil, catalog.ErrNotFound
	}
	return catalog.AlbumOf(canon, tracks), tracks, nil
}

// Delete implements catalog.Catalog.
func (s *Store) Delete(ctx context.Context, id, publisher string) error {
	if s.closed.Load() {
		return catalog.ErrClosed
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return fmt.Errorf("delete track: %w: %v", catalog.ErrNotFound, err)
	}
	ih, _ := rawID(canon)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
	}
	defer tx.Rollback()
	var owner string
	err = tx.QueryRowContext(ctx, `SELECT publisher FROM tracks WHERE id = ?`, canon).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return catalog.ErrNotFound
	}
	if err != nil {
		return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
	}
	if owner != publisher {
		return catalog.ErrForbidden
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tracks WHERE id = ?`, canon); err != nil {
		return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
	}
	if err := tx.Commit(); err != nil {
		return s.wrap(fmt.Errorf("delete track %s: commit: %w", canon, err))
	}
	s.idsMu.Lock()
	delete(s.ids, ih)
	s.idsMu.Unlock()
	return nil
}

// RenamePublishers implements catalog.Catalog.
func (s *Store) RenamePublishers(ctx context.Context, names map[string]string) (int, error) {
	if s.closed.Load() {
		return 0, catalog.ErrClosed
	}
	if len(names) == 0 {
		return 0, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, s.wrap(fmt.Errorf("rename publishers: %w", err))
	}
	defer tx.Rollback()
	total := 0
	for from, to := range names {
		res, err := tx.ExecContext(ctx, `UPDATE tracks SET publisher = ? WHERE publisher = ?`, to, from)
		if err != nil {
			return 0, s.wrap(fmt.Errorf("rename publishers: %w", err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, s.wrap(fmt.Errorf("rename publishers: %w", err))
		}
		total += int(n)
	}
	if err := tx.Commit(); err != nil {
		return 0, s.wrap(fmt.Errorf("rename publishers: commit: %w", err))
	}
	return total, nil
}

// Deny implements catalog.Catalog.
func (s *Store) Deny(ctx context.Context, d proto.Denial) (bool, error) {
	if s.closed.Load() {
		return false, catalog.ErrClosed
	}
	id, err := proto.ParseTrackID(d.ID)
	if err != nil {
		return false, fmt.Errorf("deny: %w", err)
	}
	ih, _ := rawID(id)
	if d.At.IsZero() {
		d.At = time.Now()
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return false, s.wrap(fmt.Errorf("deny %s: %w", id, err))
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM tracks WHERE id = ?`, id)
	if err != nil {
		return false, s.wrap(fmt.Errorf("deny %s: remove the track: %w", id, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap(fmt.Errorf("deny %s: %w", id, err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO denied (id, reason, denied_by, denied_at) VALUES (?, ?, ?, ?)`,
		id, d.Reason, d.By, d.At.UnixNano()); err != nil {
		return false, s.wrap(fmt.Errorf("deny %s: %w", id, err))
	}
	if err := tx.Commit(); err != nil {
		return false, s.wrap(fmt.Errorf("deny %s: commit: %w", id, err))
	}
	s.idsMu.Lock()
	delete(s.ids, ih)
	s.denied[ih] = struct{}{}
	s.idsMu.Unlock()
	return n > 0, nil
}

// Lift implements catalog.Catalog.
func (s *Store) Lift(ctx context.Context, id string) error {
	if s.closed.Load() {
		return catalog.ErrClosed
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return fmt.Errorf("lift: %w: %v", catalog.ErrNotFound, err)
	}
	ih, _ := rawID(canon)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	res, err := s.writer.ExecContext(ctx, `DELETE FROM denied WHERE id = ?`, canon)
	if err != nil {
		return s.wrap(fmt.Errorf("lift %s: %w", canon, err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(fmt.Errorf("lift %s: %w", canon, err))
	}
	s.idsMu.Lock()
	delete(s.denied, ih)
	s.idsMu.Unlock()
	if n == 0 {
		return catalog.ErrNotFound
	}
	return nil
}

// Denials implements catalog.Catalog.
func (s *Store) Denials(ctx context.Context) ([]proto.Denial, error) {
	if s.closed.Load() {
		return nil, catalog.ErrClosed
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, reason, denied_by, denied_at FROM denied ORDER BY denied_at, id`)
	if err != nil {
		return nil, s.wrap(fmt.Errorf("deny list: %w", err))
	}
	defer rows.Close()
	list := []proto.Denial{}
	for rows.Next() {
		var d proto.Denial
		var at int64
		if err := rows.Scan(&d.ID, &d.Reason, &d.By, &at); err != nil {
			return nil, s.wrap(fmt.Errorf("deny list: %w", err))
		}
		d.At = time.Unix(0, at).UTC()
		list = append(list, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(fmt.Errorf("deny list: %w", err))
	}
	return list, nil
}

// Denied implements catalog.Catalog from memory.
func (s *Store) Denied(_ context.Context, ih [20]byte) (bool, error) {
	if s.closed.Load() {
		return false, catalog.ErrClosed
	}
	s.idsMu.RLock()
	_, ok := s.denied[ih]
	s.idsMu.RUnlock()
	return ok, nil
}

// Contains implements catalog.Catalog from memory, without touching SQLite.
func (s *Store) Contains(_ context.Context, ih [20]byte) (bool, error) {
	if s.closed.Load() {
		return false, catalog.ErrClosed
	}
	s.idsMu.RLock()
	_, ok := s.ids[ih]
	s.idsMu.RUnlock()
	return ok, nil
}

// Count implements catalog.Catalog from memory.
func (s *Store) Count(_ context.Context) (int, error) {
	if s.closed.Load() {
		return 0, catalog.ErrClosed
	}
	s.idsMu.RLock()
	n := len(s.ids)
	s.idsMu.RUnlock()
	return n, nil
}

// Close implements catalog.Catalog. It checkpoints the WAL into the main
// file so the catalog is one file at rest.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if _, err := s.writer.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	errs = append(errs, s.writer.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close catalog: %w", err)
	}
	return nil
}

// wrap reports a failure after Close as ErrClosed.
func (s *Store) wrap(err error) error {
	if s.closed.Load() {
		return fmt.Errorf("%w: %v", catalog.ErrClosed, err)
	}
	return err
}
