package admin

import (
	"net"
	"sync"
)

// DefaultMaxConnections is how many admin connections are open at once
// unless Config says otherwise: enough for a Prometheus, a few operators
// and their scripts.
const DefaultMaxConnections = 64

// limitListener lets at most cap(slots) accepted connections be open at
// once. Beyond that Accept waits for one to close, and new connections
// wait in the kernel's backlog, so that a local process opening
// thousands of admin connections costs the agent no more than
// cap(slots) of them (their headers must come within ReadHeaderTimeout,
// an idle one is closed after IdleTimeout).
type limitListener struct {
	net.Listener
	slots     chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{})}
}

// Accept waits for a free slot, then for a connection.
func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, free: func() { <-l.slots }}, nil
}

// Close stops Accept, including one waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back once, when first closed.
type limitConn struct {
	net.Conn
	once sync.Once
	free func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.free)
	return err
}
