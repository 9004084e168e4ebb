package announce

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/peertune/peertune/tracker/peers"
)

// takenDown makes a TakenDown hook from a set of infohashes.
func takenDown(hashes ...peers.InfoHash) TrackedFunc {
	set := map[peers.InfoHash]bool{}
	for _, h := range hashes {
		set[h] = true
	}
	return func(_ context.Context, ih peers.InfoHash) (bool, error) { return set[ih], nil }
}

func TestHTTPTakenDown(t *testing.T) { forEachFrontend(t, testHTTPTakenDown) }

// testHTTPTakenDown: announces and scrapes of a taken-down infohash fail
// with TakenDownReason, whether the tracker serves the catalog's tracks
// only or any infohash; they store no peer; others are answered as before.
func testHTTPTakenDown(t *testing.T, fe frontend) {
	down, kept, unknown := ih(1), ih(2), ih(3)
	for _, open := range []bool{false, true} {
		tracked := []peers.InfoHash{kept}
		if open {
			tracked = nil
		}
		f := newFixture(t, tracked, func(c *Config) { c.TakenDown = takenDown(down) })
		srv := f.server(fe)
		_, r := get(t, srv, "/announce", announceQuery(down, pid(1), 7000, 10))
		if r["failure reason"] != TakenDownReason {
			t.Errorf("open=%v: announce of a taken-down torrent: %v", open, r)
		}
		if st, _ := f.store.Stats(t.Context()); st != (peers.Stats{}) {
			t.Errorf("open=%v: a taken-down announce stored a peer: %+v", open, st)
		}
		if _, r = get(t, srv, "/announce", announceQuery(kept, pid(1), 7000, 10)); r["failure reason"] != nil {
			t.Errorf("open=%v: announce of a served torrent: %v", open, r)
		}
		_, r = get(t, srv, "/announce", announceQuery(unknown, pid(1), 7000, 10))
		if want := map[bool]any{false: "unregistered torrent", true: nil}[open]; r["failure reason"] != want {
			t.Errorf("open=%v: announce of an unknown torrent: %v, want failure %v", open, r, want)
		}
		_, r = get(t, srv, "/scrape", url.Values{"info_hash": {hs(kept), hs(down)}}.Encode())
		if r["failure reason"] != TakenDownReason {
			t.Errorf("open=%v: scrape naming a taken-down torrent: %v", open, r)
		}
		if _, r = get(t, srv, "/scrape", url.Values{"info_hash": {hs(kept)}}.Encode()); r["failure reason"] != nil {
			t.Errorf("open=%v: scrape of a served torrent: %v", open, r)
		}
		if got := counterValue(t, f.cfg.Metrics.requests[opAnnounce][protoHTTP][resultTakenDown]); got != 1 {
			t.Errorf("open=%v: taken_down announces counted %v, want 1", open, got)
		}
	}
}

// A failing deny list is an internal error, never a served swarm.
func TestHTTPTakenDownError(t *testing.T) {
	f := newFixture(t, nil, func(c *Config) {
		c.TakenDown = func(context.Context, peers.InfoHash) (bool, error) { return false, errors.New("redis down") }
	})
	status, r := get(t, f.server(viaNetHTTP), "/announce", announceQuery(ih(1), pid(1), 7000, 10))
	if status != 500 || r["failure reason"] != "internal error" {
		t.Errorf("announce with a failing deny list: %d %v", status, r)
	}
}

func TestUDPTakenDown(t *testing.T) {
	down, kept := ih(1), ih(2)
	for _, open := range []bool{false, true} {
		tracked := []peers.InfoHash{kept}
		if open {
			tracked = nil
		}
		f := newFixture(t, tracked, func(c *Config) { c.TakenDown = takenDown(down) })
		_, addr := f.udpServe("udp4")
		c := dialUDP(t, "udp4", addr)
		id := c.connect()
		wantUDPError(t, c.roundTrip(announcePacket(id, 5, down, pid(1), 10, 2, -1, 7000)), 5, TakenDownReason)
		parseAnnounceReply(t, c.roundTrip(announcePacket(id, 6, kept, pid(1), 10, 2, -1, 7000)), 6, 6)
		sp := header(id, udpActionScrape, 7)
		sp = append(sp, kept[:]...)
		sp = append(sp, down[:]...)
		wantUDPError(t, c.roundTrip(sp), 7, TakenDownReason)
		if st, _ := f.store.Stats(t.Context()); st.Seeders+st.Leechers != 1 {
			t.Errorf("open=%v: %+v stored; want only the served torrent's peer", open, st)
		}
	}
}
