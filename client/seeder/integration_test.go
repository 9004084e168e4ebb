//go:build integration

package seeder_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/client/seeder"
	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

const token = "seed-test-token"

var (
	libOnce sync.Once
	libDir  string
	libErr  error
)

func TestMain(m *testing.M) {
	code := itest.Main(m)
	if libDir != "" {
		os.RemoveAll(filepath.Dir(libDir))
	}
	os.Exit(code)
}

// library returns a fresh copy of a 12-track tagged library (mp3, flac,
// ogg) made once per test binary by scripts/make-fixtures.sh.
func library(t *testing.T) string {
	t.Helper()
	itest.Need(t, "ffmpeg", "lame", "flac", "oggenc", "espeak-ng", "sox", "ffprobe")
	libOnce.Do(func() {
		tmp, err := os.MkdirTemp("", "peertune-seed-lib-")
		if err != nil {
			libErr = err
			return
		}
		libDir = filepath.Join(tmp, "lib")
		cmd := exec.Command(filepath.Join(itest.RepoRoot(t), "scripts", "make-fixtures.sh"), "--library", "12", "--seconds", "8", libDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			libErr = fmt.Errorf("make-fixtures.sh: %v\n%s", err, out)
		}
	})
	if libErr != nil {
		t.Fatal(libErr)
	}
	dst := filepath.Join(t.TempDir(), "library")
	if out, err := exec.Command("cp", "-r", libDir, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dst
}

func audioFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && regexp.MustCompile(`\.(mp3|flac|ogg)$`).MatchString(p) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// startTracker runs a real `peertune tracker` (with args besides the
// defaults) and returns its base URL.
func startTracker(t *testing.T, args ...string) string {
	t.Helper()
	port := itest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	itest.Start(t, nil, itest.Binary(t), append([]string{"tracker", "--listen", addr, "--udp", addr,
		"--data", t.TempDir(), "--token", token}, args...)...)
	base := "http://" + addr
	itest.WaitHTTP(t, base+proto.PathHealthz, 30*time.Second)
	return base
}

// startSeed runs `peertune seed` with XDG_STATE_HOME=state and waits until
// it has published the library.
func startSeed(t *testing.T, state, tracker string, args ...string) *itest.Proc {
	t.Helper()
	all := append([]string{"seed", "--tracker", tracker, "--token", token, "--bt-listen", "127.0.0.1:0"}, args...)
	p := itest.Start(t, []string{"XDG_STATE_HOME=" + state}, itest.Binary(t), all...)
	waitFor(t, 90*time.Second, "seeder to publish the library", func() bool {
		select {
		case <-p.Done():
			t.Fatalf("seeder exited: %s", p.Stderr())
		default:
		}
		return strings.Contains(p.Stderr(), `msg="library published"`)
	})
	return p
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

type probed struct {
	Format struct {
		Duration string            `json:"duration"`
		Tags     map[string]string `json:"tags"`
	} `json:"format"`
	Streams []struct {
		Tags map[string]string `json:"tags"`
	} `json:"streams"`
}

// ffprobe returns a file's duration and its title, artist and album tags
// (ogg keeps them on the stream, the others on the format).
func ffprobe(t *testing.T, path string) (float64, map[string]string) {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration:format_tags:stream_tags",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p probed
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	var d float64
	fmt.Sscan(p.Format.Duration, &d)
	tags := map[string]string{}
	add := func(m map[string]string) {
		for k, v := range m {
			tags[strings.ToLower(k)] = v
		}
	}
	add(p.Format.Tags)
	for _, s := range p.Streams {
		add(s.Tags)
	}
	return d, tags
}

func trackByTitle(t *testing.T, tracks []proto.Track, title string) proto.Track {
	t.Helper()
	for _, tr := range tracks {
		if tr.Title == title {
			return tr
		}
	}
	t.Fatalf("no track titled %q in the catalog", title)
	return proto.Track{}
}

func apiClient(t *testing.T, base string) *api.Client {
	c, err := api.New(base, api.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func catalog(t *testing.T, c *api.Client) []proto.Track {
	t.Helper()
	tracks, err := c.All(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return tracks
}

// aria2c downloads the track's .torrent (fetched from the catalog) into a
// fresh folder, with every discovery but the tracker off, and returns the
// file's bytes.
func aria2c(t *testing.T, c *api.Client, id string) []byte {
	t.Helper()
	raw, err := c.Torrent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tf := filepath.Join(dir, "t.torrent")
	os.WriteFile(tf, raw, 0o644)
	mi, err := metainfo.Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := mi.UnmarshalInfo()
	out := filepath.Join(dir, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "aria2c", "--dir", out, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
		"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
		fmt.Sprintf("--listen-port=%d", itest.FreePort(t)), "--file-allocation=none", "--console-log-level=warn",
		"--summary-interval=0", "--bt-stop-timeout=50", "--bt-tracker-interval=1", tf)
	o, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aria2c: %v\n%s", err, o)
	}
	b, err := os.ReadFile(filepath.Join(out, info.Name))
	if err != nil {
		t.Fatalf("aria2c output: %v\n%s", err, o)
	}
	return b
}

func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// The catalog, the state file, SIGTERM, and real aria2c downloads over
// BitTorrent only and over the HTTP seed only.
func TestSeedPublishAndServe(t *testing.T) {
	itest.Need(t, "aria2c")
	lib := library(t)
	files := audioFiles(t, lib)
	if len(files) < 12 {
		t.Fatalf("library has %d tracks, want 12", len(files))
	}
	tracker := startTracker(t)
	c := apiClient(t, tracker)
	state := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))

	// First run: everything hashed and published with the right metadata.
	seed := startSeed(t, state, tracker, "--listen", httpAddr, lib)
	if !strings.Contains(seed.Stderr(), fmt.Sprintf(`"hashed %d files, reused 0"`, len(files))) {
		t.Fatalf("first run: no %q line:\n%s", fmt.Sprintf("hashed %d files, reused 0", len(files)), seed.Stderr())
	}
	tracks := catalog(t, c)
	if len(tracks) != len(files) {
		t.Fatalf("catalog has %d tracks, want %d", len(tracks), len(files))
	}
	for _, f := range files {
		dur, tags := ffprobe(t, f)
		tr := trackByTitle(t, tracks, tags["title"])
		if tr.Artist != tags["artist"] || tr.Album != tags["album"] {
			t.Errorf("%s: catalog %q/%q, tags %q/%q", f, tr.Artist, tr.Album, tags["artist"], tags["album"])
		}
		if math.Abs(tr.DurationS-dur) > 0.1 {
			t.Errorf("%s: duration %.3f s, ffprobe %.3f s", f, tr.DurationS, dur)
		}
		st, _ := os.Stat(f)
		rel, _ := filepath.Rel(lib, f)
		if tr.Size != st.Size() || len(tr.SeedURLs) != 1 || tr.SeedURLs[0] != seeder.SeedURL("http://"+httpAddr, filepath.ToSlash(rel)) {
			t.Errorf("%s: size %d seed urls %q", f, tr.Size, tr.SeedURLs)
		}
		if tr.PieceLength < 16<<10 || tr.PieceLength > 64<<10 {
			t.Errorf("%s: piece length %d", f, tr.PieceLength)
		}
	}
	// The seeder announced itself (BitTorrent), and leaves on SIGTERM.
	id := tracks[0].ID
	waitFor(t, 10*time.Second, "the seeder in the swarm", func() bool {
		tr, err := c.Get(context.Background(), id)
		return err == nil && tr.Seeders == 1
	})
	seed.Signal(syscall.SIGTERM)
	if code, err := seed.Wait(10 * time.Second); code != 0 || err != nil {
		t.Fatalf("seeder exit %d, %v", code, err)
	}
	if tr, _ := c.Get(context.Background(), id); tr.Seeders != 0 {
		t.Errorf("after SIGTERM the swarm still has %d seeders (no event=stopped?)", tr.Seeders)
	}

	// Second run, HTTP seed only: nothing hashed; aria2c gets a track from
	// the HTTP seed (no BitTorrent peer exists).
	seed = startSeed(t, state, tracker, "--listen", httpAddr, "--no-bt", lib)
	if !strings.Contains(seed.Stderr(), fmt.Sprintf(`"hashed 0 files, reused %d"`, len(files))) {
		t.Fatalf("second run hashed again:\n%s", seed.Stderr())
	}
	if n := metric(t, "http://"+httpAddr, "peertune_seeder_files_hashed_total"); n != 0 {
		t.Errorf("second run: files_hashed_total %v", n)
	}
	want := map[string][]byte{}
	for _, f := range files {
		_, tags := ffprobe(t, f)
		want[tags["title"]], _ = os.ReadFile(f)
	}
	pick := tracks[1]
	got := aria2c(t, c, pick.ID)
	if !bytes.Equal(got, want[pick.Title]) {
		t.Errorf("HTTP-seed download of %q differs (sha1 %x, want %x)", pick.Title, sha1.Sum(got), sha1.Sum(want[pick.Title]))
	}
	if up := metric(t, "http://"+httpAddr, `peertune_seeder_upload_bytes_total{protocol="http"}`); up < float64(len(got)) {
		t.Errorf("HTTP upload %v bytes, want at least %d", up, len(got))
	}
	seed.Stop(10 * time.Second)

	// Third run, BitTorrent only: no HTTP server (the seed URLs point at a
	// port where nothing listens), aria2c gets the track from the swarm.
	seed = startSeed(t, state, tracker, "--no-http", "--public-url", "http://"+httpAddr, lib)
	waitFor(t, 10*time.Second, "the seeder in the swarm", func() bool {
		tr, err := c.Get(context.Background(), pick.ID)
		return err == nil && tr.Seeders == 1
	})
	got = aria2c(t, c, pick.ID)
	if !bytes.Equal(got, want[pick.Title]) {
		t.Errorf("BitTorrent download of %q differs", pick.Title)
	}
	if code := seed.Stop(10 * time.Second); code != 0 {
		t.Errorf("seeder exit %d", code)
	}
}

// rawGet sends target byte for byte as the request-target.
func rawGet(t *testing.T, addr, target string, header ...string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", target, strings.Join(header, ""))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Traversal attempts and range requests against the real seeder process.
func TestSeedServerSecurityAndRanges(t *testing.T) {
	lib := library(t)
	outside := filepath.Join(filepath.Dir(lib), "outside.mp3")
	secret := []byte("SECRET-OUTSIDE-THE-LIBRARY")
	os.WriteFile(outside, secret, 0o644)
	os.Symlink(outside, filepath.Join(lib, "link.mp3"))
	os.WriteFile(filepath.Join(lib, ".hidden.mp3"), secret, 0o644)
	os.WriteFile(filepath.Join(lib, "notes.txt"), secret, 0o644)
	os.WriteFile(filepath.Join(lib, "broken.flac"), bytes.Repeat([]byte("not audio "), 1000), 0o644)
	tracker := startTracker(t)
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	seed := startSeed(t, t.TempDir(), tracker, "--listen", addr, "--no-bt", lib)
	// The undecodable file: one log line naming it, and the rest published.
	var lines []string
	for _, l := range strings.Split(seed.Stderr(), "\n") {
		if strings.Contains(l, "broken.flac") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "skipping file") {
		t.Errorf("undecodable file: want one 'skipping file' line, got %q", lines)
	}
	if n := len(catalog(t, apiClient(t, tracker))); n != 12 {
		t.Errorf("catalog has %d tracks, want 12", n)
	}
	if code, _ := rawGet(t, addr, "/broken.flac"); code != http.StatusNotFound {
		t.Errorf("undecodable file served: %d", code)
	}

	for _, target := range []string{
		"/../outside.mp3", "/%2e%2e/outside.mp3", "/%2E%2E/outside.mp3", "/The%20Sine%20Waves/%2e%2e/%2e%2e/outside.mp3",
		"/..%2foutside.mp3", "/" + outside, "//" + strings.TrimPrefix(outside, "/"), "/link.mp3",
		"/.hidden.mp3", "/%2ehidden.mp3", "/notes.txt", "/", "/The%20Sine%20Waves/",
	} {
		code, body := rawGet(t, addr, target)
		if code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 404", target, code)
		}
		if bytes.Contains(body, secret) {
			t.Errorf("GET %s leaked a file from outside", target)
		}
	}

	c := apiClient(t, tracker)
	tr := catalog(t, c)[0]
	u := tr.SeedURLs[0]
	target := strings.TrimPrefix(u, "http://"+addr)
	var data []byte
	for _, f := range audioFiles(t, lib) {
		if seeder.SeedURL("http://"+addr, filepath.ToSlash(strings.TrimPrefix(f, lib+"/"))) == u {
			data, _ = os.ReadFile(f)
		}
	}
	if data == nil {
		t.Fatalf("no file for %s", u)
	}
	n := len(data)
	for _, c := range []struct {
		rng    string
		code   int
		lo, hi int
	}{
		{"bytes=0-1023", 206, 0, 1024},
		{fmt.Sprintf("bytes=%d-%d", n/2, n/2+999), 206, n / 2, n/2 + 1000},
		{"bytes=-777", 206, n - 777, n},
		{fmt.Sprintf("bytes=%d-", n), 416, 0, 0},
		{"", 200, 0, n},
	} {
		var hdr []string
		if c.rng != "" {
			hdr = append(hdr, "Range: "+c.rng+"\r\n")
		}
		code, body := rawGet(t, addr, target, hdr...)
		if code != c.code {
			t.Errorf("Range %q: %d, want %d", c.rng, code, c.code)
			continue
		}
		if code != 416 && !bytes.Equal(body, data[c.lo:c.hi]) {
			t.Errorf("Range %q: wrong bytes", c.rng)
		}
	}
}

// --upload-rate 512KiB: what clients receive over 10 s of concurrent Range
// GETs is within 20 % of the cap.
func TestSeedUploadRate(t *testing.T) {
	lib := library(t)
	tracker := startTracker(t)
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	startSeed(t, t.TempDir(), tracker, "--listen", addr, "--upload-rate", "512KiB", "--no-bt", lib)
	tracks := catalog(t, apiClient(t, tracker))
	const capBytes = 512 << 10
	const window = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var received atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				tr := tracks[i%len(tracks)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tr.SeedURLs[0], nil)
				req.Header.Set("Range", fmt.Sprintf("bytes=%d-", (i*4096)%int(tr.Size/2)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					continue
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				received.Add(n)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	got := float64(received.Load()) / el
	t.Logf("received %d bytes in %.2f s: %.0f B/s, cap %d B/s (%.1f%%)", received.Load(), el, got, capBytes, 100*got/capBytes)
	if got < 0.8*capBytes || got > 1.2*capBytes {
		t.Errorf("upload %.0f B/s, want %d ±20%%", got, capBytes)
	}
}

// --watch: a file copied in is in the catalog within 5 s, a deleted one is
// gone within 5 s.
func TestSeedWatch(t *testing.T) {
	lib := library(t)
	files := audioFiles(t, lib)
	spare := filepath.Join(t.TempDir(), filepath.Base(files[0]))
	if err := os.Rename(files[0], spare); err != nil {
		t.Fatal(err)
	}
	_, tags := ffprobe(t, spare)
	tracker := startTracker(t)
	c := apiClient(t, tracker)
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	state := t.TempDir()
	seed := startSeed(t, state, tracker, "--listen", addr, "--watch", lib)
	if n := len(catalog(t, c)); n != len(files)-1 {
		t.Fatalf("catalog has %d tracks, want %d", n, len(files)-1)
	}
	has := func(title string) bool {
		for _, tr := range catalog(t, c) {
			if tr.Title == title {
				return true
			}
		}
		return false
	}
	// Copied (not renamed) into a new subfolder.
	dst := filepath.Join(lib, "New Arrivals", "Fresh", filepath.Base(spare))
	os.MkdirAll(filepath.Dir(dst), 0o755)
	data, _ := os.ReadFile(spare)
	copyStart := time.Now()
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second-time.Since(copyStart), "the copied file in the catalog", func() bool { return has(tags["title"]) })
	t.Logf("added: in the catalog after %v", time.Since(copyStart))

	gone := files[1]
	_, goneTags := ffprobe(t, gone)
	delStart := time.Now()
	os.Remove(gone)
	waitFor(t, 5*time.Second, "the deleted file gone from the catalog", func() bool { return !has(goneTags["title"]) })
	t.Logf("deleted: gone from the catalog after %v", time.Since(delStart))

	// A file deleted while the seeder is not running is unpublished at
	// the next start (the state file remembers what was published).
	if code := seed.Stop(10 * time.Second); code != 0 {
		t.Fatalf("seeder exit %d", code)
	}
	offline := files[2]
	_, offTags := ffprobe(t, offline)
	os.Remove(offline)
	seed = startSeed(t, state, tracker, "--listen", addr, lib)
	if has(offTags["title"]) {
		t.Errorf("%q, deleted while the seeder was down, is still in the catalog", offTags["title"])
	}
	if n, want := len(catalog(t, c)), len(files)-2; n != want {
		t.Errorf("catalog has %d tracks, want %d", n, want)
	}
	if !strings.Contains(seed.Stderr(), fmt.Sprintf(`"hashed 0 files, reused %d"`, len(files)-2)) {
		t.Errorf("restart hashed again:\n%s", seed.Stderr())
	}
}

// Publish-only: nginx serves the library, the seeder only hashes and
// publishes (--no-http --no-bt), and aria2c gets a track through nginx as
// the HTTP seed.
func TestSeedPublishOnlyWithNginx(t *testing.T) {
	itest.Need(t, "nginx", "aria2c")
	lib := library(t)
	tracker := startTracker(t)
	c := apiClient(t, tracker)

	prefix := t.TempDir()
	port := itest.FreePort(t)
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers would drop to nobody, who cannot read a 0700 temp dir
	}
	conf := fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log warn;
events { worker_connections 64; }
http {
	access_log %[2]s/access.log;
	client_body_temp_path %[2]s/body;
	proxy_temp_path %[2]s/proxy;
	fastcgi_temp_path %[2]s/fastcgi;
	uwsgi_temp_path %[2]s/uwsgi;
	scgi_temp_path %[2]s/scgi;
	types { audio/mpeg mp3; audio/flac flac; audio/ogg ogg; }
	server {
		listen 127.0.0.1:%[3]d;
		root %[4]q;
		autoindex off;
	}
}
`, user, prefix, port, lib)
	confPath := filepath.Join(prefix, "nginx.conf")
	os.WriteFile(confPath, []byte(conf), 0o644)
	itest.Start(t, nil, "nginx", "-c", confPath, "-p", prefix)
	nginxURL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	waitFor(t, 10*time.Second, "nginx", func() bool {
		resp, err := http.Get(nginxURL)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	startSeed(t, t.TempDir(), tracker, "--no-http", "--no-bt", "--public-url", nginxURL, lib)
	tracks := catalog(t, c)
	if len(tracks) != 12 {
		t.Fatalf("catalog has %d tracks", len(tracks))
	}
	pick := tracks[2]
	if !strings.HasPrefix(pick.SeedURLs[0], nginxURL) {
		t.Fatalf("seed URL %q is not under %s", pick.SeedURLs[0], nginxURL)
	}
	got := aria2c(t, c, pick.ID)
	var want []byte
	for _, f := range audioFiles(t, lib) {
		if seeder.SeedURL(nginxURL, filepath.ToSlash(strings.TrimPrefix(f, lib+"/"))) == pick.SeedURLs[0] {
			want, _ = os.ReadFile(f)
		}
	}
	if want == nil || !bytes.Equal(got, want) {
		t.Fatalf("download through nginx differs (%d bytes, want %d)", len(got), len(want))
	}
	log, _ := os.ReadFile(filepath.Join(prefix, "access.log"))
	if !strings.Contains(string(log), "aria2") {
		t.Errorf("nginx served no aria2 request:\n%s", log)
	}
}

// The cap is shared: with HTTP Range GETs and aria2c BitTorrent downloads
// running together, the seeder's total upload (its own counters, by
// protocol) stays within 20 % of --upload-rate, and both protocols moved
// data.
func TestSeedUploadRateSharedByHTTPAndBT(t *testing.T) {
	itest.Need(t, "aria2c")
	lib := library(t)
	tracker := startTracker(t)
	c := apiClient(t, tracker)
	addr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	// Publish with seed URLs at a dead port, so aria2c can only use
	// BitTorrent; the HTTP load goes to the real listener.
	dead := fmt.Sprintf("http://127.0.0.1:%d", itest.FreePort(t))
	startSeed(t, t.TempDir(), tracker, "--listen", addr, "--public-url", dead, "--upload-rate", "256KiB", lib)
	tracks := catalog(t, c)
	torrents := make([]string, len(tracks))
	for i, tr := range tracks {
		raw, err := c.Torrent(context.Background(), tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		torrents[i] = filepath.Join(t.TempDir(), "t.torrent")
		os.WriteFile(torrents[i], raw, 0o644)
	}
	base := "http://" + addr
	const capBytes = 256 << 10
	const window = 10 * time.Second
	// The load runs until the window has ended; the window starts once
	// BitTorrent moves data (aria2c needs a moment to announce and
	// connect), so that both protocols compete throughout.
	ctx, cancel := context.WithTimeout(context.Background(), window+30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				tr := tracks[i%len(tracks)]
				u := strings.Replace(tr.SeedURLs[0], dead, base, 1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += 2 {
				dir := t.TempDir()
				exec.CommandContext(ctx, "aria2c", "--dir", dir, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
					"--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
					fmt.Sprintf("--listen-port=%d", itest.FreePort(t)), "--file-allocation=none", "--console-log-level=error",
					"--summary-interval=0", torrents[i%len(torrents)]).Run()
			}
		}()
	}
	waitFor(t, 30*time.Second, "BitTorrent upload to start", func() bool {
		return metric(t, base, `peertune_seeder_upload_bytes_total{protocol="bt"}`) > 0
	})
	httpBefore := metric(t, base, `peertune_seeder_upload_bytes_total{protocol="http"}`)
	btBefore := metric(t, base, `peertune_seeder_upload_bytes_total{protocol="bt"}`)
	start := time.Now()
	time.Sleep(window)
	httpUp := metric(t, base, `peertune_seeder_upload_bytes_total{protocol="http"}`) - httpBefore
	btUp := metric(t, base, `peertune_seeder_upload_bytes_total{protocol="bt"}`) - btBefore
	el := time.Since(start).Seconds()
	got := (httpUp + btUp) / el
	t.Logf("over %.2f s: http %.0f B, bt %.0f B, total %.0f B/s, cap %d B/s (%.1f%%)", el, httpUp, btUp, got, capBytes, 100*got/capBytes)
	if btUp < 32<<10 || httpUp < 32<<10 {
		t.Errorf("one protocol hardly moved data (http %.0f, bt %.0f bytes)", httpUp, btUp)
	}
	if got < 0.8*capBytes || got > 1.2*capBytes {
		t.Errorf("upload %.0f B/s, want %d ±20%%", got, capBytes)
	}
}

// Bad usage exits 2 with a message, before touching the network.
func TestSeedUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"seed", "--token", "x"},
		{"seed", "--token", "x", filepath.Join(dir, "missing")},
		{"seed", "--token", "x", "--no-http", dir},
		{"seed", "--token", "x", "--upload-rate", "fast", dir},
		{"seed", "--token", "x", "--bt-listen", "no-port", dir},
		{"seed", "--token", "x", "--listen", "no-port", dir},
		{"seed", "--token", "x", "--public-url", "ftp://x", dir},
		{"seed", dir},
		{"seed", "--token", "x", dir, dir},
	} {
		cmd := exec.Command(itest.Binary(t), args...)
		cmd.Env = append(os.Environ(), "PEERTUNE_TOKEN=", "XDG_STATE_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("peertune %q: exit %d (%v), want 2\n%s", args, code, err, out)
		}
		if !strings.Contains(string(out), "peertune:") {
			t.Errorf("peertune %q: no message: %s", args, out)
		}
	}
}

// TestSeedRetaggedFileUpdatesTheCatalog: a file retagged under a watching
// seeder (its tags are in the file, so it is a new torrent) ends as one
// entry with the new tags, track number, disc, year and album artist
// included, in the album listing of its new album; nothing stale is left.
func TestSeedRetaggedFileUpdatesTheCatalog(t *testing.T) {
	lib := t.TempDir()
	path := itest.MakeTrackWithTags(t, lib, "song", 3, "flac", "title=Retag Me", "artist=Band feat. Guest",
		"album_artist=Band", "album=First Pressing", "track=3/9", "disc=1/2", "date=1999-04-01")
	tracker := startTracker(t)
	c := apiClient(t, tracker)
	startSeed(t, t.TempDir(), tracker, "--listen", fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t)), "--watch", lib)
	tracks := catalog(t, c)
	if len(tracks) != 1 {
		t.Fatalf("catalog: %+v", tracks)
	}
	if tr := tracks[0]; tr.TrackNumber != 3 || tr.DiscNumber != 1 || tr.Year != 1999 || tr.AlbumArtist != "Band" ||
		tr.Artist != "Band feat. Guest" || tr.Album != "First Pressing" {
		t.Fatalf("published %+v: the tags are not all there", tr)
	}
	old := tracks[0].ID

	// Retag in place, as a tag editor does: write aside, rename over.
	tmp := filepath.Join(t.TempDir(), "song.flac")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-i", path, "-c", "copy", "-map_metadata", "-1",
		"-metadata", "title=Retag Me", "-metadata", "artist=Band", "-metadata", "album=Second Pressing",
		"-metadata", "track=4", "-metadata", "date=2004", tmp).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the retagged file in the catalog", func() bool {
		tracks = catalog(t, c)
		return len(tracks) == 1 && tracks[0].ID != old
	})
	if tr := tracks[0]; tr.TrackNumber != 4 || tr.DiscNumber != 0 || tr.Year != 2004 || tr.AlbumArtist != "" || tr.Album != "Second Pressing" {
		t.Errorf("after the retag: %+v", tr)
	}
	albums, err := c.Albums(t.Context(), "", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(albums.Albums) != 1 || albums.Albums[0].Title != "Second Pressing" || albums.Albums[0].Year != 2004 {
		t.Errorf("albums after the retag: %+v; want Second Pressing alone", albums.Albums)
	}
	if _, err := c.Get(t.Context(), old); !api.IsNotFound(err) {
		t.Errorf("the old torrent is still published: %v", err)
	}
}

// btHandshake dials a BitTorrent client at addr and offers ih: it reports
// whether the client goes on after the handshake (it sends a first
// message: its bitfield) rather than hanging up. anacrolix echoes the
// handshake of any infohash before it looks the torrent up, so the
// handshake alone tells nothing.
func btHandshake(t *testing.T, addr string, ih metainfo.Hash) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	hs := append([]byte("\x13BitTorrent protocol"), make([]byte, 8)...)
	hs = append(hs, ih[:]...)
	hs = append(hs, "-PP0100-handshaketst"...)
	if _, err := conn.Write(hs); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 68+4) // the handshake, then a message's length
	if _, err := io.ReadFull(conn, reply); err != nil {
		return false
	}
	return bytes.Equal(reply[:20], hs[:20]) && bytes.Equal(reply[28:48], ih[:])
}

// TestSeedTakenDown: a track an admin takes down while the seeder runs is
// noticed at its next catalog check: the seeder logs it by file name,
// serves it no more over HTTP or BitTorrent, goes on with the rest, and
// does not offer it again on later passes of --watch. A seeder started
// later is refused at its first publish and does the same.
func TestSeedTakenDown(t *testing.T) {
	const rootToken = "seed-test-admin-token"
	lib := library(t)
	files := audioFiles(t, lib)
	admins := filepath.Join(t.TempDir(), "admins")
	if err := os.WriteFile(admins, []byte("root "+rootToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tracker := startTracker(t, "--admin-tokens", admins)
	c := apiClient(t, tracker)
	state := t.TempDir()
	httpAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	seed := startSeed(t, state, tracker, "--listen", httpAddr, "--watch", "--catalog-check", "300ms", lib)
	tracks := catalog(t, c)
	if len(tracks) != len(files) {
		t.Fatalf("catalog has %d tracks, want %d", len(tracks), len(files))
	}
	victim, kept := tracks[0], tracks[1]
	var victimIH, keptIH metainfo.Hash
	victimIH.FromHexString(victim.ID)
	keptIH.FromHexString(kept.ID)
	btAddr := regexp.MustCompile(`msg="BitTorrent seeding" addr=(\S+)`)
	m := btAddr.FindStringSubmatch(seed.Stderr())
	if m == nil {
		t.Fatalf("no BitTorrent address in the log:\n%s", seed.Stderr())
	}
	waitFor(t, 10*time.Second, "BitTorrent to serve the track before its takedown", func() bool { return btHandshake(t, m[1], victimIH) })
	victimRel, err := url.PathUnescape(strings.TrimPrefix(victim.SeedURLs[0], "http://"+httpAddr+"/"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodDelete, tracker+proto.PathTracks+"/"+victim.ID, nil)
	req.Header.Set("Authorization", "Bearer "+rootToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("takedown: %d", resp.StatusCode)
	}
	loggedOnce := func(logs string) bool {
		return strings.Count(logs, `msg="track taken down`) == 1 &&
			regexp.MustCompile(`msg="track taken down[^\n]* path="?`+regexp.QuoteMeta(victimRel)).MatchString(logs)
	}
	waitFor(t, 10*time.Second, "the running seeder to log the takedown of "+victimRel+" once by its file name",
		func() bool { return loggedOnce(seed.Stderr()) })
	get := func(u string) int {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	notServed := func(logs string) {
		t.Helper()
		if code := get(victim.SeedURLs[0]); code != http.StatusNotFound {
			t.Errorf("GET the taken-down track's seed URL: %d, want 404", code)
		}
		if code := get(kept.SeedURLs[0]); code != http.StatusOK {
			t.Errorf("GET another track's seed URL: %d, want 200", code)
		}
		m := btAddr.FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("no BitTorrent address in the log:\n%s", logs)
		}
		waitFor(t, 10*time.Second, "BitTorrent to serve the other track", func() bool { return btHandshake(t, m[1], keptIH) })
		if btHandshake(t, m[1], metainfo.Hash{1, 2, 3}) {
			t.Fatal("btHandshake cannot tell: the seeder went on with an infohash it never had")
		}
		if btHandshake(t, m[1], victimIH) {
			t.Error("the seeder still serves the taken-down track over BitTorrent")
		}
		if _, err := c.Get(context.Background(), victim.ID); !api.IsNotFound(err) {
			t.Errorf("the taken-down track is in the catalog again: %v", err)
		}
	}
	notServed(seed.Stderr())

	// A later pass (a new file) publishes the new file, and does not offer
	// the taken-down one again; nor do later checks.
	src, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "copy-"+filepath.Base(files[0])), src, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the new file in the catalog", func() bool { return len(catalog(t, c)) == len(files) })
	time.Sleep(time.Second) // three more checks
	if n := strings.Count(seed.Stderr(), `msg="track taken down`); n != 1 {
		t.Errorf("the takedown logged %d times after another pass, want once", n)
	}
	if n := metric(t, tracker, `peertune_catalog_publishes_total{result="taken_down"}`); n != 1 {
		t.Errorf("the tracker refused %v publishes of the taken-down track, want 1", n)
	}
	if n := metric(t, "http://"+httpAddr, `peertune_seeder_publish_total{op="publish",result="taken_down"}`); n != 1 {
		t.Errorf("the seeder counted %v taken-down publishes, want 1", n)
	}

	// A restarted seeder is refused at its first publish.
	seed.Stop(10 * time.Second)
	seed = startSeed(t, state, tracker, "--listen", httpAddr, lib)
	if !loggedOnce(seed.Stderr()) {
		t.Fatalf("the restarted seeder did not log the takedown of %s once by its file name:\n%s", victimRel, seed.Stderr())
	}
	notServed(seed.Stderr())
}

// TestSeedCatalogCheckRepublishes: a track the catalog lost while the
// seeder runs (deleted through the API, as a tracker whose data was reset
// would have lost it) is published again at the seeder's next catalog
// check, without --watch; one that is still listed is not.
func TestSeedCatalogCheckRepublishes(t *testing.T) {
	lib := library(t)
	files := audioFiles(t, lib)
	tracker := startTracker(t)
	c := apiClient(t, tracker)
	httpAddr := fmt.Sprintf("127.0.0.1:%d", itest.FreePort(t))
	seed := startSeed(t, t.TempDir(), tracker, "--listen", httpAddr, "--catalog-check", "300ms", lib)
	tracks := catalog(t, c)
	if len(tracks) != len(files) {
		t.Fatalf("catalog has %d tracks, want %d", len(tracks), len(files))
	}
	lost := tracks[0]
	if err := c.Delete(context.Background(), lost.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the lost track in the catalog again", func() bool {
		_, err := c.Get(context.Background(), lost.ID)
		return err == nil
	})
	if !strings.Contains(seed.Stderr(), `msg="published again: the catalog no longer listed the track"`) {
		t.Errorf("the seeder did not log why it published again:\n%s", seed.Stderr())
	}
	time.Sleep(time.Second) // three more checks
	if n := metric(t, "http://"+httpAddr, `peertune_seeder_publish_total{op="publish",result="ok"}`); n != float64(len(files)+1) {
		t.Errorf("the seeder counted %v publishes, want %d (the library, then the lost track once)", n, len(files)+1)
	}
}
