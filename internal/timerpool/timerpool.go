package timerpool

import (
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
