// Package proc supervises a process a driver instance starts and stops — a private containerd, a
// private snapshots server — so that a call failing because it died can say so, and stopping it is
// SIGTERM, then SIGKILL.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Process is a started daemon, its exit watched.
type Process struct {
	// Name says what it is in errors ("containerd", "snapshots server"); Detail follows its PID
	// (its binary, the driver it serves); Log is where its output goes.
	Name, Detail, Log string
	// Clean: a daemon that exits non-zero after SIGTERM failed to undo what it holds, and Stop says
	// so.
	Clean bool

	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has exited (err is set then)
	waitErr error
}

// Start starts cmd in a process group of its own — a ^C at the terminal reaches seedbench, which
// stops the daemon after undoing what depends on it, not the daemon first — and watches its exit.
func Start(cmd *exec.Cmd, p *Process) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return nil
}

// PID is the daemon's process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the daemon has exited; WaitErr is how, then.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// WaitErr is how the daemon exited (after Exited is closed).
func (p *Process) WaitErr() error { return p.waitErr }

// Dead reports whether the daemon has exited.
func (p *Process) Dead() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// Explain adds to err, from a call to the daemon, that the daemon has exited, if it has.
func (p *Process) Explain(err error) error {
	select {
	case <-p.exited:
	case <-time.After(100 * time.Millisecond): // a dying daemon's socket refuses before Wait returns
		return err
	}
	return fmt.Errorf("the private %s %d (%s) has exited (%v): %w", p.Name, p.PID(), p.Detail, p.waitErr, err)
}

// Stop ends the daemon: SIGTERM, then SIGKILL after timeout. A daemon that had exited on its own
// (killed mid-run) is an error naming its log.
func (p *Process) Stop(timeout time.Duration) error {
	if p.cmd == nil {
		return nil
	}
	select {
	case <-p.exited:
		return fmt.Errorf("the private %s %d (%s) had exited during the run (%v): %s", p.Name, p.PID(), p.Detail, p.waitErr, p.LogTail())
	default:
	}
	_ = p.cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-p.exited:
		if p.Clean && p.waitErr != nil {
			return fmt.Errorf("the private %s %d (%s) failed to stop cleanly (%v): %s", p.Name, p.PID(), p.Detail, p.waitErr, p.LogTail())
		}
		return nil
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return fmt.Errorf("the private %s %d (%s) did not exit within %v of SIGTERM: killed (log: %s)", p.Name, p.PID(), p.Detail, timeout, p.Log)
}

// LogTail is the last lines of the daemon's log, for an error.
func (p *Process) LogTail() string { return LogTail(p.Log) }

// LogTail is the last lines of the log at path, joined on one line for an error.
func LogTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return "no log output (" + path + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	return strings.Join(lines, " | ") + " (log: " + path + ")"
}
