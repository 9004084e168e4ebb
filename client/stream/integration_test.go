//go:build integration

// These tests play tracks in real time (sped up) and run a child process:
// go test -tags integration ./client/stream/

package stream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/peertune/peertune/proto"
)

// The head comes from the seed server over HTTP, the rest (no peers) from
// the seed server paced to the lead; a second player gets the head from
// HTTP and the rest from the first player.
func TestHeadFromHTTPRestFromPeer(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two tracks in real time at 8x")
	}
	tt, seed := newSeededTrack(t, 1<<20)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a := newTestClient(t, t.TempDir(), testPolicy())
	sa := openStream(t, a, tt)
	got, err := play(ctx, sa, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player A read different bytes")
	}
	waitComplete(t, sa, 30*time.Second)
	stA := sa.Stats()
	t.Logf("A: %s; HTTP sent %d in %d requests", fmtStats(stA), seed.sent.Load(), seed.requests.Load())
	checkSum(t, "A", stA)
	headBytes := int64(6 * testPieceLen) // 3 s at 32 KiB/s
	if stA.BytesSeedHead != headBytes {
		t.Errorf("A: head %d bytes, want %d", stA.BytesSeedHead, headBytes)
	}
	// The head is marked as one: a seed server serves it before emergencies.
	if k := seed.kindOf(fmt.Sprintf("bytes=0-%d", headBytes-1)); k != proto.FetchHead {
		t.Errorf("A: the head's request was marked %q, want %q", k, proto.FetchHead)
	}
	// Alone, A takes the rest from the seed server too: inside the lead
	// as needed, beyond it as fills.
	if past := stA.BytesSeedEmergency + stA.BytesSeedFill; past != stA.Size-headBytes {
		t.Errorf("A: %d bytes past the head from the seed server, want %d", past, stA.Size-headBytes)
	}
	// Urgent seed data never runs further ahead than the lead: 15 s of
	// audio plus one piece, plus what a 4 KiB read can lag.
	if lim := 15*time.Second + time.Second; stA.MaxSeedLead > lim {
		t.Errorf("A: seed data ran %s ahead of the playhead, limit %s", stA.MaxSeedLead, lim)
	}

	sentBefore := seed.sent.Load()
	b := newTestClient(t, t.TempDir(), testPolicy())
	sb := openStream(t, b, tt)
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	got, err = play(ctx, sb, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player B read different bytes")
	}
	waitComplete(t, sb, 30*time.Second)
	stB := sb.Stats()
	t.Logf("B: %s; HTTP sent %d", fmtStats(stB), seed.sent.Load()-sentBefore)
	checkSum(t, "B", stB)
	if stB.BytesPeers < stB.Size-headBytes {
		t.Errorf("B: %d bytes from peers, want at least %d", stB.BytesPeers, stB.Size-headBytes)
	}
	if http := seed.sent.Load() - sentBefore; http > headBytes+4*testPieceLen {
		t.Errorf("B: seed server sent %d bytes over HTTP, want about the head (%d)", http, headBytes)
	}
	if stB.PeersSeen != 1 {
		t.Errorf("B: saw %d peers, want 1", stB.PeersSeen)
	}
	// B asked its peer for RequestSize chunks, not anacrolix's 16 KiB.
	ts := sb.t.Stats()
	if n := ts.ChunksReadUseful.Int64(); n == 0 || ts.BytesReadUsefulData.Int64() > n*RequestSize {
		t.Errorf("B: %d useful bytes in %d chunks from its peer, want chunks of at most %d", ts.BytesReadUsefulData.Int64(), n, RequestSize)
	}
}

// While the seed server's HTTP side works, a player asks nothing of its
// BitTorrent side (-PS), though it stays connected to it; a second player
// takes the track from the first, not from the seeder.
func TestSeederOverBitTorrentAvoidedWhileHTTPWorks(t *testing.T) {
	if testing.Short() {
		t.Skip("plays two tracks in real time at 8x")
	}
	tt, seed := newSeededTrack(t, 1<<20)
	seederAddr := newTestPeer(t, tt, testPeer{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	a := newTestClient(t, t.TempDir(), testPolicy())
	sa := openStream(t, a, tt)
	if err := sa.AddPeers(seederAddr); err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, sa, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player A read different bytes")
	}
	waitComplete(t, sa, 30*time.Second)
	stA := sa.Stats()
	t.Logf("A: %s; HTTP sent %d", fmtStats(stA), seed.sent.Load())
	checkSum(t, "A", stA)
	if stA.BytesSeedBT != 0 {
		t.Errorf("A: %d bytes from the seeder over BitTorrent while its HTTP side worked", stA.BytesSeedBT)
	}
	if stA.PeersSeen == 0 {
		t.Errorf("A: never connected to the seeder over BitTorrent")
	}
	if lim := 16 * time.Second; stA.MaxSeedLead > lim {
		t.Errorf("A: seed data ran %s ahead of the playhead, limit %s", stA.MaxSeedLead, lim)
	}

	sentBefore := seed.sent.Load()
	b := newTestClient(t, t.TempDir(), testPolicy())
	sb := openStream(t, b, tt)
	if err := sb.AddPeers(seederAddr, a.addr()); err != nil {
		t.Fatal(err)
	}
	got, err = play(ctx, sb, 8)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("player B read different bytes")
	}
	waitComplete(t, sb, 30*time.Second)
	stB := sb.Stats()
	t.Logf("B: %s; HTTP sent %d", fmtStats(stB), seed.sent.Load()-sentBefore)
	checkSum(t, "B", stB)
	network := stB.Size - stB.BytesCache
	if stB.BytesPeers*10 < network*7 {
		t.Errorf("B: %d of %d network bytes from other listeners, want at least 70%%", stB.BytesPeers, network)
	}
}

// A player killed with SIGKILL mid-track and started again fetches no
// verified piece a second time, and its cache holds the right bytes.
func TestKilledPlayerResumesWithoutRefetch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	tt, seed := newSeededTrack(t, 1<<20)
	dir := t.TempDir()
	trackJSON, err := json.Marshal(tt.track)
	if err != nil {
		t.Fatal(err)
	}
	trackFile := filepath.Join(t.TempDir(), "track.json")
	torrentFile := filepath.Join(t.TempDir(), "track.torrent")
	if err := os.WriteFile(trackFile, trackJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(torrentFile, tt.torrent, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildPlayer$", "-test.v")
	cmd.Env = append(os.Environ(), "STREAM_TEST_CHILD_DIR="+dir, "STREAM_TEST_CHILD_TRACK="+trackFile, "STREAM_TEST_CHILD_TORRENT="+torrentFile)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(out)
	var childPieces int
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "PIECES "); ok {
			childPieces, _ = strconv.Atoi(n)
			if childPieces >= 24 {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
				break
			}
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatalf("child ended before it had 24 pieces (had %d)", childPieces)
	}
	// The seed server counts what it writes to the dead child's
	// connection until it notices: wait for that to stop before counting
	// what the restart fetches (it once counted 3898 bytes late).
	sentBefore := seed.sent.Load()
	for settle := time.Now().Add(5 * time.Second); time.Now().Before(settle); {
		time.Sleep(300 * time.Millisecond)
		now := seed.sent.Load()
		if now == sentBefore {
			break
		}
		sentBefore = now
	}

	c := newTestClient(t, dir, testPolicy())
	s, err := c.Open(proto.Track{ID: tt.track.ID}, nil) // the torrent comes from the cache
	if err != nil {
		t.Fatal(err)
	}
	st0 := s.Stats()
	if st0.BytesCache < int64(childPieces)*testPieceLen {
		t.Errorf("restart found %d bytes cached, the child had verified %d pieces", st0.BytesCache, childPieces)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := play(ctx, s, 32)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("restarted player read different bytes")
	}
	waitComplete(t, s, 30*time.Second)
	st := s.Stats()
	refetched := seed.sent.Load() - sentBefore
	t.Logf("child verified %d pieces; restart: %s; HTTP sent %d", childPieces, fmtStats(st), refetched)
	checkSum(t, "restarted", st)
	if refetched != st.Size-st.BytesCache {
		t.Errorf("restart fetched %d bytes over HTTP, want exactly the %d not cached", refetched, st.Size-st.BytesCache)
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, dataDirName, tt.track.ID, "track.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, tt.data) {
		t.Error("cached file differs from the track")
	}
}

// TestChildPlayer is the process TestKilledPlayerResumesWithoutRefetch kills.
func TestChildPlayer(t *testing.T) {
	dir := os.Getenv("STREAM_TEST_CHILD_DIR")
	if dir == "" {
		t.Skip("helper process of TestKilledPlayerResumesWithoutRefetch")
	}
	var track proto.Track
	b, err := os.ReadFile(os.Getenv("STREAM_TEST_CHILD_TRACK"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &track); err != nil {
		t.Fatal(err)
	}
	tor, err := os.ReadFile(os.Getenv("STREAM_TEST_CHILD_TORRENT"))
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, dir, testPolicy())
	s, err := c.Open(track, tor)
	if err != nil {
		t.Fatal(err)
	}
	r := s.NewReader(context.Background())
	buf := make([]byte, 4<<10)
	start := time.Now()
	var pos int64
	for {
		n, err := r.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		pos += int64(n)
		fmt.Printf("PIECES %d\n", s.Stats().PiecesComplete)
		due := time.Duration(float64(pos) / s.bps / 4 * float64(time.Second))
		time.Sleep(max(due-time.Since(start), time.Millisecond))
	}
}

// Three players start one after another on a track whose seed server (HTTP
// and BitTorrent) is capped at four times the bitrate; they find each other
// and the seeder through a tracker. The second and third take at least 70 %
// of their network bytes from other listeners.
func TestSwarmOffloadsSeedServer(t *testing.T) {
	tr := newTestTracker(t)
	tt := newTestTrack(t, 1<<20, tr.announceURL())
	seed := newSeedServer(t, tt.data)
	// Players run at speed times real time, so the cap is scaled alike.
	const speed = 4
	seedCap := 4 * speed * testBitrate / 8
	seed.limit.Store(rate.NewLimiter(rate.Limit(seedCap), 16<<10))
	tt.track.SeedURLs = []string{seed.trackURL()}
	newTestPeer(t, tt, testPeer{announce: true, uploadRate: seedCap})

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const players = 3
	type result struct {
		st        Stats
		underruns int
		err       error
	}
	results := make([]result, players)
	var wg sync.WaitGroup
	for i := range players {
		c := newTestClient(t, t.TempDir(), testPolicy())
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Open(tt.track, tt.torrent)
			if err != nil {
				results[i].err = err
				return
			}
			r := s.NewReader(ctx)
			defer r.Close()
			got, underruns, err := playCounting(r, s, speed)
			if err == nil && !bytes.Equal(got, tt.data) {
				err = fmt.Errorf("read different bytes")
			}
			if err == nil {
				waitComplete(t, s, time.Minute)
			}
			results[i] = result{s.Stats(), underruns, err}
		}()
		time.Sleep(5 * time.Second / speed)
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("player %d: %v", i+1, r.err)
		}
		network := r.st.Size - r.st.BytesCache
		t.Logf("player %d: %s; %.0f%% from listeners; %d stalls", i+1, fmtStats(r.st), 100*float64(r.st.BytesPeers)/float64(network), r.underruns)
		checkSum(t, fmt.Sprintf("player %d", i+1), r.st)
		if i > 0 && r.st.BytesPeers*10 < network*7 {
			t.Errorf("player %d: %d of %d network bytes from listeners, want at least 70%%", i+1, r.st.BytesPeers, network)
		}
	}
}

// playCounting reads the track at speed times real time and counts stalls:
// reads that fell more than half a second of audio behind the schedule.
func playCounting(r *Reader, s *Stream, speed float64) ([]byte, int, error) {
	var out bytes.Buffer
	buf := make([]byte, 4<<10)
	start := time.Now()
	stalls := 0
	behind := false
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), stalls, nil
		}
		if err != nil {
			return out.Bytes(), stalls, err
		}
		due := time.Duration(float64(out.Len()) / s.bps / speed * float64(time.Second))
		late := time.Since(start) - due
		if late > time.Duration(float64(time.Second)/2/speed) {
			if !behind {
				stalls++
			}
			behind = true
			start = start.Add(late) // like a player, resume from where it stalled
		} else {
			behind = false
		}
		if d := due - time.Since(start); d > 0 {
			time.Sleep(d)
		}
	}
}

// --upload-rate caps what a player serves to others.
func TestUploadRateCapsServing(t *testing.T) {
	tt, _ := newSeededTrack(t, 1<<20)
	const capRate = 256 << 10
	a, err := New(Config{CacheDir: t.TempDir(), CacheSize: -1, ListenAddr: "127.0.0.1:0", UploadRate: capRate})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sa := openStream(t, a, tt)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := play(ctx, sa, 1000); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sa, 30*time.Second)
	b := newTestClient(t, t.TempDir(), testPolicy())
	start := time.Now()
	sb, err := b.Prefetch(tt.track, tt.torrent)
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sb, time.Minute)
	took := time.Since(start)
	// 1 MiB at 256 KiB/s, less one burst: at least 3 s.
	t.Logf("1 MiB served at a %d B/s cap in %s", capRate, took)
	if took < 3*time.Second {
		t.Errorf("served 1 MiB in %s, faster than the cap allows", took)
	}
}
