package layer

import (
	"fmt"
	"io/fs"
	"maps"
	"slices"
)

// View is the expected content of a container: the merged view of an image's layer chain, plus
// what the workload did in that container. Directories (opaque ones too) are Dir entries, a
// Hardlink entry's Target is the path of the File it shares an inode with and it carries that
// file's Size, Mode, ID and Edit. The zero View is not usable; get one from Merge or Clone.
//
// The change helpers (Created, Removed, Modified, Appended, Truncated, Touched, Chmod, Mkdir,
// Renamed) record a workload's effect; each fails, changing nothing, when the change would fail
// on a real filesystem too (a missing path, a missing parent, a rename onto a non-empty
// directory). Changing a file that has other hardlinks detaches it from them, as overlay copy-up
// does (index=off); on native and btrfs snapshots a write through one name changes every name,
// so a workload should not modify hardlinked files.
type View struct {
	m     map[string]Entry
	links map[string][]string // File path → the Hardlink paths sharing its inode
}

func newView() *View { return &View{m: map[string]Entry{}, links: map[string][]string{}} }

// Merge returns the view of a layer chain, bottom → top, following overlay semantics: an upper
// entry shadows a lower one at the same path; a Whiteout hides the path and everything below it;
// an Opaque directory hides the lower contents of the directory and keeps what its own layer puts
// in it; a non-directory replacing a directory hides the lower subtree; a directory over a
// directory merges both, taking the upper mode unless the upper one is Implicit. This is also what
// Apply does to a plain directory, layer after layer, which is how native snapshots are built.
//
// A hardlink made in one layer to a file of a lower layer copies that file up into the layer: the
// file's other lower names are no longer expected to share its inode (Verify only ever checks
// that linked names share an inode, never that others do not, so a native snapshot where they
// still do passes too). A hardlink whose target is missing stays a Hardlink with ID 0: Verify
// reports it.
func Merge(chain []*Tree) *View {
	v := newView()
	for _, t := range chain {
		if t == nil {
			continue
		}
		var links []Entry
		mine := map[string]bool{} // files this layer writes
		for _, e := range t.Entries {
			switch e.Kind {
			case Whiteout:
				v.removeTree(e.Path)
			case Opaque:
				v.removeTree(e.Path)
				e.Kind, e.Implicit = Dir, false
				v.m[e.Path] = e
			case Dir:
				if old, ok := v.m[e.Path]; ok && old.Kind == Dir {
					if !e.Implicit {
						old.Mode = e.Mode
						v.m[e.Path] = old
					}
					continue
				}
				v.removeTree(e.Path)
				e.Implicit = false
				v.m[e.Path] = e
			case File, Symlink, Node:
				v.removeTree(e.Path)
				e.Edit = nil
				v.m[e.Path] = e
				mine[e.Path] = true
			case Hardlink:
				links = append(links, e)
			}
		}
		for _, e := range links {
			v.removeTree(e.Path)
			if !mine[e.Target] {
				// Linking to a lower file copies it up into this layer first (that is what
				// overlay does, and what the layer's diff records): the other lower names of
				// its inode keep sharing the old one, without it.
				v.detach(e.Target)
				mine[e.Target] = true
			}
			v.link(e)
			mine[e.Path] = true
		}
	}
	return v
}

// link adds hardlink e, taking the identity of its target as it is now.
func (v *View) link(e Entry) {
	t, ok := v.m[e.Target]
	if ok && t.Kind == Hardlink {
		e.Target = t.Target
		t, ok = v.m[e.Target]
	}
	switch {
	case ok && t.Kind == File:
		e.ID, e.Size, e.Mode, e.Edit, e.Real = t.ID, t.Size, t.Mode, t.Edit, t.Real
		v.m[e.Path] = e
		v.links[e.Target] = insertSorted(v.links[e.Target], e.Path)
	case ok && t.Kind == Symlink:
		// linkat without AT_SYMLINK_FOLLOW links the symlink itself
		t.Path = e.Path
		v.m[e.Path] = t
	default:
		e.ID = 0
		v.m[e.Path] = e
	}
}

func insertSorted(s []string, p string) []string {
	i, found := slices.BinarySearch(s, p)
	if found {
		return s
	}
	return slices.Insert(slices.Clone(s), i, p)
}

// removeTree removes p and, if it is a directory, everything below it.
func (v *View) removeTree(p string) {
	old, ok := v.m[p]
	if !ok {
		return
	}
	v.removeOne(p, old)
	if old.Kind != Dir {
		return
	}
	var sub []string
	for q := range v.m {
		if under(q, p) {
			sub = append(sub, q)
		}
	}
	for _, q := range sub {
		if e, ok := v.m[q]; ok {
			v.removeOne(q, e)
		}
	}
}

// removeOne deletes the entry at p, keeping hardlink groups consistent.
func (v *View) removeOne(p string, e Entry) {
	delete(v.m, p)
	switch e.Kind {
	case Hardlink:
		ls := slices.DeleteFunc(slices.Clone(v.links[e.Target]), func(s string) bool { return s == p })
		if len(ls) == 0 {
			delete(v.links, e.Target)
		} else {
			v.links[e.Target] = ls
		}
	case File:
		v.promote(p)
	}
}

// promote makes the first remaining hardlink of file p (which is going away or being detached)
// the file the others link to.
func (v *View) promote(p string) {
	ls := v.links[p]
	if len(ls) == 0 {
		return
	}
	delete(v.links, p)
	head := ls[0]
	h := v.m[head]
	h.Kind, h.Target = File, ""
	v.m[head] = h
	if rest := ls[1:]; len(rest) > 0 {
		for _, q := range rest {
			l := v.m[q]
			l.Target = head
			v.m[q] = l
		}
		v.links[head] = slices.Clone(rest)
	}
}

// Clone returns an independent copy (one per container of an image).
func (v *View) Clone() *View {
	c := &View{m: maps.Clone(v.m), links: make(map[string][]string, len(v.links))}
	for k, ls := range v.links {
		c.links[k] = slices.Clone(ls)
	}
	return c
}

// Lookup returns the entry at path p.
func (v *View) Lookup(p string) (Entry, bool) {
	e, ok := v.m[p]
	return e, ok
}

// Len is the number of entries.
func (v *View) Len() int { return len(v.m) }

// Paths returns every path, sorted by ComparePaths (a directory before its contents).
func (v *View) Paths() []string {
	ps := slices.Collect(maps.Keys(v.m))
	slices.SortFunc(ps, ComparePaths)
	return ps
}

func (v *View) needDirParent(p string) error {
	d := parent(p)
	if d == "" {
		return nil
	}
	e, ok := v.m[d]
	if !ok {
		return fmt.Errorf("%s: parent %s does not exist", p, d)
	}
	if e.Kind != Dir {
		return fmt.Errorf("%s: parent %s is a %s", p, d, e.Kind)
	}
	return nil
}

// detach gives the file at p an inode of its own (what a copy-up does): its other names keep
// sharing the old one. Anything but a file is left alone.
func (v *View) detach(p string) {
	e, ok := v.m[p]
	if !ok {
		return
	}
	switch e.Kind {
	case File:
		v.promote(p)
	case Hardlink:
		v.removeOne(p, e)
		e.Kind, e.Target = File, ""
		v.m[p] = e
	}
}

// file returns the regular file at p, detached from any hardlinks, ready to change.
func (v *View) file(p string) (Entry, error) {
	e, ok := v.m[p]
	if !ok {
		return e, fmt.Errorf("%s: does not exist", p)
	}
	if e.Kind != File && e.Kind != Hardlink {
		return e, fmt.Errorf("%s: is a %s, not a file", p, e.Kind)
	}
	v.detach(p)
	return v.m[p], nil
}

func edit(e Entry) *Edit {
	if e.Edit == nil {
		return &Edit{Keep: e.Size}
	}
	return &Edit{Keep: e.Edit.Keep, Tail: slices.Clone(e.Edit.Tail)}
}

// Created records a new regular file (mode 0644) holding size bytes of content id, replacing a
// non-directory already there.
func (v *View) Created(p string, size int64, id uint64) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if err := v.needDirParent(p); err != nil {
		return err
	}
	if old, ok := v.m[p]; ok {
		if old.Kind == Dir {
			return fmt.Errorf("%s: is a directory", p)
		}
		v.removeOne(p, old)
	}
	v.m[p] = Entry{Path: p, Kind: File, Size: size, Mode: 0o644, ID: id}
	return nil
}

// Mkdir records a new directory.
func (v *View) Mkdir(p string, mode fs.FileMode) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if err := v.needDirParent(p); err != nil {
		return err
	}
	if _, ok := v.m[p]; ok {
		return fmt.Errorf("%s: exists", p)
	}
	v.m[p] = Entry{Path: p, Kind: Dir, Mode: mode.Perm()}
	return nil
}

// Removed records rm -rf of p (a lower entry becomes a whiteout in the container layer).
func (v *View) Removed(p string) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if _, ok := v.m[p]; !ok {
		return fmt.Errorf("%s: does not exist", p)
	}
	v.removeTree(p)
	return nil
}

// Modified records that file p now holds size bytes of content id (a full rewrite).
func (v *View) Modified(p string, size int64, id uint64) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	e, err := v.file(p)
	if err != nil {
		return err
	}
	e.ID, e.Size, e.Edit = id, size, &Edit{Keep: size}
	v.m[p] = e
	return nil
}

// Appended records data written at the end of file p.
func (v *View) Appended(p string, data []byte) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	e, err := v.file(p)
	if err != nil {
		return err
	}
	ed := edit(e)
	if gap := e.Size - ed.Keep - int64(len(ed.Tail)); gap > 0 { // zeros of an extending truncate
		ed.Tail = append(ed.Tail, make([]byte, gap)...)
	}
	ed.Tail = append(ed.Tail, data...)
	e.Size += int64(len(data))
	e.Edit = ed
	v.m[p] = e
	return nil
}

// Truncated records truncate(p, size): the content cut, or extended with zero bytes.
func (v *View) Truncated(p string, size int64) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("%s: negative size", p)
	}
	e, err := v.file(p)
	if err != nil {
		return err
	}
	ed := edit(e)
	switch {
	case size <= ed.Keep:
		ed.Keep, ed.Tail = size, nil
	case size-ed.Keep < int64(len(ed.Tail)):
		ed.Tail = ed.Tail[:size-ed.Keep]
	}
	e.Size, e.Edit = size, ed
	v.m[p] = e
	return nil
}

// Touched records that file p was opened for writing without a write (the content must be
// unchanged; Verify checks every byte, since a copy-up happened).
func (v *View) Touched(p string) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	e, err := v.file(p)
	if err != nil {
		return err
	}
	e.Edit = edit(e)
	v.m[p] = e
	return nil
}

// Chmod records a mode change of p (its content, if a file, is then checked in full: the change
// copied it up).
func (v *View) Chmod(p string, mode fs.FileMode) error {
	p, err := cleanPath(p)
	if err != nil {
		return err
	}
	e, ok := v.m[p]
	if !ok {
		return fmt.Errorf("%s: does not exist", p)
	}
	switch e.Kind {
	case Dir:
	case File, Hardlink:
		f, err := v.file(p)
		if err != nil {
			return err
		}
		f.Edit = edit(f)
		e = f
	default:
		return fmt.Errorf("%s: chmod of a %s", p, e.Kind)
	}
	e.Mode = mode.Perm()
	v.m[p] = e
	return nil
}

// Renamed records rename(oldp, newp) of a file or a whole directory, following rename(2): newp
// may replace a non-directory with a non-directory or an empty directory with a directory.
func (v *View) Renamed(oldp, newp string) error {
	oldp, err := cleanPath(oldp)
	if err != nil {
		return err
	}
	if newp, err = cleanPath(newp); err != nil {
		return err
	}
	e, ok := v.m[oldp]
	if !ok {
		return fmt.Errorf("%s: does not exist", oldp)
	}
	if newp == oldp {
		return nil
	}
	if under(newp, oldp) {
		return fmt.Errorf("rename %s to %s: into itself", oldp, newp)
	}
	if err := v.needDirParent(newp); err != nil {
		return err
	}
	if t, ok := v.m[newp]; ok {
		switch {
		case e.Kind == Dir && t.Kind != Dir:
			return fmt.Errorf("rename %s to %s: not a directory", oldp, newp)
		case e.Kind != Dir && t.Kind == Dir:
			return fmt.Errorf("rename %s to %s: is a directory", oldp, newp)
		case t.Kind == Dir:
			for q := range v.m {
				if under(q, newp) {
					return fmt.Errorf("rename %s to %s: directory not empty", oldp, newp)
				}
			}
		}
		v.removeOne(newp, t)
	}
	moved := map[string]string{oldp: newp}
	if e.Kind == Dir {
		for q := range v.m {
			if under(q, oldp) {
				moved[q] = newp + q[len(oldp):]
			}
		}
	}
	// A rename copies a lower file up (or, without redirect_dir, the caller falls back to a
	// copy): moved files no longer share inodes with anything, which is the weaker claim and
	// also holds where renames keep inodes.
	for q := range moved {
		v.detach(q)
	}
	ents := make([]Entry, 0, len(moved))
	for q := range moved {
		ents = append(ents, v.m[q])
		delete(v.m, q)
	}
	for _, x := range ents {
		x.Path = moved[x.Path]
		v.m[x.Path] = x
	}
	return nil
}
