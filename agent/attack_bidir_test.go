package agent_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Attacks on bidirectional GIOP (docs/callbacks.md): a client announces, in
// BI_DIR_IIOP, addresses it does not own. An announced listen point may
// only carry callbacks to recipients that the same connection handed over;
// it must never redirect a delegation, a naming call or another client's
// callback, and it is forgotten with its connection.

// forger is what an attacker serves over its bidirectional connection: it
// answers every call, counting them, with a forged result.
type forger struct{ calls atomic.Int32 }

func (f *forger) RepositoryID() string { return stockID }
func (f *forger) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	f.calls.Add(1)
	if req.Operation() == "reply_available" {
		return nil
	}
	req.Results().WriteBool(true) // a forged add_stock result
	return nil
}

// announce opens a connection to the agent that offers bidirectional GIOP
// with the given listen points, served by h, and makes one call on it so
// the agent reads the announcement. The connection stays open until the
// returned client is closed.
func announce(t *testing.T, e *env, h giop.Servant, key string, points ...giop.ListenPoint) *giop.Client {
	t.Helper()
	c := giop.NewClient(nil)
	ad := giop.NewAdapter()
	ad.Register([]byte(key), h)
	c.OfferBiDir(ad, points)
	if _, err := c.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "_non_existent"}); err != nil {
		t.Fatalf("_non_existent: %v", err)
	}
	return c
}

func listenPointOf(t *testing.T, ref *giop.IOR) giop.ListenPoint {
	t.Helper()
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	return giop.ListenPoint{Host: prof.Host, Port: prof.Port}
}

// TestAttack_AnnouncedTargetAddressDoesNotRedirectDelegations: a client
// announces the target's own host:port; the next client's request still
// reaches the real target, the attacker is never called, and the target
// stays reachable after the attacker leaves.
func TestAttack_AnnouncedTargetAddressDoesNotRedirectDelegations(t *testing.T) {
	e := newEnv(t, agent.Config{})
	f := &forger{}
	lp := listenPointOf(t, e.target)
	// The target's address spelt several ways, as an attacker would.
	attacker := announce(t, e, f, "StockManager", lp,
		giop.ListenPoint{Host: "::ffff:127.0.0.1", Port: lp.Port}, giop.ListenPoint{Host: "localhost", Port: lp.Port})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))

	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("REAL", 1))
	if r.err != nil || r.rna {
		t.Fatalf("WaitReply call with an attacker announcing the target's address: %+v", r)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the real target ran %d calls, want 1", n)
	}
	if n := f.calls.Load(); n != 0 {
		t.Fatalf("the attacker's connection got %d of the agent's calls to the target", n)
	}

	attacker.Close()
	r = e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("AFTER", 1))
	if r.err != nil || r.rna {
		t.Fatalf("after the attacker left the target must still be reachable: %+v", r)
	}
	if n := e.sm.calls.Load(); n != 2 {
		t.Fatalf("the real target ran %d calls, want 2", n)
	}
}

// TestAttack_ManyAnnouncementsLeaveNothingBehind: 64 short connections
// announcing 16 points each (the target's port among them) leave no trace:
// afterwards every one of those addresses is dialled as usual.
func TestAttack_ManyAnnouncementsLeaveNothingBehind(t *testing.T) {
	e := newEnv(t, agent.Config{})
	lp := listenPointOf(t, e.target)
	for i := range 64 {
		pts := []giop.ListenPoint{lp}
		for j := range 15 {
			pts = append(pts, giop.ListenPoint{Host: "127.0.0.1", Port: uint16(20000 + 16*i + j)})
		}
		announce(t, e, &forger{}, "x", pts...).Close()
	}
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("REAL", 1))
	if r.err != nil || r.rna || e.sm.calls.Load() != 1 {
		t.Fatalf("after 1,024 announcements by closed connections: %+v, target calls %d", r, e.sm.calls.Load())
	}
}

// TestAttack_AnnouncedRecipientAddressDoesNotStealCallbacks: an attacker
// announces the address of another client's recipient — also handing the
// very same recipient reference over in a proxy of its own — and the
// victim's reply_available, with its cookie and reply, still goes to the
// victim's recipient only.
func TestAttack_AnnouncedRecipientAddressDoesNotStealCallbacks(t *testing.T) {
	for _, victimBiDir := range []bool{false, true} {
		t.Run(fmt.Sprintf("victim_bidir=%v", victimBiDir), func(t *testing.T) {
			e := newEnv(t, agent.Config{})
			victim := giop.NewClient(nil)
			t.Cleanup(func() { victim.Close() })
			vr := &goRecipient{client: victim, arrived: make(chan delivery, 4), pull: true}
			var recipientRef *giop.IOR
			if victimBiDir {
				// Behind a firewall: its published address has no listener.
				recipientRef = giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2,
					Host: "127.0.0.1", Port: uint16(freePort(t)), ObjectKey: []byte("Recipient")})
				ad := giop.NewAdapter()
				ad.Register([]byte("Recipient"), vr)
				victim.OfferBiDir(ad, []giop.ListenPoint{listenPointOf(t, recipientRef)})
			} else {
				recipientRef = startRecipient(t, vr)
			}
			_, vrcv := proxyAndReceiver(t, victim, e.agentRef, e.target, recipientRef)

			f := &forger{}
			attacker := announce(t, e, f, "Recipient", listenPointOf(t, recipientRef))
			t.Cleanup(func() { attacker.Close() })
			proxyAndReceiver(t, attacker, e.agentRef, e.target, recipientRef)

			if _, err := victim.Invoke(e.ctx(), vrcv, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("V", 1),
				Contexts: reqInfoCtx("", "victim's cookie", 0, false), RawReply: true}); err != nil {
				t.Fatal(err)
			}
			select {
			case d := <-vr.arrived:
				if d.cookie != "victim's cookie" || d.pullErr != nil || !d.result {
					t.Fatalf("victim's delivery = %+v", d)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the victim's callback never came; failures %+v", e.agent.RecipientFailures())
			}
			if n := f.calls.Load(); n != 0 {
				t.Fatalf("the attacker's connection got %d calls meant for the victim", n)
			}
		})
	}
}

// TestBiDir_BoundRecipientWaitsAndIsReboundOnReturn: a recipient behind a
// firewall whose connection closes is never dialled at its announced
// address; its callback waits, is given up after the retry budget with the
// reply kept, and is delivered once the client hands the same recipient
// over again on a new connection.
func TestBiDir_BoundRecipientWaitsAndIsReboundOnReturn(t *testing.T) {
	e := newEnv(t, agent.Config{RecipientRetryBudget: 300 * time.Millisecond})
	// The recipient's published address: a trap counting dials.
	trap, dials := trapListener(t)
	recipientRef := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2,
		Host: "127.0.0.1", Port: uint16(trap), ObjectKey: []byte("Recipient")})
	lp := listenPointOf(t, recipientRef)

	first := giop.NewClient(nil)
	release := e.sm.hold()
	fr := &goRecipient{client: first, arrived: make(chan delivery, 4), pull: true}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), fr)
	first.OfferBiDir(ad, []giop.ListenPoint{lp})
	_, rcv := proxyAndReceiver(t, first, e.agentRef, e.target, recipientRef)
	if _, err := first.Invoke(e.ctx(), rcv, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("W", 1),
		Contexts: reqInfoCtx("", "c1", 0, false), RawReply: true}); err != nil {
		t.Fatal(err)
	}
	<-e.sm.entered
	first.Close() // the client goes away while its request runs
	release()

	// The callback is given up (its connection is gone) — never dialled.
	deadline := time.Now().Add(20 * time.Second)
	for len(e.agent.RecipientFailures()) == 0 || e.agent.RecipientFailures()[0].GivenUp == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("callback not given up; failures %+v", e.agent.RecipientFailures())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("the agent dialled a bound recipient's announced address %d times", n)
	}

	// The client comes back and hands the same recipient over again.
	second := giop.NewClient(nil)
	t.Cleanup(func() { second.Close() })
	sr := &goRecipient{client: second, arrived: make(chan delivery, 4), pull: true}
	ad2 := giop.NewAdapter()
	ad2.Register([]byte("Recipient"), sr)
	second.OfferBiDir(ad2, []giop.ListenPoint{lp})
	proxyAndReceiver(t, second, e.agentRef, e.target, recipientRef)
	select {
	case d := <-sr.arrived:
		if d.cookie != "c1" || d.pullErr != nil || !d.result {
			t.Fatalf("delivery after re-binding = %+v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the given-up callback was not re-armed when the recipient came back; failures %+v",
			e.agent.RecipientFailures())
	}
	if n := dials.Load(); n != 0 {
		t.Fatalf("the agent dialled a bound recipient's announced address %d times", n)
	}
}
