package timerpool

import (
	"context"
	"sync"
	"time"
)

var pool sync.Pool

// Get returns a running timer that fires after d.
func Get(d time.Duration) *time.Timer {
	if t, ok := pool.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

// Put stops t and keeps it for reuse. t must not be used after.
func Put(t *time.Timer) {
	t.Stop()
	pool.Put(t)
}

// Sleep waits d, on a recycled timer, unless ctx ends first; it reports
// whether the whole d passed (the retry loops' backoff).
func Sleep(ctx context.Context, d time.Duration) bool {
	t := Get(d)
	defer Put(t)
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
