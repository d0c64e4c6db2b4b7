package giop

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outbound connections of a Client (SPEC.md, "Clients").
//
// A connection is cached by the resolved address it goes to, not by how a
// reference spells its host: ::ffff:127.0.0.1, 0:0:0:0:0:ffff:7f00:1 and
// 127.0.0.1 are one endpoint, so no reference can make the client open a
// connection per spelling. Every call is offered to the client's Guard
// with that address first, before a cached connection is reused or a new
// one dialled. Connections idle for IdleTimeout are closed, and at most
// MaxOutbound are open at once.

// Guard decides whether a call may go to a profile at a resolved address
// (the agent refuses its own addresses and objects with one). A non-nil
// error refuses that address: the call tries the profile's other
// resolved addresses, and fails with the error — as a *SystemException
// if it is one, else NO_PERMISSION completed NO — when none is left. It
// is called for every call and every LOCATION_FORWARD hop, so it must be
// cheap and safe for concurrent use.
type Guard func(prof *IIOPProfile, addr netip.AddrPort) error

// SetGuard sets the client's Guard (nil: every address is allowed).
func (c *Client) SetGuard(g Guard) {
	c.mu.Lock()
	c.guard = g
	c.mu.Unlock()
}

// Allowed reports the Guard's refusal of a call to ref, without making
// one: nil when one of the addresses its host resolves to is allowed (or
// it cannot be resolved now — a call would fail as not sent).
func (c *Client) Allowed(ctx context.Context, ref *IOR) error {
	prof, err := ref.CallProfile()
	if err != nil {
		return nil
	}
	c.mu.Lock()
	guard := c.guard
	port, _ := prof.callPort(c.tls != nil)
	c.mu.Unlock()
	if guard == nil {
		return nil
	}
	var literal [2]netip.Addr
	ips, err := c.resolve(ctx, prof.Host, literal[:0])
	if err != nil {
		return nil
	}
	var refused error
	for _, ip := range ips {
		if refused = guard(prof, netip.AddrPortFrom(ip, port)); refused == nil {
			return nil
		}
	}
	return refusal(refused)
}

// epKey names an endpoint: a server address, the GIOP minor version its
// connection speaks, and whether that connection negotiates no wchar code
// set. Calls at 1.2 — all of them, but for relayed bodies of older
// versions (Invocation.BodyVersion) — share one connection per address.
// A relayed 1.0 or 1.1 body gets a connection of its version because the
// code sets a server applies depend on it: omniORB takes a negotiation to
// hold only for the GIOP version it was made in, and a 1.0 request on a
// connection negotiated in 1.2 uses that negotiation (codeSets.cc), where
// the sender of a 1.0 body meant ISO-8859-1 (SPEC.md).
type epKey struct {
	addr   netip.AddrPort
	minor  uint8
	narrow bool
	tls    bool // a TLS connection (tls.go)
}

// endpoint is one server address. Its mutex serialises dialling, so that
// concurrent first calls share one connection.
type endpoint struct {
	key  epKey
	addr netip.AddrPort
	mu   sync.Mutex // held while dialling
	conn atomic.Pointer[Conn]
	// uses counts the calls given conn: the sweeper sees a connection is
	// idle by its count not moving between two sweeps.
	uses atomic.Uint64
	seen uint64 // uses at the last sweep; the sweeper's own
}

// errIdleClosed is why a connection the client closed for idleness is
// closed; a call that picked it just before is retried on a new one.
var errIdleClosed = fmt.Errorf("%w: closed after being idle", ErrConnClosed)

// Resolution cache bounds: how long a host name's addresses are kept,
// and how many names at most.
const (
	resolveTTL = 30 * time.Second
	maxHosts   = 4096
)

type resolution struct {
	addrs   []netip.Addr
	expires time.Time
}

// resolve returns the addresses of a host from the wire: an IP literal
// as it is (an IPv4-mapped IPv6 address as IPv4), appended to buf, which
// spares every call to an address an allocation; a name through the
// resolver, cached for resolveTTL (the cache's slice, not to be changed).
// An unspecified address becomes the loopback addresses a dial of it
// reaches (Dialable), so that what the Guard judges is what is dialled.
func (c *Client) resolve(ctx context.Context, host string, buf []netip.Addr) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return Dialable(buf[:0], ip.Unmap()), nil
	}
	now := time.Now()
	c.mu.Lock()
	r, ok := c.hosts[host]
	c.mu.Unlock()
	if ok && now.Before(r.expires) {
		return r.addrs, nil
	}
	rctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
	if err != nil {
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo,
			cause: fmt.Errorf("giop: resolve %q: %w", host, err)}
	}
	out := addrs[:0:0]
	for _, a := range addrs {
		out = Dialable(out, a.Unmap())
	}
	addrs = out
	c.mu.Lock()
	if len(c.hosts) >= maxHosts {
		clear(c.hosts)
	}
	c.hosts[host] = resolution{addrs: addrs, expires: now.Add(resolveTTL)}
	c.mu.Unlock()
	return addrs, nil
}

// Dialable appends to buf the addresses a dial of ip connects to: ip
// itself, but for the unspecified addresses, which Go's dialer (as the
// kernel) takes for this host: 0.0.0.0 is 127.0.0.1, and :: is ::1 or —
// Go falls back to it — 127.0.0.1. Judged as given, "[::]" passed a rule
// against 127.0.0.0/8 and then reached 127.0.0.1.
func Dialable(buf []netip.Addr, ip netip.Addr) []netip.Addr {
	switch ip {
	case netip.IPv4Unspecified():
		return append(buf, loopback4)
	case netip.IPv6Unspecified():
		return append(buf, netip.IPv6Loopback(), loopback4)
	}
	return append(buf, ip)
}

// loopback4 is 127.0.0.1.
var loopback4 = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// connFor returns a connection to the profile's endpoint and the GIOP
// version to speak: a cached one to any of the host's allowed addresses,
// or a new one to the first that answers.
func (c *Client) connFor(ctx context.Context, prof *IIOPProfile, body Version) (*Conn, Version, error) {
	v := prof.Version
	if !v.Supported() || v.Minor > 2 {
		v = V1_2
	}
	narrow := false
	if body.Supported() && body.Minor < v.Minor {
		v.Minor = body.Minor
	}
	if body.Supported() {
		narrow = body.Minor == 2 && v.Minor == 1
	}
	c.mu.Lock()
	guard := c.guard
	port, useTLS := prof.callPort(c.tls != nil)
	c.mu.Unlock()
	var literal [2]netip.Addr
	ips, err := c.resolve(ctx, prof.Host, literal[:0])
	var allowed [4]netip.AddrPort
	addrs := allowed[:0]
	var refused error
	for _, ip := range ips {
		ap := netip.AddrPortFrom(ip, port)
		if guard != nil {
			if err := guard(prof, ap); err != nil {
				refused = err
				continue
			}
		}
		addrs = append(addrs, ap)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, v, &SystemException{Name: ExcBadInvOrder, Completed: CompletedNo, cause: ErrConnClosed}
	}
	if conn := c.openLocked(addrs, v, narrow, useTLS); conn != nil {
		c.mu.Unlock()
		return conn, v, nil
	}
	c.mu.Unlock()
	// No connection open to the profile's own address: its
	// TAG_ALTERNATE_IIOP_ADDRESS addresses (CORBA 3.0 §13.6.10.3: the same
	// object at another address, in no prescribed order), over clear text,
	// which is what they name — tried in turn when the profile's own
	// address cannot be reached, as omniORB does, so that a reference
	// carrying several agents' addresses outlives any one of them
	// (docs/cluster.md). Resolved only here, off the path of a call that
	// has its connection.
	var alts []netip.AddrPort
	if !useTLS && hasAlternates(prof) {
		alts = c.alternates(ctx, prof, guard)
	}
	if len(addrs) == 0 && len(alts) == 0 {
		if err != nil {
			return nil, v, err
		}
		return nil, v, refusal(refused)
	}
	if len(alts) > 0 {
		// A connection already open to an alternate serves before the
		// primary is dialled again: one that failed over stays over.
		c.mu.Lock()
		conn := c.openLocked(alts, v, narrow, useTLS)
		c.mu.Unlock()
		if conn != nil {
			return conn, v, nil
		}
	}
	last := err // the primary's resolution, if it failed
	for _, ap := range addrs {
		conn, err := c.dial(ctx, epKey{ap, v.Minor, narrow, useTLS}, prof.Host)
		if err == nil {
			return conn, v, nil
		}
		last = err
	}
	for _, ap := range alts {
		conn, err := c.dial(ctx, epKey{ap, v.Minor, narrow, useTLS}, ap.Addr().String())
		if err == nil {
			return conn, v, nil
		}
		last = err
	}
	return nil, v, last
}

// openLocked returns an open connection the client holds to one of addrs
// at version v, or nil; it counts the use. c.mu must be held.
func (c *Client) openLocked(addrs []netip.AddrPort, v Version, narrow, useTLS bool) *Conn {
	for _, ap := range addrs {
		if ep := c.endpoints[epKey{ap, v.Minor, narrow, useTLS}]; ep != nil {
			if conn := ep.conn.Load(); conn != nil && conn.Err() == nil {
				ep.uses.Add(1)
				return conn
			}
		}
	}
	return nil
}

// hasAlternates reports whether the profile names alternate addresses.
func hasAlternates(prof *IIOPProfile) bool {
	for _, c := range prof.Components {
		if c.Tag == TagAlternateIIOPAddress {
			return true
		}
	}
	return false
}

// alternates resolves the profile's alternate addresses, those the guard
// allows, in the profile's order, at most maxAlternates.
func (c *Client) alternates(ctx context.Context, prof *IIOPProfile, guard Guard) []netip.AddrPort {
	var out []netip.AddrPort
	first := true
	prof.eachAddress(func(a AlternateAddress) bool {
		if first { // the profile's own address
			first = false
			return true
		}
		var buf [2]netip.Addr
		ips, err := c.resolve(ctx, a.Host, buf[:0])
		if err != nil {
			return true
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip, a.Port)
			if guard != nil && guard(prof, ap) != nil {
				continue
			}
			out = append(out, ap)
		}
		return len(out) < maxAlternates
	})
	return out
}

// maxAlternates bounds the alternate addresses a call tries: an IOR from
// the wire may carry any number.
const maxAlternates = 8

// refusal is the error of a call whose every address the guard refused.
func refusal(err error) error {
	if x, ok := err.(*SystemException); ok {
		return x
	}
	return &SystemException{Name: ExcNoPermission, Completed: CompletedNo, cause: err}
}

// dial returns the endpoint's connection, opening it if needed; host is
// the name a TLS connection verifies the server's certificate for.
func (c *Client) dial(ctx context.Context, key epKey, host string) (*Conn, error) {
	ap := key.addr
	ep, err := c.endpointFor(key)
	if err != nil {
		return nil, err
	}
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if conn := ep.conn.Load(); conn != nil && conn.Err() == nil {
		ep.uses.Add(1)
		return conn, nil
	}
	c.mu.Lock()
	handler, offer := c.handler, c.offer
	c.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.dialer.DialContext(dctx, "tcp", ap.String())
	if err != nil {
		c.dropEndpoint(ep, nil)
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo,
			cause: fmt.Errorf("giop: connect to %s: %w", ap, err)}
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	if key.tls {
		if nc, err = c.handshake(dctx, nc, strings.Trim(host, "[]"), key); err != nil {
			c.dropEndpoint(ep, nil)
			return nil, err
		}
	}
	conn := newConnOffering(nc, c.cfg, handler, false, offer)
	conn.narrow = key.narrow
	conn.onClose = func(conn *Conn) { c.dropEndpoint(ep, conn) }
	ep.conn.Store(conn)
	ep.uses.Add(1)
	conn.start()
	c.cfg.Logger.Debug().Stringer("peer", ap).Msg("giop: connected")
	return conn, nil
}

// endpointFor returns the endpoint of an address, making it if there is
// room under MaxOutbound — closing an idle connection to make room if
// need be.
func (c *Client) endpointFor(key epKey) (*endpoint, error) {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, &SystemException{Name: ExcBadInvOrder, Completed: CompletedNo, cause: ErrConnClosed}
		}
		if ep := c.endpoints[key]; ep != nil {
			c.mu.Unlock()
			return ep, nil
		}
		if len(c.endpoints) < c.cfg.MaxOutbound {
			ep := &endpoint{key: key, addr: key.addr}
			c.endpoints[key] = ep
			c.startSweeper()
			c.mu.Unlock()
			return ep, nil
		}
		eps := make([]*endpoint, 0, len(c.endpoints))
		for _, ep := range c.endpoints {
			eps = append(eps, ep)
		}
		c.mu.Unlock()
		if attempt == 0 && closeOneIdle(eps) {
			continue
		}
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo,
			cause: fmt.Errorf("%w: %d outbound connections open (MaxOutbound)", ErrLimit, c.cfg.MaxOutbound)}
	}
}

// closeOneIdle closes one connection that carries no call, if any does
// not; its endpoint goes with it.
func closeOneIdle(eps []*endpoint) bool {
	for _, ep := range eps {
		if conn := ep.conn.Load(); conn != nil && conn.closeIfIdle() {
			return true
		}
	}
	return false
}

// dropEndpoint forgets an endpoint whose connection closed (conn), or
// whose dial failed (conn nil), unless it has another connection by now.
func (c *Client) dropEndpoint(ep *endpoint, conn *Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endpoints[ep.key] == ep && ep.conn.Load() == conn {
		delete(c.endpoints, ep.key)
	}
}

// closeIfIdle closes the connection if it carries no call either way,
// reporting whether it did. A call that picked it meanwhile finds it
// closed before anything is sent, and is retried on a new one.
func (c *Conn) closeIfIdle() bool {
	c.mu.Lock()
	if c.closed || len(c.pending) > 0 || len(c.serving) > 0 {
		c.mu.Unlock()
		return false
	}
	c.closeLocked(errIdleClosed)
	return true
}

// startSweeper starts the goroutine that closes idle connections, once.
// A client that offers bidirectional GIOP keeps its connections: they
// are how its server calls it back. c.mu must be held.
func (c *Client) startSweeper() {
	if c.sweeping || len(c.offer) > 0 {
		return
	}
	c.sweeping = true
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.sweep()
	}()
}

// sweep closes, every IdleTimeout/2, the connections that carried no
// call since the sweep before, until the client closes: a connection is
// idle for between IdleTimeout/2 and IdleTimeout before it goes.
func (c *Client) sweep() {
	t := time.NewTicker(c.cfg.IdleTimeout / 2)
	defer t.Stop()
	var eps []*endpoint
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		c.mu.Lock()
		eps = eps[:0]
		for _, ep := range c.endpoints {
			eps = append(eps, ep)
		}
		c.mu.Unlock()
		for _, ep := range eps {
			conn := ep.conn.Load()
			if conn == nil {
				continue
			}
			if u := ep.uses.Load(); u != ep.seen {
				ep.seen = u
				continue
			}
			if conn.closeIfIdle() {
				c.cfg.Logger.Debug().Stringer("peer", ep.addr).Msg("giop: idle connection closed")
			}
		}
		clear(eps)
	}
}

// OutboundStats are a Client's connection counters.
type OutboundStats struct {
	// Open is how many outbound connections are open or being opened.
	Open int
	// TLSHandshakeFailures counts TLS handshakes with servers that failed
	// (a certificate that does not verify, ours refused, a timeout).
	TLSHandshakeFailures uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() OutboundStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return OutboundStats{Open: len(c.endpoints), TLSHandshakeFailures: c.tlsFailures.Load()}
}
