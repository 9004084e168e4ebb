package announce

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/tracker/peers"
)

// Protocol and result label values.
const (
	protoHTTP = 0
	protoUDP  = 1

	resultOK           = 0
	resultError        = 1
	resultUnregistered = 2
	resultTakenDown    = 3

	opAnnounce = 0
	opScrape   = 1
)

var (
	protoNames  = [2]string{"http", "udp"}
	resultNames = [4]string{"ok", "error", "unregistered", "taken_down"}
	opNames     = [2]string{"announce", "scrape"}
)

// Metrics are the frontends' Prometheus metrics; one Metrics is shared by
// the HTTP and UDP frontends of a tracker.
type Metrics struct {
	requests [2][2][4]prometheus.Counter // op, protocol, result
	latency  [2][2]prometheus.Observer   // op, protocol
	conns    [2]prometheus.Counter       // HTTP connections by who served them: front, net/http
	// announces counts every announce answered, HTTP and UDP, whatever its
	// result: the sum of peertune_tracker_announces_total, kept apart so
	// that a RateMeter can read it without gathering the registry.
	announces atomic.Uint64
}

// NewMetrics registers, on reg:
//   - peertune_tracker_announces_total{protocol,result} and
//     peertune_tracker_scrapes_total{protocol,result}: result is ok, error
//     (bad input or a store failure), unregistered (not tracked) or
//     taken_down (on the deny list);
//   - peertune_tracker_request_duration_seconds{protocol,request};
//   - peertune_tracker_http_connections_total{served_by}: "front" for a
//     connection the lean announce path served to its end, "net_http" for
//     one it handed over (see Front);
//   - peertune_tracker_torrents, _seeders, _leechers from store.Stats at
//     each collection.
func NewMetrics(reg prometheus.Registerer, store peers.PeerStore) (*Metrics, error) {
	announces := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peertune_tracker_announces_total", Help: "Announces by protocol and result.",
	}, []string{"protocol", "result"})
	scrapes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peertune_tracker_scrapes_total", Help: "Scrapes by protocol and result.",
	}, []string{"protocol", "result"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "peertune_tracker_request_duration_seconds",
		Help:    "Time to answer an announce or scrape, by protocol.",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 15), // 25µs .. 0.4s
	}, []string{"protocol", "request"})
	conns := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peertune_tracker_http_connections_total",
		Help: "HTTP connections by what served them: the lean announce path (front) to their end, or net/http.",
	}, []string{"served_by"})
	for _, c := range []prometheus.Collector{announces, scrapes, latency, conns, &statsCollector{store: store}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register tracker metrics: %w", err)
		}
	}
	m := &Metrics{conns: [2]prometheus.Counter{conns.WithLabelValues("front"), conns.WithLabelValues("net_http")}}
	for p, pn := range protoNames {
		for r, rn := range resultNames {
			m.requests[opAnnounce][p][r] = announces.WithLabelValues(pn, rn)
			m.requests[opScrape][p][r] = scrapes.WithLabelValues(pn, rn)
		}
		for o, on := range opNames {
			m.latency[o][p] = latency.WithLabelValues(pn, on)
		}
	}
	return m, nil
}

func (m *Metrics) observe(op, protocol, result int, start time.Time) {
	if m == nil {
		return
	}
	m.requests[op][protocol][result].Inc()
	m.latency[op][protocol].Observe(time.Since(start).Seconds())
	if op == opAnnounce {
		m.announces.Add(1)
	}
}

// Announces is the number of announces answered so far, over HTTP and
// UDP, whatever their result.
func (m *Metrics) Announces() uint64 { return m.announces.Load() }

// countConn counts an HTTP connection that ended in the front or was
// handed to net/http.
func (m *Metrics) countConn(handedOff bool) {
	if m == nil {
		return
	}
	if handedOff {
		m.conns[1].Inc()
	} else {
		m.conns[0].Inc()
	}
}

var (
	torrentsDesc = prometheus.NewDesc("peertune_tracker_torrents", "Swarms with at least one peer.", nil, nil)
	seedersDesc  = prometheus.NewDesc("peertune_tracker_seeders", "Stored seeders over all swarms.", nil, nil)
	leechersDesc = prometheus.NewDesc("peertune_tracker_leechers", "Stored leechers over all swarms.", nil, nil)
)

// statsCollector reads the store's totals at each scrape of /metrics.
type statsCollector struct{ store peers.PeerStore }

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- torrentsDesc
	ch <- seedersDesc
	ch <- leechersDesc
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.store.Stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(torrentsDesc, fmt.Errorf("peer store stats: %w", err))
		return
	}
	ch <- prometheus.MustNewConstMetric(torrentsDesc, prometheus.GaugeValue, float64(st.Torrents))
	ch <- prometheus.MustNewConstMetric(seedersDesc, prometheus.GaugeValue, float64(st.Seeders))
	ch <- prometheus.MustNewConstMetric(leechersDesc, prometheus.GaugeValue, float64(st.Leechers))
}
