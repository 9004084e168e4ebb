//go:build integration

package tracker_test

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	anatracker "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"
	goredis "github.com/redis/go-redis/v9"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/announce"
)

// integrationRedisDB is the Redis database this file's trackers use (they
// use the default key prefix); the unit tests keep to database 0 under
// random prefixes, so flushing this one hits nobody else.
const integrationRedisDB = 9

func redisForTrackers(t *testing.T) string {
	t.Helper()
	opts, err := goredis.ParseURL(itest.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	opts.DB = integrationRedisDB
	rdb := goredis.NewClient(opts)
	defer rdb.Close()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatalf("flush redis db %d: %v", integrationRedisDB, err)
	}
	t.Cleanup(func() {
		rdb := goredis.NewClient(opts)
		defer rdb.Close()
		rdb.FlushDB(context.Background())
	})
	return "redis://" + opts.Addr + "/" + strconv.Itoa(integrationRedisDB)
}

// announcer is a BitTorrent client's tracker connection (anacrolix's).
func announcer(t *testing.T, url string) func(ih [20]byte, peer int, left int64, ev anatracker.AnnounceEvent) anatracker.AnnounceResponse {
	cl, err := anatracker.NewClient(url, anatracker.NewClientOpts{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return func(ih [20]byte, peer int, left int64, ev anatracker.AnnounceEvent) anatracker.AnnounceResponse {
		t.Helper()
		var id [20]byte
		copy(id[:], "-PP0100-redis-test-0")
		id[19] = byte('0' + peer)
		res, err := cl.Announce(t.Context(), anatracker.AnnounceRequest{
			InfoHash: infohash.T(ih), PeerId: id, Left: left, Event: ev, NumWant: 50, Port: uint16(7000 + peer),
		}, anatracker.AnnounceOpt{})
		if err != nil {
			t.Fatalf("announce of peer %d to %s: %v", peer, url, err)
		}
		return res
	}
}

func peerPorts(t *testing.T, res anatracker.AnnounceResponse) []int {
	var ports []int
	for _, p := range res.Peers {
		ap, ok := p.ToNetipAddrPort()
		if !ok || ap.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Fatalf("peer %v: want 127.0.0.1", p)
		}
		ports = append(ports, int(ap.Port()))
	}
	slices.Sort(ports)
	return ports
}

// Two tracker processes on one redis-server are one tracker: a track
// published on A is found on B, a peer announced to A is handed out by B,
// and when A is killed (SIGKILL) everything goes on through B, with the
// catalog and the swarm intact, also for an A started again.
func TestTwoTrackersOneRedis(t *testing.T) {
	const token = "redis-publisher"
	url := redisForTrackers(t)
	a := startTracker(t, t.TempDir(), "--redis", url, "--token", token)
	b := startTracker(t, t.TempDir(), "--redis", url, "--token", token)

	// Publish on A, find on B.
	tpath, ih := makeFileTorrent(t, t.TempDir(), "So What.flac", 200<<10, a.base+proto.PathAnnounce,
		"http://127.0.0.1:7070/so-what.flac")
	torrent, err := os.ReadFile(tpath)
	if err != nil {
		t.Fatal(err)
	}
	pub := proto.PublishRequest{Torrent: torrent, Title: "So What", Artist: "Miles Davis",
		Album: "Kind of Blue", DurationS: 562, Codec: proto.CodecFLAC, Bitrate: 900_000}
	if code, body := apiDo(t, http.MethodPost, a.base+proto.PathTracks, token, pub); code != http.StatusCreated {
		t.Fatalf("publish on A: %d %s", code, body)
	}
	for _, q := range []string{"miles", "so what", "kind"} {
		if l := search(t, b.base, q); l.Total != 1 || len(l.Tracks) != 1 || l.Tracks[0].ID != ih.HexString() {
			t.Fatalf("search %q on B: %+v, want the track published on A", q, l)
		}
	}
	if code, _ := apiDo(t, http.MethodPost, b.base+proto.PathTracks, token, pub); code != http.StatusOK {
		t.Fatalf("republish on B: %d, want 200 (already there)", code)
	}

	// A seeder announces to A over HTTP; a player announcing to B over UDP
	// gets it (the track is tracked on B too, though published on A).
	announceA := announcer(t, a.base+proto.PathAnnounce)
	announceB := announcer(t, b.udpURL)
	announceA(ih, 1, 0, anatracker.Started)
	res := announceB(ih, 2, 1000, anatracker.Started)
	if res.Seeders != 1 || res.Leechers != 1 || !slices.Equal(peerPorts(t, res), []int{7001}) {
		t.Fatalf("player on B got %+v, want the seeder announced to A (port 7001)", res)
	}

	// Kill A outright: nothing it held may be lost.
	a.proc.Signal(syscall.SIGKILL)
	if _, err := a.proc.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	announceB2 := announcer(t, b.base+proto.PathAnnounce)
	res = announceB2(ih, 3, 1000, anatracker.Started)
	if res.Seeders != 1 || res.Leechers != 2 || !slices.Equal(peerPorts(t, res), []int{7001, 7002}) {
		t.Fatalf("after A died, a player on B got %+v, want the seeder and the other player", res)
	}
	if l := search(t, b.base, "davis"); l.Total != 1 || l.Tracks[0].Seeders != 1 || l.Tracks[0].Leechers != 2 {
		t.Fatalf("after A died, search on B: %+v", l)
	}
	if code, body := apiDo(t, http.MethodGet, b.base+proto.PathTracks+"/"+ih.HexString()+"/torrent", "", nil); code != http.StatusOK || string(body) != string(torrent) {
		t.Fatalf("after A died, torrent from B: %d, %d bytes (want the %d published)", code, len(body), len(torrent))
	}
	// B keeps publishing.
	tpath2, ih2 := makeFileTorrent(t, t.TempDir(), "Freddie Freeloader.flac", 100<<10, b.base+proto.PathAnnounce,
		"http://127.0.0.1:7070/freddie.flac")
	torrent2, _ := os.ReadFile(tpath2)
	pub2 := pub
	pub2.Torrent, pub2.Title = torrent2, "Freddie Freeloader"
	if code, body := apiDo(t, http.MethodPost, b.base+proto.PathTracks, token, pub2); code != http.StatusCreated {
		t.Fatalf("publish on B after A died: %d %s", code, body)
	}

	// A started again on the same Redis has everything.
	a2 := startTracker(t, t.TempDir(), "--redis", url, "--token", token)
	if l := search(t, a2.base, "kind blue"); l.Total != 2 {
		t.Fatalf("restarted A finds %d tracks, want 2: %+v", l.Total, l)
	}
	res = announcer(t, a2.udpURL)(ih, 4, 0, anatracker.Started)
	if res.Seeders != 2 || res.Leechers != 2 || !slices.Equal(peerPorts(t, res), []int{7002, 7003}) {
		t.Fatalf("seeder on restarted A got %+v, want both players", res)
	}
	if res := announceB2(ih2, 5, 1000, anatracker.Started); res.Leechers != 1 {
		t.Fatalf("announce of the track published on B: %+v", res)
	}
	code, body := apiDo(t, http.MethodGet, a2.base+proto.PathReadyz, "", nil)
	if code != http.StatusOK || string(body) != "ready: 2 tracks\n" {
		t.Fatalf("readyz on restarted A: %d %q", code, body)
	}
}

// A takedown through one tracker holds on every tracker of the Redis: the
// other refuses the re-publish at once and the swarm (HTTP and UDP) within
// moments; both list the denial; a lift through the other lets it back.
func TestTakedownAcrossTrackers(t *testing.T) {
	url := redisForTrackers(t)
	dir := t.TempDir()
	tokens, admins := dir+"/tokens", dir+"/admins"
	writeTokensFile(t, tokens, "alice "+aliceNew+"\n", 0o600)
	writeTokensFile(t, admins, "root "+rootToken+"\n", 0o400)
	args := []string{"--redis", url, "--tokens", tokens, "--admin-tokens", admins}
	a := startTracker(t, t.TempDir(), args...)
	b := startTracker(t, t.TempDir(), args...)
	bUDP := b.udpURL[len("udp://") : len(b.udpURL)-len(proto.PathAnnounce)]
	pub, ih := publishBody(t, a.base, "Shared Bootleg")
	if code, body := apiDo(t, http.MethodPost, a.base+proto.PathTracks, aliceNew, pub); code != http.StatusCreated {
		t.Fatalf("publish on A: %d %s", code, body)
	}
	if r := httpAnnounce(t, b.base, ih); r != "" {
		t.Fatalf("announce on B: %q", r)
	}
	if code, body := apiDo(t, http.MethodDelete, a.base+proto.PathTracks+"/"+ih.HexString(), rootToken, nil); code != http.StatusNoContent {
		t.Fatalf("takedown on A: %d %s", code, body)
	}
	if code, _ := apiDo(t, http.MethodPost, b.base+proto.PathTracks, aliceNew, pub); code != http.StatusForbidden {
		t.Errorf("re-publish on B right after the takedown on A: %d, want 403", code)
	}
	waitUntil(t, "B to refuse the swarm over HTTP", func() bool { return httpAnnounce(t, b.base, ih) == announce.TakenDownReason })
	if r := udpAnnounce(t, bUDP, ih); r != announce.TakenDownReason {
		t.Errorf("UDP announce on B: %q", r)
	}
	code, body := apiDo(t, http.MethodGet, b.base+proto.PathAdminDeny, rootToken, nil)
	if code != http.StatusOK || !strings.Contains(string(body), ih.HexString()) {
		t.Errorf("deny list on B: %d %s", code, body)
	}
	if code, _ := apiDo(t, http.MethodDelete, b.base+proto.PathAdminDeny+"/"+ih.HexString(), rootToken, nil); code != http.StatusNoContent {
		t.Fatalf("lift on B: %d", code)
	}
	if code, body := apiDo(t, http.MethodPost, a.base+proto.PathTracks, aliceNew, pub); code != http.StatusCreated {
		t.Errorf("publish on A after the lift on B: %d %s", code, body)
	}
	waitUntil(t, "A to serve the swarm again", func() bool { return httpAnnounce(t, a.base, ih) == "" })
}
