package itest

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

	"github.com/peertune/peertune/proto"
)

// reportKeys are the contract's fields of play --json, exactly.
var reportKeys = []string{"track", "ttfa_ms", "underruns", "underrun_ms", "bytes_seed_head",
	"bytes_seed_emergency", "bytes_seed_bt", "bytes_seed_fill", "bytes_peers", "bytes_peers_wire", "bytes_cache", "peers_seen", "played_s", "connections"}

// Report is one line of play --json: what playing one track took.
type Report = proto.PlayReport

// ParseReports reads play's --json lines and checks each has exactly the
// contract's fields.
func ParseReports(t testing.TB, stdout string) []Report {
	t.Helper()
	var out []Report
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
		var r Report
		json.Unmarshal([]byte(line), &r)
		if r.BytesPeersWire < r.BytesPeers {
			t.Errorf("report %q: bytes_peers_wire below bytes_peers: every byte credited to a peer came over the wire", line)
		}
		out = append(out, r)
	}
	return out
}

// Finish waits for a player to exit 0 and returns its reports.
func Finish(t testing.TB, name string, p *Proc, timeout time.Duration) []Report {
	t.Helper()
	code, err := p.Wait(timeout)
	if err != nil || code != 0 {
		t.Fatalf("%s: exit %d (%v)\nstderr:\n%s", name, code, err, p.Stderr())
	}
	return ParseReports(t, p.Stdout())
}

// Swarm is a peertune tracker and a peertune seed on loopback, both with
// token "tok", stopped when the test ends.
type Swarm struct {
	Bin        string // the peertune binary
	TrackerURL string
	Tracker    *Proc
	SeedURL    string
	Seeder     *Proc

	t           testing.TB
	trackerArgs []string
}

// SwarmOptions tunes NewSwarm; zero values leave the programs' defaults.
type SwarmOptions struct {
	Interval   time.Duration // tracker announce interval
	PeerTTL    time.Duration // tracker --peer-ttl
	UploadRate int64         // seeder upload cap in bytes per second
	SeedArgs   []string      // extra seed flags
}

// NewSwarm starts a tracker (--min-interval 1s) and a seeder of lib and
// waits until n tracks are published.
func NewSwarm(t testing.TB, lib string, n int, o SwarmOptions) *Swarm {
	t.Helper()
	s := &Swarm{t: t, Bin: Binary(t)}
	tp := FreePort(t)
	s.TrackerURL = fmt.Sprintf("http://127.0.0.1:%d", tp)
	s.trackerArgs = []string{"tracker", "--listen", fmt.Sprintf("127.0.0.1:%d", tp),
		"--udp", fmt.Sprintf("127.0.0.1:%d", tp), "--data", t.TempDir(), "--token", "tok"}
	if o.Interval > 0 {
		s.trackerArgs = append(s.trackerArgs, "--interval", o.Interval.String())
	}
	s.trackerArgs = append(s.trackerArgs, "--min-interval", "1s")
	if o.PeerTTL > 0 {
		s.trackerArgs = append(s.trackerArgs, "--peer-ttl", o.PeerTTL.String())
	}
	s.StartTracker()
	sp := FreePort(t)
	s.SeedURL = fmt.Sprintf("http://127.0.0.1:%d", sp)
	args := []string{"seed", "--tracker", s.TrackerURL, "--token", "tok", "--listen", fmt.Sprintf("127.0.0.1:%d", sp), "--bt-listen", "127.0.0.1:0"}
	if o.UploadRate > 0 {
		args = append(args, "--upload-rate", strconv.FormatInt(o.UploadRate, 10))
	}
	args = append(args, o.SeedArgs...)
	s.Seeder = Start(t, nil, s.Bin, append(args, lib)...)
	deadline := time.Now().Add(60 * time.Second)
	for len(s.Tracks()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d tracks published, want %d\nseeder:\n%s", len(s.Tracks()), n, s.Seeder.Stderr())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return s
}

// StartTracker starts (or restarts) the tracker on the same port and data
// directory.
func (s *Swarm) StartTracker() {
	s.t.Helper()
	s.Tracker = Start(s.t, nil, s.Bin, s.trackerArgs...)
	WaitHTTP(s.t, s.TrackerURL+proto.PathHealthz, 20*time.Second)
}

// Tracks is the tracker's catalog; nil if the tracker does not answer.
func (s *Swarm) Tracks() []proto.Track {
	resp, err := http.Get(s.TrackerURL + proto.PathTracks)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var list proto.TrackList
	json.NewDecoder(resp.Body).Decode(&list)
	return list.Tracks
}

// TrackByTitle finds a published track by its title.
func (s *Swarm) TrackByTitle(title string) proto.Track {
	s.t.Helper()
	return s.findTrack(func(tr proto.Track) bool { return tr.Title == title }, fmt.Sprintf("track %q", title))
}

// TrackByCodec finds the first published track in codec.
func (s *Swarm) TrackByCodec(codec string) proto.Track {
	s.t.Helper()
	return s.findTrack(func(tr proto.Track) bool { return tr.Codec == codec }, codec+" track")
}

func (s *Swarm) findTrack(match func(proto.Track) bool, what string) proto.Track {
	s.t.Helper()
	for _, tr := range s.Tracks() {
		if match(tr) {
			return tr
		}
	}
	s.t.Fatalf("no %s in the catalog", what)
	return proto.Track{}
}

var seederUploadRE = regexp.MustCompile(`(?m)^peertune_seeder_upload_bytes_total\{[^}]*\} ([0-9.e+]+)$`)

// SeederUpload is the seeder's upload counter (HTTP + BitTorrent).
func (s *Swarm) SeederUpload() int64 {
	s.t.Helper()
	resp, err := http.Get(s.SeedURL + proto.PathMetrics)
	if err != nil {
		s.t.Fatalf("seeder metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var total int64
	for _, m := range seederUploadRE.FindAllStringSubmatch(string(b), -1) {
		f, _ := strconv.ParseFloat(m[1], 64)
		total += int64(f)
	}
	return total
}

// Play starts a headless player (--json) with the swarm's tracker and
// cache as its cache.
func (s *Swarm) Play(cache string, args ...string) *Proc {
	all := append([]string{"play", "--tracker", s.TrackerURL, "--cache", cache, "--bt-listen", "127.0.0.1:0", "--json"}, args...)
	return Start(s.t, nil, s.Bin, all...)
}

// MakeTrack writes a music-like test track (chords with a little noise, so
// that lossless codecs cannot shrink it to nothing) of the given length as
// ext (flac, wav or mp3), tagged with artist "Test Artist" and album "Test
// Album".
func MakeTrack(t testing.TB, dir, title string, seconds int, ext string) string {
	t.Helper()
	return MakeTaggedTrack(t, dir, title, "Test Artist", "Test Album", seconds, ext)
}

// MakeTaggedTrack is MakeTrack with the given artist and album.
func MakeTaggedTrack(t testing.TB, dir, title, artist, album string, seconds int, ext string) string {
	t.Helper()
	return MakeTrackWithTags(t, dir, title, seconds, ext, "title="+title, "artist="+artist, "album="+album)
}

// MakeTrackWithTags writes a test track as MakeTrack does, into the file
// name.ext, tagged with ffmpeg's -metadata KEY=VALUE pairs (title, artist,
// album, album_artist, track, disc, date…).
func MakeTrackWithTags(t testing.TB, dir, name string, seconds int, ext string, tags ...string) string {
	t.Helper()
	path := filepath.Join(dir, name+"."+ext)
	expr := "0.25*sin(2*PI*220*t)+0.2*sin(2*PI*277.2*t)*sin(2*PI*0.3*t)+0.15*sin(2*PI*329.6*t+sin(2*PI*3*t))+0.05*(random(0)-0.5)" +
		"|0.25*sin(2*PI*110*t)+0.2*sin(2*PI*440*t)*sin(2*PI*0.2*t)+0.05*(random(1)-0.5)"
	args := []string{"-v", "error", "-y", "-f", "lavfi", "-i",
		fmt.Sprintf("aevalsrc=exprs=%s:s=44100:d=%d", expr, seconds)}
	for _, tag := range tags {
		args = append(args, "-metadata", tag)
	}
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

// RefPCM decodes a file with ffmpeg to 16-bit PCM at its own rate and
// channel count.
func RefPCM(t testing.TB, path string) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg decode %s: %v", path, err)
	}
	return out
}

// WAVPCM returns the data chunk of a WAV file.
func WAVPCM(t testing.TB, path string) []byte {
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

// SamePCM fails the test unless two PCM buffers hold the same samples.
func SamePCM(t testing.TB, name string, got, want []byte) {
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

// PCMSNR is the signal-to-noise ratio in dB of got against want (16-bit
// samples), over their common length; 200 when they are equal.
func PCMSNR(got, want []byte) float64 {
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
