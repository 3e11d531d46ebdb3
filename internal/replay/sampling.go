package replay

import (
	"context"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/seedbench/seedbench/internal/measure"
	"github.com/seedbench/seedbench/internal/metric"
	"github.com/seedbench/seedbench/internal/result"
	"github.com/seedbench/seedbench/internal/scenario"
	"github.com/seedbench/seedbench/internal/stats"
)

// sampleRounds runs rounds of fn over the active drivers (and floorFn, nil = none, at a random place
// among them), each round in a fresh random driver order:
// at least op.Samples rounds, then more while some driver's median of metric name at one of points
// has a 95% confidence interval wider than the plan's target, up to op.MaxSamples. Every round
// visits every driver, so all drivers end with the same n.
func (e *engine) sampleRounds(ctx context.Context, phase string, op *scenario.PlanOp, name metric.ID, points []map[string]string, fn func(d *driverRun, round int) error, floorFn func(round int) error) error {
	return e.roundsUntil(phase, op, name, points, func(r int) error {
		return e.eachFloor(ctx, floorAt(floorFn, r), func(d *driverRun) error { return fn(d, r) })
	})
}

// roundsUntil runs round r = 0, 1, … for sampleRounds and sampleSteps: at least op.Samples, then
// while the samples of metric name at points have not converged, up to op.MaxSamples.
func (e *engine) roundsUntil(phase string, op *scenario.PlanOp, name metric.ID, points []map[string]string, round func(r int) error) error {
	for r := 0; r < op.MaxSamples; r++ {
		if r >= op.Samples && e.converged(name, points) {
			break
		}
		e.progress("", "workload", phase, r, op.Samples)
		e.quiesce()
		e.probeNoise(phase, r+1)
		if err := round(r); err != nil {
			return err
		}
	}
	return nil
}

// sampleSteps is sampleRounds for an op whose round is a list of steps, one per point (a warm
// lookup's points), taken in a fresh random order each round, the same order for every driver. A
// driver alone takes its steps one after another; the drivers of a group of pairs (plan.Pairs) take
// each step in turn, in a fresh random order per step, so a pair's two samples of a point are taken
// back to back — microseconds apart, not the rest of a driver's round apart. Measured on warm
// lookups (go run ./scripts/grain): pairing a step at a time keeps an A/A interval's coverage near
// its 95%, where pairing whole driver rounds spreads the run's estimate 1.8× wider than its
// interval says.
func (e *engine) sampleSteps(ctx context.Context, phase string, op *scenario.PlanOp, name metric.ID, points []map[string]string, fn func(d *driverRun, round, step int) error, floorFn func(round int) error) error {
	return e.roundsUntil(phase, op, name, points, func(r int) error {
		steps := e.rng.Perm(len(points))
		ds := e.active()
		taken := map[int]bool{} // groups whose steps are done this round
		return e.eachOfFloor(ctx, ds, floorAt(floorFn, r), func(d *driverRun) error {
			g, paired := e.group[d.info.Name]
			if !paired {
				for _, s := range steps {
					if err := fn(d, r, s); err != nil {
						return err
					}
				}
				return nil
			}
			if taken[g] {
				return nil // taken with its group, and charged there
			}
			taken[g] = true
			var members []*driverRun
			for _, o := range ds {
				if og, ok := e.group[o.info.Name]; ok && og == g {
					members = append(members, o)
				}
			}
			var others time.Duration // the other members' time, charged to them, not to d
			for _, s := range steps {
				e.rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
				for _, m := range members {
					if !m.ok() {
						continue
					}
					if err := ctx.Err(); err != nil {
						return err
					}
					t1 := time.Now()
					err := fn(m, r, s)
					if m != d {
						m.charge(e.phase, t1)
						others += time.Since(t1)
						if err != nil {
							m.fail(err)
						}
					} else if err != nil {
						d.fail(err)
					}
				}
			}
			d.elapsed -= others // eachOf charges d for the whole group's turn
			d.phases[e.phase] -= others
			return nil
		})
	})
}

// converged reports whether, for every active driver, the median of metric name at each point has
// a 95% CI whose half-width is within the target fraction of it — and for the drivers of a pair
// (plan.Pairs), whether the pair's ratio over the points, from its pairs of samples, has a 95%
// interval within the target instead: a paired comparison needs its ratio narrow, not each side.
func (e *engine) converged(name metric.ID, points []map[string]string) bool {
	paired := map[string]bool{}
	for _, pr := range e.plan.Pairs {
		b, n := e.byName(pr.Base), e.byName(pr.New)
		if b == nil || n == nil || !b.ok() || !n.ok() {
			continue
		}
		paired[pr.Base], paired[pr.New] = true, true
		var d []float64
		for _, pt := range points {
			mb, mn := e.rec.find(pr.Base, name, pt), e.rec.find(pr.New, name, pt)
			if mb == nil || mn == nil {
				return false
			}
			for i := range min(len(mb.Samples), len(mn.Samples)) {
				if mb.Samples[i] > 0 && mn.Samples[i] > 0 {
					d = append(d, math.Log(mn.Samples[i]/mb.Samples[i]))
				}
			}
		}
		sr := stats.SignedRank(d, stats.Confidence)
		if sr.Level < stats.Confidence-0.005 || (sr.Hi-sr.Lo)/2 > math.Log1p(e.plan.CITarget) {
			return false
		}
	}
	for _, d := range e.drvs {
		if !d.ok() || paired[d.info.Name] {
			continue
		}
		for _, pt := range points {
			m := e.rec.find(d.info.Name, name, pt)
			if m == nil {
				return false
			}
			s := stats.Summarize(m.Samples)
			if s.Confidence < stats.Confidence || s.Median <= 0 {
				return false
			}
			if max(s.Median-s.CILo, s.CIHi-s.Median) > e.plan.CITarget*s.Median {
				return false
			}
		}
	}
	return true
}

// byName is the driver of the run named name, or nil.
func (e *engine) byName(name string) *driverRun {
	for _, d := range e.drvs {
		if d.info.Name == name {
			return d
		}
	}
	return nil
}

// quiesce writes back what the drivers' backings hold dirty (syncfs, untimed), so the writeback an
// op or a round leaves behind is not charged to the next one. Errors are left to the op that follows.
func (e *engine) quiesce() {
	defer e.engineTime("write-back", time.Now())
	for _, d := range e.drvs {
		switch {
		case !d.ok():
		case d.hidden():
			// Its backing is out of sight: syncfs through each mounted container reaches the
			// filesystem its upper directory is on.
			for _, cs := range d.ctrs {
				for _, ct := range cs {
					if ct.up {
						_ = measure.Sync(ct.mnt)
					}
				}
			}
		default:
			_ = measure.Sync(d.inst.Backing().Path)
		}
	}
}

// probeNoise records, as what starts, the machine's load and CPU pressure and a calibration reading
// (its speed at a fixed stat and a fixed flush; their spread over the run is its drift).
func (e *engine) probeNoise(what string, round int) {
	defer e.engineTime("noise probes", time.Now())
	n := measure.Noise()
	ns := result.NoiseSample{Seq: e.rec.seq, What: what, Round: round, Load1: n.Load1, CPUSomeAvg10: n.CPUSomeAvg10}
	if e.cal != nil {
		c := e.cal.Read()
		ns.StatNs, ns.SyncNs = c.StatNs, c.SyncNs
	}
	e.res.Noise = append(e.res.Noise, ns)
}

// BusyCPUPressure is the CPU pressure (PSI "some" avg10: the share of the last 10 s in which a
// runnable task waited for a CPU) above which the machine is too busy for its samples to be trusted.
// The run's own timed work is one thread on a machine of several CPUs: it makes no such waits, where
// a load average counts the run's own tasks blocked on I/O and lags by a minute.
const BusyCPUPressure = 20.0

// markNoisy warns on every metric with samples taken in a stretch (from one probe to the next) that
// began with the CPUs under pressure (BusyCPUPressure): once per stretch, naming it.
func (e *engine) markNoisy() {
	for i, ns := range e.res.Noise {
		if ns.CPUSomeAvg10 <= BusyCPUPressure {
			continue
		}
		end := e.rec.seq
		if i+1 < len(e.res.Noise) {
			end = e.res.Noise[i+1].Seq
		}
		w := result.Warnf(result.WarnBusy, "busy machine: CPU pressure %.0f%% (PSI some avg10) during %s", ns.CPUSomeAvg10, ns.What)
		for _, k := range e.rec.order {
			m := e.rec.metrics[k]
			for _, o := range m.Order {
				if o > ns.Seq && o <= end {
					if !slices.ContainsFunc(m.Warnings, func(o result.Warning) bool {
						// one warning per op, not per round
						return o.Kind == result.WarnBusy && strings.HasSuffix(o.Text, " during "+ns.What)
					}) {
						m.Warnings = append(m.Warnings, w)
					}
					break
				}
			}
		}
	}
}

// ioMark reads the counters of every active driver's backing device, after writing back what the
// backings hold dirty: the start of a step (ioStep records the end).
func (e *engine) ioMark() map[*driverRun]measure.DeviceIO {
	e.quiesce()
	marks := map[*driverRun]measure.DeviceIO{}
	for _, d := range e.active() {
		if dev := d.inst.Backing().Device; dev != "" {
			if io, err := measure.ReadDeviceIO(dev); err == nil {
				marks[d] = io
			}
		}
	}
	return marks
}

// ioStep records what each driver's backing device read, wrote and flushed since marks, once what
// the step left dirty is written back: io.read_bytes, io.write_bytes and io.flushes of the step. Bytes
// and flushes at the device repeat on the same plan, where times wander with the machine: a change in
// them is a change in the snapshotter or the kernel.
func (e *engine) ioStep(step string, marks map[*driverRun]measure.DeviceIO) {
	e.injectWrites(step)
	e.quiesce()
	params := p(metric.PStep, step)
	for _, d := range e.active() {
		before, ok := marks[d]
		if !ok {
			continue
		}
		now, err := measure.ReadDeviceIO(d.inst.Backing().Device)
		if err != nil {
			continue
		}
		io := now.Sub(before)
		e.rec.add(d.info.Name, metric.IOReadBytes, params, float64(io.ReadBytes))
		e.rec.add(d.info.Name, metric.IOWriteBytes, params, float64(io.WriteBytes))
		e.rec.add(d.info.Name, metric.IOFlushes, params, float64(io.Flushes))
	}
}
