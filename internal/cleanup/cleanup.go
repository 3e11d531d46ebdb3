// Package cleanup is a stack of undo steps. Every resource seedbench creates — a temp dir, a loop
// device, a mount, a snapshot, a daemon — pushes its undo step the moment it exists, so every exit
// path (an error, a panic in a test, Ctrl-C) unwinds them in reverse order.
package cleanup

import (
	"errors"
	"fmt"
	"sync"
)

// Stack holds undo steps; the zero value is ready to use. It is safe for concurrent use.
type Stack struct {
	mu    sync.Mutex
	steps []step
}

type step struct {
	what string
	undo func() error
}

// Push registers undo, described by what (e.g. "unmount /var/tmp/seedbench/x/mnt").
func (s *Stack) Push(what string, undo func() error) {
	s.mu.Lock()
	s.steps = append(s.steps, step{what, undo})
	s.mu.Unlock()
}

// Len is the number of pending steps.
func (s *Stack) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.steps)
}

// Mark returns a position to unwind back to with UnwindTo.
func (s *Stack) Mark() int { return s.Len() }

// Unwind runs every pending step, newest first, and returns all their errors joined. A step that
// fails does not stop the others: leaking less is always better than stopping early.
func (s *Stack) Unwind() error { return s.UnwindTo(0) }

// UnwindTo runs the steps pushed after mark, newest first.
func (s *Stack) UnwindTo(mark int) error {
	var errs []error
	for {
		s.mu.Lock()
		if len(s.steps) <= mark {
			s.mu.Unlock()
			break
		}
		st := s.steps[len(s.steps)-1]
		s.steps = s.steps[:len(s.steps)-1]
		s.mu.Unlock()
		if err := st.undo(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.what, err))
		}
	}
	return errors.Join(errs...)
}

// Release drops the steps pushed after mark without running them: ownership passed elsewhere.
func (s *Stack) Release(mark int) {
	s.mu.Lock()
	if len(s.steps) > mark {
		s.steps = s.steps[:mark]
	}
	s.mu.Unlock()
}
