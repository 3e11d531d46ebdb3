package layer

import (
	"context"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestTmpScale(t *testing.T) {
	pl := debianLayer()
	pl.Files = nil
	tr := mustBuild(t, pl, seed)
	for i := 0; i < 3; i++ {
		d1, _ := os.MkdirTemp(os.Getenv("PHDIR"), "sc-")
		d2, _ := os.MkdirTemp(os.Getenv("PHDIR"), "sc-")
		defer os.RemoveAll(d1)
		defer os.RemoveAll(d2)
		c0 := cpuTime()
		t0 := time.Now()
		tr.Apply(context.Background(), d1, ApplyOptions{Workers: 1})
		t.Logf("one apply: wall %v cpu %v", time.Since(t0), cpuTime()-c0)
		d3, _ := os.MkdirTemp(os.Getenv("PHDIR"), "sc-")
		defer os.RemoveAll(d3)
		c0 = cpuTime()
		t0 = time.Now()
		var wg sync.WaitGroup
		wg.Go(func() { tr.Apply(context.Background(), d2, ApplyOptions{Workers: 1}) })
		wg.Go(func() { tr.Apply(context.Background(), d3, ApplyOptions{Workers: 1}) })
		wg.Wait()
		t.Logf("two concurrent applies: wall %v cpu %v", time.Since(t0), cpuTime()-c0)
	}
}
