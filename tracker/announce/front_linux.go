package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// On Linux the Front answers the common case — a whole announce read at
// once, to be closed after its reply, as a client that announces with a
// new connection each time sends it — on the raw socket: accept4, read,
// answer, write, close, and nothing else; inline in the accept loop when
// the peer store answers from memory (peers.Local), or else in a goroutine
// of its own. A net.Conn would add two epoll_ctl calls, two deadlines and
// a goroutine handoff to each connection, which cost as much as the
// announce itself (profiled under scripts/bench-tracker.sh: accept, close
// and the scheduler took more than half the tracker's time). Anything
// else — a head not read whole at once, keep-alive, anything but a plain
// announce, a reply the socket does not take at once, a trusted proxy —
// becomes a net.Conn (net.FileConn) and goes on in serveConn as before.

// serveFast runs the accept loop on a TCP listener's raw socket; ok is
// false when ln is not one (then Serve accepts through net.Listener).
func (f *Front) serveFast() (ok bool, err error) {
	tl, isTCP := f.ln.(*net.TCPListener)
	if !isTCP {
		return false, nil
	}
	// A listener's own SyscallConn cannot Read (wait for readiness); a
	// non-blocking dup of its socket as an os.File can, through the same
	// poller. Shutdown closes it with the listener.
	lrc, err := tl.SyscallConn()
	if err != nil {
		return false, nil
	}
	// Accept once the request is there (or after a second without it),
	// so that the first read finds it: HTTP clients speak first.
	_ = lrc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT, 1)
	})
	// One loop per CPU, at most 4 (as UDP's readers): one loop leaves a
	// core idle while it waits in write and close (measured: two loops
	// answer 6 % more than one on two cores).
	loops := min(runtime.GOMAXPROCS(0), 4)
	files := make([]*os.File, 0, loops)
	defer func() {
		for _, file := range files {
			file.Close()
		}
	}()
	for range loops {
		dup := -1
		var derr error
		if err := lrc.Control(func(fd uintptr) { dup, derr = dupNonblock(int(fd)) }); err != nil || derr != nil {
			if len(files) == 0 {
				return false, nil
			}
			break
		}
		files = append(files, os.NewFile(uintptr(dup), "http listener"))
	}
	f.mu.Lock()
	if f.closing.Load() {
		f.mu.Unlock()
		return true, nil
	}
	for _, file := range files {
		f.rawLn = append(f.rawLn, file)
	}
	f.serving.Add(len(files)) // Shutdown waits for an answer under way
	f.mu.Unlock()
	errs := make(chan error, len(files))
	for _, file := range files {
		go func() {
			defer f.serving.Done()
			errs <- f.acceptLoop(file)
		}()
	}
	var first error
	for range files {
		if err := <-errs; err != nil && first == nil {
			first = err
			f.mu.Lock()
			for _, file := range files {
				file.Close() // the other loops end too
			}
			f.mu.Unlock()
		}
	}
	return true, first
}

// acceptLoop accepts on file (a dup of the listening socket) and answers
// inline until it is closed.
func (f *Front) acceptLoop(file *os.File) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	var delay time.Duration // backoff on temporary accept errors, as Serve
	for {
		var nfd int
		var source netip.Addr
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			nfd, source, aerr = accept4(int(fd))
			return aerr != syscall.EAGAIN
		})
		if err != nil {
			if f.closing.Load() {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		switch {
		case aerr == nil:
			delay = 0
			if f.inline {
				f.serveAccepted(nfd, source)
				continue
			}
			// A store that waits on a network (Redis) would hold up
			// the loop for each round trip: a goroutine per connection.
			f.serving.Add(1)
			go func() {
				defer f.serving.Done()
				f.serveAccepted(nfd, source)
			}()
		case errors.Is(aerr, syscall.EINTR) || errors.Is(aerr, syscall.ECONNABORTED):
		case temporaryAcceptError(aerr):
			if !f.backOff(&delay, aerr) {
				return nil
			}
		default:
			return fmt.Errorf("accept: %w", aerr)
		}
	}
}

// serveAccepted answers a new connection on its raw socket fd when it can,
// or hands it to serveConn as a net.Conn.
func (f *Front) serveAccepted(fd int, source netip.Addr) {
	if !source.IsValid() || f.h.trustedProxy(source) {
		f.adopt(fd, nil)
		return
	}
	bp := f.bufs.Get().(*[]byte)
	defer f.bufs.Put(bp)
	buf := *bp
	n, err := readRaw(fd, buf)
	switch {
	case errors.Is(err, syscall.EAGAIN):
		f.adopt(fd, nil) // nothing sent yet
		return
	case err != nil || n == 0:
		f.closeRaw(fd) // the client left
		return
	}
	end := headEnd(buf[:n])
	if end < 0 || end != n {
		f.adopt(fd, buf[:n]) // more to come, or a request with a body or pipelined
		return
	}
	head, ok := parseRequestHead(buf[:end], f.cfg.Path)
	if !ok || !(head.close || f.closing.Load()) {
		f.adopt(fd, buf[:n]) // net/http's, or a keep-alive connection
		return
	}
	sc := f.h.pool.Get().(*httpScratch)
	defer f.h.pool.Put(sc)
	b := f.reply(sc, head, source, true)
	w, err := writeRaw(fd, b)
	if err == nil && w == len(b) || err != nil && !errors.Is(err, syscall.EAGAIN) {
		f.closeRaw(fd) // answered, or the client left
		return
	}
	// The socket did not take the whole reply at once: the rest is written
	// with a deadline, off the accept loop.
	rest := append([]byte(nil), b[max(w, 0):]...)
	fc, ok := f.trackRaw(fd, connActive)
	if !ok {
		return
	}
	go func() {
		defer f.untrack(fc)
		_ = fc.c.SetWriteDeadline(time.Now().Add(f.cfg.WriteTimeout))
		_, _ = fc.c.Write(rest)
		f.h.cfg.Metrics.countConn(false)
		fc.c.Close()
	}()
}

// adopt makes fd a net.Conn and serves it in serveConn, with what was read
// from it already.
func (f *Front) adopt(fd int, read []byte) {
	if fc, ok := f.trackRaw(fd, connIdle); ok {
		go f.serveConn(fc, append([]byte(nil), read...))
	}
}

// trackRaw turns a raw socket into a tracked net.Conn (which owns it from
// then on) in the given state; false when it cannot or the Front is
// shutting down (then the socket is closed).
func (f *Front) trackRaw(fd int, state int32) (*frontConn, bool) {
	file := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(file) // a dup of fd
	file.Close()
	if err != nil {
		f.h.cfg.Logger.Warn("http accept", "err", fmt.Errorf("socket to net.Conn: %w", err))
		return nil, false
	}
	fc := &frontConn{c: c}
	fc.state.Store(state)
	if !f.track(fc) {
		c.Close()
		return nil, false
	}
	return fc, true
}

// closeRaw closes a connection the front ended on its raw socket, counted.
func (f *Front) closeRaw(fd int) {
	f.h.cfg.Metrics.countConn(false)
	closeSocket(fd)
}

// The calls on a raw socket never block (it is non-blocking), so they are
// made as raw system calls: the runtime need not prepare for a goroutine
// that blocks in the kernel (entersyscall, and sysmon handing its P off).

func readRaw(fd int, b []byte) (int, error)  { return rawIO(syscall.SYS_READ, fd, b) }
func writeRaw(fd int, b []byte) (int, error) { return rawIO(syscall.SYS_WRITE, fd, b) }

// rawIO is read(2) or write(2) (trap) of b on fd, again after EINTR.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, _, errno := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if errno != syscall.EINTR {
			return rawResult(n, errno)
		}
	}
}

// closeSocket closes a socket that has no unsent data to linger on.
func closeSocket(fd int) {
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

// accept4 accepts a connection, non-blocking and close-on-exec.
func accept4(fd int) (int, netip.Addr, error) {
	var rsa syscall.RawSockaddrAny
	size := uint32(syscall.SizeofSockaddrAny)
	nfd, _, errno := syscall.RawSyscall6(syscall.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&size)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, netip.Addr{}, errno
	}
	return int(nfd), rawSockaddrAddr(&rsa), nil
}

func rawResult(n uintptr, errno syscall.Errno) (int, error) {
	if errno != 0 {
		return -1, errno
	}
	return int(n), nil
}

// rawSockaddrAddr is the address of an accepted peer, IPv4-mapped ones as
// IPv4; invalid for any other family.
func rawSockaddrAddr(rsa *syscall.RawSockaddrAny) netip.Addr {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		a := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrFrom4(a.Addr)
	case syscall.AF_INET6:
		a := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrFrom16(a.Addr).Unmap()
	}
	return netip.Addr{}
}

// dupNonblock duplicates a socket, close-on-exec and non-blocking.
func dupNonblock(fd int) (int, error) {
	nfd, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	if err := syscall.SetNonblock(int(nfd), true); err != nil {
		syscall.Close(int(nfd))
		return -1, err
	}
	return int(nfd), nil
}
