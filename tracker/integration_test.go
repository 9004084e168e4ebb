//go:build integration

package tracker_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// TestMain removes the peertune binary the tests built.
func TestMain(m *testing.M) { os.Exit(itest.Main(m)) }

// tracker is a running `peertune tracker` process.
type tracker struct {
	proc    *itest.Proc
	base    string // http://127.0.0.1:PORT
	udpURL  string // udp://127.0.0.1:PORT/announce
	dataDir string
}

func startTracker(t *testing.T, dataDir string, args ...string) *tracker {
	t.Helper()
	port := itest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	all := append([]string{"tracker", "--listen", addr, "--udp", addr, "--data", dataDir,
		"--interval", "2s", "--min-interval", "1s", "--peer-ttl", "1m"}, args...)
	p := itest.Start(t, nil, itest.Binary(t), all...)
	tr := &tracker{proc: p, base: "http://" + addr, udpURL: "udp://" + addr + "/announce", dataDir: dataDir}
	itest.WaitHTTP(t, tr.base+proto.PathReadyz, 20*time.Second)
	return tr
}

// makeFileTorrent writes size random bytes to dir/name and a .torrent for
// it announcing to announce; it returns the torrent's path and infohash.
func makeFileTorrent(t *testing.T, dir, name string, size int, announce string, urlList ...string) (string, metainfo.Hash) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 16 << 10}
	if err := info.BuildFromFilePath(path); err != nil {
		t.Fatal(err)
	}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: infoBytes, Announce: announce, UrlList: urlList}
	tpath := filepath.Join(t.TempDir(), name+".torrent")
	f, err := os.Create(tpath)
	if err != nil {
		t.Fatal(err)
	}
	if err := mi.Write(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return tpath, mi.HashInfoBytes()
}

// aria2c runs Debian's aria2c on loopback with no DHT, LPD or PEX unless
// the announce URL is UDP (aria2 announces to UDP trackers only through
// its DHT socket; with no entry point it contacts no one else).
func aria2c(t *testing.T, torrentPath, dir string, seed bool, udp bool) *itest.Proc {
	t.Helper()
	args := []string{
		"--dir=" + dir, "--listen-port=" + fmt.Sprint(itest.FreePort(t)),
		"--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=false",
		"--bt-tracker-interval=1", "--bt-external-ip=127.0.0.1",
		"--summary-interval=0", "--console-log-level=warn", "--allow-overwrite=true",
		"--bt-stop-timeout=60", "--auto-save-interval=0", "--file-allocation=none",
	}
	if udp {
		args = append(args, "--enable-dht=true", "--dht-listen-port="+fmt.Sprint(itest.FreePort(t)),
			"--dht-file-path="+filepath.Join(t.TempDir(), "dht.dat"))
	} else {
		args = append(args, "--enable-dht=false")
	}
	if seed {
		args = append(args, "-V", "--seed-ratio=0.0", "--seed-time=10")
	} else {
		args = append(args, "--seed-time=0")
	}
	args = append(args, torrentPath)
	return itest.Start(t, nil, "aria2c", args...)
}

// scrape returns the seeders of ih according to the tracker's /scrape.
func scrape(t *testing.T, base string, ih metainfo.Hash) int {
	t.Helper()
	resp, err := http.Get(base + "/scrape?info_hash=" + url.QueryEscape(string(ih[:])))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Files map[string]struct {
			Complete int `bencode:"complete"`
		} `bencode:"files"`
		Failure string `bencode:"failure reason"`
	}
	if err := bencode.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("scrape reply: %v", err)
	}
	if body.Failure != "" {
		t.Fatalf("scrape failed: %s", body.Failure)
	}
	return body.Files[string(ih[:])].Complete
}

func testAria2Swarm(t *testing.T, udp bool) {
	itest.Need(t, "aria2c")
	tr := startTracker(t, t.TempDir(), "--open")
	announce := tr.base + proto.PathAnnounce
	if udp {
		announce = tr.udpURL
	}
	seedDir, leechDir := t.TempDir(), t.TempDir()
	tpath, ih := makeFileTorrent(t, seedDir, "track.flac", 3<<20+12345, announce)

	seeder := aria2c(t, tpath, seedDir, true, udp)
	deadline := time.Now().Add(30 * time.Second)
	for scrape(t, tr.base, ih) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the aria2c seeder never announced to %s", announce)
		}
		select {
		case <-seeder.Done():
			t.Fatalf("the aria2c seeder exited early")
		case <-time.After(200 * time.Millisecond):
		}
	}

	leecher := aria2c(t, tpath, leechDir, false, udp)
	code, err := leecher.Wait(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("aria2c leecher exited %d", code)
	}
	want, _ := os.ReadFile(filepath.Join(seedDir, "track.flac"))
	got, err := os.ReadFile(filepath.Join(leechDir, "track.flac"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("downloaded file differs from the original (%d vs %d bytes)", len(got), len(want))
	}
}

// Two real aria2c processes find each other only through this tracker,
// over HTTP announce and over the UDP announce URL.
func TestAria2SwarmHTTP(t *testing.T) { testAria2Swarm(t, false) }
func TestAria2SwarmUDP(t *testing.T)  { testAria2Swarm(t, true) }

func apiDo(t *testing.T, method, u, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func search(t *testing.T, base, q string) proto.TrackList {
	t.Helper()
	code, b := apiDo(t, http.MethodGet, base+proto.PathTracks+"?q="+url.QueryEscape(q), "", nil)
	if code != http.StatusOK {
		t.Fatalf("search %q: %d %s", q, code, b)
	}
	var l proto.TrackList
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l
}

// Publish a track, find it by a word of its artist and of its title, fetch
// its .torrent and check the infohash; a wrong token changes nothing; the
// catalog survives a restart.
func TestPublishSearchTorrent(t *testing.T) {
	const token = "publisher-token-1"
	data := t.TempDir()
	tr := startTracker(t, data, "--token", token)

	tpath, ih := makeFileTorrent(t, t.TempDir(), "Blue in Green.flac", 200<<10, tr.base+proto.PathAnnounce,
		"http://127.0.0.1:7070/tracks/blue.flac")
	torrent, err := os.ReadFile(tpath)
	if err != nil {
		t.Fatal(err)
	}
	pub := proto.PublishRequest{Torrent: torrent, Title: "Blue in Green", Artist: "Miles Davis",
		Album: "Kind of Blue", DurationS: 337.5, Codec: proto.CodecFLAC, Bitrate: 900_000}

	// A wrong token is refused and leaves the catalog unchanged.
	before := search(t, tr.base, "").Total
	if code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, "wrong-token", pub); code != http.StatusUnauthorized {
		t.Fatalf("publish with a wrong token: %d %s, want 401", code, b)
	}
	if after := search(t, tr.base, "").Total; after != before {
		t.Fatalf("catalog changed after a refused publish: %d → %d tracks", before, after)
	}

	code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, token, pub)
	if code != http.StatusCreated {
		t.Fatalf("publish: %d %s", code, b)
	}
	var track proto.Track
	if err := json.Unmarshal(b, &track); err != nil {
		t.Fatal(err)
	}
	if track.ID != ih.HexString() {
		t.Fatalf("track id %s, want the torrent's infohash %s", track.ID, ih.HexString())
	}
	if code, _ := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, token, pub); code != http.StatusOK {
		t.Fatalf("republish: %d, want 200", code)
	}

	for _, q := range []string{"miles", "davis", "green", "Blue", "kind blue"} {
		l := search(t, tr.base, q)
		if l.Total != 1 || len(l.Tracks) != 1 || l.Tracks[0].ID != track.ID {
			t.Fatalf("search %q: %+v, want the published track", q, l)
		}
	}
	if l := search(t, tr.base, "coltrane"); l.Total != 0 {
		t.Fatalf("search coltrane: %+v, want nothing", l)
	}

	checkTorrent := func(base string) {
		code, b := apiDo(t, http.MethodGet, base+proto.PathTracks+"/"+track.ID+"/torrent", "", nil)
		if code != http.StatusOK {
			t.Fatalf("get torrent: %d %s", code, b)
		}
		mi, err := metainfo.Load(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := mi.HashInfoBytes(); got != ih {
			t.Fatalf("downloaded torrent has infohash %s, want %s", got, ih)
		}
	}
	checkTorrent(tr.base)

	// The published track is tracked (the default is the catalog's tracks
	// only); an unknown infohash is not.
	announce := func(base string, ih metainfo.Hash) string {
		q := url.Values{"info_hash": {string(ih[:])}, "peer_id": {"-PP0100-abcdefghijkl"},
			"port": {"6881"}, "left": {"0"}, "uploaded": {"0"}, "downloaded": {"0"}, "compact": {"1"}}
		resp, err := http.Get(base + proto.PathAnnounce + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if r := announce(tr.base, ih); strings.Contains(r, "failure reason") {
		t.Fatalf("announce of a published track failed: %q", r)
	}
	if r := announce(tr.base, metainfo.Hash{1, 2, 3}); !strings.Contains(r, "unregistered torrent") {
		t.Fatalf("announce of an unknown infohash: %q, want an unregistered-torrent failure", r)
	}

	// SIGTERM shuts down cleanly; the catalog is intact after a restart.
	if code := tr.proc.Stop(10 * time.Second); code != 0 {
		t.Fatalf("tracker exited %d on SIGTERM", code)
	}
	tr2 := startTracker(t, data, "--token", token)
	if l := search(t, tr2.base, "davis"); l.Total != 1 || l.Tracks[0].Title != "Blue in Green" {
		t.Fatalf("after restart: %+v", l)
	}
	checkTorrent(tr2.base)

	// Unpublish needs the publishing token.
	if code, _ := apiDo(t, http.MethodDelete, tr2.base+proto.PathTracks+"/"+track.ID, "wrong-token", nil); code != http.StatusUnauthorized {
		t.Fatalf("delete with a wrong token: %d, want 401", code)
	}
	if code, b := apiDo(t, http.MethodDelete, tr2.base+proto.PathTracks+"/"+track.ID, token, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, b)
	}
	if l := search(t, tr2.base, "davis"); l.Total != 0 {
		t.Fatalf("after delete: %+v", l)
	}
}

// Without --token the tracker refuses every publish and says so at start.
func TestPublishDisabledWithoutToken(t *testing.T) {
	tr := startTracker(t, t.TempDir())
	tpath, _ := makeFileTorrent(t, t.TempDir(), "a.mp3", 64<<10, tr.base+proto.PathAnnounce, "http://127.0.0.1:1/a.mp3")
	torrent, _ := os.ReadFile(tpath)
	code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, "anything", proto.PublishRequest{
		Torrent: torrent, Title: "a", DurationS: 1, Codec: proto.CodecMP3})
	if code != http.StatusUnauthorized || !strings.Contains(string(b), "--token") {
		t.Fatalf("publish without tokens: %d %s", code, b)
	}
	if !strings.Contains(tr.proc.Stderr(), "publishing is disabled") {
		t.Fatalf("the tracker did not say at start that publishing is disabled:\n%s", tr.proc.Stderr())
	}
}

// Bad flags are bad usage: exit status 2 with a message naming the flag.
func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"tracker", "--listen", "nonsense"},
		{"tracker", "--public-url", "ftp://x"},
		{"tracker", "--trusted-proxy", "not-a-cidr"},
		{"tracker", "--redis", "mysql://x"},
		{"tracker", "--no-such-flag"},
	} {
		p := itest.Start(t, nil, itest.Binary(t), args...)
		code, err := p.Wait(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code != 2 {
			t.Errorf("peertune %v: exit %d, want 2; stderr: %s", args, code, p.Stderr())
		}
	}
}
