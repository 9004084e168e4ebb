package stream

import (
	"net"
	"testing"

	"github.com/anacrolix/torrent"
)

// TestWithoutBannedMatchesEitherForm: anacrolix keeps a ban in the form it
// saw (here IPv4-mapped); the tracker hands the same peer out as plain
// IPv4, and the other way round.
func TestWithoutBannedMatchesEitherForm(t *testing.T) {
	peer := func(ip string, port int) torrent.PeerInfo {
		return torrent.PeerInfo{Addr: &net.TCPAddr{IP: net.ParseIP(ip), Port: port}}
	}
	plain := func(ip string, port int) torrent.PeerInfo {
		p := peer(ip, port)
		p.Addr.(*net.TCPAddr).IP = p.Addr.(*net.TCPAddr).IP.To4()
		return p
	}
	ps := []torrent.PeerInfo{plain("127.0.0.2", 1), peer("127.0.0.3", 2), plain("127.0.0.4", 3), peer("::1", 4)}
	got := withoutBanned(ps, []string{"::ffff:127.0.0.2", "127.0.0.3"})
	if len(got) != 2 || got[0].Addr.String() != "127.0.0.4:3" || got[1].Addr.String() != "[::1]:4" {
		t.Errorf("kept %v, want 127.0.0.4:3 and [::1]:4", got)
	}
	if len(ps) != 4 || ps[0].Addr.String() != "127.0.0.2:1" {
		t.Errorf("the caller's slice changed: %v", ps)
	}
	if got := withoutBanned(ps, nil); len(got) != 4 {
		t.Errorf("nothing banned, %d of 4 kept", len(got))
	}
}
