package main

import (
	"testing"
	"time"
)

// BenchmarkSim runs 1000 listeners on 200 tracks for 2 simulated minutes
// and reports simulated seconds per wall second.
func BenchmarkSim(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Hours = 2.0 / 60
	var simS float64
	began := time.Now()
	for b.Loop() {
		r := Run(cfg)
		simS += r.SimS
	}
	b.ReportMetric(simS/time.Since(began).Seconds(), "sim-s/s")
}
