package policy

import "math/bits"

// Bits is a set of piece indexes.
type Bits []uint64

// NewBits returns an empty set for n pieces.
func NewBits(n int) Bits { return make(Bits, (n+63)/64) }

// Has reports whether piece i is in the set.
func (b Bits) Has(i int) bool {
	w := i / 64
	return i >= 0 && w < len(b) && b[w]&(1<<(uint(i)%64)) != 0
}

// Set adds piece i, growing the set as needed.
func (b *Bits) Set(i int) {
	if i < 0 {
		return
	}
	for w := i / 64; w >= len(*b); {
		*b = append(*b, 0)
	}
	(*b)[i/64] |= 1 << (uint(i) % 64)
}

// BitsOf returns the set of the given pieces.
func BitsOf(pieces ...int) Bits {
	var b Bits
	for _, i := range pieces {
		b.Set(i)
	}
	return b
}

// addTo adds 1 to count[i] for every piece i in the set below len(count),
// a word at a time (a simulator decides for a thousand listeners with
// fifty peers each).
func (b Bits) addTo(count []int) {
	n := len(count)
	for w, word := range b {
		base := w * 64
		if base >= n {
			return
		}
		if word == ^uint64(0) && base+64 <= n {
			for k := range count[base : base+64] {
				count[base+k]++
			}
			continue
		}
		for word != 0 {
			i := base + bits.TrailingZeros64(word)
			if i >= n {
				break
			}
			count[i]++
			word &= word - 1
		}
	}
}

// hasAll reports whether the set holds every piece below n.
func (b Bits) hasAll(n int) bool {
	if len(b)*64 < n {
		return false
	}
	w := 0
	for ; (w+1)*64 <= n; w++ {
		if b[w] != ^uint64(0) {
			return false
		}
	}
	if rest := n - w*64; rest > 0 {
		mask := uint64(1)<<uint(rest) - 1
		return b[w]&mask == mask
	}
	return true
}
