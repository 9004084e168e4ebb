//go:build integration

package netlab

import (
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// A listener behind a home router that speaks UPnP-IGD (a real miniupnpd)
// asks it, with --upnp, to forward its BitTorrent port: a listener on a
// public address then dials it through the router, and the first counts
// that incoming connection as one that came through its port mapping.
func TestListenerBehindNATWithUPnPIsDialled(t *testing.T) {
	lab := newLab(t)
	ctx := t.Context()
	link := Link{Up: 200_000, Down: 1_000_000, RTT: 20 * time.Millisecond}
	home, err := lab.AddHome(ctx, "upnp", Home{NAT: true, UPnP: true, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	public, err := lab.AddHome(ctx, "pub", Home{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	w := startWorld(t, lab, "40000", "mp3")
	play := func(h *Host, linger string, extra ...string) *itest.Proc {
		return w.play(t, h, append([]string{"--output", "null", "--linger", linger, "--log-level", "info"}, extra...)...)
	}
	first := play(home, "20s", "--upnp")
	// Its mapping is made in the first seconds; the public listener finds
	// it through the tracker.
	time.Sleep(5 * time.Second)
	second := play(public, "1s")
	rs := itest.Finish(t, "pub", second, 120*time.Second)
	fr := itest.Finish(t, "upnp", first, 120*time.Second)
	if len(rs) != 1 || len(fr) != 1 {
		t.Fatalf("reports: %d and %d, want 1 each", len(fr), len(rs))
	}
	t.Logf("behind UPnP: %s; connections %+v", fr[0], fr[0].Connections)
	t.Logf("public: %s; connections %+v", rs[0], rs[0].Connections)
	if fr[0].Connections.Incoming == 0 || fr[0].Connections.UPnP == 0 {
		t.Errorf("the listener behind the UPnP router had %+v: want an incoming connection through its mapping\nstderr:\n%s",
			fr[0].Connections, grepLines(first.Stderr(), "UPnP"))
	}
	if rs[0].Connections.Holepunched != 0 && fr[0].Connections.Incoming == 0 {
		t.Errorf("the public listener reached it only by a hole punch")
	}
	if !strings.Contains(first.Stderr(), "port mapping") {
		t.Errorf("no port mapping logged:\n%s", first.Stderr())
	}
}
