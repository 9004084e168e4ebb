package announce

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/peertune/peertune/tracker/peers"
)

// frontend is how a test serves HTTP: net/http alone, or a Front in front
// of it (as the tracker does). The HTTP tests run through both, so the two
// answer alike.
type frontend string

const (
	viaNetHTTP frontend = "net-http"
	viaFront   frontend = "front"
)

func forEachFrontend(t *testing.T, test func(*testing.T, frontend)) {
	for _, fe := range []frontend{viaNetHTTP, viaFront} {
		t.Run(string(fe), func(t *testing.T) { test(t, fe) })
	}
}

// startFront serves h through a Front on 127.0.0.1 with an httptest server
// as its fallback; fallbacks counts the requests the fallback served.
func startFront(t testing.TB, h *HTTP, cfg FrontConfig) (srv *httptest.Server, fallbacks *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := NewFront(h, ln, cfg)
	fallbacks = new(atomic.Int64)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fallbacks.Add(1)
		h.ServeHTTP(w, r)
	}))
	srv.Listener.Close()
	srv.Listener = front.Fallback()
	srv.Start()
	served := make(chan error, 1)
	go func() { served <- front.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := front.Shutdown(ctx); err != nil {
			t.Errorf("front shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("front serve: %v", err)
		}
		srv.Close()
	})
	return srv, fallbacks
}

// frontFixture serves a Front on 127.0.0.1; conns reads its connection
// counter (served_by front or net_http).
func frontFixture(t *testing.T, cfg FrontConfig) (addr string, fallbacks *atomic.Int64, conns func(handedOff bool) float64) {
	t.Helper()
	return frontFixtureWith(t, cfg, nil)
}

// frontFixtureWith is frontFixture with mod applied to the Config.
func frontFixtureWith(t *testing.T, cfg FrontConfig, mod func(*Config)) (addr string, fallbacks *atomic.Int64, conns func(handedOff bool) float64) {
	t.Helper()
	f := newFixture(t, nil, mod)
	h, err := NewHTTP(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, fallbacks := startFront(t, h, cfg)
	conns = func(handedOff bool) float64 {
		i := 0
		if handedOff {
			i = 1
		}
		return counterValue(t, f.cfg.Metrics.conns[i])
	}
	return strings.TrimPrefix(srv.URL, "http://"), fallbacks, conns
}

func dialFront(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// announceGET is an announce request as a client writes it.
func announceGET(n int, proto string, header ...string) string {
	s := "GET /announce?" + announceQuery(ih(1), pid(n), 7000+n, n) + " " + proto + "\r\nHost: tracker.test\r\n"
	for _, h := range header {
		s += h + "\r\n"
	}
	return s + "\r\n"
}

func readReply(t *testing.T, r *bufio.Reader) (*http.Response, reply) {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("reading a reply: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep reply
	if err := bencode.Unmarshal(body, &rep); err != nil {
		t.Fatalf("reply %q is not bencode: %v", body, err)
	}
	return resp, rep
}

// wantClosed checks that the server closes c without sending more.
func wantClosed(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if b, err := r.ReadByte(); err == nil {
		t.Errorf("connection still open: read %q", b)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("want the server to close the connection, got %v", err)
	}
}

func TestFrontKeepAliveAndPipelining(t *testing.T) {
	addr, fallbacks, _ := frontFixture(t, FrontConfig{})
	c, r := dialFront(t, addr)
	// Two pipelined requests in one write, then one in three pieces.
	if _, err := io.WriteString(c, announceGET(1, "HTTP/1.1")+announceGET(2, "HTTP/1.1")); err != nil {
		t.Fatal(err)
	}
	third := announceGET(3, "HTTP/1.1")
	for _, part := range []string{third[:10], third[10:60], third[60:]} {
		if _, err := io.WriteString(c, part); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for i := 1; i <= 3; i++ {
		resp, rep := readReply(t, r)
		if resp.StatusCode != 200 || resp.Close || resp.Header.Get("Date") == "" ||
			resp.Header.Get("Content-Type") != "text/plain" || rep["failure reason"] != nil {
			t.Fatalf("reply %d: %d close=%v %v %v", i, resp.StatusCode, resp.Close, resp.Header, rep)
		}
		if got := len(rep["peers"].(string)) / 6; got != i-1 {
			t.Errorf("reply %d: %d peers, want %d", i, got, i-1)
		}
	}
	// A request the front leaves to net/http, on the same connection.
	io.WriteString(c, "GET /scrape?info_hash="+url.QueryEscape(hs(ih(1)))+" HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, rep := readReply(t, r)
	if files, _ := rep["files"].(map[string]any); resp.StatusCode != 200 || len(files) != 1 {
		t.Errorf("scrape after announces: %d %v", resp.StatusCode, rep)
	}
	if n := fallbacks.Load(); n != 1 {
		t.Errorf("net/http served %d requests, want only the scrape", n)
	}
}

// networkStore is a peer store that does not say it is peers.Local (as
// Redis does not): the front answers each connection off its accept loop.
type networkStore struct{ peers.PeerStore }

func TestFrontConnectionClose(t *testing.T) {
	t.Run("memory store", func(t *testing.T) { testFrontConnectionClose(t, nil) })
	t.Run("store on a network", func(t *testing.T) {
		testFrontConnectionClose(t, func(c *Config) { c.Store = networkStore{c.Store} })
	})
}

func testFrontConnectionClose(t *testing.T, mod func(*Config)) {
	addr, fallbacks, conns := frontFixtureWith(t, FrontConfig{}, mod)
	cases := []struct {
		name, request string
		close         bool
		keepAliveHdr  bool
	}{
		{"1.1 close", announceGET(1, "HTTP/1.1", "Connection: close"), true, false},
		{"1.1 close among tokens", announceGET(1, "HTTP/1.1", "connection: TE, Close"), true, false},
		{"1.0", announceGET(1, "HTTP/1.0"), true, false},
		{"1.0 keep-alive", announceGET(1, "HTTP/1.0", "Connection: Keep-Alive"), false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := dialFront(t, addr)
			io.WriteString(c, tc.request)
			resp, rep := readReply(t, r)
			if resp.StatusCode != 200 || rep["peers"] == nil {
				t.Fatalf("%d %v", resp.StatusCode, rep)
			}
			if resp.Close != tc.close {
				t.Errorf("reply says close=%v, want %v", resp.Close, tc.close)
			}
			if got := resp.Header.Get("Connection") == "keep-alive"; got != tc.keepAliveHdr {
				t.Errorf("Connection: %q", resp.Header.Get("Connection"))
			}
			if tc.close {
				wantClosed(t, r)
			}
		})
	}
	if n := fallbacks.Load(); n != 0 {
		t.Errorf("net/http served %d requests, want none", n)
	}
	// Every connection ended in the front: three closed by it, the
	// kept-alive one by its subtest's cleanup (counted once the front
	// reads the client's close).
	deadline := time.Now().Add(5 * time.Second)
	for conns(false) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if front, handedOff := conns(false), conns(true); front != 4 || handedOff != 0 {
		t.Errorf("connections counted: front %v, net/http %v; want 4 and 0", front, handedOff)
	}
}

// TestFrontSlowClient sends an announce that is not there whole when the
// connection is accepted: the front still answers it itself.
func TestFrontSlowClient(t *testing.T) {
	addr, fallbacks, conns := frontFixture(t, FrontConfig{})
	req := announceGET(1, "HTTP/1.1", "Connection: close")
	cases := []struct {
		name  string
		pause time.Duration // before the first byte
		parts []string
	}{
		// Accepted after the listener's defer-accept second, with nothing
		// to read yet.
		{"silent at first", 1500 * time.Millisecond, []string{req}},
		{"head in pieces", 0, []string{req[:20], req[20:90], req[90:]}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := dialFront(t, addr)
			time.Sleep(tc.pause)
			for _, part := range tc.parts {
				if _, err := io.WriteString(c, part); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			resp, rep := readReply(t, r)
			if resp.StatusCode != 200 || rep["peers"] == nil || !resp.Close {
				t.Fatalf("%d close=%v %v", resp.StatusCode, resp.Close, rep)
			}
			wantClosed(t, r)
			if front := conns(false); front != float64(i+1) {
				t.Errorf("connections the front ended: %v, want %d", front, i+1)
			}
		})
	}
	if n := fallbacks.Load(); n != 0 {
		t.Errorf("net/http served %d requests, want none", n)
	}
}

// TestFrontHandsOff sends what the front leaves to net/http: each gets
// net/http's answer, on a new connection.
func TestFrontHandsOff(t *testing.T) {
	addr, fallbacks, conns := frontFixture(t, FrontConfig{})
	long := announceGET(1, "HTTP/1.1", "X-Padding: "+strings.Repeat("p", frontBufSize))
	cases := []struct {
		name, request string
		status        int
	}{
		{"scrape", "GET /scrape HTTP/1.1\r\nHost: x\r\n\r\n", 200},
		{"POST", "POST /announce?" + announceQuery(ih(1), pid(1), 7000, 0) + " HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", 405},
		{"no Host", "GET /announce?" + announceQuery(ih(1), pid(1), 7000, 0) + " HTTP/1.1\r\n\r\n", 400},
		{"head longer than the buffer", long, 200},
		{"chunked body", "GET /announce?" + announceQuery(ih(1), pid(1), 7000, 0) + " HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 200},
		{"other path", "GET /announcement HTTP/1.1\r\nHost: x\r\n\r\n", 404},
		{"garbage", "HELLO\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, r := dialFront(t, addr)
			io.WriteString(c, tc.request)
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
	// Bad requests never reach the handler; the five others do.
	if n := fallbacks.Load(); n != 5 {
		t.Errorf("net/http's handler served %d requests, want 5", n)
	}
	if front, handedOff := conns(false), conns(true); front != 0 || handedOff != float64(len(cases)) {
		t.Errorf("connections counted: front %v, net/http %v; want 0 and %d", front, handedOff, len(cases))
	}
}

func TestFrontTimeouts(t *testing.T) {
	addr, _, _ := frontFixture(t, FrontConfig{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: 300 * time.Millisecond})
	slow, _, _ := frontFixture(t, FrontConfig{ReadHeaderTimeout: 200 * time.Millisecond, IdleTimeout: time.Minute})
	// Regression: a pipelined request that arrived in part waited out the
	// idle timeout, not the head timeout.
	t.Run("slow pipelined head", func(t *testing.T) {
		c, r := dialFront(t, slow)
		io.WriteString(c, announceGET(1, "HTTP/1.1")+"GET /announce?")
		readReply(t, r)
		start := time.Now()
		wantClosed(t, r)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("closed after %v, want about 200ms", d)
		}
	})
	t.Run("slow head", func(t *testing.T) {
		c, r := dialFront(t, addr)
		io.WriteString(c, "GET /announce?")
		start := time.Now()
		wantClosed(t, r)
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("closed after %v", d)
		}
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, r := dialFront(t, addr)
		io.WriteString(c, announceGET(1, "HTTP/1.1"))
		readReply(t, r)
		// Well within the idle timeout, though past the head timeout.
		time.Sleep(250 * time.Millisecond)
		io.WriteString(c, announceGET(2, "HTTP/1.1"))
		readReply(t, r)
		start := time.Now()
		wantClosed(t, r)
		if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
			t.Errorf("idle connection closed after %v, want about 300ms", d)
		}
	})
}

func TestFrontShutdown(t *testing.T) {
	f := newFixture(t, nil, nil)
	h, err := NewHTTP(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	front := NewFront(h, ln, FrontConfig{})
	fallback := &http.Server{Handler: h}
	go fallback.Serve(front.Fallback())
	defer fallback.Close()
	served := make(chan error, 1)
	go func() { served <- front.Serve() }()

	// One kept-alive connection that waits for its next request.
	c, r := dialFront(t, ln.Addr().String())
	io.WriteString(c, announceGET(1, "HTTP/1.1"))
	readReply(t, r)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := front.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v with one idle connection", d)
	}
	wantClosed(t, r)
	if err := <-served; err != nil {
		t.Errorf("Serve after Shutdown: %v", err)
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
}

func BenchmarkParseRequestHead(b *testing.B) {
	head := []byte(announceGET(1, "HTTP/1.1", "User-Agent: aria2/1.36.0", "Accept: */*", "Connection: close"))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := parseRequestHead(head[:headEnd(head)], "/announce"); !ok {
			b.Fatal("not lean")
		}
	}
}

func TestParseRequestHead(t *testing.T) {
	cases := []struct {
		name, head string
		lean       bool
		want       requestHead
	}{
		{"aria2c", "GET /announce?a=1 HTTP/1.1\r\nUser-Agent: aria2/1.36.0\r\nAccept: */*\r\nHost: 127.0.0.1:6969\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n",
			true, requestHead{query: "a=1"}},
		{"wrk, close", "GET /announce?a=1&b HTTP/1.1\r\nHost: 127.0.0.1:6969\r\nConnection: close\r\n\r\n", true, requestHead{query: "a=1&b", close: true}},
		{"no query", "GET /announce HTTP/1.1\r\nHost: h\r\n\r\n", true, requestHead{}},
		{"1.0", "GET /announce?x HTTP/1.0\r\n\r\n", true, requestHead{query: "x", close: true, http10: true}},
		{"1.0 keep-alive", "GET /announce?x HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n", true, requestHead{query: "x", http10: true}},
		{"1.1 no Host", "GET /announce?x HTTP/1.1\r\n\r\n", false, requestHead{}},
		{"two Hosts", "GET /announce?x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false, requestHead{}},
		{"bad Host", "GET /announce?x HTTP/1.1\r\nHost: a b\r\n\r\n", false, requestHead{}},
		{"bare LF", "GET /announce?x HTTP/1.1\nHost: a\n\n", false, requestHead{}},
		{"body", "GET /announce?x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", false, requestHead{}},
		{"other path", "GET /announce/x HTTP/1.1\r\nHost: a\r\n\r\n", false, requestHead{}},
		{"absolute form", "GET http://a/announce HTTP/1.1\r\nHost: a\r\n\r\n", false, requestHead{}},
		{"HEAD", "HEAD /announce HTTP/1.1\r\nHost: a\r\n\r\n", false, requestHead{}},
		{"folded header", "GET /announce HTTP/1.1\r\nHost: a\r\n x\r\n\r\n", false, requestHead{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			head := []byte(c.head + "GET /next")
			end := headEnd(head)
			if end != len(c.head) {
				t.Fatalf("head ends at %d, want %d", end, len(c.head))
			}
			got, ok := parseRequestHead(head[:end], "/announce")
			if ok != c.lean || ok && got != c.want {
				t.Errorf("got %+v lean=%v, want %+v lean=%v", got, ok, c.want, c.lean)
			}
		})
	}
}
