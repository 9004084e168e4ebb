package announce

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/peertune/peertune/tracker/peers"
)

// udpServe runs the real UDP server on a loopback socket of network
// (udp4 on 127.0.0.1 or udp6 on ::1).
func (f *fixture) udpServe(network string) (*UDP, net.Addr) {
	f.t.Helper()
	u, err := NewUDP(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	host := "127.0.0.1:0"
	if network == "udp6" {
		host = "[::1]:0"
	}
	pc, err := net.ListenPacket(network, host)
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- u.Serve(f.t.Context(), pc) }()
	f.t.Cleanup(func() {
		if err := u.Close(); err != nil {
			f.t.Error(err)
		}
		if err := <-done; err != nil {
			f.t.Errorf("serve: %v", err)
		}
	})
	return u, pc.LocalAddr()
}

type udpClient struct {
	t    *testing.T
	conn *net.UDPConn
	tid  uint32
}

func dialUDP(t *testing.T, network string, to net.Addr) *udpClient {
	t.Helper()
	c, err := net.DialUDP(network, nil, to.(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &udpClient{t: t, conn: c}
}

// roundTrip sends pkt and returns the reply, or nil after a short wait.
func (c *udpClient) roundTrip(pkt []byte) []byte {
	c.t.Helper()
	if _, err := c.conn.Write(pkt); err != nil {
		c.t.Fatal(err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := c.conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return buf[:n]
}

func header(connID uint64, action, tid uint32) []byte {
	b := binary.BigEndian.AppendUint64(nil, connID)
	b = binary.BigEndian.AppendUint32(b, action)
	return binary.BigEndian.AppendUint32(b, tid)
}

func (c *udpClient) connect() uint64 {
	c.t.Helper()
	c.tid++
	r := c.roundTrip(header(udpProtocolID, udpActionConnect, c.tid))
	if len(r) != 16 || binary.BigEndian.Uint32(r) != 0 || binary.BigEndian.Uint32(r[4:]) != c.tid {
		c.t.Fatalf("connect reply %x", r)
	}
	return binary.BigEndian.Uint64(r[8:])
}

func announcePacket(connID uint64, tid uint32, h peers.InfoHash, id peers.PeerID, left uint64, event uint32, numWant int32, port uint16) []byte {
	b := header(connID, udpActionAnnounce, tid)
	b = append(b, h[:]...)
	b = append(b, id[:]...)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint64(b, left)
	b = binary.BigEndian.AppendUint64(b, 0)
	b = binary.BigEndian.AppendUint32(b, event)
	b = binary.BigEndian.AppendUint32(b, 0) // ip
	b = binary.BigEndian.AppendUint32(b, 7) // key
	b = binary.BigEndian.AppendUint32(b, uint32(numWant))
	return binary.BigEndian.AppendUint16(b, port)
}

type udpAnnounceReply struct {
	interval, leechers, seeders uint32
	peers                       []netip.AddrPort
}

func parseAnnounceReply(t *testing.T, r []byte, tid uint32, peerSize int) udpAnnounceReply {
	t.Helper()
	if len(r) < 20 || binary.BigEndian.Uint32(r) != udpActionAnnounce || binary.BigEndian.Uint32(r[4:]) != tid || (len(r)-20)%peerSize != 0 {
		t.Fatalf("announce reply %q", r)
	}
	out := udpAnnounceReply{binary.BigEndian.Uint32(r[8:]), binary.BigEndian.Uint32(r[12:]), binary.BigEndian.Uint32(r[16:]), nil}
	for i := 20; i < len(r); i += peerSize {
		a, _ := netip.AddrFromSlice(r[i : i+peerSize-2])
		out.peers = append(out.peers, netip.AddrPortFrom(a, binary.BigEndian.Uint16(r[i+peerSize-2:])))
	}
	return out
}

func wantUDPError(t *testing.T, r []byte, tid uint32, msg string) {
	t.Helper()
	if len(r) < 8 || binary.BigEndian.Uint32(r) != udpActionError || binary.BigEndian.Uint32(r[4:]) != tid || !bytes.Contains(r[8:], []byte(msg)) {
		t.Errorf("reply %q, want error %q for tid %d", r, msg, tid)
	}
}

func TestUDPAnnounceAndScrape(t *testing.T) {
	known := ih(1)
	f := newFixture(t, []peers.InfoHash{known, ih(3)}, nil)
	_, addr := f.udpServe("udp4")
	seeder := dialUDP(t, "udp4", addr)
	leecher := dialUDP(t, "udp4", addr)

	id := seeder.connect()
	r := seeder.roundTrip(announcePacket(id, 5, known, pid(1), 0, 2, -1, 7000))
	rep := parseAnnounceReply(t, r, 5, 6)
	if rep.interval != 1800 || rep.seeders != 1 || rep.leechers != 0 || len(rep.peers) != 0 {
		t.Errorf("first announce reply %+v", rep)
	}
	lid := leecher.connect()
	rep = parseAnnounceReply(t, leecher.roundTrip(announcePacket(lid, 6, known, pid(2), 10, 2, 0, 7001)), 6, 6)
	if rep.seeders != 1 || rep.leechers != 1 || len(rep.peers) != 1 || rep.peers[0] != netip.MustParseAddrPort("127.0.0.1:7000") {
		t.Errorf("leecher reply %+v, want the seeder at 127.0.0.1:7000", rep)
	}
	// A second seeder is not given the first.
	rep = parseAnnounceReply(t, seeder.roundTrip(announcePacket(id, 7, known, pid(3), 0, 2, 50, 7002)), 7, 6)
	if len(rep.peers) != 1 || rep.peers[0].Port() != 7001 {
		t.Errorf("seeder reply %+v, want only the leecher", rep)
	}
	// Unregistered torrent.
	wantUDPError(t, leecher.roundTrip(announcePacket(lid, 8, ih(2), pid(2), 10, 2, 50, 7001)), 8, "unregistered torrent")
	// Completed, then scrape: tracked in order, the untracked one zero.
	leecher.roundTrip(announcePacket(lid, 9, known, pid(2), 0, 1, 50, 7001))
	sp := header(lid, udpActionScrape, 10)
	for _, h := range []peers.InfoHash{known, ih(2), ih(3)} {
		sp = append(sp, h[:]...)
	}
	r = leecher.roundTrip(sp)
	want := header(0, 0, 0)[:0]
	want = binary.BigEndian.AppendUint32(want, udpActionScrape)
	want = binary.BigEndian.AppendUint32(want, 10)
	for _, v := range []uint32{3, 1, 0, 0, 0, 0, 0, 0, 0} {
		want = binary.BigEndian.AppendUint32(want, v)
	}
	if !bytes.Equal(r, want) {
		t.Errorf("scrape reply %x, want %x", r, want)
	}
	// Stopped removes.
	rep = parseAnnounceReply(t, seeder.roundTrip(announcePacket(id, 11, known, pid(1), 0, 3, 50, 7000)), 11, 6)
	if rep.seeders != 2 || len(rep.peers) != 0 {
		t.Errorf("stopped reply %+v", rep)
	}
}

func TestUDPValidation(t *testing.T) {
	f := newFixture(t, nil, nil)
	_, addr := f.udpServe("udp4")
	c := dialUDP(t, "udp4", addr)
	id := c.connect()
	good := announcePacket(id, 1, ih(1), pid(1), 0, 0, 50, 7000)
	withEvent := append([]byte(nil), good...)
	binary.BigEndian.PutUint32(withEvent[80:], 9)
	port0 := append([]byte(nil), good...)
	binary.BigEndian.PutUint16(port0[96:], 0)
	scrape75 := header(id, udpActionScrape, 1)
	scrape75 = append(scrape75, make([]byte, 75*20)...)
	cases := []struct {
		name string
		pkt  []byte
		want string
	}{
		{"bad protocol id", header(12345, udpActionConnect, 1), "bad protocol id"},
		{"unknown action", header(id, 9, 1), "unknown action"},
		{"short announce", good[:97], "announce too short"},
		{"unknown event", withEvent, "unknown event"},
		{"port zero", port0, "port 0"},
		{"bad connection id", announcePacket(id^1, 1, ih(1), pid(1), 0, 0, 50, 7000), "bad connection id"},
		{"scrape ragged", append(header(id, udpActionScrape, 1), make([]byte, 25)...), "whole number"},
		{"scrape empty", header(id, udpActionScrape, 1), "whole number"},
		{"scrape 75", scrape75, "too many info hashes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { wantUDPError(t, c.roundTrip(tc.pkt), 1, tc.want) })
	}
	if r := c.roundTrip([]byte("short")); r != nil {
		t.Errorf("a 5-byte packet got reply %q", r)
	}
	if st, _ := f.store.Stats(t.Context()); st != (peers.Stats{}) {
		t.Errorf("bad packets changed the store: %+v", st)
	}
	scrape74 := header(id, udpActionScrape, 2)
	scrape74 = append(scrape74, make([]byte, 74*20)...)
	if r := c.roundTrip(scrape74); len(r) != 8+74*12 {
		t.Errorf("74-hash scrape reply has %d bytes", len(r))
	}
	parseAnnounceReply(t, c.roundTrip(good), 1, 6)
}

func TestUDPConnectionIDs(t *testing.T) {
	f := newFixture(t, nil, nil)
	_, addr := f.udpServe("udp4")
	a := dialUDP(t, "udp4", addr)
	b := dialUDP(t, "udp4", addr)
	id := a.connect()
	// Another source address cannot use a's id.
	wantUDPError(t, b.roundTrip(announcePacket(id, 3, ih(1), pid(1), 0, 0, 50, 7000)), 3, "bad connection id")
	// Valid for at least two minutes.
	f.clock.Advance(2*time.Minute - time.Second)
	parseAnnounceReply(t, a.roundTrip(announcePacket(id, 4, ih(1), pid(1), 0, 0, 50, 7000)), 4, 6)
	// Never more than four.
	f.clock.Advance(2*time.Minute + 2*time.Second)
	wantUDPError(t, a.roundTrip(announcePacket(id, 5, ih(1), pid(1), 0, 0, 50, 7000)), 5, "bad connection id")
	fresh := a.connect()
	parseAnnounceReply(t, a.roundTrip(announcePacket(fresh, 6, ih(1), pid(1), 0, 0, 50, 7000)), 6, 6)
	// A second server (another process's key) does not accept these ids.
	_, addr2 := newFixture(t, nil, nil).udpServe("udp4")
	c := dialUDP(t, "udp4", addr2)
	wantUDPError(t, c.roundTrip(announcePacket(fresh, 7, ih(1), pid(1), 0, 0, 50, 7000)), 7, "bad connection id")
}

func TestUDPIPv6AndReplySize(t *testing.T) {
	f := newFixture(t, nil, func(c *Config) { c.NumWantMax = 200 })
	_, addr := f.udpServe("udp6")
	c := dialUDP(t, "udp6", addr)
	id := c.connect()
	for i := range 80 {
		c.roundTrip(announcePacket(id, uint32(i), ih(1), pid(i), 0, 2, 0, uint16(7000+i)))
	}
	r := c.roundTrip(announcePacket(id, 99, ih(1), pid(999), 5, 2, 200, 9999))
	if len(r) > MaxUDPReply {
		t.Errorf("reply of %d bytes", len(r))
	}
	rep := parseAnnounceReply(t, r, 99, 18)
	if len(rep.peers) != (MaxUDPReply-20)/18 || rep.seeders != 80 {
		t.Errorf("got %d IPv6 peers and %d seeders, want %d and 80", len(rep.peers), rep.seeders, (MaxUDPReply-20)/18)
	}
	for _, p := range rep.peers {
		if p.Addr() != netip.MustParseAddr("::1") {
			t.Errorf("peer %v", p)
		}
	}
}

func TestUDPServeStops(t *testing.T) {
	f := newFixture(t, nil, nil)
	u, err := NewUDP(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx, pc) }()
	c := dialUDP(t, "udp4", pc.LocalAddr())
	c.connect()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	// Close with a second Serve running stops it too.
	pc2, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- u.Serve(t.Context(), pc2) }()
	c2 := dialUDP(t, "udp4", pc2.LocalAddr())
	c2.connect()
	if err := u.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := u.Serve(t.Context(), pc2); err == nil {
		t.Error("Serve after Close succeeded")
	}
}

// TestUDPNetworkStore serves a store that is not peers.Local (as Redis is
// not), which Serve reads with many readers: announces from many clients at
// once are all answered, and Close still stops every reader.
func TestUDPNetworkStore(t *testing.T) {
	known := ih(1)
	f := newFixture(t, nil, func(c *Config) { c.Store = networkStore{c.Store} })
	_, addr := f.udpServe("udp4")
	const clients = 40
	t.Run("clients", func(t *testing.T) {
		for i := range clients {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				c := dialUDP(t, "udp4", addr)
				id := c.connect()
				tid := uint32(100 + i)
				rep := parseAnnounceReply(t, c.roundTrip(announcePacket(id, tid, known, pid(i), 10, 2, 0, uint16(7000+i))), tid, 6)
				if rep.leechers < 1 || rep.leechers > clients || rep.seeders != 0 {
					t.Errorf("reply %+v", rep)
				}
			})
		}
	})
	swarms, err := f.store.Scrape(t.Context(), []peers.InfoHash{known})
	if err != nil {
		t.Fatal(err)
	}
	if swarms[0].Incomplete != clients {
		t.Errorf("the store holds %d leechers, want %d", swarms[0].Incomplete, clients)
	}
}
