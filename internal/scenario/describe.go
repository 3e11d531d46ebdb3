package scenario

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/units"
)

// Describe writes a readable rendering of the plan, for `seedbench show`: the layers in build order
// with their parents, generated trees and explicit entries (those the workload added counted
// apart), the images with their chains and containers, each op with its parameter points and
// samples, and the container and image sweeps.
func (p *Plan) Describe(w io.Writer) error {
	b := &strings.Builder{}
	pf := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	pf("scenario %s", p.Name)
	if p.File != "" {
		pf("  (%s", p.File)
		if p.SHA256 != "" {
			pf(", sha256 %.12s", p.SHA256)
		}
		pf(")")
	}
	pf("\n")
	if p.Description != "" {
		pf("  %s\n", p.Description)
	}
	mode := "normal"
	if p.Quick {
		mode = "quick"
	}
	pf("seed %d, %s run, %d samples per point, %d warm-up\n", p.Seed, mode, p.Samples, p.Warmup)

	pf("\nlayers (build order)\n")
	var stack units.Size
	nameW, parentW := 0, 0
	for _, l := range p.Layers {
		nameW, parentW = max(nameW, len(l.Name)), max(parentW, len(l.Parent), len("scratch"))
	}
	for _, l := range p.Layers {
		parent := "scratch"
		if l.Parent != "" {
			parent = l.Parent
		}
		own, added := l.sizes()
		bytes := l.Bytes()
		stack += bytes
		pf("  %-*s  FROM %-*s  %s\n", nameW, l.Name, parentW, parent, bytes.Approx())
		if g := l.Generate; g != nil {
			sd := g.Size
			pf("    generate  %d files, %d dirs, %s under %s: %s", g.Files, g.Dirs, g.Total.Approx(), g.Root, sd.Dist)
			switch sd.Dist {
			case "fixed":
				pf(" %s each", sd.Median)
			case "uniform":
				pf(" %s..%s", sd.Min, sd.Max)
			default:
				pf(" median %s, %s..%s, sigma %s", sd.Median, sd.Min, sd.Max, ftoa(*sd.Sigma))
			}
			pf("; depth %d, fanout %d, symlinks %s\n", g.Depth, g.Fanout, ftoa(*g.Symlinks))
		}
		if own.n > 0 {
			pf("    files     %s\n", own)
		}
		if added.n > 0 {
			pf("    workload  %s under %s/\n", added, WorkloadDir)
		}
		if len(l.Delete) > 0 {
			pf("    delete    %s\n", strings.Join(l.Delete, ", "))
		}
		if len(l.Opaque) > 0 {
			pf("    opaque    %s\n", strings.Join(l.Opaque, ", "))
		}
	}
	pf("  total %s\n", stack.Approx())

	pf("\nimages\n")
	nameW = 0
	for _, im := range p.Images {
		nameW = max(nameW, len(im.Name))
	}
	for _, im := range p.Images {
		pf("  %-*s  %d container%s, %d layer%s: %s\n", nameW, im.Name, im.Containers, plural(im.Containers),
			len(im.Chain), plural(len(im.Chain)), strings.Join(im.Chain, " → "))
	}
	pf("\ncontainers per image: %s", intList(p.Containers))
	if len(p.Containers) > 1 {
		pf(" (disk and page cache measured at each count)")
	}
	pf("\n")
	if len(p.ImageSweep) > 0 {
		pf("images built: disk measured once the first %s images have all their layers\n", intList(p.ImageSweep))
	}

	pf("\nworkload\n")
	if len(p.Ops) == 0 {
		pf("  (none: layers, containers, disk and page cache only)\n")
	}
	for _, o := range p.Ops {
		pf("  [%d] %s on %s", o.Index, o.Op, strings.Join(o.Images, ", "))
		if o.Layer != "" {
			pf(", targets in %s", o.Layer)
		}
		pf("\n      ")
		var params []string
		add := func(name string, vals []string) {
			if len(vals) > 0 {
				params = append(params, name+" "+strings.Join(vals, ", "))
			}
		}
		if o.Count > 0 {
			params = append(params, "count "+strconv.Itoa(o.Count))
		}
		var sizes, depths []string
		for _, s := range o.Sizes {
			sizes = append(sizes, s.String())
		}
		for _, d := range o.Depths {
			depths = append(depths, strconv.Itoa(d))
		}
		add("size", sizes)
		add("depth", depths)
		add("kind", o.Kinds)
		add("how", o.Hows)
		add("cache", o.Caches)
		if o.WorkingSet > 0 {
			params = append(params, fmt.Sprintf("working set %s in %d file%s", o.WorkingSet, len(o.WorkingSetFiles), plural(len(o.WorkingSetFiles))))
		}
		pf("%s\n", strings.Join(params, "; "))
		pf("      %d point%s × %d samples\n", o.Points(), plural(o.Points()), o.Samples)
	}

	pf("\ndrivers: ")
	if len(p.Drivers) == 0 {
		pf("every available driver\n")
	} else {
		var ds []string
		for _, d := range p.Drivers {
			s := d.Name
			var opts []string
			if d.Driver != "" && d.Driver != d.Name {
				opts = append(opts, d.Driver)
			}
			if d.Backing != "" {
				opts = append(opts, "on "+d.Backing)
			}
			if d.BackingSize != 0 {
				opts = append(opts, "backing "+d.BackingSize.String())
			}
			if len(d.MountOptions) > 0 {
				opts = append(opts, "-o "+strings.Join(d.MountOptions, ","))
			}
			if len(opts) > 0 {
				s += " (" + strings.Join(opts, " ") + ")"
			}
			ds = append(ds, s)
		}
		pf("%s\n", strings.Join(ds, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

type entryCount struct {
	n, files, dirs, symlinks, hardlinks int
	bytes                               units.Size
}

func (c entryCount) String() string {
	var parts []string
	if c.files > 0 {
		parts = append(parts, fmt.Sprintf("%d file%s (%s)", c.files, plural(c.files), c.bytes.Approx()))
	}
	for _, x := range []struct {
		n    int
		what string
	}{{c.dirs, "dir"}, {c.symlinks, "symlink"}, {c.hardlinks, "hardlink"}} {
		if x.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s%s", x.n, x.what, plural(x.n)))
		}
	}
	return strings.Join(parts, ", ")
}

// sizes counts a layer's explicit entries: the scenario's own, and those the workload added.
func (l *PlanLayer) sizes() (own, added entryCount) {
	for _, f := range l.Files {
		c := &own
		if strings.HasPrefix(f.Path, WorkloadDir+"/") {
			c = &added
		}
		c.n++
		switch f.Type {
		case "dir":
			c.dirs++
		case "symlink":
			c.symlinks++
		case "hardlink":
			c.hardlinks++
		default:
			c.files++
			c.bytes += f.Size
		}
	}
	return own, added
}

// Bytes is the regular-file bytes the layer writes: its generated total and its explicit files.
func (l *PlanLayer) Bytes() units.Size {
	own, added := l.sizes()
	b := own.bytes + added.bytes
	if l.Generate != nil {
		b += l.Generate.Total
	}
	return b
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
