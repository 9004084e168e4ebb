package seeder

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peertune/peertune/proto"
)

// uploadQueue orders the HTTP writers that wait for the upload limiter:
// the soonest class first (head, unheld, urgent, fill), then the earliest
// due (proto.HeaderDue), then the first to arrive; only the first in the
// order takes tokens. So a saturated seed server sends one request after
// another, each at the whole cap, rather than all of them side by side at
// a share each: side by side, every emergency of a dozen listeners ended
// late, the first listener's (whom no one is ahead of) among them; one
// after another, the soonest due ends in time and the rest no later than
// before. BitTorrent uploads take tokens after heads and unheld requests
// and beside the others (limitedWriter.wait).
type uploadQueue struct {
	mu      sync.Mutex
	waiting []*queued
	seq     uint64
	changed chan struct{} // closed and replaced whenever waiting changes
}

// queued is one writer's place in the queue.
type queued struct {
	class fetchClass
	due   time.Time
	seq   uint64
}

// before reports whether a goes before b.
func (a *queued) before(b *queued) bool {
	if a.class != b.class {
		return a.class < b.class
	}
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.seq < b.seq
}

func newUploadQueue() *uploadQueue {
	return &uploadQueue{changed: make(chan struct{})}
}

// place returns a request's place, its arrival order taken now.
func (q *uploadQueue) place(class fetchClass, due time.Time) *queued {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.seq++
	return &queued{class: class, due: due, seq: q.seq}
}

// enter puts p in the queue; leave takes it out.
func (q *uploadQueue) enter(p *queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.waiting = append(q.waiting, p)
	q.changedLocked()
}

func (q *uploadQueue) leave(p *queued) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.waiting {
		if w == p {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			q.changedLocked()
			return
		}
	}
}

func (q *uploadQueue) changedLocked() {
	close(q.changed)
	q.changed = make(chan struct{})
}

// first reports whether p goes first of the writers waiting, and a channel
// closed when that may have changed.
func (q *uploadQueue) first(p *queued) (bool, <-chan struct{}) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waiting {
		if w != p && w.before(p) {
			return false, q.changed
		}
	}
	return true, q.changed
}

// waitFirst returns once p goes first, or with ctx's error.
func (q *uploadQueue) waitFirst(ctx context.Context, p *queued) error {
	for {
		ok, changed := q.first(p)
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// waitingUpTo reports whether a writer of class c or sooner waits.
func (q *uploadQueue) waitingUpTo(c fetchClass) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, w := range q.waiting {
		if w.class <= c {
			return true
		}
	}
	return false
}

// dueOf is when a request that arrived at now is due, by its
// proto.HeaderDue (milliseconds from now; proto.FetchDefaultDue when
// absent or not a number).
func dueOf(header string, now time.Time) time.Time {
	ms, err := strconv.ParseInt(strings.TrimSpace(header), 10, 64)
	if err != nil || ms < 0 {
		return now.Add(proto.FetchDefaultDue)
	}
	return now.Add(time.Duration(min(ms, int64(time.Hour/time.Millisecond))) * time.Millisecond)
}
