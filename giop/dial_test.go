package giop_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// at returns ref with its host written as host.
func at(ref *giop.IOR, host string) *giop.IOR {
	prof, _ := ref.IIOP()
	p := *prof
	p.Host = host
	return giop.NewIOR(ref.TypeID, &p)
}

// TestClient_SpellingsOfAnAddressShareAConnection: however a reference
// spells the server's address, the client uses one connection to it.
func TestClient_SpellingsOfAnAddressShareAConnection(t *testing.T) {
	srv, ref, _ := testServer(t, nil, nil)
	c := testClient(t)
	for _, h := range []string{"127.0.0.1", "::ffff:127.0.0.1", "::FFFF:127.0.0.1", "0:0:0:0:0:ffff:7f00:1",
		"0000:0000:0000:0000:0000:ffff:7f00:0001", "[::ffff:127.0.0.1]", "localhost"} {
		if _, err := callString(ctxT(t), c, at(ref, h), "echoString", h); err != nil {
			t.Fatalf("%s: %v", h, err)
		}
	}
	if n := srv.Stats().Accepted; n != 1 {
		t.Fatalf("the server accepted %d connections, want 1", n)
	}
	if n := c.Stats().Open; n != 1 {
		t.Fatalf("the client has %d connections open, want 1", n)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestClient_IdleConnectionsClose: a connection that carries no call for
// IdleTimeout is closed, and the next call opens another.
func TestClient_IdleConnectionsClose(t *testing.T) {
	srv, ref, _ := testServer(t, nil, nil)
	cfg := giop.DefaultConfig()
	cfg.IdleTimeout = 50 * time.Millisecond
	c := giop.NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	if _, err := callString(ctxT(t), c, ref, "echoString", "a"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Open != 0 || srv.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("idle connection still open: client %d, server %d", c.Stats().Open, srv.Stats().Open)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := callString(ctxT(t), c, ref, "echoString", "b"); err != nil {
		t.Fatalf("call after the idle close: %v", err)
	}
	if n := srv.Stats().Accepted; n != 2 {
		t.Fatalf("accepted %d connections, want 2", n)
	}
}

// TestClient_BusyConnectionsStayOpen: a connection with a call in
// progress is never closed as idle, however long the call takes.
func TestClient_BusyConnectionsStayOpen(t *testing.T) {
	hold := &holdServant{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, ref, _ := testServer(t, nil, map[string]giop.Servant{"Hold": hold})
	prof, _ := ref.IIOP()
	href := objectIOR("IDL:Hold:1.0", int(prof.Port), []byte("Hold"))
	cfg := giop.DefaultConfig()
	cfg.IdleTimeout = 20 * time.Millisecond
	c := giop.NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctxT(t), href, &giop.Invocation{Operation: "hold"})
		done <- err
	}()
	<-hold.entered
	time.Sleep(200 * time.Millisecond) // ten idle periods
	close(hold.release)
	if err := <-done; err != nil {
		t.Fatalf("a call held past the idle timeout failed: %v", err)
	}
	if n := srv.Stats().Accepted; n != 1 {
		t.Fatalf("accepted %d connections, want 1", n)
	}
}

type holdServant struct {
	entered chan struct{}
	release chan struct{}
}

func (h *holdServant) RepositoryID() string { return "IDL:Hold:1.0" }
func (h *holdServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	h.entered <- struct{}{}
	<-h.release
	return nil
}

// TestClient_MaxOutbound: beyond MaxOutbound connections a call that
// needs another gets TRANSIENT, completed NO — after an idle one, if
// any, is closed to make room.
func TestClient_MaxOutbound(t *testing.T) {
	hold := &holdServant{entered: make(chan struct{}, 2), release: make(chan struct{})}
	_, r1, _ := testServer(t, nil, map[string]giop.Servant{"Hold": hold})
	_, r2, _ := testServer(t, nil, nil)
	_, r3, _ := testServer(t, nil, nil)
	p1, _ := r1.IIOP()
	cfg := giop.DefaultConfig()
	cfg.MaxOutbound = 2
	c := giop.NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctxT(t), objectIOR("IDL:Hold:1.0", int(p1.Port), []byte("Hold")), &giop.Invocation{Operation: "hold"})
		done <- err
	}()
	<-hold.entered
	if _, err := callString(ctxT(t), c, r2, "echoString", "2"); err != nil {
		t.Fatal(err)
	}
	// r2's connection is idle: it makes room for r3.
	if _, err := callString(ctxT(t), c, r3, "echoString", "3"); err != nil {
		t.Fatalf("third server with an idle connection to close: %v", err)
	}
	if n := c.Stats().Open; n != 2 {
		t.Fatalf("%d connections open, want 2 (the busy one and the newest)", n)
	}
	close(hold.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := c.Stats().Open; n > 2 {
		t.Fatalf("%d connections open, limit 2", n)
	}
}

// TestClient_MaxOutboundRefuses: with every connection busy, a call that
// needs one more is TRANSIENT, completed NO, and nothing is sent.
func TestClient_MaxOutboundRefuses(t *testing.T) {
	hold := &holdServant{entered: make(chan struct{}, 1), release: make(chan struct{})}
	_, r1, _ := testServer(t, nil, map[string]giop.Servant{"Hold": hold})
	_, r2, echo2 := testServer(t, nil, nil)
	p1, _ := r1.IIOP()
	cfg := giop.DefaultConfig()
	cfg.MaxOutbound = 1
	c := giop.NewClient(cfg)
	t.Cleanup(func() { c.Close() })
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctxT(t), objectIOR("IDL:Hold:1.0", int(p1.Port), []byte("Hold")), &giop.Invocation{Operation: "hold"})
		done <- err
	}()
	<-hold.entered
	_, err := c.Invoke(ctxT(t), r2, &giop.Invocation{Operation: "ping", Args: func(e *giop.Encoder) { e.WriteString("x") }})
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo || !errors.Is(err, giop.ErrLimit) {
		t.Fatalf("call needing a second connection = %v, want TRANSIENT completed NO (limit)", err)
	}
	select {
	case p := <-echo2.pinged:
		t.Fatalf("the refused call reached the server: %q", p)
	default:
	}
	close(hold.release)
	<-done
}

// TestClient_GuardSeesResolvedAddresses: the guard is asked with the
// resolved address of every call, and its refusal is the call's error.
func TestClient_GuardSeesResolvedAddresses(t *testing.T) {
	_, ref, echo := testServer(t, nil, nil)
	prof, _ := ref.IIOP()
	c := testClient(t)
	var seen []netip.AddrPort
	refuse := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), prof.Port)
	c.SetGuard(func(p *giop.IIOPProfile, addr netip.AddrPort) error {
		seen = append(seen, addr)
		if addr == refuse {
			return errors.New("refused")
		}
		return nil
	})
	_, err := c.Invoke(ctxT(t), at(ref, "::ffff:127.0.0.1"), &giop.Invocation{Operation: "ping", Args: func(e *giop.Encoder) { e.WriteString("x") }})
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Name != giop.ExcNoPermission || x.Completed != giop.CompletedNo {
		t.Fatalf("refused call = %v, want NO_PERMISSION completed NO", err)
	}
	if len(seen) != 1 || seen[0] != refuse {
		t.Fatalf("guard saw %v, want [%v]", seen, refuse)
	}
	if err := c.Allowed(ctxT(t), ref); err == nil {
		t.Fatal("Allowed: nil for a refused address")
	}
	select {
	case p := <-echo.pinged:
		t.Fatalf("the refused call reached the server: %q", p)
	default:
	}
}

// TestClient_UnspecifiedJudgedAsTheLoopbacksItReaches: a reference to
// 0.0.0.0 or :: is judged, and dialled, as the loopback addresses a dial
// of it reaches — 127.0.0.1 for 0.0.0.0, ::1 then 127.0.0.1 for :: — never
// as the unspecified address, so a guard refusing 127.0.0.1 keeps the
// call from the server listening there.
func TestClient_UnspecifiedJudgedAsTheLoopbacksItReaches(t *testing.T) {
	_, ref, echo := testServer(t, nil, nil)
	prof, _ := ref.IIOP()
	loop4 := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), prof.Port)
	loop6 := netip.AddrPortFrom(netip.IPv6Loopback(), prof.Port)
	for host, want := range map[string][]netip.AddrPort{
		"0.0.0.0": {loop4}, "::": {loop6, loop4}, "::ffff:0.0.0.0": {loop4}, "[::]": {loop6, loop4},
	} {
		c := testClient(t)
		var seen []netip.AddrPort
		c.SetGuard(func(p *giop.IIOPProfile, addr netip.AddrPort) error {
			seen = append(seen, addr)
			if addr == loop4 {
				return errors.New("refused")
			}
			return nil
		})
		_, err := c.Invoke(ctxT(t), at(ref, host), &giop.Invocation{Operation: "ping", Args: func(e *giop.Encoder) { e.WriteString("x") }})
		if err == nil {
			t.Errorf("%s: the call succeeded past a guard refusing 127.0.0.1", host)
		}
		if fmt.Sprint(seen) != fmt.Sprint(want) {
			t.Errorf("%s: guard saw %v, want %v", host, seen, want)
		}
	}
	select {
	case p := <-echo.pinged:
		t.Fatalf("a refused call reached the server on 127.0.0.1: %q", p)
	default:
	}
}
