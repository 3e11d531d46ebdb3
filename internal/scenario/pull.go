package scenario

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/network"
)

// DefaultNetworks are a pull's networks when the op names none: the registry on loopback, unshaped.
var DefaultNetworks = []string{"unlimited 0s"}

// maxNetworks bounds a pull's network list (each is a full set of pulls).
const maxNetworks = 16

// maxShares bounds a pull's read_share list (each is a full set of pulls per network).
const maxShares = 16

func (v *validator) pullOp(op *Op, wp string) {
	switch {
	case op.Trace == "" && len(op.ReadShare) == 0:
		v.addf(wp, "pull needs the startup workload to run once the image is ready: add `trace: traces/NAME.trace` (seedbench trace records one) or `read_share: [5%%, 50%%]`")
	case op.Trace != "" && len(op.ReadShare) > 0:
		v.addf(join(wp, "read_share"), "pull takes a trace or read_share, not both: keep one (a second pull op can have the other)")
	}
	v.readShares(op.ReadShare, join(wp, "read_share"))
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

// readShares checks a pull's read_share list: whole percents from 1% to 100%, each once.
func (v *validator) readShares(shares []string, sp string) {
	if len(shares) > maxShares {
		v.addf(sp, "%d shares: at most %d (each is a full set of pulls on every network)", len(shares), maxShares)
		return
	}
	seen := map[int]bool{}
	for j, s := range shares {
		ep := index(sp, j)
		if !v.pos.has(ep) {
			ep = sp
		}
		n, err := ParseShare(s)
		if err != nil {
			v.addf(ep, "%v", err)
			continue
		}
		if seen[n] {
			v.addf(ep, "share %q is listed twice: keep one", s)
		}
		seen[n] = true
	}
}

// ParseShare reads a read_share value: a whole percent from 1% to 100% ("5%").
func ParseShare(s string) (int, error) {
	num, ok := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n < 1 || n > 100 || strconv.Itoa(n) != num {
		return 0, fmt.Errorf("read_share %q: a whole percent of the image's bytes from 1%% to 100%%, e.g. 5%%", s)
	}
	return n, nil
}

func (r *resolver) pullTargets(po *PlanOp, op *Op, _ string) {
	po.Trace = op.trace
	for _, s := range op.ReadShare {
		if n, err := ParseShare(s); err == nil { // validated
			po.ReadShares = append(po.ReadShares, n)
		}
	}
	slices.Sort(po.ReadShares)
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
