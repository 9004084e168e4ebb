package ctl

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/proto"
)

func TestSocketPath(t *testing.T) {
	cache := t.TempDir()

	t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
	p, err := SocketPath(cache)
	if err != nil {
		t.Fatal(err)
	}
	if dir := filepath.Dir(p); dir != "/run/user/1000/peertune" || !strings.HasPrefix(filepath.Base(p), filepath.Base(cache)+"-") {
		t.Errorf("with a runtime dir: %s, want /run/user/1000/peertune/%s-HASH.sock", p, filepath.Base(cache))
	}
	other, _ := SocketPath(filepath.Join(t.TempDir(), filepath.Base(cache)))
	if other == p {
		t.Errorf("two caches named %s share the socket %s", filepath.Base(cache), p)
	}

	t.Setenv("XDG_RUNTIME_DIR", "")
	if p, _ := SocketPath(cache); p != filepath.Join(cache, "ctl.sock") {
		t.Errorf("without a runtime dir: %s, want the cache's ctl.sock", p)
	}
	long := filepath.Join(cache, strings.Repeat("a", 60), strings.Repeat("b", 60))
	p, _ = SocketPath(long)
	if len(p) > maxSocketPath || !strings.HasPrefix(p, os.TempDir()) {
		t.Errorf("a cache path too long for a socket gives %s (%d bytes)", p, len(p))
	}
	t.Setenv("XDG_RUNTIME_DIR", "/"+strings.Repeat("r", 100))
	if p, _ := SocketPath(cache); len(p) > maxSocketPath {
		t.Errorf("a long runtime dir gives %s (%d bytes)", p, len(p))
	}
}

// serve runs Serve on a socket in a temp dir until the test ends.
func serve(t *testing.T, h Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctl.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket outlived Serve: %v", err)
		}
	})
	return path
}

func TestCallGetsTheHandlersReply(t *testing.T) {
	tr := proto.Track{ID: strings.Repeat("ab", 20), Title: "Song"}
	path := serve(t, func(_ context.Context, req Request) Reply {
		st := Status{State: StatePlaying, Track: &tr, PositionS: 1.5, DurationS: 180, Volume: 80, Queue: []string{}}
		if req.Verb == VerbQueue {
			return Reply{Status: st, Added: []proto.Track{{ID: req.Args[0]}}}
		}
		if req.Verb == VerbNext {
			return Reply{Status: st, Error: "nothing next"}
		}
		return Reply{Status: st}
	})
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %s: %v, mode %v; want a socket of mode 0600", path, err, fi.Mode())
	}
	ctx := context.Background()
	rep, err := Call(ctx, path, Request{Verb: VerbStatus})
	if err != nil || rep.Status.State != StatePlaying || rep.Status.Track == nil || rep.Status.Track.Title != "Song" || rep.Status.Volume != 80 {
		t.Errorf("status: %+v, %v", rep, err)
	}
	if rep, err := Call(ctx, path, Request{Verb: VerbQueue, Args: []string{"daft"}}); err != nil || len(rep.Added) != 1 || rep.Added[0].ID != "daft" {
		t.Errorf("queue: %+v, %v", rep, err)
	}
	var refused *RefusedError
	if _, err := Call(ctx, path, Request{Verb: VerbNext}); !errors.As(err, &refused) || err.Error() != "nothing next" {
		t.Errorf("a refused request: %v, want the player's reason as a *RefusedError", err)
	}
	// The server checks requests before the handler sees them.
	for _, req := range []Request{{Verb: "dance"}, {}, {Verb: VerbSeek}, {Verb: VerbVolume, Args: []string{"401"}}, {Verb: VerbPause, Args: []string{"x"}}} {
		if _, err := Call(ctx, path, req); err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
}

func TestCallWithoutPlayer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	if _, err := Call(context.Background(), path, Request{Verb: VerbStatus}); !errors.Is(err, ErrNoPlayer) {
		t.Errorf("no socket: %v, want ErrNoPlayer", err)
	}
	staleSocket(t, path)
	if _, err := Call(context.Background(), path, Request{Verb: VerbStatus}); !errors.Is(err, ErrNoPlayer) {
		t.Errorf("a stale socket: %v, want ErrNoPlayer", err)
	}
}

// staleSocket leaves a socket file at path that nothing listens on, as a
// killed player does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func TestListenReplacesAStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	staleSocket(t, path)
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		t.Fatalf("dialling the new socket: %v", err)
	}
	c.Close()
}

func TestListenRefusesALivePlayer(t *testing.T) {
	path := serve(t, func(context.Context, Request) Reply { return Reply{} })
	if ln, err := Listen(path); !errors.Is(err, ErrPlayerRunning) {
		if ln != nil {
			ln.Close()
		}
		t.Fatalf("Listen on a live player's socket: %v, want ErrPlayerRunning", err)
	}
	if _, err := Call(context.Background(), path, Request{Verb: VerbStatus}); err != nil {
		t.Errorf("the live player stopped answering: %v", err)
	}
}

func TestParseSeek(t *testing.T) {
	for _, tc := range []struct {
		in  string
		d   time.Duration
		rel bool
		ok  bool
	}{
		{"+10s", 10 * time.Second, true, true},
		{"-5", -5 * time.Second, true, true},
		{"-1m30s", -90 * time.Second, true, true},
		{"90", 90 * time.Second, false, true},
		{"1.5", 1500 * time.Millisecond, false, true},
		{"90s", 90 * time.Second, false, true},
		{"1:30", 90 * time.Second, false, true},
		{"+0:05", 5 * time.Second, true, true},
		{"1:02:03", time.Hour + 2*time.Minute + 3*time.Second, false, true},
		{"", 0, false, false},
		{"+", 0, false, false},
		{"--5", 0, false, false},
		{"+-5", 0, false, false},
		{"1:60", 0, false, false},
		{"1::3", 0, false, false},
		{"1:2:3:4", 0, false, false},
		{"1.5:30", 0, false, false},
		{"soon", 0, false, false},
		{"NaN", 0, false, false},
		{"1e9", 0, false, false},
		{"25h", 0, false, false},
		{"99999999999999999999", 0, false, false},
	} {
		d, rel, err := ParseSeek(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (d != tc.d || rel != tc.rel)) {
			t.Errorf("ParseSeek(%q) = %v, %v, %v; want %v, %v, ok %v", tc.in, d, rel, err, tc.d, tc.rel, tc.ok)
		}
	}
}

func TestParseVolume(t *testing.T) {
	for in, want := range map[string]int{"0": 0, "80": 80, "100": 100, "55%": 55, " 7 ": 7, "101": 101, "400": 400, "401": -1, "-1": -1, "loud": -1, "": -1, "5.5": -1} {
		v, err := ParseVolume(in)
		if (want < 0) != (err != nil) || (want >= 0 && v != want) {
			t.Errorf("ParseVolume(%q) = %d, %v; want %d", in, v, err, want)
		}
	}
}
