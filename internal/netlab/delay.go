package netlab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A delayLine is a wire that holds every frame for its delay: two TAP
// devices in a link namespace (taph bridged to the home's side, tapw to
// the public side); a frame read from one is written to the other delay
// later. The kernel has no netem here; this is its one feature we need.
type delayLine struct {
	h, w  *os.File
	delay time.Duration
}

// lineQueue is how many frames one direction holds; a frame that finds it
// full is dropped, as a router's full buffer would. At 20 ms and 1500 B
// frames it holds 100 MB/s.
const lineQueue = 2048

// openDelayLine makes the TAP devices taph and tapw in namespace ns.
func openDelayLine(ns string, delay time.Duration) (*delayLine, error) {
	var d delayLine
	err := inNamespace(ns, func() error {
		var err error
		if d.h, err = openTAP("taph"); err != nil {
			return err
		}
		if d.w, err = openTAP("tapw"); err != nil {
			d.h.Close()
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delay line in %s: %w", ns, err)
	}
	d.delay = delay
	return &d, nil
}

// inNamespace runs f on an OS thread moved into network namespace ns.
// The thread is never moved back: it ends with its goroutine (a locked
// thread whose goroutine returns is terminated), so no other goroutine
// ever runs in the lab's namespace by mistake.
func inNamespace(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open namespace %s: %w", ns, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter namespace %s: %w", ns, err)
			return
		}
		errc <- f()
	}()
	return <-errc
}

// openTAP creates TAP device name in the calling thread's namespace; it
// lasts as long as the file stays open.
func openTAP(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tap %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create tap %s: %w", name, err)
	}
	// Non-blocking, so the file is on Go's poller and Close ends a Read.
	return os.NewFile(uintptr(fd), name), nil
}

// run carries frames both ways until ctx ends, then closes the devices.
func (d *delayLine) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.pump(d.h, d.w) }()
	go func() { defer wg.Done(); d.pump(d.w, d.h) }()
	<-ctx.Done()
	d.close()
	wg.Wait()
}

func (d *delayLine) close() {
	d.h.Close()
	d.w.Close()
}

type heldFrame struct {
	due time.Time
	b   []byte
}

// pump reads frames from in and writes each to out d.delay after it came.
// One reader, one writer, a FIFO between: with one delay for all, order
// is kept.
func (d *delayLine) pump(in, out *os.File) {
	q := make(chan heldFrame, lineQueue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(0)
		<-t.C
		for f := range q {
			if wait := time.Until(f.due); wait > 0 {
				t.Reset(wait)
				<-t.C
			}
			if _, err := out.Write(f.b); err != nil && errors.Is(err, os.ErrClosed) {
				for range q { // drain so the reader never blocks
				}
				return
			}
		}
	}()
	buf := make([]byte, 1<<16)
	for {
		n, err := in.Read(buf)
		if err != nil {
			break
		}
		f := heldFrame{due: time.Now().Add(d.delay), b: append([]byte(nil), buf[:n]...)}
		select {
		case q <- f:
		default: // queue full: dropped
		}
	}
	close(q)
	<-done
}
