//go:build !linux

package btclient

import "syscall"

// controlPeerSocket leaves the socket as it is: TCP_NOTSENT_LOWAT is set on
// Linux only.
func controlPeerSocket(_, _ string, _ syscall.RawConn) error { return nil }
