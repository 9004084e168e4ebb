package seeder

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/peertune/peertune/proto"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestSpareMeter(t *testing.T) {
	const capBytes = 1 << 20
	clock := &fakeClock{t: time.Unix(1000, 0)}
	var sent int64
	m := newSpareMeter(rate.NewLimiter(capBytes, 64<<10), func() int64 { return sent }, clock.now)
	spare := func() int64 {
		t.Helper()
		s, limited := m.spare()
		if !limited {
			t.Fatal("capped meter says unlimited")
		}
		return s
	}
	// run's ticks, by hand: d at bytesPerSecond.
	send := func(d time.Duration, bytesPerSecond int64) {
		for range d / spareStep {
			clock.advance(spareStep)
			sent += bytesPerSecond * int64(spareStep) / int64(time.Second)
			m.mu.Lock()
			m.sampleLocked()
			m.mu.Unlock()
		}
	}
	sent += 256 << 10 // a burst at start is spread over the window
	if s := spare(); s != capBytes-128<<10 {
		t.Errorf("a burst at start: spare %d, want %d", s, capBytes-128<<10)
	}
	sent = 0
	m = newSpareMeter(rate.NewLimiter(capBytes, 64<<10), func() int64 { return sent }, clock.now)
	if s := spare(); s != capBytes {
		t.Errorf("idle at start: spare %d, want %d", s, capBytes)
	}
	send(3*time.Second, capBytes/4)
	if s := spare(); s < capBytes*3/4-100 || s > capBytes*3/4+100 {
		t.Errorf("sending a quarter of the cap: spare %d, want %d", s, capBytes*3/4)
	}
	send(3*time.Second, 2*capBytes) // bursts over the cap are floored at 0
	if s := spare(); s != 0 {
		t.Errorf("over the cap: spare %d, want 0", s)
	}
	// The window is ~2 s: a second after the load stops, about half the
	// window still holds it.
	send(time.Second, 0)
	if s := spare(); s > 100 {
		t.Errorf("1 s after 2x the cap: spare %d, want 0", s)
	}
	send(time.Second+spareStep, 0)
	if s := spare(); s != capBytes {
		t.Errorf("idle again: spare %d, want %d", s, capBytes)
	}
	if n := len(m.samples); n > int(spareWindow/spareStep)+2 {
		t.Errorf("%d samples kept", n)
	}
	// Without ticks (no run) the rate is averaged since the last sample.
	clock.advance(10 * time.Second)
	sent += 5 * capBytes
	if s := spare(); s != capBytes/2 {
		t.Errorf("half the cap over 10 s unsampled: spare %d, want %d", s, capBytes/2)
	}

	u := newSpareMeter(rate.NewLimiter(rate.Inf, 0), func() int64 { return sent }, clock.now)
	if h := u.header(); h != proto.SpareUnlimited {
		t.Errorf("no cap: header %q", h)
	}
	if h := m.header(); h != strconv.FormatInt(spare(), 10) {
		t.Errorf("header %q", h)
	}
}

func TestFillThreshold(t *testing.T) {
	for _, c := range []struct {
		limit rate.Limit
		want  int64
	}{{1 << 20, 128 << 10}, {64 << 10, 16 << 10}, {10000, 10000}} {
		if got := fillThreshold(c.limit); got != c.want {
			t.Errorf("fillThreshold(%v) = %d, want %d", c.limit, got, c.want)
		}
	}
}

// bigTrackServer serves a 2 MiB big.wav with uploads capped at capBytes
// per second; it returns the file's URL and the server's metrics.
func bigTrackServer(t *testing.T, capBytes int64) (string, *metrics) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "big.wav"), randomBytes(t, 2<<20))
	srv, m := seedServer(t, dir, newUploadLimiter(capBytes), "big.wav")
	return srv.URL + "/big.wav", m
}

// mark is how a request is marked: its Peertune-Fetch and Peertune-Due
// headers ("": none).
type mark struct{ fetch, due string }

// get fetches url with the Range header ("": none) and the mark, counting
// the body's bytes into n as they come.
func get(ctx context.Context, url, rng string, m mark, n *atomic.Int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if m.fetch != "" {
		req.Header.Set(proto.HeaderFetch, m.fetch)
	}
	if m.due != "" {
		req.Header.Set(proto.HeaderDue, m.due)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	buf := make([]byte, 32<<10)
	for {
		m, err := resp.Body.Read(buf)
		if n != nil {
			n.Add(int64(m))
		}
		if err == io.EOF {
			return resp, nil
		}
		if err != nil {
			return resp, err
		}
	}
}

// Every answer to a file request carries the spare header: "unlimited"
// without a cap, bytes per second within the cap with one.
func TestSeedSpareHeader(t *testing.T) {
	dir := t.TempDir()
	data := randomBytes(t, 100000)
	writeFile(t, filepath.Join(dir, "a.flac"), data)
	etag := fmt.Sprintf(`"%040x"`, 1)
	cases := []struct {
		hdr  []string
		code int
	}{
		{nil, 200},
		{[]string{"Range: bytes=0-99\r\n"}, 206},
		{[]string{"Range: bytes=0-99\r\n", proto.HeaderFetch + ": " + proto.FetchUrgent + "\r\n"}, 206},
		{[]string{"Range: bytes=0-99\r\n", proto.HeaderFetch + ": " + proto.FetchFill + "\r\n"}, 206},
		{[]string{"If-None-Match: " + etag + "\r\n"}, 304},
		{[]string{"Range: bytes=200000-\r\n"}, 416},
	}
	for _, capBytes := range []int64{0, 1 << 20} {
		lim := newUploadLimiter(capBytes)
		srv, _ := seedServer(t, dir, lim, "a.flac")
		addr := srv.Listener.Addr().String()
		for _, c := range cases {
			code, h, _ := rawGet(t, addr, "/a.flac", c.hdr...)
			if code != c.code {
				t.Errorf("cap %d, %q: status %d, want %d", capBytes, c.hdr, code, c.code)
			}
			v := h.Get(proto.HeaderSeedSpare)
			if capBytes == 0 {
				if v != proto.SpareUnlimited {
					t.Errorf("no cap, %q: %s %q, want %q", c.hdr, proto.HeaderSeedSpare, v, proto.SpareUnlimited)
				}
				continue
			}
			// A few 100 kB sent in the window: most of the cap is spare.
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < capBytes/2 || n > capBytes {
				t.Errorf("cap %d, %q: %s %q, want a number in [cap/2, cap]", capBytes, c.hdr, proto.HeaderSeedSpare, v)
			}
		}
		resp, err := http.Head(srv.URL + "/a.flac")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get(proto.HeaderSeedSpare) == "" {
			t.Errorf("cap %d: HEAD without %s", capBytes, proto.HeaderSeedSpare)
		}
	}
}

// A fill request gets 503 (Retry-After, the spare header, no body) while
// an urgent download uses the cap, and is served once it is idle again.
func TestSeedFillRefusedWithoutSpare(t *testing.T) {
	const capBytes = 512 << 10
	url, m := bigTrackServer(t, capBytes)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	urgentDone := make(chan error, 1)
	go func() {
		_, err := get(ctx, url, "", mark{fetch: proto.FetchUrgent}, nil)
		urgentDone <- err
	}()
	// The meter sees it after a window; before, the urgent writer waiting
	// for the limiter already refuses fills.
	time.Sleep(spareWindow + 2*spareStep)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Range", "bytes=0-65535")
	req.Header.Set(proto.HeaderFetch, proto.FetchFill)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || len(body) != 0 {
		t.Errorf("fill during an urgent download: %d, Retry-After %q, %d body bytes; want 503, 1, 0",
			resp.StatusCode, resp.Header.Get("Retry-After"), len(body))
	}
	if n, err := strconv.ParseInt(resp.Header.Get(proto.HeaderSeedSpare), 10, 64); err != nil || n >= fillThreshold(capBytes) {
		t.Errorf("503 with %s %q", proto.HeaderSeedSpare, resp.Header.Get(proto.HeaderSeedSpare))
	}
	if m.fillUpload.Load() != 0 {
		t.Errorf("fill bytes %d after a refused fill", m.fillUpload.Load())
	}
	cancel()
	<-urgentDone

	// Idle for a window: fills are served, and counted apart.
	time.Sleep(spareWindow + 2*spareStep)
	var n atomic.Int64
	resp, err = get(context.Background(), url, "bytes=0-65535", mark{fetch: proto.FetchFill}, &n)
	if err != nil || resp.StatusCode != http.StatusPartialContent || n.Load() != 64<<10 {
		t.Fatalf("fill when idle: %v %v, %d bytes", resp.Status, err, n.Load())
	}
	if got := counterReaches(&m.fillUpload, 64<<10); got != 64<<10 {
		t.Errorf("fill bytes %d, want %d", got, 64<<10)
	}
}

// With a cap, an urgent download started while a fill download runs gets
// the bandwidth first: the fill hardly moves until the urgent one ends.
func TestSeedUrgentBeforeFill(t *testing.T) {
	m := checkFirst(t, mark{fetch: proto.FetchFill}, mark{fetch: proto.FetchUrgent})
	if got := counterReaches(&m.fillUpload, 1536<<10); got != 1536<<10 {
		t.Errorf("fill bytes %d, want %d", got, 1536<<10)
	}
}

// With a cap, a head started while an emergency download runs gets the
// bandwidth first: a newcomer's first audio does not wait behind the
// emergencies of everyone already playing.
func TestSeedHeadBeforeEmergency(t *testing.T) {
	checkFirst(t, mark{fetch: proto.FetchUrgent}, mark{fetch: proto.FetchHead})
}

// With a cap, an emergency for a piece no listener holds (only the seed
// server can send it: the first listener's) goes before emergencies that
// other listeners could serve, and a head before it.
func TestSeedUnheldBeforeUrgent(t *testing.T) {
	checkFirst(t, mark{fetch: proto.FetchUrgent}, mark{fetch: proto.FetchUnheld})
}

func TestSeedHeadBeforeUnheld(t *testing.T) {
	checkFirst(t, mark{fetch: proto.FetchUnheld}, mark{fetch: proto.FetchHead})
}

// Within a class, the request due sooner goes first, though it came later.
func TestSeedSoonerDueFirst(t *testing.T) {
	checkFirst(t, mark{fetch: proto.FetchUrgent, due: "5000"}, mark{fetch: proto.FetchUrgent, due: "200"})
}

// Within a class and due alike, the requests go one after another in the
// order they came, each at the whole cap: side by side, both ended late.
func TestSeedOneRequestAfterAnother(t *testing.T) {
	const capBytes = 1 << 20
	url, _ := bigTrackServer(t, capBytes)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	const size = 512 << 10
	var firstBytes, secondBytes atomic.Int64
	secondDone := make(chan time.Time, 1)
	start := time.Now()
	go func() {
		time.Sleep(100 * time.Millisecond)
		resp, err := get(ctx, url, fmt.Sprintf("bytes=%d-%d", 1<<20, 1<<20+size-1), mark{fetch: proto.FetchUrgent, due: "1000"}, &secondBytes)
		if err != nil || resp.StatusCode != http.StatusPartialContent {
			t.Errorf("second: %v %v", resp, err)
		}
		secondDone <- time.Now()
	}()
	resp, err := get(ctx, url, fmt.Sprintf("bytes=0-%d", size-1), mark{fetch: proto.FetchUrgent, due: "1000"}, &firstBytes)
	firstEnd := time.Now()
	during := secondBytes.Load()
	if err != nil || resp.StatusCode != http.StatusPartialContent || firstBytes.Load() != size {
		t.Fatalf("first: %v %v, %d bytes", resp, err, firstBytes.Load())
	}
	secondEnd := <-secondDone
	t.Logf("first %d B in %.2f s; the second got %d B meanwhile and ended %.2f s later",
		size, firstEnd.Sub(start).Seconds(), during, secondEnd.Sub(firstEnd).Seconds())
	if during > size/4 {
		t.Errorf("the second request got %d bytes while the first got %d: want under a quarter", during, size)
	}
	if !secondEnd.After(firstEnd) {
		t.Errorf("the second request ended before the first")
	}
}

// A head goes before the seed's BitTorrent uploads (which take tokens the
// way anacrolix does: reserve, and on a delay cancel and retry), and an
// urgent request shares the cap with them.
func TestSeedHeadBeforeBitTorrent(t *testing.T) {
	const capBytes = 1 << 20
	for _, c := range []struct {
		fetch           string
		minShare, maxBT float64 // of the cap while the request runs
	}{
		{proto.FetchHead, 0.7, 0.25},
		{proto.FetchUrgent, 0.25, 0.75},
	} {
		t.Run(c.fetch, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "big.wav"), randomBytes(t, 2<<20))
			bt := newUploadLimiter(capBytes)
			srv, _ := seedServerWithBT(t, dir, newUploadLimiter(capBytes), bt, "big.wav")
			ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
			defer cancel()
			var btBytes atomic.Int64
			btDone := make(chan struct{})
			go func() { // BitTorrent uploads, as many as the cap lets out
				defer close(btDone)
				for ctx.Err() == nil {
					r := bt.ReserveN(time.Now(), 16<<10)
					if d := r.Delay(); d > 0 {
						r.Cancel()
						time.Sleep(d)
						continue
					}
					btBytes.Add(16 << 10)
				}
			}()
			time.Sleep(300 * time.Millisecond)
			const size = 512 << 10
			before, start := btBytes.Load(), time.Now()
			var n atomic.Int64
			resp, err := get(ctx, srv.URL+"/big.wav", fmt.Sprintf("bytes=0-%d", size-1), mark{fetch: c.fetch}, &n)
			el := time.Since(start).Seconds()
			during := float64(btBytes.Load()-before) / el / capBytes
			cancel()
			<-btDone
			if err != nil || resp.StatusCode != http.StatusPartialContent || n.Load() != size {
				t.Fatalf("%v %v, %d bytes", resp, err, n.Load())
			}
			share := size / el / capBytes
			t.Logf("%s: %.0f%% of the cap; BitTorrent %.0f%% meanwhile", c.fetch, 100*share, 100*during)
			if share < c.minShare || during > c.maxBT {
				t.Errorf("%s got %.0f%% of the cap and BitTorrent %.0f%%: want at least %.0f%% and at most %.0f%%",
					c.fetch, 100*share, 100*during, 100*c.minShare, 100*c.maxBT)
			}
		})
	}
}

func TestDueOf(t *testing.T) {
	now := time.Unix(1000, 0)
	for header, want := range map[string]time.Duration{
		"0": 0, "250": 250 * time.Millisecond, " 1500 ": 1500 * time.Millisecond,
		"": proto.FetchDefaultDue, "soon": proto.FetchDefaultDue, "-5": proto.FetchDefaultDue, "1.5": proto.FetchDefaultDue,
		"999999999999": time.Hour,
	} {
		if got := dueOf(header, now).Sub(now); got != want {
			t.Errorf("dueOf(%q) = now+%v, want now+%v", header, got, want)
		}
	}
}

// checkFirst starts a 1.5 MiB download marked later on a seed server
// capped at 1 MiB/s, then a 512 KiB one marked first: the first gets the
// cap, the later one under a quarter of its bytes meanwhile, and ends
// after it. It returns the server's metrics.
func checkFirst(t *testing.T, later, first mark) *metrics {
	t.Helper()
	const capBytes = 1 << 20
	url, m := bigTrackServer(t, capBytes)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()

	var laterBytes atomic.Int64
	laterDone := make(chan time.Time, 1)
	go func() {
		resp, err := get(ctx, url, "bytes=0-1572863", later, &laterBytes) // 1.5 MiB
		if err != nil || resp.StatusCode != http.StatusPartialContent {
			t.Errorf("%s: %v %v", later, resp, err)
		}
		laterDone <- time.Now()
	}()
	time.Sleep(300 * time.Millisecond)
	const firstSize = 512 << 10
	before := laterBytes.Load()
	start := time.Now()
	var firstBytes atomic.Int64
	resp, err := get(ctx, url, fmt.Sprintf("bytes=%d-%d", 1<<20, 1<<20+firstSize-1), first, &firstBytes)
	firstEnd := time.Now()
	during := laterBytes.Load() - before
	if err != nil || resp.StatusCode != http.StatusPartialContent || firstBytes.Load() != firstSize {
		t.Fatalf("%s: %v %v, %d bytes", first, resp, err, firstBytes.Load())
	}
	laterEnd := <-laterDone
	firstS := firstEnd.Sub(start).Seconds()
	t.Logf("%s %d B in %.2f s (%.0f%% of the cap); %s sent %d B meanwhile and ended %.2f s after it",
		first, firstSize, firstS, 100*firstSize/firstS/capBytes, later, during, laterEnd.Sub(firstEnd).Seconds())
	// Shared alike, the later one would get as much as the first.
	if during > firstSize/4 {
		t.Errorf("the %s download got %d bytes while the %s one got %d: want under a quarter", later, during, first, firstSize)
	}
	if !laterEnd.After(firstEnd) {
		t.Errorf("the %s download ended before the %s one", later, first)
	}
	return m
}

func TestFetchClassOf(t *testing.T) {
	for header, want := range map[string]fetchClass{"head": classHead, " HEAD ": classHead, "urgent": classUrgent,
		"unheld": classUnheld, "Unheld ": classUnheld, "": classUrgent, "soon": classUrgent, "fill": classFill, "Fill": classFill} {
		if got := fetchClassOf(header); got != want {
			t.Errorf("fetchClassOf(%q) = %d, want %d", header, got, want)
		}
	}
}

// counterReaches waits up to a second for c to reach want (the server
// counts a chunk once its Write returns, which may be after the client
// has read it) and returns its value.
func counterReaches(c *atomic.Int64, want int64) int64 {
	deadline := time.Now().Add(time.Second)
	for c.Load() < want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return c.Load()
}

// A fill of bytes another listener's fill is being sent is refused like
// one without spare upload (the piece's first copy leaves once); the same
// bytes are served again once that fill ended, and other bytes meanwhile.
func TestSeedFillRefusedWhileTheSameBytesAreFilled(t *testing.T) {
	const capBytes = 256 << 10
	url, _ := bigTrackServer(t, capBytes)

	// A 1 MiB fill takes about 4 s at the cap.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var first atomic.Int64
	firstDone := make(chan error, 1)
	go func() {
		_, err := get(ctx, url, "bytes=0-1048575", mark{fetch: proto.FetchFill}, &first)
		firstDone <- err
	}()
	for first.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	fill := func(rng string) (int, string) {
		t.Helper()
		resp, err := get(context.Background(), url, rng, mark{fetch: proto.FetchFill}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	if code, retry := fill("bytes=524288-540671"); code != http.StatusServiceUnavailable || retry != "1" {
		t.Errorf("fill inside one in flight: %d, Retry-After %q; want 503, 1", code, retry)
	}
	if code, retry := fill("bytes=1048575-1064959"); code != http.StatusServiceUnavailable || retry != "1" {
		t.Errorf("fill overlapping one in flight by a byte: %d, Retry-After %q; want 503, 1", code, retry)
	}
	if code, _ := fill("bytes=1048576-1064959"); code != http.StatusPartialContent {
		t.Errorf("fill of other bytes while one is in flight: %d, want 206", code)
	}
	cancel()
	<-firstDone
	// The server sees the first fill end a moment after its client.
	code := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if code, _ = fill("bytes=524288-540671"); code == http.StatusPartialContent {
			break
		}
	}
	if code != http.StatusPartialContent {
		t.Errorf("the same bytes once that fill ended: %d, want 206", code)
	}
}

// Fills do not count against the spare: a fill in flight leaves the cap to
// spare for the next listener's fill (they take only what urgent uploads
// leave); an urgent download does count.
func TestSpareLeavesFillsOut(t *testing.T) {
	const capBytes = 256 << 10
	url, _ := bigTrackServer(t, capBytes)
	spareNow := func() int64 {
		t.Helper()
		resp, err := http.Head(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		n, err := strconv.ParseInt(resp.Header.Get(proto.HeaderSeedSpare), 10, 64)
		if err != nil {
			t.Fatalf("%s %q", proto.HeaderSeedSpare, resp.Header.Get(proto.HeaderSeedSpare))
		}
		return n
	}
	for _, kind := range []string{proto.FetchFill, proto.FetchUrgent} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			get(ctx, url, "bytes=0-1048575", mark{fetch: kind}, nil)
		}()
		time.Sleep(spareWindow + 2*spareStep)
		got := spareNow()
		cancel()
		<-done
		switch kind {
		case proto.FetchFill:
			if got < capBytes*3/4 {
				t.Errorf("with a fill at the cap: spare %d, want most of the cap %d", got, capBytes)
			}
		default:
			if got >= fillThreshold(capBytes) {
				t.Errorf("with an urgent download at the cap: spare %d, want under %d", got, fillThreshold(capBytes))
			}
		}
		time.Sleep(spareWindow + 2*spareStep) // idle again
	}
}
