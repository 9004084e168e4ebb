// Package tracker wires the tracker server together: the announce
// frontends (tracker/announce) over a PeerStore (tracker/peers), the
// catalog API over a Catalog (tracker/catalog), the whitelist that joins
// them, Prometheus metrics, health checks and graceful shutdown.
//
//	HTTP --listen: /announce /scrape /api/v1/… /metrics /healthz /readyz
//	UDP  --udp:    BEP 15 connect, announce, scrape
package tracker
