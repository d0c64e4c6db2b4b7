package standby

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// liveness is what the front knows of whether the owner answers. The
// ownership key outlives an owner that crashed by up to its lease, and a
// forward to a dead owner sends an omniORB client into its
// TRANSIENT_FailedOnForwarded back-off — 0, 1, 2, … s between rounds
// (giop/SPEC.md, "omniORB 4.2.5 when a server goes away") — so the front
// forwards only to an owner whose address answered GIOP lately,
// and holds the call otherwise.
//
// A connect alone does not say the owner answers: the kernel of an owner
// frozen by SIGSTOP or a paused VM still completes connects into its
// backlog, and a client forwarded there would wait for good. So a probe
// is a GIOP exchange — a LocateRequest, answered by the owner's
// connection reader whatever its handlers are doing — and an owner
// alive is one that answered it within probeTimeout.
type liveness struct {
	dial func(addr string) error

	mu      sync.Mutex // guards the fields below
	addr    string     // the address last asked about
	alive   bool       // whether it answered a probe at checked
	checked time.Time  // zero: not yet
	probing bool       // a probe of addr is in flight: one at a time
}

// Probe timings: a probe is a TCP connect and a LocateRequest on loopback
// or a LAN, answered in well under its timeout; its result serves every
// call for probeEvery. Four a second from each standby is nothing to an
// owner, and bounds how late a dead owner's first refusal is seen.
const (
	probeEvery   = 250 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
)

func newLiveness() *liveness { return &liveness{dial: probeGIOP} }

// probeKey is the key a probe asks about: any key is answered, by a
// LocateReply (or a MessageError), which is all a probe reads.
var probeKey = []byte("RequestAgent")

// probeGIOP reports whether addr answers a GIOP LocateRequest within
// probeTimeout, from the connect to the reply's header.
func probeGIOP(addr string) error {
	c, err := net.DialTimeout("tcp", addr, probeTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(probeTimeout))
	if _, err := c.Write(giop.NewEncoder(giop.V1_2, false).EncodeLocateRequest(giop.V1_2, 1, probeKey)); err != nil {
		return err
	}
	hdr := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return err
	}
	h, err := giop.ParseHeader(hdr)
	if err != nil {
		return err
	}
	if h.Size > probeMaxReply {
		return errors.New("standby: a probe's answer too large for a LocateReply")
	}
	// Read whole, so that closing leaves nothing unread to reset the
	// owner's end of the connection with.
	_, err = io.CopyN(io.Discard, c, int64(h.Size))
	return err
}

// probeMaxReply bounds the answer a probe reads: a LocateReply's body is
// its header and, at most, a forward's reference.
const probeMaxReply = 64 << 10

// answers reports whether addr is taken to answer GIOP. When the last
// probe is stale and probe is set, the caller probes it now (a call's
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

// probe probes addr now and keeps the answer. Its callers are the front's
// one watcher and at most one call's handler (probing), so probes stay at
// most two at a time. A refused connect is the dial's error as it is
// (syscall.ECONNREFUSED), which watchOwner tells apart.
func (l *liveness) probe(addr string) error {
	err := l.dial(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addr, l.alive, l.checked = addr, err == nil, time.Now()
	return err
}
