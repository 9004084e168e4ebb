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
	tcp, err := ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	if tcp.Port() == 0 || tcp.DialerNetwork() != "tcp4" {
		t.Fatalf("port %d network %q", tcp.Port(), tcp.DialerNetwork())
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := tcp.ln.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	dialled, err := tcp.Dial(ctx, tcp.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dialled.Close()
	in := <-accepted
	if in == nil {
		t.FailNow()
	}
	defer in.Close()
	for name, c := range map[string]net.Conn{"dialled": dialled, "accepted": in} {
		if got := notSentLowat(t, c); got != NotSentLowat {
			t.Errorf("%s: TCP_NOTSENT_LOWAT %d, want %d", name, got, NotSentLowat)
		}
	}
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
