package sizing

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/seedbench/seedbench/drivers"
	"github.com/seedbench/seedbench/internal/layer"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/units"
)

func loadPlan(t *testing.T, file string, quick bool) *scenario.Plan {
	t.Helper()
	sc, err := scenario.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := scenario.Resolve(sc, scenario.ResolveOptions{Quick: quick})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// synthetic lists the shipped scenarios whose layers are all the scenario's own (the ones from an
// image need it built: scripts/realstack), and the end-to-end tests' small one.
func synthetic(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../scenarios/*.yaml")
	var out []string
	for _, f := range files {
		sc, err := scenario.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(sc.Layers, func(l scenario.Layer) bool { return l.FromImage() }) {
			out = append(out, f)
		}
	}
	return append(out, "../../cmd/seedbench/testdata/small.yaml")
}

// TestPlanLayerSizes: the estimate from the plan alone is close to the layers as built, so the
// pre-flight check and the engine size backings alike.
func TestPlanLayerSizes(t *testing.T) {
	files := synthetic(t)
	for _, f := range files {
		for _, quick := range []bool{false, true} {
			plan := loadPlan(t, f, quick)
			est := Plan(plan)
			var built []LayerSize
			for _, pl := range plan.Layers {
				tr, err := layer.Build(pl, plan.Seed)
				if err != nil {
					t.Fatal(err)
				}
				st := tr.Stats()
				got := LayerSize{st.DiskBytes, int64(st.Files + st.Dirs + st.Symlinks + st.Hardlinks + st.Whiteouts + st.Opaques)}
				built = append(built, got)
				e := est[pl.Name]
				if d := math.Abs(float64(e.DiskBytes - got.DiskBytes)); d > 0.1*float64(got.DiskBytes)+256<<10 {
					t.Errorf("%s quick=%v layer %s: estimated %d bytes, built %d", f, quick, pl.Name, e.DiskBytes, got.DiskBytes)
				}
				if d := math.Abs(float64(e.Entries - got.Entries)); d > 0.1*float64(got.Entries)+64 {
					t.Errorf("%s quick=%v layer %s: estimated %d entries, built %d", f, quick, pl.Name, e.Entries, got.Entries)
				}
			}
			realised := map[string]LayerSize{}
			for i, pl := range plan.Layers {
				realised[pl.Name] = built[i]
			}
			a, b := BackingSize(plan, est), BackingSize(plan, realised)
			if a%gib != 0 || b%gib != 0 || math.Abs(float64(a-b)) > 0.1*float64(b)+gib {
				t.Errorf("%s quick=%v: backing size from the plan %d, from the built layers %d", f, quick, a, b)
			}
		}
	}
}

type fakeDriver struct{ info drivers.Info }

func (f fakeDriver) Info() drivers.Info              { return f.info }
func (f fakeDriver) Check(ctx context.Context) error { return nil }
func (f fakeDriver) Open(ctx context.Context, opts drivers.Options) (drivers.Instance, error) {
	return nil, drivers.ErrUnsupported
}

// TestEstimate: a full-copy driver needs more than a sharing one; a fixed backing size caps the
// use; tmpfs takes memory, not disk; a hostile scenario saturates instead of wrapping.
func TestEstimate(t *testing.T) {
	plan := loadPlan(t, "../../scenarios/debian-emacs-apache.yaml", false)
	ovl := fakeDriver{drivers.Info{Name: "ovl", Backing: "ext4", Capabilities: drivers.Capabilities{Overlay: true}}}
	nat := fakeDriver{drivers.Info{Name: "nat", Backing: "ext4", Capabilities: drivers.Capabilities{FullCopy: true}}}
	tiny := fakeDriver{drivers.Info{Name: "tiny", Backing: "ext4", BackingSize: 32 << 20}}
	mem := fakeDriver{drivers.Info{Name: "mem", Backing: "tmpfs"}}
	ns := Estimate(plan, []drivers.Driver{ovl, nat, tiny, mem})
	o, n, ti, m := ns.Drivers[0], ns.Drivers[1], ns.Drivers[2], ns.Drivers[3]
	t.Logf("flagship: %+v", ns)
	if !(o.Use > 250<<20 && n.Use > 2*o.Use && n.Use <= n.Size) {
		t.Errorf("overlay uses %d, native %d of %d: want the stack's ~250MiB and several full copies", o.Use, n.Use, n.Size)
	}
	if ti.Size != 32<<20 || ti.Use != ti.Size {
		t.Errorf("tiny: size %d use %d, want both 32MiB", ti.Size, ti.Use)
	}
	if m.Disk() != 0 || m.Memory() == 0 || m.Loop || !o.Loop {
		t.Errorf("tmpfs: disk %d memory %d loop %v", m.Disk(), m.Memory(), m.Loop)
	}
	if want := o.Use + n.Use + ti.Use + ns.Store; ns.Disk() != want {
		t.Errorf("disk %d, want %d", ns.Disk(), want)
	}
	if ns.Memory < baseMemory || ns.Memory > 1<<30 {
		t.Errorf("engine memory %d for the flagship", ns.Memory)
	}

	// At the validation limits: 1000 containers of a huge image, a create op of 1M × 1TiB.
	plan.Images[0].Containers = 1000
	for i := range plan.Layers {
		if g := plan.Layers[i].Generate; g != nil {
			g.Total, g.Files = units.TiB, 10_000_000
		}
	}
	plan.Ops = append(plan.Ops, scenario.PlanOp{Op: "create", Images: []string{plan.Images[0].Name}, Count: 1_000_000, Sizes: []units.Size{units.TiB}})
	ns = Estimate(plan, []drivers.Driver{ovl, nat})
	if ns.Drivers[0].Use < int64(units.TiB) || ns.Drivers[1].Use < ns.Drivers[0].Use || ns.Disk() < 0 || ns.Memory < int64(units.TiB) {
		t.Errorf("hostile plan: %+v", ns)
	}
}

// TestBackingSizeFits: the backing the engine makes holds what every shipped scenario is expected to
// write in it, on a sharing and on a full-copy driver.
func TestBackingSizeFits(t *testing.T) {
	files := synthetic(t)
	ds := []drivers.Driver{
		fakeDriver{drivers.Info{Name: "ovl", Backing: "ext4"}},
		fakeDriver{drivers.Info{Name: "nat", Backing: "ext4", Capabilities: drivers.Capabilities{FullCopy: true}}},
		fakeDriver{drivers.Info{Name: "xfs", Backing: "xfs", Capabilities: drivers.Capabilities{FullCopy: true}}},
	}
	for _, f := range files {
		for _, quick := range []bool{false, true} {
			for _, n := range Estimate(loadPlan(t, f, quick), ds).Drivers {
				t.Logf("%s quick=%v %s: size %dMiB, expected use %dMiB", filepath.Base(f), quick, n.Driver, n.Size>>20, n.Want>>20)
				if n.Overflows {
					t.Errorf("%s quick=%v %s: backing of %d bytes, expected to write %d", f, quick, n.Driver, n.Size, n.Want)
				}
			}
		}
	}
}
