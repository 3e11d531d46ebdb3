// Package trace records the files a real program touches in an image: it runs the program chrooted
// in a tree of the image's layers under strace and turns strace's log into a scenario trace
// (scenario.Trace), which the workload op `trace` replays in every container.
package trace

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/internal/scenario"
)

// Syscalls is what strace is asked to follow: every way a program looks up, opens, reads or maps a
// file (and the calls that move a file's offset).
var Syscalls = []string{
	"open", "openat", "openat2", "creat", "stat", "lstat", "newfstatat", "statx", "access", "faccessat", "faccessat2",
	"readlink", "readlinkat", "execve", "execveat", "read", "pread64", "readv", "preadv", "mmap", "lseek", "close",
	"chroot",
}

// Skipped are the parts of a root that are not the image's: the kernel's and the devices'.
var Skipped = []string{"/proc", "/sys", "/dev"}

// Parse turns an strace log (strace -f -y -o, of a program chrooted in root — a host path) into
// trace entries: lookups that hit (stat) and miss, read-only opens, reads at their offsets (an
// mmap of a file as a read of what it mapped; an exec'd file as read whole, since the kernel maps
// it), readlinks. Paths outside the image (Skipped) and writes are left out, and so is everything
// before the first chroot into the root (the host's chroot binary loading). size gives a file's
// size (an exec'd file's), or -1.
func Parse(r io.Reader, root string, size func(p string) int64) ([]scenario.TraceEntry, error) {
	p := &parser{root: strings.TrimSuffix(root, "/"), pos: map[string]int64{}, pending: map[string]string{}, size: size}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		p.line(sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("strace log: %w", err)
	}
	return p.out, nil
}

type parser struct {
	root    string
	out     []scenario.TraceEntry
	pos     map[string]int64  // "pid fd" → file offset
	pending map[string]string // pid → an unfinished call's start
	size    func(string) int64
	inRoot  bool // a chroot into the root has happened: what follows is the program's
}

func (p *parser) line(l string) {
	pid, rest, ok := strings.Cut(l, " ")
	if !ok || pid == "" || pid[0] < '0' || pid[0] > '9' {
		pid, rest = "0", l // strace without -f prints no pid
	}
	rest = strings.TrimSpace(rest)
	switch {
	case strings.HasPrefix(rest, "---"), strings.HasPrefix(rest, "+++"):
		return
	case strings.HasSuffix(rest, "<unfinished ...>"):
		p.pending[pid] = strings.TrimSuffix(rest, "<unfinished ...>")
		return
	case strings.HasPrefix(rest, "<... "):
		start, ok := p.pending[pid]
		if !ok {
			return
		}
		delete(p.pending, pid)
		_, after, ok := strings.Cut(rest, "resumed>")
		if !ok {
			return
		}
		rest = start + after
	}
	name, args, ret, ok := split(rest)
	if !ok {
		return
	}
	if !p.inRoot {
		p.inRoot = name == "chroot" && strings.HasPrefix(ret, "0")
		return
	}
	p.call(pid, name, args, ret)
}

// split parses "name(args) = ret" into its parts.
func split(s string) (name string, args []string, ret string, ok bool) {
	open := strings.IndexByte(s, '(')
	eq := strings.LastIndex(s, ") = ")
	if open <= 0 || eq < open {
		return "", nil, "", false
	}
	return s[:open], splitArgs(s[open+1 : eq]), strings.TrimSpace(s[eq+4:]), true
}

// splitArgs splits an argument list at top-level commas: quotes, braces, brackets and -y's
// <decorations> nest.
func splitArgs(s string) []string {
	var out []string
	depth, start := 0, 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '{' || c == '[' || c == '<' || c == '(':
			depth++
		case c == '}' || c == ']' || c == '>' || c == ')':
			depth--
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}

// decoration returns the path in a -y decoration ("3</usr/lib/x.so>" → "/usr/lib/x.so").
func decoration(s string) (string, bool) {
	i := strings.IndexByte(s, '<')
	if i < 0 || !strings.HasSuffix(s, ">") {
		return "", false
	}
	return s[i+1 : len(s)-1], true
}

// fdOf returns the descriptor number of a decorated fd argument.
func fdOf(s string) string {
	if i := strings.IndexByte(s, '<'); i >= 0 {
		return s[:i]
	}
	return s
}

func unquote(s string) (string, bool) {
	s = strings.TrimSuffix(s, "...")
	if len(s) < 2 || s[0] != '"' {
		return "", false
	}
	u, err := strconv.Unquote(s)
	if err != nil {
		return s[1 : len(s)-1], true
	}
	return u, true
}

// image maps a host path (a decoration) into the image: "" when it is outside the root.
func (p *parser) image(host string) string {
	if host == p.root {
		return "/"
	}
	if rel, ok := strings.CutPrefix(host, p.root+"/"); ok {
		return "/" + rel
	}
	return ""
}

// resolve returns the image path a call named: arg is the path argument, dir the directory
// argument (a decorated fd or AT_FDCWD</cwd>; "" for calls without one).
func (p *parser) resolve(dir, arg string) string {
	name, ok := unquote(arg)
	if !ok || name == "" {
		return ""
	}
	if strings.HasPrefix(name, "/") {
		return path.Clean(name)
	}
	d, ok := decoration(dir)
	if !ok {
		return ""
	}
	base := p.image(d)
	if base == "" {
		return ""
	}
	return path.Join(base, name)
}

// result splits a return value into the number and the errno ("-1 ENOENT (…)" → -1, "ENOENT").
func result(ret string) (int64, string, string) {
	f := strings.Fields(ret)
	if len(f) == 0 {
		return 0, "", ""
	}
	num, deco, _ := strings.Cut(f[0], "<")
	n, _ := strconv.ParseInt(num, 0, 64)
	errno := ""
	if n < 0 && len(f) > 1 {
		errno = f[1]
	}
	if deco != "" {
		deco = "<" + deco
	}
	return n, errno, deco
}

func (p *parser) emit(op scenario.TraceOp, pth string, off, n int64) {
	if pth == "" || pth == "/" {
		return
	}
	for _, s := range Skipped {
		if pth == s || strings.HasPrefix(pth, s+"/") {
			return
		}
	}
	p.out = append(p.out, scenario.TraceEntry{Op: op, Path: pth, Off: off, Len: n})
}

// emitMap records a mapping (an mmap, an exec) of pth: a read entry marked Mapped.
func (p *parser) emitMap(pth string, off, n int64) {
	k := len(p.out)
	p.emit(scenario.TraceRead, pth, off, n)
	if len(p.out) > k {
		p.out[k].Mapped = true
	}
}

// lookup records a path lookup's outcome: a hit, or a miss when the path (or a directory on it)
// does not exist.
func (p *parser) lookup(pth string, n int64, errno string) {
	switch {
	case n >= 0:
		p.emit(scenario.TraceStat, pth, 0, 0)
	case errno == "ENOENT" || errno == "ENOTDIR":
		p.emit(scenario.TraceMiss, pth, 0, 0)
	}
}

func (p *parser) call(pid, name string, args []string, ret string) {
	n, errno, deco := result(ret)
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	key := func(fd string) string { return pid + " " + fdOf(fd) }
	switch name {
	case "open", "openat", "openat2", "creat":
		dir, pa, flags := "", arg(0), arg(1)
		if name != "open" && name != "creat" {
			dir, pa, flags = arg(0), arg(1), arg(2)
		}
		pth := p.resolve(dir, pa)
		if name == "creat" || strings.Contains(flags, "O_WRONLY") || strings.Contains(flags, "O_RDWR") || strings.Contains(flags, "O_CREAT") {
			return // a write: the program's own files, not the image's
		}
		if n < 0 {
			p.lookup(pth, n, errno)
			return
		}
		if d, ok := decoration(deco); ok {
			if ip := p.image(d); ip != "" {
				pth = ip // the file itself, symlinks resolved
			}
		}
		p.pos[pid+" "+strconv.FormatInt(n, 10)] = 0
		if !strings.Contains(flags, "O_DIRECTORY") {
			p.emit(scenario.TraceOpen, pth, 0, 0)
		} else {
			p.emit(scenario.TraceStat, pth, 0, 0)
		}
	case "stat", "lstat", "access", "readlink":
		pth := p.resolve("", arg(0))
		if name == "readlink" && n >= 0 {
			p.emit(scenario.TraceReadlink, pth, 0, 0)
			return
		}
		p.lookup(pth, n, errno)
	case "newfstatat", "statx", "faccessat", "faccessat2", "readlinkat":
		if q, _ := unquote(arg(1)); q == "" {
			return // fstat of an open file: no lookup
		}
		pth := p.resolve(arg(0), arg(1))
		if name == "readlinkat" && n >= 0 {
			p.emit(scenario.TraceReadlink, pth, 0, 0)
			return
		}
		p.lookup(pth, n, errno)
	case "execve", "execveat":
		pth := p.resolve("", arg(0))
		if name == "execveat" {
			pth = p.resolve(arg(0), arg(1))
		}
		p.lookup(pth, n, errno)
		if n >= 0 && pth != "" {
			// The kernel maps the executable (its pages are read as they are run): counted whole.
			if sz := p.size(pth); sz > 0 {
				p.emitMap(pth, 0, sz)
			}
		}
	case "read", "readv":
		d, ok := decoration(arg(0))
		if !ok || n <= 0 {
			return
		}
		k := key(arg(0))
		off := p.pos[k]
		p.pos[k] = off + n
		p.emit(scenario.TraceRead, p.image(d), off, n)
	case "pread64", "preadv":
		d, ok := decoration(arg(0))
		if !ok || n <= 0 {
			return
		}
		off, _ := strconv.ParseInt(arg(len(args)-1), 0, 64)
		p.emit(scenario.TraceRead, p.image(d), off, n)
	case "lseek":
		if n >= 0 {
			p.pos[key(arg(0))] = n
		}
	case "close":
		delete(p.pos, key(arg(0)))
	case "mmap":
		d, ok := decoration(arg(4))
		if !ok || n == -1 {
			return
		}
		length, _ := strconv.ParseInt(arg(1), 0, 64)
		off, _ := strconv.ParseInt(arg(5), 0, 64)
		if length > 0 {
			p.emitMap(p.image(d), off, length)
		}
	}
}
