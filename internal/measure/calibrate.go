package measure

import (
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/stats"
)

// Calibration is one reading of the machine's speed at two fixed tasks: StatNs, the mean time of a
// warm stat(2) of one file (CPU and syscall speed), and SyncNs, the median time of rewriting 4 KiB of
// that file and fdatasync(2)ing it (the device's flush latency). Both are properties of the machine
// at that moment, not of any driver: the engine reads them between sample rounds, and their spread
// over a run is how much the machine itself drifted while the samples were taken.
type Calibration struct {
	StatNs, SyncNs float64
}

// Calibration sizes: about 2 ms of stats and four flushes (a few ms) per reading.
const (
	calStats = 1000
	calSyncs = 4
)

// Calibrator takes Calibrations with its own file (one 4 KiB block).
type Calibrator struct {
	f    *os.File
	path string
	buf  []byte
}

// NewCalibrator creates its file at path; Close removes it.
func NewCalibrator(path string) (*Calibrator, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	c := &Calibrator{f: f, path: path, buf: make([]byte, 4096)}
	for i := range c.buf {
		c.buf[i] = byte(i*7 + 1)
	}
	if _, err := f.WriteAt(c.buf, 0); err != nil {
		c.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Read takes one Calibration. A task that fails reads as 0 (and is left out of the drift).
func (c *Calibrator) Read() Calibration {
	var cal Calibration
	var st unix.Stat_t
	fstat := func() error { return unix.Fstatat(unix.AT_FDCWD, c.path, &st, 0) }
	for range calStats / 10 { // warm the dentry and the inode
		if fstat() != nil {
			return cal
		}
	}
	t0 := time.Now()
	for range calStats {
		_ = fstat()
	}
	cal.StatNs = float64(time.Since(t0).Nanoseconds()) / calStats
	var syncs []float64
	fd := int(c.f.Fd())
	for i := range calSyncs {
		c.buf[0] = byte(i)
		t0 := time.Now()
		if _, err := unix.Pwrite(fd, c.buf, 0); err != nil {
			return cal
		}
		if err := unix.Fdatasync(fd); err != nil {
			return cal
		}
		syncs = append(syncs, float64(time.Since(t0).Nanoseconds()))
	}
	cal.SyncNs = stats.Median(syncs)
	return cal
}

// Close closes and removes the file.
func (c *Calibrator) Close() error {
	err := c.f.Close()
	if rerr := os.Remove(c.path); err == nil {
		err = rerr
	}
	return err
}
