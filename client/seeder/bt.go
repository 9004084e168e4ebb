package seeder

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	g "github.com/anacrolix/generics"
	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/client/announce"
	"github.com/peertune/peertune/internal/btclient"
	"github.com/peertune/peertune/internal/btlog"
	"github.com/peertune/peertune/proto"
)

// btSeeder seeds library files over BitTorrent with one anacrolix client.
// Each torrent's storage points at the library file in place (no part
// files, nothing copied), and its pieces are marked complete from the
// seeder's own hashes, so adding a track reads nothing.
type btSeeder struct {
	cl         *torrent.Client
	completion storage.PieceCompletion
	log        *slog.Logger
	quiet      *atomic.Bool // drops anacrolix's log records while closing

	mu       sync.Mutex
	torrents map[metainfo.Hash]btTorrent
}

type btTorrent struct {
	t        *torrent.Torrent
	storage  storage.ClientImplCloser
	announce *announce.Loop
}

// newBTSeeder starts the BitTorrent client with opts (its peer id prefix
// and logger are the seeder's), counting its connections in peerConns.
func newBTSeeder(opts btclient.Options, peerConns *prometheus.CounterVec, log *slog.Logger) (*btSeeder, error) {
	quiet := new(atomic.Bool)
	opts.PeerIDPrefix = proto.PeerIDPrefixSeeder
	opts.Logger = slog.New(btlog.Handler{Next: log.With("component", "bt").Handler(), Min: slog.LevelWarn, Quiet: quiet})
	listen := opts.Listen
	cfg, err := btclient.Config(opts)
	if err != nil {
		return nil, fmt.Errorf("BitTorrent client: %w", err)
	}
	// Every torrent gets its own storage (add). Without a default storage
	// anacrolix opens one in its DataDir, ".", and leaves a .torrent.db
	// piece-completion database in the user's working directory.
	completion := storage.NewMapPieceCompletion()
	defaultStorage := storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir:   os.TempDir(),
		PieceCompletion: completion,
		UsePartFiles:    g.Some(false),
	})
	cfg.DefaultStorage = defaultStorage
	cfg.Callbacks.PeerConnAdded = append(cfg.Callbacks.PeerConnAdded, func(pc *torrent.PeerConn) {
		peerConns.WithLabelValues(btclient.ConnKind(pc)).Inc()
	})
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		defaultStorage.Close()
		return nil, fmt.Errorf("starting BitTorrent client on %q: %w", listen, err)
	}
	return &btSeeder{
		cl:         cl,
		completion: completion,
		log:        log,
		quiet:      quiet,
		torrents:   map[metainfo.Hash]btTorrent{},
	}, nil
}

// Addr is the address the client listens on.
func (b *btSeeder) Addr() string {
	for _, l := range b.cl.ListenAddrs() {
		return l.String()
	}
	return ""
}

// uploaded is the track data sent to peers so far.
func (b *btSeeder) uploaded() int64 {
	s := b.cl.ConnStats()
	return s.BytesWrittenData.Int64()
}

// add seeds the file at absPath, described by mi, whose pieces the seeder
// hashed itself (they are marked complete without reading the file).
func (b *btSeeder) add(mi *metainfo.MetaInfo, ih metainfo.Hash, absPath string, numPieces int, urls []string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.torrents[ih]; ok {
		return nil
	}
	for i := range numPieces {
		if err := b.completion.Set(metainfo.PieceKey{InfoHash: ih, Index: i}, true); err != nil {
			return fmt.Errorf("marking %s complete: %w", absPath, err)
		}
	}
	st := storage.NewFileOpts(storage.NewFileClientOpts{
		ClientBaseDir:   filepath.Dir(absPath),
		PieceCompletion: b.completion,
		UsePartFiles:    g.Some(false),
		Logger:          b.log.With("component", "bt-storage"),
	})
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return fmt.Errorf("torrent of %s: %w", absPath, err)
	}
	spec.Storage = st
	spec.Webseeds = nil
	spec.Trackers = nil // announced by announce.Loop
	spec.DisableInitialPieceCheck = true
	t, _, err := b.cl.AddTorrentSpec(spec)
	if err != nil {
		st.Close()
		return fmt.Errorf("seeding %s: %w", absPath, err)
	}
	loop, err := announce.Start(announce.Config{
		InfoHash: ih,
		URLs:     urls,
		PeerID:   b.cl.PeerID(),
		Port:     b.cl.LocalPort(),
		Left:     t.BytesMissing,
		AddPeers: func(ps []torrent.PeerInfo) { t.AddPeers(ps) },
		Logger:   b.log.With("component", "announce"),
	})
	if err != nil {
		t.Drop()
		st.Close()
		return fmt.Errorf("announcing %s: %w", absPath, err)
	}
	b.torrents[ih] = btTorrent{t: t, storage: st, announce: loop}
	return nil
}

// has reports whether ih is being seeded. (Two library files with the
// same name and bytes share an infohash; when one goes, the other is
// added again with its own path.)
func (b *btSeeder) has(ih metainfo.Hash) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.torrents[ih]
	return ok
}

// complete reports whether the client holds every piece of ih (the file is
// where the storage looks, with the size it was hashed at).
func (b *btSeeder) complete(ih metainfo.Hash) bool {
	b.mu.Lock()
	bt, ok := b.torrents[ih]
	b.mu.Unlock()
	if !ok {
		return false
	}
	select {
	case <-bt.t.GotInfo():
	case <-time.After(5 * time.Second):
		return false
	}
	return bt.t.BytesMissing() == 0
}

// remove stops seeding ih and tells its trackers so (event=stopped,
// bounded by announce.DefaultStopTimeout).
func (b *btSeeder) remove(ih metainfo.Hash) {
	b.mu.Lock()
	bt, ok := b.torrents[ih]
	delete(b.torrents, ih)
	b.mu.Unlock()
	if !ok {
		return
	}
	bt.announce.Close()
	bt.t.Drop()
	bt.storage.Close()
}

// close stops announcing (event=stopped to every tracker, all torrents at
// once), closes every connection and the storages.
func (b *btSeeder) close() {
	b.mu.Lock()
	all := b.torrents
	b.torrents = map[metainfo.Hash]btTorrent{}
	b.mu.Unlock()
	var wg sync.WaitGroup
	for _, bt := range all {
		wg.Go(func() { bt.announce.Close() })
	}
	wg.Wait()
	for _, bt := range all {
		bt.t.Drop()
	}
	// Reads cut short by Close log errors in anacrolix: expected here.
	b.quiet.Store(true)
	b.cl.Close()
	for _, bt := range all {
		bt.storage.Close()
	}
}
