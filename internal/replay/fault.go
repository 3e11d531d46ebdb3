package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/seedbench/seedbench/internal/measure"
)

// spin busy-waits for d: a time the machine really spends, as a slower call would.
func spin(d time.Duration) {
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}

// injectWrites writes the bytes the write faults add to step into each driver's backing (fsynced,
// and dropped from the page cache, so no page-cache figure counts them).
func (e *engine) injectWrites(step string) {
	for _, f := range e.opt.Faults {
		if f.Bytes == 0 || !strings.HasPrefix(step, f.Step) {
			continue
		}
		for _, d := range e.active() {
			if !f.Faults(d.info.Name) || d.hidden() { // a hidden backing has nothing of ours to write into
				continue
			}
			path := filepath.Join(d.inst.Backing().Path, fmt.Sprintf("seedbench-fault-%d", e.rec.seq))
			if err := writeFault(path, f.Bytes); err != nil {
				d.fail(fmt.Errorf("fault %s: %w", f.Spec, err))
			}
		}
	}
}

func writeFault(path string, n int64) error {
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for left := n; left > 0; left -= int64(len(buf)) {
		if _, err := w.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			w.Close()
			return err
		}
	}
	if err := w.Sync(); err != nil {
		w.Close()
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	_, err = measure.Evict(path)
	return err
}
