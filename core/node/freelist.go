package node

import "sync"

// freeList keeps up to max spare scratch objects for reuse. Unlike a
// sync.Pool it never drops them at garbage collection (the receive scratch
// holds megabytes of device buffers that should not be rebuilt after every
// GC cycle), and it bounds what it keeps: one object per concurrent caller
// up to max, the rest go to the collector.
type freeList[T any] struct {
	mu    sync.Mutex
	items []*T
	max   int
	fresh func() *T
}

func newFreeList[T any](max int, fresh func() *T) *freeList[T] {
	return &freeList[T]{items: make([]*T, 0, max), max: max, fresh: fresh}
}

// get returns a spare object or a fresh one.
func (f *freeList[T]) get() *T {
	f.mu.Lock()
	if k := len(f.items); k > 0 {
		x := f.items[k-1]
		f.items[k-1] = nil
		f.items = f.items[:k-1]
		f.mu.Unlock()
		return x
	}
	f.mu.Unlock()
	return f.fresh()
}

// put returns x for reuse, or drops it when max spares are kept.
func (f *freeList[T]) put(x *T) {
	f.mu.Lock()
	if len(f.items) < f.max {
		f.items = append(f.items, x)
	}
	f.mu.Unlock()
}
