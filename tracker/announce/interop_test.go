package announce

import (
	"fmt"
	"net/netip"
	"testing"

	anatracker "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"

	"github.com/peertune/peertune/tracker/peers"
)

// TestInteropAnacrolix announces and scrapes through anacrolix/torrent's
// own tracker clients, HTTP and UDP, against the real servers.
func TestInteropAnacrolix(t *testing.T) { forEachFrontend(t, testInteropAnacrolix) }

func testInteropAnacrolix(t *testing.T, fe frontend) {
	f := newFixture(t, nil, nil)
	httpURL := f.server(fe).URL + "/announce"
	_, udpAddr := f.udpServe("udp4")
	urls := map[string]string{"http": httpURL, "udp": "udp://" + udpAddr.String()}
	for i, proto := range []string{"http", "udp"} {
		t.Run(proto, func(t *testing.T) {
			h := ih(byte(50 + i))
			cl, err := anatracker.NewClient(urls[proto], anatracker.NewClientOpts{})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			announce := func(n int, left int64, event anatracker.AnnounceEvent) anatracker.AnnounceResponse {
				t.Helper()
				res, err := cl.Announce(t.Context(), anatracker.AnnounceRequest{
					InfoHash: infohash.T(h), PeerId: [20]byte(pid(n)), Left: left, Event: event, NumWant: -1, Port: uint16(7000 + n),
				}, anatracker.AnnounceOpt{})
				if err != nil {
					t.Fatalf("announce %d: %v", n, err)
				}
				return res
			}
			announce(1, 0, anatracker.Started)
			res := announce(2, 100, anatracker.Started)
			if res.Seeders != 1 || res.Leechers != 1 || res.Interval != 1800 || len(res.Peers) != 1 {
				t.Fatalf("leecher got %+v", res)
			}
			got, ok := res.Peers[0].ToNetipAddrPort()
			if !ok || got != netip.MustParseAddrPort("127.0.0.1:7001") {
				t.Errorf("peer %v, want 127.0.0.1:7001", res.Peers[0])
			}
			announce(2, 0, anatracker.Completed)
			sc, err := cl.Scrape(t.Context(), []infohash.T{infohash.T(h)})
			if err != nil {
				t.Fatal(err)
			}
			if len(sc) != 1 || fmt.Sprint(sc[0]) != "{2 1 0}" {
				t.Errorf("scrape %+v, want 2 seeders, 1 completed, 0 leechers", sc)
			}
		})
	}
	// Unregistered torrents are refused through the client too.
	g := newFixture(t, []peers.InfoHash{ih(1)}, nil)
	cl, err := anatracker.NewClient(g.server(fe).URL+"/announce", anatracker.NewClientOpts{})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Announce(t.Context(), anatracker.AnnounceRequest{InfoHash: infohash.T(ih(2)), PeerId: [20]byte(pid(1)), Port: 7000}, anatracker.AnnounceOpt{}); err == nil {
		t.Error("announce of an unregistered torrent succeeded")
	}
}
