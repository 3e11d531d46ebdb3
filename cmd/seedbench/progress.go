package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/replay"
)

// progress renders replay status on stderr: a live line with done/total and an ETA when stderr is a
// terminal, one plain line per phase change otherwise, nothing with -q.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	tty      bool
	quiet    bool
	last     string
	start    time.Time
	phaseT0  time.Time
	lastDraw time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
		tty = err == nil
	}
	now := time.Now()
	return &progress{w: w, tty: tty, quiet: quiet, start: now, phaseT0: now}
}

func (p *progress) Update(s replay.Status) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := s.Phase + " " + s.What
	now := time.Now()
	if key != p.last {
		p.phaseT0 = now
	}
	elapsed := now.Sub(p.start).Round(time.Second)
	if !p.tty {
		if key != p.last {
			drv := ""
			if s.Driver != "" {
				drv = " [" + s.Driver + "]"
			}
			fmt.Fprintf(p.w, "seedbench: %6s %s: %s%s\n", elapsed, s.Phase, s.What, drv)
		}
		p.last = key
		return
	}
	p.last = key
	if now.Sub(p.lastDraw) < 100*time.Millisecond && s.Done != s.Total {
		return
	}
	p.lastDraw = now
	eta := ""
	if s.Total > 0 && s.Done > 0 && s.Done < s.Total {
		per := now.Sub(p.phaseT0) / time.Duration(s.Done)
		eta = fmt.Sprintf(" ETA %s", (per * time.Duration(s.Total-s.Done)).Round(time.Second))
	}
	drv := s.Driver
	if drv == "" {
		drv = "all drivers"
	}
	fmt.Fprintf(p.w, "\r\033[K%6s  %-10s %-24.24s %-18.18s %d/%d%s", elapsed, s.Phase, s.What, drv, s.Done, s.Total, eta)
}

// done ends the live line.
func (p *progress) done() {
	if p.tty && !p.quiet {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
