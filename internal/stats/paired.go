package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// Paired is what a paired comparison learns from differences d_i = ln(new_i ÷ base_i), one per pair
// of samples taken side by side.
//
// The test is Wilcoxon's signed-rank test, and the estimate and interval its companions (the
// Hodges–Lehmann pseudo-median and the distribution-free interval from the Walsh averages). Why
// these: when base and new are the same thing (A/A), the two sides of each pair are exchangeable, so
// each d is symmetric about 0 whatever its distribution — exactly the null the signed-rank test
// assumes, and it holds at any n (the exact distribution is used up to ExactMaxN pairs). Timings
// here are skewed and heavy-tailed (a t-test's normality fails), and the signed-rank test keeps
// most of a t-test's power where the sign test, the other distribution-free choice, keeps 64% of it
// on normal noise.
type Paired struct {
	N int // pairs with a non-zero difference (a zero difference carries no sign)
	// Estimate is the Hodges–Lehmann pseudo-median of the differences (the median of the Walsh
	// averages), and [Lo, Hi] its interval at confidence Level.
	Estimate, Lo, Hi float64
	Level            float64
	// P is the two-sided p of the signed-rank test of "symmetric about 0".
	P float64
}

// ExactMaxN is the largest n for which the signed-rank statistic's exact distribution is used
// (without ties); above it, the normal approximation with the tie correction.
const ExactMaxN = 50

// SignedRank compares paired differences d at confidence level (0.95, say; the interval's achieved
// level, which the exact distribution makes discrete, is Paired.Level). Non-finite differences are
// dropped. With fewer than 6 non-zero differences no two-sided test at 5% is possible: P is 1 and
// the interval the differences' range.
func SignedRank(d []float64, level float64) Paired {
	var xs []float64
	for _, x := range d {
		if x != 0 && !math.IsNaN(x) && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	n := len(xs)
	out := Paired{N: n, P: 1}
	if n == 0 {
		return out
	}
	walsh := walshAverages(xs)
	out.Estimate = quantileSorted(walsh, 0.5)
	out.Lo, out.Hi = walsh[0], walsh[len(walsh)-1]
	out.Level = 1
	if n < 6 {
		out.Level = 1 - 2*math.Pow(0.5, float64(n)) // the range of n signed values
		return out
	}

	// Ranks of |d|, ties sharing their mean rank.
	abs := make([]float64, n)
	for i, x := range xs {
		abs[i] = math.Abs(x)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmpFloat(abs[a], abs[b]) })
	ranks := make([]float64, n)
	tieTerm, ties := 0.0, false
	for i := 0; i < n; {
		j := i + 1
		for j < n && abs[idx[j]] == abs[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // mean of ranks i+1 … j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tieTerm += t*t*t - t
		}
		i = j
	}
	wPlus := 0.0
	for i, x := range xs {
		if x > 0 {
			wPlus += ranks[i]
		}
	}
	m := float64(n) * float64(n+1) / 2 // the number of Walsh averages, and W+'s largest value
	alpha := 1 - level
	if n <= ExactMaxN && !ties {
		cdf := signedRankCDF(n)
		// Two-sided: twice the smaller tail, W+ being symmetric about m/2.
		w := int(math.Round(wPlus))
		tail := cdf[min(w, int(m)-w)]
		out.P = math.Min(1, 2*tail)
		// The interval: the k-th smallest and k-th largest Walsh averages, k the largest with
		// P(W+ < k) ≤ alpha/2 (Hollander & Wolfe, Nonparametric Statistical Methods, §3.3).
		k := 0
		for k < len(cdf) && cdf[k] <= alpha/2 {
			k++
		}
		if k > 0 {
			out.Lo, out.Hi = walsh[k-1], walsh[len(walsh)-k]
			out.Level = 1 - 2*cdf[k-1]
		}
		return out
	}
	mean := m / 2
	sd := math.Sqrt(float64(n)*float64(n+1)*float64(2*n+1)/24 - tieTerm/48)
	if sd > 0 {
		z := (math.Abs(wPlus-mean) - 0.5) / sd // with a continuity correction
		out.P = math.Min(1, 2*distuv.UnitNormal.Survival(math.Max(z, 0)))
	}
	zc := distuv.UnitNormal.Quantile(1 - alpha/2)
	k := int(math.Floor(mean - zc*math.Sqrt(float64(n)*float64(n+1)*float64(2*n+1)/24)))
	if k >= 1 && k <= len(walsh) {
		out.Lo, out.Hi = walsh[k-1], walsh[len(walsh)-k]
		out.Level = level
	}
	return out
}

// signedRankCDF returns P(W+ ≤ w) for w = 0 … n(n+1)/2 under the null, for n untied differences:
// the number of subsets of {1 … n} with rank sum w, over 2^n.
func signedRankCDF(n int) []float64 {
	m := n * (n + 1) / 2
	counts := make([]float64, m+1)
	counts[0] = 1
	for r := 1; r <= n; r++ {
		for w := m; w >= r; w-- {
			counts[w] += counts[w-r]
		}
	}
	total := math.Ldexp(1, n)
	cdf := make([]float64, m+1)
	sum := 0.0
	for w, c := range counts {
		sum += c
		cdf[w] = sum / total
	}
	return cdf
}

// walshAverages returns (x_i + x_j)/2 for all i ≤ j, sorted.
func walshAverages(xs []float64) []float64 {
	out := make([]float64, 0, len(xs)*(len(xs)+1)/2)
	for i := range xs {
		for j := i; j < len(xs); j++ {
			out = append(out, (xs[i]+xs[j])/2)
		}
	}
	slices.Sort(out)
	return out
}

// quantileSorted is the q-quantile of sorted xs, interpolating between order statistics.
func quantileSorted(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
