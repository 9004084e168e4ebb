package seeder

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"
	"golang.org/x/time/rate"

	"github.com/peertune/peertune/proto"
)

// Limits of the HTTP seed server.
const (
	readHeaderTimeout = 10 * time.Second
	maxHeaderBytes    = 16 << 10
	idleTimeout       = 2 * time.Minute
	// DefaultMaxConns caps concurrent connections to the seed server.
	DefaultMaxConns = 256
)

// servedFile is what the seed server knows of a file it may serve: the
// size and modification time it was hashed at (a file changed since is not
// served: its bytes would not match the published pieces) and the
// infohash, which is its strong ETag.
type servedFile struct {
	size     int64
	modTime  time.Time
	infoHash string
	codec    string
}

// fileIndex is the set of files the seed server serves, by library path.
type fileIndex struct {
	mu    sync.RWMutex
	files map[string]servedFile
}

func (ix *fileIndex) get(rel string) (servedFile, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	f, ok := ix.files[rel]
	return f, ok
}

func (ix *fileIndex) set(rel string, f servedFile) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.files == nil {
		ix.files = map[string]servedFile{}
	}
	ix.files[rel] = f
}

func (ix *fileIndex) remove(rel string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	delete(ix.files, rel)
}

// SeedHandler serves the library over HTTP: each published file at
// "/"+its library path (the seed URL), plus /metrics and /healthz. It opens
// files only through an os.Root of the library and only for paths in its
// index, so "..", encoded traversal, absolute paths, dotfiles, listings,
// non-audio files and symlinks leading out all get 404.
type SeedHandler struct {
	// prefix is the path of --public-url (e.g. "/music"), accepted in
	// front of a file's path for servers behind a proxy that keeps it.
	prefix    string
	root      *os.Root
	index     *fileIndex
	limiter   *rate.Limiter // the cap for HTTP ...
	btLimiter *rate.Limiter // ... and for the seed's BitTorrent side; nil: none
	spare     *spareMeter   // shared by every handler of the seeder
	queue     *uploadQueue  // likewise
	fills     *fillsInFlight
	metrics   *metrics
	gather    prometheus.Gatherer
	log       *slog.Logger
}

func (h *SeedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case proto.PathHealthz:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	case proto.PathMetrics:
		promhttp.HandlerFor(h.gather, promhttp.HandlerOpts{}).ServeHTTP(w, r)
		return
	}
	code := h.serveFile(w, r)
	h.metrics.httpRequests.WithLabelValues(strconv.Itoa(code)).Inc()
}

func notFound(w http.ResponseWriter) int {
	http.Error(w, "404 page not found", http.StatusNotFound)
	return http.StatusNotFound
}

var contentTypes = map[string]string{
	proto.CodecMP3: "audio/mpeg", proto.CodecFLAC: "audio/flac", proto.CodecOgg: "audio/ogg", proto.CodecWAV: "audio/wav",
}

func (h *SeedHandler) serveFile(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	// Every answer to a file request tells the upload the seeder has to
	// spare (proto.HeaderSeedSpare), so that a player can pace its fill
	// requests.
	spare, limited := h.spare.spare()
	w.Header().Set(proto.HeaderSeedSpare, spareHeader(spare, limited))
	class := fetchClassOf(r.Header.Get(proto.HeaderFetch))
	fill := class == classFill
	// r.URL.Path is already percent-decoded, so "%2e%2e" arrives as "..";
	// validRel refuses it, as it refuses "//abs", dot elements and
	// anything but an audio extension. Only indexed paths are served.
	p := r.URL.Path
	if h.prefix != "" {
		if rest, ok := strings.CutPrefix(p, h.prefix+"/"); ok {
			p = "/" + rest
		}
	}
	rel, ok := strings.CutPrefix(p, "/")
	if !ok || !validRel(rel) {
		return notFound(w)
	}
	sf, ok := h.index.get(rel)
	if !ok {
		return notFound(w)
	}
	f, err := h.root.Open(filepath.FromSlash(rel))
	if err != nil {
		h.log.Debug("seed file not opened", "path", rel, "err", err)
		return notFound(w)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || st.Size() != sf.size || !st.ModTime().Equal(sf.modTime) {
		// Changed since it was hashed: its bytes no longer match the
		// published torrent. The watcher (if on) republishes it.
		h.log.Debug("seed file changed since hashing", "path", rel)
		return notFound(w)
	}
	if fill && r.Method == http.MethodGet {
		// A fill is served from spare upload only, and not while another
		// listener's fill of the same bytes is being sent: come back in a
		// second.
		ok := h.fillAllowed(spare, limited)
		if first, last, ranged := fillRange(r.Header.Get("Range")); ok && ranged {
			var release func()
			if release, ok = h.fills.claim(rel, first, last); ok {
				defer release()
			}
		}
		if !ok {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			return http.StatusServiceUnavailable
		}
	}
	hdr := w.Header()
	hdr.Set("ETag", `"`+sf.infoHash+`"`)
	if ct := contentTypes[sf.codec]; ct != "" {
		hdr.Set("Content-Type", ct)
	}
	rw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	lw := &limitedWriter{statusWriter: rw, ctx: r.Context(), limiter: h.limiter, bt: h.btLimiter, queue: h.queue,
		place:   h.queue.place(class, dueOf(r.Header.Get(proto.HeaderDue), time.Now())),
		counter: &h.metrics.httpUpload, fillCounter: &h.metrics.fillUpload}
	// A SectionReader per request: concurrent requests never share a
	// file offset.
	http.ServeContent(lw, r, "", sf.modTime, io.NewSectionReader(f, 0, sf.size))
	return rw.code
}

// fillAllowed reports whether a fill request may be served now, with
// spare upload s: the upload is not capped, or no urgent writer waits for
// the limiter and at least fillThreshold of the cap is spare.
func (h *SeedHandler) fillAllowed(s int64, limited bool) bool {
	if !limited {
		return true
	}
	return !h.queue.waitingUpTo(classUrgent) && s >= fillThreshold(h.limiter.Limit())
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// fetchClass is how soon a request's bytes are needed, by its
// proto.HeaderFetch, soonest first: a head (a newcomer waits for its first
// audio), unheld (an emergency for a piece that no listener the player
// knows holds: only the seed server can send it), urgent (an emergency, or
// a request that says nothing), or a fill.
type fetchClass int

const (
	classHead fetchClass = iota
	classUnheld
	classUrgent
	classFill
)

func fetchClassOf(header string) fetchClass {
	switch v := strings.TrimSpace(header); {
	case strings.EqualFold(v, proto.FetchHead):
		return classHead
	case strings.EqualFold(v, proto.FetchUnheld):
		return classUnheld
	case strings.EqualFold(v, proto.FetchFill):
		return classFill
	}
	return classUrgent
}

// limitedWriter paces a response body with the upload cap, ahead of
// BitTorrent's uploads, and counts the bytes sent. It hides the ResponseWriter's
// ReadFrom (sendfile), so every byte goes through Write.
//
// The writers take the cap in the uploadQueue's order: by class, soonest
// first, then by due. A saturated seed server thus starts a newcomer
// within its head timeout rather than after everyone's emergencies
// (bench-internet behind NAT: heads timed out after 2 s and newcomers
// waited up to 13 s for their first audio from peers), and sends the
// first listener, whom no one is ahead of, what only it can send before
// what other listeners could.
type limitedWriter struct {
	*statusWriter
	ctx         context.Context
	limiter     *rate.Limiter
	bt          *rate.Limiter // the BitTorrent side's, or nil
	queue       *uploadQueue
	place       *queued // this request's place in queue
	counter     interface{ Add(int64) int64 }
	fillCounter interface{ Add(int64) int64 } // fill bytes, counted in counter too
}

// httpChunk is the most the HTTP side takes from the limiter at once: one
// BitTorrent chunk, so neither protocol needs a bigger gap than the other.
const httpChunk = 16 << 10

func (w *limitedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), httpChunk, max(w.limiter.Burst(), 1))
		if err := w.wait(n); err != nil {
			return written, err
		}
		m, err := w.statusWriter.Write(p[:n])
		written += m
		w.counter.Add(int64(m))
		if w.place.class == classFill {
			w.fillCounter.Add(int64(m))
		}
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// wait takes n tokens once they are there, in the queue's order. Like
// anacrolix (which reserves, and on a delay cancels and retries later), it
// never reserves tokens ahead: a queue of HTTP reservations would keep a
// limiter in debt. Heads and unheld requests take them from HTTP's
// limiter, which BitTorrent does not use, and the BitTorrent side's owes
// them: they go before BitTorrent uploads (served alike, the BitTorrent
// side, open to players whose HTTP requests timed out, took the cap from
// the heads of newcomers behind NAT: bench-internet's time to first audio
// p95 21.7 s). Other requests take them from the BitTorrent side's
// limiter, sharing it with BitTorrent uploads as before, and HTTP's owes
// them.
func (w *limitedWriter) wait(n int) error {
	if w.limiter.Limit() == rate.Inf {
		return nil
	}
	take, owe := w.limiter, w.bt
	if w.bt != nil && w.place.class > classUnheld {
		take, owe = w.bt, w.limiter
	}
	w.queue.enter(w.place)
	defer w.queue.leave(w.place)
	for {
		if err := w.queue.waitFirst(w.ctx, w.place); err != nil {
			return fmt.Errorf("waiting for sooner uploads: %w", err)
		}
		r := take.ReserveN(time.Now(), n)
		if !r.OK() {
			return fmt.Errorf("upload limiter: %d bytes exceed the burst", n)
		}
		d := r.Delay()
		if d == 0 {
			if owe != nil {
				owe.ReserveN(time.Now(), n)
			}
			return nil
		}
		r.Cancel()
		// Until the tokens are there, or a sooner writer comes first.
		_, changed := w.queue.first(w.place)
		t := time.NewTimer(d)
		select {
		case <-w.ctx.Done():
			t.Stop()
			return fmt.Errorf("upload limiter: %w", w.ctx.Err())
		case <-changed:
			t.Stop()
		case <-t.C:
		}
	}
}

// newHTTPServer returns the seed server with its timeouts and header cap.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// limitListener caps the number of connections open at once.
func limitListener(l net.Listener, n int) net.Listener { return netutil.LimitListener(l, n) }
