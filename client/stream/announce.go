package stream

import (
	"net"
	"net/netip"
	"sync"

	"github.com/anacrolix/torrent"

	"github.com/peertune/peertune/client/announce"
)

// announceURLs flattens a torrent's announce tiers, in order, without
// duplicates.
func announceURLs(tiers [][]string) []string {
	var out []string
	seen := map[string]bool{}
	for _, tier := range tiers {
		for _, u := range tier {
			if u != "" && !seen[u] {
				seen[u] = true
				out = append(out, u)
			}
		}
	}
	return out
}

// startAnnounce starts the stream's tracker announcer (anacrolix's own is
// off: it waits a minute after a failed announce). Peers the tracker hands
// out go to the torrent like any other; the policy decides on its next
// tick whether a seed server among them may stay connected.
func (s *Stream) startAnnounce(urls []string) error {
	loop, err := announce.Start(announce.Config{
		InfoHash:  s.t.InfoHash(),
		URLs:      urls,
		PeerID:    s.c.cl.PeerID(),
		Port:      s.c.cl.LocalPort(),
		Left:      s.t.BytesMissing,
		Completed: s.t.Complete().On(),
		AddPeers:  s.addTrackerPeers,
		Logger:    s.c.log.With("component", "announce", "track", s.track.ID),
	})
	if err != nil {
		return err
	}
	s.ann = loop
	return nil
}

func (s *Stream) addTrackerPeers(ps []torrent.PeerInfo) {
	if s.ctx.Err() != nil {
		return
	}
	s.t.AddPeers(withoutBanned(ps, s.c.cl.BadPeerIPs()))
}

// withoutBanned drops the peers whose address the client banned for bad
// data, whatever form either address takes. anacrolix v1.61.0 bans the
// address of a peer that alone sent a bad piece in IPv4-mapped form
// (net.ParseIP) and checks a tracker's peers in plain IPv4 form, so without
// this the tracker's next answer brought a banned peer back and it sent
// another bad piece (TestCorruptPeer saw two connections, in some runs).
// Peers learnt over PEX still pass anacrolix's own check only.
func withoutBanned(ps []torrent.PeerInfo, banned []string) []torrent.PeerInfo {
	if len(banned) == 0 {
		return ps
	}
	bad := make(map[netip.Addr]struct{}, len(banned))
	for _, b := range banned {
		if a, err := netip.ParseAddr(b); err == nil {
			bad[a.Unmap()] = struct{}{}
		}
	}
	out := ps[:0:0]
	for _, p := range ps {
		if tcp, ok := p.Addr.(*net.TCPAddr); ok {
			if a, ok := netip.AddrFromSlice(tcp.IP); ok {
				if _, isBad := bad[a.Unmap()]; isBad {
					continue
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// stopAnnounce sends event=stopped (bounded) and stops the announcer.
func (s *Stream) stopAnnounce() {
	if s.ann != nil {
		s.ann.Close()
	}
}

// stopAnnouncing stops the announcers of all streams at once, so that
// their bounded event=stopped announces overlap on Close.
func stopAnnouncing(streams []*Stream) {
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Go(s.stopAnnounce)
	}
	wg.Wait()
}
