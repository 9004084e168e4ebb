// Package redis is the catalog that several tracker processes share: tracks,
// their .torrent files and a search index live in Redis, so a track
// published through one tracker is found through every other at once.
//
// Layout, under a key prefix (default "peertune:"):
//
//	cat:t:<id>   hash: meta (the Track as JSON), torrent, publisher,
//	             published_at (Unix ns), words (its index entries), sort
//	cat:ids      set of every id              (Count, Contains)
//	cat:meta     hash id -> meta JSON         (search result pages)
//	cat:sort     hash id -> sort key          (ranking ties)
//	cat:order    zset of sort keys, score 0   (listing, by ZRANGE BYLEX)
//	cat:words    zset of index words, score 0 (prefix lookup, ZRANGEBYLEX)
//	cat:w:<word> zset id -> field mask        (title 1, artist 2, album 4)
//
// Put and Delete are Lua scripts: each is atomic, and every check precedes
// the first write. Words are split as catalog.QueryWords splits queries,
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
// events every instance publishes on Put and Delete (pub/sub), reloaded
// every ResyncInterval and whenever the subscription (re)connects (events
// are lost while it is down). A miss is checked with SISMEMBER, so a track
// is tracked everywhere the moment its Put returns; a delete made through
// another instance reaches this one within milliseconds through its event,
// or at the latest at the next reload if the event was lost.
type Store struct {
	rdb       goredis.UniversalClient
	ownClient bool
	prefix    string
	channel   string
	log       *slog.Logger

	idsMu     sync.RWMutex
	ids       map[[20]byte]struct{}
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
	s := &Store{
		rdb:     rdb,
		prefix:  cfg.Prefix,
		channel: cfg.Prefix + "cat:events",
		log:     cfg.Logger,
		ids:     make(map[[20]byte]struct{}),
	}
	// Subscribe first, then load: an event published in between is then
	// queued by the first (re)subscription's reload, not lost.
	s.pubsub = rdb.Subscribe(ctx)
	if err := s.pubsub.Subscribe(ctx, s.channel); err != nil {
		s.pubsub.Close()
		return nil, fmt.Errorf("redis catalog: subscribe: %w", err)
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

// apply applies one event ("+id" or "-id"), or queues it during a reload.
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
	}
}

// reload replaces the local id set with Redis's, then replays the events
// that arrived meanwhile, in order: the last event of an id decides.
func (s *Store) reload(ctx context.Context) error {
	s.idsMu.Lock()
	if s.reloading { // another reload is under way
		s.idsMu.Unlock()
		return nil
	}
	s.reloading = true
	s.queued = nil
	s.idsMu.Unlock()

	members, err := s.rdb.SMembers(ctx, s.key("cat:ids")).Result()
	ids := make(map[[20]byte]struct{}, len(members))
	for _, m := range members {
		if ih, err := rawID(m); err == nil {
			ids[ih] = struct{}{}
		}
	}
	s.idsMu.Lock()
	defer s.idsMu.Unlock()
	s.reloading = false
	queued := s.queued
	s.queued = nil
	if err == nil {
		s.ids = ids
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

// indexWords are the folded words of a track's fields, each with the mask
// of the fields it occurs in, sorted by word.
func indexWords(title, artist, album string) [][2]any {
	masks := map[string]int{}
	for _, f := range []struct {
		text string
		mask int
	}{{title, inTitle}, {artist, inArtist}, {album, inAlbum}} {
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

// asciiLower folds ASCII letters only: SQLite's COLLATE NOCASE, which the
// sqlite backend lists by.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sortKey orders tracks by artist, album, title (NOCASE), then id. NUL
// separates the fields, so byte order of keys is the order of the tuples.
func sortKey(t proto.Track) string {
	return asciiLower(t.Artist) + "\x00" + asciiLower(t.Album) + "\x00" + asciiLower(t.Title) + "\x00" + t.ID
}

// trackKeys are the keys putScript and deleteScript take.
func (s *Store) trackKeys(id string, words []string) []string {
	keys := []string{s.key("cat:t:" + id), s.key("cat:ids"), s.key("cat:meta"), s.key("cat:sort"),
		s.key("cat:order"), s.key("cat:words")}
	for _, w := range words {
		keys = append(keys, s.key("cat:w:"+w))
	}
	return keys
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
	meta, err := json.Marshal(e.Track)
	if err != nil {
		return catalog.Entry{}, false, fmt.Errorf("put track %s: encode: %w", id, err)
	}
	index := indexWords(e.Title, e.Artist, e.Album)
	wordsField, err := json.Marshal(index)
	if err != nil {
		return catalog.Entry{}, false, fmt.Errorf("put track %s: encode words: %w", id, err)
	}
	words := make([]string, len(index))
	args := []any{id, meta, e.Torrent, e.Publisher, strconv.FormatInt(e.PublishedAt.UnixNano(), 10),
		wordsField, sortKey(e.Track), s.channel}
	for i, iw := range index {
		words[i] = iw[0].(string)
		args = append(args, iw[0], iw[1])
	}
	res, err := putScript.Run(ctx, s.rdb, s.trackKeys(id, words), args...).Slice()
	if err != nil {
		return catalog.Entry{}, false, s.wrap(fmt.Errorf("put track %s: %w", id, err))
	}
	if len(res) == 1 {
		ih, _ := rawID(id)
		s.idsMu.Lock()
		s.ids[ih] = struct{}{}
		s.idsMu.Unlock()
		return e, true, nil
	}
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
	pipe := s.rdb.Pipeline()
	count := pipe.ZCard(ctx, s.key("cat:order"))
	var page *goredis.StringSliceCmd
	if limit > 0 {
		page = pipe.ZRangeArgs(ctx, goredis.ZRangeArgs{Key: s.key("cat:order"), Start: "-", Stop: "+",
			ByLex: true, Offset: int64(offset), Count: int64(limit)})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, err
	}
	if page == nil {
		return []proto.Track{}, int(count.Val()), nil
	}
	ids := page.Val()
	for i, k := range ids {
		ids[i] = k[strings.LastIndexByte(k, 0)+1:]
	}
	tracks, err := s.metas(ctx, ids)
	return tracks, int(count.Val()), err
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
	var folded []string
	for _, w := range qwords {
		if fw := fold(w); fw != "" && !slices.Contains(folded, fw) {
			folded = append(folded, fw)
		}
	}
	if len(folded) == 0 {
		return tracks, 0, nil
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
		return nil, 0, err
	}
	for _, c := range expand {
		if len(c.Val()) == 0 {
			return tracks, 0, nil // AND: one word matching nothing matches nothing
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
		return nil, 0, err
	}
	var score map[string]int
	for _, c := range expand {
		masks := map[string]int{}
		for _, w := range c.Val() {
			for _, z := range postings[w].Val() {
				id, _ := z.Member.(string)
				masks[id] |= int(z.Score)
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
	if len(score) == 0 {
		return tracks, 0, nil
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
		wordsField, err := s.rdb.HGet(ctx, s.key("cat:t:"+canon), "words").Result()
		if errors.Is(err, goredis.Nil) {
			return catalog.ErrNotFound
		}
		if err != nil {
			return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
		}
		var index [][2]any
		if err := json.Unmarshal([]byte(wordsField), &index); err != nil {
			return fmt.Errorf("delete track %s: decode words: %w", canon, err)
		}
		words := make([]string, 0, len(index))
		args := []any{canon, publisher, wordsField, s.channel}
		for _, iw := range index {
			w, _ := iw[0].(string)
			words = append(words, w)
			args = append(args, w)
		}
		res, err := deleteScript.Run(ctx, s.rdb, s.trackKeys(canon, words), args...).Text()
		if err != nil {
			return s.wrap(fmt.Errorf("delete track %s: %w", canon, err))
		}
		switch res {
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
			return fmt.Errorf("delete track %s: unexpected reply %q", canon, res)
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
