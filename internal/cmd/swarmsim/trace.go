package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/peertune/peertune/client/policy"
)

// traceListener, from SWARMSIM_TRACE, is a listener whose decisions go to
// stderr; -1: none.
var traceListener = func() int {
	n, err := strconv.Atoi(os.Getenv("SWARMSIM_TRACE"))
	if err != nil {
		return -1
	}
	return n
}()

func (s *sim) trace(st *stream, d policy.Decision) {
	var acts []string
	for _, a := range d.Actions {
		if _, ok := a.(policy.SetPriority); ok {
			continue
		}
		acts = append(acts, fmt.Sprintf("%T%+v", a, a))
	}
	fmt.Fprintf(os.Stderr, "%8.1f l%d t%d pos %.1fs have %d/%d conns %d fetches %d reqs %d waiting %v spare %.0f seedwin %.0f thr %v: %v\n",
		float64(s.now)/1e9, st.l.id, st.tr.id, st.pos/s.bps, st.nHave, s.npieces, len(st.conns), len(st.fetchList), st.nReqs,
		st.readWaiting >= 0, st.spare, s.seed.sentWindow, s.seed.throttled, acts)
}

var traceSeed = os.Getenv("SWARMSIM_TRACE_SEED") != ""

func (s *sim) traceSeed(flows []seedFlow, budget float64) {
	fmt.Fprintf(os.Stderr, "%8.1f seed budget %.0f thr %v:", float64(s.now)/1e9, budget, s.seed.throttled)
	for _, f := range flows {
		if f.f != nil {
			fmt.Fprintf(os.Stderr, " l%d:%v[%d-%d]d%.0f/a%.0f", f.f.s.l.id, f.f.Kind, f.f.First, f.f.Last, f.demand, f.alloc)
		} else {
			fmt.Fprintf(os.Stderr, " l%d:bt d%.0f/a%.0f", f.s.l.id, f.demand, f.alloc)
		}
	}
	fmt.Fprintln(os.Stderr)
}

var traceEvery, _ = time.ParseDuration(os.Getenv("SWARMSIM_TRACE_EVERY"))

func (s *sim) tracePeriodic() {
	waiting, fetches, reqs, conns := 0, 0, 0, 0
	for _, st := range s.playing {
		if st.readWaiting >= 0 {
			waiting++
		}
		fetches += len(st.fetchList)
		reqs += st.nReqs
		conns += len(st.conns)
	}
	fmt.Fprintf(os.Stderr, "%6.0fs online %d playing %d waiting %d fetches %d reqs %d conns %d | finished %d left %d gaveup %d | seed http %d MB bt %d MB peers %d MB | decisions %d\n",
		float64(s.now)/1e9, len(s.online), len(s.playing), waiting, fetches, reqs, conns, s.r.Finished, s.r.Left, s.r.GaveUp,
		s.r.SeedHTTPBytes>>20, s.r.SeedBTBytes>>20, s.r.PeerWireBytes>>20, s.r.Decisions)
}
