package policy

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
