//go:build integration

package tracker_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
	anatracker "github.com/anacrolix/torrent/tracker"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// scrapeSwarm is ih's entry in the tracker's /scrape (BEP 48).
func scrapeSwarm(t *testing.T, base string, ih metainfo.Hash) (complete, incomplete, downloaded int) {
	t.Helper()
	resp, err := http.Get(base + proto.PathScrape + "?info_hash=" + url.QueryEscape(string(ih[:])))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Files map[string]struct {
			Complete   int `bencode:"complete"`
			Incomplete int `bencode:"incomplete"`
			Downloaded int `bencode:"downloaded"`
		} `bencode:"files"`
		Failure string `bencode:"failure reason"`
	}
	if err := bencode.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("scrape reply: %v", err)
	}
	if body.Failure != "" {
		t.Fatalf("scrape failed: %s", body.Failure)
	}
	f, ok := body.Files[string(ih[:])]
	if !ok {
		t.Fatalf("scrape has no entry for %s", ih.HexString())
	}
	return f.Complete, f.Incomplete, f.Downloaded
}

// browser starts Debian's chromium, headless, on a fresh profile, and
// returns a chromedp context for one tab. It reaches nothing but loopback:
// every host name but 127.0.0.1 resolves to nothing, and the background
// services are off.
func browser(t *testing.T) context.Context {
	t.Helper()
	itest.Need(t, "chromium")
	path, _ := exec.LookPath("chromium")
	profile, err := os.MkdirTemp("", "peertune-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where chromium's sandbox will not start
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit
		// Its helpers may still write the profile for a moment.
		for range 50 {
			if err := os.RemoveAll(profile); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first Run starts the browser and lives as long as ctx: no timeout
	// on it (see chromedp.Run); later steps get one each.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// step runs one browser action with a deadline and fails the test on error.
func step[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		html, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
	return v
}

// loaded runs the action that navigates (a click, a submit) and waits for
// the page it leads to.
func loaded(a chromedp.Action[chromedp.Void]) chromedp.Action[chromedp.Void] {
	wait := chromedp.WaitEvent(page.LoadEventFired, nil, a)
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := wait(ctx, t)
		return err
	})
}

// The web page in a real browser, over a real tracker: two tracks of one
// album published with the API, a seeder and leechers announced to one of
// them; the front page loads, typing a query into the search box and
// submitting it finds the track, its link leads to its page whose swarm
// matches what /scrape says, and the album page lists the tracks in track
// order.
func TestWebPageInABrowser(t *testing.T) {
	ctx := browser(t)
	const token = "web-publisher"
	tr := startTracker(t, t.TempDir(), "--token", token)

	publish := func(name, title string, number int) metainfo.Hash {
		t.Helper()
		tpath, ih := makeFileTorrent(t, t.TempDir(), name, 96<<10, tr.base+proto.PathAnnounce, "http://127.0.0.1:7070/"+url.PathEscape(name))
		torrent, err := os.ReadFile(tpath)
		if err != nil {
			t.Fatal(err)
		}
		code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, token, proto.PublishRequest{
			Torrent: torrent, Title: title, Artist: "Miles Davis", Album: "Kind of Blue", Year: 1959,
			TrackNumber: number, DurationS: 337.5, Codec: proto.CodecFLAC, Bitrate: 900_000})
		if code != http.StatusCreated {
			t.Fatalf("publish %s: %d %s", title, code, b)
		}
		return ih
	}
	// Published out of track order: the album page must sort them.
	blue := publish("Blue in Green.flac", "Blue in Green", 3)
	publish("Freddie Freeloader.flac", "Freddie Freeloader", 2)

	// A seeder, a leecher, and two leechers that complete (seeders now, and
	// two downloads) announce to Blue in Green, over HTTP and UDP: three
	// counts that differ, so that the page cannot show one for another.
	overHTTP := announcer(t, tr.base+proto.PathAnnounce)
	overUDP := announcer(t, tr.udpURL)
	overHTTP(blue, 1, 0, anatracker.Started)
	overUDP(blue, 2, 1000, anatracker.Started)
	for _, p := range []int{3, 4} {
		overHTTP(blue, p, 1000, anatracker.Started)
		overUDP(blue, p, 0, anatracker.Completed)
	}
	seeders, leechers, completed := scrapeSwarm(t, tr.base, blue)
	if seeders != 3 || leechers != 1 || completed != 2 {
		t.Fatalf("scrape: %d seeders, %d leechers, %d completed; want 3, 1, 2", seeders, leechers, completed)
	}

	// The front page: the catalog's totals and the announce rate.
	step(t, ctx, "open the front page", chromedp.Steps(chromedp.Navigate(tr.base+"/"), chromedp.WaitVisible(chromedp.ID("q"))))
	if title := step(t, ctx, "title", chromedp.Title()); title != "peertune" {
		t.Errorf("front page title %q", title)
	}
	if n := step(t, ctx, "tracks", chromedp.Text(chromedp.ID("tracks"))); n != "2" {
		t.Errorf("front page: %q tracks, want 2", n)
	}
	if n := step(t, ctx, "seeders", chromedp.Text(chromedp.ID("seeders"))); n != "3" {
		t.Errorf("front page: %q seeders, want 3", n)
	}
	rate := step(t, ctx, "announce rate", chromedp.Text(chromedp.ID("announce-rate")))
	if r, err := strconv.ParseFloat(strings.Fields(rate + " x")[0], 64); err != nil || r <= 0 {
		t.Errorf("front page announce rate %q after 6 announces, want above 0", rate)
	}

	// Type a query into the search box and submit it.
	step(t, ctx, "search", loaded(chromedp.Steps(chromedp.SendKeys(chromedp.ID("q"), "blue green"), chromedp.Submit(chromedp.ID("q")))))
	step(t, ctx, "results", chromedp.WaitVisible(chromedp.ID("results")))
	if u := step(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(u, "/?q=blue+green") {
		t.Errorf("after the search the browser is at %s", u)
	}
	titles := step(t, ctx, "result titles", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#results a.track")].map(a => a.textContent)`))
	if !slices.Equal(titles, []string{"Blue in Green"}) {
		t.Fatalf("search results %q, want Blue in Green alone", titles)
	}

	// Follow the result to the track's page: its swarm is the scrape's.
	step(t, ctx, "follow the result", loaded(chromedp.Click(chromedp.CSS("#results a.track"))))
	step(t, ctx, "track page", chromedp.WaitVisible(chromedp.ID("swarm")))
	if u := step(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(u, "/tracks/"+blue.HexString()) {
		t.Errorf("the result led to %s", u)
	}
	for id, want := range map[string]int{"seeders": seeders, "leechers": leechers, "completed": completed} {
		if got := step(t, ctx, id, chromedp.Text(chromedp.ID(id))); got != strconv.Itoa(want) {
			t.Errorf("track page %s %q, want %d as /scrape says", id, got, want)
		}
	}
	torrentURL := step(t, ctx, ".torrent link", chromedp.Evaluate[string](`document.getElementById("torrent").href`))
	if code, b := apiDo(t, http.MethodGet, torrentURL, "", nil); code != http.StatusOK {
		t.Errorf("the .torrent link %s: %d", torrentURL, code)
	} else if mi, err := metainfo.Load(strings.NewReader(string(b))); err != nil || mi.HashInfoBytes() != blue {
		t.Errorf("the .torrent link %s gave another torrent (%v)", torrentURL, err)
	}
	magnet := step(t, ctx, "magnet link", chromedp.Evaluate[string](`document.getElementById("magnet").href`))
	if !strings.HasPrefix(magnet, "magnet:?xt=urn:btih:"+blue.HexString()+"&") {
		t.Errorf("magnet link %q", magnet)
	}

	// The album page lists both tracks in track order.
	step(t, ctx, "follow the album link", loaded(chromedp.Click(chromedp.ID("album"))))
	step(t, ctx, "album page", chromedp.WaitVisible(chromedp.ID("tracks")))
	rows := step(t, ctx, "album rows", chromedp.Evaluate[[][]string](
		`[...document.querySelectorAll("#tracks tbody tr")].map(tr => [...tr.cells].slice(0, 2).map(td => td.textContent.trim()))`))
	if want := [][]string{{"2", "Freddie Freeloader"}, {"3", "Blue in Green"}}; !slices.EqualFunc(rows, want, slices.Equal) {
		t.Errorf("album rows %q, want %q", rows, want)
	}

	// The API is untouched by the page: its 404 is still JSON.
	code, b := apiDo(t, http.MethodGet, tr.base+"/api/v1/nope", "", nil)
	var e proto.Error
	if code != http.StatusNotFound || json.Unmarshal(b, &e) != nil || e.Error == "" {
		t.Errorf("GET /api/v1/nope: %d %s, want a JSON 404", code, b)
	}
	// And a page that does not exist is a 404 page in the browser too.
	resp, err := http.Get(tr.base + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /no/such/page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
