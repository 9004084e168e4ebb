package main

import "testing"

func TestBehindNATSpreadsTheShare(t *testing.T) {
	for _, tc := range []struct {
		n     int
		share float64
		want  int
	}{{20, 0.7, 14}, {20, 0, 0}, {20, 1, 20}, {10, 0.5, 5}, {3, 0.7, 2}} {
		got, run := 0, 0
		for i := range tc.n {
			if behindNAT(i, tc.share) {
				got++
				run++
				if run > 3 && tc.share < 1 {
					t.Errorf("n %d share %.1f: more than 3 NAT homes in a row at %d", tc.n, tc.share, i)
				}
			} else {
				run = 0
			}
		}
		if got != tc.want {
			t.Errorf("n %d share %.1f: %d behind NAT, want %d", tc.n, tc.share, got, tc.want)
		}
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	v := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200}
	if p := percentile(v, 95); p != 190 {
		t.Errorf("p95 %v, want 190 (rank 19 of 20)", p)
	}
	if p := percentile(v, 50); p != 100 {
		t.Errorf("p50 %v, want 100", p)
	}
	if p := percentile(nil, 50); p != 0 {
		t.Errorf("p50 of none %v", p)
	}
}
