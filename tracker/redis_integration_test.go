//go:build integration

package tracker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
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

// failoverSetup is two trackers on one Redis set-up with tracks published
// and swarms announced, ready for a kill.
type failoverSetup struct {
	a, b   *tracker
	hashes []metainfo.Hash
}

func newFailoverSetup(t *testing.T, url string) failoverSetup {
	t.Helper()
	const token = "failover-publisher"
	s := failoverSetup{
		a: startTracker(t, t.TempDir(), "--redis", url, "--token", token),
		b: startTracker(t, t.TempDir(), "--redis", url, "--token", token),
	}
	for i := range 8 {
		name := fmt.Sprintf("Track %d.flac", i)
		tpath, ih := makeFileTorrent(t, t.TempDir(), name, 40<<10, s.a.base+proto.PathAnnounce, "http://127.0.0.1:7070/"+name)
		torrent, err := os.ReadFile(tpath)
		if err != nil {
			t.Fatal(err)
		}
		pub := proto.PublishRequest{Torrent: torrent, Title: fmt.Sprintf("Failover %d", i), Artist: "Survivor",
			Album: "Eye of the Tiger", DurationS: 60, Codec: proto.CodecFLAC}
		tr := s.a
		if i%2 == 1 {
			tr = s.b
		}
		if code, body := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, token, pub); code != http.StatusCreated {
			t.Fatalf("publish %d: %d %s", i, code, body)
		}
		s.hashes = append(s.hashes, ih)
	}
	for i, ih := range s.hashes {
		announcer(t, s.a.base+proto.PathAnnounce)(ih, 1, 0, anatracker.Started)
		announcer(t, s.b.udpURL)(ih, 2, int64(1000+i), anatracker.Started)
	}
	return s
}

// announceAll announces every swarm to both trackers and says whether all
// succeeded, and the first failure.
func (s failoverSetup) announceAll(t *testing.T, peer int) (bool, error) {
	t.Helper()
	for _, url := range []string{s.a.base + proto.PathAnnounce, s.b.udpURL} {
		cl, err := anatracker.NewClient(url, anatracker.NewClientOpts{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ih := range s.hashes {
			var id [20]byte
			copy(id[:], "-PP0100-failover-000")
			id[19] = byte('0' + peer)
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			res, err := cl.Announce(ctx, anatracker.AnnounceRequest{InfoHash: infohash.T(ih), PeerId: id, Left: 1,
				Event: anatracker.Started, NumWant: 50, Port: uint16(7000 + peer)}, anatracker.AnnounceOpt{})
			cancel()
			if err == nil && res.Seeders == 0 {
				err = fmt.Errorf("swarm %s lost its seeder: %+v", ih.HexString(), res)
			}
			if err != nil {
				cl.Close()
				return false, err
			}
		}
		cl.Close()
	}
	return true, nil
}

// afterKill measures how long after kill every announce succeeds again on
// both trackers and both find every track in the catalog (at most 10 s).
func (s failoverSetup) afterKill(t *testing.T, replicated, kill func(), state, diag func() string) {
	t.Helper()
	if ok, err := s.announceAll(t, 3); !ok {
		t.Fatalf("before the kill: %v", err)
	}
	// Replication is asynchronous: a master killed before its replica has
	// the seeders' announces takes them along (a real seeder announces
	// again within the interval; these announce once). A fixed half
	// second was too short on a loaded machine (TestClusterFailover:
	// "lost its seeder").
	replicated()
	kill()
	killed := time.Now()
	var last error
	lastState := ""
	for {
		if st := state(); st != lastState {
			t.Logf("%v after the kill: %s", time.Since(killed).Round(10*time.Millisecond), st)
			lastState = st
		}
		ok, err := s.announceAll(t, 4)
		if ok {
			ok, err = s.catalogWhole(t)
		}
		if ok {
			break
		}
		if last == nil || err.Error() != last.Error() {
			t.Logf("%v after the kill: %v", time.Since(killed).Round(10*time.Millisecond), err)
		}
		last = err
		if time.Since(killed) > 10*time.Second {
			t.Fatalf("announces still fail 10 s after the kill: %v\ntracker A's log (the end):\n%s\n%s", last, tail(s.a.proc.Stderr(), 1500), diag())
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("announces and searches succeed again %v after the kill (last failure: %v)", time.Since(killed).Round(10*time.Millisecond), last)
}

// catalogWhole says whether both trackers find every published track.
func (s failoverSetup) catalogWhole(t *testing.T) (bool, error) {
	t.Helper()
	for _, tr := range []*tracker{s.a, s.b} {
		code, body := apiDo(t, http.MethodGet, tr.base+proto.PathTracks+"?q=survivor", "", nil)
		if code != http.StatusOK {
			return false, fmt.Errorf("search on %s: %d %s", tr.base, code, body)
		}
		var l proto.TrackList
		if err := json.Unmarshal(body, &l); err != nil {
			return false, fmt.Errorf("search on %s: %w", tr.base, err)
		}
		if l.Total != len(s.hashes) {
			return false, fmt.Errorf("search on %s finds %d tracks, want %d", tr.base, l.Total, len(s.hashes))
		}
	}
	return true, nil
}

// TestClusterFailover: two trackers on a Redis Cluster of three masters,
// each with a replica. The master holding most of the tracker's keys is
// killed: after the cluster fails over (cluster-node-timeout 2 s), every
// announce succeeds again within 10 s and no catalog entry is lost.
func TestClusterFailover(t *testing.T) {
	c := itest.NewRedisCluster(t, 3, 1)
	s := newFailoverSetup(t, c.URL)
	var victim *itest.RedisNode
	var most int64 = -1
	for _, m := range c.Masters(t) {
		if n := m.DBSize(t); n > most {
			victim, most = m, n
		}
	}
	t.Logf("killing master %s, which holds %d keys", victim.Addr, most)
	s.afterKill(t, func() { victim.WaitReplicated(t, 5*time.Second) }, victim.Kill, func() string { return c.State(t) }, func() string { return c.Diagnose(t) })
}

// TestSentinelFailover: the same with a primary and a replica that three
// Sentinels watch (down after 1 s).
func TestSentinelFailover(t *testing.T) {
	set := itest.NewRedisSentinelSet(t)
	s := newFailoverSetup(t, set.URL)
	s.afterKill(t, func() { set.Primary.WaitReplicated(t, 5*time.Second) }, set.Primary.Kill, func() string { return "primary " + set.PrimaryAddr(t) }, func() string { return "" })
	if addr := set.PrimaryAddr(t); addr != set.Replica.Addr {
		t.Errorf("the Sentinels name %s as the primary, want the replica %s", addr, set.Replica.Addr)
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
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
