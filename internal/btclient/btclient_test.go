package btclient

import (
	"strings"
	"testing"

	"github.com/anacrolix/torrent"
	"github.com/anacrolix/torrent/storage"
	"golang.org/x/time/rate"
)

func TestConfig(t *testing.T) {
	for _, c := range []struct {
		listen         string
		host           string
		port           int
		noIPv4, noIPv6 bool
	}{
		{"", "", 0, false, false},
		{":0", "", 0, false, false},
		{":6881", "", 6881, false, false},
		{"127.0.0.1:0", "127.0.0.1", 0, false, true},
		{"[::1]:7000", "::1", 7000, true, false},
		{"example.org:1", "example.org", 1, false, false},
	} {
		cfg, err := Config(Options{Listen: c.listen, PeerIDPrefix: "-XX0000-"})
		if err != nil {
			t.Errorf("%q: %v", c.listen, err)
			continue
		}
		if h := cfg.ListenHost("tcp"); h != c.host || cfg.ListenPort != c.port || cfg.DisableIPv4 != c.noIPv4 || cfg.DisableIPv6 != c.noIPv6 {
			t.Errorf("%q: host %q port %d noIPv4 %v noIPv6 %v", c.listen, h, cfg.ListenPort, cfg.DisableIPv4, cfg.DisableIPv6)
		}
		if !cfg.NoDHT || !cfg.NoDefaultPortForwarding || !cfg.DisableWebtorrent || !cfg.DisableWebseeds ||
			!cfg.DisableTrackers || !cfg.Seed || cfg.Bep20 != "-XX0000-" || cfg.Slogger == nil {
			t.Errorf("%q: hygiene settings missing: %+v", c.listen, cfg)
		}
	}
	if cfg, _ := Config(Options{UPnP: true}); cfg.NoDefaultPortForwarding {
		t.Error("UPnP: port forwarding still off")
	}
}

func TestConfigErrors(t *testing.T) {
	for name, o := range map[string]Options{
		"no port":       {Listen: "127.0.0.1"},
		"bad port":      {Listen: "127.0.0.1:x"},
		"port too big":  {Listen: ":65536"},
		"negative rate": {UploadRate: -1},
		"both":          {UploadRate: 1 << 20, UploadLimiter: NewUploadLimiter(1 << 20)},
		"small burst":   {UploadLimiter: rate.NewLimiter(1<<20, 1000)},
	} {
		_, err := Config(o)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		// Errors are the library's: they name no command-line flag.
		if strings.Contains(err.Error(), "--") {
			t.Errorf("%s: %v names a flag", name, err)
		}
	}
	// An unlimited limiter needs no burst.
	if _, err := Config(Options{UploadLimiter: rate.NewLimiter(rate.Inf, 0)}); err != nil {
		t.Error(err)
	}
}

func TestUploadLimiter(t *testing.T) {
	lim := rate.NewLimiter(1<<20, 64<<10)
	cfg, err := Config(Options{UploadLimiter: lim})
	if err != nil || cfg.UploadRateLimiter != lim {
		t.Fatalf("given limiter not used: %v", err)
	}
	cfg, err = Config(Options{UploadRate: 1000})
	if err != nil || cfg.UploadRateLimiter.Limit() != 1000 || cfg.UploadRateLimiter.Burst() < ChunkSize {
		t.Fatalf("UploadRate 1000: %v", err)
	}
	for _, c := range []struct {
		rate  int64
		limit rate.Limit
		burst int
	}{
		{0, rate.Inf, 256 << 10}, {1000, 1000, 16 << 10}, {1 << 20, 1 << 20, 128 << 10}, {1 << 30, 1 << 30, 256 << 10},
	} {
		l := NewUploadLimiter(c.rate)
		if l.Limit() != c.limit || l.Burst() != c.burst {
			t.Errorf("NewUploadLimiter(%d): %v/%d, want %v/%d", c.rate, l.Limit(), l.Burst(), c.limit, c.burst)
		}
	}
}

// The configuration starts a client on the address and with the prefix.
func TestConfigStartsClient(t *testing.T) {
	cfg, err := Config(Options{Listen: "127.0.0.1:0", PeerIDPrefix: "-XX0000-", UploadRate: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	st := storage.NewFile(t.TempDir())
	defer st.Close()
	cfg.DefaultStorage = st
	cfg.DisableUTP = true
	cl, err := torrent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if id := cl.PeerID(); !strings.HasPrefix(string(id[:]), "-XX0000-") {
		t.Errorf("peer id %q", id[:])
	}
	addrs := cl.ListenAddrs()
	if len(addrs) == 0 || cl.LocalPort() == 0 {
		t.Fatalf("listening on %v", addrs)
	}
	for _, a := range addrs {
		if !strings.HasPrefix(a.String(), "127.0.0.1:") {
			t.Errorf("listening on %s", a)
		}
	}
}

// The per-track connection limit is the client-wide one anacrolix gives
// every torrent it adds; 0 keeps anacrolix's.
func TestConfigConnectionLimit(t *testing.T) {
	cfg, err := Config(Options{MaxConnsPerTrack: 8})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.EstablishedConnsPerTorrent != 8 {
		t.Errorf("limit %d, want 8", cfg.EstablishedConnsPerTorrent)
	}
	cfg, err = Config(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := torrent.NewDefaultClientConfig().EstablishedConnsPerTorrent; cfg.EstablishedConnsPerTorrent != want {
		t.Errorf("default limit %d, want anacrolix's %d", cfg.EstablishedConnsPerTorrent, want)
	}
	if _, err := Config(Options{MaxConnsPerTrack: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}
}
