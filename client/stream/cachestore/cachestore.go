package cachestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
)

// DefaultMemoryFallback caps the piece data held in memory once the cache
// disk is full: a few whole tracks.
const DefaultMemoryFallback = 64 << 20

// ErrMemoryFull is returned (wrapped: test it with errors.Is) by a piece
// write when the cache disk is full and the in-memory fallback holds as much
// as it may.
var ErrMemoryFull = errors.New("cache disk full and the in-memory fallback is full")

// IsDiskFull reports whether err says the disk (or the user's quota) is
// full: ENOSPC/EDQUOT from a file write, or the completion store's own
// words (SQLite reports SQLITE_FULL, not an errno).
func IsDiskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_FULL") || strings.Contains(msg, "database or disk is full") ||
		strings.Contains(msg, "no space left on device")
}

// Hooks are the callbacks a Storage makes. Either may be nil.
type Hooks struct {
	// OnFull is called once, with the error that showed the disk is full
	// (wrapping syscall.ENOSPC).
	OnFull func(error)
	// OnNotComplete is called when anacrolix marks a piece not complete
	// (a failed hash), without anacrolix's lock: the stream forgets who
	// sent its bytes.
	OnNotComplete func(ih metainfo.Hash, piece int)
}

// Storage wraps the file storage of the cache. Once a write or a
// completion record fails because the disk is full, the whole cache stops
// taking new data: pieces written from then on are kept in memory (bounded
// by maxMem) and their completion is reported from memory, never persisted,
// so a later player on the same cache sees only pieces that really are on
// disk. Pieces already complete on disk are still read from disk.
type Storage struct {
	disk   storage.ClientImplCloser
	maxMem int64
	hooks  Hooks

	// switchMu: disk writes hold it shared, so that switching to memory
	// (exclusive) waits for writes in flight; a piece's memory copy then
	// starts from everything that reached the disk.
	switchMu sync.RWMutex
	full     bool
	fullOnce sync.Once

	mu       sync.Mutex // guards the fields below and every fbTorrent's maps
	memUsed  int64
	torrents []*fbTorrent // open, oldest first
}

// New wraps disk, the cache's file storage, keeping at most maxMem bytes of
// piece data in memory once the disk is full; maxMem <= 0 means
// DefaultMemoryFallback.
func New(disk storage.ClientImplCloser, maxMem int64, hooks Hooks) *Storage {
	if maxMem <= 0 {
		maxMem = DefaultMemoryFallback
	}
	return &Storage{disk: disk, maxMem: maxMem, hooks: hooks}
}

// Close closes the file storage.
func (fs *Storage) Close() error { return fs.disk.Close() }

// Full reports whether the cache disk was found full.
func (fs *Storage) Full() bool {
	fs.switchMu.RLock()
	defer fs.switchMu.RUnlock()
	return fs.full
}

// SetFull records that the cache disk is full, as cause shows (the storage
// calls it itself; the caller does when one of its own files on the cache
// disk fails to write): from now on pieces are written to memory. The
// first call runs Hooks.OnFull.
func (fs *Storage) SetFull(cause error) {
	fs.switchMu.Lock()
	fs.full = true
	fs.switchMu.Unlock()
	fs.fullOnce.Do(func() {
		if !errors.Is(cause, syscall.ENOSPC) {
			// SQLITE_FULL and the like say the same in their own words.
			cause = fmt.Errorf("%w: %w", syscall.ENOSPC, cause)
		}
		if fs.hooks.OnFull != nil {
			fs.hooks.OnFull(cause)
		}
	})
}

var _ storage.ClientImplCloser = (*Storage)(nil)

// OpenTorrent implements storage.ClientImpl.
func (fs *Storage) OpenTorrent(ctx context.Context, info *metainfo.Info, ih metainfo.Hash) (storage.TorrentImpl, error) {
	dt, err := fs.disk.OpenTorrent(ctx, info, ih)
	if err != nil {
		return storage.TorrentImpl{}, err
	}
	t := &fbTorrent{fs: fs, disk: dt, ih: ih, pieces: make(map[int]*memPiece), written: make(map[int][]span), sealed: make(map[int]bool)}
	fs.mu.Lock()
	fs.torrents = append(fs.torrents, t)
	fs.mu.Unlock()
	// NewReader and NewPieceReader stay nil (the file storage sets neither),
	// so anacrolix reads every piece through fbPiece.ReadAt.
	return storage.TorrentImpl{
		PieceWithHash: t.piece,
		Close:         t.close,
		Capacity:      dt.Capacity,
	}, nil
}

// fbTorrent is one torrent's storage: the disk's, plus the pieces held in
// memory since the disk filled up.
type fbTorrent struct {
	fs     *Storage
	disk   storage.TorrentImpl
	ih     metainfo.Hash
	pieces map[int]*memPiece // guarded by fs.mu
	// written records the parts of incomplete pieces that reached the disk
	// (guarded by fs.mu). A piece moved to memory copies only these: the
	// file storage reads through mmap, and reading a hole of a file on a
	// full tmpfs is a SIGBUS.
	written map[int][]span
	// sealed pieces take no chunk writes (guarded by fs.mu): a piece
	// written whole from the seed server, until it fails its check, and a
	// piece marked complete. A peer's chunk that lands after the check read
	// the piece would otherwise leave a "complete" piece with its bytes.
	sealed map[int]bool
	// writeMu: chunk writes hold it shared; sealing takes it exclusively,
	// so no chunk write is halfway when a piece is sealed.
	writeMu sync.RWMutex
}

// span is a byte range [off, off+n) of a piece.
type span struct{ off, n int64 }

// memPiece is a piece whose data or completion lives in memory.
type memPiece struct {
	buf      []byte // the piece's data; nil when the data is on disk
	complete bool   // verified; never recorded on disk
	// dropped: the data was evicted from memory and is nowhere; reads fail
	// (never fall through to the disk, whose hole would read as zeros).
	dropped bool
}

func (t *fbTorrent) piece(p metainfo.Piece, hash g.Option[[]byte]) storage.PieceImpl {
	var d storage.PieceImpl
	if t.disk.PieceWithHash != nil {
		d = t.disk.PieceWithHash(p, hash)
	} else {
		d = t.disk.Piece(p)
	}
	return &fbPiece{t: t, disk: d, index: p.Index(), length: p.Length()}
}

func (t *fbTorrent) close() error {
	t.fs.mu.Lock()
	for i, mp := range t.pieces {
		t.fs.memUsed -= int64(len(mp.buf))
		delete(t.pieces, i)
	}
	clear(t.written)
	clear(t.sealed)
	t.fs.torrents = slices.DeleteFunc(t.fs.torrents, func(x *fbTorrent) bool { return x == t })
	t.fs.mu.Unlock()
	if t.disk.Close != nil {
		return t.disk.Close()
	}
	return nil
}

// fbPiece is a view of one piece; anacrolix makes them on demand, so all
// state lives in fbTorrent.
type fbPiece struct {
	t      *fbTorrent
	disk   storage.PieceImpl
	index  int
	length int64
}

var _ interface {
	storage.PieceImpl
	io.WriterTo
	WholeWriter
} = (*fbPiece)(nil)

// WholeWriter is implemented by the pieces of a Storage (the PieceImpl of
// an anacrolix storage.Piece): a piece fetched whole over HTTP is written
// with WriteWhole instead of WriteAt.
type WholeWriter interface {
	// WriteWhole seals the piece against chunk writes from peers and
	// writes b, the whole piece, from offset 0. A failed write, or a
	// failed check (MarkNotComplete), unseals it.
	WriteWhole(b []byte) (int, error)
}

// mem returns the piece's memory state, or nil.
func (p *fbPiece) mem() *memPiece {
	p.t.fs.mu.Lock()
	defer p.t.fs.mu.Unlock()
	return p.t.pieces[p.index]
}

func (p *fbPiece) ReadAt(b []byte, off int64) (int, error) {
	fs := p.t.fs
	fs.mu.Lock()
	mp := p.t.pieces[p.index]
	if mp != nil && mp.dropped {
		fs.mu.Unlock()
		return 0, io.EOF // anacrolix then marks it not complete and fetches it again
	}
	if mp != nil && mp.buf != nil {
		defer fs.mu.Unlock()
		if off >= int64(len(mp.buf)) {
			return 0, io.EOF
		}
		n := copy(b, mp.buf[off:])
		if n < len(b) {
			return n, io.EOF
		}
		return n, nil
	}
	fs.mu.Unlock()
	return p.disk.ReadAt(b, off)
}

func (p *fbPiece) WriteTo(w io.Writer) (int64, error) {
	fs := p.t.fs
	fs.mu.Lock()
	mp := p.t.pieces[p.index]
	if mp != nil && mp.dropped {
		fs.mu.Unlock()
		return 0, io.ErrUnexpectedEOF
	}
	if mp != nil && mp.buf != nil {
		// Copy out: the hasher must not hold the lock while writing.
		buf := append([]byte(nil), mp.buf...)
		fs.mu.Unlock()
		n, err := w.Write(buf)
		return int64(n), err
	}
	fs.mu.Unlock()
	if wt, ok := p.disk.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, io.NewSectionReader(p.disk, 0, p.length))
}

func (p *fbPiece) WriteAt(b []byte, off int64) (int, error) {
	p.t.writeMu.RLock()
	defer p.t.writeMu.RUnlock()
	p.t.fs.mu.Lock()
	sealed := p.t.sealed[p.index]
	p.t.fs.mu.Unlock()
	if sealed {
		return len(b), nil // the piece's bytes are already all here
	}
	return p.write(b, off)
}

// WriteWhole seals the piece against chunk writes from peers and writes b,
// the whole piece (an HTTP injection). A failed check unseals it.
func (p *fbPiece) WriteWhole(b []byte) (int, error) {
	p.t.writeMu.Lock()
	defer p.t.writeMu.Unlock()
	p.t.fs.mu.Lock()
	p.t.sealed[p.index] = true
	p.t.fs.mu.Unlock()
	n, err := p.write(b, 0)
	if err != nil {
		p.t.fs.mu.Lock()
		delete(p.t.sealed, p.index)
		p.t.fs.mu.Unlock()
	}
	return n, err
}

func (p *fbPiece) write(b []byte, off int64) (int, error) {
	fs := p.t.fs
	if mp := p.mem(); mp == nil || mp.buf == nil {
		fs.switchMu.RLock()
		if !fs.full {
			n, err := p.disk.WriteAt(b, off)
			fs.switchMu.RUnlock()
			if err == nil {
				fs.mu.Lock()
				p.t.written[p.index] = append(p.t.written[p.index], span{off, int64(n)})
				fs.mu.Unlock()
			}
			if !IsDiskFull(err) {
				return n, err
			}
			fs.SetFull(err)
		} else {
			fs.switchMu.RUnlock()
		}
	}
	return p.writeMem(b, off)
}

// writeMem writes into the piece's memory copy, making it (from what the
// disk holds of the piece) on first use.
func (p *fbPiece) writeMem(b []byte, off int64) (int, error) {
	fs := p.t.fs
	fs.mu.Lock()
	mp := p.t.pieces[p.index]
	if mp == nil || mp.buf == nil {
		if fs.memUsed+p.length > fs.maxMem {
			fs.evictLocked(p.t, p.length)
		}
		if fs.memUsed+p.length > fs.maxMem {
			fs.mu.Unlock()
			return 0, fmt.Errorf("piece %d: %w (%d bytes)", p.index, ErrMemoryFull, fs.maxMem)
		}
		fs.memUsed += p.length
		spans := append([]span(nil), p.t.written[p.index]...)
		fs.mu.Unlock()
		// Chunks that reached the disk before it filled up are kept.
		buf := make([]byte, p.length)
		for _, sp := range spans {
			if sp.off >= 0 && sp.off+sp.n <= p.length {
				p.disk.ReadAt(buf[sp.off:sp.off+sp.n], sp.off) // a failed read: the hash fails, the piece is fetched again
			}
		}
		fs.mu.Lock()
		if cur := p.t.pieces[p.index]; cur != nil && cur.buf != nil {
			fs.memUsed -= p.length // another writer made it first
			mp = cur
		} else {
			mp = &memPiece{buf: buf}
			p.t.pieces[p.index] = mp
		}
	}
	defer fs.mu.Unlock()
	if off < 0 || off+int64(len(b)) > int64(len(mp.buf)) {
		return 0, fmt.Errorf("piece %d: write of %d bytes at %d overflows the piece", p.index, len(b), off)
	}
	return copy(mp.buf[off:], b), nil
}

// evictLocked frees at least need bytes of memory, if it can, by dropping
// complete pieces of other torrents, oldest torrent first. anacrolix learns
// it lazily: a read of a dropped piece fails, it asks Completion again and
// fetches the piece anew.
func (fs *Storage) evictLocked(keep *fbTorrent, need int64) {
	for _, t := range fs.torrents {
		if t == keep {
			continue
		}
		for i, mp := range t.pieces {
			if fs.memUsed+need <= fs.maxMem {
				return
			}
			if mp.buf != nil && mp.complete {
				fs.memUsed -= int64(len(mp.buf))
				t.pieces[i] = &memPiece{dropped: true}
			}
		}
	}
}

func (p *fbPiece) MarkComplete() error {
	fs := p.t.fs
	fs.mu.Lock()
	delete(p.t.written, p.index)
	p.t.sealed[p.index] = true
	if mp := p.t.pieces[p.index]; mp != nil && mp.buf != nil {
		mp.complete = true
		fs.mu.Unlock()
		return nil
	}
	fs.mu.Unlock()
	err := p.disk.MarkComplete()
	if err == nil {
		fs.mu.Lock()
		delete(p.t.pieces, p.index) // a dropped piece written to disk again
		fs.mu.Unlock()
		return nil
	}
	// The data is on disk (it was just hashed from there) but its
	// completion could not be recorded: remember it in memory only. A later
	// run fetches the piece again rather than trusting it.
	if IsDiskFull(err) {
		fs.SetFull(err)
	}
	fs.mu.Lock()
	p.t.pieces[p.index] = &memPiece{complete: true}
	fs.mu.Unlock()
	if IsDiskFull(err) {
		return nil
	}
	return err
}

func (p *fbPiece) MarkNotComplete() error {
	fs := p.t.fs
	if fs.hooks.OnNotComplete != nil {
		fs.hooks.OnNotComplete(p.t.ih, p.index)
	}
	fs.mu.Lock()
	delete(p.t.written, p.index) // anacrolix fetches every chunk again
	delete(p.t.sealed, p.index)
	mp := p.t.pieces[p.index]
	if mp != nil {
		mp.complete = false
		if mp.buf == nil {
			delete(p.t.pieces, p.index)
		}
	}
	fs.mu.Unlock()
	if mp != nil && mp.buf != nil {
		// The data is in memory only; the disk never said it was complete.
		return nil
	}
	err := p.disk.MarkNotComplete()
	if IsDiskFull(err) {
		fs.SetFull(err)
		return nil // the disk record stays "not complete" or absent
	}
	return err
}

func (p *fbPiece) Completion() storage.Completion {
	fs := p.t.fs
	fs.mu.Lock()
	mp := p.t.pieces[p.index]
	if mp != nil {
		c := storage.Completion{Ok: true, Complete: mp.complete}
		fs.mu.Unlock()
		return c
	}
	fs.mu.Unlock()
	c := p.disk.Completion()
	if c.Err != nil && fs.Full() {
		// anacrolix stops downloading on a completion error; with the disk
		// full, treat the piece as missing and fetch it into memory.
		return storage.Completion{Ok: true}
	}
	return c
}
