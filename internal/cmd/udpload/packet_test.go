package main

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAppendConnect(t *testing.T) {
	got := appendConnect(nil, 0xdeadbeef)
	want, _ := hex.DecodeString("0000041727101980" + "00000000" + "deadbeef")
	if !bytes.Equal(got, want) {
		t.Fatalf("connect request\n got %x\nwant %x", got, want)
	}
}

func TestAppendAnnounceLayout(t *testing.T) {
	p := announceParams{
		ConnectionID: 0x0102030405060708, TransactionID: 7,
		Downloaded: 11, Left: 12, Uploaded: 13, Event: 2, Key: 14, NumWant: 50, Port: 6881,
	}
	copy(p.InfoHash[:], "IIIIIIIIIIIIIIIIIIII")
	p.PeerID = peerID(42)
	b := appendAnnounce(nil, &p)
	if len(b) != announceRequestLen {
		t.Fatalf("announce request is %d bytes, want %d", len(b), announceRequestLen)
	}
	be := binary.BigEndian
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"connection id", be.Uint64(b[0:]), 0x0102030405060708},
		{"action", uint64(be.Uint32(b[8:])), actionAnnounce},
		{"transaction id", uint64(be.Uint32(b[12:])), 7},
		{"downloaded", be.Uint64(b[56:]), 11},
		{"left", be.Uint64(b[64:]), 12},
		{"uploaded", be.Uint64(b[72:]), 13},
		{"event", uint64(be.Uint32(b[80:])), 2},
		{"ip", uint64(be.Uint32(b[84:])), 0},
		{"key", uint64(be.Uint32(b[88:])), 14},
		{"numwant", uint64(be.Uint32(b[92:])), 50},
		{"port", uint64(be.Uint16(b[96:])), 6881},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if string(b[16:36]) != "IIIIIIIIIIIIIIIIIIII" {
		t.Errorf("info hash = %q", b[16:36])
	}
	if string(b[36:56]) != "-BL0001-000000000042" {
		t.Errorf("peer id = %q", b[36:56])
	}
}

func TestAppendAnnounceNumWantDefault(t *testing.T) {
	b := appendAnnounce(nil, &announceParams{NumWant: -1})
	if got := binary.BigEndian.Uint32(b[92:]); got != 0xffffffff {
		t.Fatalf("numwant -1 encoded as %#x", got)
	}
}

func TestParseConnectReply(t *testing.T) {
	pkt := binary.BigEndian.AppendUint32(nil, actionConnect)
	pkt = binary.BigEndian.AppendUint32(pkt, 99)
	pkt = binary.BigEndian.AppendUint64(pkt, 0xabcdef)
	tid, id, err := parseConnectReply(pkt)
	if err != nil || tid != 99 || id != 0xabcdef {
		t.Fatalf("parseConnectReply = %d, %#x, %v", tid, id, err)
	}
	if _, _, err := parseConnectReply(pkt[:12]); !errors.Is(err, errShortPacket) {
		t.Fatalf("short connect reply: err = %v, want errShortPacket", err)
	}
}

func announceReplyPacket(tid uint32, peers int) []byte {
	pkt := binary.BigEndian.AppendUint32(nil, actionAnnounce)
	pkt = binary.BigEndian.AppendUint32(pkt, tid)
	pkt = binary.BigEndian.AppendUint32(pkt, 1800) // interval
	pkt = binary.BigEndian.AppendUint32(pkt, 3)    // leechers
	pkt = binary.BigEndian.AppendUint32(pkt, 4)    // seeders
	for i := range peers {
		pkt = append(pkt, 127, 0, 0, 1, 0x1a, byte(i))
	}
	return pkt
}

func TestParseAnnounceReply(t *testing.T) {
	r, err := parseAnnounceReply(announceReplyPacket(5, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := announceReply{TransactionID: 5, Interval: 1800, Leechers: 3, Seeders: 4, Peers: 3}
	if r != want {
		t.Fatalf("got %+v, want %+v", r, want)
	}
	bad := append(announceReplyPacket(5, 1), 9) // a 7-byte tail is not a peer list
	if _, err := parseAnnounceReply(bad); err == nil {
		t.Fatal("a peer list that is not a multiple of 6 bytes was accepted")
	}
	if _, err := parseAnnounceReply(announceReplyPacket(5, 0)[:19]); !errors.Is(err, errShortPacket) {
		t.Fatalf("short announce reply: err = %v", err)
	}
}

func TestParseErrorPacket(t *testing.T) {
	pkt := binary.BigEndian.AppendUint32(nil, actionError)
	pkt = binary.BigEndian.AppendUint32(pkt, 8)
	pkt = append(pkt, "unknown torrent"...)
	_, err := parseAnnounceReply(pkt)
	var te *trackerError
	if !errors.As(err, &te) || te.Message != "unknown torrent" || te.TransactionID != 8 {
		t.Fatalf("error packet: err = %v", err)
	}
}

func TestReadPool(t *testing.T) {
	in := "0123456789abcdef0123456789abcdef01234567\n\nFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF\n"
	pool, err := readPool(strings.NewReader(in))
	if err != nil || len(pool) != 2 || pool[1][19] != 0xff || pool[0][0] != 0x01 {
		t.Fatalf("readPool = %x, %v", pool, err)
	}
	for _, bad := range []string{"", "0123\n", strings.Repeat("g", 40) + "\n"} {
		if _, err := readPool(strings.NewReader(bad)); err == nil {
			t.Errorf("readPool(%q) accepted it", bad)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	if p := percentile(d, 0.5); p != 50 {
		t.Errorf("p50 = %d", p)
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 = %d", p)
	}
	if p := percentile(d[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %d", p)
	}
}

func TestParseFlagsBounds(t *testing.T) {
	var sink bytes.Buffer
	ok := []string{"-addr", "127.0.0.1:1", "-pool", "p"}
	if _, err := parseFlags(ok, &sink); err != nil {
		t.Fatalf("valid flags refused: %v", err)
	}
	for _, extra := range [][]string{{"-peers", "50001"}, {"-workers", "0"}, {"-duration", "0s"}, {"-count", "0"}} {
		if _, err := parseFlags(append(append([]string{}, ok...), extra...), &sink); err == nil {
			t.Errorf("flags %q accepted", extra)
		}
	}
}

// FuzzParseReply feeds arbitrary datagrams to the reply parsers: they must
// return an error or a consistent reply, never panic.
func FuzzParseReply(f *testing.F) {
	f.Add(announceReplyPacket(1, 2))
	f.Add(announceReplyPacket(1, 0))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 1, 'n', 'o'})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		if r, err := parseAnnounceReply(pkt); err == nil {
			if r.Peers*compactPeerLen+announceHeaderLen != len(pkt) {
				t.Fatalf("%d peers from a %d-byte reply", r.Peers, len(pkt))
			}
		}
		_, _, _ = parseConnectReply(pkt)
	})
}
