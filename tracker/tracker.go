package tracker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/peertune/peertune/internal/redisconn"
	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/announce"
	"github.com/peertune/peertune/tracker/auth"
	"github.com/peertune/peertune/tracker/catalog"
	catalogapi "github.com/peertune/peertune/tracker/catalog/api"
	catalogredis "github.com/peertune/peertune/tracker/catalog/redis"
	"github.com/peertune/peertune/tracker/catalog/sqlite"
	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
	peersredis "github.com/peertune/peertune/tracker/peers/redis"
	"github.com/peertune/peertune/tracker/web"
)

// HTTP server limits: announces are one short GET; publish bodies are
// bounded by the catalog API itself.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 10 * time.Second
	reloadTimeout     = time.Minute // for RenamePublishers over a big catalog
)

// The web page's announce rate: over the last minute, sampled each second.
const (
	announceRateWindow = time.Minute
	announceRateTick   = time.Second
)

// Server is a running tracker: its listeners are bound, its stores open.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tokens   auth.Source
	keys     *auth.Keyring
	store    peers.PeerStore
	catalog  catalog.Catalog
	httpLn   net.Listener
	httpSrv  *http.Server
	front    *announce.Front
	udpConn  net.PacketConn
	udp      *announce.UDP
	announce []string
	rate     *announce.RateMeter // announces per second, for the web page
	ready    atomic.Bool
}

// Run starts a tracker with cfg and serves until ctx is done, then shuts
// down gracefully.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(ctx, cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New opens the stores and binds the listeners; Serve then serves them.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger,
		tokens: auth.Source{Tokens: cfg.Tokens, TokensFile: cfg.TokensFile, AdminTokensFile: cfg.AdminTokensFile}}
	set, err := s.tokens.Load() // before the stores: a bad file fails fast
	if err != nil {
		return nil, err
	}
	s.keys = auth.NewKeyring(set)
	defer func() {
		if err != nil {
			s.closeAll()
		}
	}()

	if err := s.openStores(ctx); err != nil {
		return nil, err
	}
	if err := s.adoptTracks(ctx, set); err != nil {
		return nil, err
	}

	// No TCP keep-alive probes: idle connections end after idleTimeout
	// anyway, and the probes' four setsockopt calls per accepted
	// connection are a measurable share of an announce (most clients
	// announce with a new connection each time).
	lc := net.ListenConfig{KeepAlive: -1}
	s.httpLn, err = lc.Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on --listen %s: %w", cfg.Listen, err)
	}
	if cfg.UDP != "" {
		s.udpConn, err = net.ListenPacket("udp", cfg.UDP)
		if err != nil {
			return nil, fmt.Errorf("listen on --udp %s: %w", cfg.UDP, err)
		}
	}
	s.announce, err = s.announceURLs()
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := announce.NewMetrics(reg, s.store)
	if err != nil {
		return nil, fmt.Errorf("announce metrics: %w", err)
	}
	acfg := announce.Config{
		Store:          s.store,
		Open:           cfg.Open,
		Interval:       cfg.Interval,
		MinInterval:    cfg.MinInterval,
		NumWantMax:     cfg.NumWantMax,
		TrustIPParam:   cfg.TrustIPParam,
		TrustedProxies: cfg.TrustedProxies,
		Logger:         s.log,
		Metrics:        metrics,
		TakenDown: func(ctx context.Context, ih peers.InfoHash) (bool, error) {
			return s.catalog.Denied(ctx, ih)
		},
	}
	if !cfg.Open {
		cat := s.catalog
		acfg.Tracked = func(ctx context.Context, ih peers.InfoHash) (bool, error) {
			return cat.Contains(ctx, ih)
		}
	}
	httpAnnounce, err := announce.NewHTTP(acfg)
	if err != nil {
		return nil, fmt.Errorf("http announce: %w", err)
	}
	if s.udpConn != nil {
		s.udp, err = announce.NewUDP(acfg)
		if err != nil {
			return nil, fmt.Errorf("udp announce: %w", err)
		}
	}
	api, err := catalogapi.New(catalogapi.Config{
		Catalog:  s.catalog,
		Swarms:   s.store,
		Keys:     s.keys,
		Announce: s.announce,
		Version:  cfg.Version,
		Logger:   s.log,
		Metrics:  reg,
	})
	if err != nil {
		return nil, fmt.Errorf("catalog api: %w", err)
	}
	s.rate = announce.NewRateMeter(metrics.Announces, announceRateWindow)
	page, err := web.New(web.Config{
		Catalog:            s.catalog,
		Swarms:             s.store,
		Announce:           s.announce,
		AnnouncesPerSecond: func() float64 { return s.rate.PerSecond(time.Now()) },
		Logger:             s.log,
	})
	if err != nil {
		return nil, fmt.Errorf("web page: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc(proto.PathAnnounce, httpAnnounce.ServeAnnounce)
	mux.HandleFunc(proto.PathScrape, httpAnnounce.ServeScrape)
	mux.Handle("/api/", api)
	mux.Handle("GET "+proto.PathMetrics, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET "+proto.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+proto.PathReadyz, s.serveReady)
	// The lean front answers plain announces itself and hands the rest
	// to httpSrv (see announce.Front).
	s.front = announce.NewFront(httpAnnounce, s.httpLn, announce.FrontConfig{
		Path:              proto.PathAnnounce,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		WriteTimeout:      writeTimeout,
	})
	s.httpSrv = &http.Server{
		Handler:           withPage(mux, page),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// withPage serves the web page for every GET and HEAD that routes has no
// pattern for, and every other request as routes alone would: a POST to
// /metrics keeps its 405, a path under /api/ the API's JSON 404, a path
// nothing serves with another method its 404. (A "GET /" pattern beside
// "/api/" is refused by ServeMux as ambiguous, and "/" would take those
// POSTs.)
func withPage(routes *http.ServeMux, page http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			if _, pattern := routes.Handler(r); pattern == "" {
				page.ServeHTTP(w, r)
				return
			}
		}
		routes.ServeHTTP(w, r)
	})
}

func (s *Server) openStores(ctx context.Context) error {
	if s.cfg.RedisURL != "" {
		// Peers and catalog both in Redis, each with its own connection
		// pool (the catalog also holds a pub/sub connection); --data is
		// unused.
		store, err := peersredis.Open(ctx, s.cfg.RedisURL, peersredis.Config{PeerTTL: s.cfg.PeerTTL, Logger: s.log})
		if err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		s.store = store
		cat, err := catalogredis.Open(ctx, s.cfg.RedisURL, catalogredis.Config{Logger: s.log})
		if err != nil {
			return fmt.Errorf("--redis: %w", err)
		}
		s.catalog = cat
		return nil
	}
	store, err := memory.New(memory.Config{PeerTTL: s.cfg.PeerTTL})
	if err != nil {
		return fmt.Errorf("peer store: %w", err)
	}
	s.store = store
	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("catalog directory: %w", err)
	}
	path := filepath.Join(s.cfg.DataDir, "catalog.sqlite")
	cat, err := sqlite.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("catalog %s: %w", path, err)
	}
	s.catalog = cat
	return nil
}

// adoptTracks hands the tracks stored under the digest of a token now
// configured (how publishers were stored before they had names) to that
// token's publisher.
func (s *Server) adoptTracks(ctx context.Context, set *auth.Set) error {
	n, err := s.catalog.RenamePublishers(ctx, set.Digests())
	if err != nil {
		return fmt.Errorf("naming the publishers of older tracks: %w", err)
	}
	if n > 0 {
		s.log.Info("tracks published before publishers had names now belong to their token's publisher", "tracks", n)
	}
	return nil
}

// Reload reads the tokens files again (what SIGHUP does). A bad file keeps
// the set in force and Reload returns why; a good one is in force for the
// next request, and the names it adds and removes are logged (never a
// token).
func (s *Server) Reload(ctx context.Context) error {
	set, err := s.tokens.Load()
	if err != nil {
		s.log.Error("tokens not reloaded: keeping the publishers and admins in force", "err", err)
		return err
	}
	prev := s.keys.Replace(set)
	attrs := []any{"publishers", set.Names(auth.Publisher), "admins", set.Names(auth.Admin)}
	for _, role := range []auth.Role{auth.Publisher, auth.Admin} {
		added, removed := auth.Changes(prev, set, role)
		attrs = append(attrs, role.String()+"s_added", added, role.String()+"s_removed", removed)
	}
	s.log.Info("tokens reloaded", attrs...)
	if err := s.adoptTracks(ctx, set); err != nil {
		s.log.Error("tokens reloaded, but the older tracks were not renamed", "err", err)
		return err
	}
	return nil
}

// reloadOnHangup runs Reload on every signal of hup until ctx ends.
func (s *Server) reloadOnHangup(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			rctx, cancel := context.WithTimeout(ctx, reloadTimeout)
			_ = s.Reload(rctx) // Reload logs its failures
			cancel()
		}
	}
}

// announceURLs are the HTTP and UDP announce URLs clients are told of:
// under --public-url when given, else on the bound listeners.
func (s *Server) announceURLs() ([]string, error) {
	httpBase := strings.TrimSuffix(s.cfg.PublicURL, "/")
	var host string
	if httpBase == "" {
		httpBase = "http://" + s.httpLn.Addr().String()
		host, _, _ = net.SplitHostPort(s.httpLn.Addr().String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			s.log.Warn("the tracker listens on every address but advertises an unspecified one: set --public-url", "listen", s.cfg.Listen)
		}
	} else {
		u, err := parseHTTPURL(httpBase)
		if err != nil {
			return nil, err
		}
		host = u.Hostname()
	}
	urls := []string{httpBase + proto.PathAnnounce}
	if s.udpConn != nil {
		_, port, err := net.SplitHostPort(s.udpConn.LocalAddr().String())
		if err != nil {
			return nil, fmt.Errorf("udp address: %w", err)
		}
		if s.cfg.PublicURL == "" {
			h, _, _ := net.SplitHostPort(s.udpConn.LocalAddr().String())
			host = h
		}
		urls = append(urls, "udp://"+net.JoinHostPort(host, port)+proto.PathAnnounce)
	}
	return urls, nil
}

// HTTPAddr is the bound HTTP address (useful with port 0).
func (s *Server) HTTPAddr() net.Addr { return s.httpLn.Addr() }

// UDPAddr is the bound UDP address, or nil when the UDP tracker is off.
func (s *Server) UDPAddr() net.Addr {
	if s.udpConn == nil {
		return nil
	}
	return s.udpConn.LocalAddr()
}

// AnnounceURLs are the announce URLs the tracker advertises.
func (s *Server) AnnounceURLs() []string { return append([]string(nil), s.announce...) }

// Serve serves HTTP and UDP until ctx is done, then stops accepting, lets
// open requests finish (up to 10 s), and closes the stores.
func (s *Server) Serve(ctx context.Context) error {
	defer s.closeAll()
	s.logStart()
	s.rate.Sample(time.Now()) // the rate's baseline, before the first announce is answered
	// Caught before the tracker says it is ready: an uncaught SIGHUP
	// would end it.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	// Ready before the first request is handled: the listeners are bound
	// (New), so a request that came early waits in the backlog and is
	// answered by a tracker that serves. (Set after the servers started,
	// a /readyz answered in between said "starting": TestRoutesWithThePage
	// failed on it once.)
	s.ready.Store(true)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.front.Serve(); err != nil {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		if err := s.httpSrv.Serve(s.front.Fallback()); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		s.rate.Run(gctx, announceRateTick)
		return nil
	})
	if s.udp != nil {
		g.Go(func() error {
			if err := s.udp.Serve(gctx, s.udpConn); err != nil {
				return fmt.Errorf("udp: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		s.reloadOnHangup(gctx, hup)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.ready.Store(false)
		s.log.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		ferr := s.front.Shutdown(sctx)
		err := s.httpSrv.Shutdown(sctx)
		if s.udp != nil {
			s.udp.Close()
		}
		if err := errors.Join(ferr, err); err != nil {
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	err := g.Wait()
	if err == nil {
		s.log.Info("stopped")
	}
	return err
}

func (s *Server) logStart() {
	attrs := []any{"http", s.httpLn.Addr().String(), "announce", s.announce, "open", s.cfg.Open}
	if s.cfg.RedisURL != "" {
		attrs = append(attrs, "redis", redisconn.Redact(s.cfg.RedisURL))
	} else {
		attrs = append(attrs, "data", s.cfg.DataDir)
	}
	if s.udpConn != nil {
		attrs = append(attrs, "udp", s.udpConn.LocalAddr().String())
	}
	set := s.keys.Set()
	attrs = append(attrs, "publishers", set.Names(auth.Publisher), "admins", set.Names(auth.Admin))
	s.log.Info("tracker listening", attrs...)
	if len(set.Names(auth.Publisher)) == 0 {
		s.log.Warn("publishing is disabled: no --token or --tokens was given, so POST /api/v1/tracks answers 401")
	}
}

// serveReady answers 200 while the tracker serves and its stores answer.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready: starting or shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.Stats(ctx); err != nil {
		http.Error(w, "peer store: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	n, err := s.catalog.Count(ctx)
	if err != nil {
		http.Error(w, "catalog: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready: " + strconv.Itoa(n) + " tracks\n"))
}

// closeAll releases whatever New opened; safe on a partly built Server.
func (s *Server) closeAll() {
	if s.udpConn != nil {
		s.udpConn.Close()
	}
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.store != nil {
		if err := s.store.Close(); err != nil && !errors.Is(err, peers.ErrClosed) {
			s.log.Error("closing peer store", "err", err)
		}
	}
	if s.catalog != nil {
		if err := s.catalog.Close(); err != nil && !errors.Is(err, catalog.ErrClosed) {
			s.log.Error("closing catalog", "err", err)
		}
	}
}
