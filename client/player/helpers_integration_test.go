//go:build integration

package player_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
)

// reportKeys are the contract's fields of play --json, exactly.
var reportKeys = []string{"track", "ttfa_ms", "underruns", "underrun_ms", "bytes_seed_head",
	"bytes_seed_emergency", "bytes_seed_bt", "bytes_peers", "bytes_cache", "peers_seen", "played_s"}

type report struct {
	Track              string  `json:"track"`
	TTFAms             float64 `json:"ttfa_ms"`
	Underruns          int     `json:"underruns"`
	UnderrunMs         float64 `json:"underrun_ms"`
	BytesSeedHead      int64   `json:"bytes_seed_head"`
	BytesSeedEmergency int64   `json:"bytes_seed_emergency"`
	BytesSeedBT        int64   `json:"bytes_seed_bt"`
	BytesPeers         int64   `json:"bytes_peers"`
	BytesCache         int64   `json:"bytes_cache"`
	PeersSeen          int     `json:"peers_seen"`
	PlayedS            float64 `json:"played_s"`
}

func (r report) seed() int64    { return r.BytesSeedHead + r.BytesSeedEmergency + r.BytesSeedBT }
func (r report) network() int64 { return r.seed() + r.BytesPeers }

func (r report) String() string {
	return fmt.Sprintf("ttfa %.0fms, %d underruns (%.0fms), head %d, emergency %d, seed bt %d, peers %d, cache %d, %d peers seen, %.1fs played",
		r.TTFAms, r.Underruns, r.UnderrunMs, r.BytesSeedHead, r.BytesSeedEmergency, r.BytesSeedBT, r.BytesPeers, r.BytesCache, r.PeersSeen, r.PlayedS)
}

// parseReports reads play's --json lines and checks each has exactly the
// contract's fields.
func parseReports(t *testing.T, stdout string) []report {
	t.Helper()
	var out []report
	sc := bufio.NewScanner(strings.NewReader(stdout))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var keys map[string]any
		if err := json.Unmarshal([]byte(line), &keys); err != nil {
			t.Fatalf("report %q: %v", line, err)
		}
		var got []string
		for k := range keys {
			got = append(got, k)
		}
		sort.Strings(got)
		want := append([]string(nil), reportKeys...)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("report fields %v, want %v", got, want)
		}
		var r report
		json.Unmarshal([]byte(line), &r)
		out = append(out, r)
	}
	return out
}

// env is a tracker and a seeder on loopback.
type env struct {
	t          *testing.T
	bin        string
	trackerURL string
	tracker    *itest.Proc
	seedURL    string
	seeder     *itest.Proc
	lib        string
}

// newEnv starts a tracker and a seeder of lib (capped at uploadRate bytes
// per second; 0 uncapped) and waits until n tracks are published.
func newEnv(t *testing.T, lib string, uploadRate int64, n int) *env {
	t.Helper()
	e := &env{t: t, bin: itest.Binary(t), lib: lib}
	tp := itest.FreePort(t)
	e.trackerURL = fmt.Sprintf("http://127.0.0.1:%d", tp)
	e.tracker = itest.Start(t, nil, e.bin, "tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tp),
		"--udp", fmt.Sprintf("127.0.0.1:%d", tp), "--data", t.TempDir(), "--token", "tok",
		"--interval", "5s", "--min-interval", "1s")
	itest.WaitHTTP(t, e.trackerURL+"/healthz", 20*time.Second)
	sp := itest.FreePort(t)
	e.seedURL = fmt.Sprintf("http://127.0.0.1:%d", sp)
	args := []string{"seed", "--tracker", e.trackerURL, "--token", "tok", "--listen", fmt.Sprintf("127.0.0.1:%d", sp), "--bt-listen", "127.0.0.1:0"}
	if uploadRate > 0 {
		args = append(args, "--upload-rate", strconv.FormatInt(uploadRate, 10))
	}
	e.seeder = itest.Start(t, nil, e.bin, append(args, lib)...)
	deadline := time.Now().Add(60 * time.Second)
	for len(e.tracks()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d tracks published, want %d", len(e.tracks()), n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return e
}

func (e *env) tracks() []proto.Track {
	resp, err := http.Get(e.trackerURL + proto.PathTracks)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list proto.TrackList
	json.NewDecoder(resp.Body).Decode(&list)
	return list.Tracks
}

func (e *env) track(codec string) proto.Track {
	for _, tr := range e.tracks() {
		if tr.Codec == codec {
			return tr
		}
	}
	e.t.Fatalf("no %s track in the catalog", codec)
	return proto.Track{}
}

// seederUpload is the seeder's upload counter (HTTP + BitTorrent).
func (e *env) seederUpload() int64 {
	resp, err := http.Get(e.seedURL + proto.PathMetrics)
	if err != nil {
		e.t.Fatalf("seeder metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var total int64
	re := regexp.MustCompile(`(?m)^peertune_seeder_upload_bytes_total\{[^}]*\} ([0-9.e+]+)$`)
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		total += int64(f)
	}
	return total
}

// play starts a player with the env's tracker.
func (e *env) play(cache string, args ...string) *itest.Proc {
	all := append([]string{"play", "--tracker", e.trackerURL, "--cache", cache, "--bt-listen", "127.0.0.1:0", "--json"}, args...)
	return itest.Start(e.t, nil, e.bin, all...)
}

// finish waits for a player to exit 0 and returns its reports.
func finish(t *testing.T, p *itest.Proc, timeout time.Duration) []report {
	t.Helper()
	code, err := p.Wait(timeout)
	if err != nil || code != 0 {
		t.Fatalf("player exit %d (%v)\nstderr:\n%s", code, err, p.Stderr())
	}
	return parseReports(t, p.Stdout())
}

// makeTrack writes a music-like test track (chords with a little noise,
// so that lossless codecs cannot shrink it to nothing) of the given
// length, tagged, as ext (flac, wav or mp3).
func makeTrack(t *testing.T, dir, title string, seconds int, ext string) string {
	t.Helper()
	path := filepath.Join(dir, title+"."+ext)
	expr := "0.25*sin(2*PI*220*t)+0.2*sin(2*PI*277.2*t)*sin(2*PI*0.3*t)+0.15*sin(2*PI*329.6*t+sin(2*PI*3*t))+0.05*(random(0)-0.5)" +
		"|0.25*sin(2*PI*110*t)+0.2*sin(2*PI*440*t)*sin(2*PI*0.2*t)+0.05*(random(1)-0.5)"
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("aevalsrc=exprs=%s:s=44100:d=%d", expr, seconds),
		"-metadata", "title=" + title, "-metadata", "artist=Test Artist", "-metadata", "album=Test Album"}
	switch ext {
	case "flac":
		args = append(args, "-c:a", "flac", "-sample_fmt", "s16")
	case "wav":
		args = append(args, "-c:a", "pcm_s16le")
	case "mp3":
		args = append(args, "-c:a", "libmp3lame", "-b:a", "192k")
	}
	out, err := exec.Command("ffmpeg", append(args, path)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

// refPCM decodes a file with ffmpeg to 16-bit PCM at its own rate and
// channel count.
func refPCM(t *testing.T, path string) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", path, err)
	}
	return out
}

// wavPCM returns the data chunk of a WAV file.
func wavPCM(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for off := 12; off+8 <= len(b); {
		id := string(b[off : off+4])
		n := int(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		if id == "data" {
			return b[off+8 : min(off+8+n, len(b))]
		}
		off += 8 + n + n%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}

// samePCM says whether two PCM buffers hold the same samples.
func samePCM(t *testing.T, name string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	n := min(len(got), len(want))
	i := 0
	for i < n && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: PCM differs from a direct decode: %d bytes vs %d, first difference at byte %d", name, len(got), len(want), i)
}

// pcmSNR is the signal-to-noise ratio in dB of got against want (16-bit
// samples), over their common length.
func pcmSNR(got, want []byte) float64 {
	n := min(len(got), len(want)) / 2
	var sig, noise float64
	for i := range n {
		a := float64(int16(binary.LittleEndian.Uint16(want[2*i:])))
		b := float64(int16(binary.LittleEndian.Uint16(got[2*i:])))
		sig += a * a
		noise += (a - b) * (a - b)
	}
	if noise == 0 {
		return 200
	}
	return 10 * math.Log10(sig/noise)
}
