// Package announce holds the tracker's BitTorrent frontends: HTTP announce
// and scrape (BEP 3, 23, 7, 48) and the UDP tracker protocol (BEP 15). As
// in chihaya, a frontend parses and validates the request with a pure
// function (fuzzed), consults the "tracked" hook, then asks a
// peers.PeerStore; the store never sees bad input.
//
// Scrape of an infohash that is not tracked: HTTP leaves it out of the
// "files" dictionary; UDP, whose reply is positional, answers zeros.
package announce
