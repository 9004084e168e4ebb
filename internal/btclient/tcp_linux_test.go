package btclient

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Both ends of a peer connection, dialled and accepted, hold at most
// NotSentLowat unsent.
func TestTCPSocketsHoldLittleUnsent(t *testing.T) {
	tcp, dialled, in := tcpPair(t)
	if tcp.Port() == 0 || tcp.DialerNetwork() != "tcp4" {
		t.Fatalf("port %d network %q", tcp.Port(), tcp.DialerNetwork())
	}
	for name, c := range map[string]net.Conn{"dialled": dialled, "accepted": in} {
		if got := notSentLowat(t, c); got != NotSentLowat {
			t.Errorf("%s: TCP_NOTSENT_LOWAT %d, want %d", name, got, NotSentLowat)
		}
	}
}

// A socket with data of ours on its way is busy, and the kernel knows its
// round trip; loopback peers are not looked at (no slow uplink is there).
func TestTCPLines(t *testing.T) {
	tcp, dialled, _ := tcpPair(t)
	if got := tcp.Lines(); len(got) != 0 {
		t.Errorf("Lines over loopback: %+v, want none", got)
	}
	// Nobody reads: what is written stays unsent.
	dialled.SetWriteDeadline(time.Now().Add(time.Second))
	dialled.Write(make([]byte, 4<<20))
	l, err := readLine(dialled.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	if !l.Busy || l.RTT <= 0 || l.MinRTT <= 0 || l.MinRTT > l.RTT {
		t.Errorf("line %+v: want busy, with round trips", l)
	}
	dialled.Close()
	tcp.mu.Lock()
	n := len(tcp.conns)
	tcp.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d connections kept, want 2", n)
	}
	// A closed connection is forgotten (the accepted one is still open,
	// and skipped as loopback).
	tcp.Lines()
	tcp.mu.Lock()
	n = len(tcp.conns)
	tcp.mu.Unlock()
	if n != 1 {
		t.Errorf("%d connections kept after one closed, want 1", n)
	}
}

// tcpPair is a TCP on loopback and a connection dialled through it and
// accepted by it; all three are closed when t ends (a test may close an
// end before).
func tcpPair(t *testing.T) (tcp *TCP, dialled, accepted net.Conn) {
	t.Helper()
	tcp, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close() })
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := tcp.ln.Accept()
		if err != nil {
			t.Error(err)
		}
		acc <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dialled, err = tcp.Dial(ctx, tcp.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialled.Close() })
	accepted = <-acc
	if accepted == nil {
		t.FailNow()
	}
	t.Cleanup(func() { accepted.Close() })
	return tcp, dialled, accepted
}

func notSentLowat(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		v, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
	}); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
