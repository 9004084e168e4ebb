package audio

import (
	"sync"
	"time"
)

// ring carries decoded samples from the decoding goroutine to the output
// loop. It holds at most cap samples; push blocks while it is full, take
// never blocks unless asked to. A seek resets it: samples of the old
// position still being pushed are dropped (generation check).
type ring struct {
	mu       sync.Mutex
	cond     *sync.Cond
	buf      [][2]float64
	r, n     int  // read index and count
	done     bool // the producer reached the end (or failed)
	err      error
	aborted  bool // the session is over: everybody returns
	gen      int  // incremented by reset
	consumed int64
	base     time.Duration // track position of the first sample after reset
	rate     int
}

func newRing(capacity, rate int) *ring {
	q := &ring{buf: make([][2]float64, max(capacity, 1)), rate: rate}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// push appends samples of generation gen, blocking while full. It
// returns false when the ring was aborted or reset to a new generation.
func (q *ring) push(gen int, s [][2]float64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(s) > 0 {
		for q.n == len(q.buf) && !q.aborted && q.gen == gen {
			q.cond.Wait()
		}
		if q.aborted || q.gen != gen {
			return false
		}
		w := (q.r + q.n) % len(q.buf)
		k := min(len(s), len(q.buf)-q.n, len(q.buf)-w)
		copy(q.buf[w:w+k], s[:k])
		q.n += k
		s = s[k:]
		q.cond.Broadcast()
	}
	return true
}

// finish marks the end of generation gen's stream, with its error.
func (q *ring) finish(gen int, err error) {
	q.mu.Lock()
	if q.gen == gen {
		q.done, q.err = true, err
	}
	q.mu.Unlock()
	q.cond.Broadcast()
}

// take copies up to len(dst) samples. With wait, it blocks until it can
// fill dst, the stream ends, or the ring is aborted. With min > 0 it takes
// nothing unless min samples are there (or the stream has ended): that is
// how playback waits to resume after an underrun.
func (q *ring) take(dst [][2]float64, wait bool, minimum int) (n int, done bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if wait {
		for q.n < len(dst) && !q.done && !q.aborted {
			q.cond.Wait()
		}
	}
	if q.n < minimum && !q.done {
		return 0, q.aborted
	}
	for n < len(dst) && q.n > 0 {
		k := min(len(dst)-n, q.n, len(q.buf)-q.r)
		copy(dst[n:n+k], q.buf[q.r:q.r+k])
		q.r = (q.r + k) % len(q.buf)
		q.n -= k
		n += k
	}
	q.consumed += int64(n)
	if n > 0 {
		q.cond.Broadcast()
	}
	return n, (q.done && q.n == 0) || q.aborted
}

// waitFirst blocks until a sample is there, the stream ended, or abort.
func (q *ring) waitFirst() {
	q.mu.Lock()
	for q.n == 0 && !q.done && !q.aborted {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// reset drops what is buffered for a new position and returns the new
// generation for the producer.
func (q *ring) reset(base time.Duration) int {
	q.mu.Lock()
	q.gen++
	q.r, q.n, q.done, q.err = 0, 0, false, nil
	q.consumed, q.base = 0, base
	gen := q.gen
	q.mu.Unlock()
	q.cond.Broadcast()
	return gen
}

func (q *ring) abort() {
	q.mu.Lock()
	q.aborted = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// position is the track time of the next sample to be taken.
func (q *ring) position() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.base + time.Duration(float64(q.consumed)/float64(q.rate)*float64(time.Second))
}

func (q *ring) result() (gen int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.gen, q.err
}

func (q *ring) buffered() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
