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
package btclient
