//go:build race

package audio

// raceEnabled tells real-time tests that their timings mean nothing in
// this binary: the race detector slows decoding several times, and a
// 100 ms buffer does not absorb that on two busy cores. They run again,
// without -race and one package at a time, in the integration pass.
const raceEnabled = true
