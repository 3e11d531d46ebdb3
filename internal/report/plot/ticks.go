package plot

import (
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
)

// SizeTicks marks an axis of log2(file size): a tick labelled by Format (4KiB, 1MiB) at each size
// measured (thinned when they would crowd), minor ticks at the powers of two in between.
type SizeTicks struct {
	Sizes  []float64 // the sizes measured, ascending
	Format func(size float64) string
}

// Ticks implements plot.Ticker.
func (t SizeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	minGap := (hi - lo) / 9 // in octaves: at most ~9 labels
	last := math.Inf(-1)
	for _, s := range t.Sizes {
		e := math.Log2(s)
		if e < lo || e > hi || e-last < minGap {
			continue
		}
		last = e
		ticks = append(ticks, plot.Tick{Value: e, Label: t.Format(s)})
	}
	step := 1.0
	for (hi-lo)/step > 40 {
		step *= 2
	}
	for e := math.Ceil(lo/step) * step; e <= hi; e += step {
		if !slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == e }) {
			ticks = append(ticks, plot.Tick{Value: e})
		}
	}
	return ticks
}

// LogTicks marks an axis of log10 values in decades: labels at 1, 10, 100… (and 2, 5 when the
// axis spans less than two decades), minor ticks at the other multiples. Format writes a value
// (not its log) as a label. MaxLabels, when set, caps the labels (a narrow panel): the 2s and 5s
// go first, then labels closer than a MaxLabels-th of the axis to the one below.
type LogTicks struct {
	Format    func(float64) string
	MaxLabels int
}

// Ticks implements plot.Ticker.
func (t LogTicks) Ticks(lo, hi float64) []plot.Tick {
	if !Finite(lo) || !Finite(hi) || hi <= lo {
		return nil
	}
	e0, e1 := math.Floor(lo), math.Ceil(hi)
	mids := hi-lo < 2
	var ticks []plot.Tick
	labelled := 0
	for e := e0; e <= e1; e++ {
		for m := 1.0; m <= 9; m++ {
			v := m * math.Pow(10, e)
			if math.Log10(v) < lo-1e-9 || math.Log10(v) > hi+1e-9 {
				continue
			}
			tk := plot.Tick{Value: math.Log10(v)}
			if m == 1 || (mids && (m == 2 || m == 5)) {
				tk.Label = t.Format(v)
				labelled++
			}
			ticks = append(ticks, tk)
		}
	}
	if labelled < 2 { // less than a decade without 1, 2 or 5 inside: label every tick
		for i := range ticks {
			ticks[i].Label = t.Format(math.Pow(10, ticks[i].Value))
		}
		labelled = len(ticks)
	}
	if t.MaxLabels <= 0 || labelled <= t.MaxLabels {
		return ticks
	}
	if mids && labelled >= 2 {
		// Drop the 2s and 5s, unless that leaves fewer than two labels.
		decades := 0
		for _, tk := range ticks {
			if tk.Label != "" && isDecade(tk.Value) {
				decades++
			}
		}
		if decades >= 2 {
			for i := range ticks {
				if !isDecade(ticks[i].Value) {
					ticks[i].Label = ""
				}
			}
			labelled = decades
		}
	}
	// Labels at least a MaxLabels-th of the axis apart, from the lowest.
	minGap := (hi - lo) / float64(t.MaxLabels)
	last := math.Inf(-1)
	for i := range ticks {
		if ticks[i].Label == "" {
			continue
		}
		if ticks[i].Value-last < minGap {
			ticks[i].Label = ""
			continue
		}
		last = ticks[i].Value
	}
	return ticks
}

func isDecade(v float64) bool { return math.Abs(v-math.Round(v)) < 1e-9 }

// LinearTicks are gonum's default ticks relabelled by Format.
type LinearTicks struct{ Format func(float64) string }

// Ticks implements plot.Ticker.
func (t LinearTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = t.Format(ticks[i].Value)
		}
	}
	return ticks
}

// BytesTicks mark a byte axis at a power-of-two step, so labels are round in IEC units (0, 256 MiB,
// 512 MiB, 768 MiB, 1 GiB), with a minor tick between labels. Format writes the labels. MaxLabels,
// when set, caps the labels (6 otherwise).
type BytesTicks struct {
	Format    func(float64) string
	MaxLabels int
}

// Ticks implements plot.Ticker.
func (t BytesTicks) Ticks(lo, hi float64) []plot.Tick {
	if !Finite(lo) || !Finite(hi) || hi <= lo {
		return nil
	}
	most := 6.0
	if t.MaxLabels > 0 {
		most = float64(t.MaxLabels - 1)
	}
	step := 1.0
	for (hi-lo)/step > most {
		step *= 2
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step*2) * step / 2; v <= hi; v += step / 2 {
		tk := plot.Tick{Value: v}
		if math.Mod(v, step) == 0 {
			tk.Label = t.Format(v)
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// Label makes a tick label function from a unit formatter: zero as a bare "0", other values as
// format writes them with the trailing zeros dropped (Compact).
func Label(format func(float64) string) func(float64) string {
	return func(v float64) string {
		if v == 0 {
			return "0"
		}
		return Compact(format(v))
	}
}

// Compact drops the trailing zeros of a formatted number: "1.00 µs" → "1 µs", "2.50 GiB" →
// "2.5 GiB".
func Compact(s string) string {
	num, unit, ok := strings.Cut(s, " ")
	if !ok || !strings.Contains(num, ".") {
		return s
	}
	num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	return num + " " + unit
}
