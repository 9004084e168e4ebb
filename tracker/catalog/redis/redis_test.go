package redis_test

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
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

// TestConformanceCluster: the suite on a real Redis Cluster of three
// masters: the catalog's scripts and pipelines keep to one hash slot.
func TestConformanceCluster(t *testing.T) {
	url := itest.NewRedisCluster(t, 3, 0).URL
	catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
		return open(t, url, itest.RedisPrefix(t, url), redis.Config{})
	})
}

// TestConformanceSentinel: the suite through Sentinels to a primary.
func TestConformanceSentinel(t *testing.T) {
	url := itest.NewRedisSentinelSet(t).URL
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

// TestIndexCleanedOnDelete: deleting every track leaves no index words,
// album keys or listing entries behind, also after a retag.
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
	retagged := entries[1]
	retagged.Album, retagged.AlbumArtist, retagged.Year, retagged.TrackNumber = "Power, Corruption & Lies", "NO", 1983, 2
	if _, _, err := s.Put(ctx, retagged); err != nil {
		t.Fatal(err)
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
	keys = slices.DeleteFunc(keys, func(k string) bool { return k == prefix+"cat:version" })
	if len(keys) != 0 {
		t.Errorf("keys left after deleting every track: %q", keys)
	}
}

// TestMigrateFromLayout1: a catalog that a peertune before the library
// fields wrote (no cat:version, sort keys by artist, album, title; no
// album keys) is filed again when a Store opens it.
func TestMigrateFromLayout1(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	ctx := t.Context()
	e := catalogtest.NewEntry("old", "Old Song", "Old Band", "Old Album")
	first := open(t, url, prefix, redis.Config{})
	if _, _, err := first.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	// Turn it into what the old code wrote.
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	oldSort := "old band\x00old album\x00old song\x00" + e.ID
	pipe := rdb.TxPipeline()
	pipe.Del(ctx, prefix+"cat:version", prefix+"cat:albums", prefix+"cat:asort", prefix+"cat:aid")
	for _, k := range []string{"cat:a:", "cat:ay:"} {
		pipe.Del(ctx, prefix+k+proto.AlbumID("Old Band", "Old Album"))
	}
	pipe.HDel(ctx, prefix+"cat:t:"+e.ID, "aid", "amember")
	pipe.HSet(ctx, prefix+"cat:t:"+e.ID, "sort", oldSort)
	pipe.HSet(ctx, prefix+"cat:sort", e.ID, oldSort)
	pipe.Del(ctx, prefix+"cat:order")
	pipe.ZAdd(ctx, prefix+"cat:order", goredis.Z{Member: oldSort})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if as, _, err := first.Albums(ctx, "", 10, 0); err != nil || len(as) != 0 {
		t.Fatalf("the old layout has albums: %v, %v", as, err)
	}

	s := open(t, url, prefix, redis.Config{})
	as, total, err := s.Albums(ctx, "", 10, 0)
	if err != nil || total != 1 || len(as) != 1 || as[0].Title != "Old Album" || as[0].TrackCount != 1 {
		t.Fatalf("albums after migration = %+v (total %d), %v", as, total, err)
	}
	if _, tracks, err := s.Album(ctx, as[0].ID); err != nil || len(tracks) != 1 || tracks[0].ID != e.ID {
		t.Errorf("album after migration = %v, %v", tracks, err)
	}
	if order, err := rdb.ZRange(ctx, prefix+"cat:order", 0, -1).Result(); err != nil || len(order) != 1 || order[0] == oldSort {
		t.Errorf("order after migration = %q, %v; want the new sort key only", order, err)
	}
	if tracks, total, err := s.Search(ctx, "old band", 10, 0); err != nil || total != 1 || len(tracks) != 1 {
		t.Errorf("search after migration: %d tracks, total %d, %v", len(tracks), total, err)
	}
	if v, err := rdb.Get(ctx, prefix+"cat:version").Result(); err != nil || v != "2" {
		t.Errorf("cat:version = %q, %v; want 2", v, err)
	}
}

// TestTwoInstancesDeny: a takedown through one store is refused at once by
// the other's Put, reaches its Denied through the event channel (its
// resync is an hour away), and so does the lift; the deny list's key is
// under the store's prefix, and a takedown leaves no index behind.
func TestTwoInstancesDeny(t *testing.T) {
	url := itest.RedisURL(t)
	prefix := itest.RedisPrefix(t, url)
	a := open(t, url, prefix, redis.Config{})
	b := open(t, url, prefix, redis.Config{ResyncInterval: time.Hour})
	ctx := t.Context()
	e := catalogtest.NewEntry("denied", "Bootleg", "Infringer", "Bootlegs")
	ih := rawID(t, e.ID)
	if _, _, err := a.Put(ctx, e); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Contains(ctx, ih); err != nil || !ok {
		t.Fatalf("B Contains = %v, %v", ok, err)
	}
	if removed, err := a.Deny(ctx, proto.Denial{ID: e.ID, Reason: "r", By: "root"}); err != nil || !removed {
		t.Fatalf("A Deny = %v, %v", removed, err)
	}
	if _, _, err := b.Put(ctx, e); !errors.Is(err, catalog.ErrDenied) {
		t.Errorf("B Put right after A's takedown = %v, want ErrDenied", err)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 5 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	eventually("B sees the denial", func() bool { ok, err := b.Denied(ctx, ih); return err == nil && ok })
	eventually("B forgets the track", func() bool { ok, err := b.Contains(ctx, ih); return err == nil && !ok })

	opts, _ := goredis.ParseURL(url)
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{prefix + "cat:deny", prefix + "cat:version"}; !slices.Equal(keys, want) {
		t.Errorf("keys after the takedown of the only track: %q, want %q", keys, want)
	}

	if err := b.Lift(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	eventually("A sees the lift", func() bool { ok, err := a.Denied(ctx, ih); return err == nil && !ok })
	if _, created, err := a.Put(ctx, e); err != nil || !created {
		t.Errorf("A Put after the lift = %v, %v", created, err)
	}
	// A reload (a reconnect, the resync) reads the deny list from Redis.
	if _, err := a.Deny(ctx, proto.Denial{ID: catalogtest.NewEntry("x", "", "", "").ID, By: "root"}); err != nil {
		t.Fatal(err)
	}
	c := open(t, url, prefix, redis.Config{ResyncInterval: time.Hour})
	if ok, err := c.Denied(ctx, rawID(t, catalogtest.NewEntry("x", "", "", "").ID)); err != nil || !ok {
		t.Errorf("a new store's Denied = %v, %v; want the denial loaded at start", ok, err)
	}
}
