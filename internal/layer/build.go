package layer

import (
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/scenario"
)

// Defaults of a Generate spec, applied here too so a Tree never depends on the caller having
// resolved them (the scenario package resolves the same values).
const (
	defaultDepth    = 4
	defaultFanout   = 8
	defaultMedian   = 4 << 10
	defaultMax      = 8 << 20
	defaultSigma    = 1.5
	defaultSymlinks = 0.02
)

// Build returns the tree of one layer. It is a pure function of (pl, seed): the same input gives a
// byte-identical tree on any machine.
//
// A generated tree has exactly Generate.Files regular files spread over Generate.Dirs directories
// (Root included) no deeper than Depth below Root and with at most Fanout subdirectories each;
// sizes follow the distribution, clipped to [Min, Max], then scaled so they add up to Total exactly
// (an error if Total is outside [Files×Min, Files×Max]); plus round(Symlinks × Files) symlinks with
// relative targets to generated files. Explicit Files come next and win over generated entries at
// the same path (a generated subtree or file in the way is dropped). Every parent directory not
// listed is added as an Implicit directory 0755. Delete paths become Whiteouts and Opaque paths
// Opaque directories; deleting a path this layer also writes is an error.
func Build(pl scenario.PlanLayer, seed int64) (*Tree, error) {
	b := &builder{layer: pl.Name, seed: seed, m: map[string]*Entry{}}
	if err := b.build(pl); err != nil {
		return nil, fmt.Errorf("layer %s: %w", pl.Name, err)
	}
	t := &Tree{Layer: pl.Name, Source: source(pl), Entries: make([]Entry, 0, len(b.m))}
	for _, e := range b.m {
		t.Entries = append(t.Entries, *e)
	}
	sortEntries(t.Entries)
	return t, nil
}

func source(pl scenario.PlanLayer) string {
	var parts []string
	if pl.Generate != nil {
		parts = append(parts, "generate")
	}
	if len(pl.Files) > 0 {
		parts = append(parts, "files")
	}
	if len(pl.Delete) > 0 {
		parts = append(parts, "delete")
	}
	if len(pl.Opaque) > 0 {
		parts = append(parts, "opaque")
	}
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, "+")
}

type builder struct {
	layer string
	seed  int64
	m     map[string]*Entry
}

func (b *builder) rng(stream string) *rng {
	return newRNG(newHasher().u64(uint64(b.seed)).bytes(b.layer).bytes(stream).sum())
}

func (b *builder) build(pl scenario.PlanLayer) error {
	if pl.Generate != nil {
		if err := b.generate(pl.Generate); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
	}
	for _, f := range pl.Files {
		e, err := b.explicit(f)
		if err != nil {
			return fmt.Errorf("file %s: %w", f.Path, err)
		}
		b.put(e)
	}
	for _, p := range pl.Opaque {
		if err := b.opaque(p); err != nil {
			return fmt.Errorf("opaque %s: %w", p, err)
		}
	}
	b.addParents()
	for _, p := range pl.Delete {
		if err := b.whiteout(p); err != nil {
			return fmt.Errorf("delete %s: %w", p, err)
		}
	}
	b.resolveHardlinks()
	return nil
}

// put inserts e; an entry already at e.Path loses (a directory keeps its subtree if e is a
// directory too), and so do non-directories on e's parent path.
func (b *builder) put(e Entry) {
	if old, ok := b.m[e.Path]; ok {
		if isDir(old.Kind) && e.Kind == Dir {
			old.Mode, old.Implicit = e.Mode, false
			return
		}
		if isDir(old.Kind) {
			b.dropSubtree(e.Path)
		}
	}
	for p := parent(e.Path); p != ""; p = parent(p) {
		if old, ok := b.m[p]; ok && !isDir(old.Kind) {
			delete(b.m, p)
		}
	}
	b.m[e.Path] = &e
}

func (b *builder) dropSubtree(dir string) {
	for p := range b.m {
		if under(p, dir) {
			delete(b.m, p)
		}
	}
}

func isDir(k Kind) bool { return k == Dir || k == Opaque }

func (b *builder) explicit(f scenario.File) (Entry, error) {
	p, err := cleanPath(f.Path)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Path: p}
	var defMode fs.FileMode
	switch f.Type {
	case "", "file":
		if f.Size < 0 {
			return e, fmt.Errorf("negative size %d", f.Size)
		}
		e.Kind, e.Size, defMode = File, int64(f.Size), 0o644
		e.ID = ContentID(b.seed, b.layer, p, 0)
	case "dir":
		e.Kind, defMode = Dir, 0o755
	case "symlink":
		if f.Target == "" {
			return e, fmt.Errorf("symlink without a target")
		}
		e.Kind, e.Target, defMode = Symlink, f.Target, 0o777
	case "hardlink":
		t, err := cleanPath(f.Target)
		if err != nil {
			return e, fmt.Errorf("hardlink target: %w", err)
		}
		if t == p {
			return e, fmt.Errorf("hardlink to itself")
		}
		e.Kind, e.Target = Hardlink, t
	default:
		return e, fmt.Errorf("type %q: want file, dir, symlink or hardlink", f.Type)
	}
	e.Mode = defMode
	if f.Mode != "" && e.Kind != Symlink && e.Kind != Hardlink {
		m, err := strconv.ParseUint(f.Mode, 8, 32)
		if err != nil || m > 0o777 {
			return e, fmt.Errorf("mode %q: want octal permission bits, 0000 to 0777", f.Mode)
		}
		e.Mode = fs.FileMode(m)
	}
	return e, nil
}

func (b *builder) opaque(raw string) error {
	p, err := cleanPath(raw)
	if err != nil {
		return err
	}
	if old, ok := b.m[p]; ok {
		if !isDir(old.Kind) {
			return fmt.Errorf("this layer writes a %s there", old.Kind)
		}
		old.Kind, old.Implicit = Opaque, false
		return nil
	}
	b.put(Entry{Path: p, Kind: Opaque, Mode: 0o755})
	return nil
}

// addParents adds every missing parent directory as an implicit 0755 directory.
func (b *builder) addParents() {
	var missing []string
	for p, e := range b.m {
		if e.Kind == Whiteout {
			continue
		}
		for d := parent(p); d != ""; d = parent(d) {
			if _, ok := b.m[d]; ok {
				break
			}
			missing = append(missing, d)
		}
	}
	for _, d := range missing {
		b.m[d] = &Entry{Path: d, Kind: Dir, Mode: 0o755, Implicit: true}
	}
}

func (b *builder) whiteout(raw string) error {
	p, err := cleanPath(raw)
	if err != nil {
		return err
	}
	for q, e := range b.m {
		if under(q, p) && e.Kind != Whiteout {
			return fmt.Errorf("this layer writes %s below it (use opaque to replace a directory's contents)", q)
		}
	}
	if old, ok := b.m[p]; ok {
		if old.Kind == Whiteout {
			return nil
		}
		return fmt.Errorf("this layer also writes a %s there", old.Kind)
	}
	for d := parent(p); d != ""; d = parent(d) {
		if old, ok := b.m[d]; ok {
			switch {
			case old.Kind == Whiteout:
				return nil // already removed with its parent
			case old.Kind == Opaque:
				return fmt.Errorf("already hidden: %s is opaque in this layer", d)
			case old.Kind != Dir:
				return fmt.Errorf("%s is a %s in this layer", d, old.Kind)
			}
		}
	}
	for q := range b.m {
		if under(q, p) {
			delete(b.m, q) // a whiteout subsumed by this one
		}
	}
	b.m[p] = &Entry{Path: p, Kind: Whiteout}
	return nil
}

// resolveHardlinks copies the identity of a target in this layer into the link.
func (b *builder) resolveHardlinks() {
	for _, e := range b.m {
		if e.Kind != Hardlink {
			continue
		}
		t := b.m[e.Target]
		for i := 0; t != nil && t.Kind == Hardlink && i < 64; i++ {
			e.Target = t.Target
			t = b.m[t.Target]
		}
		if t != nil && t.Kind == File {
			e.ID, e.Size, e.Mode = t.ID, t.Size, t.Mode
		}
	}
}

// gdir is a directory of the generated tree.
type gdir struct {
	path  string
	depth int
	kids  int
	names map[string]bool
}

func (d *gdir) unique(name string) string {
	if d.names == nil {
		d.names = map[string]bool{}
	}
	n := name
	for i := 2; d.names[n]; i++ {
		n = name + "-" + strconv.Itoa(i)
	}
	d.names[n] = true
	return n
}

func (b *builder) generate(g *scenario.Generate) error {
	files := g.Files
	if files <= 0 {
		return fmt.Errorf("files: want > 0, got %d", files)
	}
	ndirs := g.Dirs
	if ndirs <= 0 {
		ndirs = max(1, files/10)
	}
	depth, fanout := g.Depth, g.Fanout
	if depth <= 0 {
		depth = defaultDepth
	}
	if fanout <= 0 {
		fanout = defaultFanout
	}
	root := g.Root
	if root == "" {
		root = "usr/share/" + b.layer
	}
	root, err := cleanPath(root)
	if err != nil {
		return fmt.Errorf("root: %w", err)
	}
	d := sizeDist{kind: "lognormal", median: defaultMedian, max: defaultMax, sigma: defaultSigma}
	if s := g.Size; s != nil {
		if s.Dist != "" {
			d.kind = s.Dist
		}
		if s.Median > 0 {
			d.median = int64(s.Median)
		}
		if s.Max > 0 {
			d.max = int64(s.Max)
		}
		d.min = int64(s.Min)
		if s.Sigma != nil {
			d.sigma = *s.Sigma
		}
	}
	total := int64(g.Total)
	if total <= 0 {
		total = int64(files) * d.median
	}
	symFrac := defaultSymlinks
	if g.Symlinks != nil {
		symFrac = *g.Symlinks
	}
	if symFrac < 0 || symFrac > 1 || math.IsNaN(symFrac) {
		return fmt.Errorf("symlinks: want a fraction in [0, 1], got %v", symFrac)
	}

	// Directories: each new one under a random directory that still has room.
	capacity, level := 1, 1
	for i := 0; i < depth && capacity < ndirs; i++ {
		level *= fanout
		capacity += level
	}
	if capacity < ndirs {
		return fmt.Errorf("dirs: %d directories do not fit in depth %d with fanout %d (at most %d)", ndirs, depth, fanout, capacity)
	}
	rd := b.rng("dirs")
	dirs := []*gdir{{path: root}}
	open := []int{0}
	for len(dirs) < ndirs {
		i := rd.intn(len(open))
		p := dirs[open[i]]
		nd := &gdir{path: p.path + "/" + p.unique(dirName(rd)), depth: p.depth + 1}
		if p.kids++; p.kids >= fanout {
			open[i] = open[len(open)-1]
			open = open[:len(open)-1]
		}
		dirs = append(dirs, nd)
		if nd.depth < depth {
			open = append(open, len(dirs)-1)
		}
	}
	for _, dd := range dirs {
		b.m[dd.path] = &Entry{Path: dd.path, Kind: Dir, Mode: 0o755, Implicit: true}
	}

	sizes, err := genSizes(b.rng("sizes"), files, d, total)
	if err != nil {
		return err
	}
	rf := b.rng("files")
	paths := make([]string, files)
	for i := range paths {
		dd := dirs[rf.intn(len(dirs))]
		p := dd.path + "/" + dd.unique(fileName(rf))
		paths[i] = p
		mode := fs.FileMode(0o644)
		if rf.intn(20) == 0 {
			mode = 0o755 // an executable now and then
		}
		b.m[p] = &Entry{Path: p, Kind: File, Size: sizes[i], Mode: mode, ID: ContentID(b.seed, b.layer, p, 0)}
	}

	rs := b.rng("symlinks")
	nsym := int(math.Floor(float64(symFrac*float64(files)) + 0.5))
	for range nsym {
		dd := dirs[rs.intn(len(dirs))]
		target := paths[rs.intn(len(paths))]
		p := dd.path + "/" + dd.unique(fileName(rs))
		b.m[p] = &Entry{Path: p, Kind: Symlink, Mode: 0o777, Target: relPath(dd.path, target)}
	}
	return nil
}

// relPath is the relative path from directory from to path to.
func relPath(from, to string) string {
	f, t := strings.Split(from, "/"), strings.Split(to, "/")
	i := 0
	for i < len(f) && i < len(t)-1 && f[i] == t[i] {
		i++
	}
	var sb strings.Builder
	for range len(f) - i {
		sb.WriteString("../")
	}
	sb.WriteString(strings.Join(t[i:], "/"))
	return sb.String()
}

type sizeDist struct {
	kind             string
	median, min, max int64
	sigma            float64
}

// genSizes draws n sizes and scales them to add up to total exactly. All arithmetic after the
// draw is integer: a fixed-point factor F (32.32) is searched so Σ clip(xᵢ·F) is the largest sum
// not above total, then the last files get the remaining bytes, one each, then as much as fits.
func genSizes(r *rng, n int, d sizeDist, total int64) ([]int64, error) {
	if d.min < 0 || d.max < d.min {
		return nil, fmt.Errorf("size: want 0 <= min <= max, got min %d max %d", d.min, d.max)
	}
	if hi, lo := bits.Mul64(uint64(n), uint64(d.max)); hi == 0 && lo < uint64(total) || total < int64(n)*d.min {
		return nil, fmt.Errorf("total %d bytes cannot be split into %d files of %d to %d bytes", total, n, d.min, d.max)
	}
	x := make([]uint64, n)
	switch d.kind {
	case "lognormal", "":
		if !(d.sigma >= 0) {
			return nil, fmt.Errorf("size: sigma %v: want >= 0", d.sigma)
		}
		for i := range x {
			v := float64(float64(d.median) * expDet(float64(d.sigma*r.normal())))
			x[i] = uint64(clipF(math.Floor(v+0.5), d.min, d.max))
		}
	case "uniform":
		for i := range x {
			x[i] = uint64(d.min) + r.uint64n(uint64(d.max-d.min)+1)
		}
	case "fixed":
		for i := range x {
			x[i] = uint64(min(max(d.median, d.min), d.max))
		}
	default:
		return nil, fmt.Errorf("size: dist %q: want lognormal, uniform or fixed", d.kind)
	}
	allZero := true
	for _, v := range x {
		if v != 0 {
			allZero = false
			break
		}
	}
	if allZero {
		for i := range x {
			x[i] = 1
		}
	}
	s := make([]int64, n)
	scaled := func(f uint64) int64 {
		var sum int64
		for i, v := range x {
			hi, lo := bits.Mul64(v, f)
			var y int64
			if hi>>31 != 0 {
				y = d.max
			} else {
				y = min(max(int64(hi<<32|lo>>32), d.min), d.max)
			}
			s[i] = y
			sum += y
		}
		return sum
	}
	lo, hi := uint64(0), uint64(math.MaxUint64)
	for lo < hi { // largest f with scaled(f) <= total
		mid := lo + (hi-lo)/2 + 1
		if scaled(mid) <= total {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	rest := total - scaled(lo)
	for i := n - 1; i >= 0 && rest > 0; i-- {
		if s[i] < d.max {
			s[i]++
			rest--
		}
	}
	for i := n - 1; i >= 0 && rest > 0; i-- {
		add := min(rest, d.max-s[i])
		s[i] += add
		rest -= add
	}
	return s, nil
}

func clipF(v float64, lo, hi int64) float64 {
	return math.Min(math.Max(v, float64(lo)), float64(hi))
}

// Name pieces: enough variety for names that look like a distribution's, of varying lengths.
var (
	words = strings.Fields(`lib bin share doc locale python3 perl5 x86_64 gnu systemd network core utils
common config plugins modules include kernel fonts icons themes man zoneinfo terminfo ssl certs apache2
emacs site-packages dist cache data tools helpers extras contrib vendor internal tests examples
templates static assets lang keymaps udev rules dbus pam security cron init logrotate profile
bash-completion mime pixmaps applications gconv locales i18n charmaps encodings alternatives dpkg apt
debconf info lintian overrides menu xml sgml json yaml http crypto compress image audio video text
parse stream buffer thread sched mutex async event signal socket tls auth dns proto codec format
render widget color gtk glib cairo pango harfbuzz freetype png jpeg tiff zlib lzma bzip2 zstd
readline ncurses sqlite openssl curl ssh gpg kbd console font hunspell dict calendar mail org gnus
eshell tramp vc cc-mode progmodes textmodes ruby lisp emulation erc calc eieio cedet semantic`)
	exts = strings.Fields(`.so .so.6 .so.1 .so.0.9.3 .h .hpp .c .py .pyc .pm .pl .el .elc .el.gz .gz
.mo .txt .conf .json .xml .png .svg .html .js .css .1.gz .8.gz .a .pc .sh .service .rules .ko .ko.xz
.cfg .ini .list .md5sums .desktop .ttf .pem .crt .def .map`)
)

func dirName(r *rng) string {
	w := words[r.intn(len(words))]
	switch r.intn(10) {
	case 0, 1:
		w += "-" + words[r.intn(len(words))]
	case 2:
		w += strconv.Itoa(1 + r.intn(12))
	}
	return w
}

func fileName(r *rng) string {
	var sb strings.Builder
	if r.intn(7) == 0 {
		sb.WriteString("lib")
	}
	np := 1 + r.intn(3)
	for i := range np {
		if i > 0 {
			sb.WriteByte("-_."[r.intn(3)])
		}
		sb.WriteString(words[r.intn(len(words))])
	}
	if r.intn(6) == 0 {
		fmt.Fprintf(&sb, "-%d.%d", r.intn(10), r.intn(30))
		if r.intn(2) == 0 {
			fmt.Fprintf(&sb, ".%d", r.intn(20))
		}
	}
	if r.intn(8) != 0 {
		sb.WriteString(exts[r.intn(len(exts))])
	}
	return sb.String()
}
