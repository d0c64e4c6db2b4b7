package agent_test

import (
	"errors"
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
// free); when the fault clears the agent takes work again (issue 6, 10).
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

// TestStoreFull_ImpLimit: over MaxStoreBytes new requests get IMP_LIMIT
// (STORE_FULL), nothing is stored, and what is stored stays.
func TestStoreFull_ImpLimit(t *testing.T) {
	e := newEnv(t, agent.Config{Store: storage.Config{Dir: t.TempDir(), Durable: true}, MaxStoreBytes: 1})
	r := e.call(e.receiver(e.mustProxy()), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcImpLimit, nmproto.StoreFull) || r.poller != nil {
		t.Fatalf("request over the store limit = %v", r.err)
	}
	if e.sm.calls.Load() != 0 {
		t.Fatal("a refused request was delegated")
	}
}

// TestReplyRetention: an unread reply older than ReplyRetention is
// trashed; its poller then raises OBJECT_NOT_EXIST (issue 6).
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
