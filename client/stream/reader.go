package stream

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/anacrolix/torrent"
)

// Reader reads a stream's track. Reads block until the policy lets
// playback start (at once when the seed server delivers; after a buffer
// when only peers do) and then until the bytes arrive, from whichever
// source the policy picks; the position of the last read is the playhead
// the policy works from. Read and Seek must not be called
// concurrently; Close may be called at any time.
type Reader struct {
	s      *Stream
	r      torrent.Reader
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   func() bool
	readMu sync.Mutex // held by Read and Seek: Close waits for them
	mu     sync.Mutex // guards pos
	pos    int64
	closed bool
	once   sync.Once
}

// NewReader returns a reader of the whole track with a readahead of the
// DefaultReadahead of audio at the track's bitrate. ctx bounds every read.
// When the policy gives up, reads return its *SourceError.
func (s *Stream) NewReader(ctx context.Context) *Reader {
	rctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.failCtx, func() { cancel(context.Cause(s.failCtx)) })
	tr := s.t.NewReader()
	// Not responsive: a responsive reader returns a peer's chunks before
	// their piece is verified, and a corrupt peer's bytes reached the
	// decoder (TestCorruptPeer: "expected fLaC, got gLaC"). Injected
	// pieces are verified at once, so the head is no slower.
	tr.SetReadahead(int64(DefaultReadahead.Seconds() * s.bps))
	tr.SetContext(rctx)
	r := &Reader{s: s, r: tr, ctx: rctx, cancel: cancel, stop: stop}
	s.readersMu.Lock()
	s.readers[r] = struct{}{}
	s.readersMu.Unlock()
	s.post(func(o *owner) { o.playhead, o.dirty = 0, true })
	return r
}

// Read reads from the track, blocking until bytes are available.
func (r *Reader) Read(p []byte) (int, error) {
	if r.ctx.Err() != nil {
		return 0, r.cause()
	}
	r.readMu.Lock()
	defer r.readMu.Unlock()
	if r.closed {
		return 0, r.cause()
	}
	s := r.s
	began := time.Now()
	s.post(func(o *owner) { o.readWaiting = began })
	n, err := r.r.Read(p)
	// The bytes are held until the policy lets playback start: the read
	// itself has to happen first, for anacrolix fetches the pieces ahead of
	// a reader's position in order only once it has read there.
	select {
	case <-s.ready:
	case <-r.ctx.Done():
		s.post(func(o *owner) { o.readWaiting = time.Time{} })
		return 0, r.cause()
	}
	r.mu.Lock()
	r.pos += int64(n)
	pos := r.pos
	r.mu.Unlock()
	s.post(func(o *owner) { o.readWaiting, o.playhead = time.Time{}, pos })
	if err != nil && !errors.Is(err, io.EOF) && r.ctx.Err() != nil {
		err = r.cause()
	}
	return n, err
}

func (r *Reader) cause() error {
	if c := context.Cause(r.ctx); c != nil {
		return c
	}
	return r.ctx.Err()
}

// Seek moves the playhead; the policy follows it.
func (r *Reader) Seek(off int64, whence int) (int64, error) {
	r.readMu.Lock()
	defer r.readMu.Unlock()
	if r.closed {
		return 0, r.cause()
	}
	pos, err := r.r.Seek(off, whence)
	if err != nil {
		return pos, err
	}
	r.mu.Lock()
	r.pos = pos
	r.mu.Unlock()
	r.s.post(func(o *owner) { o.playhead, o.dirty = pos, true })
	return pos, nil
}

// Close releases the reader; pending reads return an error.
func (r *Reader) Close() error {
	var err error
	r.once.Do(func() {
		r.cancel(errors.New("reader closed"))
		r.stop()
		// The cancelled context ends a blocked Read promptly; anacrolix's
		// reader must not be closed while one runs.
		r.readMu.Lock()
		r.closed = true
		err = r.r.Close()
		r.readMu.Unlock()
		r.s.readersMu.Lock()
		delete(r.s.readers, r)
		r.s.readersMu.Unlock()
	})
	return err
}
