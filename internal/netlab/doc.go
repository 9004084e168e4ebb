// Package netlab builds a small internet out of Linux network namespaces,
// so that tests and benches can run trackers, seed servers, players and
// real BitTorrent clients on separate hosts behind home routers, on capped
// and delayed links, without touching any real network.
//
// The layout:
//
//	                      public segment (its own namespace, bridge br0, 11.200.0.0/16)
//	  ┌──────────┬──────────────┬─────────────────────┬──────────────────┐
//	tracker    seed        link ─ public home    link ─ router ─ home
//	(public host)          (cap, delay)          (cap, delay) (NAT)  192.168.N.2
//
// A public host (AddPublic) sits on the bridge directly. A home (AddHome)
// reaches the bridge through a link namespace that caps each direction
// with tc tbf (this kernel has no netem) and delays each direction by half
// the round trip with a user-space delay line: two TAP devices whose frames
// this process holds for their delay and passes on. A home behind NAT
// has a router namespace between it and its link, with nftables
// masquerade on the router's outside interface: Linux conntrack maps
// endpoint-independently and filters by address and port, like most home
// routers, so an outside peer cannot dial in until the home has sent to it.
// A NAT home's router may run miniupnpd (Home.UPnP), which forwards ports
// when the home asks (UPnP-IGD, NAT-PMP); it needs a global outside
// address, hence the public segment's.
//
// Nothing is routed out of the lab: its namespaces have no link to the host's
// and no default route beyond their router. Close removes every namespace
// (with its links, rules and TAP devices) and kills every process in it;
// a lab killed before Close is reaped by the next New (Reap), which knows
// its namespaces by a name that holds the pid of the process that made them.
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN), iproute2, nftables and
// /dev/net/tun (and miniupnpd for UPnP homes); New returns an error wrapping ErrUnsupported when it cannot
// create a namespace, for tests to skip on.
package netlab
