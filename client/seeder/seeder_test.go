package seeder

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

func testLogB(b testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestPieceLength(t *testing.T) {
	for _, c := range []struct{ size, want int64 }{
		{0, 16 << 10}, {1, 16 << 10}, {1500 * 16 << 10, 16 << 10}, {1500*16<<10 + 1, 32 << 10},
		{1500 * 32 << 10, 32 << 10}, {1500*32<<10 + 1, 64 << 10}, {1 << 40, 64 << 10},
	} {
		if got := PieceLength(c.size); got != c.want {
			t.Errorf("PieceLength(%d) = %d, want %d", c.size, got, c.want)
		}
	}
}

func TestScanSkipsWhatIsNotPublishable(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	for _, p := range []string{"a.mp3", "sub/b.FLAC", "sub/deeper/c.ogg", "d.wav", "notes.txt", ".hidden.mp3", ".dot/e.mp3", "sub/.f.ogg"} {
		writeFile(t, filepath.Join(dir, p), []byte("x"))
	}
	writeFile(t, filepath.Join(outside, "secret.mp3"), []byte("secret"))
	os.Symlink(filepath.Join(outside, "secret.mp3"), filepath.Join(dir, "link.mp3"))
	os.Symlink(outside, filepath.Join(dir, "linkdir"))
	files, err := Scan(dir, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.Rel)
		if f.Size != 1 || !filepath.IsAbs(f.Abs) {
			t.Errorf("%+v", f)
		}
	}
	if want := "a.mp3 d.wav sub/b.FLAC sub/deeper/c.ogg"; strings.Join(got, " ") != want {
		t.Errorf("Scan = %q, want %q", got, want)
	}
	if _, err := Scan(filepath.Join(dir, "missing"), testLog(t)); err == nil {
		t.Error("Scan of a missing folder: no error")
	}
}

// HashFile + BuildTorrent must give the infohash anacrolix computes for the
// same file, for sizes around piece boundaries.
func TestTorrentMatchesAnacrolix(t *testing.T) {
	dir := t.TempDir()
	for _, size := range []int{1, 16 << 10, 16<<10 + 1, 3<<20 + 5, 30 << 20} {
		p := filepath.Join(dir, fmt.Sprintf("t%d.mp3", size))
		writeFile(t, p, randomBytes(t, size))
		pl := PieceLength(int64(size))
		pieces, err := HashFile(context.Background(), p, int64(size), pl, nil)
		if err != nil {
			t.Fatal(err)
		}
		mi, ih, err := BuildTorrent(filepath.Base(p), int64(size), pl, pieces,
			[]string{"http://127.0.0.1:1/announce", "udp://127.0.0.1:1"}, SeedURL("http://127.0.0.1:2/", "a b/c#d.mp3"))
		if err != nil {
			t.Fatal(err)
		}
		ref := metainfo.Info{PieceLength: pl}
		if err := ref.BuildFromFilePath(p); err != nil {
			t.Fatal(err)
		}
		refBytes, _ := bencode.Marshal(ref)
		if want := metainfo.HashBytes(refBytes); ih != want {
			t.Errorf("size %d: infohash %s, anacrolix %s", size, ih.HexString(), want.HexString())
		}
		raw, _ := bencode.Marshal(mi)
		back, err := metainfo.Load(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		info, err := back.UnmarshalInfo()
		if err != nil || info.IsDir() || info.Length != int64(size) || back.HashInfoBytes() != ih {
			t.Fatalf("round trip: %+v %v", info, err)
		}
		if len(back.UrlList) != 1 || back.UrlList[0] != "http://127.0.0.1:2/a%20b/c%23d.mp3" {
			t.Errorf("url-list %q", back.UrlList)
		}
		if len(back.AnnounceList) != 2 || back.Announce != "http://127.0.0.1:1/announce" {
			t.Errorf("announce %q %q", back.Announce, back.AnnounceList)
		}
	}
	if _, _, err := BuildTorrent("x.mp3", 100, 16<<10, make([]byte, 19), nil, ""); err == nil {
		t.Error("BuildTorrent with short pieces: no error")
	}
}

func TestStateRoundTrip(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	lib := t.TempDir()
	p, err := StatePath(lib)
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadState(p, lib)
	if err != nil || len(s.Files) != 0 {
		t.Fatalf("fresh state: %+v %v", s, err)
	}
	mt := time.Unix(1700000000, 123456789)
	f := LibraryFile{Rel: "a.mp3", Size: 20000, ModTime: mt}
	s.Files["a.mp3"] = fileState{Size: 20000, ModTimeNs: mt.UnixNano(), PieceLength: 16 << 10, Pieces: make([]byte, 40), InfoHash: "ab"}
	if err := s.save(p); err != nil {
		t.Fatal(err)
	}
	back, err := loadState(p, lib)
	if err != nil || !back.Files["a.mp3"].matches(f) {
		t.Fatalf("reloaded: %+v %v", back, err)
	}
	f.ModTime = mt.Add(time.Nanosecond)
	if back.Files["a.mp3"].matches(f) {
		t.Error("a changed mtime still matches")
	}
	if other, _ := loadState(p, lib+"x"); len(other.Files) != 0 {
		t.Error("state of another library used")
	}
	os.WriteFile(p, []byte("{garbage"), 0o644)
	if s, err := loadState(p, lib); err == nil || len(s.Files) != 0 {
		t.Errorf("corrupt state: %+v %v", s, err)
	}
}

// seedServer serves dir's files (listed in files) on a real loopback
// server with the seed handler.
func seedServer(t *testing.T, dir string, limiter *rate.Limiter, files ...string) (*httptest.Server, *metrics) {
	t.Helper()
	return seedServerWithBT(t, dir, limiter, nil, files...)
}

// seedServerWithBT is seedServer with bt as the BitTorrent side's limiter.
func seedServerWithBT(t *testing.T, dir string, limiter, bt *rate.Limiter, files ...string) (*httptest.Server, *metrics) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, nil, newPeerConns())
	if err != nil {
		t.Fatal(err)
	}
	ix := &fileIndex{}
	for i, rel := range files {
		st, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		ix.set(rel, servedFile{size: st.Size(), modTime: st.ModTime(), infoHash: fmt.Sprintf("%040x", i+1), codec: codecForName(rel)})
	}
	h := &SeedHandler{root: root, index: ix, limiter: limiter, btLimiter: bt, spare: newSpareMeter(limiter, m.uploadedNotFill, nil), queue: newUploadQueue(), fills: newFillsInFlight(),
		metrics: m, gather: reg, log: testLog(t)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go h.spare.run(ctx)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = newHTTPServer(h, testLog(t))
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, m
}

// rawGet sends target as the request-target, byte for byte (no client-side
// cleaning or escaping), and returns the status and body.
func rawGet(t *testing.T, addr, target string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", target, strings.Join(header, ""))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}

func TestSeedServerRefusesEverythingOutsideTheLibrary(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "lib")
	secret := []byte("SECRET-OUTSIDE-THE-LIBRARY")
	writeFile(t, filepath.Join(parent, "outside.mp3"), secret)
	writeFile(t, filepath.Join(parent, "secret.txt"), secret)
	writeFile(t, filepath.Join(dir, "song.mp3"), []byte("song bytes"))
	writeFile(t, filepath.Join(dir, "sub", "two.ogg"), []byte("two"))
	writeFile(t, filepath.Join(dir, ".hidden.mp3"), secret)
	writeFile(t, filepath.Join(dir, "notes.txt"), secret)
	if err := os.Symlink(filepath.Join(parent, "outside.mp3"), filepath.Join(dir, "link.mp3")); err != nil {
		t.Fatal(err)
	}
	// The index is built from Scan, which skips the symlink; the symlink
	// and the dotfile are also put in the index here, so that os.Root and
	// the path check are each tested on their own.
	srv, _ := seedServer(t, dir, rate.NewLimiter(rate.Inf, 0), "song.mp3", "sub/two.ogg")
	h := srv.Config.Handler.(*SeedHandler)
	h.index.set("link.mp3", servedFile{size: int64(len(secret)), infoHash: "x"})
	h.index.set(".hidden.mp3", servedFile{size: int64(len(secret)), infoHash: "x"})
	addr := srv.Listener.Addr().String()

	for _, target := range []string{
		"/../outside.mp3", "/%2e%2e/outside.mp3", "/%2E%2E/outside.mp3", "/sub/../../outside.mp3",
		"/sub/%2e%2e/%2e%2e/outside.mp3", "/..%2foutside.mp3", "/%2e%2e%2foutside.mp3", "/..%5coutside.mp3",
		"//" + strings.TrimPrefix(filepath.Join(parent, "outside.mp3"), "/"),
		"/" + filepath.Join(parent, "outside.mp3"), "/%2f" + strings.TrimPrefix(filepath.Join(parent, "outside.mp3"), "/"),
		"http://x/../outside.mp3", "/link.mp3", "/.hidden.mp3", "/%2ehidden.mp3", "/notes.txt", "/", "/sub/", "/sub",
		"/song.mp3/", "/song.mp3%00.txt", "/./song.mp3", "/sub/./two.ogg", "/SONG.MP3", "/../lib/song.mp3",
	} {
		code, _, body := rawGet(t, addr, target)
		if code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 404", target, code)
		}
		if bytes.Contains(body, secret) {
			t.Errorf("GET %s leaked the secret", target)
		}
	}
	if code, _, body := rawGet(t, addr, "/song.mp3"); code != 200 || string(body) != "song bytes" {
		t.Errorf("GET /song.mp3: %d %q", code, body)
	}
	if code, _, body := rawGet(t, addr, "/sub/two.ogg"); code != 200 || string(body) != "two" {
		t.Errorf("GET /sub/two.ogg: %d %q", code, body)
	}
	if code, _, _ := rawGet(t, addr, "/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	// A file changed after hashing is not served: its bytes no longer
	// match the published pieces.
	future := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "song.mp3"), future, future)
	if code, _, _ := rawGet(t, addr, "/song.mp3"); code != http.StatusNotFound {
		t.Errorf("changed file: %d, want 404", code)
	}
}

func TestSeedServerRanges(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(t, 100000)
	writeFile(t, filepath.Join(dir, "a b.flac"), data)
	srv, m := seedServer(t, dir, rate.NewLimiter(rate.Inf, 0), "a b.flac")
	addr := srv.Listener.Addr().String()
	etag := fmt.Sprintf(`"%040x"`, 1)
	n := len(data)
	for _, c := range []struct {
		rng    string
		ifR    string
		code   int
		lo, hi int // expected body data[lo:hi]
	}{
		{"", "", 200, 0, n},
		{"bytes=0-99", "", 206, 0, 100},
		{"bytes=50000-50999", "", 206, 50000, 51000},
		{"bytes=-500", "", 206, n - 500, n},
		{"bytes=99990-", "", 206, 99990, n},
		{"bytes=99990-200000", "", 206, 99990, n},
		{"bytes=100000-", "", 416, 0, 0},
		{"bytes=200000-200100", "", 416, 0, 0},
		{"bytes=10-20", etag, 206, 10, 21},
		{"bytes=10-20", `"0000000000000000000000000000000000000000"`, 200, 0, n},
		{"bytes=10-20", `W/` + etag, 200, 0, n},
	} {
		var hdr []string
		if c.rng != "" {
			hdr = append(hdr, "Range: "+c.rng+"\r\n")
		}
		if c.ifR != "" {
			hdr = append(hdr, "If-Range: "+c.ifR+"\r\n")
		}
		code, h, body := rawGet(t, addr, "/a%20b.flac", hdr...)
		if code != c.code {
			t.Errorf("Range %q If-Range %q: status %d, want %d", c.rng, c.ifR, code, c.code)
			continue
		}
		if code == 416 {
			if h.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
				t.Errorf("416 Content-Range %q", h.Get("Content-Range"))
			}
			continue
		}
		if !bytes.Equal(body, data[c.lo:c.hi]) {
			t.Errorf("Range %q: wrong bytes (%d, want %d)", c.rng, len(body), c.hi-c.lo)
		}
		if h.Get("ETag") != etag || h.Get("Content-Type") != "audio/flac" || h.Get("Accept-Ranges") != "bytes" {
			t.Errorf("headers %v", h)
		}
	}
	if got := m.httpUpload.Load(); got < int64(3*n) {
		t.Errorf("upload counter %d, want at least %d", got, 3*n)
	}
}

// The HTTP side of the shared limiter: concurrent downloads together stay
// at the cap.
func TestSeedServerUploadRate(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 2 s")
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.wav"), randomBytes(t, 4<<20))
	const capBytes = 1 << 20
	lim := newUploadLimiter(capBytes)
	lim.AllowN(time.Now(), lim.Burst()) // start with an empty bucket
	srv, _ := seedServer(t, dir, lim, "big.wav")
	url := srv.URL + "/big.wav"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	total := make(chan int64, 3)
	start := time.Now()
	for i := range 3 {
		go func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", i<<20))
			var n int64
			if resp, err := http.DefaultClient.Do(req); err == nil {
				n, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			total <- n
		}()
	}
	var sum int64
	for range 3 {
		sum += <-total
	}
	el := time.Since(start).Seconds()
	got := float64(sum) / el
	t.Logf("3 downloads: %d bytes in %.2f s = %.0f B/s (cap %d)", sum, el, got, capBytes)
	if got < 0.8*capBytes || got > 1.2*capBytes {
		t.Errorf("rate %.0f B/s, want %d ±20%%", got, capBytes)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"127.0.0.1": true, "127.3.4.5": true, "::1": true, "localhost": true, "LocalHost": true, "a.localhost": true,
		"10.0.0.1": false, "example.com": false, "": false, "::": false, "0.0.0.0": false,
	} {
		if got := isLoopbackHost(h); got != want {
			t.Errorf("isLoopbackHost(%q) = %v", h, got)
		}
	}
}

// A --public-url with a path (behind a proxy that keeps it) is accepted in
// front of the file's path, and traversal through it is still refused.
func TestSeedHandlerPublicURLPrefix(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.mp3"), []byte("abc"))
	writeFile(t, filepath.Join(filepath.Dir(dir), "out.mp3"), []byte("secret"))
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	st, _ := os.Stat(filepath.Join(dir, "a.mp3"))
	ix := &fileIndex{}
	ix.set("a.mp3", servedFile{size: st.Size(), modTime: st.ModTime(), infoHash: "1", codec: "mp3"})
	m, _ := newMetrics(prometheus.NewRegistry(), nil, newPeerConns())
	lim := rate.NewLimiter(rate.Inf, 0)
	h := &SeedHandler{prefix: "/music", root: root, index: ix, limiter: lim, spare: newSpareMeter(lim, m.uploadedNotFill, nil), fills: newFillsInFlight(),
		queue: newUploadQueue(), metrics: m, log: testLog(t)}
	for target, want := range map[string]int{"/music/a.mp3": 200, "/a.mp3": 200, "/music/../out.mp3": 404, "/music/%2e%2e/out.mp3": 404, "/musicx/a.mp3": 404} {
		req := httptest.NewRequest(http.MethodGet, "http://x"+target, nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want || (want == 200 && rec.Body.String() != "abc") {
			t.Errorf("GET %s: %d %q, want %d", target, rec.Code, rec.Body.String(), want)
		}
	}
}
