package stream

import (
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
	s.t.AddPeers(ps)
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
