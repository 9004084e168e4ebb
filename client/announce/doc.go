// Package announce announces torrents to their trackers (HTTP and UDP) on
// behalf of the player's and the seeder's BitTorrent clients, in place of
// anacrolix's own announcer.
//
// anacrolix v1.61.0 waits at least a minute after any failed announce, so a
// tracker that restarts loses every client that announced while it was
// down for a minute or more, however short the tracker's interval. A Loop
// retries a failed announce after a short, doubling, jittered backoff
// (1 s up to the tracker's interval or 30 s), and otherwise announces
// every interval the tracker asks for. It uses anacrolix's tracker client
// package for the wire protocols.
package announce
