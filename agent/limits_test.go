package agent_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// TestStoreFault_RefusesThenRecovers: when the store cannot write (a full
// disk, a failing fsync), a new request is refused with PERSIST_STORE,
// completed NO — never acknowledged — and is not half-kept (its tag is
// free); when the fault clears the agent takes work again.
func TestStoreFault_RefusesThenRecovers(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	e.agent.InjectStoreFault(errors.New("no space left on device"))
	r := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcPersistStore, nmproto.StoreFailed) || r.poller != nil ||
		r.err.(*giop.SystemException).Completed != giop.CompletedNo {
		t.Fatalf("request with the store failing = %v (poller %v), want PERSIST_STORE/STORE_FAILED completed NO", r.err, r.poller)
	}
	if e.sm.calls.Load() != 0 {
		t.Fatal("a request that was not stored was delegated")
	}
	e.agent.InjectStoreFault(nil)
	r = e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || r.poller == nil {
		t.Fatalf("after the fault cleared = %v (the tag must be free again)", r.err)
	}
}

// TestStoreFull_ImpLimit: over MaxStoreBytes every write path refuses
// new work with IMP_LIMIT (STORE_FULL) — a request through a receiver, a
// new proxy, create_request — nothing more is stored, and what is stored
// stays readable.
func TestStoreFull_ImpLimit(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, agent.Config{Store: storage.Config{Dir: dir, Durable: true}})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropRequestManualTrash, true)))
	kept := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("KEPT", 1))
	if kept.poller == nil {
		t.Fatalf("first request: %+v", kept)
	}
	if got := e.call(kept.poller, "add_stock", waitCtx(10_000), addStockArgs("", 0)); got.err != nil || got.rna {
		t.Fatalf("first request's reply: %+v", got)
	}
	port := e.agent.Port()
	e.agent.Close()
	a, err := agent.Start(agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Store: storage.Config{Dir: dir, Durable: true},
		MaxStoreBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent, e.agentRef = a, a.IOR()
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcImpLimit, nmproto.StoreFull) || r.poller != nil {
		t.Fatalf("request over the store limit = %v", r.err)
	}
	if _, err := e.createProxy(e.target, "", nil); !isSys(err, giop.ExcImpLimit, nmproto.StoreFull) {
		t.Fatalf("create_request_proxy over the store limit = %v", err)
	}
	if _, err := e.createRequestErr("", "t", "g", ""); !isSys(err, giop.ExcImpLimit, nmproto.StoreFull) {
		t.Fatalf("create_request over the store limit = %v", err)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the target ran %d calls, want only the first request's", n)
	}
	// What is stored stays: the first request's reply is still there.
	got := e.call(kept.poller, "add_stock", waitCtx(10_000), addStockArgs("", 0))
	if got.err != nil || got.rna {
		t.Fatalf("the stored request's reply over the store limit: %+v", got)
	}
}

// TestReplyRetention: an unread reply older than ReplyRetention is
// trashed; its poller then raises OBJECT_NOT_EXIST.
func TestReplyRetention(t *testing.T) {
	e := newEnv(t, agent.Config{ReplyRetention: 30 * time.Millisecond})
	proxy := e.mustProxy()
	r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("old", "", 0, false), addStockArgs("A", 1))
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := e.pollTags(proxy, nil, 0, false)
		if isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the unread reply was never expired: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if p := e.call(r.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("expired request's poller = %v", p.err)
	}
}

// TestStoreFull_RequestCountedStoreFull: a request whose commit the disk
// guard refuses for lack of space gets IMP_LIMIT/STORE_FULL, and is
// counted under the outcome store_full — what its client got — not
// store_failed (PERSIST_STORE).
func TestStoreFull_RequestCountedStoreFull(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	e.agent.InjectStoreFault(fmt.Errorf("the guard: %w", storage.ErrNoSpace))
	defer e.agent.InjectStoreFault(nil)
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcImpLimit, nmproto.StoreFull) || r.poller != nil {
		t.Fatalf("request with the disk full = %v, want IMP_LIMIT/STORE_FULL", r.err)
	}
	if got := metricValue(t, e.agent, `requestagent_requests_total{outcome="store_full"}`); got != 1 {
		t.Fatalf("store_full outcomes = %v, want 1", got)
	}
	if got := optionalMetric(t, e.agent, `requestagent_requests_total{outcome="store_failed"}`); got != 0 {
		t.Fatalf("store_failed outcomes = %v, want 0", got)
	}
}

// optionalMetric is metricValue for a labelled series that is absent
// until first counted: 0 then.
func optionalMetric(t *testing.T, a *agent.Agent, series string) float64 {
	t.Helper()
	v, _ := scrapeMetric(t, a, series)
	return v
}
