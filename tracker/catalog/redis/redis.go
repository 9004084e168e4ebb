// Package redis is the catalog that several tracker processes share: tracks,
// their .torrent files and a search index live in Redis, so a track
// published through one tracker is found through every other at once.
//
// Layout, under a key prefix (default "peertune:"):
//
//	cat:t:<id>    hash: meta (the Track as JSON), torrent, publisher,
//	              published_at (Unix ns), words (its index entries), sort,
//	              aid (its album's id), amember (its member in cat:a:<aid>)
//	cat:ids       set of every id              (Count, Contains)
//	cat:meta      hash id -> meta JSON         (search result pages)
//	cat:sort      hash id -> sort key          (ranking ties)
//	cat:order     zset of sort keys, score 0   (listing, by ZRANGE BYLEX)
//	cat:words     zset of index words, score 0 (prefix lookup, ZRANGEBYLEX)
//	cat:w:<word>  zset id -> field mask        (title 1, artist 2, album 4)
//	cat:aid       hash id -> album id          (album search)
//	cat:a:<aid>   zset of disc/track/title/id keys, score 0 (album order)
//	cat:ay:<aid>  zset id -> year, of tracks that name one (album year)
//	cat:albums    zset of album sort keys, score 0 (album listing)
//	cat:asort     hash album id -> album sort key
//	cat:deny      hash id -> denial JSON (proto.Denial): the deny list
//	cat:version   the layout's version (2); New migrates an older one
//
// On a Redis Cluster every key has the hash tag "{cat}" after the prefix:
// the catalog lives in one hash slot (one master and its replicas), which
// its scripts need, and which a catalog's size allows.
//
// Put, Delete and Deny are one Lua script: each call is atomic, and every
// check precedes the first write. Words are split as catalog.QueryWords splits queries,
// then case- and diacritic-folded, as SQLite's unicode61 tokenizer folds
// them, so a query means the same in both backends. Unlike the peer store,
// no catalog key expires: run Redis with persistence (AOF or RDB).
package redis

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/text/unicode/norm"

	"github.com/peertune/peertune/internal/redisconn"
	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/catalog"
)

// Defaults of Config.
const (
	DefaultPrefix         = "peertune:"
	DefaultResyncInterval = time.Minute
)

// Field masks of an index word, and what a match in each is worth when
// ranking: a word in the title counts most, then the artist, then the
// album (the weights of the SQLite backend's bm25).
const (
	inTitle  = 1
	inArtist = 2
	inAlbum  = 4
)

func weight(mask int) int {
	w := 0
	if mask&inTitle != 0 {
		w += 10
	}
	if mask&inArtist != 0 {
		w += 5
	}
	if mask&inAlbum != 0 {
		w += 2
	}
	return w
}

// Config configures a Store. The zero value gives the defaults.
type Config struct {
	// Prefix starts every key and the events channel (default
	// "peertune:"). Trackers that share a catalog use the same prefix.
	Prefix string
	// ResyncInterval is how often the local copy of the id set is reloaded
	// from Redis, bounding how long a missed delete event is seen (default
	// one minute).
	ResyncInterval time.Duration
	// Logger logs failures of the background work (default slog.Default()).
	Logger *slog.Logger
}

// Store is the Redis catalog. Create it with New or Open; Close stops its
// background work.
//
// Contains answers from a local copy of the id set, so the announce
// whitelist costs no round trip. It is loaded at start, kept current by the
// events every instance publishes on Put, Delete and Deny (pub/sub), reloaded
// every ResyncInterval and whenever the subscription (re)connects (events
// are lost while it is down). A miss is checked with SISMEMBER, so a track
// is tracked everywhere the moment its Put returns; a delete made through
// another instance reaches this one within milliseconds through its event,
// or at the latest at the next reload if the event was lost. Denied answers
// from a local copy of the deny list kept the same way, without the check
// on a miss (a miss is every announce of a tracker that tracks any
// infohash): a denial made through another instance is seen within
// milliseconds, or at the latest at the next reload. Put reads the deny
// list in Redis, so a denied track is refused everywhere at once.
type Store struct {
	rdb       goredis.UniversalClient
	ownClient bool
	prefix    string
	channel   string
	log       *slog.Logger

	idsMu     sync.RWMutex
	ids       map[[20]byte]struct{}
	denied    map[[20]byte]struct{}
	reloading bool
	queued    []string // events seen while reloading, replayed after it

	closed atomic.Bool
	pubsub *goredis.PubSub
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

var _ catalog.Catalog = (*Store)(nil)

// Open connects to the Redis at url (redis://[user:pass@]host:port/db or
// rediss://…), checks that it answers, and returns a Store that owns the
// connection.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	rdb, err := redisconn.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("redis catalog: %w", err)
	}
	s, err := New(ctx, rdb, cfg)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	s.ownClient = true
	return s, nil
}

// New returns a started Store on rdb, which the caller keeps owning. It
// subscribes to the events channel and loads the id set before returning.
func New(ctx context.Context, rdb goredis.UniversalClient, cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.ResyncInterval <= 0 {
		cfg.ResyncInterval = DefaultResyncInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	prefix := cfg.Prefix
	if redisconn.IsCluster(rdb) {
		// One hash slot for the whole catalog: its scripts touch a track's
		// keys, the shared indexes and the word keys together.
		prefix += "{cat}"
	}
	s := &Store{
		rdb:     rdb,
		prefix:  prefix,
		channel: cfg.Prefix + "cat:events",
		log:     cfg.Logger,
		ids:     make(map[[20]byte]struct{}),
		denied:  make(map[[20]byte]struct{}),
	}
	// Subscribe first, then load: an event published in between is then
	// queued by the first (re)subscription's reload, not lost.
	s.pubsub = rdb.Subscribe(ctx)
	if err := s.pubsub.Subscribe(ctx, s.channel); err != nil {
		s.pubsub.Close()
		return nil, fmt.Errorf("redis catalog: subscribe: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pubsub.Close()
		return nil, fmt.Errorf("redis catalog: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		s.pubsub.Close()
		return nil, fmt.Errorf("redis catalog: %w", err)
	}
	bg, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	msgs := s.pubsub.ChannelWithSubscriptions()
	s.wg.Add(2)
	go s.listen(bg, msgs)
	go s.resyncLoop(bg, cfg.ResyncInterval)
	return s, nil
}

// Close stops the background work; later calls return catalog.ErrClosed.
func (s *Store) Close() error {
	var errs []error
	s.once.Do(func() {
		s.closed.Store(true)
		s.cancel()
		errs = append(errs, s.pubsub.Close())
		s.wg.Wait()
		if s.ownClient {
			errs = append(errs, s.rdb.Close())
		}
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis catalog: close: %w", err)
	}
	return nil
}

func (s *Store) listen(ctx context.Context, msgs <-chan any) {
	defer s.wg.Done()
	first := true
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *goredis.Subscription:
				// New's own subscription was loaded already; a later one
				// is a reconnection, and events may have been missed.
				if m.Kind == "subscribe" && !first {
					if err := s.reload(ctx); err != nil && ctx.Err() == nil {
						s.log.Warn("redis catalog: reload after reconnect", "err", err)
					}
				}
				first = false
			case *goredis.Message:
				s.apply(m.Payload)
			}
		}
	}
}

func (s *Store) resyncLoop(ctx context.Context, every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("redis catalog: reload ids", "err", err)
			}
		}
	}
}

// apply applies one event ("+id" or "-id": published or removed; "Did" or
// "Lid": denied or lifted), or queues it during a reload.
func (s *Store) apply(ev string) {
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	if s.reloading {
		s.queued = append(s.queued, ev)
		return
	}
	s.applyLocked(ev)
}

func (s *Store) applyLocked(ev string) {
	if len(ev) != 41 {
		return
	}
	ih, err := rawID(ev[1:])
	if err != nil {
		return
	}
	switch ev[0] {
	case '+':
		s.ids[ih] = struct{}{}
	case '-':
		delete(s.ids, ih)
	case 'D':
		s.denied[ih] = struct{}{}
	case 'L':
		delete(s.denied, ih)
	}
}

// reload replaces the local id set and deny list with Redis's, then
// replays the events that arrived meanwhile, in order: the last event of an
// id decides.
func (s *Store) reload(ctx context.Context) error {
	s.idsMu.Lock()
	if s.reloading { // another reload is under way
		s.idsMu.Unlock()
		return nil
	}
	s.reloading = true
	s.queued = nil
	s.idsMu.Unlock()

	pipe := s.rdb.Pipeline()
	members := pipe.SMembers(ctx, s.key("cat:ids"))
	denials := pipe.HKeys(ctx, s.key("cat:deny"))
	_, err := pipe.Exec(ctx)
	set := func(list []string) map[[20]byte]struct{} {
		m := make(map[[20]byte]struct{}, len(list))
		for _, id := range list {
			if ih, err := rawID(id); err == nil {
				m[ih] = struct{}{}
			}
		}
		return m
	}
	var ids, denied map[[20]byte]struct{}
	if err == nil {
		ids, denied = set(members.Val()), set(denials.Val())
	}
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	s.reloading = false
	queued := s.queued
	s.queued = nil
	if err == nil {
		s.ids, s.denied = ids, denied
	}
	for _, ev := range queued {
		s.applyLocked(ev)
	}
	if err != nil {
		return fmt.Errorf("load ids: %w", err)
	}
	return nil
}

func (s *Store) key(k string) string { return s.prefix + k }

func rawID(id string) ([20]byte, error) {
	var ih [20]byte
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return ih, err
	}
	hex.Decode(ih[:], []byte(canon))
	return ih, nil
}

func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return catalog.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redis catalog: %w", err)
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

// isWordRune is catalog.QueryWords's notion of a word character.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}

// fold lowercases w and strips its diacritics (NFD, then drops
// nonspacing marks), as SQLite's unicode61 tokenizer with
// remove_diacritics does for the sqlite backend.
func fold(w string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(w) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// indexWords are the folded words of a track's fields (the album artist's
// count as the artist's), each with the mask
// of the fields it occurs in, sorted by word.
func indexWords(title, artist, album, albumArtist string) [][2]any {
	masks := map[string]int{}
	for _, f := range []struct {
		text string
		mask int
	}{{title, inTitle}, {artist, inArtist}, {album, inAlbum}, {albumArtist, inArtist}} {
		for _, w := range strings.FieldsFunc(f.text, func(r rune) bool { return !isWordRune(r) }) {
			if fw := fold(w); fw != "" {
				masks[fw] |= f.mask
			}
		}
	}
	words := make([][2]any, 0, len(masks))
	for w, m := range masks {
		words = append(words, [2]any{w, m})
	}
	slices.SortFunc(words, func(a, b [2]any) int { return strings.Compare(a[0].(string), b[0].(string)) })
	return words
}

// layoutVersion is the version of the key layout this code writes: 2 added
// the library fields (sort keys by album artist, year, disc, track) and the
// album keys.
const layoutVersion = "2"

// sortKey orders tracks as catalog.ListCompare does: album artist (or
// artist), year, album, disc, track, title (ASCII case folded, as SQLite's
// NOCASE), then id. NUL separates the fields and numbers have fixed widths,
// so the byte order of keys is the order of the tuples.
func sortKey(t proto.Track) string {
	return fmt.Sprintf("%s\x00%04d\x00%s\x00%03d\x00%04d\x00%s\x00%s", proto.ASCIILower(t.AlbumArtistOrArtist()),
		t.Year, proto.ASCIILower(t.Album), t.DiscNumber, t.TrackNumber, proto.ASCIILower(t.Title), t.ID)
}

// trackIndex is where a track is filed besides its hash.
type trackIndex struct {
	words   [][2]any // index words with their field masks
	sort    string
	aid     string // "" when it names no album
	amember string // its member of cat:a:<aid>: disc, track, title, id
	// albumPrefix and albumSuffix surround the year in the album's sort
	// key: artist, year, album, album id.
	albumPrefix, albumSuffix string
}

func indexOf(t proto.Track) trackIndex {
	ix := trackIndex{
		words: indexWords(t.Title, t.Artist, t.Album, t.AlbumArtist),
		sort:  sortKey(t),
		aid:   proto.AlbumID(t.AlbumArtistOrArtist(), t.Album),
	}
	if ix.aid != "" {
		ix.amember = fmt.Sprintf("%03d\x00%04d\x00%s\x00%s", t.DiscNumber, t.TrackNumber, proto.ASCIILower(t.Title), t.ID)
		ix.albumPrefix = proto.ASCIILower(t.AlbumArtistOrArtist()) + "\x00"
		ix.albumSuffix = "\x00" + proto.ASCIILower(t.Album) + "\x00" + ix.aid
	}
	return ix
}

// writeOp is one call of writeScript.
type writeOp struct {
	mode       string // "create", "update", "delete", "takedown" or "deny"
	e          catalog.Entry
	denial     []byte     // the denial's JSON (takedown, deny)
	ix         trackIndex // of e; unused by delete
	oldWords   []string   // as read from the track hash (update, delete)
	wordsField string     // the words field as read (update, delete)
	oldAID     string     // the aid field as read (update, delete)
}

// run runs op and returns the script's reply.
func (s *Store) run(ctx context.Context, op writeOp) ([]any, error) {
	id := op.e.ID
	newWords := make([]string, len(op.ix.words))
	for i, w := range op.ix.words {
		newWords[i] = w[0].(string)
	}
	keys := []string{s.key("cat:t:" + id), s.key("cat:ids"), s.key("cat:meta"), s.key("cat:sort"),
		s.key("cat:order"), s.key("cat:words"), s.key("cat:albums"), s.key("cat:asort"), s.key("cat:aid"),
		s.key("cat:a:" + op.oldAID), s.key("cat:ay:" + op.oldAID), s.key("cat:a:" + op.ix.aid), s.key("cat:ay:" + op.ix.aid),
		s.key("cat:deny")}
	for _, w := range op.oldWords {
		keys = append(keys, s.key("cat:w:"+w))
	}
	for _, w := range newWords {
		keys = append(keys, s.key("cat:w:"+w))
	}
	var meta, wordsField []byte
	if op.mode == "create" || op.mode == "update" {
		var err error
		if meta, err = json.Marshal(op.e.Track); err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		if wordsField, err = json.Marshal(op.ix.words); err != nil {
			return nil, fmt.Errorf("encode words: %w", err)
		}
	}
	args := []any{op.mode, id, s.channel, op.e.Publisher, op.wordsField, len(op.oldWords), len(newWords),
		meta, op.e.Torrent, strconv.FormatInt(op.e.PublishedAt.UnixNano(), 10), wordsField, op.ix.sort,
		op.ix.aid, op.ix.amember, op.e.Year, op.ix.albumPrefix, op.ix.albumSuffix, op.oldAID, op.denial}
	for _, w := range op.oldWords {
		args = append(args, w)
	}
	for _, w := range op.ix.words {
		args = append(args, w[0], w[1])
	}
	res, err := writeScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(res) == 0 {
		return nil, errors.New("empty reply")
	}
	return res, nil
}

// filed is what a track hash says of where the track is filed.
type filed struct {
	wordsField string
	words      []string
	aid        string
}

func readFiled(f map[string]string) (filed, error) {
	var index [][2]any
	if err := json.Unmarshal([]byte(f["words"]), &index); err != nil {
		return filed{}, fmt.Errorf("decode words: %w", err)
	}
	fd := filed{wordsField: f["words"], aid: f["aid"]}
	for _, iw := range index {
		w, _ := iw[0].(string)
		fd.words = append(fd.words, w)
	}
	return fd, nil
}

// Put implements catalog.Catalog.
func (s *Store) Put(ctx context.Context, e catalog.Entry) (catalog.Entry, bool, error) {
	if err := s.check(ctx); err != nil {
		return catalog.Entry{}, false, err
	}
	id, err := proto.ParseTrackID(e.ID)
	if err != nil {
		return catalog.Entry{}, false, fmt.Errorf("put track: %w", err)
	}
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
	ix := indexOf(e.Track)
	for range 5 {
		f, err := s.rdb.HGetAll(ctx, s.key("cat:t:"+id)).Result()
		if err != nil {
			return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: %w", id, err))
		}
		op := writeOp{mode: "create", e: e, ix: ix}
		if len(f) > 0 {
			existing, err := decodeEntry(f)
			if err != nil {
				return catalog.Entry{}, false, fmt.Errorf("put track %s: read existing: %w", id, err)
			}
			if existing.Publisher != e.Publisher || catalog.SameMeta(existing, e) {
				return existing, false, nil
			}
			fd, err := readFiled(f)
			if err != nil {
				return catalog.Entry{}, false, fmt.Errorf("put track %s: read existing: %w", id, err)
			}
			op.mode, op.oldWords, op.wordsField, op.oldAID = "update", fd.words, fd.wordsField, fd.aid
		}
		res, err := s.run(ctx, op)
		if err != nil {
			return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: %w", id, err))
		}
		switch res[0] {
		case "ok":
			if op.mode == "create" {
				ih, _ := rawID(id)
				s.idsMu.Lock()
				s.ids[ih] = struct{}{}
				s.idsMu.Unlock()
				return e, true, nil
			}
			ns, _ := strconv.ParseInt(fmt.Sprint(res[1]), 10, 64)
			e.PublishedAt = time.Unix(0, ns).UTC()
			return e, false, nil
		case "forbidden":
			if len(res) != 5 {
				return catalog.Entry{}, false, fmt.Errorf("put track %s: malformed reply of %d values", id, len(res))
			}
			fields := map[string]string{}
			for i, name := range []string{"meta", "torrent", "publisher", "published_at"} {
				v, _ := res[i+1].(string)
				fields[name] = v
			}
			existing, err := decodeEntry(fields)
			if err != nil {
				return catalog.Entry{}, false, fmt.Errorf("put track %s: read existing: %w", id, err)
			}
			return existing, false, nil
		case "denied":
			return catalog.Entry{}, false, fmt.Errorf("put track %s: %w", id, catalog.ErrDenied)
		case "exists", "notfound", "retry": // changed under us: look again
		default:
			return catalog.Entry{}, false, fmt.Errorf("put track %s: unexpected reply %v", id, res[0])
		}
	}
	return catalog.Entry{}, false, fmt.Errorf("put track %s: it kept changing under us", id)
}

func decodeEntry(f map[string]string) (catalog.Entry, error) {
	var e catalog.Entry
	if err := json.Unmarshal([]byte(f["meta"]), &e.Track); err != nil {
		return catalog.Entry{}, fmt.Errorf("decode metadata: %w", err)
	}
	if e.SeedURLs == nil {
		e.SeedURLs = []string{}
	}
	e.Torrent = []byte(f["torrent"])
	e.Publisher = f["publisher"]
	ns, err := strconv.ParseInt(f["published_at"], 10, 64)
	if err != nil {
		return catalog.Entry{}, fmt.Errorf("decode published_at: %w", err)
	}
	e.PublishedAt = time.Unix(0, ns).UTC()
	return e, nil
}

// Get implements catalog.Catalog.
func (s *Store) Get(ctx context.Context, id string) (catalog.Entry, error) {
	if err := s.check(ctx); err != nil {
		return catalog.Entry{}, err
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return catalog.Entry{}, fmt.Errorf("get track: %w: %v", catalog.ErrNotFound, err)
	}
	f, err := s.rdb.HGetAll(ctx, s.key("cat:t:"+canon)).Result()
	if err != nil {
		return catalog.Entry{}, s.wrap(fmt.Errorf("get track %s: %w", canon, err))
	}
	if len(f) == 0 {
		return catalog.Entry{}, catalog.ErrNotFound
	}
	e, err := decodeEntry(f)
	if err != nil {
		return catalog.Entry{}, fmt.Errorf("get track %s: %w", canon, err)
	}
	return e, nil
}

// Search implements catalog.Catalog. A search reads in a few round trips,
// not one snapshot: a track published or deleted meanwhile may be missing
// from the page or counted in the total once.
func (s *Store) Search(ctx context.Context, query string, limit, offset int) ([]proto.Track, int, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	if limit < 0 || offset < 0 {
		return nil, 0, fmt.Errorf("search: negative limit %d or offset %d", limit, offset)
	}
	var (
		tracks []proto.Track
		total  int
		err    error
	)
	if strings.TrimSpace(query) == "" {
		tracks, total, err = s.list(ctx, limit, offset)
	} else {
		tracks, total, err = s.search(ctx, catalog.QueryWords(query), limit, offset)
	}
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("search: %w", err))
	}
	return tracks, total, nil
}

func (s *Store) list(ctx context.Context, limit, offset int) ([]proto.Track, int, error) {
	ids, total, err := s.lexPage(ctx, "cat:order", limit, offset)
	if err != nil {
		return nil, 0, err
	}
	for i, k := range ids {
		ids[i] = k[strings.LastIndexByte(k, 0)+1:]
	}
	tracks, err := s.metas(ctx, ids)
	return tracks, total, err
}

// lexPage is one page of the sorted set key (of score 0, in byte order)
// and its size.
func (s *Store) lexPage(ctx context.Context, key string, limit, offset int) ([]string, int, error) {
	pipe := s.rdb.Pipeline()
	count := pipe.ZCard(ctx, s.key(key))
	var page *goredis.StringSliceCmd
	if limit > 0 {
		page = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.key(key), Start: "-", Stop: "+",
			ByLex: true, Offset: int64(offset), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, err
	}
	if page == nil {
		return nil, int(count.Val()), nil
	}
	return page.Val(), int(count.Val()), nil
}

// metas fetches the tracks with these ids, in order, skipping any deleted
// since the ids were read.
func (s *Store) metas(ctx context.Context, ids []string) ([]proto.Track, error) {
	tracks := make([]proto.Track, 0, len(ids))
	if len(ids) == 0 {
		return tracks, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.key("cat:meta"), ids...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var t proto.Track
		if err := json.Unmarshal([]byte(str), &t); err != nil {
			return nil, fmt.Errorf("track %s: decode metadata: %w", ids[i], err)
		}
		if t.SeedURLs == nil {
			t.SeedURLs = []string{}
		}
		tracks = append(tracks, t)
	}
	return tracks, nil
}

// search finds the tracks that have, for every query word, a word in
// title, artist or album starting with it; ranks them by the weight of the
// fields matched, then as listed; and returns one page.
func (s *Store) search(ctx context.Context, qwords []string, limit, offset int) ([]proto.Track, int, error) {
	tracks := []proto.Track{}
	score, err := s.match(ctx, qwords, inTitle|inArtist|inAlbum)
	if err != nil || len(score) == 0 {
		return tracks, 0, err
	}
	// 3: rank; ties in listing order.
	ids := make([]string, 0, len(score))
	for id := range score {
		ids = append(ids, id)
	}
	keys, err := s.rdb.HMGet(ctx, s.key("cat:sort"), ids...).Result()
	if err != nil {
		return nil, 0, err
	}
	type hit struct {
		id, sort string
		score    int
	}
	hits := make([]hit, 0, len(ids))
	for i, k := range keys {
		if k, ok := k.(string); ok { // else deleted since step 2
			hits = append(hits, hit{ids[i], k, score[ids[i]]})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if a.score != b.score {
			return b.score - a.score
		}
		return strings.Compare(a.sort, b.sort)
	})
	total := len(hits)
	if limit == 0 || offset >= total {
		return tracks, total, nil
	}
	page := hits[offset:min(offset+limit, total)]
	pageIDs := make([]string, len(page))
	for i, h := range page {
		pageIDs[i] = h.id
	}
	tracks, err = s.metas(ctx, pageIDs)
	return tracks, total, err
}

// match returns the ids of the tracks that have, for every query word, a
// word starting with it in one of fields (a mask), each with the weight of
// the fields matched.
func (s *Store) match(ctx context.Context, qwords []string, fields int) (map[string]int, error) {
	var folded []string
	for _, w := range qwords {
		if fw := fold(w); fw != "" && !slices.Contains(folded, fw) {
			folded = append(folded, fw)
		}
	}
	if len(folded) == 0 {
		return nil, nil
	}
	// 1: the index words each query word is a prefix of.
	pipe := s.rdb.Pipeline()
	expand := make([]*goredis.StringSliceCmd, len(folded))
	for i, w := range folded {
		// 0xFF never occurs in UTF-8: "w\xff" sorts after every word
		// that starts with w.
		expand[i] = pipe.ZRangeByLex(ctx, s.key("cat:words"), &goredis.ZRangeBy{Min: "[" + w, Max: "(" + w + "\xff"})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	for _, c := range expand {
		if len(c.Val()) == 0 {
			return nil, nil // AND: one word matching nothing matches nothing
		}
	}
	// 2: the tracks of those words, with the fields they occur in.
	postings := map[string]*goredis.ZSliceCmd{}
	pipe = s.rdb.Pipeline()
	for _, c := range expand {
		for _, w := range c.Val() {
			if postings[w] == nil {
				postings[w] = pipe.ZRangeWithScores(ctx, s.key("cat:w:"+w), 0, -1)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	var score map[string]int
	for _, c := range expand {
		masks := map[string]int{}
		for _, w := range c.Val() {
			for _, z := range postings[w].Val() {
				id, _ := z.Member.(string)
				if m := int(z.Score) & fields; m != 0 {
					masks[id] |= m
				}
			}
		}
		if score == nil {
			score = make(map[string]int, len(masks))
			for id, m := range masks {
				score[id] = weight(m)
			}
			continue
		}
		for id := range score {
			if m, ok := masks[id]; ok {
				score[id] += weight(m)
			} else {
				delete(score, id)
			}
		}
	}
	return score, nil
}

// Albums implements catalog.Catalog. Like Search, it reads in a few round
// trips, not one snapshot.
func (s *Store) Albums(ctx context.Context, query string, limit, offset int) ([]proto.Album, int, error) {
	if err := s.check(ctx); err != nil {
		return nil, 0, err
	}
	if limit < 0 || offset < 0 {
		return nil, 0, fmt.Errorf("albums: negative limit %d or offset %d", limit, offset)
	}
	var (
		keys  []string
		total int
		err   error
	)
	if strings.TrimSpace(query) == "" {
		keys, total, err = s.lexPage(ctx, "cat:albums", limit, offset)
	} else {
		keys, total, err = s.matchAlbums(ctx, catalog.QueryWords(query), limit, offset)
	}
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
	}
	albums, err := s.albumsOf(ctx, keys)
	if err != nil {
		return nil, 0, s.wrap(fmt.Errorf("albums: %w", err))
	}
	return albums, total, nil
}

// matchAlbums is one page of the sort keys of the albums with a track
// whose artist, album artist or album matches every query word.
func (s *Store) matchAlbums(ctx context.Context, qwords []string, limit, offset int) ([]string, int, error) {
	score, err := s.match(ctx, qwords, inArtist|inAlbum)
	if err != nil || len(score) == 0 {
		return nil, 0, err
	}
	ids := slices.Collect(maps.Keys(score))
	aids, err := s.rdb.HMGet(ctx, s.key("cat:aid"), ids...).Result()
	if err != nil {
		return nil, 0, err
	}
	seen := map[string]bool{}
	var uniq []string
	for _, a := range aids {
		if a, ok := a.(string); ok && a != "" && !seen[a] {
			seen[a] = true
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, 0, nil
	}
	sorts, err := s.rdb.HMGet(ctx, s.key("cat:asort"), uniq...).Result()
	if err != nil {
		return nil, 0, err
	}
	var keys []string
	for _, k := range sorts {
		if k, ok := k.(string); ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	total := len(keys)
	if limit == 0 || offset >= total {
		return nil, total, nil
	}
	return keys[offset:min(offset+limit, total)], total, nil
}

// albumsOf makes the albums of these album sort keys: each one's year
// from its key, its count and its names (its first track's) from its zset.
func (s *Store) albumsOf(ctx context.Context, keys []string) ([]proto.Album, error) {
	albums := make([]proto.Album, 0, len(keys))
	if len(keys) == 0 {
		return albums, nil
	}
	pipe := s.rdb.Pipeline()
	counts := make([]*goredis.IntCmd, len(keys))
	firsts := make([]*goredis.StringSliceCmd, len(keys))
	for i, k := range keys {
		aid := k[strings.LastIndexByte(k, 0)+1:]
		counts[i] = pipe.ZCard(ctx, s.key("cat:a:"+aid))
		firsts[i] = pipe.ZRange(ctx, s.key("cat:a:"+aid), 0, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	var firstIDs []string
	for i, k := range keys {
		f := firsts[i].Val()
		if len(f) == 0 {
			continue // emptied since the keys were read
		}
		year := 0
		if j := strings.IndexByte(k, 0); j >= 0 && len(k) >= j+5 {
			year, _ = strconv.Atoi(k[j+1 : j+5])
		}
		albums = append(albums, proto.Album{ID: k[strings.LastIndexByte(k, 0)+1:], Year: year, TrackCount: int(counts[i].Val())})
		firstIDs = append(firstIDs, f[0][strings.LastIndexByte(f[0], 0)+1:])
	}
	tracks, err := s.metas(ctx, firstIDs)
	if err != nil {
		return nil, err
	}
	byID := map[string]proto.Track{}
	for _, t := range tracks {
		byID[t.ID] = t
	}
	for i := range albums {
		t := byID[firstIDs[i]]
		albums[i].Title, albums[i].Artist = t.Album, t.AlbumArtistOrArtist()
	}
	return albums, nil
}

// Album implements catalog.Catalog.
func (s *Store) Album(ctx context.Context, id string) (proto.Album, []proto.Track, error) {
	if err := s.check(ctx); err != nil {
		return proto.Album{}, nil, err
	}
	canon, err := proto.ParseAlbumID(id)
	if err != nil {
		return proto.Album{}, nil, fmt.Errorf("album: %w: %v", catalog.ErrNotFound, err)
	}
	members, err := s.rdb.ZRange(ctx, s.key("cat:a:"+canon), 0, -1).Result()
	if err != nil {
		return proto.Album{}, nil, s.wrap(fmt.Errorf("album %s: %w", canon, err))
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m[strings.LastIndexByte(m, 0)+1:]
	}
	tracks, err := s.metas(ctx, ids)
	if err != nil {
		return proto.Album{}, nil, s.wrap(fmt.Errorf("album %s: %w", canon, err))
	}
	if len(tracks) == 0 {
		return proto.Album{}, nil, catalog.ErrNotFound
	}
	return catalog.AlbumOf(canon, tracks), tracks, nil
}

// migrate brings a catalog written by an older layout (no cat:version) to
// layoutVersion: every track is filed again, in place, as Put files it.
// Trackers that share a Redis should be upgraded together: an older one
// goes on writing the old layout.
func (s *Store) migrate(ctx context.Context) error {
	v, err := s.rdb.Get(ctx, s.key("cat:version")).Result()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("read layout version: %w", err)
	}
	if v == layoutVersion {
		return nil
	}
	if v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n > 2 {
			return fmt.Errorf("catalog layout version %q is not one this peertune knows (%s)", v, layoutVersion)
		}
	}
	ids, err := s.rdb.SMembers(ctx, s.key("cat:ids")).Result()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, id := range ids {
		f, err := s.rdb.HGetAll(ctx, s.key("cat:t:"+id)).Result()
		if err != nil {
			return fmt.Errorf("migrate track %s: %w", id, err)
		}
		if len(f) == 0 {
			continue
		}
		e, err := decodeEntry(f)
		if err != nil {
			return fmt.Errorf("migrate track %s: %w", id, err)
		}
		fd, err := readFiled(f)
		if err != nil {
			return fmt.Errorf("migrate track %s: %w", id, err)
		}
		res, err := s.run(ctx, writeOp{mode: "update", e: e, ix: indexOf(e.Track),
			oldWords: fd.words, wordsField: fd.wordsField, oldAID: fd.aid})
		if err != nil {
			return fmt.Errorf("migrate track %s: %w", id, err)
		}
		if res[0] != "ok" {
			return fmt.Errorf("migrate track %s: %v", id, res[0])
		}
	}
	if err := s.rdb.Set(ctx, s.key("cat:version"), layoutVersion, 0).Err(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if len(ids) > 0 {
		s.log.Info("redis catalog: migrated to the current layout", "tracks", len(ids), "version", layoutVersion)
	}
	return nil
}

// Delete implements catalog.Catalog.
func (s *Store) Delete(ctx context.Context, id, publisher string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return fmt.Errorf("delete track: %w: %v", catalog.ErrNotFound, err)
	}
	for range 5 {
		f, err := s.rdb.HMGet(ctx, s.key("cat:t:"+canon), "words", "aid").Result()
		if err != nil {
			return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
		}
		words, ok := f[0].(string)
		if !ok {
			return catalog.ErrNotFound
		}
		aid, _ := f[1].(string)
		fd, err := readFiled(map[string]string{"words": words, "aid": aid})
		if err != nil {
			return fmt.Errorf("delete track %s: %w", canon, err)
		}
		res, err := s.run(ctx, writeOp{mode: "delete", e: catalog.Entry{Track: proto.Track{ID: canon}, Publisher: publisher},
			oldWords: fd.words, wordsField: fd.wordsField, oldAID: fd.aid})
		if err != nil {
			return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
		}
		switch res[0] {
		case "ok":
			ih, _ := rawID(canon)
			s.idsMu.Lock()
			delete(s.ids, ih)
			s.idsMu.Unlock()
			return nil
		case "notfound":
			return catalog.ErrNotFound
		case "forbidden":
			return catalog.ErrForbidden
		case "retry": // republished between our read and the script
			continue
		default:
			return fmt.Errorf("delete track %s: unexpected reply %v", canon, res[0])
		}
	}
	return fmt.Errorf("delete track %s: it kept changing under us", canon)
}

// Contains implements catalog.Catalog: from the local id set, and on a
// miss from Redis (see Store).
func (s *Store) Contains(ctx context.Context, ih [20]byte) (bool, error) {
	if s.closed.Load() {
		return false, catalog.ErrClosed
	}
	s.idsMu.RLock()
	_, ok := s.ids[ih]
	s.idsMu.RUnlock()
	if ok {
		return true, nil
	}
	id := hex.EncodeToString(ih[:])
	ok, err := s.rdb.SIsMember(ctx, s.key("cat:ids"), id).Result()
	if err != nil {
		return false, s.wrap(fmt.Errorf("contains %s: %w", id, err))
	}
	if ok {
		s.apply("+" + id)
	}
	return ok, nil
}

// Count implements catalog.Catalog: SCARD, exact across instances.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	n, err := s.rdb.SCard(ctx, s.key("cat:ids")).Result()
	if err != nil {
		return 0, s.wrap(fmt.Errorf("count: %w", err))
	}
	return int(n), nil
}

// RenamePublishers implements catalog.Catalog: it reads every track's
// publisher (pipelined) and renames the matching ones, each only if its
// publisher is still the one read.
func (s *Store) RenamePublishers(ctx context.Context, names map[string]string) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if len(names) == 0 {
		return 0, nil
	}
	ids, err := s.rdb.SMembers(ctx, s.key("cat:ids")).Result()
	if err != nil {
		return 0, s.wrap(fmt.Errorf("rename publishers: %w", err))
	}
	const batch = 1000
	renamed := 0
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		pipe := s.rdb.Pipeline()
		pubs := make([]*goredis.StringCmd, len(chunk))
		for i, id := range chunk {
			pubs[i] = pipe.HGet(ctx, s.key("cat:t:"+id), "publisher")
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
			return renamed, s.wrap(fmt.Errorf("rename publishers: %w", err))
		}
		for i, id := range chunk {
			to, ok := names[pubs[i].Val()]
			if !ok {
				continue
			}
			n, err := renameScript.Run(ctx, s.rdb, []string{s.key("cat:t:" + id)}, pubs[i].Val(), to).Int()
			if err != nil {
				return renamed, s.wrap(fmt.Errorf("rename publisher of %s: %w", id, err))
			}
			renamed += n
		}
	}
	return renamed, nil
}

// Deny implements catalog.Catalog.
func (s *Store) Deny(ctx context.Context, d proto.Denial) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	id, err := proto.ParseTrackID(d.ID)
	if err != nil {
		return false, fmt.Errorf("deny: %w", err)
	}
	d.ID = id
	if d.At.IsZero() {
		d.At = time.Now()
	}
	d.At = time.Unix(0, d.At.UnixNano()).UTC()
	denial, err := json.Marshal(d)
	if err != nil {
		return false, fmt.Errorf("deny %s: encode: %w", id, err)
	}
	for range 5 {
		f, err := s.rdb.HMGet(ctx, s.key("cat:t:"+id), "words", "aid").Result()
		if err != nil {
			return false, s.wrap(fmt.Errorf("deny %s: %w", id, err))
		}
		op := writeOp{mode: "deny", e: catalog.Entry{Track: proto.Track{ID: id}}, denial: denial}
		if words, ok := f[0].(string); ok {
			aid, _ := f[1].(string)
			fd, err := readFiled(map[string]string{"words": words, "aid": aid})
			if err != nil {
				return false, fmt.Errorf("deny %s: %w", id, err)
			}
			op.mode, op.oldWords, op.wordsField, op.oldAID = "takedown", fd.words, fd.wordsField, fd.aid
		}
		res, err := s.run(ctx, op)
		if err != nil {
			return false, s.wrap(fmt.Errorf("deny %s: %w", id, err))
		}
		switch res[0] {
		case "ok":
			ih, _ := rawID(id)
			s.idsMu.Lock()
			delete(s.ids, ih)
			s.denied[ih] = struct{}{}
			s.idsMu.Unlock()
			return op.mode == "takedown", nil
		case "notfound", "retry": // published or removed meanwhile: look again
		default:
			return false, fmt.Errorf("deny %s: unexpected reply %v", id, res[0])
		}
	}
	return false, fmt.Errorf("deny %s: it kept changing under us", id)
}

// Lift implements catalog.Catalog.
func (s *Store) Lift(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	canon, err := proto.ParseTrackID(id)
	if err != nil {
		return fmt.Errorf("lift: %w: %v", catalog.ErrNotFound, err)
	}
	n, err := liftScript.Run(ctx, s.rdb, []string{s.key("cat:deny")}, canon, s.channel).Int()
	if err != nil {
		return s.wrap(fmt.Errorf("lift %s: %w", canon, err))
	}
	ih, _ := rawID(canon)
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
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	all, err := s.rdb.HGetAll(ctx, s.key("cat:deny")).Result()
	if err != nil {
		return nil, s.wrap(fmt.Errorf("deny list: %w", err))
	}
	list := make([]proto.Denial, 0, len(all))
	for id, v := range all {
		var d proto.Denial
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("deny list: %s: %w", id, err)
		}
		d.ID, d.At = id, d.At.UTC()
		list = append(list, d)
	}
	slices.SortFunc(list, catalog.CompareDenials)
	return list, nil
}

// Denied implements catalog.Catalog from the local copy of the deny list
// (see Store).
func (s *Store) Denied(_ context.Context, ih [20]byte) (bool, error) {
	if s.closed.Load() {
		return false, catalog.ErrClosed
	}
	s.idsMu.RLock()
	_, ok := s.denied[ih]
	s.idsMu.RUnlock()
	return ok, nil
}
