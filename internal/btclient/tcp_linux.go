package btclient

import (
	"fmt"
	"syscall"

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
