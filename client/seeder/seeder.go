package seeder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/time/rate"

	"github.com/peertune/peertune/client/api"
	"github.com/peertune/peertune/internal/btclient"
	"github.com/peertune/peertune/proto"
)

// Config is what `peertune seed` is given.
type Config struct {
	Dir        string      // the library folder
	API        *api.Client // the tracker's catalog API, with the publish token
	Listen     string      // HTTP seed address (host:port); unused with NoHTTP
	PublicURL  string      // base of the published seed URLs; default "http://"+Listen
	BTListen   string      // BitTorrent listen address (host:port); unused with NoBT
	UploadRate int64       // bytes per second for HTTP and BitTorrent together; 0: no cap
	Watch      bool        // republish on changes (fsnotify)
	NoHTTP     bool        // publish-only: seed URLs point at another server (PublicURL)
	NoBT       bool        // do not seed over BitTorrent
	UPnP       bool        // ask the router for a port mapping
	NoTCP      bool        // BitTorrent without TCP (uTP only)
	NoUTP      bool        // BitTorrent without uTP (TCP only; no hole punching)
	// ProgressBar draws a progress bar on stderr while hashing; without it
	// progress goes to the log every few seconds.
	ProgressBar bool
	Registry    *prometheus.Registry // for /metrics; a new one if nil
	Log         *slog.Logger
	Workers     int    // hashing goroutines; default GOMAXPROCS
	MaxConns    int    // concurrent HTTP connections; default DefaultMaxConns
	StatePath   string // default StatePath(Dir)
	// Debounce is how long the watcher waits for quiet before it
	// rescans; default 300 ms.
	Debounce time.Duration
	// CatalogCheck is how often a running seeder asks the tracker whether
	// its published tracks are still listed (CheckCatalog); default
	// DefaultCatalogCheck; negative: never.
	CatalogCheck time.Duration
}

// SyncResult counts what one pass over the library did.
type SyncResult struct {
	Files       int // audio files found
	Hashed      int // files hashed (new or changed)
	Reused      int // files whose hashes came from the state file
	Skipped     int // files that could not be read or decoded
	Published   int // publish calls that succeeded
	Unpublished int // tracks removed from the catalog
	Failed      int // publish or unpublish calls that failed
	TakenDown   int // publishes refused because the tracker's admins took the track down
}

// activeTrack is a library file the seeder serves (and has published, or
// will retry publishing on the next pass).
type activeTrack struct {
	ih        metainfo.Hash
	published bool
	file      preparedFile // what was published, for CheckCatalog to publish again
}

// Seeder publishes and serves one library folder. New prepares it (opens
// the folder, the listeners and the BitTorrent client); Run does the work
// until its context ends.
type Seeder struct {
	cfg       Config
	dir       string
	log       *slog.Logger
	root      *os.Root
	limiter   *rate.Limiter // the cap for HTTP ...
	btLimiter *rate.Limiter // ... and for BitTorrent: each owes what the other takes (limitedWriter.wait)
	spare     *spareMeter
	fills     *fillsInFlight
	queue     *uploadQueue // HTTP writers waiting for tokens, in the order they take them
	metrics   *metrics
	index     *fileIndex
	bt        *btSeeder // nil with NoBT
	listener  net.Listener
	publicURL string
	statePath string

	announce []string // the tracker's announce URLs, from GET /api/v1/info

	syncMu sync.Mutex // serialises Sync; guards state, stateSaved, active, skipped and takenDown
	state  stateFile
	// stateSaved is true while the state file holds state: a pass that
	// changes nothing then writes nothing (the file grows with the
	// library, and the watcher makes a pass for every change it sees).
	stateSaved bool
	active     map[string]activeTrack // by library path
	// skipped remembers files that could not be used (by path, with the
	// size and time they had) so that each is logged once, not on every
	// pass of the watcher.
	skipped map[string]fileState
	// takenDown holds the tracks whose publish the tracker refused because
	// its admins took them down, by infohash: they are served no more and
	// not offered again until the seeder restarts or the file changes (and
	// so its infohash).
	takenDown map[metainfo.Hash]bool
}

// New checks cfg, opens the library, the HTTP listener (unless NoHTTP) and
// the BitTorrent client (unless NoBT). Close releases them if Run is not
// called.
func New(cfg Config) (*Seeder, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.API == nil {
		return nil, errors.New("seeder: no catalog API client")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 300 * time.Millisecond
	}
	if cfg.CatalogCheck == 0 {
		cfg.CatalogCheck = DefaultCatalogCheck
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.NoHTTP && cfg.PublicURL == "" {
		return nil, errors.New("without the HTTP seed server a public URL is needed: the seed URLs must point at the server that has the files")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", cfg.Dir, err)
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("library: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("library %s: not a directory", dir)
	}
	s := &Seeder{cfg: cfg, dir: dir, log: cfg.Log, index: &fileIndex{}, active: map[string]activeTrack{},
		skipped: map[string]fileState{}, takenDown: map[metainfo.Hash]bool{}}
	s.statePath = cfg.StatePath
	if s.statePath == "" {
		if s.statePath, err = StatePath(dir); err != nil {
			return nil, err
		}
	}
	s.state, err = loadState(s.statePath, dir)
	if err != nil {
		s.log.Warn("state file not used: every file will be hashed", "err", err)
	}
	s.stateSaved = len(s.state.Files) > 0
	s.limiter = newUploadLimiter(cfg.UploadRate)
	s.btLimiter = newUploadLimiter(cfg.UploadRate)

	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if !cfg.NoHTTP {
		if s.root, err = os.OpenRoot(dir); err != nil {
			return nil, fmt.Errorf("library: %w", err)
		}
		l, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("HTTP listen address %q: %w", cfg.Listen, err)
		}
		s.listener = l
	}
	s.publicURL = cfg.PublicURL
	if s.publicURL == "" {
		s.publicURL = "http://" + s.listener.Addr().String()
	}
	if err := CheckPublicURL(s.publicURL); err != nil {
		return nil, fmt.Errorf("public URL: %w", err)
	}
	peerConns := newPeerConns()
	if !cfg.NoBT {
		opts := btclient.Options{Listen: cfg.BTListen, UPnP: cfg.UPnP, NoTCP: cfg.NoTCP, NoUTP: cfg.NoUTP, UploadLimiter: s.btLimiter}
		if s.bt, err = newBTSeeder(opts, peerConns, s.log); err != nil {
			return nil, err
		}
	}
	var btUpload func() int64
	if s.bt != nil {
		btUpload = s.bt.uploaded
	}
	if s.metrics, err = newMetrics(cfg.Registry, btUpload, peerConns); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	s.spare = newSpareMeter(s.limiter, s.metrics.uploadedNotFill, nil)
	s.queue = newUploadQueue()
	s.fills = newFillsInFlight()
	ok = true
	return s, nil
}

// newUploadLimiter is a limiter of the upload cap (see
// btclient.NewUploadLimiter: its burst is at least one 16 KiB chunk and
// small against a second of the rate). HTTP and BitTorrent have one each,
// and what HTTP takes from one the other owes (limitedWriter.wait):
// together they keep to the cap, and heads go before BitTorrent.
func newUploadLimiter(bytesPerSecond int64) *rate.Limiter {
	return btclient.NewUploadLimiter(bytesPerSecond)
}

// CheckPublicURL reports whether s can be the base of seed URLs: an
// http(s) URL with a host.
func CheckPublicURL(s string) error {
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL with a host", s)
	}
	return nil
}

// HTTPAddr is the address the HTTP seed server listens on ("" with NoHTTP).
func (s *Seeder) HTTPAddr() string {
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

// BTAddr is the address the BitTorrent client listens on ("" with NoBT).
func (s *Seeder) BTAddr() string {
	if s.bt == nil {
		return ""
	}
	return s.bt.Addr()
}

// PublicURL is the base of the seed URLs this seeder publishes.
func (s *Seeder) PublicURL() string { return s.publicURL }

// Handler is the HTTP seed handler (files, /metrics, /healthz).
func (s *Seeder) Handler() http.Handler {
	prefix := ""
	if u, err := url.Parse(s.publicURL); err == nil {
		prefix = strings.TrimRight(u.Path, "/")
	}
	return &SeedHandler{prefix: prefix, root: s.root, index: s.index, limiter: s.limiter, btLimiter: s.btLimiter, spare: s.spare, queue: s.queue,
		fills: s.fills, metrics: s.metrics, gather: s.cfg.Registry, log: s.log}
}

// Close releases what New opened; Run calls it on the way out.
func (s *Seeder) Close() {
	if s.listener != nil {
		s.listener.Close()
	}
	if s.bt != nil {
		s.bt.close()
		s.bt = nil
	}
	if s.root != nil {
		s.root.Close()
	}
}

// Run serves the library until ctx ends: it learns the tracker's announce
// URLs, starts the HTTP seed server, hashes and publishes the library,
// then (with Watch) follows changes; every cfg.CatalogCheck it checks that
// the catalog still lists what it published (CheckCatalog). On the way out it stops announcing,
// closes open responses and connections, and returns nil.
func (s *Seeder) Run(ctx context.Context) error {
	defer s.Close()
	if err := s.fetchAnnounce(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while waiting for the tracker
		}
		return err
	}
	s.warnLoopback()
	spareCtx, stopSpare := context.WithCancel(ctx)
	defer stopSpare()
	go s.spare.run(spareCtx)

	var srv *http.Server
	serveErr := make(chan error, 1)
	if s.listener != nil {
		srv = newHTTPServer(s.Handler(), s.log)
		go func() { serveErr <- srv.Serve(limitListener(s.listener, s.cfg.MaxConns)) }()
		s.log.Info("HTTP seed server listening", "addr", s.HTTPAddr(), "public_url", s.publicURL)
	}
	if s.bt != nil {
		s.log.Info("BitTorrent seeding", "addr", s.BTAddr())
	}
	res, err := s.Sync(ctx)
	if err != nil && ctx.Err() == nil {
		s.shutdownHTTP(srv)
		return err
	}
	if ctx.Err() == nil {
		s.log.Info("library published", "tracks", len(s.activeTracks()), "published", res.Published,
			"unpublished", res.Unpublished, "failed", res.Failed, "skipped", res.Skipped, "taken_down", res.TakenDown)
	}
	var runErr error
	if s.cfg.Watch && ctx.Err() == nil {
		runErr = s.watch(ctx)
	} else {
		check, stopCheck := s.checkTicker()
		defer stopCheck()
	serve:
		for {
			select {
			case <-ctx.Done():
				break serve
			case err := <-serveErr:
				runErr = fmt.Errorf("HTTP seed server: %w", err)
				break serve
			case <-check:
				s.checkAndLog(ctx)
			}
		}
	}
	s.log.Info("seeder stopping")
	s.shutdownHTTP(srv)
	return runErr
}

func (s *Seeder) shutdownHTTP(srv *http.Server) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		srv.Close() // cut responses still open
	}
}

func (s *Seeder) fetchAnnounce(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		info, err := s.cfg.API.Info(ctx)
		if err == nil {
			if len(info.Announce) == 0 {
				return fmt.Errorf("tracker %s gave no announce URLs", s.cfg.API.BaseURL())
			}
			s.announce = info.Announce
			return nil
		}
		if api.StatusOf(err) != 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("asking the tracker for its announce URLs: %w", err)
		}
		s.log.Info("waiting for the tracker", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// warnLoopback warns when loopback seed URLs go to a tracker that other
// machines use: listeners elsewhere could not reach them.
func (s *Seeder) warnLoopback() {
	pub, err := url.Parse(s.publicURL)
	if err != nil {
		return
	}
	if isLoopbackHost(pub.Hostname()) && !isLoopbackHost(s.cfg.API.BaseURL().Hostname()) {
		s.log.Warn("publishing loopback seed URLs to a tracker that is not on loopback: other machines cannot reach them; set --public-url",
			"public_url", s.publicURL, "tracker", s.cfg.API.BaseURL().String())
	}
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (s *Seeder) activeTracks() map[string]activeTrack {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	out := make(map[string]activeTrack, len(s.active))
	for k, v := range s.active {
		out[k] = v
	}
	return out
}

// Sync brings the catalog, the HTTP index and the BitTorrent client in line
// with the folder: new and changed files are hashed (others reuse the
// state file), published and served; removed and replaced ones are
// unpublished. A rejected token is an error; a track the tracker's admins
// took down is logged and served no more; other publish failures are
// logged and retried on the next pass. Between passes, every
// cfg.CatalogCheck, CheckCatalog finds the tracks the catalog lost.
func (s *Seeder) Sync(ctx context.Context) (SyncResult, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	var res SyncResult
	files, err := Scan(s.dir, s.log)
	if err != nil {
		return res, err
	}
	res.Files = len(files)
	prepared, err := s.prepare(ctx, files, &res)
	if err != nil {
		return res, err
	}

	// Unpublish what is gone or changed: tracks served now, and tracks a
	// previous run published (the old state) that are no longer there.
	keep := map[metainfo.Hash]bool{}
	for _, p := range prepared {
		keep[p.ih] = true
	}
	gone := map[metainfo.Hash]bool{}
	for rel, a := range s.active {
		if p, ok := prepared[rel]; !ok || p.ih != a.ih {
			s.index.remove(rel)
			if s.bt != nil {
				s.bt.remove(a.ih)
			}
			delete(s.active, rel)
			if !keep[a.ih] {
				gone[a.ih] = true
			}
		}
	}
	for _, st := range s.state.Files {
		if ih, err := parseHash(st.InfoHash); err == nil && !keep[ih] {
			gone[ih] = true
		}
	}
	var authErr error
	for ih := range gone {
		err := s.cfg.API.Delete(ctx, ih.HexString())
		switch {
		case err == nil:
			res.Unpublished++
			s.metrics.published.WithLabelValues("unpublish", "ok").Inc()
			s.log.Info("unpublished", "id", ih.HexString())
		case api.IsNotFound(err):
		default:
			res.Failed++
			s.metrics.published.WithLabelValues("unpublish", "error").Inc()
			s.log.Warn("unpublish failed", "id", ih.HexString(), "err", err)
		}
	}

	for ih := range s.takenDown {
		if !keep[ih] {
			delete(s.takenDown, ih) // gone from the library
		}
	}
	for _, f := range files {
		p, ok := prepared[f.Rel]
		if !ok || s.takenDown[p.ih] {
			continue
		}
		a, served := s.active[f.Rel]
		if !served {
			// Served over HTTP before it is published, so its seed URL works
			// as soon as the catalog lists it.
			s.index.set(f.Rel, servedFile{size: f.Size, modTime: f.ModTime, infoHash: p.ih.HexString(), codec: p.state.Meta.Codec})
			a = activeTrack{ih: p.ih}
		}
		a.file = p
		if !a.published {
			track, created, err := s.publish(ctx, p)
			if api.IsTakenDown(err) {
				s.stopServing(f.Rel, p.ih)
				res.TakenDown++
				s.metrics.published.WithLabelValues("publish", "taken_down").Inc()
				s.log.Warn("track taken down by the tracker's admins: no longer seeding it (HTTP and BitTorrent)",
					"path", f.Rel, "id", p.ih.HexString(), "err", err)
				continue
			}
			if err != nil {
				res.Failed++
				s.metrics.published.WithLabelValues("publish", "error").Inc()
				s.log.Warn("publish failed", "path", f.Rel, "err", err)
				if st := api.StatusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
					authErr = fmt.Errorf("the tracker refused the token: %w", err)
				}
			} else {
				a.published = true
				res.Published++
				s.metrics.published.WithLabelValues("publish", "ok").Inc()
				s.log.Debug("published", "path", f.Rel, "id", track.ID, "new", created)
			}
		}
		if s.bt != nil && !s.bt.has(p.ih) {
			// Added to BitTorrent after publishing: the tracker refuses
			// announces for infohashes not in its catalog, and anacrolix
			// waits a minute before retrying a failed announce.
			n := int((f.Size + p.state.PieceLength - 1) / p.state.PieceLength)
			if err := s.bt.add(p.mi, p.ih, f.Abs, n, s.announce); err != nil {
				s.log.Warn("not seeding over BitTorrent", "path", f.Rel, "err", err)
			}
		}
		s.active[f.Rel] = a
	}
	s.metrics.tracks.Set(float64(len(s.active)))

	state := make(map[string]fileState, len(prepared))
	for rel, p := range prepared {
		state[rel] = p.state
	}
	if !s.stateSaved || !maps.EqualFunc(s.state.Files, state, fileState.equal) {
		s.state.Files = state
		s.stateSaved = true
		if err := s.state.save(s.statePath); err != nil {
			s.stateSaved = false
			s.log.Warn("state not saved: the next run hashes again", "err", err)
		}
	}
	if s.bt != nil {
		for rel, a := range s.active {
			if !s.bt.complete(a.ih) {
				s.log.Warn("BitTorrent client does not see the whole file", "path", rel)
			}
		}
	}
	return res, authErr
}

// stopServing takes a track out of the HTTP index and the BitTorrent
// client, and remembers it was taken down.
func (s *Seeder) stopServing(rel string, ih metainfo.Hash) {
	s.index.remove(rel)
	if s.bt != nil {
		s.bt.remove(ih)
	}
	delete(s.active, rel)
	s.takenDown[ih] = true
}

type preparedFile struct {
	state fileState
	mi    *metainfo.MetaInfo
	ih    metainfo.Hash
}

func parseHash(s string) (metainfo.Hash, error) {
	var h metainfo.Hash
	err := h.FromHexString(s)
	return h, err
}

// prepare returns, by library path, every file that can be published, with
// its torrent: from the state file when its size and modification time
// are unchanged (its tags read again, not its hashes, when an older
// metaVersion read them), otherwise probed and hashed on cfg.Workers
// goroutines.
func (s *Seeder) prepare(ctx context.Context, files []LibraryFile, res *SyncResult) (map[string]preparedFile, error) {
	out := map[string]preparedFile{}
	var todo []LibraryFile
	var reread []LibraryFile // reused, but their tags are read again
	var total int64
	for _, f := range files {
		if sk, ok := s.skipped[f.Rel]; ok && sk.Size == f.Size && sk.ModTimeNs == f.ModTime.UnixNano() {
			res.Skipped++
			continue
		}
		if st, ok := s.state.Files[f.Rel]; ok && st.matches(f) {
			p, err := s.build(f, st)
			if err == nil {
				out[f.Rel] = p
				if st.MetaVersion != metaVersion {
					reread = append(reread, f)
				} else {
					res.Reused++
				}
				continue
			}
		}
		todo = append(todo, f)
		total += f.Size
	}
	var mu sync.Mutex
	skipFile := func(f LibraryFile, err error) {
		s.log.Warn("skipping file", "path", f.Rel, "err", err)
		s.metrics.filesFailed.Inc()
		mu.Lock()
		res.Skipped++
		s.skipped[f.Rel] = fileState{Size: f.Size, ModTimeNs: f.ModTime.UnixNano()}
		mu.Unlock()
	}
	// Tags first (a file's reading is far quicker than its hashing): a
	// file ReadMeta now refuses is skipped, as a new one would be.
	err := runPool(ctx, len(reread), s.cfg.Workers, func(i int) {
		f := reread[i]
		meta, err := ReadMeta(f.Abs)
		if err != nil {
			skipFile(f, err)
			mu.Lock()
			delete(out, f.Rel)
			mu.Unlock()
			return
		}
		mu.Lock()
		defer mu.Unlock()
		p := out[f.Rel]
		p.state.Meta, p.state.MetaVersion = meta, metaVersion
		out[f.Rel] = p
		res.Reused++
	})
	if err != nil {
		return nil, err
	}
	if len(reread) > 0 {
		s.log.Info(fmt.Sprintf("read the tags of %d files again", len(reread)), "files", len(reread), "meta_version", metaVersion)
	}
	var (
		done     atomic.Int64
		doneFile atomic.Int64
	)
	s.metrics.hashPending.Set(float64(total))
	progress, stop := s.startProgress(total, len(todo), &done, &doneFile)
	err = runPool(ctx, len(todo), s.cfg.Workers, func(i int) {
		f := todo[i]
		defer doneFile.Add(1)
		skip := func(err error) { skipFile(f, err) }
		meta, err := ReadMeta(f.Abs)
		if err != nil {
			skip(err)
			return
		}
		pl := PieceLength(f.Size)
		pieces, err := HashFile(ctx, f.Abs, f.Size, pl, func(n int64) {
			done.Add(n)
			s.metrics.hashBytes.Add(float64(n))
			s.metrics.hashPending.Sub(float64(n))
			progress(n)
		})
		if err != nil {
			if ctx.Err() == nil {
				skip(err)
			}
			return
		}
		st := fileState{Size: f.Size, ModTimeNs: f.ModTime.UnixNano(), PieceLength: pl, Pieces: pieces, Meta: meta,
			MetaVersion: metaVersion}
		p, err := s.build(f, st)
		if err != nil {
			skip(err)
			return
		}
		s.metrics.filesHashed.Inc()
		mu.Lock()
		out[f.Rel] = p
		res.Hashed++
		mu.Unlock()
	})
	stop()
	s.metrics.hashPending.Set(0)
	s.metrics.filesReused.Add(float64(res.Reused))
	if err != nil {
		return nil, err
	}
	s.log.Info(fmt.Sprintf("hashed %d files, reused %d", res.Hashed, res.Reused),
		"hashed", res.Hashed, "reused", res.Reused, "skipped", res.Skipped, "bytes", total)
	return out, nil
}

// build makes the torrent of f from its state (pieces already hashed).
func (s *Seeder) build(f LibraryFile, st fileState) (preparedFile, error) {
	mi, ih, err := BuildTorrent(fileName(f.Rel), f.Size, st.PieceLength, st.Pieces, s.announce, SeedURL(s.publicURL, f.Rel))
	if err != nil {
		return preparedFile{}, err
	}
	st.InfoHash = ih.HexString()
	return preparedFile{state: st, mi: mi, ih: ih}, nil
}

func (s *Seeder) publish(ctx context.Context, p preparedFile) (proto.Track, bool, error) {
	raw, err := bencode.Marshal(p.mi)
	if err != nil {
		return proto.Track{}, false, fmt.Errorf("encoding torrent: %w", err)
	}
	m := p.state.Meta
	return s.cfg.API.Publish(ctx, proto.PublishRequest{
		Torrent: raw, Title: m.Title, Artist: m.Artist, Album: m.Album,
		DurationS: m.DurationS, Codec: m.Codec, Bitrate: m.Bitrate,
		AlbumArtist: m.AlbumArtist, TrackNumber: m.TrackNumber, DiscNumber: m.DiscNumber, Year: m.Year,
	})
}

// startProgress shows hashing progress: a bar on stderr (a terminal), or a
// log line every 2 s. stop ends it.
func (s *Seeder) startProgress(total int64, files int, done, doneFiles *atomic.Int64) (add func(int64), stop func()) {
	if files == 0 {
		return func(int64) {}, func() {}
	}
	if s.cfg.ProgressBar {
		bar := progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(fmt.Sprintf("hashing %d files", files)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionUseIECUnits(true), // KiB and MiB, as every size peertune prints
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		return func(n int64) { bar.Add64(n) }, func() { bar.Finish() }
	}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				s.log.Info("hashing", "files_done", doneFiles.Load(), "files", files, "bytes_done", done.Load(), "bytes", total)
			}
		}
	}()
	return func(int64) {}, func() { close(quit); wg.Wait() }
}
