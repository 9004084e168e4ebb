//go:build !linux

package btclient

import (
	"errors"
	"net"
	"syscall"
)

// controlPeerSocket leaves the socket as it is: TCP_NOTSENT_LOWAT is set on
// Linux only.
func controlPeerSocket(_, _ string, _ syscall.RawConn) error { return nil }

// readLine is not supported: the pacer sees no line and never paces.
func readLine(*net.TCPConn) (Line, error) { return Line{}, errors.New("TCP_INFO: Linux only") }
