package stream

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// fillingDisk is the real file storage on a disk that fills up: writes get
// ENOSPC once room bytes have been written (the write that crosses the
// limit is cut short, as the kernel does), and from then on the
// completion store cannot record a piece either (SQLite says SQLITE_FULL).
// cachestore's tests have their own copy.
type fillingDisk struct {
	storage.ClientImplCloser
	room atomic.Int64
	full atomic.Bool
}

func (d *fillingDisk) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	t, err := d.ClientImplCloser.OpenTorrent(ctx, info, ih)
	if err != nil {
		return t, err
	}
	inner := t.Piece
	t.Piece = func(p metainfo.Piece) storage.PieceImpl { return &fillingPiece{inner(p), d} }
	t.PieceWithHash = nil
	return t, nil
}

type fillingPiece struct {
	storage.PieceImpl
	d *fillingDisk
}

func (p *fillingPiece) WriteAt(b []byte, off int64) (int, error) {
	left := p.d.room.Add(-int64(len(b)))
	if left >= 0 {
		return p.PieceImpl.WriteAt(b, off)
	}
	p.d.full.Store(true)
	fits := max(0, int64(len(b))+left)
	n, err := p.PieceImpl.WriteAt(b[:fits], off)
	if err != nil {
		return n, err
	}
	return n, &os.PathError{Op: "write", Path: "track.bin", Err: syscall.ENOSPC}
}

func (p *fillingPiece) MarkComplete() error {
	if p.d.full.Load() {
		return errors.New("sqlite: step: database or disk is full (SQLITE_FULL)")
	}
	return p.PieceImpl.MarkComplete()
}

// logBuffer collects a client's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The cache disk fills up after three pieces: the player warns once, keeps
// streaming (the head over HTTP and the rest from a peer, both written to
// memory), reads the exact track, and the cache on disk claims only pieces
// it really holds.
func TestDiskFullStreamsWithoutCaching(t *testing.T) {
	tt, _ := newSeededTrack(t, 512<<10)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// A listener that holds the whole track.
	a := newTestClient(t, t.TempDir(), testPolicy())
	sa := openStream(t, a, tt)
	if _, err := play(ctx, sa, 1000); err != nil {
		t.Fatal(err)
	}
	waitComplete(t, sa, 30*time.Second)

	dir := t.TempDir()
	var disk *fillingDisk
	var logs logBuffer
	b, err := New(Config{
		CacheDir: dir, CacheSize: -1, ListenAddr: "127.0.0.1:0", Policy: testPolicy(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		wrapDisk: func(c storage.ClientImplCloser) storage.ClientImplCloser {
			disk = &fillingDisk{ClientImplCloser: c}
			disk.room.Store(3 * testPieceLen)
			return disk
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.Open(tt.track, tt.torrent)
	if err != nil {
		b.Close()
		t.Fatal(err)
	}
	if err := sb.AddPeers(a.addr()); err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, sb, 1000)
	if err != nil {
		b.Close()
		t.Fatalf("playing on a full disk: %v\n%s", err, logs.String())
	}
	if !bytes.Equal(got, tt.data) {
		t.Errorf("player on a full disk read different bytes")
	}
	waitComplete(t, sb, 30*time.Second)
	st := sb.Stats()
	t.Logf("full disk: %s", fmtStats(st))
	checkSum(t, "full disk", st)
	if !disk.full.Load() || !b.store.Full() {
		t.Errorf("the disk never filled up (fallback full: %v)", b.store.Full())
	}
	if err := b.Close(); err != nil {
		t.Logf("closing: %v", err) // the cache entry may not fit either
	}
	out := logs.String()
	if n := strings.Count(out, "cache disk full: streaming without caching"); n != 1 {
		t.Errorf("warned %d times that the disk is full, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "no space left on device") {
		t.Errorf("the warning does not say why:\n%s", out)
	}
	if strings.Contains(out, "disabling data download") || strings.Contains(out, "downloading disabled") {
		t.Errorf("anacrolix disabled downloading:\n%s", out)
	}

	// The cache is not corrupted: a player on it sees as complete only
	// pieces whose bytes are on disk, and some but not all of them.
	c := newTestClient(t, dir, testPolicy())
	sc, ok := c.Stream(tt.track.ID)
	if !ok {
		t.Fatal("the track is not in the cache after the restart")
	}
	data, err := os.ReadFile(filepath.Join(trackDataDir(dir, tt.track.ID), "track.bin"))
	if err != nil {
		t.Fatal(err)
	}
	cached := 0
	for i := range sc.numPieces {
		if !sc.t.Piece(i).State().Complete {
			continue
		}
		cached++
		lo, hi := i*testPieceLen, min((i+1)*testPieceLen, len(tt.data))
		if len(data) < hi || !bytes.Equal(data[lo:hi], tt.data[lo:hi]) {
			t.Errorf("piece %d is marked complete in the cache but its bytes on disk are wrong", i)
		}
	}
	t.Logf("after the restart %d of %d pieces are cached", cached, sc.numPieces)
	if cached == 0 || cached > 3 {
		t.Errorf("%d pieces cached; want the ones written before the disk filled (1 to 3)", cached)
	}
	sc2 := openStream(t, c, tt)
	if got, err := play(ctx, sc2, 1000); err != nil || !bytes.Equal(got, tt.data) {
		t.Errorf("replay from the cache: %v, same bytes %v", err, bytes.Equal(got, tt.data))
	}
}

// newLiarPeer runs a listener (player peer id, on 127.0.0.2) whose copy of the track has
// one bit flipped in every piece but which claims every piece: every piece
// it sends fails its hash.
func newLiarPeer(t testing.TB, tt testTrack) string {
	t.Helper()
	bad := bytes.Clone(tt.data)
	for off := 0; off < len(bad); off += testPieceLen {
		bad[off+100] ^= 0x10
	}
	// Its own address: banning bans the IP, and the seeder is on 127.0.0.1.
	return newTestPeer(t, tt, testPeer{data: bad, player: true, host: "127.0.0.2", unverified: true})
}

// Regression: a piece that failed its hash kept the bad peer's bytes in its
// accounting, so when the seed server then sent the same number of bytes
// over BitTorrent the piece was credited to peers. Only the bytes that
// completed the piece count now.
func TestHashFailedPieceNotCreditedToBadPeer(t *testing.T) {
	tt := newTestTrack(t, 256<<10)
	liar := newLiarPeer(t, tt)
	// Slow enough that the liar, asked first, sends the first pieces.
	seeder := newTestPeer(t, tt, testPeer{uploadRate: 64 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	v := newTestClient(t, t.TempDir(), testPolicy())
	s, err := v.Open(tt.track, tt.torrent) // no seed URL: BitTorrent only
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddPeers(liar); err != nil {
		t.Fatal(err)
	}
	// The seeder joins once the liar had time to send something.
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().PiecesFailedHash == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.AddPeers(seeder); err != nil {
		t.Fatal(err)
	}
	got, err := play(ctx, s, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tt.data) {
		t.Fatal("read different bytes")
	}
	waitComplete(t, s, 30*time.Second)
	st := s.Stats()
	t.Logf("victim: %s; %d bad pieces, %d banned", fmtStats(st), st.PiecesFailedHash, st.BannedPeers)
	checkSum(t, "victim", st)
	if st.PiecesFailedHash == 0 || st.BannedPeers != 1 {
		t.Errorf("%d pieces failed their hash, %d peers banned; want some and 1", st.PiecesFailedHash, st.BannedPeers)
	}
	if st.BytesPeers != 0 {
		t.Errorf("%d bytes credited to peers; the only peer sent garbage", st.BytesPeers)
	}
	if st.BytesSeedBT != st.Size {
		t.Errorf("%d bytes credited to the seeder over BitTorrent, want %d", st.BytesSeedBT, st.Size)
	}
}
