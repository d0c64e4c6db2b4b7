package agent_test

import (
	"fmt"
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// TestRestart_NothingAcknowledgedIsLost: the agent stops with one request
// replied but unread, one in the middle of its delegation and one waiting
// in the queue. After a restart on the same address and store (PRODUCT.md
// §6): the pollers handed out before still work; the unread reply is
// there; the request that may have run is COMM_FAILURE/COMPLETED_MAYBE,
// not re-sent; the queued one is delegated now, exactly once.
func TestRestart_NothingAcknowledgedIsLost(t *testing.T) {
	dir := t.TempDir()
	cfg := agent.Config{
		Listen:     fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Store:      storage.Config{Dir: dir, Durable: true},
		MaxThreads: 1,
	}
	e := newEnv(t, cfg)
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)

	done := e.call(rcv, "add_stock", reqInfoCtx("done", "", 0, false), addStockArgs("DONE", 1))
	// unmask=FALSE reports without consuming: wait until the reply is stored.
	if tags, err := e.pollTags(proxy, nil, 10000, false); err != nil || joined(tags) != "done" {
		t.Fatalf("first reply not ready: %v %v", tags, err)
	}

	release := e.sm.hold()
	inflight := e.call(rcv, "add_stock", reqInfoCtx("inflight", "", 0, false), addStockArgs("INFLIGHT", 2))
	<-e.sm.entered
	queued := e.call(rcv, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 3))
	for _, r := range []result{done, inflight, queued} {
		if r.poller == nil || r.poller.IsNil() {
			t.Fatal("a request was not acknowledged with a poller")
		}
	}

	e.agent.Close() // stop at once: the in-flight delegation is abandoned
	release()
	before := e.sm.calls.Load()

	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })

	p := e.call(done.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("unread reply after restart: %v (rna %v)", p.err, p.rna)
	}
	p = e.call(inflight.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if !isSys(p.err, giop.ExcCommFailure, 0) || p.err.(*giop.SystemException).Completed != giop.CompletedMaybe || !p.replierName {
		t.Fatalf("request caught mid-delegation: %v, want COMM_FAILURE completed MAYBE", p.err)
	}
	p = e.call(queued.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if p.err != nil || !p.resp.Result.Bool() {
		t.Fatalf("queued request after restart: %v", p.err)
	}
	if got := e.sm.calls.Load() - before; got != 1 {
		t.Fatalf("after the restart the target got %d calls, want 1 (the queued request only)", got)
	}
}
