package netlab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/peertune/peertune/internal/itest"
)

// The test binary doubles as the program run inside the lab's hosts:
// NETLAB_HELPER=serve|dial makes it a tiny TCP server or client.
func TestMain(m *testing.M) {
	if mode := os.Getenv("NETLAB_HELPER"); mode != "" {
		if err := helper(mode, os.Args[len(os.Args)-2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(itest.Main(m)) // removes the peertune binary the integration tests built
}

// dialReport is what the dial helper prints.
type dialReport struct {
	Seen      string  `json:"seen"`       // the address the server saw us by
	ConnectMS float64 `json:"connect_ms"` // TCP connect: one round trip
	Bytes     int64   `json:"bytes"`
	MoveMS    float64 `json:"move_ms"` // time to move Bytes
}

// helper runs "serve ADDR -" or "dial ADDR get:N|put:N|-".
func helper(mode string, args []string) error {
	switch mode {
	case "serve":
		ln, err := net.Listen("tcp", args[0])
		if err != nil {
			return err
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			go serveOne(c)
		}
	case "dial":
		t0 := time.Now()
		c, err := net.DialTimeout("tcp", args[0], 3*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		var r dialReport
		r.ConnectMS = float64(time.Since(t0).Microseconds()) / 1000
		br := bufio.NewReader(c)
		seen, err := br.ReadString('\n')
		if err != nil {
			return fmt.Errorf("read greeting: %w", err)
		}
		r.Seen = strings.TrimSpace(seen)
		if op, n, ok := strings.Cut(args[1], ":"); ok {
			r.Bytes, _ = strconv.ParseInt(n, 10, 64)
			t1 := time.Now()
			fmt.Fprintf(c, "%s %d\n", op, r.Bytes)
			switch op {
			case "get":
				if _, err := io.CopyN(io.Discard, br, r.Bytes); err != nil {
					return fmt.Errorf("get: %w", err)
				}
			case "put":
				if _, err := io.CopyN(c, zeros{}, r.Bytes); err != nil {
					return fmt.Errorf("put: %w", err)
				}
				if _, err := br.ReadString('\n'); err != nil { // the server's receipt
					return fmt.Errorf("put receipt: %w", err)
				}
			}
			r.MoveMS = float64(time.Since(t1).Microseconds()) / 1000
		}
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func serveOne(c net.Conn) {
	defer c.Close()
	fmt.Fprintln(c, c.RemoteAddr().String())
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	var op string
	var n int64
	if _, err := fmt.Sscanf(line, "%s %d", &op, &n); err != nil {
		return
	}
	switch op {
	case "get":
		_, _ = io.CopyN(c, zeros{}, n)
	case "put":
		if _, err := io.CopyN(io.Discard, br, n); err == nil {
			fmt.Fprintln(c, "ok")
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// newLab makes a lab or skips the test when this machine cannot.
func newLab(t *testing.T) *Lab {
	t.Helper()
	l, err := New(t.Context(), nil)
	if errors.Is(err, ErrUnsupported) {
		t.Skipf("netlab needs root and network namespaces: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close lab: %v", err)
		}
	})
	return l
}

// serve starts the serve helper on h at port and waits until it listens.
func serve(t *testing.T, h *Host, port int) *exec.Cmd {
	t.Helper()
	cmd := h.Command(t.Context(), os.Args[0], "-test.run=^$", fmt.Sprintf("%s:%d", h.Addr, port), "-")
	cmd.Env = append(os.Environ(), "NETLAB_HELPER=serve")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "listening" {
		t.Fatalf("serve on %s: %q, %v", h.Name, line, err)
	}
	return cmd
}

// dial runs the dial helper on h against addr; op is "get:N", "put:N" or "-".
func dial(t *testing.T, h *Host, addr netip.AddrPort, op string) (dialReport, error) {
	t.Helper()
	cmd := h.Command(t.Context(), os.Args[0], "-test.run=^$", addr.String(), op)
	cmd.Env = append(os.Environ(), "NETLAB_HELPER=dial")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return dialReport{}, fmt.Errorf("dial %s from %s: %w: %s", addr, h.Name, err, strings.TrimSpace(stderr.String()))
	}
	var r dialReport
	if err := json.Unmarshal(out, &r); err != nil {
		return r, fmt.Errorf("dial report %q: %w", out, err)
	}
	return r, nil
}

func seenAddr(t *testing.T, r dialReport) netip.Addr {
	t.Helper()
	ap, err := netip.ParseAddrPort(r.Seen)
	if err != nil {
		t.Fatalf("server saw %q: %v", r.Seen, err)
	}
	return ap.Addr()
}

func TestLabReachabilityCapsAndDelay(t *testing.T) {
	l := newLab(t)
	ctx := t.Context()
	srv, err := l.AddPublic(ctx, "srv")
	if err != nil {
		t.Fatal(err)
	}
	link := Link{Up: 40_000, Down: 200_000, RTT: 40 * time.Millisecond}
	pubHome, err := l.AddHome(ctx, "pubhome", Home{Link: link})
	if err != nil {
		t.Fatal(err)
	}
	natHome, err := l.AddHome(ctx, "nathome", Home{NAT: true, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	if natHome.Addr == natHome.PublicAddr || natHome.Router == "" {
		t.Fatalf("NAT home: addr %s, public %s, router %q", natHome.Addr, natHome.PublicAddr, natHome.Router)
	}
	serve(t, srv, 7000)
	serve(t, pubHome, 7000)
	serve(t, natHome, 7000)
	srvAddr := netip.AddrPortFrom(srv.Addr, 7000)

	t.Run("a home behind NAT is seen as its router, one round trip away", func(t *testing.T) {
		r, err := dial(t, natHome, srvAddr, "-")
		if err != nil {
			t.Fatal(err)
		}
		if got := seenAddr(t, r); got != natHome.PublicAddr {
			t.Errorf("server saw %s, want the router's %s", got, natHome.PublicAddr)
		}
		if r.ConnectMS < 0.9*float64(link.RTT.Milliseconds()) {
			t.Errorf("connect took %.1f ms, want at least the %v round trip", r.ConnectMS, link.RTT)
		}
	})
	t.Run("a public home is seen by its own address", func(t *testing.T) {
		r, err := dial(t, pubHome, srvAddr, "-")
		if err != nil {
			t.Fatal(err)
		}
		if got := seenAddr(t, r); got != pubHome.Addr {
			t.Errorf("server saw %s, want %s", got, pubHome.Addr)
		}
	})
	t.Run("the public side dials a public home", func(t *testing.T) {
		r, err := dial(t, srv, netip.AddrPortFrom(pubHome.Addr, 7000), "-")
		if err != nil {
			t.Fatal(err)
		}
		if got := seenAddr(t, r); got != srv.Addr {
			t.Errorf("home saw %s, want %s", got, srv.Addr)
		}
	})
	t.Run("the public side cannot dial into a home behind NAT", func(t *testing.T) {
		for _, a := range []netip.Addr{natHome.PublicAddr, natHome.Addr} {
			if r, err := dial(t, srv, netip.AddrPortFrom(a, 7000), "-"); err == nil {
				t.Errorf("dial %s from the public side reached %+v", a, r)
			}
		}
	})
	t.Run("a NAT home dials a public home, and homes are two lines apart", func(t *testing.T) {
		r, err := dial(t, natHome, netip.AddrPortFrom(pubHome.Addr, 7000), "-")
		if err != nil {
			t.Fatal(err)
		}
		if got := seenAddr(t, r); got != natHome.PublicAddr {
			t.Errorf("home saw %s, want %s", got, natHome.PublicAddr)
		}
		if r.ConnectMS < 1.8*float64(link.RTT.Milliseconds()) {
			t.Errorf("connect took %.1f ms, want at least two lines' round trips (%v)", r.ConnectMS, 2*link.RTT)
		}
	})
	t.Run("download and upload are capped", func(t *testing.T) {
		// The bucket and the queue let a little through at once: the time
		// must be at least what the cap allows for the rest, and the rate
		// at least half the cap (the line works).
		for _, c := range []struct {
			op   string
			n    int64
			rate int64
		}{{"get", 600_000, link.Down}, {"put", 120_000, link.Up}} {
			r, err := dial(t, natHome, srvAddr, fmt.Sprintf("%s:%d", c.op, c.n))
			if err != nil {
				t.Fatal(err)
			}
			slack := max(c.rate/50, 4*1514) + max(c.rate/4, 10*1514) + 64<<10
			least := float64(c.n-slack) / float64(c.rate) * 1000
			most := float64(c.n) / float64(c.rate) * 2 * 1000
			t.Logf("%s %d bytes at a cap of %d B/s: %.0f ms (%.0f B/s)", c.op, c.n, c.rate, r.MoveMS, float64(c.n)/r.MoveMS*1000)
			if r.MoveMS < least || r.MoveMS > most+float64(4*link.RTT.Milliseconds()) {
				t.Errorf("%s %d bytes took %.0f ms, want %.0f–%.0f ms at %d B/s", c.op, c.n, r.MoveMS, least, most, c.rate)
			}
		}
	})
}

// Regression: a lab must leave nothing behind, processes included, and a
// lab whose process died is reaped by the next one.
func TestLabLeavesNothingBehind(t *testing.T) {
	hostLinks := func() []string {
		out, err := exec.Command("ip", "-o", "link", "show").Output()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 1 {
				names = append(names, strings.TrimSuffix(f[1], ":"))
			}
		}
		slices.Sort(names)
		return names
	}
	before := hostLinks()
	for run := range 2 {
		l, err := New(t.Context(), nil)
		if errors.Is(err, ErrUnsupported) {
			t.Skipf("netlab needs root and network namespaces: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AddPublic(t.Context(), "srv"); err != nil {
			t.Fatal(err)
		}
		// Its router runs miniupnpd, a daemon of the lab's own.
		h, err := l.AddHome(t.Context(), "home", Home{NAT: true, UPnP: true, Link: Link{Up: 1e5, Down: 1e6, RTT: 10 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		upnpDir := l.dir
		// A process that would outlive the test if Close forgot it.
		sleeper := h.Command(context.Background(), "sleep", "600")
		if err := sleeper.Start(); err != nil {
			t.Fatal(err)
		}
		made := l.Namespaces()
		if err := l.Close(); err != nil {
			t.Fatalf("run %d: close: %v", run, err)
		}
		waited := make(chan error, 1)
		go func() { waited <- sleeper.Wait() }()
		select {
		case <-waited:
		case <-time.After(5 * time.Second):
			_ = sleeper.Process.Kill()
			t.Fatalf("run %d: a process in the lab outlived Close", run)
		}
		left, err := Leftovers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(upnpDir); upnpDir == "" || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("run %d: the routers' miniupnpd files %q left after Close (%v)", run, upnpDir, err)
		}
		if out, _ := exec.Command("pgrep", "-f", "miniupnpd -d -f "+upnpDir).Output(); len(out) > 0 {
			t.Errorf("run %d: miniupnpd outlived Close: %s", run, out)
		}
		for _, ns := range made {
			if slices.Contains(left, ns) {
				t.Errorf("run %d: namespace %s left after Close", run, ns)
			}
		}
	}
	if after := hostLinks(); !slices.Equal(before, after) {
		t.Errorf("the host's links changed: before %v, after %v", before, after)
	}

	// A dead lab's namespace: made by a process that has exited.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%s%d.000000-public", namePrefix, dead.Process.Pid)
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", stale).Run() })
	l := newLab(t)
	_ = l
	left, err := Leftovers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(left, stale) {
		t.Errorf("New did not reap %s, left by a dead lab", stale)
	}
}
