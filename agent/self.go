package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// The agent never calls itself (docs/limits.md). A target, recipient or
// LOCATION_FORWARD that names one of the agent's own addresses, or one of
// its own live objects at any address, would turn one client call into
// requests without end — each delegation a new stored request — or let a
// client make the agent open connections to itself until its limits are
// gone. The check is the giop client's Guard: it sees the resolved
// address of every call and every forward hop, so no spelling of an
// address (::ffff:127.0.0.1, a host name) gets past it.

// errSelf is why a call to the agent itself is refused.
var errSelf = errors.New("agent: the target, recipient or forward names this agent itself")

// selfRefusal is the exception a call to the agent itself gets.
func selfRefusal() error {
	return giop.NewSystemExceptionCause(giop.ExcNoPermission, nmproto.SelfDelegation, giop.CompletedNo, errSelf)
}

// ownAddrs knows the addresses the agent's listener answers on.
type ownAddrs struct {
	port uint16
	// ip is the listener's address; unspecified when it listens on every
	// interface, and then local holds the host's interface addresses.
	ip netip.Addr

	mu      sync.Mutex // guards local and checked
	local   map[netip.Addr]struct{}
	checked time.Time
}

// localRefresh is how often the interface addresses are read again.
const localRefresh = 30 * time.Second

func newOwnAddrs(ln net.Listener) *ownAddrs {
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	return &ownAddrs{port: ap.Port(), ip: ap.Addr().Unmap()}
}

// has reports whether addr reaches the agent's listener.
func (o *ownAddrs) has(addr netip.AddrPort) bool {
	if addr.Port() != o.port {
		return false
	}
	ip := addr.Addr().Unmap().WithZone("")
	if !o.ip.IsUnspecified() {
		return ip == o.ip
	}
	if ip.IsLoopback() || ip.IsUnspecified() {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if now := time.Now(); o.local == nil || now.Sub(o.checked) > localRefresh {
		o.local, o.checked = interfaceAddrs(), now
	}
	_, ok := o.local[ip]
	return ok
}

// interfaceAddrs returns the host's interface addresses.
func interfaceAddrs() map[netip.Addr]struct{} {
	out := make(map[netip.Addr]struct{})
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out[p.Addr().Unmap().WithZone("")] = struct{}{}
		}
	}
	return out
}

// guard is the giop client's Guard: it refuses the agent's own addresses
// and objects, and the addresses outside the target policy (policy.go).
// The self check goes first, so that a call to the agent itself is
// SELF_DELEGATION whatever the policy says.
func (a *Agent) guard(prof *giop.IIOPProfile, addr netip.AddrPort) error {
	if a.own.has(addr) || (a.ownTLS != nil && a.ownTLS.has(addr)) || a.ownObject(prof.ObjectKey) {
		return selfRefusal()
	}
	return a.policy.check(addr)
}

// ownObject reports whether key names one of the agent's live objects —
// which an IOR may carry at an address the agent cannot recognise as its
// own (a NAT, a proxy in front of it).
func (a *Agent) ownObject(key []byte) bool {
	if _, _, ok := parseKey(key); !ok {
		return false
	}
	return a.locate(key) != nil
}

// checkAllowed refuses, when a proxy or request is made, a target or
// recipient that is the agent itself or outside the target policy, so
// nothing is stored for it; the refusal is counted. A recipient bound to
// its client's connection is called over that connection only, never
// dialled (binding.go), so the policy does not judge its address: a
// firewalled client's recipient often names one the agent cannot reach.
func (a *Agent) checkAllowed(ctx context.Context, target, recipient *giop.IOR, recipientBound bool) error {
	for i, ref := range [2]*giop.IOR{target, recipient} {
		if ref.IsNil() {
			continue
		}
		err := a.client.Allowed(ctx, ref)
		var x *giop.SystemException
		if err == nil || !errors.As(err, &x) || x.Name != giop.ExcNoPermission {
			continue
		}
		if x.Minor == nmproto.TargetNotAllowed {
			if i == 1 && recipientBound {
				continue
			}
			a.metrics.outcome(outcomeNotAllowed)
			a.metrics.policyRefused(refusedAtCreate)
		} else {
			a.metrics.outcome(outcomeSelf)
		}
		return err
	}
	return nil
}
