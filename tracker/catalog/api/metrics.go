package api

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peertune/peertune/tracker/catalog"
)

// metrics are the API's Prometheus series; a nil *metrics records nothing.
type metrics struct {
	publishes   *prometheus.CounterVec
	unpublishes *prometheus.CounterVec
	requests    *prometheus.HistogramVec
}

// countTimeout bounds the catalog count done on each scrape of the gauge.
const countTimeout = 2 * time.Second

func newMetrics(reg prometheus.Registerer, cat catalog.Catalog) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		publishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peertune_catalog_publishes_total",
			Help: "Publish requests (POST /api/v1/tracks) by result: created, updated, exists, disabled, unauthorized, forbidden, malformed, invalid, too_large, taken_down, error.",
		}, []string{"result"}),
		unpublishes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peertune_catalog_unpublishes_total",
			Help: "Unpublish requests (DELETE /api/v1/tracks/{id}) by result: deleted, taken_down (an admin's), not_found, forbidden, disabled, unauthorized, bad_id, error.",
		}, []string{"result"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "peertune_catalog_request_duration_seconds",
			Help:    "Catalog API request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"route"}),
	}
	tracks := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "peertune_catalog_tracks",
		Help: "Tracks in the catalog.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), countTimeout)
		defer cancel()
		n, err := cat.Count(ctx)
		if err != nil {
			return -1 // visible as impossible rather than a plausible 0
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.publishes, m.unpublishes, m.requests, tracks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) publish(result string) {
	if m != nil {
		m.publishes.WithLabelValues(result).Inc()
	}
}

func (m *metrics) unpublish(result string) {
	if m != nil {
		m.unpublishes.WithLabelValues(result).Inc()
	}
}

func (m *metrics) observe(route string, d time.Duration) {
	if m == nil {
		return
	}
	if route == "" || route == "/" {
		route = "unmatched"
	}
	m.requests.WithLabelValues(route).Observe(d.Seconds())
}
