package stats

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// TwoSidedP is the two-sided p of a t test of an estimate against 0: the chance, with nothing
// changed, of |stat| / se as large or larger under Student's t with df degrees of freedom (the
// standard normal when df ≤ 0: se is known, not estimated). Without a standard error (se ≤ 0 or
// NaN) an estimate of 0 has p 1 and any other p 0.
func TwoSidedP(stat, se float64, df int) float64 {
	if !(se > 0) {
		if stat == 0 {
			return 1
		}
		return 0
	}
	z := math.Abs(stat) / se
	if df <= 0 {
		return 2 * distuv.UnitNormal.Survival(z)
	}
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Survival(z)
}

// THalfWidth is the half-width of a two-sided interval at confidence level of an estimate with
// standard error se under Student's t with df degrees of freedom (the normal when df ≤ 0).
func THalfWidth(se float64, df int, level float64) float64 {
	q := 1 - (1-level)/2
	if df <= 0 {
		return se * distuv.UnitNormal.Quantile(q)
	}
	return se * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(q)
}

// BenjaminiHochberg returns each p adjusted by the Benjamini–Hochberg step-up procedure over m
// hypotheses (the q values: a hypothesis is a discovery at false discovery rate alpha when its q is
// below alpha). m counts hypotheses tested without a p of their own too; it is at least len(ps).
// The q of the i-th smallest p is the least of p_(j)·m/j over j ≥ i, and at most 1.
func BenjaminiHochberg(ps []float64, m int) []float64 {
	m = max(m, len(ps))
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	qs := make([]float64, len(ps))
	q := 1.0
	for r := len(ps) - 1; r >= 0; r-- {
		i := idx[r]
		q = math.Min(q, ps[i]*float64(m)/float64(r+1))
		qs[i] = q
	}
	return qs
}

// TailP is the empirical chance of a move at least as large as |x| with nothing changed, from the
// moves of n null trials of which largest holds the largest magnitudes (any order, at least those
// reaching |x|): (k+1)/(n+1) for k of them reaching |x|, counting the observed move as one more
// trial, so that the chance is never 0 once the trials made such a move. It is 0 when none did (or
// n is 0): the trials then say nothing, and a parametric p has to.
func TailP(x float64, largest []float64, n int) float64 {
	k := 0
	for _, y := range largest {
		if y >= math.Abs(x) {
			k++
		}
	}
	if k == 0 || n == 0 {
		return 0
	}
	return float64(k+1) / float64(n+1)
}
