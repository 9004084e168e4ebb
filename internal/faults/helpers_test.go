//go:build integration

package faults

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
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
		got := make([]string, 0, len(keys))
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
	t           *testing.T
	bin         string
	trackerPort int
	trackerURL  string
	trackerData string
	trackerArgs []string
	tracker     *itest.Proc
	seedURL     string
	seeder      *itest.Proc
	lib         string
}

// envOpts tunes newEnv.
type envOpts struct {
	interval   time.Duration // tracker announce interval (default 3s)
	uploadRate int64         // seeder upload cap in bytes per second (0: none)
	seedArgs   []string      // extra seed flags
}

// newEnv starts a tracker and a seeder of lib and waits until n tracks are
// published.
func newEnv(t *testing.T, lib string, n int, o envOpts) *env {
	t.Helper()
	if o.interval == 0 {
		o.interval = 3 * time.Second
	}
	e := &env{t: t, bin: itest.Binary(t), lib: lib, trackerData: t.TempDir()}
	e.trackerPort = itest.FreePort(t)
	e.trackerURL = fmt.Sprintf("http://127.0.0.1:%d", e.trackerPort)
	e.trackerArgs = []string{"tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", e.trackerPort),
		"--udp", fmt.Sprintf("127.0.0.1:%d", e.trackerPort), "--data", e.trackerData, "--token", "tok",
		"--interval", o.interval.String(), "--min-interval", "1s", "--peer-ttl", (3 * o.interval).String()}
	e.startTracker()
	sp := itest.FreePort(t)
	e.seedURL = fmt.Sprintf("http://127.0.0.1:%d", sp)
	args := []string{"seed", "--tracker", e.trackerURL, "--token", "tok", "--listen", fmt.Sprintf("127.0.0.1:%d", sp), "--bt-listen", "127.0.0.1:0"}
	if o.uploadRate > 0 {
		args = append(args, "--upload-rate", strconv.FormatInt(o.uploadRate, 10))
	}
	args = append(args, o.seedArgs...)
	e.seeder = itest.Start(t, nil, e.bin, append(args, lib)...)
	deadline := time.Now().Add(60 * time.Second)
	for len(e.tracks()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d tracks published, want %d\nseeder:\n%s", len(e.tracks()), n, e.seeder.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return e
}

// startTracker starts (or restarts) the tracker on its port and data dir.
func (e *env) startTracker() {
	e.t.Helper()
	e.tracker = itest.Start(e.t, nil, e.bin, e.trackerArgs...)
	itest.WaitHTTP(e.t, e.trackerURL+proto.PathHealthz, 20*time.Second)
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

// trackByTitle finds a published track by its title.
func (e *env) trackByTitle(title string) proto.Track {
	e.t.Helper()
	for _, tr := range e.tracks() {
		if tr.Title == title {
			return tr
		}
	}
	e.t.Fatalf("no track %q in the catalog", title)
	return proto.Track{}
}

// play starts a headless player with the env's tracker and its own cache.
func (e *env) play(cache string, args ...string) *itest.Proc {
	all := append([]string{"play", "--tracker", e.trackerURL, "--cache", cache, "--bt-listen", "127.0.0.1:0", "--json"}, args...)
	return itest.Start(e.t, nil, e.bin, all...)
}

// finish waits for a player to exit 0 and returns its reports.
func finish(t *testing.T, name string, p *itest.Proc, timeout time.Duration) []report {
	t.Helper()
	code, err := p.Wait(timeout)
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d (%v)\nstderr:\n%s", name, code, err, p.Stderr())
	}
	return parseReports(t, p.Stdout())
}

// waitReports waits until a player printed n reports.
func waitReports(t *testing.T, name string, p *itest.Proc, n int, timeout time.Duration) []report {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if rs := parseReports(t, p.Stdout()); len(rs) >= n {
			return rs
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited %d before its report\nstderr:\n%s", name, p.Cmd.ProcessState.ExitCode(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no report within %v\nstderr:\n%s", name, timeout, p.Stderr())
		}
	}
}

// waitCached waits until the player's cache records the track complete
// (every piece verified: the player holds the whole track).
func waitCached(t *testing.T, name, cache, id string, p *itest.Proc, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(filepath.Join(cache, "meta", id+".json"))
		if err == nil {
			var e struct {
				Complete bool `json:"complete"`
			}
			if json.Unmarshal(b, &e) == nil && e.Complete {
				return
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("%s exited %d before holding the whole track\nstderr:\n%s", name, p.Cmd.ProcessState.ExitCode(), p.Stderr())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not hold the whole track after %v\nstderr:\n%s", name, timeout, p.Stderr())
		}
	}
}

// progressRE matches the headless progress line: position, state, bytes by
// source, connected listeners.
var progressRE = regexp.MustCompile(`(\d+):(\d\d) / \d+:\d\d\s+(\w+)\s+seed ([0-9.]+ [KMG]?i?B) .*peers ([0-9.]+ [KMG]?i?B) .*cache ([0-9.]+ [KMG]?i?B) \(\d+%\)\s+(\d+) peers`)

// progress is one parsed progress line.
type progress struct {
	pos                time.Duration
	state              string
	seed, peers, cache int64
	listeners          int
}

// progressLines parses every progress line in a player's stderr.
func progressLines(stderr string) []progress {
	var out []progress
	for _, line := range strings.Split(stderr, "\n") {
		m := progressRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		mins, _ := strconv.Atoi(m[1])
		secs, _ := strconv.Atoi(m[2])
		n, _ := strconv.Atoi(m[7])
		out = append(out, progress{pos: time.Duration(mins*60+secs) * time.Second, state: m[3],
			seed: sizeOf(m[4]), peers: sizeOf(m[5]), cache: sizeOf(m[6]), listeners: n})
	}
	return out
}

func sizeOf(s string) int64 {
	f, unit, _ := strings.Cut(s, " ")
	v, _ := strconv.ParseFloat(f, 64)
	mult := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
	return int64(v * mult)
}

// makeTrack writes a music-like test track (chords with a little noise, so
// that flac cannot shrink it to nothing) of the given length, tagged, as a
// 16-bit flac file.
func makeTrack(t *testing.T, dir, title string, seconds int) string {
	t.Helper()
	itest.Need(t, "ffmpeg")
	path := filepath.Join(dir, title+".flac")
	expr := "0.25*sin(2*PI*220*t)+0.2*sin(2*PI*277.2*t)*sin(2*PI*0.3*t)+0.15*sin(2*PI*329.6*t+sin(2*PI*3*t))+0.05*(random(0)-0.5)" +
		"|0.25*sin(2*PI*110*t)+0.2*sin(2*PI*440*t)*sin(2*PI*0.2*t)+0.05*(random(1)-0.5)"
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("aevalsrc=exprs=%s:s=44100:d=%d", expr, seconds),
		"-metadata", "title=" + title, "-metadata", "artist=Fault Artist", "-metadata", "album=Fault Album",
		"-c:a", "flac", "-sample_fmt", "s16", path}
	out, err := exec.Command("ffmpeg", args...).CombinedOutput()
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

// samePCM fails the test unless two PCM buffers hold the same samples.
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

var (
	badpeerOnce sync.Once
	badpeerPath string
	badpeerErr  error
)

// badpeerBinary builds internal/cmd/badpeer once per test binary.
func badpeerBinary(t *testing.T) string {
	t.Helper()
	badpeerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "peertune-badpeer-")
		if err != nil {
			badpeerErr = err
			return
		}
		badpeerPath = filepath.Join(dir, "badpeer")
		cmd := exec.Command("go", "build", "-o", badpeerPath, "./internal/cmd/badpeer")
		cmd.Dir = itest.RepoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			badpeerErr = fmt.Errorf("go build ./internal/cmd/badpeer: %w\n%s", err, out)
		}
	})
	if badpeerErr != nil {
		t.Fatal(badpeerErr)
	}
	return badpeerPath
}

// samePCMBut compares PCM written in real time with a direct decode,
// allowing the silence an underrun inserts (the WAV output records what
// was heard): every sample must match, in order, once runs of silent
// frames in got that are not in want are taken out. It returns the
// silence taken out, in frames.
func samePCMBut(t *testing.T, name string, got, want []byte) int {
	t.Helper()
	const frame = 4 // 16-bit stereo
	silent := func(b []byte) bool { return b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 }
	i, j, gap := 0, 0, 0
	for i+frame <= len(got) && j+frame <= len(want) {
		if bytes.Equal(got[i:i+frame], want[j:j+frame]) {
			i += frame
			j += frame
			continue
		}
		if !silent(got[i : i+frame]) {
			t.Errorf("%s: PCM differs from a direct decode at output byte %d (source byte %d), not in a silent gap", name, i, j)
			return gap
		}
		for i+frame <= len(got) && silent(got[i:i+frame]) {
			i += frame
			gap++
		}
	}
	if j != len(want) || i != len(got) {
		t.Errorf("%s: %d of %d source bytes matched; %d output bytes left over", name, j, len(want), len(got)-i)
	}
	return gap
}
