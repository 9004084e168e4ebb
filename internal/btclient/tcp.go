package btclient

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/anacrolix/torrent"
)

// NotSentLowat is the most unsent data a TCP peer connection of ours holds
// in the kernel. By default a socket takes what its send buffer holds
// (hundreds of kilobytes, seconds of a home uplink): the upload pacer would
// see the sockets keep up at any rate until the buffers filled, and the
// chunks in them could no longer be cancelled. With TCP_NOTSENT_LOWAT a
// write waits until the line has taken all but this much.
const NotSentLowat = 8 << 10

// TCP is a TCP listener and dialer for anacrolix's peer connections, used
// instead of its own (Options.OwnTCP) so that every socket gets
// NotSentLowat; anacrolix has no hook for its sockets' options.
type TCP struct {
	ln      net.Listener
	network string // "tcp", "tcp4" or "tcp6"
	dialer  net.Dialer
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
	t := &TCP{network: network}
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
	t.ln = listener{ln}
	return t, nil
}

// listener sets NotSentLowat on each connection it accepts: an accepted
// socket does not inherit it from the listening one.
type listener struct{ net.Listener }

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
	return c, nil
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
	return t.dialer.DialContext(ctx, t.network, addr)
}

// DialerNetwork names the dialer's network: anacrolix names connections by
// it ("tcp…": ConnKind counts them as TCP).
func (t *TCP) DialerNetwork() string { return t.network }

// Close closes the listener.
func (t *TCP) Close() error { return t.ln.Close() }
