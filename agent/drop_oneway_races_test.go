package agent_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestReplyDropping_RecipientRacingTrash: replies dropped for a recipient
// (normal returns, user exceptions, system exceptions), their requests
// trashed by tag at varying moments meanwhile: the recipient is never
// called, no poller is handed out, and once the agent is closed nothing
// of any request is in the store; a restart calls nobody back.
func TestReplyDropping_RecipientRacingTrash(t *testing.T) {
	cases := []struct {
		drop byte
		op   string
		args func(*giop.Encoder)
	}{
		{nmproto.DropNormal, "add_stock", addStockArgs("A", 1)},
		{nmproto.DropUserExceptions, "remove_stock", stringArg("NOPE")},
		{nmproto.DropSystemExceptions, "crash", nil},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
			for _, manual := range []bool{false, true} {
				proxy, err := e.createProxy(e.target, "", ref, octetProp(nmproto.PropReplyDropping, c.drop),
					boolProp(nmproto.PropRequestManualTrash, manual))
				if err != nil {
					t.Fatal(err)
				}
				rcv := e.receiver(proxy)
				c2 := giop.NewClient(nil)
				var wg sync.WaitGroup
				for i := range 100 {
					tag := fmt.Sprint("t", i)
					res := e.call(rcv, c.op, reqInfoCtx(tag, tag, 0, false), c.args)
					if res.poller == nil || !res.poller.IsNil() {
						t.Fatalf("a request whose replies may be dropped got a poller: %+v", res)
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						time.Sleep(time.Duration(i%8) * 100 * time.Microsecond)
						c2.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
							Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }})
					}()
				}
				wg.Wait()
				c2.Close()
				deadline := time.Now().Add(20 * time.Second)
				for {
					if _, err := e.pollTags(proxy, nil, 0, false); isUser(err, nmproto.PollingGroupIsEmptyID) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("manual=%v: dropped replies' requests not trashed: %+v", manual, e.agent.Requests())
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			restartAndSettle(t, dir, cfg, e)
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.calls) != 0 {
				t.Fatalf("dropped replies were called back: %v", r.calls)
			}
		})
	}
}

// TestReplyDropping_RecoveredMaybeRun: a request to a recipient caught
// mid-delegation by a stop comes back COMM_FAILURE/MAYBE, a system
// exception. With ReplyDropping 0x04 that result is dropped: never
// called back, trashed, nothing left in the store; with 0x01 (normal
// returns only) it is delivered, once, and then trashed.
func TestReplyDropping_RecoveredMaybeRun(t *testing.T) {
	for _, c := range []struct {
		drop    byte
		deliver bool
	}{{nmproto.DropSystemExceptions, false}, {nmproto.DropNormal, true}} {
		t.Run(fmt.Sprintf("0x%02x", c.drop), func(t *testing.T) {
			dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
			proxy, err := e.createProxy(e.target, "", ref, octetProp(nmproto.PropReplyDropping, c.drop))
			if err != nil {
				t.Fatal(err)
			}
			release := e.sm.hold()
			e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "inflight", 0, false), addStockArgs("I", 1))
			<-e.sm.entered
			e.agent.Close() // the delegation is abandoned: stored as sending
			release()
			b, err := agent.Start(cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			if c.deliver {
				waitEntered(t, r, "inflight")
			}
			deadline := time.Now().Add(20 * time.Second)
			for len(b.Requests()) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("the recovered request was not trashed: %+v", b.Requests())
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			want := 0
			if c.deliver {
				want = 1
			}
			if n := r.count("inflight"); n != want {
				t.Fatalf("reply_available called %d times for the recovered COMM_FAILURE, want %d", n, want)
			}
			if calls := e.sm.calls.Load(); calls != 1 {
				t.Fatalf("the target got %d calls, want 1 (never re-sent)", calls)
			}
			b.Close()
			if left := requestEntries(t, dir); len(left) != 0 {
				t.Fatalf("entries left: %q (states %v)", left, recordStates(t, dir))
			}
		})
	}
}

// oneway sends add_stock(sym) as a oneway on rcv, tagged.
func (e *env) oneway(rcv *giop.IOR, tag, sym string) {
	e.t.Helper()
	if _, err := e.client.Invoke(e.ctx(), rcv, &giop.Invocation{Operation: "add_stock", Oneway: true,
		Contexts: reqInfoCtx(tag, "", 0, false), Args: addStockArgs(sym, 1)}); err != nil {
		e.t.Fatal(err)
	}
}

// TestOneway_TrashedWhileQueuedNeverSent: a oneway waiting in line for the
// one delegation thread, trashed by its tag, is never sent — not when the
// thread frees, not after a restart — and nothing of it is in the store.
func TestOneway_TrashedWhileQueuedNeverSent(t *testing.T) {
	dir, cfg, e, proxy, rcv := restartEnv(t)
	release := e.sm.hold()
	defer release()
	busy := e.call(rcv, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered
	e.oneway(rcv, "one", "ONE")
	deadline := time.Now().Add(10 * time.Second)
	for len(e.agent.Requests()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the oneway is not in line: %+v", e.agent.Requests())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
		Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte("one")) }}); err != nil {
		t.Fatalf("destroy_request(one): %v", err)
	}
	release()
	if p := e.call(busy.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil {
		t.Fatal(p.err)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the target got %d calls, want 1 (the trashed oneway never sent)", n)
	}
	restartAndSettle(t, dir, cfg, e)
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("after the restart the target got %d calls, want 1", n)
	}
}

// TestOneway_Restart: a oneway queued behind a request in flight when the
// agent stops is sent after the restart, once, and nothing of it is left
// in the store; a second restart sends nothing.
func TestOneway_Restart(t *testing.T) {
	dir, cfg, e, _, rcv := restartEnv(t)
	release := e.sm.hold()
	busy := e.call(rcv, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered
	e.oneway(rcv, "", "QUEUED")
	deadline := time.Now().Add(10 * time.Second)
	for len(e.agent.Requests()) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the oneway is not in line: %+v", e.agent.Requests())
		}
		time.Sleep(time.Millisecond)
	}
	e.agent.Close()
	release()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	select {
	case sym := <-e.sm.entered:
		if sym != "QUEUED" {
			t.Fatalf("after the restart the target got %q, want QUEUED only", sym)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the queued oneway was not sent after the restart")
	}
	if p := e.call(busy.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); !isSys(p.err, giop.ExcCommFailure, 0) {
		t.Fatalf("the request in flight at the stop: %+v, want COMM_FAILURE/MAYBE", p)
	}
	time.Sleep(200 * time.Millisecond)
	if n := e.sm.calls.Load(); n != 2 {
		t.Fatalf("the target got %d calls, want 2 (each request once)", n)
	}
	deadline = time.Now().Add(10 * time.Second)
	for len(b.Requests()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("requests still live: %+v", b.Requests())
		}
		time.Sleep(time.Millisecond)
	}
	b.Close()
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("entries left: %q (states %v)", left, recordStates(t, dir))
	}
	c, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(200 * time.Millisecond)
	if n := e.sm.calls.Load(); n != 2 {
		t.Fatalf("after a second restart the target got %d calls, want 2", n)
	}
}

// TestOneway_TrashRacingDelegation: oneways on one thread, each trashed
// by its tag at a varying moment (queued, dispatched, in flight, done);
// the target gets each at most once, none after the agent restarts, and
// nothing of any is in the store.
func TestOneway_TrashRacingDelegation(t *testing.T) {
	dir, cfg, e, proxy, rcv := restartEnv(t)
	c2 := giop.NewClient(nil)
	defer c2.Close()
	const n = 300
	release := e.sm.hold()
	defer release()
	busy := e.call(rcv, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered
	var wg sync.WaitGroup
	for i := range n {
		tag := fmt.Sprint("o", i)
		if i == n/2 {
			go release() // the line moves while the rest are sent and trashed
		}
		e.oneway(rcv, tag, tag)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i%7) * 100 * time.Microsecond)
			c2.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
				Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }})
		}()
	}
	wg.Wait()
	if p := e.call(busy.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil {
		t.Fatal(p.err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(e.agent.Requests()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("oneways still live: %d", len(e.agent.Requests()))
		}
		time.Sleep(2 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	sent := e.sm.calls.Load() - 1
	if sent > n {
		t.Fatalf("the target got %d calls for %d oneways", sent, n)
	}
	restartAndSettle(t, dir, cfg, e)
	if got := e.sm.calls.Load() - 1; got != sent {
		t.Fatalf("after the restart the target got %d more calls", got-sent)
	}
	t.Logf("%d of %d oneways sent before their trash", sent, n)
}
