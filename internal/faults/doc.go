// Package faults is peertune's fault-injection suite: integration tests
// (go test -tags integration ./internal/faults) that run a real tracker,
// seeder and players on loopback and break them the ways a real network
// does — a seeder that dies once the swarm holds every piece or before
// it does, a peer that dies, a peer that sends corrupted data, a
// tracker that dies or restarts, a cache disk that fills, a seed server that
// cannot be reached — and check the players' --json reports and the PCM they
// wrote. The tests run one at a time: real-time playback on two cores.
package faults
