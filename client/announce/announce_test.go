package announce

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/metainfo"

	trackerannounce "github.com/peertune/peertune/tracker/announce"
	"github.com/peertune/peertune/tracker/peers"
	"github.com/peertune/peertune/tracker/peers/memory"
)

// recorded is one announce the tracker's peer store received.
type recorded struct {
	at    time.Time
	event peers.Event
	left  uint64
	id    peers.PeerID
	port  uint16
}

// recordingStore is the real in-memory peer store, noting each announce it
// is given so that tests can see what reached the tracker and when.
type recordingStore struct {
	peers.PeerStore
	mu  sync.Mutex
	got []recorded
	new chan struct{} // signalled (non-blocking) on each announce
}

func (s *recordingStore) Announce(ctx context.Context, a peers.Announce) (peers.AnnounceResult, error) {
	s.mu.Lock()
	s.got = append(s.got, recorded{time.Now(), a.Event, a.Left, a.Peer.ID, a.Peer.Addr.Port()})
	s.mu.Unlock()
	select {
	case s.new <- struct{}{}:
	default:
	}
	return s.PeerStore.Announce(ctx, a)
}

func (s *recordingStore) all() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.got...)
}

// waitFor waits until an announce matching ok arrives after index from,
// and returns it with its index.
func (s *recordingStore) waitFor(t *testing.T, from int, within time.Duration, ok func(recorded) bool) (recorded, int) {
	t.Helper()
	deadline := time.After(within)
	for {
		for i, r := range s.all() {
			if i >= from && ok(r) {
				return r, i
			}
		}
		select {
		case <-s.new:
		case <-deadline:
			t.Fatalf("no matching announce within %v; got %+v", within, s.all())
		}
	}
}

// testTracker runs peertune's real HTTP and UDP announce frontends on
// loopback over a recording memory store.
type testTracker struct {
	t       *testing.T
	store   *recordingStore
	cfg     trackerannounce.Config
	httpLn  net.Listener
	srv     *http.Server
	srvDone chan struct{}
	addr    string // host:port of the HTTP frontend, kept across restarts
	udpAddr string
}

func newTestTracker(t *testing.T, interval time.Duration) *testTracker {
	t.Helper()
	mem, err := memory.New(memory.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	tr := &testTracker{t: t, store: &recordingStore{PeerStore: mem, new: make(chan struct{}, 1)}}
	tr.cfg = trackerannounce.Config{
		Store:       tr.store,
		Open:        true,
		Interval:    interval,
		MinInterval: time.Second,
		Logger:      slog.New(slog.DiscardHandler),
	}
	tr.startHTTP("127.0.0.1:0")
	u, err := trackerannounce.NewUDP(tr.cfg)
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tr.udpAddr = pc.LocalAddr().String()
	// Not t.Context(): it ends before the loops' cleanups send stopped.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Serve(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		u.Close()
		<-done
	})
	t.Cleanup(tr.stopHTTP)
	return tr
}

func (tr *testTracker) startHTTP(addr string) {
	tr.t.Helper()
	h, err := trackerannounce.NewHTTP(tr.cfg)
	if err != nil {
		tr.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		tr.t.Fatal(err)
	}
	tr.addr = ln.Addr().String()
	tr.srv = &http.Server{Handler: h}
	tr.srvDone = make(chan struct{})
	go func() {
		defer close(tr.srvDone)
		tr.srv.Serve(ln)
	}()
}

func (tr *testTracker) stopHTTP() {
	if tr.srv == nil {
		return
	}
	tr.srv.Close()
	<-tr.srvDone
	tr.srv = nil
}

func (tr *testTracker) httpURL() string { return "http://" + tr.addr + "/announce" }
func (tr *testTracker) udpURL() string  { return "udp://" + tr.udpAddr }

var testHash = metainfo.NewHashFromHex("0123456789abcdef0123456789abcdef01234567")

func testPeerID(b byte) [20]byte {
	var id [20]byte
	copy(id[:], "-PP0100-")
	for i := 8; i < 20; i++ {
		id[i] = b
	}
	return id
}

func startLoop(t *testing.T, cfg Config) *Loop {
	t.Helper()
	if cfg.InfoHash == (metainfo.Hash{}) {
		cfg.InfoHash = testHash
	}
	if cfg.PeerID == ([20]byte{}) {
		cfg.PeerID = testPeerID('a')
	}
	if cfg.Port == 0 {
		cfg.Port = 6881
	}
	if cfg.Left == nil {
		cfg.Left = func() int64 { return 1000 }
	}
	l, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// The tracker goes away after the first announce and comes back on the
// same port: the loop is back in its swarm within two intervals (a backoff
// sleep plus one try of the silent UDP URL), although anacrolix's announcer would wait a minute. Its UDP
// URL, tried after each refused HTTP announce, never answers (as a
// restarting tracker's would not) and must not hold up the retries.
func TestRetriesSoonAfterTrackerReturns(t *testing.T) {
	tr := newTestTracker(t, 2*time.Second)
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	startLoop(t, Config{URLs: []string{tr.httpURL(), "udp://" + silent.LocalAddr().String()}})
	_, i := tr.store.waitFor(t, 0, 3*time.Second, func(r recorded) bool { return r.event == peers.EventStarted })
	tr.stopHTTP()
	// Down for longer than an interval, so announces fail and back off.
	time.Sleep(4 * time.Second)
	tr.startHTTP(tr.addr)
	back := time.Now()
	r, _ := tr.store.waitFor(t, i+1, 8*time.Second, func(recorded) bool { return true })
	took := r.at.Sub(back)
	t.Logf("announce %v after the tracker came back", took.Round(10*time.Millisecond))
	// Worst case: a backoff sleep (at most the 2 s interval) plus one
	// attempt at the silent UDP URL (at most the backoff). anacrolix's
	// announcer waited a minute.
	if took > 4500*time.Millisecond {
		t.Errorf("announced %v after the tracker came back; want within two 2 s intervals", took)
	}
}

// Announces follow the tracker's interval: not sooner, and not much later.
func TestIntervalRespected(t *testing.T) {
	tr := newTestTracker(t, time.Second)
	l := startLoop(t, Config{URLs: []string{tr.httpURL()}})
	tr.store.waitFor(t, 0, 10*time.Second, func(recorded) bool { return len(tr.store.all()) >= 4 })
	got := tr.store.all()
	if got[0].event != peers.EventStarted {
		t.Errorf("first event %v, want started", got[0].event)
	}
	for i := 1; i < 4; i++ {
		if got[i].event != peers.EventNone {
			t.Errorf("announce %d: event %v, want none", i, got[i].event)
		}
		gap := got[i].at.Sub(got[i-1].at)
		if gap < 950*time.Millisecond || gap > 2500*time.Millisecond { // slack for a loaded machine
			t.Errorf("announce %d came %v after the previous; want the 1 s interval", i, gap)
		}
	}
	// The store sees an announce just before the loop sees the answer.
	if st := l.Status(); st.Interval != time.Second || st.Announces < 3 || st.Failures != 0 {
		t.Errorf("status %+v", st)
	}
}

// Close sends event=stopped with the peer id and port, and returns soon.
func TestStoppedOnClose(t *testing.T) {
	tr := newTestTracker(t, time.Minute)
	l := startLoop(t, Config{URLs: []string{tr.httpURL()}, PeerID: testPeerID('s'), Port: 7001})
	_, i := tr.store.waitFor(t, 0, 3*time.Second, func(r recorded) bool { return r.event == peers.EventStarted })
	start := time.Now()
	l.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v", d)
	}
	r, _ := tr.store.waitFor(t, i+1, time.Second, func(r recorded) bool { return r.event == peers.EventStopped })
	if r.id != testPeerID('s') || r.port != 7001 {
		t.Errorf("stopped from %q port %d, want %q port 7001", r.id, r.port, testPeerID('s'))
	}
	l.Close() // again: no-op
}

// Close with the tracker gone is bounded by StopTimeout, even over UDP,
// where nothing refuses.
func TestCloseBoundedWhenTrackerGone(t *testing.T) {
	tr := newTestTracker(t, time.Minute)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0") // a UDP port that never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	l := startLoop(t, Config{URLs: []string{tr.httpURL(), "udp://" + pc.LocalAddr().String()}, StopTimeout: 500 * time.Millisecond})
	tr.store.waitFor(t, 0, 3*time.Second, func(r recorded) bool { return r.event == peers.EventStarted })
	tr.stopHTTP()
	start := time.Now()
	l.Close()
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %v with the tracker gone; want about the 500ms StopTimeout", d)
	}
}

// A UDP announce URL works, and the peers the tracker returns reach
// AddPeers as anacrolix PeerInfos.
func TestUDPAndPeers(t *testing.T) {
	tr := newTestTracker(t, time.Minute)
	other := peers.Peer{ID: peers.PeerID(testPeerID('o')), Addr: netip.MustParseAddrPort("127.0.0.1:7777")}
	if _, err := tr.store.PeerStore.Announce(t.Context(), peers.Announce{
		InfoHash: peers.InfoHash(testHash), Peer: other, Left: 0, Event: peers.EventStarted,
	}); err != nil {
		t.Fatal(err)
	}
	got := make(chan []torrent.PeerInfo, 1)
	l := startLoop(t, Config{URLs: []string{tr.udpURL()}, AddPeers: func(ps []torrent.PeerInfo) {
		select {
		case got <- ps:
		default:
		}
	}})
	select {
	case ps := <-got:
		if len(ps) != 1 || ps[0].Addr.String() != "127.0.0.1:7777" || ps[0].Source != torrent.PeerSourceTracker {
			t.Errorf("peers %+v, want 127.0.0.1:7777 from the tracker", ps)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no peers over UDP; status %+v", l.Status())
	}
	if st := l.Status(); st.URL != tr.udpURL() || st.Announces != 1 {
		t.Errorf("status %+v", st)
	}

}

// When the first URL fails, the next is used, and it stays preferred.
func TestFallsBackToNextURL(t *testing.T) {
	tr := newTestTracker(t, time.Second)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/announce"
	ln.Close() // nothing listens there now: connection refused
	l := startLoop(t, Config{URLs: []string{dead, tr.udpURL()}})
	tr.store.waitFor(t, 0, 5*time.Second, func(recorded) bool { return len(tr.store.all()) >= 2 })
	st := l.Status()
	if st.URL != tr.udpURL() || st.Failures != 0 {
		t.Errorf("status %+v, want announces over %s and no failed round", st, tr.udpURL())
	}
}

// Completion sends event=completed with left=0 at once; a torrent complete
// from the start says so in its started announce and sends no completed.
func TestCompleted(t *testing.T) {
	tr := newTestTracker(t, time.Minute)
	var left atomic.Int64
	left.Store(5000)
	done := make(chan struct{})
	startLoop(t, Config{URLs: []string{tr.httpURL()}, Left: left.Load, Completed: done})
	r, i := tr.store.waitFor(t, 0, 3*time.Second, func(r recorded) bool { return r.event == peers.EventStarted })
	if r.left != 5000 {
		t.Errorf("started with left=%d, want 5000", r.left)
	}
	left.Store(0)
	close(done)
	r, _ = tr.store.waitFor(t, i+1, 2*time.Second, func(recorded) bool { return true })
	if r.event != peers.EventCompleted || r.left != 0 {
		t.Errorf("after completion: event %v left %d, want completed with left 0", r.event, r.left)
	}

	seed := testPeerID('z')
	startLoop(t, Config{URLs: []string{tr.httpURL()}, PeerID: seed, Left: func() int64 { return 0 }, Completed: done})
	r, _ = tr.store.waitFor(t, 0, 3*time.Second, func(r recorded) bool { return r.id == seed })
	if r.event != peers.EventStarted || r.left != 0 {
		t.Errorf("complete from the start: event %v left %d, want started with left 0", r.event, r.left)
	}
	time.Sleep(300 * time.Millisecond)
	for _, r := range tr.store.all() {
		if r.id == seed && r.event == peers.EventCompleted {
			t.Error("a torrent complete from the start sent completed")
		}
	}
}

func TestStartRejectsBadConfig(t *testing.T) {
	if _, err := Start(Config{Port: 1}); err == nil {
		t.Error("no Left: no error")
	}
	if _, err := Start(Config{Left: func() int64 { return 0 }}); err == nil {
		t.Error("port 0: no error")
	}
	l, err := Start(Config{Port: 1, Left: func() int64 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil || l.Status().Announces != 0 {
		t.Errorf("a loop without URLs: %v %+v", err, l.Status())
	}
}
