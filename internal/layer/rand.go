package layer

import (
	"encoding/binary"
	"math"
)

// Everything random here is integer arithmetic or IEEE basic operations with explicit rounding
// (no math.Exp/Log, which have per-architecture assembly): a tree is byte-identical on any machine
// and with any Go version.

// mix64 is the splitmix64 finaliser: a bijection that scatters bits.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// hasher is FNV-1a over length-prefixed fields, so ("ab","c") and ("a","bc") differ.
type hasher uint64

func newHasher() hasher { return 0xcbf29ce484222325 }

func (h hasher) raw(b []byte) hasher {
	for _, c := range b {
		h ^= hasher(c)
		h *= 0x100000001b3
	}
	return h
}

func (h hasher) u64(v uint64) hasher {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return h.raw(b[:])
}

func (h hasher) bytes(s string) hasher {
	h = h.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		h ^= hasher(s[i])
		h *= 0x100000001b3
	}
	return h
}

func (h hasher) sum() uint64 { return mix64(uint64(h)) }

// ContentID is the content identity of the file at path in layer for a scenario seed. version
// tells apart successive contents of one path (0 for what Build generates); an ID is never 0.
// The engine uses it for files a workload creates or rewrites.
func ContentID(seed int64, layer, path string, version uint64) uint64 {
	id := newHasher().u64(uint64(seed)).bytes(layer).bytes(path).u64(version).sum()
	if id == 0 {
		id = 1
	}
	return id
}

// rng is xoshiro256**.
type rng struct{ s [4]uint64 }

func newRNG(seed uint64) *rng {
	r := &rng{}
	for i := range r.s {
		seed += 0x9e3779b97f4a7c15
		r.s[i] = mix64(seed)
	}
	return r
}

func (r *rng) next() uint64 {
	s := &r.s
	out := rotl(s[1]*5, 7) * 9
	t := s[1] << 17
	s[2] ^= s[0]
	s[3] ^= s[1]
	s[1] ^= s[2]
	s[0] ^= s[3]
	s[2] ^= t
	s[3] = rotl(s[3], 45)
	return out
}

func rotl(x uint64, k uint) uint64 { return x<<k | x>>(64-k) }

// intn returns a uniform integer in [0, n), n > 0 (Lemire's multiply-shift, unbiased enough for
// n far below 2^64, and exact integer arithmetic).
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.uint64n(uint64(n)))
}

func (r *rng) uint64n(n uint64) uint64 {
	if n == 0 {
		return r.next()
	}
	// rejection sampling on the top bits: exact and uniform
	lim := math.MaxUint64 - math.MaxUint64%n
	for {
		v := r.next()
		if v < lim {
			return v % n
		}
	}
}

// float returns a uniform float in [0, 1) with 53 random bits (exact).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// normal returns an approximately standard normal variate: the Irwin–Hall sum of 12 uniforms
// minus 6 (tails cut at ±6σ, irrelevant for file sizes). Only additions: bit-exact everywhere.
func (r *rng) normal() float64 {
	var s float64
	for i := 0; i < 12; i++ {
		s = float64(s + r.float())
	}
	return float64(s - 6)
}

// expDet is e^x from basic IEEE operations only, each explicitly rounded (no fused
// multiply-add), so it returns the same bits on every machine. Relative error ~1e-16.
func expDet(x float64) float64 {
	if x > 700 {
		return math.Inf(1)
	}
	if x < -700 {
		return 0
	}
	const (
		ln2hi  = 6.93147180369123816490e-01
		ln2lo  = 1.90821492927058770002e-10
		invLn2 = 1.44269504088896338700e+00
	)
	k := math.Floor(float64(float64(x*invLn2) + 0.5))
	r := float64(float64(x-float64(k*ln2hi)) - float64(k*ln2lo))
	// Taylor series of e^r, |r| <= 0.35: 18 terms are far below one ulp.
	p := 1.0
	for n := 18; n >= 1; n-- {
		p = float64(1 + float64(float64(r*p)/float64(n)))
	}
	return math.Ldexp(p, int(k))
}
