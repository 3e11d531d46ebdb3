package replay

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/drivers/drivertest"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/pull"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
)

// runFakes replays plan on two rootless fake drivers.
func runFakes(t *testing.T, plan *scenario.Plan) *result.Result {
	t.Helper()
	ds := []drivers.Driver{drivertest.Fake("fake-a"), drivertest.Fake("fake-b")}
	res, err := Run(context.Background(), plan, ds, Options{WorkDir: filepath.Join(t.TempDir(), "w")})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

// TestEngineFake runs every op of a small scenario through the whole phase machine on two fake
// drivers, as any user: every metric is in the catalogue with declared parameters, both drivers
// have the same samples per point, every verification passes, and the phases are accounted.
func TestEngineFake(t *testing.T) {
	plan := loadPlan(t, "testdata/engine.yaml", false)
	res := runFakes(t, plan)

	for _, d := range res.Drivers {
		if d.Status != result.StatusOK {
			t.Fatalf("driver %s %s: %s", d.Name, d.Status, d.Reason)
		}
		for _, ph := range []string{"open", "build", "containers", "workload/create", "workload/lookup", "workload/read",
			"workload/modify", "workload/delete", "workload/rename", "verify", "teardown", "close"} {
			if _, ok := d.PhaseSeconds[ph]; !ok {
				t.Errorf("%s: no time charged to phase %s", d.Name, ph)
			}
		}
	}
	if len(res.Checks) == 0 {
		t.Fatal("no checks")
	}
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("check failed: %s: %s: %s", c.Driver, c.What, c.Detail)
		}
	}
	byPoint := map[string][]int{}
	names := map[metric.ID]bool{}
	lastSeq := 0
	for _, m := range res.Metrics {
		def, ok := metric.Lookup(m.Name)
		if !ok {
			t.Errorf("%s not in the catalogue", m.Name)
			continue
		}
		if err := def.Check(m.Params); err != nil {
			t.Error(err)
		}
		if m.Unit != def.Unit || m.Better != def.Better {
			t.Errorf("%s: unit %s better %s, catalogue %s %s", m.Name, m.Unit, m.Better, def.Unit, def.Better)
		}
		if len(m.Samples) != len(m.Order) || m.Summary.N != len(m.Samples) {
			t.Errorf("%s %v: %d samples, %d order stamps, summary n %d", m.Name, m.Params, len(m.Samples), len(m.Order), m.Summary.N)
		}
		for _, o := range m.Order {
			lastSeq = max(lastSeq, o)
		}
		names[m.Name] = true
		if m.Driver == metric.FloorDriver {
			continue
		}
		k := result.PointKey(m.Name, m.Params)
		byPoint[k] = append(byPoint[k], len(m.Samples))
	}
	// The floors, measured in the same rounds on a plain filesystem: as root, one per op's syscall
	// pattern; without root (no loop device for their filesystem), none, and the run says so.
	if os.Geteuid() == 0 {
		for _, want := range []metric.ID{metric.FloorCreate, metric.FloorStat, metric.FloorRead, metric.FloorCopy,
			metric.FloorWrite, metric.FloorUnlink, metric.FloorRmdir, metric.FloorRename, metric.FloorFlush} {
			if !names[want] {
				t.Errorf("no %s recorded", want)
			}
		}
		if len(res.Warnings) > 0 {
			t.Errorf("run warnings: %q", res.Warnings)
		}
		for _, m := range res.Find(metric.FloorDriver, metric.FloorStat, map[string]string{metric.PCache: "warm", metric.PKind: "hit"}) {
			if m.Summary.N < plan.Samples {
				t.Errorf("warm stat floor: n %d", m.Summary.N)
			}
		}
	} else if len(res.Warnings) != 1 || res.Warnings[0].Kind != result.WarnFloorsStopped || !strings.Contains(res.Warnings[0].Text, "floors stopped at open") {
		t.Errorf("run warnings without root: %q", res.Warnings)
	}
	for k, ns := range byPoint {
		if len(ns) != 2 || ns[0] != ns[1] {
			t.Errorf("%q: samples per driver %v, want the same n on both", strings.ReplaceAll(k, "\x00", " "), ns)
		}
	}
	for _, want := range []metric.ID{metric.LayerApply, metric.LayerDiff, metric.LayerDiffBytes, metric.SnapshotPrepare,
		metric.SnapshotMount, metric.SnapshotUnmount, metric.SnapshotCommit, metric.SnapshotRemove, metric.OpCreate,
		metric.OpLookup, metric.OpRead, metric.CopyupLatency, metric.OpDelete, metric.OpRename, metric.DiskUsed,
		metric.DiskInodes, metric.DiskSharedSavings, metric.DiskVsUnique, metric.PagecacheResident,
		metric.PagecacheSharedSavings} {
		if !names[want] {
			t.Errorf("no %s recorded", want)
		}
	}
	// Sample order stamps are unique across the run.
	seen := map[int]bool{}
	for _, m := range res.Metrics {
		for _, o := range m.Order {
			if seen[o] {
				t.Fatalf("order stamp %d used twice", o)
			}
			seen[o] = true
		}
	}
	if len(seen) != lastSeq {
		t.Errorf("%d stamps, highest %d", len(seen), lastSeq)
	}
	// Each op point has samples to max_samples rounds; lookups of a miss and per depth.
	for _, m := range res.Find("fake-a", metric.OpLookup, map[string]string{metric.PCache: "warm"}) {
		if m.Summary.N < plan.Samples || m.Summary.N > 2*plan.Samples {
			t.Errorf("warm lookup %v: n %d, want %d..%d", m.Params, m.Summary.N, plan.Samples, 2*plan.Samples)
		}
	}
	if n := len(res.Find("fake-a", metric.OpLookup, map[string]string{metric.PKind: "miss"})); n != 2 {
		t.Errorf("%d miss series, want 2 (warm, mount)", n)
	}
	if len(res.Layers) != 2 || res.Layers[0].Files == 0 {
		t.Errorf("layers %+v", res.Layers)
	}
	if res.Drift == nil && len(res.Noise) >= 5 {
		t.Error("no drift from the calibration readings")
	}
}

// TestEngineAdaptive: with a CI target no sample set can meet, sampling goes on to max_samples,
// the same n for both drivers; with one every set meets at once, it stops at samples.
func TestEngineAdaptive(t *testing.T) {
	plan := loadPlan(t, "testdata/engine.yaml", false)
	var ops []scenario.PlanOp
	for _, op := range plan.Ops {
		if op.Op == scenario.OpLookup {
			op.Caches = []string{"warm"}
			op.Kinds = []string{"hit"}
			op.Depths = []int{1}
			ops = append(ops, op)
		}
	}
	plan.Ops = ops
	for _, tc := range []struct {
		target float64
		want   int
	}{{0, 9}, {1e9, 6}} {
		for i := range plan.Ops {
			plan.Ops[i].Samples, plan.Ops[i].MaxSamples = 6, 9
		}
		plan.CITarget = tc.target
		res := runFakes(t, plan)
		ms := res.Find("", metric.OpLookup, nil)
		if len(ms) != 2 {
			t.Fatalf("%d lookup series", len(ms))
		}
		for _, m := range ms {
			if m.Summary.N != tc.want {
				t.Errorf("target %g: %s n = %d, want %d", tc.target, m.Driver, m.Summary.N, tc.want)
			}
		}
	}
}

// TestRecorderRefuses: a metric outside the catalogue, an undeclared parameter or a wrong unit is
// an error of the engine, never a series in the result.
func TestRecorderRefuses(t *testing.T) {
	for _, tc := range []struct {
		record func(r *recorder)
		want   string
	}{
		{func(r *recorder) { r.add("d", "op.nonesuch", nil, 1) }, "not in the metric catalogue"},
		{func(r *recorder) { r.ns("d", metric.OpCreate, p(metric.PDepth, "1"), 1) }, `"depth" is not declared`},
		{func(r *recorder) { r.ns("d", metric.DiskUsed, nil, 1) }, "is in bytes, not ns"},
		{func(r *recorder) { r.add("d", metric.FitCopyup, nil, 1) }, "derived"},
	} {
		r := newRecorder()
		tc.record(r)
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) || len(r.list()) != 0 {
			t.Errorf("err %v, %d series; want %q and none", r.err, len(r.list()), tc.want)
		}
	}
	r := newRecorder()
	r.ns("d", metric.OpCreate, p(metric.PSize, "4KiB"), 5)
	r.ns("d", metric.OpCreate, p(metric.PSize, "4KiB"), 7)
	r.warn("d", metric.OpCreate, p(metric.PSize, "4KiB"), result.Warning{Text: "w"})
	r.warn("d", metric.OpCreate, p(metric.PSize, "4KiB"), result.Warning{Text: "w"})
	ms := r.list()
	if r.err != nil || len(ms) != 1 || !slices.Equal(ms[0].Samples, []float64{5, 7}) || !slices.Equal(ms[0].Order, []int{1, 2}) ||
		len(ms[0].Warnings) != 1 || ms[0].Unit != metric.NS {
		t.Errorf("recorded %+v, err %v", ms, r.err)
	}
}

// TestMarkNoisy: a metric with samples taken while a probe saw the CPUs under pressure gets one
// warning per probed stretch, naming it; samples outside it get none, whatever the load average.
func TestMarkNoisy(t *testing.T) {
	e := &engine{rec: newRecorder(), res: &result.Result{}}
	e.rec.ns("d", metric.OpCreate, p(metric.PSize, "4KiB"), 1) // seq 1
	e.res.Noise = append(e.res.Noise, result.NoiseSample{Seq: e.rec.seq, What: "lookup", Load1: 0, CPUSomeAvg10: 60})
	e.rec.ns("d", metric.OpLookup, p(metric.PDepth, "1"), 1) // seq 2
	e.rec.ns("d", metric.OpLookup, p(metric.PDepth, "1"), 1) // seq 3
	e.res.Noise = append(e.res.Noise, result.NoiseSample{Seq: e.rec.seq, What: "modify", Load1: 1000, CPUSomeAvg10: 3})
	e.rec.ns("d", metric.CopyupLatency, p(metric.PSize, "4KiB"), 1) // seq 4
	e.markNoisy()
	for _, m := range e.rec.list() {
		noisy := slices.ContainsFunc(m.Warnings, func(w result.Warning) bool {
			return w.Kind == result.WarnBusy && strings.HasPrefix(w.Text, "busy machine: CPU pressure 60%")
		})
		if noisy != (m.Name == metric.OpLookup) || len(m.Warnings) > 1 {
			t.Errorf("%s: warnings %q", m.Name, m.Warnings)
		}
	}
}

// receiving is a test double of a driver that receives layers (drivers.LayerReceiver) instead of
// having the engine write them: a fake whose instance fetches each published gzip blob from the
// registry and applies it with containerd's archive applier into a snapshot of its own.
type receiving struct{ drivers.Driver }

func (r receiving) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	inst, err := r.Driver.Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &receiver{Instance: inst, dir: opts.WorkDir}, nil
}

type receiver struct {
	drivers.Instance
	dir      string
	received []string
}

func (r *receiver) Format() drivers.Format { return pull.Gzip }

func (r *receiver) ReceiveLayer(ctx context.Context, chain drivers.Published) error {
	n := len(chain.Layers)
	name, parent := chain.Layers[n-1], ""
	if n > 1 {
		parent = chain.Layers[n-2]
	}
	key := "receive/" + name
	ms, err := r.Snapshotter().Prepare(ctx, key, parent)
	if err != nil {
		return err
	}
	dir := filepath.Join(r.dir, "receive")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := r.Mount(ctx, ms, dir); err != nil {
		return err
	}
	host, repo, _ := strings.Cut(chain.Ref, "/")
	resp, err := http.Get("http://" + host + "/v2/" + repo + "/blobs/" + chain.Blobs[n-1].Digest.String())
	if err == nil {
		var zr io.ReadCloser
		if zr, err = compression.DecompressStream(resp.Body); err == nil {
			_, err = archive.Apply(ctx, dir, zr, archive.WithNoSameOwner())
			zr.Close()
		}
		resp.Body.Close()
	}
	if uerr := r.Unmount(ctx, dir); err == nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	r.received = append(r.received, name)
	return r.Snapshotter().Commit(ctx, name, key)
}

// TestEngineReceiver: a driver that receives layers gets each one, in build order, as a driver that
// writes layers exported it; its views are verified, and its containers run the workload.
func TestEngineReceiver(t *testing.T) {
	plan := loadPlan(t, "testdata/engine.yaml", false)
	ds := []drivers.Driver{drivertest.Fake("writer"), receiving{drivertest.Fake("receiver")}}
	res, err := Run(context.Background(), plan, ds, Options{WorkDir: filepath.Join(t.TempDir(), "w")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Drivers {
		if d.Status != result.StatusOK {
			t.Fatalf("%s %s: %s", d.Name, d.Status, d.Reason)
		}
	}
	var received int
	for _, c := range res.Checks {
		if !c.OK {
			t.Errorf("%s: %s: %s", c.Driver, c.What, c.Detail)
		}
		if c.Driver == "receiver" && strings.HasSuffix(c.What, "received view") {
			received++
		}
	}
	if received != len(plan.Layers) {
		t.Errorf("%d received views verified, want %d", received, len(plan.Layers))
	}
	if len(res.Find("receiver", metric.LayerApply, nil)) != 0 || len(res.Find("receiver", metric.OpCreate, nil)) == 0 {
		t.Error("the receiver's layers were written by the engine, or its containers ran nothing")
	}

	// Alone, a receiver has no layers to receive: it fails with the reason, the run goes on.
	res, err = Run(context.Background(), plan, ds[1:], Options{WorkDir: filepath.Join(t.TempDir(), "w")})
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Drivers[0]; d.Status != result.StatusFailed || !strings.Contains(d.Reason, "needs one in the run") {
		t.Errorf("lone receiver: %s %s", d.Status, d.Reason)
	}
}

// Pairs sharing a driver form one group; every round keeps a group's drivers adjacent, in random
// order, with the floor never between them.
func TestPairsAdjacent(t *testing.T) {
	g := groups([]scenario.Pair{{Base: "a", New: "b"}, {Base: "c", New: "d"}, {Base: "a", New: "e"}, {Base: "d", New: "b"}})
	if len(g) != 5 || g["a"] != g["b"] || g["a"] != g["c"] || g["c"] != g["d"] || g["e"] != g["a"] {
		t.Errorf("groups: %v, want a, b, c, d, e in one", g)
	}
	g = groups([]scenario.Pair{{Base: "a", New: "b"}, {Base: "c", New: "d"}})
	e := &engine{rng: newRand(1), group: g}
	var ds []*driverRun
	for _, n := range []string{"a", "b", "c", "d", "x", "y"} {
		ds = append(ds, &driverRun{info: drivers.Info{Name: n}})
	}
	firstA := 0
	for round := 0; round < 200; round++ {
		out := slices.Clone(ds)
		e.rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		out = adjacent(out, e.group)
		pos := map[string]int{}
		for i, d := range out {
			pos[d.info.Name] = i
		}
		if len(out) != len(ds) || abs(pos["a"]-pos["b"]) != 1 || abs(pos["c"]-pos["d"]) != 1 {
			t.Fatalf("round %d: order %v: a pair's drivers must be adjacent", round, pos)
		}
		if pos["a"] < pos["b"] {
			firstA++
		}
		for at := 0; at <= len(out); at++ {
			if e.splits(out, at) != (at == max(pos["a"], pos["b"]) || at == max(pos["c"], pos["d"])) {
				t.Fatalf("round %d: splits(%d) wrong for order %v", round, at, pos)
			}
		}
	}
	// Which side goes first is random: 200 rounds put a first 100 ± 7 times (1σ).
	if firstA < 70 || firstA > 130 {
		t.Errorf("a went first in %d of 200 rounds: the order within a pair must be random", firstA)
	}
}

func abs(x int) int { return max(x, -x) }

// closedInstance is an instance no call reaches: converged only asks whether a driver is running.
type closedInstance struct{ drivers.Instance }

// Adaptive sampling stops for a pair when the pair's ratio is narrow, however wide each side's own
// median: the machine's drift, shared by the two sides of each round, cancels in the ratio.
func TestConvergedPaired(t *testing.T) {
	rec := newRecorder()
	pt := map[string]string{metric.PKind: metric.LookupHit, metric.PCache: metric.CacheWarm, metric.PDepth: "1"}
	for i := range 40 {
		drift := 1 + float64(i%10)/5 // ×1 to ×2.8 from round to round: each side's median is wide
		rec.ns("a", metric.OpLookup, pt, time.Duration(1000*drift))
		rec.ns("b", metric.OpLookup, pt, time.Duration(1000*drift*(1+float64(i%3)/100)))
	}
	e := &engine{rec: rec, plan: &scenario.Plan{CITarget: 0.05}}
	for _, n := range []string{"a", "b"} {
		e.drvs = append(e.drvs, &driverRun{info: drivers.Info{Name: n}, inst: closedInstance{}})
	}
	if e.converged(metric.OpLookup, []map[string]string{pt}) {
		t.Error("unpaired: converged, but each side's median spans the drift")
	}
	e.plan.Pairs = []scenario.Pair{{Base: "a", New: "b"}}
	if !e.converged(metric.OpLookup, []map[string]string{pt}) {
		t.Error("paired: not converged, but the ratio is within 2% in every round")
	}
}

// backedInstance is an instance with a backing directory and nothing else: quiesce syncs it.
type backedInstance struct {
	drivers.Instance
	path string
}

func (b backedInstance) Backing() drivers.Backing { return drivers.Backing{Path: b.path} }

// sampleSteps takes a pair's samples of a step back to back, in random order within the pair,
// while a driver alone takes its steps in one go; every driver takes every step of a round, in
// the round's one order; and a step's time is charged to the driver that took it.
func TestSampleSteps(t *testing.T) {
	dir := t.TempDir()
	e := &engine{rng: newRand(3), rec: newRecorder(), res: &result.Result{}, opt: Options{Progress: nopProgress{}},
		plan: &scenario.Plan{Pairs: []scenario.Pair{{Base: "a", New: "b"}}}}
	e.group = groups(e.plan.Pairs)
	for _, n := range []string{"a", "b", "x"} {
		e.drvs = append(e.drvs, &driverRun{info: drivers.Info{Name: n}, inst: backedInstance{path: dir}, phases: map[string]time.Duration{}})
	}
	e.phase = "workload"
	const rounds, steps = 30, 4
	points := make([]map[string]string, steps)
	for i := range points {
		points[i] = map[string]string{metric.PDepth: strconv.Itoa(i + 1)}
	}
	type call struct {
		d       string
		r, step int
	}
	var calls []call
	op := &scenario.PlanOp{Samples: rounds, MaxSamples: rounds}
	err := e.sampleSteps(context.Background(), "test", op, metric.OpLookup, points, func(d *driverRun, r, s int) error {
		calls = append(calls, call{d.info.Name, r, s})
		if d.info.Name == "b" {
			time.Sleep(2 * time.Millisecond) // b's time must be charged to b, not to a
		}
		return nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != rounds*steps*3 {
		t.Fatalf("%d calls, want %d", len(calls), rounds*steps*3)
	}
	aFirst := 0
	for r := 0; r < rounds; r++ {
		var order = map[string][]int{}
		var seq []call
		for _, c := range calls {
			if c.r == r {
				order[c.d] = append(order[c.d], c.step)
				seq = append(seq, c)
			}
		}
		if !slices.Equal(order["a"], order["b"]) || !slices.Equal(order["a"], order["x"]) {
			t.Fatalf("round %d: steps a %v, b %v, x %v: every driver takes the round's one order", r, order["a"], order["b"], order["x"])
		}
		for i, c := range seq {
			if c.d == "a" || c.d == "b" {
				other := "b"
				if c.d == "b" {
					other = "a"
				}
				// a pair's two samples of a step are neighbours in the sequence
				near := (i > 0 && seq[i-1].d == other && seq[i-1].step == c.step) || (i+1 < len(seq) && seq[i+1].d == other && seq[i+1].step == c.step)
				if !near {
					t.Fatalf("round %d: %v: %s's step %d is not next to %s's", r, seq, c.d, c.step, other)
				}
				if c.d == "a" && (i+1 < len(seq) && seq[i+1].d == "b" && seq[i+1].step == c.step) {
					aFirst++
				}
			}
		}
	}
	// 120 steps: a goes first 60 ± 5.5 times (1σ).
	if aFirst < 40 || aFirst > 80 {
		t.Errorf("a went first in %d of %d steps: the order within a pair must be random per step", aFirst, rounds*steps)
	}
	a, b := e.drvs[0].phases["workload"], e.drvs[1].phases["workload"]
	if want := time.Duration(rounds*steps) * 2 * time.Millisecond; b < want || a > want/2 {
		t.Errorf("charged a %v, b %v: b's sleeps (%v) belong to b", a, b, want)
	}
}
