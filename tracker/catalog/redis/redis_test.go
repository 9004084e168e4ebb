package redis_test

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/tracker/catalog"
	"github.com/peertune/peertune/tracker/catalog/catalogtest"
	"github.com/peertune/peertune/tracker/catalog/redis"
)

// open returns a store under prefix on the Redis at url, closed when tb
// ends (itest.RedisPrefix removes its keys).
func open(tb testing.TB, url, prefix string, cfg redis.Config) *redis.Store {
	tb.Helper()
	cfg.Prefix = prefix
	s, err := redis.Open(context.Background(), url, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	url := itest.RedisURL(t)
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		return open(t, url, itest.RedisPrefix(t, url), redis.Config{})
	})
}

func BenchmarkCatalog(b *testing.B) {
	url := itest.RedisURL(b)
	catalogtest.Bench(b, func(b *testing.B) catalog.Catalog {
		return open(b, url, itest.RedisPrefix(b, url), redis.Config{})
	})
}

func rawID(t *testing.T, id string) [20]byte {
	var ih [20]byte
	if _, err := hex.Decode(ih[:], []byte(id)); err != nil {
		t.Fatal(err)
	}
	return ih
}

// TestTwoInstances: two stores on one Redis and prefix (two trackers) share
// one catalog: what one publishes the other finds, counts and tracks, and a
// delete on one reaches the other's local id set through its event.
func TestTwoInstances(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	a := open(t, url, prefix, redis.Config{})
	b := open(t, url, prefix, redis.Config{ResyncInterval: time.Hour})
	ctx := t.Context()
	e := catalogtest.NewEntry("shared", "Windowlicker", "Aphex Twin", "Windowlicker EP")
	ih := rawID(t, e.ID)
	if ok, err := b.Contains(ctx, ih); err != nil || ok {
		t.Fatalf("B Contains before Put = %v, %v", ok, err)
	}
	if _, created, err := a.Put(ctx, e); err != nil || !created {
		t.Fatalf("A Put = %v, %v", created, err)
	}
	// Immediately, whether or not B has seen the event yet.
	if ok, err := b.Contains(ctx, ih); err != nil || !ok {
		t.Errorf("B Contains right after A's Put = %v, %v", ok, err)
	}
	tracks, total, err := b.Search(ctx, "aphex wind", 10, 0)
	if err != nil || total != 1 || len(tracks) != 1 || tracks[0].ID != e.ID {
		t.Errorf("B Search = %v, %d, %v", tracks, total, err)
	}
	if got, err := b.Get(ctx, e.ID); err != nil || string(got.Torrent) != string(e.Torrent) {
		t.Errorf("B Get = %+v, %v", got.Track, err)
	}
	if n, err := b.Count(ctx); err != nil || n != 1 {
		t.Errorf("B Count = %d, %v", n, err)
	}
	if _, created, err := b.Put(ctx, e); err != nil || created {
		t.Errorf("B re-Put = %v, %v; want not created", created, err)
	}
	if err := b.Delete(ctx, e.ID, catalogtest.PublisherB); !errors.Is(err, catalog.ErrForbidden) {
		t.Errorf("B Delete by another publisher = %v", err)
	}
	if err := b.Delete(ctx, e.ID, e.Publisher); err != nil {
		t.Fatalf("B Delete: %v", err)
	}
	// A learns of the delete through the event channel (B's resync is an
	// hour away, and A's positive answer would come from its local set).
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := a.Contains(ctx, ih)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A still contains the track 5 s after B deleted it")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if tracks, total, err := a.Search(ctx, "aphex", 10, 0); err != nil || total != 0 || len(tracks) != 0 {
		t.Errorf("A Search after delete = %v, %d, %v", tracks, total, err)
	}
}

// TestIndexCleanedOnDelete: deleting every track leaves no index words
// behind.
func TestIndexCleanedOnDelete(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	s := open(t, url, prefix, redis.Config{})
	ctx := t.Context()
	entries := []catalog.Entry{
		catalogtest.NewEntry("1", "Blue Monday", "New Order", "Substance"),
		catalogtest.NewEntry("2", "Ceremony", "New Order", "Substance"),
	}
	for _, e := range entries {
		if _, _, err := s.Put(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range entries {
		if err := s.Delete(ctx, e.ID, e.Publisher); err != nil {
			t.Fatal(err)
		}
	}
	opts, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys left after deleting every track: %q", keys)
	}
}
