package scenario

import (
	"github.com/seedbench/seedbench/internal/network"
)

// DefaultNetworks are a pull's networks when the op names none: the registry on loopback, unshaped.
var DefaultNetworks = []string{"unlimited 0s"}

// maxNetworks bounds a pull's network list (each is a full set of pulls).
const maxNetworks = 16

func (v *validator) pullOp(op *Op, wp string) {
	if op.Trace == "" {
		v.addf(wp, "pull needs the startup workload to run once the image is ready: add `trace: traces/NAME.trace` (seedbench trace records one)")
	}
	np := join(wp, "networks")
	if len(op.Networks) > maxNetworks {
		v.addf(np, "%d networks: at most %d (each is a full set of pulls)", len(op.Networks), maxNetworks)
		return
	}
	seen := map[string]bool{}
	for j, n := range op.Networks {
		ep := index(np, j)
		if !v.pos.has(ep) {
			ep = np
		}
		prof, err := network.Parse(n)
		if err != nil {
			v.addf(ep, "%v", err)
			continue
		}
		if seen[prof.String()] {
			v.addf(ep, "network %q is listed twice: keep one", n)
		}
		seen[prof.String()] = true
	}
}

func (r *resolver) pullTargets(po *PlanOp, op *Op, _ string) {
	po.Trace = op.trace
	ns := op.Networks
	if len(ns) == 0 {
		ns = DefaultNetworks
	}
	for _, n := range ns {
		if prof, err := network.Parse(n); err == nil { // validated
			po.Networks = append(po.Networks, prof)
		}
	}
}
