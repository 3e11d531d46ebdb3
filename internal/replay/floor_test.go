package replay

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/overlayfs"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/stats"
	"github.com/seedbench/seedbench/internal/units"
)

// BenchmarkFloors holds seedbench's own measurements against the raw kernel floor on the same
// overlay mount, in one run, interleaved:
//
//   - warm stat: the engine's timed loop vs tight Go loops through x/sys/unix — unix.Fstatat (which
//     converts and allocates the path on every call) and unix.Syscall6 on pre-converted paths (what
//     the engine does) — vs the same loop in C (scripts/floors/statloop.c);
//   - 64 MiB copy-up: the engine's timed append vs a C open+write+close (scripts/floors/appendone.c),
//     each on fresh containers over the same lower file.
//
// It reports medians and ratios (1.00 = equal); scripts/floors.sh runs it:
//
//	go test -run '^$' -bench Floors -benchtime 1x ./internal/replay
func BenchmarkFloors(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	ctx := context.Background()
	tools := buildFloorTools(b)
	e, d := floorEngine(b, ctx)
	op := e.plan.Ops[0]
	ct := d.ctrs["app"][0]

	// Warm stat of files in the bottom layer of a 3-layer stack.
	rels := op.Probes["app"][3]
	cps, err := cpaths(rels)
	if err != nil {
		b.Fatal(err)
	}
	list := filepath.Join(b.TempDir(), "paths")
	if err := os.WriteFile(list, []byte(strings.Join(rels, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	const rounds, reps = 21, 8
	var ours, goLoop, rawLoop, cLoop []float64
	var st unix.Stat_t
	for r := 0; r < rounds; r++ {
		statBatch(ct.root.fd, cps, 1, true) // warm-up right before, as the engine does
		per, err := statBatch(ct.root.fd, cps, reps, true)
		if err != nil {
			b.Fatal(err)
		}
		ours = append(ours, float64(per))

		t0 := time.Now()
		for i := 0; i < reps; i++ {
			for _, rel := range rels {
				unix.Fstatat(ct.root.fd, rel, &st, unix.AT_SYMLINK_NOFOLLOW)
			}
		}
		goLoop = append(goLoop, float64(time.Since(t0))/float64(reps*len(rels)))

		// The same with the paths converted beforehand: x/sys/unix's raw Syscall6, no allocation.
		ptrs := make([]*byte, len(rels))
		for i, rel := range rels {
			ptrs[i], _ = unix.BytePtrFromString(rel)
		}
		t0 = time.Now()
		for i := 0; i < reps; i++ {
			for _, p := range ptrs {
				unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(ct.root.fd), uintptr(unsafe.Pointer(p)),
					uintptr(unsafe.Pointer(&st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
			}
		}
		rawLoop = append(rawLoop, float64(time.Since(t0))/float64(reps*len(rels)))

		out, err := exec.Command(tools["statloop"], ct.mnt, list, strconv.Itoa(reps)).Output()
		if err != nil {
			b.Fatal(err)
		}
		v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
		cLoop = append(cLoop, v)
	}
	mo, mg, mr, mc := stats.Median(ours), stats.Median(goLoop), stats.Median(rawLoop), stats.Median(cLoop)
	b.ReportMetric(mo, "seedbench-stat-ns")
	b.ReportMetric(mg, "xsys-fstatat-ns")
	b.ReportMetric(mr, "xsys-raw-stat-ns")
	b.ReportMetric(mc, "c-stat-ns")
	b.ReportMetric(mo/mg, "stat-vs-xsys-fstatat")
	b.ReportMetric(mo/mr, "stat-vs-xsys-raw")
	b.ReportMetric(mo/mc, "stat-vs-c")

	// 64 MiB copy-up: fresh containers, the same lower file, page cache warm.
	img := e.image("app")
	target := op.Targets[64*units.MiB]["append"][0]
	var ourCopy, cCopy []float64
	for r := 0; r < 11; r++ {
		for _, mine := range []bool{r%2 == 0, r%2 != 0} { // both each round, alternating who goes first
			fresh, err := e.startContainer(ctx, d, img, fmt.Sprintf("floor/%d/%v", r, mine), nil)
			if err != nil {
				b.Fatal(err)
			}
			full := filepath.Join(fresh.mnt, target)
			if err := readAll(full); err != nil {
				b.Fatal(err)
			}
			if mine {
				el, err := modifyOnce(fresh.root, modifyTarget{how: "append", rel: target, ptr: mustPtr(target)}, 1)
				if err != nil {
					b.Fatal(err)
				}
				ourCopy = append(ourCopy, float64(el))
			} else {
				out, err := exec.Command(tools["appendone"], full).Output()
				if err != nil {
					b.Fatal(err)
				}
				v, _ := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
				cCopy = append(cCopy, v)
			}
			if err := e.removeContainer(ctx, d, fresh, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(stats.Median(ourCopy)/1e6, "seedbench-copyup64-ms")
	b.ReportMetric(stats.Median(cCopy)/1e6, "c-copyup64-ms")
	b.ReportMetric(stats.Median(ourCopy)/stats.Median(cCopy), "copyup-vs-c")
}

// buildFloorTools compiles the C floor programs.
func buildFloorTools(b *testing.B) map[string]string {
	dir := b.TempDir()
	out := map[string]string{}
	for _, name := range []string{"statloop", "appendone"} {
		bin := filepath.Join(dir, name)
		src := filepath.Join("..", "..", "scripts", "floors", name+".c")
		if msg, err := exec.Command("gcc", "-O2", "-o", bin, src).CombinedOutput(); err != nil {
			b.Skipf("gcc %s: %v\n%s", src, err, msg)
		}
		out[name] = bin
	}
	return out
}

const floorScenario = `
name: floors
seed: 1
layers:
  - name: base
    generate: {files: 500, total: 4MiB}
  - name: mid
    generate: {files: 200, total: 1MiB, root: usr/share/mid}
  - name: top
    generate: {files: 100, total: 1MiB, root: usr/share/top}
images: {app: top}
workload:
  - {op: lookup, image: app}
  - {op: modify, image: app, layer: base, size: 64MiB}
`

// floorEngine builds the floor scenario's stack on overlayfs with the engine itself and starts one
// container; everything is torn down when the benchmark ends.
func floorEngine(b *testing.B, ctx context.Context) (*engine, *driverRun) {
	sc, err := scenario.Parse("floors.yaml", []byte(floorScenario))
	if err != nil {
		b.Fatal(err)
	}
	plan, err := scenario.Resolve(sc, scenario.ResolveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	// The lookup op comes first in the plan; find the modify op too.
	e := &engine{plan: plan, opt: Options{WorkDir: filepath.Join(b.TempDir(), "w"), Progress: nopProgress{}, Now: time.Now},
		rec: newRecorder(), rng: newRand(plan.Seed), res: &result.Result{}}
	b.Cleanup(func() {
		if err := e.undo.Unwind(); err != nil {
			b.Error(err)
		}
	})
	if err := os.MkdirAll(e.opt.WorkDir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := e.buildTrees(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := e.openStore(); err != nil {
		b.Fatal(err)
	}
	e.openDrivers(ctx, []drivers.Driver{overlayfs.New("overlayfs", nil, "")})
	d := e.drvs[0]
	if d.err != nil {
		b.Fatal(d.err)
	}
	for _, ph := range []func(context.Context) error{e.buildLayers, e.startContainers} {
		if err := ph(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if d.err != nil {
		b.Fatal(d.err)
	}
	// Put the modify op's targets where the benchmark expects them.
	for _, op := range plan.Ops {
		if op.Op == "modify" {
			e.plan.Ops[0].Targets = op.Targets
		}
	}
	return e, d
}
