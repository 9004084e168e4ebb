// Command udpload is a load generator for BEP 15 (UDP) BitTorrent trackers,
// used by scripts/bench-tracker.sh. N workers, each with its own socket,
// connect and then announce in a loop, drawing an infohash from a pool file
// (40 hex digits a line, the same pool the HTTP load and opentracker's
// whitelist use) and a peer from a fixed population per swarm. It stops by
// itself after -count announces or -duration, whichever comes first, and
// prints one line of key=value figures: announces per second, p50 and p99
// latency, errors, timeouts and the mean number of peers per reply.
//
// A peer's identity is a function of its index k in [0, -peers): peer id
// "-BL0001-" followed by k in 12 decimal digits, port 10000+k, a seeder when
// k%5 == 0. The wrk script in scripts/bench uses the same rule, so HTTP and
// UDP announces land in the same swarms as the same peers.
package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	Addr     string
	PoolFile string
	Workers  int
	Count    int64
	Duration time.Duration
	Peers    int
	NumWant  int
	Timeout  time.Duration
	Fill     bool
	Seed     uint64
}

// maxPeers keeps ports (10000+k) valid.
const maxPeers = 50000

// reconnectAfter renews a connection id well inside BEP 15's 2 minutes.
const reconnectAfter = 60 * time.Second

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "udpload:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "udpload:", err)
		os.Exit(1)
	}
	fmt.Println(res.String())
	if res.Announces == 0 || res.Errors+res.Timeouts > res.Announces {
		fmt.Fprintf(os.Stderr, "udpload: most announces failed (%d ok, %d errors, %d timeouts; first error: %s)\n",
			res.Announces, res.Errors, res.Timeouts, res.FirstError)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("udpload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.Addr, "addr", "", "tracker UDP address, host:port (required)")
	fs.StringVar(&c.PoolFile, "pool", "", "file of infohashes, 40 hex digits a line (required)")
	fs.IntVar(&c.Workers, "workers", 50, "concurrent workers, one socket each")
	fs.Int64Var(&c.Count, "count", 2_000_000, "stop after this many announces")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "stop after this long")
	fs.IntVar(&c.Peers, "peers", 100, "peer population per swarm (peer index 0..peers-1)")
	fs.IntVar(&c.NumWant, "numwant", 50, "numwant in each announce")
	fs.DurationVar(&c.Timeout, "timeout", time.Second, "wait this long for a reply before counting a timeout")
	fs.BoolVar(&c.Fill, "fill", false, "announce every (infohash, peer) pair once, then stop (a warm-up that fills the swarms)")
	fs.Uint64Var(&c.Seed, "seed", 0, "random seed (0: from the clock)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch {
	case fs.NArg() > 0:
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.Addr == "":
		return c, errors.New("-addr is required")
	case c.PoolFile == "":
		return c, errors.New("-pool is required")
	case c.Workers < 1 || c.Workers > 10000:
		return c, fmt.Errorf("-workers %d: want 1..10000", c.Workers)
	case c.Count < 1:
		return c, fmt.Errorf("-count %d: want at least 1", c.Count)
	case c.Duration <= 0:
		return c, fmt.Errorf("-duration %s: want more than 0", c.Duration)
	case c.Peers < 1 || c.Peers > maxPeers:
		return c, fmt.Errorf("-peers %d: want 1..%d", c.Peers, maxPeers)
	case c.NumWant < -1:
		return c, fmt.Errorf("-numwant %d: want -1 (tracker default) or more", c.NumWant)
	case c.Timeout <= 0:
		return c, fmt.Errorf("-timeout %s: want more than 0", c.Timeout)
	}
	if c.Seed == 0 {
		c.Seed = uint64(time.Now().UnixNano())
	}
	return c, nil
}

// readPool reads infohashes, 40 hex digits a line; blank lines are skipped.
func readPool(r io.Reader) ([][20]byte, error) {
	var pool [][20]byte
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		var ih [20]byte
		if len(s) != 40 {
			return nil, fmt.Errorf("line %d: want 40 hex digits, got %d characters", line, len(s))
		}
		if _, err := hex.Decode(ih[:], []byte(s)); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		pool = append(pool, ih)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pool) == 0 {
		return nil, errors.New("no infohashes")
	}
	return pool, nil
}

// peerID is the peer id of peer index k (see the package comment).
func peerID(k int) [20]byte {
	var id [20]byte
	copy(id[:], fmt.Sprintf("-BL0001-%012d", k))
	return id
}

// result is what one run measured.
type result struct {
	Announces  int64 // answered with an announce reply
	Errors     int64 // error packets or malformed replies
	Timeouts   int64
	Elapsed    time.Duration
	P50, P99   time.Duration
	PeersTotal int64 // sum of peers over all replies
	FirstError string
}

func (r result) String() string {
	rate, avgPeers := 0.0, 0.0
	if r.Elapsed > 0 {
		rate = float64(r.Announces) / r.Elapsed.Seconds()
	}
	if r.Announces > 0 {
		avgPeers = float64(r.PeersTotal) / float64(r.Announces)
	}
	first := r.FirstError
	if first == "" {
		first = "-"
	}
	return fmt.Sprintf("announces=%d errors=%d timeouts=%d elapsed_s=%.2f rate=%.0f p50_ms=%.3f p99_ms=%.3f avg_peers=%.1f first_error=%q",
		r.Announces, r.Errors, r.Timeouts, r.Elapsed.Seconds(), rate,
		float64(r.P50.Microseconds())/1000, float64(r.P99.Microseconds())/1000, avgPeers, first)
}

// workerStats is one worker's share of the result; merged at the end.
type workerStats struct {
	latencies  []time.Duration
	errors     int64
	timeouts   int64
	peersTotal int64
	firstError string
}

func (s *workerStats) fail(err error) {
	s.errors++
	if s.firstError == "" {
		s.firstError = err.Error()
	}
}

func run(ctx context.Context, cfg config) (result, error) {
	f, err := os.Open(cfg.PoolFile)
	if err != nil {
		return result{}, fmt.Errorf("pool: %w", err)
	}
	pool, err := readPool(f)
	f.Close()
	if err != nil {
		return result{}, fmt.Errorf("pool %s: %w", cfg.PoolFile, err)
	}
	raddr, err := net.ResolveUDPAddr("udp", cfg.Addr)
	if err != nil {
		return result{}, fmt.Errorf("-addr: %w", err)
	}
	limit := cfg.Count
	if cfg.Fill {
		limit = min(limit, int64(len(pool))*int64(cfg.Peers))
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	var issued atomic.Int64 // announces started; bounds the total
	stats := make([]workerStats, cfg.Workers)
	conns := make([]*net.UDPConn, cfg.Workers)
	for i := range conns {
		c, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return result{}, fmt.Errorf("socket %d: %w", i, err)
		}
		conns[i] = c
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.Workers {
		wg.Go(func() {
			defer conns[i].Close()
			w := worker{
				cfg: cfg, pool: pool, conn: conns[i], stats: &stats[i],
				rng: rand.New(rand.NewPCG(cfg.Seed, uint64(i))),
			}
			w.loop(ctx, &issued, limit)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	res := result{Elapsed: elapsed}
	var all []time.Duration
	for i := range stats {
		s := &stats[i]
		all = append(all, s.latencies...)
		res.Errors += s.errors
		res.Timeouts += s.timeouts
		res.PeersTotal += s.peersTotal
		if res.FirstError == "" {
			res.FirstError = s.firstError
		}
	}
	res.Announces = int64(len(all))
	if len(all) > 0 {
		slices.Sort(all)
		res.P50 = percentile(all, 0.50)
		res.P99 = percentile(all, 0.99)
	}
	return res, nil
}

// percentile of sorted latencies (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// worker announces on its own socket until the context ends or the shared
// budget is spent.
type worker struct {
	cfg   config
	pool  [][20]byte
	conn  *net.UDPConn
	rng   *rand.Rand
	stats *workerStats

	connID      uint64
	connectedAt time.Time
	buf         []byte
	rbuf        [2048]byte
}

func (w *worker) loop(ctx context.Context, issued *atomic.Int64, limit int64) {
	for ctx.Err() == nil {
		n := issued.Add(1)
		if n > limit {
			return
		}
		if w.connectedAt.IsZero() || time.Since(w.connectedAt) > reconnectAfter {
			if err := w.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				if !isTimeout(err) {
					w.stats.fail(fmt.Errorf("connect: %w", err))
				} else {
					w.stats.timeouts++
				}
				continue
			}
		}
		ih, k := w.pick(n - 1)
		p := announceParams{
			ConnectionID:  w.connID,
			TransactionID: w.rng.Uint32(),
			InfoHash:      w.pool[ih],
			PeerID:        peerID(k),
			Left:          1 << 20,
			Key:           uint32(k),
			NumWant:       int32(w.cfg.NumWant),
			Port:          uint16(10000 + k),
		}
		if k%5 == 0 {
			p.Left = 0
		}
		t0 := time.Now()
		w.buf = appendAnnounce(w.buf[:0], &p)
		reply, err := w.roundTrip(ctx, w.buf, p.TransactionID)
		lat := time.Since(t0)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return
			case isTimeout(err):
				w.stats.timeouts++
			default:
				w.stats.fail(err)
				w.connectedAt = time.Time{} // a refused connection id: connect again
			}
			continue
		}
		ar, err := parseAnnounceReply(reply)
		if err != nil {
			w.stats.fail(err)
			w.connectedAt = time.Time{}
			continue
		}
		w.stats.latencies = append(w.stats.latencies, lat)
		w.stats.peersTotal += int64(ar.Peers)
	}
}

// pick chooses the swarm and the peer of announce number n: every pair once
// in fill mode (swarms fill side by side), at random otherwise.
func (w *worker) pick(n int64) (ih, k int) {
	if w.cfg.Fill {
		return int(n % int64(len(w.pool))), int(n / int64(len(w.pool)))
	}
	return w.rng.IntN(len(w.pool)), w.rng.IntN(w.cfg.Peers)
}

func (w *worker) connect(ctx context.Context) error {
	tid := w.rng.Uint32()
	w.buf = appendConnect(w.buf[:0], tid)
	reply, err := w.roundTrip(ctx, w.buf, tid)
	if err != nil {
		return err
	}
	_, id, err := parseConnectReply(reply)
	if err != nil {
		return err
	}
	w.connID, w.connectedAt = id, time.Now()
	return nil
}

// roundTrip sends pkt and returns the first reply carrying its transaction
// id; late replies to earlier, timed-out requests are skipped.
func (w *worker) roundTrip(ctx context.Context, pkt []byte, tid uint32) ([]byte, error) {
	deadline := time.Now().Add(w.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := w.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if _, err := w.conn.Write(pkt); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	for {
		n, err := w.conn.Read(w.rbuf[:])
		if err != nil {
			return nil, fmt.Errorf("receive: %w", err)
		}
		_, got, err := parseHeader(w.rbuf[:n])
		if got != tid && !errors.Is(err, errShortPacket) {
			continue
		}
		return w.rbuf[:n], nil
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
