package tracker

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	anatracker "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"
)

// serve runs a tracker in this process on loopback ports and returns its
// HTTP base URL and UDP announce URL.
func serve(t *testing.T) (base, udpURL string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	s, err := New(ctx, Config{Listen: "127.0.0.1:0", UDP: "127.0.0.1:0", DataDir: t.TempDir(),
		Open: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return "http://" + s.HTTPAddr().String(), "udp://" + s.UDPAddr().String() + "/announce"
}

type answer struct {
	status      int
	contentType string
	location    string
	allow       string
	body        string
}

func request(t *testing.T, method, url string) answer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Location"), resp.Header.Get("Allow"), string(b)}
}

// The web page takes the GETs nothing else serves; every route the tracker
// had before answers as it did (these answers were recorded before the
// page was added, except where marked).
func TestRoutesWithThePage(t *testing.T) {
	base, _ := serve(t)
	const html, text, json = "text/html; charset=utf-8", "text/plain; charset=utf-8", "application/json"
	for _, c := range []struct {
		method, path string
		answer
	}{
		{"GET", "/", answer{status: 200, contentType: html}},                                  // new: the page
		{"HEAD", "/", answer{status: 200, contentType: html}},                                 // new
		{"GET", "/nope", answer{status: 404, contentType: html}},                              // new: the page's 404 (was plain text)
		{"GET", "/metrics/", answer{status: 404, contentType: html}},                          // new: the page's 404 (was plain text)
		{"GET", "/announce/", answer{status: 404, contentType: html}},                         // new: the page's 404 (was plain text)
		{"GET", "/artists", answer{status: 200, contentType: html}},                           // new
		{"GET", "/tracks/" + strings.Repeat("a", 40), answer{status: 404, contentType: html}}, // new
		{"POST", "/nope", answer{status: 404, contentType: text}},
		{"POST", "/", answer{status: 404, contentType: text}},
		{"POST", "/metrics", answer{status: 405, contentType: text, allow: "GET, HEAD"}},
		{"POST", "/healthz", answer{status: 405, contentType: text, allow: "GET, HEAD"}},
		{"GET", "/healthz", answer{status: 200, contentType: text, body: "ok\n"}},
		{"HEAD", "/healthz", answer{status: 200, contentType: text}},
		{"GET", "/readyz", answer{status: 200, contentType: text, body: "ready: 0 tracks\n"}},
		{"GET", "/metrics", answer{status: 200}},
		{"GET", "/api", answer{status: 307, contentType: html, location: "/api/"}},
		{"GET", "//x", answer{status: 307, contentType: html, location: "/x"}},
		{"GET", "/api/v1/info", answer{status: 200, contentType: json}},
		{"DELETE", "/api/v1/info", answer{status: 405, contentType: json, allow: "GET, HEAD"}},
		{"GET", "/api/v1/tracks/", answer{status: 404, contentType: json}},
		{"GET", "/api/nope", answer{status: 404, contentType: json}},
		{"GET", "/api/v1/tracks", answer{status: 200, contentType: json, body: `{"tracks":[],"total":0}` + "\n"}},
		{"GET", "/scrape", answer{status: 200, contentType: "text/plain"}},
		{"GET", "/announce", answer{status: 200, contentType: "text/plain"}},
	} {
		got := request(t, c.method, base+c.path)
		want := c.answer
		if want.contentType == "" {
			got.contentType = ""
		}
		if want.body == "" {
			got.body = ""
		}
		if c.method == "GET" && c.path == "/metrics" && !strings.Contains(request(t, "GET", base+"/metrics").body, "peertune_tracker_announces_total") {
			t.Error("/metrics lacks the announce counter")
		}
		if got != want {
			t.Errorf("%s %s: %+v, want %+v", c.method, c.path, got, want)
		}
	}
}

var rateRE = regexp.MustCompile(`id="announce-rate">([0-9.]+) per second`)

// The front page's announce rate counts HTTP and UDP announces.
func TestFrontPageAnnounceRate(t *testing.T) {
	start := time.Now() // before the tracker's baseline sample
	base, udpURL := serve(t)
	rate := func() float64 {
		t.Helper()
		a := request(t, "GET", base+"/")
		m := rateRE.FindStringSubmatch(a.body)
		if m == nil {
			t.Fatalf("no announce rate on the front page:\n%s", a.body)
		}
		r, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := rate(); r != 0 {
		t.Fatalf("rate %v before any announce", r)
	}
	for i, u := range []string{base + "/announce", base + "/announce", udpURL} {
		cl, err := anatracker.NewClient(u, anatracker.NewClientOpts{})
		if err != nil {
			t.Fatal(err)
		}
		var id [20]byte
		copy(id[:], "-PP0100-rate-test-00")
		id[19] = byte('0' + i)
		_, err = cl.Announce(t.Context(), anatracker.AnnounceRequest{InfoHash: infohash.T{1, 2, 3}, PeerId: id,
			Left: 100, Event: anatracker.Started, NumWant: 10, Port: uint16(7000 + i)}, anatracker.AnnounceOpt{})
		cl.Close()
		if err != nil {
			t.Fatalf("announce to %s: %v", u, err)
		}
	}
	// Three announces since the baseline: 3 a second within its first
	// second (the span is floored at one), 3 over the time since after
	// (shown to one decimal).
	span := max(time.Since(start).Seconds(), 1)
	if r := rate(); r > 3 || r < 3/span-0.05 {
		t.Errorf("rate %v after 3 announces in %.1fs, want from %.2f to 3", r, span, 3/span)
	}
}
