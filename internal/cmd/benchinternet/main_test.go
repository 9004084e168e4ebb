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
