// Command badpeer is a misbehaving BitTorrent listener for peertune's fault
// tests (internal/faults): it holds a track (the original file, read into
// memory), claims every piece complete, and flips a bit in every block it
// sends, so that each piece a victim takes from it fails its hash check. It
// announces to the tracker over HTTP like a player (peer id prefix
// "-PP0100-"), from its own loopback address, so that a victim's ban (by IP,
// in anacrolix) hits it and not the good peers on 127.0.0.1.
//
// It prints one JSON object a line on stdout: {"event":"listening",...}
// once, {"event":"conn",...} for each peer that connects,
// {"event":"closed",...} when a connection ends, and
// {"event":"stats",...} every second (bytes sent in all, connections open).
// It runs until SIGTERM or SIGINT.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"
	"github.com/anacrolix/torrent/storage"

	"github.com/peertune/peertune/proto"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "badpeer:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := flag.NewFlagSet("badpeer", flag.ContinueOnError)
	trackerURL := fs.String("tracker", "", "tracker base URL (the .torrent and the announce URL come from it)")
	id := fs.String("id", "", "track id (40 hex)")
	file := fs.String("file", "", "the track's original file")
	listen := fs.String("listen", "127.0.0.2:0", "BitTorrent listen address; announces go out from its IP")
	interval := fs.Duration("interval", 2*time.Second, "announce interval")
	if err := fs.Parse(os.Args[1:]); err != nil {
		return err
	}
	if *trackerURL == "" || *id == "" || *file == "" {
		return errors.New("-tracker, -id and -file are required")
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	localIP := net.ParseIP(host)
	if localIP == nil || localIP.To4() == nil {
		return fmt.Errorf("-listen %q: want a literal IPv4 address", *listen)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	// Every request goes out from the listen IP: the tracker records that
	// address, and the victim's ban falls on it alone.
	httpc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: localIP}}).DialContext,
	}}
	tb, err := get(ctx, httpc, strings.TrimRight(*trackerURL, "/")+proto.PathTrackPrefix+*id+"/torrent")
	if err != nil {
		return fmt.Errorf("fetching the torrent: %w", err)
	}
	mi, err := metainfo.Load(bytes.NewReader(tb))
	if err != nil {
		return fmt.Errorf("reading the torrent: %w", err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return fmt.Errorf("reading the torrent's info: %w", err)
	}
	if info.TotalLength() != int64(len(data)) {
		return fmt.Errorf("%s has %d bytes, the torrent %d", *file, len(data), info.TotalLength())
	}
	announce := mi.Announce
	for _, tier := range mi.AnnounceList {
		for _, u := range tier {
			if strings.HasPrefix(u, "http") {
				announce = u
			}
		}
	}
	if !strings.HasPrefix(announce, "http") {
		return fmt.Errorf("the torrent has no HTTP announce URL (%q)", announce)
	}

	var out printer
	var suffix [12]byte
	rand.Read(suffix[:])
	peerID := proto.PeerIDPrefixPlayer + fmt.Sprintf("%x", suffix[:6])
	cfg := torrent.NewDefaultClientConfig()
	cfg.DefaultStorage = corruptStorage{data: data}
	cfg.NoDHT = true
	cfg.NoDefaultPortForwarding = true
	cfg.DisableWebtorrent = true
	cfg.DisableWebseeds = true
	cfg.DisableUTP = true
	// Only accept: an outgoing dial leaves from 127.0.0.1, not from the
	// bad peer's own 127.0.0.2, and would slip past the victim's ban by IP.
	cfg.DialForPeerConns = false
	cfg.DisableIPv6 = true
	cfg.Seed = true
	cfg.PeerID = peerID
	cfg.Bep20 = proto.PeerIDPrefixPlayer
	cfg.SetListenAddr(*listen)
	cfg.Callbacks.PeerConnAdded = append(cfg.Callbacks.PeerConnAdded, func(pc *torrent.PeerConn) {
		out.print(map[string]any{"event": "conn", "addr": pc.RemoteAddr.String(), "peer_id": string(pc.PeerID[:8])})
	})
	// Called with the client lock held: nothing here may take it (Stats does).
	cfg.Callbacks.PeerConnClosed = func(pc *torrent.PeerConn) {
		out.print(map[string]any{"event": "closed", "addr": pc.RemoteAddr.String(), "peer_id": string(pc.PeerID[:8])})
	}
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("starting the BitTorrent client: %w", err)
	}
	defer cl.Close()
	spec, err := torrent.TorrentSpecFromMetaInfoErr(mi)
	if err != nil {
		return err
	}
	spec.Trackers = nil // announced below, from the listen IP
	spec.Webseeds = nil
	spec.DhtNodes = nil
	t, _, err := cl.AddTorrentSpec(spec)
	if err != nil {
		return fmt.Errorf("adding the torrent: %w", err)
	}
	<-t.GotInfo()
	port := cl.LocalPort()
	out.print(map[string]any{"event": "listening", "addr": net.JoinHostPort(host, strconv.Itoa(port)), "peer_id": peerID})

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var nextAnnounce time.Time
	event := "started"
	for {
		now := time.Now()
		if !now.Before(nextAnnounce) {
			nextAnnounce = now.Add(*interval)
			q := url.Values{
				"info_hash":  {string(t.InfoHash().Bytes())},
				"peer_id":    {peerID},
				"port":       {strconv.Itoa(port)},
				"uploaded":   {"0"},
				"downloaded": {"0"},
				"left":       {"0"},
				"compact":    {"1"},
			}
			if event != "" {
				q.Set("event", event)
			}
			sep := "?"
			if strings.Contains(announce, "?") {
				sep = "&"
			}
			if _, err := get(ctx, httpc, announce+sep+q.Encode()); err != nil {
				fmt.Fprintln(os.Stderr, "badpeer: announce:", err)
			} else {
				event = ""
			}
		}
		st := t.Stats()
		sent := st.BytesWrittenData
		out.print(map[string]any{"event": "stats", "sent": sent.Int64(), "conns": st.ActivePeers, "have": t.BytesCompleted()})
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: status %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// printer writes JSON lines to stdout, one at a time.
type printer struct{ mu sync.Mutex }

func (p *printer) print(v map[string]any) {
	b, _ := json.Marshal(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	os.Stdout.Write(append(b, '\n'))
}

// corruptStorage serves a whole file from memory, says every piece is
// complete, and flips one bit in every 16 KiB block it reads.
type corruptStorage struct{ data []byte }

func (s corruptStorage) OpenTorrent(_ context.Context, info *metainfo.Info, _ metainfo.Hash) (storage.TorrentImpl, error) {
	if info.TotalLength() != int64(len(s.data)) {
		return storage.TorrentImpl{}, fmt.Errorf("torrent has %d bytes, the file %d", info.TotalLength(), len(s.data))
	}
	return storage.TorrentImpl{
		Piece: func(p metainfo.Piece) storage.PieceImpl {
			return corruptPiece{data: s.data[p.Offset() : p.Offset()+p.Length()]}
		},
		Close: func() error { return nil },
	}, nil
}

type corruptPiece struct{ data []byte }

const blockSize = 16 << 10

func (p corruptPiece) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(p.data)) {
		return 0, io.EOF
	}
	n := copy(b, p.data[off:])
	// Flip the lowest bit of the first byte of each block in b.
	for i := range n {
		if (off+int64(i))%blockSize == 0 {
			b[i] ^= 1
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (corruptPiece) WriteAt([]byte, int64) (int, error) {
	return 0, errors.New("badpeer stores nothing")
}

func (corruptPiece) MarkComplete() error    { return nil }
func (corruptPiece) MarkNotComplete() error { return nil }
func (corruptPiece) Completion() storage.Completion {
	return storage.Completion{Ok: true, Complete: true}
}
