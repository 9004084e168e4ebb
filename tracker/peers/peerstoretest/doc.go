// Package peerstoretest is the conformance suite (Run) and the benchmark
// suite (Bench) that every peers.PeerStore backend runs, each in one line
// from the backend's own tests. Backends that cannot take a fake clock (a
// Redis backend on the server's wall clock) pass RealClock(): the suite then
// uses a short TTL and real sleeps for the expiry cases.
package peerstoretest
