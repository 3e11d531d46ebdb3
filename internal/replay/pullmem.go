package replay

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapSampler watches the process's Go heap while a pull and its start run: a lazy snapshotter in
// process (stargz, SOCI) keeps its caches — fetched chunks or spans, the layers' metadata — in the
// Go heap, and a full pull's fetcher its buffers, so the heap's growth over what it held before the
// pull is what the pull costs in memory (the shaping proxy's buffers, in process too, included).
type heapSampler struct {
	base int64
	stop chan struct{}
	done sync.WaitGroup
	mu   sync.Mutex
	peak int64
}

var heapObjects = "/memory/classes/heap/objects:bytes"

func heapBytes() int64 {
	s := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64())
}

// startHeap collects garbage, takes the heap's live bytes as the baseline, and samples the heap
// (live and not yet collected objects) every 5 ms until peak is called.
func startHeap() *heapSampler {
	runtime.GC()
	h := &heapSampler{base: heapBytes(), stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			h.sample()
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) sample() {
	b := heapBytes()
	h.mu.Lock()
	h.peak = max(h.peak, b)
	h.mu.Unlock()
}

// end stops sampling and returns the peak over the baseline and, after a collection, what the pull
// still holds (both ≥ 0).
func (h *heapSampler) end() (peak, after int64) {
	close(h.stop)
	h.done.Wait()
	h.sample()
	runtime.GC()
	return max(0, h.peak-h.base), max(0, heapBytes()-h.base)
}
