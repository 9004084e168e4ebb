//go:build integration

package netlab

import (
	"io"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// Two listeners, each behind its own NAT router, on 40 ms lines: neither
// can dial the other, so they meet only through a hole the seed server
// punches for them (BEP 55 over uTP; the seed is the relay both are
// connected to). The seed is capped at twice the bitrate, so that the
// second listener needs the first.
func TestListenersBehindNATMeetThroughAHolePunch(t *testing.T) {
	lab := newLab(t)
	ctx := t.Context()
	link := Link{Up: 200_000, Down: 1_000_000, RTT: 40 * time.Millisecond}
	var homes []*Host
	for _, name := range []string{"a", "b"} {
		h, err := lab.AddHome(ctx, name, Home{NAT: true, Link: link})
		if err != nil {
			t.Fatal(err)
		}
		homes = append(homes, h)
	}

	w := startWorld(t, lab, "40000", "mp3")
	seedURL, web := w.seedURL, w.web
	play := func(h *Host, linger string) *itest.Proc {
		return w.play(t, h, "--output", "null", "--linger", linger)
	}
	first := play(homes[0], "20s")
	time.Sleep(5 * time.Second)
	second := play(homes[1], "1s")
	reports := map[string]itest.Report{}
	for i, p := range []*itest.Proc{second, first} {
		rs := itest.Finish(t, homes[1-i].Name, p, 120*time.Second)
		if len(rs) != 1 {
			t.Fatalf("%s: %d reports, want 1", homes[1-i].Name, len(rs))
		}
		reports[homes[1-i].Name] = rs[0]
	}
	a, b := reports["a"], reports["b"]
	for name, r := range reports {
		t.Logf("%s: %s; connections %+v", name, r, r.Connections)
	}
	if got := a.Connections.Holepunched + b.Connections.Holepunched; got == 0 {
		t.Errorf("no hole-punched connection between the two homes (a: %+v, b: %+v)", a.Connections, b.Connections)
	}
	if b.BytesPeers == 0 {
		t.Errorf("the second listener got nothing from the first: %s", b)
	}

	resp, err := web.Get(seedURL + proto.PathMetrics)
	if err != nil {
		t.Fatalf("seeder metrics: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	conns := 0
	for _, m := range regexp.MustCompile(`(?m)^peertune_seeder_peer_connections_total\{[^}]*\} (\d+)`).FindAllStringSubmatch(string(body), -1) {
		n, _ := strconv.Atoi(m[1])
		conns += n
	}
	if conns < 2 {
		t.Errorf("seeder counted %d connections, want at least one per listener:\n%s", conns, grepLines(string(body), "peer_connections"))
	}
}
