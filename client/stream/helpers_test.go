package stream

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"

	"golang.org/x/time/rate"

	"github.com/peertune/peertune/proto"
)

const (
	testPieceLen = 16 << 10
	testBitrate  = 32 << 10 * 8 // 32 KiB of audio per second
)

// testTrack is a single-file torrent of random bytes.
type testTrack struct {
	data    []byte
	torrent []byte
	track   proto.Track
}

func newTestTrack(t testing.TB, size int, announce ...string) testTrack {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	var pieces []byte
	for off := 0; off < size; off += testPieceLen {
		h := sha1.Sum(data[off:min(off+testPieceLen, size)])
		pieces = append(pieces, h[:]...)
	}
	info := metainfo.Info{Name: "track.bin", PieceLength: testPieceLen, Length: int64(size), Pieces: pieces}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	mi := metainfo.MetaInfo{InfoBytes: infoBytes}
	if len(announce) > 0 {
		mi.Announce = announce[0]
		mi.AnnounceList = [][]string{announce}
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return testTrack{
		data:    data,
		torrent: buf.Bytes(),
		track: proto.Track{
			ID: mi.HashInfoBytes().HexString(), Title: "random " + strconv.Itoa(size), Codec: proto.CodecWAV,
			Bitrate: testBitrate, Size: int64(size), PieceLength: testPieceLen,
			DurationS: float64(size) / (testBitrate / 8),
		},
	}
}

// seedServer is an HTTP seed server over a track's bytes that counts what it
// sends and can be made slow or failing.
type seedServer struct {
	*httptest.Server
	sent     atomic.Int64
	requests atomic.Int64
	status   atomic.Int64 // non-zero: answer every request with this status
	delay    atomic.Int64 // nanoseconds before answering
	limit    atomic.Pointer[rate.Limiter]

	mu    sync.Mutex
	kinds map[string]string // a request's Range → its proto.HeaderFetch
}

// kindOf is the proto.HeaderFetch of the last request for rng.
func (s *seedServer) kindOf(rng string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kinds[rng]
}

func newSeedServer(t testing.TB, data []byte) *seedServer {
	s := &seedServer{kinds: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		s.kinds[r.Header.Get("Range")] = r.Header.Get(proto.HeaderFetch)
		s.mu.Unlock()
		if d := s.delay.Load(); d > 0 {
			select {
			case <-time.After(time.Duration(d)):
			case <-r.Context().Done():
				return
			}
		}
		if st := s.status.Load(); st != 0 {
			http.Error(w, "test failure", int(st))
			return
		}
		http.ServeContent(countingWriter{w, &s.sent, s.limit.Load()}, r, "track.bin", time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *seedServer) trackURL() string { return s.URL + "/track.bin" }

// newSeededTrack is a test track (see newTestTrack) with a seed server over
// its bytes as its only seed URL.
func newSeededTrack(t testing.TB, size int, announce ...string) (testTrack, *seedServer) {
	t.Helper()
	tt := newTestTrack(t, size, announce...)
	seed := newSeedServer(t, tt.data)
	tt.track.SeedURLs = []string{seed.trackURL()}
	return tt, seed
}

type countingWriter struct {
	http.ResponseWriter
	n     *atomic.Int64
	limit *rate.Limiter // nil: unlimited
}

func (w countingWriter) Write(b []byte) (int, error) {
	var total int
	for len(b) > 0 {
		chunk := b
		if w.limit != nil {
			chunk = b[:min(len(b), w.limit.Burst())]
			if err := w.limit.WaitN(context.Background(), len(chunk)); err != nil {
				return total, err
			}
		}
		n, err := w.ResponseWriter.Write(chunk)
		w.n.Add(int64(n))
		total += n
		if err != nil {
			return total, err
		}
		b = b[n:]
	}
	return total, nil
}

// testPeer says how newTestPeer's client differs from a seed server's
// BitTorrent client holding the track.
type testPeer struct {
	data       []byte // the copy it serves (default: the track's bytes)
	player     bool   // a player's peer id, not a seeder's
	host       string // listen address's host (default 127.0.0.1)
	announce   bool   // announce to the torrent's trackers
	uploadRate int    // bytes per second (0: no cap)
	// unverified marks every piece complete without hashing it: a bad
	// copy would fail its own check.
	unverified bool
}

// newTestPeer runs a real anacrolix client holding the whole track and
// returns its address.
func newTestPeer(t testing.TB, tt testTrack, p testPeer) string {
	t.Helper()
	if p.data == nil {
		p.data = tt.data
	}
	if p.host == "" {
		p.host = "127.0.0.1"
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "track.bin"), p.data, 0o644); err != nil {
		t.Fatal(err)
	}
	mi, err := metainfo.Load(bytes.NewReader(tt.torrent))
	if err != nil {
		t.Fatal(err)
	}
	completion := storage.NewMapPieceCompletion()
	if p.unverified {
		for i := range (len(tt.data) + testPieceLen - 1) / testPieceLen {
			if err := completion.Set(metainfo.PieceKey{InfoHash: mi.HashInfoBytes(), Index: i}, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := torrent.NewDefaultClientConfig()
	cfg.DefaultStorage = storage.NewFileOpts(storage.NewFileClientOpts{ClientBaseDir: dir, PieceCompletion: completion})
	cfg.NoDHT = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableWebtorrent = true
	cfg.DisableUTP = true
	cfg.DisableIPv6 = true
	cfg.Seed = true
	cfg.Bep20 = proto.PeerIDPrefixSeeder
	if p.player {
		cfg.Bep20 = proto.PeerIDPrefixPlayer
	}
	cfg.SetListenAddr(net.JoinHostPort(p.host, "0"))
	cfg.Slogger = slog.New(slog.DiscardHandler)
	if p.uploadRate > 0 {
		cfg.UploadRateLimiter = rate.NewLimiter(rate.Limit(p.uploadRate), max(16<<10, p.uploadRate))
	}
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		t.Fatal(err)
	}
	if !p.announce {
		spec.Trackers = nil
	}
	tor, _, err := cl.AddTorrentSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-tor.Complete().On():
	case <-time.After(30 * time.Second):
		t.Fatal("BitTorrent peer did not verify its data")
	}
	return net.JoinHostPort(p.host, strconv.Itoa(cl.LocalPort()))
}

// fastPolicy keeps the defaults that matter for the rules tested, in audio
// seconds, and shortens the wall-clock ones.
func testPolicy() Policy {
	return Policy{GiveUp: 10 * time.Second}
}

func newTestClient(t testing.TB, dir string, pol Policy) *Client {
	t.Helper()
	c, err := New(Config{
		CacheDir:   dir,
		CacheSize:  -1,
		ListenAddr: "127.0.0.1:0",
		Logger:     slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Policy:     pol,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// openStream opens tt's stream on c.
func openStream(t testing.TB, c *Client, tt testTrack) *Stream {
	t.Helper()
	s, err := c.Open(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

func (c *Client) addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.ListenPort()))
}

// play reads the whole track through a Reader at speed times real time (by
// the track's bitrate) and returns what it read.
func play(ctx context.Context, s *Stream, speed float64) ([]byte, error) {
	r := s.NewReader(ctx)
	defer r.Close()
	return playFrom(r, s, speed, -1)
}

// playFrom reads up to limit bytes (all when negative) at speed times real time.
func playFrom(r *Reader, s *Stream, speed float64, limit int64) ([]byte, error) {
	var out bytes.Buffer
	buf := make([]byte, 4<<10)
	start := time.Now()
	for limit < 0 || int64(out.Len()) < limit {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return out.Bytes(), err
		}
		due := time.Duration(float64(out.Len()) / s.bps / speed * float64(time.Second))
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
	return out.Bytes(), nil
}

func checkSum(t testing.TB, name string, st Stats) {
	t.Helper()
	sum := st.BytesSeedHead + st.BytesSeedEmergency + st.BytesSeedFill + st.BytesSeedBT + st.BytesPeers + st.BytesCache
	if sum != st.Size || !st.Complete {
		t.Errorf("%s: sources add up to %d of %d bytes (complete %v): %+v", name, sum, st.Size, st.Complete, st)
	}
}

func waitComplete(t testing.TB, s *Stream, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !s.Stats().Complete {
		if time.Now().After(deadline) {
			t.Fatalf("track not complete after %s: %+v", d, s.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fmtStats(st Stats) string {
	return fmt.Sprintf("head=%d emerg=%d fill=%d bt=%d peers=%d cache=%d dup=%d seen=%d lead=%s",
		st.BytesSeedHead, st.BytesSeedEmergency, st.BytesSeedFill, st.BytesSeedBT, st.BytesPeers, st.BytesCache, st.Duplicate, st.PeersSeen, st.MaxSeedLead)
}

// testTracker is a minimal HTTP BitTorrent tracker: it answers each
// announce with the compact addresses of every other peer of the torrent.
type testTracker struct {
	*httptest.Server
	mu    sync.Mutex
	peers map[string]map[string]string // info hash -> peer id -> compact address
}

func newTestTracker(t testing.TB) *testTracker {
	tr := &testTracker{peers: map[string]map[string]string{}}
	tr.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host).To4()
		port, err := strconv.Atoi(q.Get("port"))
		if ip == nil || err != nil {
			http.Error(w, "bad peer", http.StatusBadRequest)
			return
		}
		ih, id := q.Get("info_hash"), q.Get("peer_id")
		compact := string(append(ip, byte(port>>8), byte(port)))
		tr.mu.Lock()
		if tr.peers[ih] == nil {
			tr.peers[ih] = map[string]string{}
		}
		if q.Get("event") == "stopped" {
			delete(tr.peers[ih], id)
		} else {
			tr.peers[ih][id] = compact
		}
		var others strings.Builder
		for pid, a := range tr.peers[ih] {
			if pid != id {
				others.WriteString(a)
			}
		}
		tr.mu.Unlock()
		b, err := bencode.Marshal(map[string]any{"interval": 2, "peers": others.String()})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(tr.Close)
	return tr
}

func (tr *testTracker) announceURL() string { return tr.URL + "/announce" }
