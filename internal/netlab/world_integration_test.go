//go:build integration

package netlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// world is a tracker and a seeder of one 40 s track on a public host.
type world struct {
	bin                 string
	trackerURL, seedURL string
	seeder              *itest.Proc
	track               proto.Track
	trackFile           string
	web                 *http.Client // from the public host
	run                 func(h *Host, args ...string) *itest.Proc
}

// play starts a headless player of the world's track on h, its
// BitTorrent port 6881 on every address, with more flags (--linger,
// --output, ...) before the track.
func (w *world) play(t *testing.T, h *Host, flags ...string) *itest.Proc {
	args := []string{"play", "--tracker", w.trackerURL, "--cache", t.TempDir(), "--json", "--bt-listen", "0.0.0.0:6881"}
	return w.run(h, append(append(args, flags...), w.track.ID)...)
}

// startWorld adds a public host "srv" to lab, starts a tracker and a
// seeder (capped at uploadRate bytes/s, "" for no cap) of one track
// encoded as ext ("mp3", "flac", ...) on it, and waits for the track's
// publication.
func startWorld(t *testing.T, lab *Lab, uploadRate, ext string) *world {
	t.Helper()
	srv, err := lab.AddPublic(t.Context(), "srv")
	if err != nil {
		t.Fatal(err)
	}
	w := &world{bin: itest.Binary(t), web: srv.HTTPClient()}
	w.run = func(h *Host, args ...string) *itest.Proc {
		return itest.Start(t, nil, "ip", append([]string{"netns", "exec", h.NS, w.bin}, args...)...)
	}
	lib := t.TempDir()
	w.trackFile = itest.MakeTrack(t, lib, "lab", 40, ext)
	w.trackerURL = fmt.Sprintf("http://%s:7000", srv.Addr)
	w.run(srv, "tracker", "--listen", srv.Addr.String()+":7000", "--udp", srv.Addr.String()+":7000",
		"--data", t.TempDir(), "--token", "tok", "--interval", "10s", "--min-interval", "1s")
	waitFor(t, 20*time.Second, "the tracker", func() bool {
		resp, err := w.web.Get(w.trackerURL + proto.PathHealthz)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})
	w.seedURL = fmt.Sprintf("http://%s:7070", srv.Addr)
	args := []string{"seed", "--tracker", w.trackerURL, "--token", "tok", "--listen", srv.Addr.String() + ":7070",
		"--bt-listen", srv.Addr.String() + ":7071"}
	if uploadRate != "" {
		args = append(args, "--upload-rate", uploadRate)
	}
	w.seeder = w.run(srv, append(args, lib)...)
	waitFor(t, 60*time.Second, "the track's publication", func() bool {
		resp, err := w.web.Get(w.trackerURL + proto.PathTracks)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var list proto.TrackList
		if json.NewDecoder(resp.Body).Decode(&list) != nil || len(list.Tracks) == 0 {
			return false
		}
		w.track = list.Tracks[0]
		return true
	})
	return w
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
