package btclient

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/anacrolix/torrent"
)

// NotSentLowat is the most unsent data a TCP peer connection of ours holds
// in the kernel. By default a socket takes what its send buffer holds
// (hundreds of kilobytes, seconds of a home uplink), and a chunk in it can
// no longer be cancelled: when the peer that asked for it takes it from
// another peer meanwhile (anacrolix's request stealing), both copies
// arrive. With TCP_NOTSENT_LOWAT a write waits until the line has taken
// all but this much, and the chunks wait in anacrolix, where a cancel
// still reaches them.
const NotSentLowat = 8 << 10

// TCP is a TCP listener and dialer for anacrolix's peer connections, used
// instead of its own (Options.OwnTCP) so that every socket gets
// NotSentLowat, and so that the upload pacer can read the line from the
// sockets (Lines); anacrolix has no hook for its sockets.
type TCP struct {
	ln      net.Listener
	network string // "tcp", "tcp4" or "tcp6"
	dialer  net.Dialer

	mu    sync.Mutex
	conns map[*net.TCPConn]struct{} // dialled and accepted; closed ones are dropped by Lines
}

// ListenTCP listens on listen ("host:port", "" for ":0") for peer
// connections. The port it took is the one to give anacrolix for uTP.
func ListenTCP(listen string) (*TCP, error) {
	if listen == "" {
		listen = ":0"
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", listen, err)
	}
	network := "tcp"
	if ip := net.ParseIP(host); ip != nil {
		network = "tcp6"
		if ip.To4() != nil {
			network = "tcp4"
		}
	}
	t := &TCP{network: network, conns: make(map[*net.TCPConn]struct{})}
	t.dialer = net.Dialer{
		FallbackDelay: -1, // anacrolix dials every address itself
		KeepAlive:     -1, // BitTorrent has keep-alive messages of its own
		Control:       controlPeerSocket,
	}
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), network, listen)
	if err != nil {
		return nil, fmt.Errorf("listening for peers on %s: %w", listen, err)
	}
	t.ln = listener{ln, t}
	return t, nil
}

// listener sets NotSentLowat on each connection it accepts (an accepted
// socket does not inherit it from the listening one) and keeps it.
type listener struct {
	net.Listener
	t *TCP
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if sc, ok := c.(syscall.Conn); ok {
		rc, err := sc.SyscallConn()
		if err == nil {
			err = controlPeerSocket("", "", rc)
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("accepted peer connection: %w", err)
		}
	}
	l.t.keep(c)
	return c, nil
}

// keep adds a connection for Lines.
func (t *TCP) keep(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		t.mu.Lock()
		t.conns[tc] = struct{}{}
		t.mu.Unlock()
	}
}

// Lines reads the line's state from every open connection to a peer that
// is not on loopback (which no slow uplink is on), and forgets the closed
// ones.
func (t *TCP) Lines() []Line {
	t.mu.Lock()
	conns := make([]*net.TCPConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	var lines []Line
	for _, c := range conns {
		l, err := readLine(c)
		if err != nil {
			// Closed (or not readable: nothing to learn from it).
			t.mu.Lock()
			delete(t.conns, c)
			t.mu.Unlock()
			continue
		}
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok && a.IP.IsLoopback() {
			continue
		}
		lines = append(lines, l)
	}
	return lines
}

// Line is what the kernel knows of one connection's path.
type Line struct {
	RTT, MinRTT time.Duration // smoothed round trip, and the least seen
	Busy        bool          // data of ours unacknowledged or not yet sent
}

// Port is the port the listener took.
func (t *TCP) Port() int {
	_, p, _ := net.SplitHostPort(t.ln.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Attach makes cl accept peers on the listener and dial them with the
// dialer. Close the TCP after closing cl.
func (t *TCP) Attach(cl *torrent.Client) {
	cl.AddListener(t.ln)
	cl.AddDialer(t)
}

// Dial dials a peer (anacrolix's dialer interface).
func (t *TCP) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := t.dialer.DialContext(ctx, t.network, addr)
	if err != nil {
		return nil, err
	}
	t.keep(c)
	return c, nil
}

// DialerNetwork names the dialer's network: anacrolix names connections by
// it ("tcp…": ConnKind counts them as TCP).
func (t *TCP) DialerNetwork() string { return t.network }

// Close closes the listener.
func (t *TCP) Close() error { return t.ln.Close() }
