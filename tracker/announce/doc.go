// Package announce holds the tracker's BitTorrent frontends: HTTP announce
// and scrape (BEP 3, 23, 7, 48) and the UDP tracker protocol (BEP 15). As
// in chihaya, a frontend parses and validates the request with a pure
// function (fuzzed), consults the "tracked" hook, then asks a
// peers.PeerStore; the store never sees bad input.
//
// HTTP is a net/http handler. Front sits before it on the tracker's TCP
// listener and answers plain announces itself (one pooled buffer, one
// write per reply), since clients announce with a new connection each
// time and net/http's per-connection work costs more than the announce;
// it hands every other connection to net/http.
//
// Scrape of an infohash that is not tracked: HTTP leaves it out of the
// "files" dictionary; UDP, whose reply is positional, answers zeros.
package announce
