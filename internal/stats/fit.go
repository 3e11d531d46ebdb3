package stats

import (
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// FitResult is a least-squares line y = Alpha + Beta·x over N points, its coefficient of
// determination, and the 95% confidence interval of the slope. Fields that need more points than
// given are NaN (a line needs 2, the interval 3).
type FitResult struct {
	Alpha, Beta        float64
	R2                 float64
	N                  int
	BetaCILo, BetaCIHi float64
}

// Fit regresses y on x (ordinary least squares, gonum's stat.LinearRegression). The slope's interval
// is Beta ± t(0.975, N−2)·SE, with SE = sqrt(Σresidual²/(N−2) / Σ(x−x̄)²) (Student's t, gonum's
// distuv). Used for the derived metrics: copy-up = fixed + size × rate; lookup = base + depth × cost.
// Mismatched lengths give N = 0 and NaNs.
func Fit(x, y []float64) FitResult {
	nan := math.NaN()
	r := FitResult{Alpha: nan, Beta: nan, R2: nan, BetaCILo: nan, BetaCIHi: nan}
	if len(x) != len(y) {
		return r
	}
	r.N = len(x)
	if r.N < 2 {
		return r
	}
	r.Alpha, r.Beta = stat.LinearRegression(x, y, nil, false)
	var ssRes float64
	for i := range x {
		d := y[i] - (r.Alpha + r.Beta*x[i])
		ssRes += d * d
	}
	r.R2 = stat.RSquared(x, y, nil, r.Alpha, r.Beta)
	if math.IsNaN(r.R2) && ssRes == 0 {
		r.R2 = 1 // constant y, fitted exactly (RSquared divides 0 by 0)
	}
	if r.N < 3 {
		return r
	}
	mx := stat.Mean(x, nil)
	var sxx float64
	for _, v := range x {
		sxx += (v - mx) * (v - mx)
	}
	df := float64(r.N - 2)
	se := math.Sqrt(ssRes / df / sxx)
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Quantile(0.975)
	r.BetaCILo, r.BetaCIHi = r.Beta-t*se, r.Beta+t*se
	return r
}
