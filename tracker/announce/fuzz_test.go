package announce

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"testing"

	"golang.org/x/net/http/httpguts"

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

// FuzzParseRequestHead: the lean front's head parser never panics, and
// every head it answers itself net/http's server reads the same way: the
// same framing (where the head ends), a GET of the announce path with the
// same raw query, no body, the same keep-alive decision, and headers its
// server would not refuse.
func FuzzParseRequestHead(f *testing.F) {
	for _, s := range []string{
		announceGET(1, "HTTP/1.1"),
		announceGET(2, "HTTP/1.0", "Connection: keep-alive"),
		announceGET(3, "HTTP/1.1", "User-Agent: aria2/1.36.0", "Accept: */*", "Connection: close") + announceGET(4, "HTTP/1.1"),
		"GET /announce HTTP/1.1\r\nHost: [::1]:80\r\nConnection: TE, close\r\n\r\n",
		"GET /announce?a=b HTTP/1.0\n\n",
		"GET /announce?x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET /announce? HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
		"POST /announce HTTP/1.1\r\nHost: a\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		end := headEnd(data)
		if end < 0 {
			return
		}
		head, ok := parseRequestHead(data[:end], "/announce")
		if !ok {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(data), len(data)+16)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("lean, but net/http refuses %q: %v", data[:end], err)
		}
		if used := len(data) - br.Buffered(); used != end {
			t.Fatalf("head of %d bytes, net/http read %d: %q", end, used, data)
		}
		if req.Method != http.MethodGet || req.URL.Path != "/announce" || req.URL.RawQuery != head.query {
			t.Fatalf("net/http reads %s %q ?%q; lean ?%q", req.Method, req.URL.Path, req.URL.RawQuery, head.query)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) != 0 || req.Close != head.close ||
			(req.ProtoMinor == 0) != head.http10 || req.ProtoMajor != 1 {
			t.Fatalf("net/http: length %d, encoding %v, close %v, HTTP/%d.%d; lean %+v",
				req.ContentLength, req.TransferEncoding, req.Close, req.ProtoMajor, req.ProtoMinor, head)
		}
		// What net/http's server checks after reading a request, on the
		// header as it reads it (ReadRequest drops Host from it).
		lineEnd := bytes.IndexByte(data, '\n') + 1
		mh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(data[lineEnd:end]))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("header of %q: %v", data[:end], err)
		}
		hosts, haveHost := mh["Host"]
		if req.ProtoAtLeast(1, 1) && (!haveHost || len(hosts) == 0) {
			t.Fatal("HTTP/1.1 without Host")
		}
		if len(hosts) == 1 && !httpguts.ValidHostHeader(hosts[0]) {
			t.Fatalf("invalid Host %q", hosts[0])
		}
		for k, vv := range mh {
			if !httpguts.ValidHeaderFieldName(k) {
				t.Fatalf("invalid header name %q", k)
			}
			for _, v := range vv {
				if !httpguts.ValidHeaderFieldValue(v) {
					t.Fatalf("invalid header value %q", v)
				}
			}
		}
	})
}
