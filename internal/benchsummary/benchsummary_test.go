package benchsummary

import "testing"

func TestPercentileIsNearestRank(t *testing.T) {
	v := make([]float64, 20)
	for i := range v {
		v[i] = float64(10 * (i + 1))
	}
	for _, c := range []struct{ p, want float64 }{{95, 190}, {50, 100}, {100, 200}, {0, 10}} {
		if got := Percentile(v, c.p); got != c.want {
			t.Errorf("p%v of 10..200: %v, want %v", c.p, got, c.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing: %v, want 0", got)
	}
}
