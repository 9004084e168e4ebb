// Package tracker wires the tracker server together: the announce
// frontends (tracker/announce) over a PeerStore (tracker/peers), the
// catalog API over a Catalog (tracker/catalog), the web page (tracker/web)
// over both, the whitelist that joins them, Prometheus metrics, the
// announce rate, health checks and graceful shutdown.
//
//	HTTP --listen: /announce /scrape /api/v1/… /metrics /healthz /readyz,
//	               and the web page (tracker/web) on every other GET path
//	UDP  --udp:    BEP 15 connect, announce, scrape
package tracker
