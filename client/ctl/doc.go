// Package ctl is the remote control of a running player, as cmus-remote is
// cmus's: the player of a cache folder listens on a unix socket named after
// that folder (mode 0600, under $XDG_RUNTIME_DIR/peertune, or in the cache
// folder when that is unset), and `peertune ctl` or a second `peertune play`
// on the same cache talks to it.
//
// The protocol is one JSON Request per line and one JSON Reply per line,
// on one connection per exchange: easy to drive from a script with socat or
// nc -U. Listen replaces a socket left by a killed player (nothing answers
// on it) and refuses one that a live player answers on.
package ctl
