// Package btclient is the one place that configures an anacrolix/torrent
// client for peertune, for the player (client/stream) and the seed server
// (client/seeder) alike: no DHT, no port forwarding unless asked, no
// WebTorrent, no web seeds and no built-in tracker announcer (peertune
// announces itself), seeding on, a BEP 20 peer-id prefix, the listen
// address (one address family for a literal address), the logger and the
// upload limiter (whose burst anacrolix needs to be at least one 16 KiB
// chunk).
//
// Config returns a *torrent.ClientConfig that the caller finishes before
// torrent.NewClient: its DefaultStorage, Callbacks and so on.
//
// A player paces its upload (pacer.go: Pace decides over a tick's sample,
// RunPacer carries it out on the client's limiter) by the queue its line
// builds at the router, which the round trips of its own TCP sockets show
// (tcp.go: ListenTCP, Options.OwnTCP, TCP.Lines; the sockets hold at most
// NotSentLowat unsent).
package btclient
