package stream

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	pp "github.com/anacrolix/torrent/peer_protocol"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"

	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/client/stream/cachestore"
	"github.com/peertune/peertune/internal/btclient"
	"github.com/peertune/peertune/internal/btlog"
	"github.com/peertune/peertune/proto"
)

// ErrClosed is returned by a Client or Stream used after Close.
var ErrClosed = errors.New("stream client closed")

// Client owns the process's one BitTorrent client and the cache.
type Client struct {
	cfg     Config
	policy  Policy
	log     *slog.Logger
	http    *http.Client
	closing atomic.Bool

	lock       *os.File // flock on the cache directory
	completion storage.PieceCompletion
	store      *cachestore.Storage // the file storage, in memory once the disk is full
	cl         *torrent.Client

	// lifeMu serialises piece injection (read side) with dropping torrents
	// and shutdown (write side): VerifyData on a closed torrent returns with
	// the anacrolix client lock still held, which hangs the client.
	lifeMu sync.RWMutex
	closed bool

	memFullOnce sync.Once // warn once that the in-memory fallback is full

	addMu     sync.Mutex // serialises adding and evicting tracks
	mu        sync.Mutex // guards the maps; never held while calling anacrolix
	streams   map[string]*Stream
	byTorrent map[*torrent.Torrent]*Stream
	portMap   *btclient.PortMapping // with cfg.UPnP, once the router mapped the port

	portMapDone chan struct{} // with cfg.UPnP: closed when mapPort returned

	tcp       *btclient.TCP      // unless cfg.NoTCP or cfg.NoUploadPacing: TCP for peers, closed after cl
	stopPacer context.CancelFunc // unless cfg.NoUploadPacing: stops the upload pacer ...
	pacerDone chan struct{}      // ... which closes this on return
	// slowLine is set once the pacer found the uplink full, with
	// cfg.MaxPeers zero: every track keeps SlowLineMaxPeers connections.
	slowLine atomic.Bool
}

// New creates the cache directories, opens the piece-completion store, starts
// the BitTorrent client and re-adds every cached track so it is announced
// and shared again.
func New(cfg Config) (*Client, error) {
	if cfg.CacheDir == "" {
		return nil, errors.New("stream: no cache directory")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.ListenAddr == "" {
		cfg.ListenAddr = ":0"
	}
	if _, _, err := net.SplitHostPort(cfg.ListenAddr); err != nil {
		return nil, fmt.Errorf("stream: listen address %q: %w", cfg.ListenAddr, err)
	}
	if cfg.UploadRate < 0 {
		return nil, fmt.Errorf("stream: negative upload rate %d", cfg.UploadRate)
	}
	c := &Client{
		cfg:       cfg,
		policy:    cfg.Policy.WithDefaults(),
		log:       cfg.Logger,
		http:      cfg.HTTPClient,
		streams:   make(map[string]*Stream),
		byTorrent: make(map[*torrent.Torrent]*Stream),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	for _, sub := range []string{metaDirName, dataDirName, completionDirName} {
		if err := os.MkdirAll(filepath.Join(cfg.CacheDir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("creating cache directory: %w", err)
		}
	}
	var err error
	if c.lock, err = lockCache(cfg.CacheDir); err != nil {
		return nil, err
	}
	c.completion, err = storage.NewDefaultPieceCompletionForDir(filepath.Join(cfg.CacheDir, completionDirName))
	if err != nil {
		c.unlock()
		return nil, fmt.Errorf("opening piece-completion store in %s: %w", cfg.CacheDir, err)
	}
	// Peers that go away mid-request are normal in a swarm, not warnings;
	// reads cut short by a cancelled context or Close are ours, not errors.
	anaLog := slog.New(btlog.Handler{
		Next:  c.log.Handler(),
		Min:   slog.LevelWarn,
		Quiet: &c.closing,
		Drop:  []string{"closed", "EOF", "read failed"},
	}).With("component", "anacrolix")
	var disk storage.ClientImplCloser = storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir: filepath.Join(cfg.CacheDir, dataDirName),
		TorrentDirMaker: func(base string, _ *metainfo.Info, ih metainfo.Hash) string {
			return filepath.Join(base, ih.HexString())
		},
		PieceCompletion: c.completion,
		UsePartFiles:    g.Some(false),
		Logger:          anaLog,
	})
	if cfg.wrapDisk != nil {
		disk = cfg.wrapDisk(disk)
	}
	c.store = cachestore.New(disk, cfg.MemoryFallback, cachestore.Hooks{OnFull: c.onDiskFull, OnNotComplete: c.onPieceNotComplete})

	var limiter *rate.Limiter
	pace := btclient.PaceParams{Max: float64(cfg.UploadRate)}
	switch {
	case !cfg.NoUploadPacing:
		limiter = btclient.NewPacedLimiter(pace)
	case cfg.UploadRate > 0:
		// A burst of one chunk, as the pacer's (the least anacrolix
		// allows): under a cap below the line's rate, chunks cross it one
		// after another at its full speed, not side by side (each slowly,
		// while the peer that asked for it takes it from another peer too,
		// and both copies arrive), and the requests wait where a cancel
		// still reaches them. bench-internet, public, 85 % of the line:
		// 262 s of underrun in all and wire 1.56× with it, 2.01× without
		// a cap.
		limiter = rate.NewLimiter(rate.Limit(cfg.UploadRate), btclient.ChunkSize)
	}
	if err := c.startBT(btclient.Options{
		Listen:           cfg.ListenAddr,
		PeerIDPrefix:     proto.PeerIDPrefixPlayer,
		NoTCP:            cfg.NoTCP,
		NoUTP:            cfg.NoUTP,
		UploadLimiter:    limiter,
		MaxConnsPerTrack: cmp.Or(cfg.MaxPeers, DefaultMaxPeers),
		Logger:           anaLog,
	}); err != nil {
		c.store.Close()
		c.unlock()
		return nil, err
	}
	if !cfg.NoUploadPacing {
		ctx, stop := context.WithCancel(context.Background())
		c.stopPacer = stop
		c.pacerDone = make(chan struct{})
		go func() {
			defer close(c.pacerDone)
			btclient.RunPacer(ctx, pace, limiter, c.cl, c.tcp, func(s btclient.PaceState) {
				c.log.Debug("upload pacing: a queue on the line", "queue", s.Queue, "rate", int64(s.SentRate), "limit", int64(s.Limit))
				if cfg.MaxPeers == 0 {
					c.noteSlowLine()
				}
			})
		}()
	}
	if err := c.addCachedTracks(); err != nil {
		c.Close()
		return nil, err
	}
	if cfg.UPnP {
		c.portMapDone = make(chan struct{})
		go c.mapPort()
	}
	return c, nil
}

// startBT starts the BitTorrent client. With upload pacing, TCP is ours
// (btclient.TCP: sockets that hold little unsent data, whose round trips
// the pacer reads) on the port it takes, and uTP anacrolix's on the same
// port; a port free for TCP may be taken for UDP, so with port 0 a few
// are tried.
func (c *Client) startBT(opts btclient.Options) error {
	ownTCP := !c.cfg.NoTCP && !c.cfg.NoUploadPacing
	host, port, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return fmt.Errorf("stream: listen address %q: %w", opts.Listen, err)
	}
	for attempt := 1; ; attempt++ {
		o := opts
		var tcp *btclient.TCP
		if ownTCP {
			if tcp, err = btclient.ListenTCP(opts.Listen); err != nil {
				return fmt.Errorf("stream: %w", err)
			}
			o.Listen, o.OwnTCP = net.JoinHostPort(host, strconv.Itoa(tcp.Port())), true
		}
		closeTCP := func() {
			if tcp != nil {
				tcp.Close()
			}
		}
		tc, err := btclient.Config(o)
		if err != nil {
			closeTCP()
			return fmt.Errorf("stream: %w", err)
		}
		tc.DefaultStorage = c.store
		tc.Callbacks.ReceivedUsefulData = append(tc.Callbacks.ReceivedUsefulData, c.onUsefulData)
		tc.Callbacks.PeerConnAdded = append(tc.Callbacks.PeerConnAdded, c.onPeerConnAdded)
		tc.Callbacks.ReadExtendedHandshake = c.onExtendedHandshake
		tc.Callbacks.ReadMessage = c.onReadMessage
		cl, err := torrent.NewClient(tc)
		if err != nil {
			closeTCP()
			if ownTCP && port == "0" && attempt < 4 {
				continue // the UDP port was taken
			}
			return fmt.Errorf("starting BitTorrent client on %s: %w", o.Listen, err)
		}
		if tcp != nil {
			tcp.Attach(cl)
		}
		c.cl, c.tcp = cl, tcp
		return nil
	}
}

// mapPort asks the home router to forward the listen port; the mapping is
// removed at Close (by mapPort itself when Close began meanwhile).
// Discovery takes a couple of seconds: it runs beside the first track.
func (c *Client) mapPort() {
	defer close(c.portMapDone)
	port := c.cl.LocalPort()
	m, err := btclient.MapPort(port, c.log)
	if err != nil {
		c.log.Warn("no port mapping on the home router: listeners behind NAT reach us only by hole punching", "port", port, "err", err)
		return
	}
	c.mu.Lock()
	if c.closing.Load() {
		c.mu.Unlock()
		m.Close()
		return
	}
	c.portMap = m
	c.mu.Unlock()
	c.log.Info("port mapping on the home router", "port", port, "external_ip", m.ExternalIP)
}

// portMapped reports whether the router forwards our port.
func (c *Client) portMapped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.portMap != nil
}

// ListenPort is the BitTorrent port the client listens on.
func (c *Client) ListenPort() int { return c.cl.LocalPort() }

// PeerID is the client's BitTorrent peer id (it starts with
// proto.PeerIDPrefixPlayer).
func (c *Client) PeerID() string {
	id := c.cl.PeerID()
	return string(id[:])
}

// CacheDir is the cache directory.
func (c *Client) CacheDir() string { return c.cfg.CacheDir }

// Cached reports whether the track is in the cache, with its metadata.
func (c *Client) Cached(id string) (CacheEntry, bool) {
	e, err := readMeta(c.cfg.CacheDir, id)
	return e, err == nil
}

// addCachedTracks re-adds every cached track so it is announced and shared.
func (c *Client) addCachedTracks() error {
	ents, err := ListCache(c.cfg.CacheDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		mi, err := readCachedTorrent(c.cfg.CacheDir, e.Track.ID)
		if err != nil {
			c.log.Warn("skipping cached track", "id", e.Track.ID, "err", err)
			continue
		}
		if _, err := c.getOrAdd(e.Track, mi, false); err != nil {
			c.log.Warn("skipping cached track", "id", e.Track.ID, "err", err)
		}
	}
	return nil
}

// Open returns the Stream of a track and starts fetching it for playback:
// the head from the seed server, the rest from peers. torrentBytes is the
// .torrent; it may be nil when the track is cached.
func (c *Client) Open(track proto.Track, torrentBytes []byte) (*Stream, error) {
	s, err := c.add(track, torrentBytes)
	if err != nil {
		return nil, err
	}
	s.setMode(policy.Playing)
	return s, nil
}

// Prefetch starts downloading a track from peers (the seed server only over
// BitTorrent and within the seed lead of its start, never over HTTP) without
// the head from the seed server. A later Open of the same track upgrades it.
func (c *Client) Prefetch(track proto.Track, torrentBytes []byte) (*Stream, error) {
	s, err := c.add(track, torrentBytes)
	if err != nil {
		return nil, err
	}
	s.setMode(policy.Prefetch)
	return s, nil
}

func (c *Client) add(track proto.Track, torrentBytes []byte) (*Stream, error) {
	if c.closing.Load() {
		return nil, ErrClosed
	}
	var mi *metainfo.MetaInfo
	var err error
	if torrentBytes == nil {
		if track.ID == "" {
			return nil, errors.New("stream: neither a track id nor a torrent")
		}
		mi, err = readCachedTorrent(c.cfg.CacheDir, track.ID)
		if err != nil {
			return nil, fmt.Errorf("track %s is not cached and no torrent was given: %w", track.ID, err)
		}
		if track.Title == "" {
			if e, err := readMeta(c.cfg.CacheDir, track.ID); err == nil {
				track = e.Track
			}
		}
	} else {
		mi, err = metainfo.Load(bytes.NewReader(torrentBytes))
		if err != nil {
			return nil, fmt.Errorf("reading torrent of track %q: %w", track.Title, err)
		}
	}
	ih := mi.HashInfoBytes().HexString()
	if track.ID == "" {
		track.ID = ih
	} else if id, err := proto.ParseTrackID(track.ID); err != nil {
		return nil, err
	} else if id != ih {
		return nil, fmt.Errorf("track %s: torrent has infohash %s", id, ih)
	}
	track.ID = ih
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return nil, fmt.Errorf("track %s: torrent info: %w", ih, err)
	}
	if track.Size == 0 {
		track.Size = info.TotalLength()
	}
	if track.PieceLength == 0 {
		track.PieceLength = info.PieceLength
	}
	if track.Size != info.TotalLength() || track.PieceLength != info.PieceLength {
		return nil, fmt.Errorf("track %s: catalog says %d bytes in %d-byte pieces, torrent %d in %d",
			ih, track.Size, track.PieceLength, info.TotalLength(), info.PieceLength)
	}
	if len(info.UpvertedFiles()) != 1 {
		return nil, fmt.Errorf("track %s: torrent has %d files, want 1", ih, len(info.UpvertedFiles()))
	}
	if err := c.makeRoom(ih, track.Size); err != nil {
		return nil, err
	}
	if torrentBytes != nil {
		if err := writeFileAtomic(torrentPath(c.cfg.CacheDir, ih), torrentBytes); cachestore.IsDiskFull(err) {
			c.store.SetFull(err) // streams anyway; the track is just not re-shared after a restart
		} else if err != nil {
			return nil, err
		}
	}
	return c.getOrAdd(track, mi, true)
}

// getOrAdd adds the torrent to the client unless it is there, and records
// the track in the cache.
func (c *Client) getOrAdd(track proto.Track, mi *metainfo.MetaInfo, touch bool) (*Stream, error) {
	// addMu, not mu, is held while calling into anacrolix: anacrolix calls
	// back (onUsefulData) with its own lock held and then takes mu.
	c.addMu.Lock()
	defer c.addMu.Unlock()
	c.mu.Lock()
	s, ok := c.streams[track.ID]
	c.mu.Unlock()
	if ok {
		if touch {
			s.touch()
		}
		return s, nil
	}
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return nil, fmt.Errorf("track %s: %w", track.ID, err)
	}
	spec.ChunkSize = RequestSize
	spec.Webseeds = nil // our own policy fetches from seed URLs
	spec.DhtNodes = nil
	spec.Sources = nil
	trackers := announceURLs(spec.Trackers)
	spec.Trackers = nil // announced by the stream (announce.go)
	t, _, err := c.cl.AddTorrentSpec(spec)
	if err != nil {
		return nil, fmt.Errorf("adding track %s: %w", track.ID, err)
	}
	// anacrolix's default stops the torrent's downloads on a failed chunk
	// write; the storage falls back to memory instead, so keep fetching.
	t.SetOnWriteChunkError(c.onWriteChunkError)
	s, err = newStream(c, track, t)
	if err != nil {
		t.Drop()
		return nil, err
	}
	if err := s.startAnnounce(trackers); err != nil {
		s.shutdown()
		t.Drop()
		return nil, fmt.Errorf("track %s: %w", track.ID, err)
	}
	c.mu.Lock()
	c.streams[track.ID] = s
	c.byTorrent[t] = s
	c.mu.Unlock()
	if c.slowLine.Load() { // after the track is in c.streams: see noteSlowLine
		t.SetMaxEstablishedConns(SlowLineMaxPeers)
	}
	if touch {
		s.touch()
	}
	return s, nil
}

// noteSlowLine keeps every track, from now on, to SlowLineMaxPeers
// connections: the pacer found the uplink full, and anacrolix splits it
// evenly over every connection that asks. The flag is set before the
// tracks are read, and a track being added reads it after it is in
// c.streams, so no track is missed.
func (c *Client) noteSlowLine() {
	if c.slowLine.Swap(true) {
		return
	}
	c.log.Info("the uplink is full: keeping fewer BitTorrent connections per track", "max", SlowLineMaxPeers)
	c.mu.Lock()
	ts := make([]*torrent.Torrent, 0, len(c.byTorrent))
	for t := range c.byTorrent {
		ts = append(ts, t)
	}
	c.mu.Unlock()
	for _, t := range ts {
		t.SetMaxEstablishedConns(SlowLineMaxPeers)
	}
}

// makeRoom evicts least recently used tracks, never an open one, until a
// track of size bytes fits under the cap.
func (c *Client) makeRoom(id string, size int64) error {
	if c.cfg.CacheSize < 0 {
		return nil
	}
	ents, err := ListCache(c.cfg.CacheDir)
	if err != nil {
		return err
	}
	var total int64
	for _, e := range ents {
		if e.Track.ID != id {
			total += e.Track.Size
		}
	}
	// Oldest first.
	sort.Slice(ents, func(i, j int) bool { return ents[i].LastUsed.Before(ents[j].LastUsed) })
	for _, e := range ents {
		if total+size <= c.cfg.CacheSize {
			break
		}
		if e.Track.ID == id || c.inUse(e.Track.ID) {
			continue
		}
		if err := c.evict(e.Track.ID); err != nil {
			return err
		}
		total -= e.Track.Size
	}
	if total+size > c.cfg.CacheSize {
		c.log.Warn("cache over its cap: the open tracks do not fit", "cap", c.cfg.CacheSize, "need", total+size)
	}
	return nil
}

func (c *Client) inUse(id string) bool {
	c.mu.Lock()
	s, ok := c.streams[id]
	c.mu.Unlock()
	return ok && s.inUse()
}

// evict drops a track from the client and deletes its data, metadata and
// piece completion.
func (c *Client) evict(id string) error {
	c.addMu.Lock()
	defer c.addMu.Unlock()
	c.mu.Lock()
	s := c.streams[id]
	delete(c.streams, id)
	if s != nil {
		delete(c.byTorrent, s.t)
	}
	c.mu.Unlock()
	if s != nil {
		s.shutdown()
		c.lifeMu.Lock()
		s.t.Drop()
		c.lifeMu.Unlock()
		ih := s.t.InfoHash()
		for i := range s.numPieces {
			if err := c.completion.Set(metainfo.PieceKey{InfoHash: ih, Index: i}, false); err != nil {
				return fmt.Errorf("evicting %s: %w", id, err)
			}
		}
	}
	for _, p := range []string{trackDataDir(c.cfg.CacheDir, id), metaPath(c.cfg.CacheDir, id), torrentPath(c.cfg.CacheDir, id)} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("evicting %s: %w", id, err)
		}
	}
	c.log.Info("evicted track from cache", "id", id)
	return nil
}

// Streams lists the tracks the client holds (cached, prefetching, playing).
func (c *Client) Streams() []*Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].track.ID < out[j].track.ID })
	return out
}

// Close stops every stream, records cache state, closes the BitTorrent
// client and the storage.
func (c *Client) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	c.mu.Lock()
	streams := make([]*Stream, 0, len(c.streams))
	for _, s := range c.streams {
		streams = append(streams, s)
	}
	c.mu.Unlock()
	if c.cl != nil && c.log.Enabled(context.Background(), slog.LevelDebug) {
		cs := c.cl.ConnStats()
		c.log.Debug("BitTorrent totals", "read", cs.BytesRead.Int64(), "read_data", cs.BytesReadData.Int64(),
			"read_useful", cs.BytesReadUsefulData.Int64(), "chunks_wasted", cs.ChunksReadWasted.Int64(),
			"written", cs.BytesWritten.Int64(), "written_data", cs.BytesWrittenData.Int64())
	}
	stopAnnouncing(streams)
	for _, s := range streams {
		s.shutdown()
	}
	if c.portMapDone != nil {
		<-c.portMapDone
		c.mu.Lock()
		m := c.portMap
		c.portMap = nil
		c.mu.Unlock()
		if m != nil {
			m.Close()
		}
	}
	c.lifeMu.Lock()
	c.closed = true
	c.lifeMu.Unlock()
	var errs []error
	for _, s := range streams {
		if err := s.saveMeta(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.stopPacer != nil {
		c.stopPacer()
		<-c.pacerDone
	}
	if c.cl != nil {
		errs = append(errs, c.cl.Close()...)
		if c.tcp != nil {
			if err := c.tcp.Close(); err != nil {
				errs = append(errs, fmt.Errorf("closing the TCP listener: %w", err))
			}
		}
		// Closing the store also closes the completion store.
		if err := c.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing piece-completion store: %w", err))
		}
	}
	c.unlock()
	return errors.Join(errs...)
}

// streamOf finds the stream of a torrent; called from anacrolix callbacks.
func (c *Client) streamOf(t *torrent.Torrent) *Stream {
	if t == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byTorrent[t]
}

// onUsefulData runs under anacrolix's client lock: it must not call back
// into anacrolix.
func (c *Client) onUsefulData(ev torrent.ReceivedUsefulDataEvent) {
	s := c.streamOf(ev.Peer.Torrent())
	if s == nil || ev.Message == nil {
		return
	}
	seed := false
	if pc, ok := ev.Peer.TryAsPeerConn(); ok {
		seed = isSeedPeerID(pc.PeerID)
	}
	s.noteChunk(int(ev.Message.Index), int64(len(ev.Message.Piece)), seed)
}

// onDiskFull warns, once, that the cache disk is full.
func (c *Client) onDiskFull(err error) {
	c.log.Warn("cache disk full: streaming without caching", "cache", c.cfg.CacheDir, "err", err)
}

// onWriteChunkError replaces anacrolix's default handler, which disables
// the torrent's downloads for good. The fallback storage only fails a write
// for a reason other than a full disk, or when its memory is used up;
// anacrolix requests the chunk again.
func (c *Client) onWriteChunkError(err error) {
	if c.closing.Load() {
		return
	}
	if errors.Is(err, cachestore.ErrMemoryFull) {
		c.memFullOnce.Do(func() {
			c.log.Warn("cache disk full and the in-memory fallback is full: playback may stall", "err", err)
		})
	}
}

// onPieceNotComplete runs when anacrolix marks a piece not complete (a
// failed hash); it is called from the storage, without anacrolix's lock.
func (c *Client) onPieceNotComplete(ih metainfo.Hash, piece int) {
	c.mu.Lock()
	s := c.streams[ih.HexString()]
	c.mu.Unlock()
	if s != nil {
		s.forgetPieceBytes(piece)
	}
}

// onPeerConnAdded runs under anacrolix's client lock.
func (c *Client) onPeerConnAdded(pc *torrent.PeerConn) {
	s := c.streamOf(pc.Torrent())
	if s == nil {
		return
	}
	s.notePeerConn(pc)
}

func isSeedPeerID(id torrent.PeerID) bool {
	return strings.HasPrefix(string(id[:]), proto.PeerIDPrefixSeeder[:3])
}

// onExtendedHandshake learns where a seed server listens, for redialling it
// after the policy dropped it. Runs under anacrolix's client lock.
func (c *Client) onExtendedHandshake(pc *torrent.PeerConn, msg *pp.ExtendedHandshakeMessage) {
	if msg == nil || msg.Port <= 0 || !isSeedPeerID(pc.PeerID) {
		return
	}
	if s := c.streamOf(pc.Torrent()); s != nil {
		s.noteSeedAddr(pc, msg.Port)
	}
}

// onReadMessage counts the piece data listeners send and hides what a seed
// server holds (hideSeedPieces). Runs under anacrolix's client lock, before
// the message is handled.
func (c *Client) onReadMessage(pc *torrent.PeerConn, msg *pp.Message) {
	if msg.Keepalive {
		return
	}
	seed := isSeedPeerID(pc.PeerID)
	switch {
	case msg.Type == pp.Piece && !seed:
		if s := c.streamOf(pc.Torrent()); s != nil {
			s.notePeerWire(len(msg.Piece))
		}
	case seed:
		c.hideSeedPieces(pc, msg)
	}
}

// hideSeedPieces hides what a seed server holds from the BitTorrent client
// while the stream's policy keeps the seed's BitTorrent side closed (its
// HTTP side works): the client would otherwise ask the seed for any piece
// with a priority, also those that listeners hold, and a seed with little
// upload would spend it on copies the swarm already has. The connection
// stays (the seed server knows every listener, and relays hole punches);
// what the seed sends is taken from it over HTTP, as the policy decides.
func (c *Client) hideSeedPieces(pc *torrent.PeerConn, msg *pp.Message) {
	switch msg.Type {
	case pp.Bitfield, pp.HaveAll, pp.Have:
	default:
		return
	}
	s := c.streamOf(pc.Torrent())
	if s == nil || s.seedBTOpen.Load() {
		return
	}
	switch msg.Type {
	case pp.Bitfield:
		msg.Bitfield = make([]bool, len(msg.Bitfield))
	case pp.HaveAll:
		msg.Type = pp.HaveNone
	case pp.Have:
		*msg = pp.Message{Keepalive: true}
	}
}

// Stream returns the stream of a track the client holds.
func (c *Client) Stream(id string) (*Stream, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.streams[id]
	return s, ok
}

func (c *Client) unlock() {
	if c.lock != nil {
		c.lock.Close() // closing the descriptor releases the flock
		c.lock = nil
	}
}
