package announce

import (
	"bytes"
	"encoding/binary"
	"net/url"
	"strconv"
	"testing"

	"github.com/peertune/peertune/tracker/peers"
)

func fuzzSeedQueries() []string {
	return []string{
		announceQuery(ih(1), pid(1), 6881, 0),
		announceQuery(ih(2), pid(2), 1, 100, "event", "started", "numwant", "200", "compact", "0", "no_peer_id", "1"),
		announceQuery(ih(3), pid(3), 65535, 5, "event", "stopped", "ip", "2001:db8::1", "key", "abc"),
		"info_hash=%12%34&peer_id=x&port=0",
		"info_hash=" + string(bytes.Repeat([]byte("a"), 20)) + "&peer_id=%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D%2D&port=%36%38%38%31&left=+",
		"&&==&info_hash&=&%",
	}
}

// FuzzParseAnnounceQuery: never panics; what it accepts is valid and agrees
// with net/url's decoding of the binary parameters.
func FuzzParseAnnounceQuery(f *testing.F) {
	for _, q := range fuzzSeedQueries() {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		req, err := ParseAnnounceQuery(q)
		if err != nil {
			return
		}
		if req.Port == 0 || len(q) > maxAnnounceQueryBytes {
			t.Fatalf("accepted port 0 or an oversized query: %+v", req)
		}
		if v, uerr := url.ParseQuery(q); uerr == nil {
			if got := v.Get("info_hash"); got != string(req.InfoHash[:]) {
				t.Fatalf("info_hash %x, net/url decodes %x", req.InfoHash, got)
			}
			if got := v["peer_id"]; got[len(got)-1] != string(req.PeerID[:]) {
				t.Fatalf("peer_id %x, net/url decodes %x", req.PeerID, got)
			}
			if p, perr := strconv.ParseUint(v["port"][len(v["port"])-1], 10, 16); perr != nil || uint16(p) != req.Port {
				t.Fatalf("port %d, net/url decodes %q", req.Port, v["port"])
			}
		}
		// Re-encoding what was parsed parses to the same request.
		again, err := ParseAnnounceQuery(encodeAnnounce(req))
		if err != nil || again != req {
			t.Fatalf("round trip: %+v -> %+v, %v", req, again, err)
		}
	})
}

func encodeAnnounce(r AnnounceRequest) string {
	v := url.Values{}
	v.Set("info_hash", string(r.InfoHash[:]))
	v.Set("peer_id", string(r.PeerID[:]))
	v.Set("port", strconv.Itoa(int(r.Port)))
	v.Set("left", strconv.FormatUint(r.Left, 10))
	v.Set("uploaded", strconv.FormatUint(r.Uploaded, 10))
	v.Set("downloaded", strconv.FormatUint(r.Downloaded, 10))
	if r.NumWant >= 0 {
		v.Set("numwant", strconv.FormatInt(r.NumWant, 10))
	}
	if r.Event != peers.EventNone {
		v.Set("event", r.Event.String())
	}
	if !r.Compact {
		v.Set("compact", "0")
	}
	if r.NoPeerID {
		v.Set("no_peer_id", "1")
	}
	if r.IP.IsValid() {
		v.Set("ip", r.IP.String())
	}
	return v.Encode()
}

// FuzzParseScrapeQuery: never panics; accepts 1..50 hashes that net/url
// decodes the same way.
func FuzzParseScrapeQuery(f *testing.F) {
	f.Add(url.Values{"info_hash": {hs(ih(1)), hs(ih(2))}}.Encode())
	f.Add("info_hash=%00%01%02%03%04%05%06%07%08%09%0a%0b%0c%0d%0e%0f%10%11%12%13&x=1")
	f.Add("info_hash=abc")
	f.Add("")
	f.Fuzz(func(t *testing.T, q string) {
		hashes, err := ParseScrapeQuery(q, nil)
		if err != nil {
			return
		}
		if len(hashes) == 0 || len(hashes) > MaxScrapeHashesHTTP {
			t.Fatalf("accepted %d hashes", len(hashes))
		}
		if v, uerr := url.ParseQuery(q); uerr == nil {
			got := v["info_hash"]
			if len(got) != len(hashes) {
				t.Fatalf("%d hashes, net/url finds %d", len(hashes), len(got))
			}
			for i := range got {
				if got[i] != string(hashes[i][:]) {
					t.Fatalf("hash %d: %x vs net/url %x", i, hashes[i], got[i])
				}
			}
		}
	})
}

// FuzzParseUDPPacket: never panics; what it accepts re-encodes to the same
// leading bytes, and a request it accepts is answered within the datagram
// budget by the real handler.
func FuzzParseUDPPacket(f *testing.F) {
	f.Add(header(udpProtocolID, udpActionConnect, 1))
	f.Add(announcePacket(42, 2, ih(1), pid(1), 0, 2, -1, 6881))
	f.Add(append(announcePacket(42, 3, ih(1), pid(1), 5, 1, 50, 1), 2, 5, '/', 'a', 'n', 'n'))
	f.Add(append(header(42, udpActionScrape, 4), make([]byte, 40)...))
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		req, err := ParseUDPPacket(pkt, nil)
		if err != nil {
			return
		}
		switch req.Action {
		case udpActionConnect:
			if !bytes.Equal(pkt[:16], header(udpProtocolID, 0, req.TransactionID)) {
				t.Fatalf("connect %x parsed as %+v", pkt, req)
			}
		case udpActionAnnounce:
			b := announcePacket(req.ConnectionID, req.TransactionID, req.InfoHash, req.PeerID, req.Left, udpEventCode(req.Event), req.NumWant, req.Port)
			binary.BigEndian.PutUint64(b[56:], req.Downloaded)
			binary.BigEndian.PutUint64(b[72:], req.Uploaded)
			if req.IP.IsValid() {
				ip := req.IP.As4()
				copy(b[84:], ip[:])
			}
			binary.BigEndian.PutUint32(b[88:], req.Key)
			if !bytes.Equal(b, pkt[:98]) {
				t.Fatalf("announce %x re-encodes as %x", pkt[:98], b)
			}
		case udpActionScrape:
			if len(req.InfoHashes) == 0 || len(req.InfoHashes) > MaxScrapeHashesUDP || 16+20*len(req.InfoHashes) != len(pkt) {
				t.Fatalf("scrape of %d bytes gave %d hashes", len(pkt), len(req.InfoHashes))
			}
		default:
			t.Fatalf("accepted action %d", req.Action)
		}
	})
}

func udpEventCode(e peers.Event) uint32 {
	switch e {
	case peers.EventCompleted:
		return 1
	case peers.EventStarted:
		return 2
	case peers.EventStopped:
		return 3
	}
	return 0
}
