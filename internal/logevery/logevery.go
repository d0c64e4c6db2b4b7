// Package logevery spaces the log lines of an event that a peer can
// repeat at will — a refused call, a refused connection, a failed TLS
// handshake — so that it cannot flood the log: one line a second at
// most, which says how many went unlogged before it. The exact counts
// are the callers' metrics and stats; this only decides when to write.
package logevery

import (
	"sync"
	"time"
)

// Interval is the least time between two lines of one Limiter.
const Interval = time.Second

// Field is the name of the log field that carries the count Note
// returns, the same for every throttled line so that one query finds
// them all.
const Field = "refused_since_last_logged"

// Limiter decides when one kind of event is logged. The zero value is
// ready: its first event is logged.
type Limiter struct {
	mu     sync.Mutex // guards the fields below
	last   time.Time
	unsaid uint64
}

// Note records one event at now; ok says to log it, with n the events
// since the last one logged (this one included).
func (l *Limiter) Note(now time.Time) (n uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unsaid++
	if !l.last.IsZero() && now.Sub(l.last) < Interval {
		return 0, false
	}
	n, l.unsaid, l.last = l.unsaid, 0, now
	return n, true
}
