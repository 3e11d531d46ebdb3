// Command grain measures at which grain a paired comparison of two snapshots should alternate its
// two sides, on this machine's kernel: warm stat(2) lookups through two real overlay mounts of
// identical three-layer stacks (two instances, as two drivers of one run have), paired op by op,
// batch by batch, or round by round as the engine pairs drivers today, and whether the pair's
// instances themselves differ (an instance effect, which no number of samples removes) or only
// their samples do.
//
//	go run ./scripts/grain [-trials 40] [-samples 40] [-reuse] [-dir /var/tmp]
//
// Each trial is an A/A comparison: both sides are the same kernel path, so every ratio's truth is
// 1. A trial makes two fresh instances (with -reuse, one pair of instances serves every trial),
// takes -samples paired samples at each grain, in a random order of the grains, and judges each
// grain's log ratios with the signed-rank test and its Hodges–Lehmann interval (95%), as
// `seedbench compare --base --new` does. Over the trials it prints, per grain, the per-pair spread
// of the log ratio, the interval's median half-width, how far the trials' estimates spread, and
// the intervals' coverage of 1 — plain, and with the sides' instances swapped half way (the second
// half's ratios inverted: each instance is once the base and once the new, so an instance effect
// cancels by design).
//
// Needs root (overlay mounts); leaves nothing mounted or on disk.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/stats"
)

const (
	layers   = 3
	perLayer = 200 // filler files per layer directory
	probes   = 16  // files per lookup point
	points   = 4   // lookup points per round (depths 1..3 and a shadowed name), as a round of the engine has
	reps     = 8   // stats of each path per timed batch (the engine's warmReps)
)

// instance is one overlay mount of a three-layer stack, and the probe paths of each point.
type instance struct {
	root   string
	merged string
	fd     int
	points [points][]*byte
}

func newInstance(dir string) (*instance, error) {
	in := &instance{root: dir, merged: filepath.Join(dir, "merged"), fd: -1}
	var lower []string
	for l := 1; l <= layers; l++ {
		ld := filepath.Join(dir, fmt.Sprintf("l%d", l))
		lower = append([]string{ld}, lower...) // top first
		for _, sub := range []string{"usr/lib", fmt.Sprintf("p%d", l), "shadow"} {
			if err := os.MkdirAll(filepath.Join(ld, sub), 0o755); err != nil {
				return nil, err
			}
		}
		for i := 0; i < perLayer; i++ {
			if err := os.WriteFile(filepath.Join(ld, "usr/lib", fmt.Sprintf("lib%d-%03d.so", l, i)), nil, 0o644); err != nil {
				return nil, err
			}
		}
		for i := 0; i < probes; i++ {
			if err := os.WriteFile(filepath.Join(ld, fmt.Sprintf("p%d", l), fmt.Sprintf("f%02d", i)), nil, 0o644); err != nil {
				return nil, err
			}
			// the same names in every layer: the top layer's copy shadows the others
			if err := os.WriteFile(filepath.Join(ld, "shadow", fmt.Sprintf("s%02d", i)), nil, 0o644); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range []string{"upper", "work", "merged"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(lower, ":"), filepath.Join(dir, "upper"), filepath.Join(dir, "work"))
	if err := unix.Mount("overlay", in.merged, "overlay", 0, opts); err != nil {
		return nil, fmt.Errorf("mount overlay on %s: %w", in.merged, err)
	}
	fd, err := unix.Open(in.merged, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		in.close()
		return nil, err
	}
	in.fd = fd
	for pt := 0; pt < points; pt++ {
		for i := 0; i < probes; i++ {
			name := fmt.Sprintf("shadow/s%02d", i)
			if pt < layers {
				name = fmt.Sprintf("p%d/f%02d", layers-pt, i) // depth pt+1 from the top
			}
			b, _ := unix.BytePtrFromString(name)
			in.points[pt] = append(in.points[pt], b)
		}
	}
	return in, nil
}

func (in *instance) close() error {
	var errs []error
	if in.fd >= 0 {
		errs = append(errs, unix.Close(in.fd))
	}
	errs = append(errs, unix.Unmount(in.merged, 0))
	errs = append(errs, os.RemoveAll(in.root))
	return errors.Join(errs...)
}

func stat(fd int, p *byte) error {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(fd, unix.BytePtrToString(p), &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != unix.EINTR {
			return err
		}
	}
}

// batch times reps stats of every path of a point, per stat.
func batch(in *instance, pt int, n int) float64 {
	t0 := time.Now()
	for r := 0; r < n; r++ {
		for _, p := range in.points[pt] {
			_ = stat(in.fd, p)
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n*len(in.points[pt]))
}

// grain takes n paired samples (base, new) of one lookup point's per-stat time.
type grain struct {
	name, what string
	take       func(rng *rand.Rand, a, b *instance, n int) (base, new []float64)
}

var grains = []grain{
	{"op", "each stat of base right before (or after) the same stat of new", func(rng *rand.Rand, a, b *instance, n int) ([]float64, []float64) {
		var xs, ys []float64
		for s := 0; s < n; s++ {
			pt := s % points
			batch(a, pt, 1) // warm-up, as every grain has
			batch(b, pt, 1)
			var ta, tb time.Duration
			first, second, tf, ts := a, b, &ta, &tb
			if rng.IntN(2) == 1 {
				first, second, tf, ts = b, a, &tb, &ta
			}
			for r := 0; r < reps; r++ {
				for i := range first.points[pt] {
					t0 := time.Now()
					_ = stat(first.fd, first.points[pt][i])
					t1 := time.Now()
					_ = stat(second.fd, second.points[pt][i])
					t2 := time.Now()
					*tf += t1.Sub(t0)
					*ts += t2.Sub(t1)
				}
			}
			k := float64(reps * probes)
			xs, ys = append(xs, float64(ta.Nanoseconds())/k), append(ys, float64(tb.Nanoseconds())/k)
		}
		return xs, ys
	}},
	{"batch", "a timed batch of base, then of new (order random), on one point", func(rng *rand.Rand, a, b *instance, n int) ([]float64, []float64) {
		var xs, ys []float64
		for s := 0; s < n; s++ {
			pt := s % points
			var x, y float64
			if rng.IntN(2) == 0 {
				batch(a, pt, 1)
				x = batch(a, pt, reps)
				batch(b, pt, 1)
				y = batch(b, pt, reps)
			} else {
				batch(b, pt, 1)
				y = batch(b, pt, reps)
				batch(a, pt, 1)
				x = batch(a, pt, reps)
			}
			xs, ys = append(xs, x), append(ys, y)
		}
		return xs, ys
	}},
	{"round", "all points of base, then all of new (order random), as the engine's adjacent drivers", func(rng *rand.Rand, a, b *instance, n int) ([]float64, []float64) {
		var xs, ys []float64
		for s := 0; s < n; s += points {
			var got [2][points]float64
			sides := []*instance{a, b}
			order := rng.Perm(2)
			for _, side := range order {
				for _, pt := range rng.Perm(points) {
					batch(sides[side], pt, 1)
					got[side][pt] = batch(sides[side], pt, reps)
				}
			}
			for pt := 0; pt < points && s+pt < n; pt++ {
				xs, ys = append(xs, got[0][pt]), append(ys, got[1][pt])
			}
		}
		return xs, ys
	}},
}

type outcome struct {
	sd        float64 // of the pairs' log ratios
	estimate  float64 // Hodges–Lehmann, log
	half      float64 // the interval's half-width, log
	covers    bool
	swapEst   float64
	swapCover bool
}

func judge(xs, ys []float64) outcome {
	d := make([]float64, len(xs))
	for i := range xs {
		d[i] = math.Log(ys[i] / xs[i])
	}
	p := stats.SignedRank(d, 0.95)
	o := outcome{sd: sd(d), estimate: p.Estimate, half: (p.Hi - p.Lo) / 2, covers: p.Lo <= 0 && 0 <= p.Hi}
	// Swapped: in the second half the instances trade roles, so its ratios are new'/base' = 1/(y/x).
	sw := append([]float64(nil), d...)
	for i := len(sw) / 2; i < len(sw); i++ {
		sw[i] = -sw[i]
	}
	q := stats.SignedRank(sw, 0.95)
	o.swapEst, o.swapCover = q.Estimate, q.Lo <= 0 && 0 <= q.Hi
	return o
}

func sd(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return math.Sqrt(v / float64(len(xs)-1))
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return stats.Median(s)
}

func main() {
	trials := flag.Int("trials", 40, "A/A trials")
	samples := flag.Int("samples", 40, "paired samples per grain per trial")
	reuse := flag.Bool("reuse", false, "one pair of instances for every trial (else two fresh instances per trial)")
	dir := flag.String("dir", "/var/tmp", "where the instances' layers live")
	flag.Parse()
	if err := run(*trials, *samples, *reuse, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "grain:", err)
		os.Exit(1)
	}
}

func run(trials, samples int, reuse bool, dir string) (err error) {
	if samples < 8 || trials < 2 {
		return fmt.Errorf("need -samples ≥ 8 and -trials ≥ 2")
	}
	work, err := os.MkdirTemp(dir, "seedbench-grain-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(work)) }()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var pair [2]*instance
	open := func(t int) error {
		for i := range pair {
			in, err := newInstance(filepath.Join(work, fmt.Sprintf("t%d-i%d", t, i)))
			if err != nil {
				return err
			}
			pair[i] = in
		}
		return nil
	}
	shut := func() error {
		var errs []error
		for i, in := range pair {
			if in != nil {
				errs = append(errs, in.close())
				pair[i] = nil
			}
		}
		return errors.Join(errs...)
	}
	defer func() { err = errors.Join(err, shut()) }()

	got := make([][]outcome, len(grains))
	started := time.Now()
	for t := 0; t < trials; t++ {
		if !reuse || t == 0 {
			if err := shut(); err != nil {
				return err
			}
			if err := open(t); err != nil {
				return err
			}
		}
		for _, g := range rng.Perm(len(grains)) {
			xs, ys := grains[g].take(rng, pair[0], pair[1], samples)
			got[g] = append(got[g], judge(xs, ys))
		}
	}
	mode := "two fresh instances per trial"
	if reuse {
		mode = "one pair of instances for all trials"
	}
	fmt.Printf("grain: %d A/A trials × %d paired warm-lookup samples per grain (%s), %s in all\n", trials, samples, mode, time.Since(started).Round(time.Second))
	fmt.Println("log ratios shown as percent moves (×e^x − 1); the interval is the signed-rank test's Hodges–Lehmann interval at 95%")
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "grain\tpair sd\tmedian half-width\testimates' sd\tsd ÷ (half-width/1.96)\tcovers 1\tswapped: estimates' sd\tswapped: covers 1\t")
	for g, os := range got {
		var sds, halves, ests, sw []float64
		cov, swc := 0, 0
		for _, o := range os {
			sds, halves, ests, sw = append(sds, o.sd), append(halves, o.half), append(ests, o.estimate), append(sw, o.swapEst)
			if o.covers {
				cov++
			}
			if o.swapCover {
				swc++
			}
		}
		h := median(halves)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%d of %d\t%s\t%d of %d\t\n", grains[g].name, pct(median(sds)), pct(h), pct(sd(ests)),
			sd(ests)/(h/1.96), cov, len(os), pct(sd(sw)), swc, len(os))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range grains {
		fmt.Printf("  %s: %s\n", g.name, g.what)
	}
	return nil
}

func pct(x float64) string { return fmt.Sprintf("%.1f%%", 100*(math.Exp(x)-1)) }
