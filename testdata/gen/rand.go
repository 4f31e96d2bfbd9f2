package main

// rng is a small deterministic generator (SplitMix64). The generator owns
// it rather than using math/rand so that the committed files depend only on
// this code and the seed, never on the standard library's algorithms.
type rng struct{ state uint64 }

func newRNG(seed uint64) *rng { return &rng{state: seed} }

func (r *rng) next() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a number in [0, n). The modulo bias is irrelevant here.
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// between returns a number in [lo, hi].
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }

// chance reports true with probability percent/100.
func (r *rng) chance(percent int) bool { return r.intn(100) < percent }

// digits returns n random decimal digits.
func (r *rng) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.intn(10))
	}
	return string(b)
}

// letters returns n random upper-case ASCII letters.
func (r *rng) letters(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('A' + r.intn(26))
	}
	return string(b)
}

func pick[T any](r *rng, xs []T) T { return xs[r.intn(len(xs))] }
