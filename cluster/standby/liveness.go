package standby

import (
	"net"
	"sync"
	"time"
)

// liveness is what the front knows of whether the owner answers. The
// ownership key outlives an owner that crashed by up to its lease, and a
// forward to a dead owner sends an omniORB client into its
// TRANSIENT_FailedOnForwarded back-off — 0, 1, 2, … s between rounds
// (giop/SPEC.md, "omniORB 4.2.5 when a server goes away") — so the front
// forwards only to an owner whose address accepted a connection lately,
// and holds the call otherwise.
type liveness struct {
	dial func(addr string) error

	mu      sync.Mutex // guards the fields below
	addr    string     // the address last asked about
	alive   bool       // whether it accepted a connection at checked
	checked time.Time  // zero: not yet
	probing bool       // a probe of addr is in flight: one at a time
}

// Probe timings: a probe is a TCP connect on loopback or a LAN, answered
// in well under its timeout; its result serves every call for probeEvery.
// Four a second from each standby is nothing to an owner, and bounds how
// late a dead owner's first refusal is seen.
const (
	probeEvery   = 250 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
)

func newLiveness() *liveness {
	return &liveness{dial: func(addr string) error {
		c, err := net.DialTimeout("tcp", addr, probeTimeout)
		if err == nil {
			c.Close()
		}
		return err
	}}
}

// answers reports whether addr is taken to accept connections. When the
// last probe is stale and probe is set, the caller probes it now (a call's
// handler may block for that; a connection's reader may not, and takes
// the last answer — an address not yet probed is taken to answer).
func (l *liveness) answers(addr string, probe bool) bool {
	l.mu.Lock()
	if addr != l.addr {
		l.addr, l.alive, l.checked, l.probing = addr, true, time.Time{}, false
	}
	if !probe || l.probing || (!l.checked.IsZero() && time.Since(l.checked) < probeEvery) {
		alive := l.alive
		l.mu.Unlock()
		return alive
	}
	l.probing = true
	l.mu.Unlock()
	err := l.probe(addr)
	l.mu.Lock()
	l.probing = false
	l.mu.Unlock()
	return err == nil
}

// probe dials addr now and keeps the answer. Its callers are the front's
// one watcher and at most one call's handler (probing), so probes stay at
// most two at a time.
func (l *liveness) probe(addr string) error {
	err := l.dial(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr, l.alive, l.checked = addr, err == nil, time.Now()
	return err
}
