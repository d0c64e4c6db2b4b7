// Package timerpool recycles timers for the per-call waits of the hot
// paths (a delegation's timeout, a WaitReply's wait): time.NewTimer costs
// three allocations, a recycled timer none.
//
// It relies on the timer semantics of Go 1.23 and later: after Stop or
// Reset, no value from before can be received, so a recycled timer never
// fires early.
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
