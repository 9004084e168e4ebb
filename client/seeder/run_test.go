package seeder

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/proto"
)

// wavBytes is a 16-bit mono PCM WAV of a tone, seconds long.
func wavBytes(seconds float64, freq float64) []byte {
	const rate = 8000
	n := int(seconds * rate)
	b := make([]byte, 44+2*n)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+2*n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], rate)
	binary.LittleEndian.PutUint32(b[28:], rate*2)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(2*n))
	for i := range n {
		v := int16(8000 * math.Sin(2*math.Pi*freq*float64(i)/rate))
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(v))
	}
	return b
}

// catalogRecorder is a loopback stand-in for the tracker's catalog API
// that records what the seeder publishes and deletes (the real tracker is
// exercised by the integration tests; this one lets Run, Sync, the watcher
// and the BitTorrent client run in-process under -race).
type catalogRecorder struct {
	mu     sync.Mutex
	tracks map[string]proto.PublishRequest
	events []string
	// takenDown are titles whose publish is refused as the real tracker
	// refuses a track its admins took down.
	takenDown map[string]bool
}

func (c *catalogRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case r.URL.Path == proto.PathInfo:
		json.NewEncoder(w).Encode(proto.Info{Announce: []string{"http://127.0.0.1:1/announce"}})
	case r.URL.Path == proto.PathTracks && r.Method == http.MethodPost:
		var req proto.PublishRequest
		json.NewDecoder(r.Body).Decode(&req)
		mi, err := metainfo.Load(strings.NewReader(string(req.Torrent)))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(proto.Error{Error: err.Error()})
			return
		}
		id := mi.HashInfoBytes().HexString()
		c.events = append(c.events, "try "+req.Title)
		if c.takenDown[req.Title] {
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(proto.Error{Error: "track " + id + " was taken down", Code: proto.ErrorCodeTakenDown})
			return
		}
		_, had := c.tracks[id]
		c.tracks[id] = req
		c.events = append(c.events, "publish "+req.Title)
		if !had {
			w.WriteHeader(http.StatusCreated)
		}
		json.NewEncoder(w).Encode(proto.Track{ID: id, Title: req.Title})
	case strings.HasPrefix(r.URL.Path, proto.PathTrackPrefix) && r.Method == http.MethodDelete:
		id := strings.TrimPrefix(r.URL.Path, proto.PathTrackPrefix)
		req, ok := c.tracks[id]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(proto.Error{Error: "no such track"})
			return
		}
		delete(c.tracks, id)
		c.events = append(c.events, "delete "+req.Title)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (c *catalogRecorder) titles() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]bool{}
	for _, r := range c.tracks {
		out[r.Title] = true
	}
	return out
}

func TestRunWatchAndShutdown(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lib := t.TempDir()
	writeFile(t, filepath.Join(lib, "one.wav"), wavBytes(1, 440))
	writeFile(t, filepath.Join(lib, "sub", "two.wav"), wavBytes(2, 550))
	writeFile(t, filepath.Join(lib, "bad.wav"), []byte("RIFF junk"))
	rec := &catalogRecorder{tracks: map[string]proto.PublishRequest{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client, _ := api.New(srv.URL, api.WithToken("t"))
	reg := prometheus.NewRegistry()
	logs := &lockedBuffer{}
	s, err := New(Config{Dir: lib, API: client, Listen: "127.0.0.1:0", BTListen: "127.0.0.1:0", Watch: true,
		UploadRate: 1 << 20, Registry: reg, Log: slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil)), Debounce: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (catalog %v)", what, rec.titles())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("the library", func() bool { ts := rec.titles(); return len(ts) == 2 && ts["one"] && ts["two"] })

	resp, err := http.Get("http://" + s.HTTPAddr() + "/sub/two.wav")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(body) != len(wavBytes(2, 550)) {
		t.Fatalf("GET two.wav: %d, %d bytes", resp.StatusCode, len(body))
	}
	if s.BTAddr() == "" {
		t.Error("no BitTorrent address")
	}

	writeFile(t, filepath.Join(lib, "new", "three.wav"), wavBytes(1, 660))
	wait("the new file", func() bool { return rec.titles()["three"] })
	os.Remove(filepath.Join(lib, "one.wav"))
	wait("the deleted file to go", func() bool { return !rec.titles()["one"] })
	// A changed file is republished under its new infohash; the old one goes.
	writeFile(t, filepath.Join(lib, "sub", "two.wav"), wavBytes(3, 550))
	wait("the changed file", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, r := range rec.tracks {
			if r.Title == "two" && math.Abs(r.DurationS-3) < 0.01 {
				return len(rec.tracks) == 2
			}
		}
		return false
	})

	// The undecodable file was logged once, not on every pass.
	if n := strings.Count(logs.String(), `msg="skipping file" path=bad.wav`); n != 1 {
		t.Errorf("bad.wav logged %d times, want once", n)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get("http://" + s.HTTPAddr() + "/healthz"); err == nil {
		t.Error("HTTP server still up after Run returned")
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSyncWritesStateOnlyOnChange: a pass that finds nothing new leaves the
// state file alone (it holds every piece hash of the library); a pass that
// finds a change writes it.
func TestSyncWritesStateOnlyOnChange(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lib := t.TempDir()
	writeFile(t, filepath.Join(lib, "one.wav"), wavBytes(1, 440))
	rec := &catalogRecorder{tracks: map[string]proto.PublishRequest{}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client, _ := api.New(srv.URL, api.WithToken("t"))
	newSeeder := func() *Seeder {
		s, err := New(Config{Dir: lib, API: client, Listen: "127.0.0.1:0", NoBT: true,
			Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	statePath, err := StatePath(lib)
	if err != nil {
		t.Fatal(err)
	}
	modTime := func() time.Time {
		t.Helper()
		fi, err := os.Stat(statePath)
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime()
	}
	sync := func(s *Seeder) {
		t.Helper()
		if _, err := s.Sync(t.Context()); err != nil {
			t.Fatal(err)
		}
	}

	s := newSeeder()
	sync(s)
	first := modTime()
	time.Sleep(20 * time.Millisecond)
	sync(s)
	if got := modTime(); !got.Equal(first) {
		t.Errorf("a pass with no change rewrote the state file (%v, then %v)", first, got)
	}
	// A new seeder on the same library reuses the file and leaves it too.
	sync(newSeeder())
	if got := modTime(); !got.Equal(first) {
		t.Errorf("a restart with no change rewrote the state file")
	}
	writeFile(t, filepath.Join(lib, "two.wav"), wavBytes(1, 550))
	sync(s)
	if got := modTime(); got.Equal(first) {
		t.Error("a pass that found a new file did not write the state file")
	}
	st, err := loadState(statePath, lib)
	if err != nil || len(st.Files) != 2 {
		t.Errorf("state after the change: %d files, %v", len(st.Files), err)
	}
}

// TestSyncRereadsOldMeta: a state entry that an older seeder wrote (no
// meta_version, or 1, and none of the tags ReadMeta reads now) keeps its
// hashes, but its file's tags are read again, saved and published.
func TestSyncRereadsOldMeta(t *testing.T) {
	tagged, err := os.ReadFile(filepath.Join("testdata", "tagged.wav"))
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []any{nil, 1} {
		t.Run(fmt.Sprintf("meta_version %v", old), func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", t.TempDir())
			lib := t.TempDir()
			writeFile(t, filepath.Join(lib, "t.wav"), tagged)
			rec := &catalogRecorder{tracks: map[string]proto.PublishRequest{}}
			srv := httptest.NewServer(rec)
			defer srv.Close()
			client, _ := api.New(srv.URL, api.WithToken("t"))
			syncOnce := func() SyncResult {
				t.Helper()
				s, err := New(Config{Dir: lib, API: client, Listen: "127.0.0.1:0", NoBT: true,
					Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				res, err := s.Sync(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			statePath, err := StatePath(lib)
			if err != nil {
				t.Fatal(err)
			}
			if res := syncOnce(); res.Hashed != 1 {
				t.Fatalf("first pass: %+v, want 1 hashed", res)
			}

			// Make the entry what a seeder before metaVersion 2 wrote.
			var doc map[string]any
			b, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.UseNumber() // mtime_ns does not fit a float64
			if err := dec.Decode(&doc); err != nil {
				t.Fatal(err)
			}
			entry := doc["files"].(map[string]any)["t.wav"].(map[string]any)
			id := entry["infohash"].(string)
			if entry["meta_version"] != json.Number(fmt.Sprint(metaVersion)) {
				t.Fatalf("new entry has meta_version %v, want %d", entry["meta_version"], metaVersion)
			}
			delete(entry, "meta_version")
			if old != nil {
				entry["meta_version"] = old
			}
			meta := entry["meta"].(map[string]any)
			for _, k := range []string{"album_artist", "track_number", "disc_number", "year"} {
				delete(meta, k)
			}
			meta["title"] = "old title"
			if b, err = json.Marshal(doc); err != nil {
				t.Fatal(err)
			}
			writeFile(t, statePath, b)

			rec.mu.Lock()
			clear(rec.tracks)
			rec.mu.Unlock()
			res := syncOnce()
			if res.Hashed != 0 || res.Reused != 1 || res.Skipped != 0 || res.Published != 1 {
				t.Errorf("after the upgrade: %+v, want 0 hashed, 1 reused and published", res)
			}
			rec.mu.Lock()
			req, ok := rec.tracks[id]
			rec.mu.Unlock()
			if !ok || req.Title != "Long Title" || req.TrackNumber != 7 || req.Year != 1999 {
				t.Errorf("published %q, track %d of %d (found %v), want id %s titled Long Title, track 7 of 1999",
					req.Title, req.TrackNumber, req.Year, ok, id)
			}
			st, err := loadState(statePath, lib)
			if err != nil {
				t.Fatal(err)
			}
			got := st.Files["t.wav"]
			if got.MetaVersion != metaVersion || got.Meta.TrackNumber != 7 || got.Meta.Year != 1999 || got.Meta.Title != "Long Title" ||
				got.InfoHash != id {
				t.Errorf("state after the upgrade: %+v", got)
			}

			// Now current: the next run neither reads the tags again nor
			// rewrites the state.
			fi, _ := os.Stat(statePath)
			if res := syncOnce(); res.Hashed != 0 || res.Reused != 1 {
				t.Errorf("third pass: %+v", res)
			}
			if fi2, _ := os.Stat(statePath); !fi2.ModTime().Equal(fi.ModTime()) {
				t.Error("a run after the upgrade rewrote the state file")
			}

			// An old entry whose file ReadMeta now refuses (here: the same
			// size and time, other bytes) is skipped, as a new file would be.
			writeFile(t, statePath, b)
			fi, _ = os.Stat(filepath.Join(lib, "t.wav"))
			writeFile(t, filepath.Join(lib, "t.wav"), bytes.Repeat([]byte("x"), len(tagged)))
			os.Chtimes(filepath.Join(lib, "t.wav"), fi.ModTime(), fi.ModTime())
			if res := syncOnce(); res.Hashed != 0 || res.Reused != 0 || res.Skipped != 1 || res.Published != 0 {
				t.Errorf("an old entry of an undecodable file: %+v, want it skipped", res)
			}
		})
	}
}

// TestSyncStopsServingTakenDown: a publish the tracker refuses because the
// track was taken down stops its HTTP and BitTorrent seeding, is logged by
// file name, and is not tried again on the next passes; the other tracks
// are published and served; a token refusal it is not.
func TestSyncStopsServingTakenDown(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lib := t.TempDir()
	writeFile(t, filepath.Join(lib, "one.wav"), wavBytes(1, 440))
	writeFile(t, filepath.Join(lib, "two.wav"), wavBytes(1, 550))
	rec := &catalogRecorder{tracks: map[string]proto.PublishRequest{}, takenDown: map[string]bool{"one": true}}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client, _ := api.New(srv.URL, api.WithToken("t"))
	logs := &lockedBuffer{}
	s, err := New(Config{Dir: lib, API: client, Listen: "127.0.0.1:0", BTListen: "127.0.0.1:0",
		Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.MultiWriter(logs, testWriter{t}), nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.fetchAnnounce(t.Context()); err != nil {
		t.Fatal(err)
	}
	res, err := s.Sync(t.Context())
	if err != nil {
		t.Fatalf("Sync: %v (a takedown is no token error)", err)
	}
	if res.TakenDown != 1 || res.Published != 1 || res.Failed != 0 {
		t.Errorf("Sync = %+v; want 1 taken down, 1 published", res)
	}
	if n := strings.Count(logs.String(), `msg="track taken down`); n != 1 || !strings.Contains(logs.String(), "path=one.wav") {
		t.Errorf("the takedown was logged %d times (want once, naming one.wav):\n%s", n, logs)
	}
	srvSeed := httptest.NewServer(s.Handler())
	defer srvSeed.Close()
	for file, want := range map[string]int{"one.wav": http.StatusNotFound, "two.wav": http.StatusOK} {
		resp, err := http.Get(srvSeed.URL + "/" + file)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", file, resp.StatusCode, want)
		}
	}
	active := s.activeTracks()
	if _, ok := active["one.wav"]; ok || len(active) != 1 {
		t.Errorf("active tracks %v; want two.wav only", active)
	}
	if !s.bt.has(active["two.wav"].ih) {
		t.Error("two.wav is not seeded over BitTorrent")
	}
	statePath, _ := StatePath(lib)
	st, _ := loadState(statePath, lib)
	oneIH, _ := parseHash(st.Files["one.wav"].InfoHash)
	if s.bt.has(oneIH) {
		t.Error("the taken-down one.wav is still seeded over BitTorrent")
	}

	// More passes (a watcher's) do not offer it again, nor log it again.
	for range 2 {
		if res, err := s.Sync(t.Context()); err != nil || res.TakenDown != 0 {
			t.Fatalf("later Sync = %+v, %v", res, err)
		}
	}
	rec.mu.Lock()
	tries := 0
	for _, ev := range rec.events {
		if ev == "try one" {
			tries++
		}
	}
	rec.mu.Unlock()
	if tries != 1 {
		t.Errorf("one.wav offered %d times, want once", tries)
	}
	if n := strings.Count(logs.String(), `msg="track taken down`); n != 1 {
		t.Errorf("the takedown logged %d times after more passes, want once", n)
	}
	// A new file under that name is a new track: it is offered.
	writeFile(t, filepath.Join(lib, "one.wav"), wavBytes(2, 440))
	rec.mu.Lock()
	rec.takenDown = nil
	rec.mu.Unlock()
	if res, err := s.Sync(t.Context()); err != nil || res.Published != 1 {
		t.Errorf("Sync after replacing the file = %+v, %v; want it published", res, err)
	}
}
