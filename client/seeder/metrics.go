package seeder

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the seeder's Prometheus series, registered on the
// Registerer the caller gives (never the default registry).
type metrics struct {
	tracks       prometheus.Gauge
	filesHashed  prometheus.Counter
	filesReused  prometheus.Counter
	filesFailed  prometheus.Counter
	hashBytes    prometheus.Counter
	hashPending  prometheus.Gauge
	httpRequests *prometheus.CounterVec
	published    *prometheus.CounterVec

	httpUpload atomic.Int64
	fillUpload atomic.Int64 // the part of httpUpload that answered fill requests
	btUpload   func() int64 // set once the BitTorrent client exists; nil without it
}

// newPeerConns counts the BitTorrent connections with listeners by how
// they came and by transport; the BitTorrent client adds to it as they
// come (made before it, registered by newMetrics).
func newPeerConns() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peertune_seeder_peer_connections_total",
		Help: "BitTorrent connections with listeners, by kind (outgoing, incoming, holepunched: dialled on a hole-punch rendezvous) and transport (tcp, utp).",
	}, []string{"kind", "transport"})
}

func newMetrics(reg prometheus.Registerer, btUpload func() int64, peerConns *prometheus.CounterVec) (*metrics, error) {
	m := &metrics{
		tracks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "peertune_seeder_tracks", Help: "Tracks the seeder serves and has published.",
		}),
		filesHashed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "peertune_seeder_files_hashed_total", Help: "Files hashed (new or changed).",
		}),
		filesReused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "peertune_seeder_files_reused_total", Help: "Files whose hashes came from the state file.",
		}),
		filesFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "peertune_seeder_files_skipped_total", Help: "Files skipped because they could not be read or decoded.",
		}),
		hashBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "peertune_seeder_hash_bytes_total", Help: "Bytes hashed.",
		}),
		hashPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "peertune_seeder_hash_pending_bytes", Help: "Bytes still to hash in the current pass.",
		}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peertune_seeder_http_requests_total", Help: "HTTP seed requests by status code.",
		}, []string{"code"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peertune_seeder_publish_total", Help: "Catalog publish and unpublish calls by result: ok, error, taken_down (a publish refused: the tracker's admins took the track down).",
		}, []string{"op", "result"}),
		btUpload: btUpload,
	}
	fill := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "peertune_seeder_http_fill_bytes_total",
		Help: "Bytes of track data sent over HTTP in answer to fill requests (Peertune-Fetch: fill); also counted in peertune_seeder_upload_bytes_total{protocol=\"http\"}.",
	}, func() float64 { return float64(m.fillUpload.Load()) })
	for _, c := range []prometheus.Collector{m.tracks, m.filesHashed, m.filesReused, m.filesFailed, m.hashBytes,
		m.hashPending, m.httpRequests, m.published, uploadCollector{m}, fill, peerConns} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

var uploadDesc = prometheus.NewDesc("peertune_seeder_upload_bytes_total",
	"Bytes of track data uploaded, by protocol (http seed or bt).", []string{"protocol"}, nil)

// uploadCollector reports upload bytes by protocol: HTTP counted by the
// seed server, BitTorrent read from the anacrolix client's stats.
type uploadCollector struct{ m *metrics }

func (c uploadCollector) Describe(ch chan<- *prometheus.Desc) { ch <- uploadDesc }

func (c uploadCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(uploadDesc, prometheus.CounterValue, float64(c.m.httpUpload.Load()), "http")
	var bt int64
	if c.m.btUpload != nil {
		bt = c.m.btUpload()
	}
	ch <- prometheus.MustNewConstMetric(uploadDesc, prometheus.CounterValue, float64(bt), "bt")
}

// uploaded is what the seeder sent so far, HTTP and BitTorrent.
func (m *metrics) uploaded() int64 {
	n := m.httpUpload.Load()
	if m.btUpload != nil {
		n += m.btUpload()
	}
	return n
}

// uploadedNotFill is what the spare meter counts: every upload but the
// fills (they take only what the others leave).
func (m *metrics) uploadedNotFill() int64 { return m.uploaded() - m.fillUpload.Load() }
