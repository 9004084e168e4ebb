package btclient

import (
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// controlPeerSocket sets NotSentLowat on a dialled or accepted socket.
func controlPeerSocket(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, NotSentLowat)
	}); cerr != nil {
		return cerr
	}
	if err != nil {
		return fmt.Errorf("setting TCP_NOTSENT_LOWAT on a peer socket: %w", err)
	}
	return nil
}

// readLine reads TCP_INFO.
func readLine(c *net.TCPConn) (Line, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return Line{}, err
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return Line{}, err
	}
	if gerr != nil {
		return Line{}, fmt.Errorf("reading TCP_INFO: %w", gerr)
	}
	return Line{
		RTT:    time.Duration(info.Rtt) * time.Microsecond,
		MinRTT: time.Duration(info.Min_rtt) * time.Microsecond,
		Busy:   info.Unacked > 0 || info.Notsent_bytes > 0,
	}, nil
}
