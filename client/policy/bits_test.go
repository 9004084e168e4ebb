package policy

import (
	"math/rand/v2"
	"testing"
)

func TestBitsAddTo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 63, 64, 65, 130, 220} {
		for range 50 {
			var b Bits
			full := r.IntN(3) == 0
			for i := range n + 70 {
				if full || r.IntN(2) == 0 {
					b.Set(i)
				}
			}
			all := true
			for i := range n {
				all = all && b.Has(i)
			}
			if b.hasAll(n) != all {
				t.Fatalf("n %d: hasAll %v, want %v", n, !all, all)
			}
			got := make([]int, n)
			b.addTo(got)
			for i := range n {
				want := 0
				if b.Has(i) {
					want = 1
				}
				if got[i] != want {
					t.Fatalf("n %d: count[%d] = %d, want %d", n, i, got[i], want)
				}
			}
		}
	}
}
