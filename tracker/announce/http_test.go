package announce

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
)

// testClock is a fake clock shared by a store and a frontend.
type testClock struct{ ns atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *testClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type fixture struct {
	t     testing.TB
	store *memory.Store
	clock *testClock
	reg   *prometheus.Registry
	cfg   Config
}

// newFixture makes a store and a Config; tracked are the catalog's hashes
// (nil: open).
func newFixture(t testing.TB, tracked []peers.InfoHash, mod func(*Config)) *fixture {
	t.Helper()
	clock := newTestClock()
	store, err := memory.New(memory.Config{PeerTTL: 31 * time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, store)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: store, Metrics: m, Now: clock.Now, Open: tracked == nil}
	if tracked != nil {
		set := map[peers.InfoHash]bool{}
		for _, ih := range tracked {
			set[ih] = true
		}
		cfg.Tracked = func(_ context.Context, ih peers.InfoHash) (bool, error) { return set[ih], nil }
	}
	if mod != nil {
		mod(&cfg)
	}
	return &fixture{t: t, store: store, clock: clock, reg: reg, cfg: cfg}
}

// server serves the fixture's HTTP frontend on 127.0.0.1, through
// net/http alone or through a Front.
func (f *fixture) server(fe frontend) *httptest.Server {
	f.t.Helper()
	h, err := NewHTTP(f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	if fe == viaFront {
		srv, _ := startFront(f.t, h, FrontConfig{})
		return srv
	}
	srv := httptest.NewServer(h)
	f.t.Cleanup(srv.Close)
	return srv
}

func ih(n byte) peers.InfoHash {
	var h peers.InfoHash
	for i := range h {
		h[i] = n ^ byte(i*37) // includes bytes that need escaping
	}
	return h
}

func pid(n int) peers.PeerID {
	var id peers.PeerID
	copy(id[:], "-PP0100-")
	binary.BigEndian.PutUint32(id[16:], uint32(n))
	return id
}

// announceQuery builds a valid query; extra overrides or adds parameters
// (an empty value deletes one).
func announceQuery(h peers.InfoHash, id peers.PeerID, port int, left int, extra ...string) string {
	v := url.Values{}
	v.Set("info_hash", string(h[:]))
	v.Set("peer_id", string(id[:]))
	v.Set("port", fmt.Sprint(port))
	v.Set("left", fmt.Sprint(left))
	v.Set("uploaded", "0")
	v.Set("downloaded", "0")
	for i := 0; i+1 < len(extra); i += 2 {
		if extra[i+1] == "" {
			v.Del(extra[i])
		} else {
			v.Set(extra[i], extra[i+1])
		}
	}
	return v.Encode()
}

type reply map[string]any

func get(t *testing.T, srv *httptest.Server, path, query string, header ...string) (int, reply) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r reply
	if err := bencode.Unmarshal(body, &r); err != nil {
		t.Fatalf("reply %q is not bencode: %v", body, err)
	}
	return resp.StatusCode, r
}

func compactPeers(t *testing.T, r reply, key string, size int) []netip.AddrPort {
	t.Helper()
	raw, ok := r[key].(string)
	if !ok {
		if r[key] == nil {
			return nil
		}
		t.Fatalf("%s is %T, want a string", key, r[key])
	}
	if len(raw)%size != 0 {
		t.Fatalf("%s has %d bytes", key, len(raw))
	}
	var out []netip.AddrPort
	for i := 0; i < len(raw); i += size {
		a, _ := netip.AddrFromSlice([]byte(raw[i : i+size-2]))
		out = append(out, netip.AddrPortFrom(a, binary.BigEndian.Uint16([]byte(raw[i+size-2:i+size]))))
	}
	return out
}

func ports(aps []netip.AddrPort) map[uint16]bool {
	m := map[uint16]bool{}
	for _, a := range aps {
		m[a.Port()] = true
	}
	return m
}

func TestHTTPValidation(t *testing.T) { forEachFrontend(t, testHTTPValidation) }

func testHTTPValidation(t *testing.T, fe frontend) {
	f := newFixture(t, nil, nil)
	srv := f.server(fe)
	good := func(extra ...string) string { return announceQuery(ih(1), pid(1), 6881, 10, extra...) }
	cases := []struct{ name, query, want string }{
		{"short info_hash", good("info_hash", "abc"), "info_hash must be 20 bytes"},
		{"long info_hash", good("info_hash", strings.Repeat("x", 21)), "info_hash must be 20 bytes"},
		{"missing info_hash", good("info_hash", ""), "missing info_hash"},
		{"short peer_id", good("peer_id", "-PP0100-"), "peer_id must be 20 bytes"},
		{"missing peer_id", good("peer_id", ""), "missing peer_id"},
		{"missing port", good("port", ""), "missing port"},
		{"port zero", good("port", "0"), "port must be"},
		{"port too big", good("port", "65536"), "port must be"},
		{"port negative", good("port", "-1"), "port must be"},
		{"port text", good("port", "http"), "port must be"},
		{"left text", good("left", "lots"), "left must be"},
		{"left negative", good("left", "-5"), "left must be"},
		{"missing left", good("left", ""), "missing left"},
		{"uploaded text", good("uploaded", "1e9"), "uploaded must be"},
		{"downloaded overflow", good("downloaded", "18446744073709551616"), "downloaded must be"},
		{"numwant text", good("numwant", "many"), "numwant must be"},
		{"unknown event", good("event", "finished"), "unknown event"},
		{"compact junk", good("compact", "yes"), "compact must be"},
		{"bad escape", good() + "&peer_id=%zz", "malformed percent-encoding"},
		{"info_hash twice", good() + "&info_hash=" + url.QueryEscape(hs(ih(2))), "more than once"},
		{"oversized", good("key", strings.Repeat("k", 2100)), "request too long"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, r := get(t, srv, "/announce", c.query)
			reason, _ := r["failure reason"].(string)
			if status != http.StatusOK || !strings.Contains(reason, c.want) {
				t.Errorf("status %d, failure reason %q; want 200 and %q", status, reason, c.want)
			}
		})
	}
	st, err := f.store.Stats(t.Context())
	if err != nil || st != (peers.Stats{}) {
		t.Errorf("bad announces changed the store: %+v %v", st, err)
	}
	if got := counterValue(t, f.cfg.Metrics.requests[opAnnounce][protoHTTP][resultError]); got != float64(len(cases)) {
		t.Errorf("error counter = %v, want %d", got, len(cases))
	}
	// And the good one is accepted.
	if _, r := get(t, srv, "/announce", good()); r["failure reason"] != nil {
		t.Errorf("valid announce failed: %v", r)
	}
	if got := counterValue(t, f.cfg.Metrics.requests[opAnnounce][protoHTTP][resultOK]); got != 1 {
		t.Errorf("ok counter = %v, want 1", got)
	}
}

func TestHTTPAnnounceReplies(t *testing.T) { forEachFrontend(t, testHTTPAnnounceReplies) }

func testHTTPAnnounceReplies(t *testing.T, fe frontend) {
	f := newFixture(t, nil, func(c *Config) { c.NumWantMax = 5; c.NumWantDefault = 3; c.TrustIPParam = true })
	srv := f.server(fe)
	h := ih(9)
	// Two seeders and eight leechers, all from 127.0.0.1 on distinct ports.
	for i := range 10 {
		left := 100
		if i < 2 {
			left = 0
		}
		if _, r := get(t, srv, "/announce", announceQuery(h, pid(i), 7000+i, left, "event", "started")); r["failure reason"] != nil {
			t.Fatal(r)
		}
	}
	_, r := get(t, srv, "/announce", announceQuery(h, pid(100), 8000, 100, "numwant", "1000"))
	if r["complete"] != int64(2) || r["incomplete"] != int64(9) || r["interval"] != int64(1800) || r["min interval"] != int64(900) {
		t.Errorf("counts/intervals: %v", r)
	}
	if got := compactPeers(t, r, "peers", 6); len(got) != 5 {
		t.Errorf("numwant 1000 clamped to max 5: got %d peers", len(got))
	}
	_, r = get(t, srv, "/announce", announceQuery(h, pid(100), 8000, 100))
	if got := compactPeers(t, r, "peers", 6); len(got) != 3 {
		t.Errorf("default numwant 3: got %d peers", len(got))
	}
	_, r = get(t, srv, "/announce", announceQuery(h, pid(100), 8000, 100, "numwant", "0"))
	if got := compactPeers(t, r, "peers", 6); len(got) != 0 {
		t.Errorf("numwant 0: got %v", got)
	}
	// A seeder is given leechers only, never itself.
	for range 5 {
		_, r = get(t, srv, "/announce", announceQuery(h, pid(0), 7000, 0, "numwant", "5"))
		for _, a := range compactPeers(t, r, "peers", 6) {
			if a.Port() == 7000 || a.Port() == 7001 {
				t.Errorf("seeder got seeder %v", a)
			}
			if a.Addr() != netip.MustParseAddr("127.0.0.1") {
				t.Errorf("peer address %v, want the connection's source", a)
			}
		}
	}
	// Non-compact: dicts with ip, peer id, port; no_peer_id drops the id.
	_, r = get(t, srv, "/announce", announceQuery(h, pid(100), 8000, 100, "compact", "0", "numwant", "5"))
	list, _ := r["peers"].([]any)
	if len(list) != 5 {
		t.Fatalf("non-compact peers: %v", r["peers"])
	}
	for _, p := range list {
		d := p.(map[string]any)
		id, _ := d["peer id"].(string)
		port, _ := d["port"].(int64)
		if d["ip"] != "127.0.0.1" || port < 7000 || port > 7009 || id != ps(pid(int(port-7000))) {
			t.Errorf("non-compact peer %v", d)
		}
	}
	_, r = get(t, srv, "/announce", announceQuery(h, pid(100), 8000, 100, "compact", "0", "no_peer_id", "1"))
	for _, p := range r["peers"].([]any) {
		if _, ok := p.(map[string]any)["peer id"]; ok {
			t.Errorf("no_peer_id=1 still sent the id: %v", p)
		}
	}
	// peers6 (BEP 7): an IPv6 peer (ip= is trusted here) is in peers6.
	get(t, srv, "/announce", announceQuery(h, pid(200), 9000, 0, "ip", "2001:db8::7"))
	_, r = get(t, srv, "/announce", announceQuery(h, pid(201), 9001, 100, "ip", "2001:db8::8", "numwant", "5"))
	v6 := compactPeers(t, r, "peers6", 18)
	if len(v6) != 1 || v6[0] != netip.MustParseAddrPort("[2001:db8::7]:9000") {
		t.Errorf("peers6 = %v, want the other IPv6 peer", v6)
	}
	// Stopped removes the peer.
	_, r = get(t, srv, "/announce", announceQuery(h, pid(200), 9000, 0, "ip", "2001:db8::7", "event", "stopped"))
	if r["complete"] != int64(2) {
		t.Errorf("after stop complete = %v, want 2", r["complete"])
	}
	_, r = get(t, srv, "/announce", announceQuery(h, pid(201), 9001, 100, "ip", "2001:db8::8", "numwant", "5"))
	if v6 := compactPeers(t, r, "peers6", 18); len(v6) != 0 {
		t.Errorf("stopped peer still handed out: %v", v6)
	}
	// Expiry: after the TTL, only the announcing peer is left.
	f.clock.Advance(32 * time.Minute)
	_, r = get(t, srv, "/announce", announceQuery(h, pid(300), 9100, 100))
	if r["complete"] != int64(0) || r["incomplete"] != int64(1) || len(compactPeers(t, r, "peers", 6)) != 0 {
		t.Errorf("after TTL: %v", r)
	}
}

func TestHTTPUnregisteredAndScrape(t *testing.T) { forEachFrontend(t, testHTTPUnregisteredAndScrape) }

func testHTTPUnregisteredAndScrape(t *testing.T, fe frontend) {
	known, other := ih(1), ih(2)
	f := newFixture(t, []peers.InfoHash{known, ih(3)}, nil)
	srv := f.server(fe)
	_, r := get(t, srv, "/announce", announceQuery(other, pid(1), 7000, 10))
	if r["failure reason"] != "unregistered torrent" {
		t.Errorf("untracked announce: %v", r)
	}
	if st, _ := f.store.Stats(t.Context()); st != (peers.Stats{}) {
		t.Errorf("untracked announce stored: %+v", st)
	}
	get(t, srv, "/announce", announceQuery(known, pid(1), 7000, 10))
	get(t, srv, "/announce", announceQuery(known, pid(2), 7001, 0, "event", "completed"))
	q := url.Values{"info_hash": {string(known[:]), string(other[:]), hs(ih(3)), string(known[:])}}
	_, r = get(t, srv, "/scrape", q.Encode())
	files, _ := r["files"].(map[string]any)
	if len(files) != 2 || files[hs(ih(3))] == nil {
		t.Fatalf("scrape files = %v, want the two tracked hashes", files)
	}
	want := map[string]any{"complete": int64(1), "incomplete": int64(1), "downloaded": int64(1)}
	if fmt.Sprint(files[string(known[:])]) != fmt.Sprint(want) {
		t.Errorf("scrape of known = %v, want %v", files[string(known[:])], want)
	}
	var many []string
	for i := range 51 {
		x := ih(byte(i))
		many = append(many, string(x[:]))
	}
	_, r = get(t, srv, "/scrape", url.Values{"info_hash": many}.Encode())
	if r["failure reason"] != "too many info_hash (at most 50)" {
		t.Errorf("51 hashes: %v", r)
	}
	_, r = get(t, srv, "/scrape", url.Values{"info_hash": many[:50]}.Encode())
	if r["failure reason"] != nil {
		t.Errorf("50 hashes: %v", r)
	}
	for _, bad := range []string{"", "info_hash=abc", "info_hash=%4"} {
		if _, r = get(t, srv, "/scrape", bad); r["failure reason"] == nil {
			t.Errorf("scrape %q: %v", bad, r)
		}
	}
}

func TestHTTPAddressSources(t *testing.T) { forEachFrontend(t, testHTTPAddressSources) }

func testHTTPAddressSources(t *testing.T, fe frontend) {
	lo := netip.MustParsePrefix("127.0.0.0/8")
	cases := []struct {
		name   string
		mod    func(*Config)
		header []string
		extra  []string
		want   string
	}{
		{"source address", nil, nil, nil, "127.0.0.1"},
		{"ip= ignored by default", nil, nil, []string{"ip", "198.51.100.1"}, "127.0.0.1"},
		{"ip= trusted", func(c *Config) { c.TrustIPParam = true }, nil, []string{"ip", "198.51.100.1"}, "198.51.100.1"},
		{"XFF from untrusted", nil, []string{"X-Forwarded-For", "198.51.100.2"}, nil, "127.0.0.1"},
		{"XFF from trusted proxy", func(c *Config) { c.TrustedProxies = []netip.Prefix{lo} },
			[]string{"X-Forwarded-For", "203.0.113.9, 198.51.100.2"}, nil, "198.51.100.2"},
		{"X-Real-IP from trusted proxy", func(c *Config) { c.TrustedProxies = []netip.Prefix{lo} },
			[]string{"X-Real-IP", "198.51.100.3"}, nil, "198.51.100.3"},
		{"X-Real-IP from untrusted", nil, []string{"X-Real-IP", "198.51.100.3"}, nil, "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, nil, c.mod)
			srv := f.server(fe)
			get(t, srv, "/announce", announceQuery(ih(1), pid(1), 7000, 0, c.extra...), c.header...)
			_, r := get(t, srv, "/announce", announceQuery(ih(1), pid(2), 7001, 5))
			got := compactPeers(t, r, "peers", 6)
			if len(got) != 1 || got[0] != netip.AddrPortFrom(netip.MustParseAddr(c.want), 7000) {
				t.Errorf("peer stored as %v, want %s:7000", got, c.want)
			}
		})
	}
	f := newFixture(t, nil, func(c *Config) { c.TrustedProxies = []netip.Prefix{lo} })
	srv := f.server(fe)
	_, r := get(t, srv, "/announce", announceQuery(ih(1), pid(1), 7000, 0), "X-Forwarded-For", "not-an-ip")
	if r["failure reason"] != "invalid X-Forwarded-For" {
		t.Errorf("garbage XFF from proxy: %v", r)
	}
}

func TestHTTPMethodAndPath(t *testing.T) { forEachFrontend(t, testHTTPMethodAndPath) }

func testHTTPMethodAndPath(t *testing.T, fe frontend) {
	srv := newFixture(t, nil, nil).server(fe)
	resp, err := srv.Client().Post(srv.URL+"/announce?"+announceQuery(ih(1), pid(1), 7000, 0), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || !strings.HasPrefix(string(body), "d14:failure reason") {
		t.Errorf("POST: %d %q", resp.StatusCode, body)
	}
	resp, err = srv.Client().Get(srv.URL + "/elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func hs(h peers.InfoHash) string { return string(h[:]) }
func ps(id peers.PeerID) string  { return string(id[:]) }
