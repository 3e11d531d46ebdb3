package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
)

// GoBench writes r in the Go benchmark format (golang.org/x/perf/benchfmt), for benchstat:
//
//	goos: linux
//	goarch: amd64
//	cpu: AMD EPYC
//	scenario: debian-emacs-apache
//	kernel: 6.18.44-fc-v782
//	backing: ext4
//	seedbench: v0.1.0
//	commit: 5f8bdc4
//	Unit ns/op assume=nothing better=lower
//	BenchmarkCopyupLatency/driver=overlayfs/image=web/size=4KiB/how=append/cache=warm/write=first 1 2207760 ns/op
//
// Configuration lines first (empty values left out), then a unit metadata line per unit, then one
// line per raw sample (iterations 1; NaN and ±Inf samples left out), metric by metric as r holds
// them. The name is "Benchmark" and the metric name in CamelCase (copyup.latency →
// CopyupLatency), then driver=<driver> and every parameter as key=value sub-names, in the order
// FormatParams lists them. Keys and values are escaped so the name survives benchfmt: '%', '/',
// '=', spaces and control characters become %XX, and so does the '-' of a value ending in
// -<digits> (benchfmt would take it for a GOMAXPROCS suffix). Units: ns → ns/op (benchfmt shows
// it as sec/op), bytes → B, others as they are (ratio, inodes, …; spaces escaped). A unit gets
// better=lower|higher when all its metrics agree (unit metadata is per unit, not per metric).
//
//	seedbench report --format gobench r.json > r.txt && benchstat -col /driver r.txt
//
// Comparing two runs (benchstat old.txt new.txt) groups tables by the configuration lines: pass
// -ignore commit,seedbench,kernel to compare across versions or machines.
func GoBench(w io.Writer, r *result.Result) error {
	ew := &errWriter{w: w}
	config := [][2]string{
		{"goos", "linux"},
		{"goarch", r.Env.Arch},
		{"cpu", r.Env.CPUModel},
		{"scenario", r.Scenario.Name},
		{"kernel", firstField(r.Env.Kernel)},
		{"backing", r.Env.Backing.FS},
		{"seedbench", r.Run.ToolVersion},
		{"commit", r.Run.Commit},
	}
	for _, kv := range config {
		if v := strings.TrimSpace(kv[1]); v != "" {
			fmt.Fprintf(ew, "%s: %s\n", kv[0], strings.Join(strings.Fields(v), " "))
		}
	}

	// Unit metadata, in the order units first appear.
	var units []string
	better := map[string]string{} // "" after a disagreement
	for _, m := range r.Metrics {
		u := gobenchUnit(m.Unit)
		b, seen := better[u]
		switch {
		case !seen:
			units = append(units, u)
			better[u] = m.Better
		case b != m.Better:
			better[u] = ""
		}
	}
	for _, u := range units {
		line := "Unit " + u + " assume=nothing"
		if b := better[u]; b == "lower" || b == "higher" {
			line += " better=" + b
		}
		fmt.Fprintln(ew, line)
	}

	for _, m := range r.Metrics {
		name := GoBenchName(m.Driver, m.Name, m.Params)
		unit := gobenchUnit(m.Unit)
		for _, v := range m.Samples {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			fmt.Fprintf(ew, "%s 1 %s %s\n", name, strconv.FormatFloat(v, 'f', -1, 64), unit)
		}
	}
	if ew.err != nil {
		return fmt.Errorf("gobench: %w", ew.err)
	}
	return nil
}

// GoBenchName is the benchmark name of a metric's samples:
// "BenchmarkCopyupLatency/driver=overlayfs/size=4KiB/how=append/cache=warm".
func GoBenchName(driver string, id metric.ID, params map[string]string) string {
	var b strings.Builder
	b.WriteString("Benchmark")
	b.WriteString(camel(string(id)))
	b.WriteString("/driver=" + escapeName(driver))
	for _, k := range paramKeys(params) {
		if k == "driver" {
			continue // cannot be a parameter; the driver is already named
		}
		b.WriteString("/" + escapeName(k) + "=" + escapeName(params[k]))
	}
	return b.String()
}

// gobenchUnit maps a result unit to a benchfmt unit.
func gobenchUnit(u string) string {
	switch u {
	case "ns":
		return "ns/op"
	case "bytes", "B":
		return "B"
	case "":
		return "count"
	}
	return escapeName(u)
}

// camel turns a dotted metric name into an exported identifier: copyup.latency → CopyupLatency,
// disk.shared_savings → DiskSharedSavings. Characters other than letters and digits separate words.
func camel(name string) string {
	var b strings.Builder
	up := true
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			up = true
			continue
		}
		if up {
			r = unicode.ToUpper(r)
			up = false
		}
		b.WriteRune(r)
	}
	if b.Len() == 0 {
		return "Metric"
	}
	return b.String()
}

// escapeName escapes what would break a benchmark sub-name as %XX (per byte): '%', '/', '=', white
// space, control characters, invalid UTF-8, and the '-' of a final -<digits> (benchfmt reads that
// as a GOMAXPROCS suffix when it ends the name). url.PathUnescape undoes it.
func escapeName(s string) string {
	gomaxprocs := -1
	if i := strings.LastIndexByte(s, '-'); i >= 0 && i < len(s)-1 && strings.Trim(s[i+1:], "0123456789") == "" {
		gomaxprocs = i
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == '%' || r == '/' || r == '=' || i == gomaxprocs || unicode.IsSpace(r) || unicode.IsControl(r) ||
			(r == utf8.RuneError && n == 1) {
			for _, c := range []byte(s[i : i+n]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
