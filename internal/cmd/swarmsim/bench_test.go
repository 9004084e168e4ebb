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

// BenchmarkSimHour is the scenario at its defaults: 1000 listeners,
// 200 tracks, one simulated hour (target: under 60 s with GOMAXPROCS=1).
// Run it with -benchtime 1x.
func BenchmarkSimHour(b *testing.B) {
	var r Report
	began := time.Now()
	n := 0
	for b.Loop() {
		r = Run(DefaultConfig())
		n++
	}
	wall := time.Since(began).Seconds() / float64(n)
	b.ReportMetric(wall, "wall-s")
	b.ReportMetric(r.SimS/wall, "sim-s/s")
	b.ReportMetric(r.SeedShare, "seed-share")
	b.ReportMetric(float64(r.Stalled), "stalled")
}
