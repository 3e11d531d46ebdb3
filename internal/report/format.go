package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// FormatValue formats v in unit for a human: durations in ns become ns/µs/ms/s with 3 significant
// digits ("2.01 µs", "188 ms"), bytes use IEC units (FormatBytes), ratios two decimals ("0.50"),
// r2 three. Other units get 3 significant digits and the unit's name.
func FormatValue(unit string, v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	if math.IsInf(v, 0) {
		if v > 0 {
			return "∞"
		}
		return "-∞"
	}
	switch unit {
	case "ns", "fixed_ns":
		return FormatNanos(v)
	case "bytes", "B":
		return FormatBytes(int64(math.Round(v)))
	case "ratio":
		if v != 0 && math.Abs(v) < 0.1 {
			return strconv.FormatFloat(v, 'g', 3, 64) // a small share (a trace's 0.68% of an image) keeps its digits
		}
		return strconv.FormatFloat(v, 'f', 2, 64)
	case "r2":
		return strconv.FormatFloat(v, 'f', 3, 64)
	case "ns_per_byte":
		return sig3(v) + " ns/B"
	case "ns_per_layer":
		return FormatNanos(v) + "/layer"
	case "", "count":
		return sig3(v)
	}
	return sig3(v) + " " + unit
}

// FormatNanos formats a duration given in nanoseconds with 3 significant digits.
func FormatNanos(ns float64) string {
	units := []struct {
		name  string
		scale float64
	}{{"ns", 1}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}}
	a := math.Abs(ns)
	i := 0
	// Move up while the value would print as 1000 or more in the current unit.
	for i < len(units)-1 && a >= 999.5*units[i].scale {
		i++
	}
	return sig3(ns/units[i].scale) + " " + units[i].name
}

// FormatBytes formats a byte count with IEC units and 3 significant digits: "512 B", "4.00 KiB",
// "1.50 MiB", "488 MiB".
func FormatBytes(n int64) string {
	const units = "KMGTPE"
	sign := ""
	a := float64(n)
	if n < 0 {
		sign, a = "-", -a
	}
	if a < 1024 {
		return fmt.Sprintf("%s%d B", sign, int64(a))
	}
	i := -1
	for i < len(units)-1 && a >= 1023.5 {
		a /= 1024
		i++
	}
	return sign + sig3(a) + " " + string(units[i]) + "iB"
}

// sig3 formats v with 3 significant digits, without an exponent (values ≥ 1000 keep all their
// integer digits).
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a < 0.001:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a < 9.995:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 99.95:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// FormatCI formats a summary's confidence interval from its samples (SampleCI) as [lo, hi] in the
// unit and scale its median is shown in: "[1.98, 2.10]" beside "2.01 µs". Intervals of medians are
// asymmetric, so they are never shown as a ± of half their width. It is "" when there is no
// interval to show (fewer than 2 samples). The level is the summary's Confidence: 95% from 6
// samples on, less below (a note says how much).
func FormatCI(unit string, s result.Summary) string {
	if s.N < 2 {
		return ""
	}
	lo, hi := s.SampleCI()
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return ""
	}
	scale := unitScale(unit, s.Median)
	return "[" + sig3(lo/scale) + ", " + sig3(hi/scale) + "]"
}

// unitScale is the factor FormatValue divides v by to show it in unit (1 for plain numbers).
func unitScale(unit string, v float64) float64 {
	a := math.Abs(v)
	switch unit {
	case "ns", "fixed_ns":
		scale := 1.0
		for _, s := range []float64{1e3, 1e6, 1e9} {
			if a >= 999.5*scale {
				scale = s
			}
		}
		return scale
	case "bytes", "B":
		scale := 1.0
		if a < 1024 {
			return 1
		}
		for a/scale >= 1023.5 && scale < 1<<60 {
			scale *= 1024
		}
		return scale
	}
	return 1
}

// FormatParams lists params compactly as key=value in a stable order: the usual keys in paramOrder
// (so "size=4KiB how=append cache=warm"), then the others sorted.
func FormatParams(params map[string]string) string {
	keys := paramKeys(params)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return strings.Join(parts, " ")
}

func paramKeys(params map[string]string) []string {
	keys := slices.Collect(maps.Keys(params))
	metric.SortKeys(keys)
	return keys
}
