//go:build integration

package tracker_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/peertune/peertune/internal/itest"
	"github.com/peertune/peertune/proto"
	"github.com/peertune/peertune/tracker/announce"
	"github.com/peertune/peertune/tracker/catalog/catalogtest"
	"github.com/peertune/peertune/tracker/catalog/sqlite"
)

const (
	aliceOld  = "alice-token-before-rotation"
	aliceNew  = "alice-token-after-rotation"
	bobToken  = "bob-publisher-token"
	rootToken = "root-admin-token"
)

// writeTokensFile writes content to path with mode (not under the umask).
func writeTokensFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// publishBody is a publish request for a fresh torrent of a random file.
func publishBody(t *testing.T, base, title string) (proto.PublishRequest, metainfo.Hash) {
	t.Helper()
	tpath, ih := makeFileTorrent(t, t.TempDir(), title+".flac", 64<<10, base+proto.PathAnnounce,
		"http://127.0.0.1:7070/"+url.PathEscape(title)+".flac")
	torrent, err := os.ReadFile(tpath)
	if err != nil {
		t.Fatal(err)
	}
	return proto.PublishRequest{Torrent: torrent, Title: title, Artist: "Test Artist", Album: "Test Album",
		DurationS: 10, Codec: proto.CodecFLAC, Bitrate: 900_000}, ih
}

// waitUntil polls cond every 50 ms for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitForLog waits until the tracker's stderr holds every one of subs.
// The tracker logs an action before it answers, but its stderr reaches the
// test through a pipe that another goroutine reads: checking right after
// the answer failed so now and then (TestPublishersTokensFileAndTakedown).
func waitForLog(t *testing.T, tr *tracker, what string, subs ...string) {
	t.Helper()
	has := func() bool {
		out := tr.proc.Stderr()
		for _, s := range subs {
			if !strings.Contains(out, s) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !has(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("timed out waiting for %s in the tracker's log:\n%s", what, tr.proc.Stderr())
			return
		}
	}
}

// tokenWorks says whether the tracker takes token: a delete of a track
// that does not exist is 404 for a known token, 401 for another.
func tokenWorks(t *testing.T, base, token string) bool {
	t.Helper()
	code, _ := apiDo(t, http.MethodDelete, base+proto.PathTracks+"/"+strings.Repeat("0", 40), token, nil)
	if code != http.StatusNotFound && code != http.StatusUnauthorized {
		t.Fatalf("probe delete with a token: %d", code)
	}
	return code == http.StatusNotFound
}

// httpAnnounce returns the failure reason of an HTTP announce of ih ("" if
// it succeeded).
func httpAnnounce(t *testing.T, base string, ih metainfo.Hash) string {
	t.Helper()
	q := url.Values{"info_hash": {string(ih[:])}, "peer_id": {"-PP0100-abcdefghijkl"},
		"port": {"6881"}, "left": {"0"}, "uploaded": {"0"}, "downloaded": {"0"}, "compact": {"1"}}
	return failureReason(t, base+proto.PathAnnounce+"?"+q.Encode())
}

// httpScrapeFailure returns the failure reason of an HTTP scrape of ih.
func httpScrapeFailure(t *testing.T, base string, ih metainfo.Hash) string {
	t.Helper()
	return failureReason(t, base+proto.PathScrape+"?info_hash="+url.QueryEscape(string(ih[:])))
}

// failureReason GETs a bencoded tracker reply and returns its failure
// reason ("" for none).
func failureReason(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Failure string `bencode:"failure reason"`
	}
	if err := bencode.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: reply is not bencode: %v", u, err)
	}
	return body.Failure
}

// udpAnnounce announces ih over BEP 15 to addr (host:port) and returns the
// tracker's error message ("" if it answered with peers).
func udpAnnounce(t *testing.T, addr string, ih metainfo.Hash) string {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	roundTrip := func(pkt []byte) []byte {
		t.Helper()
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := conn.Write(pkt); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("udp tracker: %v", err)
		}
		return buf[:n]
	}
	connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	connect = binary.BigEndian.AppendUint32(connect, 0) // connect
	connect = binary.BigEndian.AppendUint32(connect, 1)
	r := roundTrip(connect)
	if len(r) != 16 || binary.BigEndian.Uint32(r) != 0 {
		t.Fatalf("udp connect reply %x", r)
	}
	pkt := append([]byte{}, r[8:16]...)         // connection id
	pkt = binary.BigEndian.AppendUint32(pkt, 1) // announce
	pkt = binary.BigEndian.AppendUint32(pkt, 2)
	pkt = append(pkt, ih[:]...)
	pkt = append(pkt, "-PP0100-udpudpudpudp"...)
	pkt = binary.BigEndian.AppendUint64(pkt, 0) // downloaded
	pkt = binary.BigEndian.AppendUint64(pkt, 0) // left
	pkt = binary.BigEndian.AppendUint64(pkt, 0) // uploaded
	pkt = binary.BigEndian.AppendUint32(pkt, 2) // started
	pkt = binary.BigEndian.AppendUint32(pkt, 0) // ip
	pkt = binary.BigEndian.AppendUint32(pkt, 7) // key
	pkt = binary.BigEndian.AppendUint32(pkt, 50)
	pkt = binary.BigEndian.AppendUint16(pkt, 6881)
	r = roundTrip(pkt)
	switch binary.BigEndian.Uint32(r) {
	case 1:
		return ""
	case 3:
		return string(r[8:])
	}
	t.Fatalf("udp announce reply %x", r)
	return ""
}

// TestPublishersTokensFileAndTakedown runs a real tracker with a tokens
// file and an admin file: publishers by name, a token rotated by SIGHUP, a
// bad file on SIGHUP, a catalog from before names taken over, an admin's
// takedown (search, HTTP and UDP announces, scrape, re-publish), and the
// deny list's GET, PUT and DELETE.
func TestPublishersTokensFileAndTakedown(t *testing.T) {
	dir := t.TempDir()
	tokens, admins := filepath.Join(dir, "tokens"), filepath.Join(dir, "admin-tokens")
	writeTokensFile(t, tokens, "# publishers\nalice "+aliceOld+"\nbob "+bobToken+"\n", 0o600)
	writeTokensFile(t, admins, "root "+rootToken+"\n", 0o400) // as a systemd credential

	// A catalog an older tracker wrote: the publisher is the token's digest.
	data := t.TempDir()
	legacy := catalogtest.NewEntry("legacy", "Legacy Song", "Old Times", "Before Names")
	sum := sha256.Sum256([]byte(aliceOld))
	legacy.Publisher = hex.EncodeToString(sum[:])
	old, err := sqlite.Open(context.Background(), filepath.Join(data, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := old.Put(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	old.Close()

	tr := startTracker(t, data, "--tokens", tokens, "--admin-tokens", admins, "--token", "flag-token-1")
	udpAddr := strings.TrimSuffix(strings.TrimPrefix(tr.udpURL, "udp://"), "/announce")
	waitForLog(t, tr, "the start naming the publishers and admins", "publishers=\"[alice bob token-1]\"", "admins=[root]")
	waitForLog(t, tr, "the start taking over the older track", "now belong to their token's publisher")

	// Publish as alice; the log names her.
	pub, ih := publishBody(t, tr.base, "Alice Song")
	if code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, aliceOld, pub); code != http.StatusCreated {
		t.Fatalf("publish as alice: %d %s", code, b)
	}
	waitForLog(t, tr, "the publish logged with alice's name", `msg="track published"`, "publisher=alice")
	if code, _ := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, "flag-token-1", pub); code != http.StatusOK {
		t.Errorf("--token's publisher re-publishing alice's track: %d, want 200 (it exists)", code)
	}

	// Rotate alice's token: the new one works, the old one is refused, and
	// alice still owns her tracks (also the one from before names).
	writeTokensFile(t, tokens, "alice "+aliceNew+"\nbob "+bobToken+"\ncarol carol-new-token\n", 0o600)
	tr.proc.Signal(syscall.SIGHUP)
	waitUntil(t, "the rotated token to work", func() bool { return tokenWorks(t, tr.base, aliceNew) })
	if tokenWorks(t, tr.base, aliceOld) {
		t.Error("alice's old token still works after the reload")
	}
	waitForLog(t, tr, "the reload logged with the names added", `msg="tokens reloaded"`, "publishers_added=[carol]")
	if code, _ := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+ih.HexString(), bobToken, nil); code != http.StatusForbidden {
		t.Errorf("bob deleting alice's track: %d, want 403", code)
	}
	if code, b := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+ih.HexString(), aliceNew, nil); code != http.StatusNoContent {
		t.Errorf("alice deleting her track with her new token: %d %s", code, b)
	}
	if code, b := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+legacy.ID, aliceNew, nil); code != http.StatusNoContent {
		t.Errorf("alice deleting the track her old token published before names: %d %s", code, b)
	}

	// A bad file on SIGHUP keeps the set in force: a bad line, then a mode
	// that lets others read it.
	for i, bad := range []struct {
		content string
		mode    os.FileMode
		says    string
	}{
		{"alice\n", 0o600, "line 1: want two fields"},
		{"alice alice-third-token\n", 0o644, "mode 0644"},
	} {
		writeTokensFile(t, tokens, bad.content, bad.mode)
		tr.proc.Signal(syscall.SIGHUP)
		waitUntil(t, "the refused reload's log line", func() bool {
			return strings.Count(tr.proc.Stderr(), `msg="tokens not reloaded`) == i+1
		})
		if !strings.Contains(tr.proc.Stderr(), tokens) || !strings.Contains(tr.proc.Stderr(), bad.says) {
			t.Errorf("the refused reload's log does not name the file and say %q:\n%s", bad.says, tr.proc.Stderr())
		}
		if !tokenWorks(t, tr.base, aliceNew) || !tokenWorks(t, tr.base, "carol-new-token") || tokenWorks(t, tr.base, "alice-third-token") {
			t.Errorf("after a bad reload (%s) the set in force changed", bad.says)
		}
	}
	for _, secret := range []string{aliceOld, aliceNew, bobToken, rootToken, "carol-new-token", "alice-third-token"} {
		if strings.Contains(tr.proc.Stderr(), secret) {
			t.Errorf("the tracker logged a token (%s)", secret)
		}
	}
	writeTokensFile(t, tokens, "alice "+aliceNew+"\nbob "+bobToken+"\n", 0o600)
	tr.proc.Signal(syscall.SIGHUP)
	waitUntil(t, "carol to go", func() bool { return !tokenWorks(t, tr.base, "carol-new-token") })

	// An admin takes a track down.
	pub, ih = publishBody(t, tr.base, "Bootleg Recording")
	if code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, aliceNew, pub); code != http.StatusCreated {
		t.Fatalf("publish: %d %s", code, b)
	}
	if r := httpAnnounce(t, tr.base, ih); r != "" {
		t.Fatalf("announce of a published track: %q", r)
	}
	if r := udpAnnounce(t, udpAddr, ih); r != "" {
		t.Fatalf("UDP announce of a published track: %q", r)
	}
	if code, _ := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+ih.HexString(), bobToken, nil); code != http.StatusForbidden {
		t.Errorf("a publisher taking down another's track: %d, want 403", code)
	}
	if code, b := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+ih.HexString(), rootToken, nil); code != http.StatusNoContent {
		t.Fatalf("takedown: %d %s", code, b)
	}
	waitForLog(t, tr, "the takedown logged with the admin's name", `msg="track taken down" id=`+ih.HexString(), "admin=root")
	if l := search(t, tr.base, "bootleg"); l.Total != 0 {
		t.Errorf("search finds the taken-down track: %+v", l)
	}
	if r := httpAnnounce(t, tr.base, ih); r != announce.TakenDownReason {
		t.Errorf("HTTP announce of the taken-down track: %q, want %q", r, announce.TakenDownReason)
	}
	if r := udpAnnounce(t, udpAddr, ih); r != announce.TakenDownReason {
		t.Errorf("UDP announce of the taken-down track: %q, want %q", r, announce.TakenDownReason)
	}
	if r := httpScrapeFailure(t, tr.base, ih); r != announce.TakenDownReason {
		t.Errorf("scrape of the taken-down track: %q", r)
	}
	for _, tok := range []string{aliceNew, bobToken} {
		code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, tok, pub)
		var e proto.Error
		json.Unmarshal(b, &e)
		if code != http.StatusForbidden || e.Code != proto.ErrorCodeTakenDown || !strings.Contains(e.Error, "taken down") {
			t.Errorf("re-publish of the taken-down track: %d %s, want 403 saying it was taken down", code, b)
		}
	}

	// The deny list: admins only.
	for tok, want := range map[string]int{"": http.StatusUnauthorized, "wrong": http.StatusUnauthorized, aliceNew: http.StatusForbidden} {
		if code, _ := apiDo(t, http.MethodGet, tr.base+proto.PathAdminDeny, tok, nil); code != want {
			t.Errorf("GET deny list with %q: %d, want %d", tok, code, want)
		}
		if code, _ := apiDo(t, http.MethodPut, tr.base+proto.PathAdminDeny+"/"+ih.HexString(), tok, nil); code != want {
			t.Errorf("PUT deny with %q: %d, want %d", tok, code, want)
		}
	}
	denials := func() []proto.Denial {
		t.Helper()
		code, b := apiDo(t, http.MethodGet, tr.base+proto.PathAdminDeny, rootToken, nil)
		var list []proto.Denial
		if code != http.StatusOK || json.Unmarshal(b, &list) != nil {
			t.Fatalf("GET deny list: %d %s", code, b)
		}
		return list
	}
	if list := denials(); len(list) != 1 || list[0].ID != ih.HexString() || list[0].By != "root" || list[0].At.IsZero() {
		t.Errorf("deny list after the takedown: %+v", list)
	}
	// PUT denies a track before it is published; its publish is refused.
	future, fih := publishBody(t, tr.base, "Future Leak")
	code, b := apiDo(t, http.MethodPut, tr.base+proto.PathAdminDeny+"/"+fih.HexString(), rootToken, proto.DenyRequest{Reason: "leaked before release"})
	if code != http.StatusOK {
		t.Fatalf("PUT deny: %d %s", code, b)
	}
	if code, _ := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, aliceNew, future); code != http.StatusForbidden {
		t.Errorf("publish of a denied infohash: %d, want 403", code)
	}
	if list := denials(); len(list) != 2 || list[1].ID != fih.HexString() || list[1].Reason != "leaked before release" {
		t.Errorf("deny list after PUT: %+v", list)
	}
	waitForLog(t, tr, "the denial logged", `msg="infohash denied"`)
	// DELETE lifts: both may be published again.
	for _, h := range []metainfo.Hash{fih, ih} {
		if code, b := apiDo(t, http.MethodDelete, tr.base+proto.PathAdminDeny+"/"+h.HexString(), rootToken, nil); code != http.StatusNoContent {
			t.Errorf("lift %s: %d %s", h.HexString(), code, b)
		}
	}
	if code, _ := apiDo(t, http.MethodDelete, tr.base+proto.PathAdminDeny+"/"+ih.HexString(), rootToken, nil); code != http.StatusNotFound {
		t.Errorf("second lift: %d, want 404", code)
	}
	waitForLog(t, tr, "the lift logged", `msg="denial lifted"`)
	for _, p := range []proto.PublishRequest{future, pub} {
		if code, b := apiDo(t, http.MethodPost, tr.base+proto.PathTracks, aliceNew, p); code != http.StatusCreated {
			t.Errorf("publish after the lift: %d %s", code, b)
		}
	}
	if r := httpAnnounce(t, tr.base, ih); r != "" {
		t.Errorf("announce after the lift and re-publish: %q", r)
	}
	if len(denials()) != 0 {
		t.Errorf("deny list not empty after the lifts")
	}

	// The deny list survives a restart.
	if code, _ := apiDo(t, http.MethodDelete, tr.base+proto.PathTracks+"/"+ih.HexString(), rootToken, nil); code != http.StatusNoContent {
		t.Fatal("second takedown failed")
	}
	tr.proc.Stop(10 * time.Second)
	tr = startTracker(t, data, "--tokens", tokens, "--admin-tokens", admins)
	if r := httpAnnounce(t, tr.base, ih); r != announce.TakenDownReason {
		t.Errorf("announce of a taken-down track after a restart: %q", r)
	}
}

// TestDenyListUnderOpen: a tracker that tracks any infohash refuses the
// swarm of a denied one, over HTTP and UDP, and no other.
func TestDenyListUnderOpen(t *testing.T) {
	admins := filepath.Join(t.TempDir(), "admins")
	writeTokensFile(t, admins, "root "+rootToken+"\n", 0o600)
	tr := startTracker(t, t.TempDir(), "--open", "--admin-tokens", admins)
	udpAddr := strings.TrimSuffix(strings.TrimPrefix(tr.udpURL, "udp://"), "/announce")
	denied, other := metainfo.Hash{0xde, 0x01}, metainfo.Hash{0x0e, 0x02}
	if r := httpAnnounce(t, tr.base, denied); r != "" {
		t.Fatalf("open tracker, announce: %q", r)
	}
	if code, b := apiDo(t, http.MethodPut, tr.base+proto.PathAdminDeny+"/"+denied.HexString(), rootToken, nil); code != http.StatusOK {
		t.Fatalf("PUT deny: %d %s", code, b)
	}
	if r := httpAnnounce(t, tr.base, denied); r != announce.TakenDownReason {
		t.Errorf("HTTP announce of a denied infohash: %q", r)
	}
	if r := udpAnnounce(t, udpAddr, denied); r != announce.TakenDownReason {
		t.Errorf("UDP announce of a denied infohash: %q", r)
	}
	if r := httpAnnounce(t, tr.base, other); r != "" {
		t.Errorf("HTTP announce of another infohash: %q", r)
	}
	if r := udpAnnounce(t, udpAddr, other); r != "" {
		t.Errorf("UDP announce of another infohash: %q", r)
	}
}

// TestTokensFileRefusedAtStart: a tokens file that group or others may
// read, or with a bad line, stops the tracker at start (exit 2) with a
// message naming the file (and its mode).
func TestTokensFileRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		flag, content string
		mode          os.FileMode
		says          string
	}{
		{"--tokens", "alice tok\n", 0o644, "mode 0644"},
		{"--admin-tokens", "root tok\n", 0o640, "mode 0640"},
		{"--tokens", "alice tok\nbob tok\n", 0o600, "line 2: the token is line 1's already"},
	} {
		path := filepath.Join(dir, fmt.Sprintf("tokens-%04o", tt.mode))
		writeTokensFile(t, path, tt.content, tt.mode)
		p := itest.Start(t, nil, itest.Binary(t), "tracker", "--listen", "127.0.0.1:0", "--udp", "", "--data", t.TempDir(), tt.flag, path)
		code, err := p.Wait(20 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code != 2 || !strings.Contains(p.Stderr(), path) || !strings.Contains(p.Stderr(), tt.says) || !strings.Contains(p.Stderr(), tt.flag) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and a message naming the flag, the file and %q", tt.flag, path, code, p.Stderr(), tt.says)
		}
	}
}
