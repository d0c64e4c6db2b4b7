package agent_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Attacks that make the agent call itself (docs/limits.md: the agent
// never delegates to itself) or fill its outbound connections.

// forwarder answers every call with a LOCATION_FORWARD to where.
type forwarder struct {
	calls atomic.Int32
	where atomic.Pointer[giop.IOR]
}

func (f *forwarder) RepositoryID() string { return stockID }
func (f *forwarder) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	f.calls.Add(1)
	return &giop.ForwardError{IOR: f.where.Load()}
}

// spellings returns ways of writing the loopback address an attacker
// would try, IPv4-mapped IPv6 ones above all.
func spellings() []string {
	out := []string{"127.0.0.1", "localhost", "LOCALHOST", "::ffff:127.0.0.1", "::FFFF:127.0.0.1",
		"0:0:0:0:0:ffff:127.0.0.1", "0000:0000:0000:0000:0000:ffff:7f00:0001", "::ffff:7f00:1", "[::ffff:127.0.0.1]",
		// The unspecified address: a dial of it reaches 127.0.0.1.
		"0.0.0.0", "::ffff:0.0.0.0", "[::ffff:0.0.0.0]"}
	for i := range 24 {
		// Zero groups written with 1 to 4 digits, in both cases.
		z := strings.Repeat("0", 1+i%4)
		f := "ffff"
		if i%2 == 1 {
			f = "FFFF"
		}
		out = append(out, fmt.Sprintf("%s:%s:%s:%s:%s:%s:7f00:%04x", z, z, z, z, z, f, 1))
	}
	return out
}

// TestAttack_ForwardIntoTheAgentIsRefused: a target that answers every
// call with LOCATION_FORWARD to its own proxy's typed receiver on the
// agent makes one client call into one request, whose result is
// NO_PERMISSION/SELF_DELEGATION — not into requests without end.
func TestAttack_ForwardIntoTheAgentIsRefused(t *testing.T) {
	e := newEnv(t, agent.Config{})
	f := &forwarder{}
	fref := startServant(t, "Forwarder", f)
	proxy, err := e.createProxy(fref, stockID, nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	// Forward to the receiver, spelt as the attacker likes.
	prof, _ := rcv.IIOP()
	p := *prof
	p.Host = "::ffff:127.0.0.1"
	f.where.Store(giop.NewIOR(rcv.TypeID, &p))

	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("LOOP", 1))
	if r.poller == nil {
		t.Fatalf("first call: %+v", r)
	}
	var got result
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = e.call(r.poller, "add_stock", waitCtx(1000), addStockArgs("", 0))
		if !got.rna || time.Now().After(deadline) {
			break
		}
	}
	if !isSys(got.err, giop.ExcNoPermission, nmproto.SelfDelegation) || got.rna {
		t.Fatalf("result of a request forwarded into the agent = %+v (%v), want NO_PERMISSION/SELF_DELEGATION as its result", got, got.err)
	}
	if n := f.calls.Load(); n != 1 {
		t.Fatalf("the forwarding target was called %d times, want 1", n)
	}
	if reqs := e.agent.Requests(); len(reqs) != 0 {
		t.Fatalf("%d requests left behind, want none: %+v", len(reqs), reqs)
	}
}

// TestAttack_TargetOrRecipientIsTheAgent: a proxy or request whose target
// or recipient is the agent itself, however its address is spelt, is
// refused with NO_PERMISSION and nothing is stored; so is one naming one
// of the agent's objects at another address.
func TestAttack_TargetOrRecipientIsTheAgent(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	at := func(ref *giop.IOR, host string, port uint16) *giop.IOR {
		prof, _ := ref.IIOP()
		p := *prof
		p.Host, p.Port = host, port
		return giop.NewIOR(ref.TypeID, &p)
	}
	port := uint16(e.agent.Port())
	var refs []*giop.IOR
	for _, h := range spellings() {
		refs = append(refs, at(e.agentRef, h, port), at(rcv, h, port))
	}
	// One of the agent's live objects behind an address it cannot know
	// for its own.
	other := startServant(t, "x", e.sm)
	oprof, _ := other.IIOP()
	refs = append(refs, at(rcv, oprof.Host, oprof.Port))

	for _, ref := range refs {
		if _, err := e.createProxy(ref, stockID, nil); !isSys(err, giop.ExcNoPermission, nmproto.SelfDelegation) {
			t.Errorf("proxy with target %s = %v, want NO_PERMISSION/SELF_DELEGATION", hostOf(ref), err)
		}
		if _, err := e.createProxy(e.target, "", ref); !isSys(err, giop.ExcNoPermission, nmproto.SelfDelegation) {
			t.Errorf("proxy with recipient %s = %v, want NO_PERMISSION/SELF_DELEGATION", hostOf(ref), err)
		}
		_, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
			enc.WriteIOR(ref)
			enc.WriteString(stockID)
			enc.WriteIOR(nil)
			enc.WriteOctets(nil)
			enc.WriteString("g")
			enc.WriteOctets(nil)
			enc.WriteULong(0)
		}})
		if !isSys(err, giop.ExcNoPermission, nmproto.SelfDelegation) {
			t.Errorf("create_request with target %s = %v, want NO_PERMISSION/SELF_DELEGATION", hostOf(ref), err)
		}
	}
	if n := len(e.agent.Proxies()); n != 1 {
		t.Fatalf("%d proxies stored, want only the test's own", n)
	}
	if n := len(e.agent.Requests()); n != 0 {
		t.Fatalf("%d requests stored, want none", n)
	}
}

func hostOf(ref *giop.IOR) string {
	prof, _ := ref.IIOP()
	return fmt.Sprintf("%s:%d/%q", prof.Host, prof.Port, prof.ObjectKey)
}

// TestAttack_SpellingsShareOneConnection: references spelling one target's
// address many ways reach it over one outbound connection, not one per
// spelling.
func TestAttack_SpellingsShareOneConnection(t *testing.T) {
	e := newEnv(t, agent.Config{})
	prof, _ := e.target.IIOP()
	before := openFDs(t)
	for _, h := range spellings() {
		p := *prof
		p.Host = h
		ref := giop.NewIOR(stockID, &p)
		proxy, err := e.createProxy(ref, "", nil, boolProp(nmproto.PropWaitReply, true))
		if err != nil {
			t.Fatalf("proxy at %s: %v", h, err)
		}
		if r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs(h, 1)); r.err != nil || r.rna {
			t.Fatalf("call at %s: %+v", h, r)
		}
	}
	if n := e.sm.calls.Load(); int(n) != len(spellings()) {
		t.Fatalf("target ran %d calls, want %d", n, len(spellings()))
	}
	// The target's server sees the agent's connections.
	if n := e.tsrv.Stats().Accepted; n != 1 {
		t.Fatalf("%d spellings of one address opened %d connections to it, want 1", len(spellings()), n)
	}
	if after := openFDs(t); after > before+4 {
		t.Fatalf("open files grew from %d to %d", before, after)
	}
}

// openFDs counts this process's open files.
func openFDs(t *testing.T) int {
	t.Helper()
	d, err := readDirNames("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(d)
}

// liar runs every request it gets — counting it — and then, instead of
// answering, sends CloseConnection and closes, as a target that lies
// about §15.5.2 would.
func liar(t *testing.T) (*giop.IOR, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ran := new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					var hdr [giop.HeaderSize]byte
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					h, err := giop.ParseHeader(hdr[:])
					if err != nil {
						return
					}
					if _, err := io.CopyN(io.Discard, c, int64(h.Size)); err != nil {
						return
					}
					if h.Type == giop.MsgRequest {
						ran.Add(1)
						c.Write(giop.EncodeHeaderOnly(h.Version, giop.MsgCloseConnection))
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")}), ran
}

// TestAttack_LyingTargetRunsARequestAtMostTwice: a target that runs each
// request and then sends CloseConnection gets it once more (§15.5.2 lets
// a client re-send), and then the result is COMM_FAILURE/COMPLETED_MAYBE —
// not a re-send for the whole retry budget.
func TestAttack_LyingTargetRunsARequestAtMostTwice(t *testing.T) {
	e := newEnv(t, agent.Config{ConnectRetryBudget: 2 * time.Second})
	ref, ran := liar(t)
	proxy, err := e.createProxy(ref, "", nil, boolProp(nmproto.PropWaitReply, true))
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("ONCE", 1))
	if !isSys(r.err, giop.ExcCommFailure, 0) || r.rna {
		t.Fatalf("result = %+v (%v), want COMM_FAILURE as the request's result", r, r.err)
	}
	var x *giop.SystemException
	if errorsAs(r.err, &x); x == nil || x.Completed != giop.CompletedMaybe {
		t.Fatalf("completion = %v, want COMPLETED_MAYBE", r.err)
	}
	if n := ran.Load(); n != 2 {
		t.Fatalf("the lying target ran the request %d times, want 2 (sent, re-sent once)", n)
	}
}

func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

func errorsAs(err error, x **giop.SystemException) bool { return errors.As(err, x) }
