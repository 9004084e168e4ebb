package cachestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"

	"github.com/peertune/peertune/client/stream/cachestore"
)

const testPieceLen = 16 << 10

// fillingDisk is the real file storage on a disk that fills up: writes get
// ENOSPC once room bytes have been written (the write that crosses the
// limit is cut short, as the kernel does), and from then on the
// completion store cannot record a piece either (SQLite says SQLITE_FULL).
// client/stream's disk-full test has its own copy.
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

// testTrack is a single-file torrent of random bytes.
type testTrack struct {
	data []byte
	info metainfo.Info
	ih   metainfo.Hash
}

func newTestTrack(t testing.TB, name string, size int) testTrack {
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
	info := metainfo.Info{Name: name, PieceLength: testPieceLen, Length: int64(size), Pieces: pieces}
	infoBytes, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	return testTrack{data: data, info: info, ih: metainfo.HashBytes(infoBytes)}
}

func (tt *testTrack) open(t testing.TB, s *cachestore.Storage) storage.TorrentImpl {
	t.Helper()
	ti, err := s.OpenTorrent(context.Background(), &tt.info, tt.ih)
	if err != nil {
		t.Fatal(err)
	}
	return ti
}

func (tt *testTrack) piece(ti storage.TorrentImpl, i int) storage.PieceImpl {
	return ti.PieceWithHash(tt.info.Piece(i), g.None[[]byte]())
}

func (tt *testTrack) pieceData(i int) []byte {
	return tt.data[i*testPieceLen : min((i+1)*testPieceLen, len(tt.data))]
}

func newFileDisk(t testing.TB) storage.ClientImplCloser {
	return storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir: t.TempDir(), PieceCompletion: storage.NewMapPieceCompletion(),
	})
}

func TestIsDiskFull(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("short write"), false},
		{&os.PathError{Op: "write", Path: "track.bin", Err: syscall.ENOSPC}, true},
		{fmt.Errorf("piece 3: %w", syscall.EDQUOT), true},
		{errors.New("sqlite: step: database or disk is full (SQLITE_FULL)"), true},
		{errors.New("write track.bin: no space left on device"), true},
	} {
		if got := cachestore.IsDiskFull(c.err); got != c.want {
			t.Errorf("IsDiskFull(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// Once the disk is full and the memory cap is reached, a new track's pieces
// take the room of another track's complete pieces, which then read as
// missing (never as the zeros of the file's hole).
func TestFallbackEvictsOtherTracks(t *testing.T) {
	disk := &fillingDisk{ClientImplCloser: newFileDisk(t)}
	var warned atomic.Int32
	var cause error
	fs := cachestore.New(disk, 2*testPieceLen, cachestore.Hooks{OnFull: func(err error) { warned.Add(1); cause = err }})
	ta, tb := newTestTrack(t, "a.bin", 4*testPieceLen), newTestTrack(t, "b.bin", 4*testPieceLen)
	sa, sb := ta.open(t, fs), tb.open(t, fs)
	for i := range 2 {
		p := ta.piece(sa, i)
		if _, err := p.WriteAt(ta.pieceData(i), 0); err != nil {
			t.Fatalf("track A piece %d: %v", i, err)
		}
		if err := p.MarkComplete(); err != nil {
			t.Fatal(err)
		}
		if c := p.Completion(); !c.Ok || !c.Complete {
			t.Fatalf("track A piece %d: completion %+v", i, c)
		}
	}
	if warned.Load() != 1 || !fs.Full() {
		t.Fatalf("disk full not noticed (%d warnings)", warned.Load())
	}
	if !errors.Is(cause, syscall.ENOSPC) {
		t.Errorf("OnFull got %v, want ENOSPC", cause)
	}
	// The disk took nothing: both pieces of A are in memory, the cap.
	p := tb.piece(sb, 0)
	if _, err := p.WriteAt(tb.pieceData(0), 0); err != nil {
		t.Fatalf("track B: %v", err)
	}
	buf := make([]byte, testPieceLen)
	if n, err := p.ReadAt(buf, 0); n != testPieceLen || !bytes.Equal(buf, tb.pieceData(0)) {
		t.Fatalf("track B piece 0 reads back %d bytes (%v)", n, err)
	}
	dropped := 0
	for i := range 2 {
		pa := ta.piece(sa, i)
		n, err := pa.ReadAt(buf, 0)
		if c := pa.Completion(); c.Complete {
			if n != testPieceLen || !bytes.Equal(buf, ta.pieceData(i)) {
				t.Errorf("track A piece %d: complete but reads %d bytes (%v)", i, n, err)
			}
			continue
		}
		dropped++
		if n != 0 || err == nil {
			t.Errorf("track A piece %d: dropped but reads %d bytes (%v)", i, n, err)
		}
	}
	if dropped != 1 {
		t.Errorf("%d pieces of track A dropped, want 1", dropped)
	}
	// With track A gone the memory is B's.
	if err := sa.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.piece(sb, 1).WriteAt(tb.pieceData(1), 0); err != nil {
		t.Errorf("track B piece 1 after A closed: %v", err)
	}
	if _, err := tb.piece(sb, 2).WriteAt(tb.pieceData(2), 0); !errors.Is(err, cachestore.ErrMemoryFull) {
		t.Errorf("track B piece 2 over the cap: %v, want ErrMemoryFull", err)
	}
}

// A piece written whole takes no peer's chunk until it fails its check;
// Hooks.OnNotComplete hears of the failure.
func TestWriteWholeSealsPiece(t *testing.T) {
	var failed []int
	fs := cachestore.New(newFileDisk(t), 0, cachestore.Hooks{OnNotComplete: func(_ metainfo.Hash, piece int) { failed = append(failed, piece) }})
	defer fs.Close()
	tt := newTestTrack(t, "track.bin", 2*testPieceLen)
	ti := tt.open(t, fs)
	p := tt.piece(ti, 0)
	ww, ok := p.(cachestore.WholeWriter)
	if !ok {
		t.Fatalf("a piece of the storage (%T) is not a WholeWriter", p)
	}
	if n, err := ww.WriteWhole(tt.pieceData(0)); n != testPieceLen || err != nil {
		t.Fatalf("WriteWhole: %d, %v", n, err)
	}
	junk := bytes.Repeat([]byte{0xff}, 1024)
	if n, err := p.WriteAt(junk, 0); n != len(junk) || err != nil {
		t.Fatalf("a peer's chunk on a sealed piece: %d, %v; want it taken silently", n, err)
	}
	buf := make([]byte, testPieceLen)
	if _, err := p.ReadAt(buf, 0); err != nil || !bytes.Equal(buf, tt.pieceData(0)) {
		t.Fatalf("the sealed piece reads other bytes (%v)", err)
	}
	// A failed check unseals it: peers' chunks are written again.
	if err := p.MarkNotComplete(); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0] != 0 {
		t.Errorf("OnNotComplete heard of pieces %v, want [0]", failed)
	}
	if _, err := p.WriteAt(junk, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReadAt(buf[:len(junk)], 0); err != nil || !bytes.Equal(buf[:len(junk)], junk) {
		t.Errorf("after a failed check a peer's chunk is not written (%v)", err)
	}
	if err := ti.Close(); err != nil {
		t.Fatal(err)
	}
}
