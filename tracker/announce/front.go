package announce

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Front serves HTTP on a TCP listener: it answers plain announce requests
// itself and hands every other connection — the catalog API, scrapes,
// metrics, a trusted proxy's connections, anything unusual or malformed —
// to net/http through Fallback.
//
// Why: real BitTorrent clients announce with a new connection each time,
// and net/http's cost per connection (two goroutines, a request, a header
// map, a context, buffered reader and writer) is several times the
// announce itself; with it the tracker answered 0.75× of opentracker's
// announces per second (scripts/bench-tracker.sh). The lean path reads the
// request into one pooled buffer, answers through the same answerAnnounce
// as the net/http handler, and writes the reply with one write.
type Front struct {
	h        *HTTP
	ln       net.Listener
	cfg      FrontConfig
	fallback *handoffListener
	bufs     sync.Pool // *[]byte of frontBufSize
	inline   bool      // the store answers from memory: answer on the accept loop

	mu       sync.Mutex
	conns    map[*frontConn]struct{}
	rawLn    []io.Closer // Linux: the listener's socket as serveFast's loops accept on it
	closing  atomic.Bool
	serving  sync.WaitGroup // connection goroutines
	shutdown chan struct{}  // closed by Shutdown

	// ctx is given to the peer store; cancelled when Shutdown gives up
	// waiting.
	ctx    context.Context
	cancel context.CancelFunc
}

// FrontConfig configures a Front; zero fields take the defaults.
type FrontConfig struct {
	// Path is the announce path (default "/announce").
	Path string
	// ReadHeaderTimeout bounds reading a request head (default 5s);
	// IdleTimeout bounds waiting for the next request on a kept-alive
	// connection (default 60s); WriteTimeout bounds writing a reply
	// (default 30s). The same meaning as net/http.Server's fields.
	ReadHeaderTimeout, IdleTimeout, WriteTimeout time.Duration
}

// frontBufSize holds any announce request a client sends (its query is at
// most 2 KiB, see maxAnnounceQueryBytes); a longer head goes to net/http,
// which has its own limit.
const frontBufSize = 4 << 10

// Connection states, for Shutdown: an idle connection waits for a request
// and may be closed; an active one is answering.
const (
	connIdle int32 = iota
	connActive
)

type frontConn struct {
	c     net.Conn
	state atomic.Int32
}

// NewFront returns a Front that serves ln with h once Serve runs; serve
// Fallback with an http.Server for everything else.
func NewFront(h *HTTP, ln net.Listener, cfg FrontConfig) *Front {
	if cfg.Path == "" {
		cfg.Path = "/announce"
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	f := &Front{
		h:        h,
		ln:       ln,
		cfg:      cfg,
		conns:    make(map[*frontConn]struct{}),
		shutdown: make(chan struct{}),
	}
	f.inline = isLocal(h.cfg.Store)
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.fallback = &handoffListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	f.bufs.New = func() any {
		b := make([]byte, frontBufSize)
		return &b
	}
	return f
}

// Fallback is the listener of the connections the Front does not answer:
// pass it to http.Server.Serve. Closing it (as http.Server.Shutdown does)
// closes nothing else.
func (f *Front) Fallback() net.Listener { return f.fallback }

// Serve accepts connections until Shutdown, then returns nil; or returns
// the listener's error.
func (f *Front) Serve() error {
	if ok, err := f.serveFast(); ok {
		return err
	}
	var delay time.Duration // backoff on temporary accept errors, as net/http
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if f.closing.Load() {
				return nil
			}
			if temporaryAcceptError(err) {
				if f.backOff(&delay, err) {
					continue
				}
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		fc := &frontConn{c: c}
		if !f.track(fc) {
			c.Close()
			return nil
		}
		go f.serveConn(fc, nil)
	}
}

// backOff waits after a temporary accept error, twice as long as the last
// time (5ms to 1s, as net/http); false when Shutdown came first.
func (f *Front) backOff(delay *time.Duration, err error) bool {
	*delay = min(max(2**delay, 5*time.Millisecond), time.Second)
	f.h.cfg.Logger.Warn("http accept", "err", err, "retry_in", *delay)
	select {
	case <-time.After(*delay):
		return true
	case <-f.shutdown:
		return false
	}
}

// temporaryAcceptError reports whether Accept may succeed later: out of
// file descriptors, or a timeout.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.As(err, &ne) && ne.Timeout()
}

// track registers a new connection; false once shutting down.
func (f *Front) track(fc *frontConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closing.Load() {
		return false
	}
	f.conns[fc] = struct{}{}
	f.serving.Add(1)
	return true
}

func (f *Front) untrack(fc *frontConn) {
	f.mu.Lock()
	delete(f.conns, fc)
	f.mu.Unlock()
	f.serving.Done()
}

// serveConn answers requests on one connection until the client or the
// Front closes it, or hands it to net/http. read is what was read from it
// already (at most frontBufSize bytes).
func (f *Front) serveConn(fc *frontConn, read []byte) {
	defer f.untrack(fc)
	c := fc.c
	finish := func() { // the connection ends here, served by the front
		f.h.cfg.Metrics.countConn(false)
		c.Close()
	}
	source, direct := f.directSource(c)
	if !direct {
		f.handoff(c, nil)
		return
	}
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	buf := *bp
	n := copy(buf, read) // bytes of buf read and not yet answered
	wait := f.cfg.ReadHeaderTimeout
	for {
		// Read until buf holds a whole head.
		_ = c.SetReadDeadline(time.Now().Add(wait))
		end := headEnd(buf[:n])
		for end < 0 {
			if f.closing.Load() {
				finish()
				return
			}
			if n == len(buf) {
				f.handoff(c, buf[:n])
				return
			}
			m, err := c.Read(buf[n:])
			if n == 0 && m > 0 && wait != f.cfg.ReadHeaderTimeout {
				// The next request began: its head gets the head timeout.
				_ = c.SetReadDeadline(time.Now().Add(f.cfg.ReadHeaderTimeout))
			}
			n += m
			if err != nil {
				finish() // the client left, or a timeout
				return
			}
			end = headEnd(buf[:n])
		}
		fc.state.Store(connActive)
		head, ok := parseRequestHead(buf[:end], f.cfg.Path)
		if !ok {
			f.handoff(c, buf[:n])
			return
		}
		closeAfter := head.close || f.closing.Load()
		if err := f.answer(c, head, source, closeAfter); err != nil || closeAfter {
			finish()
			return
		}
		n = copy(buf, buf[end:n])
		fc.state.Store(connIdle)
		wait = f.cfg.IdleTimeout
		if n > 0 {
			// Part of the next request is here: it is being sent.
			wait = f.cfg.ReadHeaderTimeout
		}
	}
}

// directSource is the connection's source address, and whether the Front
// may answer it: a trusted proxy's requests carry the client's address in
// headers, which net/http's handler reads.
func (f *Front) directSource(c net.Conn) (netip.Addr, bool) {
	tcp, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip := tcp.AddrPort().Addr().Unmap()
	return ip, !f.h.trustedProxy(ip)
}

// answer answers one announce and writes the reply with one write.
func (f *Front) answer(c net.Conn, head requestHead, source netip.Addr, closeAfter bool) error {
	sc := f.h.pool.Get().(*httpScratch)
	defer f.h.pool.Put(sc)
	b := f.reply(sc, head, source, closeAfter)
	_ = c.SetWriteDeadline(time.Now().Add(f.cfg.WriteTimeout))
	_, err := c.Write(b)
	return err
}

// reply answers one announce into sc.out and returns the whole HTTP
// response, counted in the metrics.
func (f *Front) reply(sc *httpScratch, head requestHead, source netip.Addr, closeAfter bool) []byte {
	start := time.Now()
	status, result := f.h.answerAnnounce(f.ctx, sc, head.query, source)

	b := append(sc.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: text/plain\r\nCache-Control: no-cache\r\nDate: "...)
	b = start.UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(sc.buf)), 10)
	switch {
	case closeAfter:
		b = append(b, "\r\nConnection: close"...)
	case head.http10:
		b = append(b, "\r\nConnection: keep-alive"...)
	}
	b = append(b, "\r\n\r\n"...)
	b = append(b, sc.buf...)
	sc.out = b

	// Counted before the write, as net/http's handler is: a client that
	// has its reply finds it counted.
	f.h.cfg.Metrics.observe(opAnnounce, protoHTTP, result, start)
	return b
}

// handoff gives c, with the bytes already read from it, to net/http.
func (f *Front) handoff(c net.Conn, read []byte) {
	f.h.cfg.Metrics.countConn(true)
	_ = c.SetDeadline(time.Time{})
	var conn net.Conn = c
	if len(read) > 0 {
		conn = &prefixConn{Conn: c, prefix: append([]byte(nil), read...)}
	}
	select {
	case f.fallback.conns <- conn:
	case <-f.fallback.done:
		c.Close()
	}
}

// Shutdown stops accepting, closes idle connections, and waits until the
// active ones are answered or ctx is done (then it closes them). It does
// not close Fallback: shut the http.Server down for that.
func (f *Front) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	first := !f.closing.Swap(true)
	f.mu.Unlock()
	if first {
		close(f.shutdown)
	}
	err := f.ln.Close()
	if err != nil && errors.Is(err, net.ErrClosed) {
		err = nil
	}
	f.mu.Lock()
	for _, c := range f.rawLn {
		c.Close()
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() {
		f.serving.Wait()
		close(done)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		f.closeIdle()
		select {
		case <-done:
			f.cancel()
			return err
		case <-tick.C:
		case <-ctx.Done():
			f.cancel()
			f.mu.Lock()
			for fc := range f.conns {
				fc.c.Close()
			}
			f.mu.Unlock()
			<-done
			return ctx.Err()
		}
	}
}

// closeIdle wakes the connections that wait for a request: their read
// fails and serveConn, seeing closing, closes them.
func (f *Front) closeIdle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for fc := range f.conns {
		if fc.state.Load() == connIdle {
			_ = fc.c.SetReadDeadline(time.Now())
		}
	}
}

// handoffListener is a net.Listener of the connections a Front hands over.
type handoffListener struct {
	addr      net.Addr
	conns     chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// prefixConn is a connection whose first bytes were already read.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close as it does on a *net.TCPConn.
func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}
