//go:build integration

package netlab

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// Real BitTorrent clients with their default settings (only DHT, local
// peer discovery and port mapping off, so that they talk to nothing
// outside the lab), each in a namespace of its own with an address of its
// own (Transmission ignores loopback peers and a second peer from an
// address it knows), download the published track from the seeder, byte
// for byte. Transmission five times in a row: with uTP on it has at times
// received nothing for a minute.
func TestRealClientsDownloadFromTheSeeder(t *testing.T) {
	itest.Need(t, "transmission-cli", "aria2c", "/usr/bin/python3")
	if err := exec.Command("/usr/bin/python3", "-c", "import libtorrent").Run(); err != nil {
		t.Fatalf("python3-libtorrent: %v", err)
	}
	lab := newLab(t)
	w := startWorld(t, lab, "", "mp3")
	tf, name := w.torrentFile(t)
	want, err := os.ReadFile(w.trackFile)
	if err != nil {
		t.Fatal(err)
	}
	host := func(t *testing.T, name string) *Host {
		h, err := lab.AddPublic(t.Context(), name)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	t.Run("transmission, five times in a row", func(t *testing.T) {
		for i := range 5 {
			h := host(t, fmt.Sprintf("transmission%d", i+1))
			out, p := startTransmission(t, h, tf)
			took := waitForFile(t, filepath.Join(out, name), want, 60*time.Second, p)
			t.Logf("transmission %d: %d bytes in %v", i+1, len(want), took.Round(time.Millisecond))
			p.Stop(5 * time.Second)
		}
	})
	t.Run("libtorrent over uTP only", func(t *testing.T) {
		h := host(t, "libtorrent")
		out := t.TempDir()
		cmd := h.Command(t.Context(), "/usr/bin/python3", "-c", libtorrentScript, tf, out, "60")
		o, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("libtorrent: %v\n%s", err, o)
		}
		t.Logf("libtorrent: %s", bytes.TrimSpace(o))
		if !strings.Contains(string(o), "complete over uTP") {
			t.Errorf("libtorrent: %s", o)
		}
		sameFile(t, filepath.Join(out, name), want)
	})
	t.Run("aria2c over TCP", func(t *testing.T) {
		h := host(t, "aria2c")
		out := t.TempDir()
		cmd := h.Command(t.Context(), "aria2c", "--dir", out, "--seed-time=0", "--enable-dht=false", "--enable-dht6=false",
			"--bt-enable-lpd=false", "--console-log-level=warn", "--summary-interval=0", "--bt-stop-timeout=50", tf)
		if o, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aria2c: %v\n%s", err, o)
		}
		sameFile(t, filepath.Join(out, name), want)
	})
}

// libtorrentScript downloads argv[1] into argv[2] within argv[3] seconds
// with TCP off both ways, so over uTP only (the binding does not say a
// peer's transport: the settings, read back, say there is no other).
const libtorrentScript = `
import sys, time
import libtorrent as lt
tf, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = lt.session({
    'listen_interfaces': '0.0.0.0:6881',
    'enable_dht': False, 'enable_lsd': False, 'enable_upnp': False, 'enable_natpmp': False,
    'enable_outgoing_tcp': False, 'enable_incoming_tcp': False,
})
st = s.get_settings()
if st['enable_outgoing_tcp'] or st['enable_incoming_tcp'] or not st['enable_outgoing_utp']:
    print('TCP still on or uTP off')
    sys.exit(2)
h = s.add_torrent({'ti': lt.torrent_info(tf), 'save_path': out})
peers = set()
deadline = time.time() + timeout
while time.time() < deadline:
    for p in h.get_peer_info():
        peers.add(str(p.ip))
    ts = h.status()
    if ts.is_seeding:
        print('complete over uTP: %d bytes down from %d peers' % (ts.total_payload_download, len(peers)))
        sys.exit(0)
    time.sleep(0.1)
print('timed out at %.0f%% with %d peers' % (h.status().progress * 100, len(peers)))
sys.exit(1)
`

// startTransmission starts transmission-cli on h with its defaults but
// DHT, LPD and port mapping, downloading tf into a new folder.
func startTransmission(t *testing.T, h *Host, tf string) (string, *itest.Proc) {
	t.Helper()
	cfg, out := t.TempDir(), t.TempDir()
	settings := `{"dht-enabled": false, "lpd-enabled": false, "port-forwarding-enabled": false, "message-level": 2}`
	if err := os.WriteFile(filepath.Join(cfg, "settings.json"), []byte(settings), 0o644); err != nil {
		t.Fatal(err)
	}
	p := itest.Start(t, nil, "ip", "netns", "exec", h.NS, "transmission-cli", "-g", cfg, "-w", out, tf)
	return out, p
}

// waitForFile waits until path holds want, and returns how long it took.
func waitForFile(t *testing.T, path string, want []byte, d time.Duration, p *itest.Proc) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
			return time.Since(start)
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited before %s was complete:\n%s", p.Cmd.Path, path, p.Stderr())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Since(start) > d {
			got, _ := os.ReadFile(path)
			t.Fatalf("after %v %s has %d bytes, not the %d published (or they differ)\n%s", d, path, len(got), len(want), tail(p.Stdout()+p.Stderr(), 3000))
		}
	}
}

func sameFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: %d bytes differ from the %d published", path, len(got), len(want))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// torrentFile fetches the track's .torrent from the catalog into a file,
// and returns its path and the name of the file it describes.
func (w *world) torrentFile(t *testing.T) (string, string) {
	t.Helper()
	resp, err := w.web.Get(w.trackerURL + proto.PathTrackPrefix + w.track.ID + "/torrent")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET torrent: %d %v", resp.StatusCode, err)
	}
	mi, err := metainfo.Load(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "track.torrent")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, info.Name
}

// With the seed server gone, a player whose only source is Transmission
// (which unchokes on its own 10 s cycle) plays the track through, PCM
// identical to a direct decode, without an underrun.
func TestPlayerServedByTransmissionAlone(t *testing.T) {
	itest.Need(t, "transmission-cli", "ffmpeg")
	lab := newLab(t)
	w := startWorld(t, lab, "", "flac")
	tf, name := w.torrentFile(t)
	want, err := os.ReadFile(w.trackFile)
	if err != nil {
		t.Fatal(err)
	}
	trHost, err := lab.AddPublic(t.Context(), "transmission")
	if err != nil {
		t.Fatal(err)
	}
	out, tr := startTransmission(t, trHost, tf)
	waitForFile(t, filepath.Join(out, name), want, 60*time.Second, tr)
	// The seed server goes; Transmission, seeding, stays in the swarm.
	if code := w.seeder.Stop(10 * time.Second); code != 0 {
		t.Fatalf("seeder: exit %d", code)
	}
	home, err := lab.AddHome(t.Context(), "listener", Home{Link: Link{Up: 200_000, Down: 2_000_000, RTT: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	wav := filepath.Join(t.TempDir(), "out.wav")
	p := w.play(t, home, "--output", "wav:"+wav)
	rs := itest.Finish(t, "player", p, 150*time.Second)
	if len(rs) != 1 {
		t.Fatalf("%d reports, want 1", len(rs))
	}
	r := rs[0]
	t.Logf("player: %s", r)
	if r.Underruns != 0 {
		t.Errorf("%d underruns (%.0f ms) with Transmission as the only source", r.Underruns, r.UnderrunMs)
	}
	if r.BytesPeers == 0 || r.SeedBytes() != 0 {
		t.Errorf("want every byte from Transmission: %s", r)
	}
	itest.SamePCM(t, "player", itest.WAVPCM(t, wav), itest.RefPCM(t, w.trackFile))
}
