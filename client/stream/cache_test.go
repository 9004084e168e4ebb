package stream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peertune/peertune/proto"
)

// A fully cached track plays with the seed server gone and no peers.
func TestCachedTrackNeedsNoNetwork(t *testing.T) {
	tt, seed := newSeededTrack(t, 256<<10)
	dir := t.TempDir()
	a := newTestClient(t, dir, testPolicy())
	sa := openStream(t, a, tt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := play(ctx, sa, 1000); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sa, 30*time.Second)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := ListCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !ents[0].Complete || ents[0].Track.Title != tt.track.Title {
		t.Fatalf("cache lists %+v", ents)
	}
	seed.Close()
	requests := seed.requests.Load()

	b := newTestClient(t, dir, testPolicy())
	if n := len(b.Streams()); n != 1 {
		t.Fatalf("restarted client holds %d tracks, want the cached one", n)
	}
	sb, err := b.Open(proto.Track{ID: tt.track.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, sb, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("cached track read differently")
	}
	st := sb.Stats()
	checkSum(t, "cached", st)
	if st.BytesCache != st.Size || seed.requests.Load() != requests {
		t.Errorf("cached play: %s, %d new HTTP requests", fmtStats(st), seed.requests.Load()-requests)
	}
}

// The cache evicts whole least recently used tracks, never an open one.
func TestCacheEvictsLRUNotOpen(t *testing.T) {
	const size = 64 << 10
	dir := t.TempDir()
	var tracks []testTrack
	for range 3 {
		tt, _ := newSeededTrack(t, size)
		tracks = append(tracks, tt)
	}
	c, err := New(Config{CacheDir: dir, CacheSize: 2*size + size/2, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var streams []*Stream
	for i, tt := range tracks[:2] {
		s := openStream(t, c, tt)
		if _, err := play(ctx, s, 1000); err != nil {
			t.Fatal(err)
		}
		waitComplete(t, s, 30*time.Second)
		streams = append(streams, s)
		if i == 0 {
			time.Sleep(10 * time.Millisecond) // distinct LastUsed
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Track 0 is closed and oldest; track 1 is still open.
	s2, err := c.Open(tracks[2].track, tracks[2].torrent)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := play(ctx, s2, 1000); err != nil {
		t.Fatal(err)
	}
	ents, err := ListCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range ents {
		ids[e.Track.ID] = true
	}
	if ids[tracks[0].track.ID] || !ids[tracks[1].track.ID] || !ids[tracks[2].track.ID] || len(ids) != 2 {
		t.Errorf("after eviction the cache holds %v", ids)
	}
	if _, err := os.Stat(filepath.Join(dir, dataDirName, tracks[0].track.ID)); !os.IsNotExist(err) {
		t.Errorf("evicted track's data still there: %v", err)
	}
	c.Close()
	if err := ClearCache(dir); err != nil {
		t.Fatal(err)
	}
	if ents, err := ListCache(dir); err != nil || len(ents) != 0 {
		t.Errorf("after clear: %v, %v", ents, err)
	}
}

// Prefetch fetches from peers only, never over HTTP.
func TestPrefetchFromPeers(t *testing.T) {
	tt, seed := newSeededTrack(t, 256<<10)
	a := newTestClient(t, t.TempDir(), testPolicy())
	sa := openStream(t, a, tt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := play(ctx, sa, 1000); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sa, 30*time.Second)
	requests := seed.requests.Load()
	b := newTestClient(t, t.TempDir(), testPolicy())
	sb, err := b.Prefetch(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sb, 30*time.Second)
	st := sb.Stats()
	checkSum(t, "prefetch", st)
	if st.BytesPeers != st.Size || seed.requests.Load() != requests {
		t.Errorf("prefetch: %s, %d HTTP requests", fmtStats(st), seed.requests.Load()-requests)
	}
}

// A restarted player announces the tracks in its cache to their tracker.
func TestCachedTracksAnnouncedAtStart(t *testing.T) {
	var mu sync.Mutex
	announced := map[string][]string{} // info hash -> peer ids
	tracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		mu.Lock()
		ih := fmt.Sprintf("%x", q.Get("info_hash"))
		announced[ih] = append(announced[ih], q.Get("peer_id"))
		mu.Unlock()
		w.Write([]byte("d8:intervali60e5:peers0:e"))
	}))
	defer tracker.Close()
	tt, _ := newSeededTrack(t, 64<<10, tracker.URL+"/announce")
	dir := t.TempDir()
	a := newTestClient(t, dir, testPolicy())
	sa := openStream(t, a, tt)
	waitComplete(t, sa, 30*time.Second)
	a.Close()

	b := newTestClient(t, dir, testPolicy())
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		var found bool
		for _, id := range announced[tt.track.ID] {
			found = found || id == b.PeerID()
		}
		mu.Unlock()
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted player did not announce its cached track; announces: %v", announced)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.HasPrefix(b.PeerID(), proto.PeerIDPrefixPlayer) {
		t.Errorf("peer id %q", b.PeerID())
	}
}

// Two clients cannot share a cache directory, and a used cache cannot be
// cleared.
func TestCacheDirLocked(t *testing.T) {
	dir := t.TempDir()
	a := newTestClient(t, dir, testPolicy())
	if _, err := New(Config{CacheDir: dir, ListenAddr: "127.0.0.1:0"}); !errors.Is(err, ErrCacheInUse) {
		t.Fatalf("second client on the same cache: %v, want ErrCacheInUse", err)
	}
	if err := ClearCache(dir); !errors.Is(err, ErrCacheInUse) {
		t.Fatalf("clearing a cache in use: %v, want ErrCacheInUse", err)
	}
	a.Close()
	b, err := New(Config{CacheDir: dir, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("reopening after Close: %v", err)
	}
	b.Close()
	if err := ClearCache(dir); err != nil {
		t.Fatal(err)
	}
}

// Prefetch never uses HTTP; a later Open of the same track fetches the head.
func TestPrefetchThenOpen(t *testing.T) {
	tt, seed := newSeededTrack(t, 256<<10)
	c := newTestClient(t, t.TempDir(), testPolicy())
	sp, err := c.Prefetch(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if n := seed.requests.Load(); n != 0 {
		t.Fatalf("prefetch made %d HTTP requests", n)
	}
	so := openStream(t, c, tt)
	if so != sp {
		t.Fatal("Open of a prefetched track returned another stream")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := play(ctx, so, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("read different bytes")
	}
	waitComplete(t, so, 30*time.Second)
	st := so.Stats()
	checkSum(t, "opened", st)
	if st.BytesSeedHead == 0 {
		t.Errorf("no head over HTTP after Open: %s", fmtStats(st))
	}
}

// Once the pacer finds the uplink full, a client without MaxPeers keeps
// every track, the open ones and those opened after, to SlowLineMaxPeers
// connections (anacrolix splits the upload evenly over all of them).
func TestSlowLineKeepsFewerPeers(t *testing.T) {
	c := newTestClient(t, t.TempDir(), testPolicy())
	before := openStream(t, c, newTestTrack(t, 4*testPieceLen))
	c.noteSlowLine()
	after := openStream(t, c, newTestTrack(t, 4*testPieceLen))
	for name, s := range map[string]*Stream{"open before": before, "opened after": after} {
		if got := s.t.SetMaxEstablishedConns(SlowLineMaxPeers); got != SlowLineMaxPeers {
			t.Errorf("track %s: %d connections allowed, want %d", name, got, SlowLineMaxPeers)
		}
	}
}
