package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// TestRestart_NothingAcknowledgedIsLost: the agent stops with one request
// replied but unread, one in the middle of its delegation and one waiting
// in the queue. After a restart on the same address and store (docs/native-messaging.md
// §6): the pollers handed out before still work; the unread reply is
// there; the request that may have run is COMM_FAILURE/COMPLETED_MAYBE,
// not re-sent; the queued one is delegated now, exactly once. Once each
// result has been read, nothing of the requests is left in the store.
func TestRestart_NothingAcknowledgedIsLost(t *testing.T) {
	testRestart(t, nil)
}

// TestRestart_StoreWithLegacyKeys is the same restart from a store written
// before request keys carried the creation time (prefix and id only,
// records.go): the upgraded agent finds every request, its body and its
// reply, and trashes them under the keys they have.
func TestRestart_StoreWithLegacyKeys(t *testing.T) {
	testRestart(t, toLegacyKeys)
}

// restartEnv is an agent with one delegation thread on a durable store in
// a directory of its own, at a fixed address so that a restart keeps the
// references handed out, with a proxy and its typed receiver.
func restartEnv(t *testing.T) (dir string, cfg agent.Config, e *env, proxy, rcv *giop.IOR) {
	dir = t.TempDir()
	cfg = agent.Config{
		Listen:     fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Store:      storage.Config{Dir: dir, Durable: true},
		MaxThreads: 1,
	}
	e = newEnv(t, cfg)
	proxy = e.mustProxy()
	return dir, cfg, e, proxy, e.receiver(proxy)
}

// testRestart runs the restart of TestRestart_NothingAcknowledgedIsLost;
// rewrite, if set, changes the store while the agent is stopped.
func testRestart(t *testing.T, rewrite func(t *testing.T, dir string)) {
	dir, cfg, e, proxy, rcv := restartEnv(t)

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
	if rewrite != nil {
		rewrite(t, dir)
	}

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
	b.Close() // waits for the trashes, which follow the reads
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("entries left after every result was read: %q", left)
	}
}

// requestEntries lists the keys of requests' records, bodies and replies
// in the store in dir.
func requestEntries(t *testing.T, dir string) []string {
	t.Helper()
	st, err := storage.Open(storage.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var keys []string
	for _, prefix := range []string{"q/", "b/", "y/"} {
		if err := st.ScanKeys([]byte(prefix), func(k []byte) error {
			keys = append(keys, string(k))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// toLegacyKeys moves every request entry of the store in dir from
// prefix|created|id (records.go) to prefix|id, the keys of stores written
// before keys carried the creation time.
func toLegacyKeys(t *testing.T, dir string) {
	t.Helper()
	st, err := storage.Open(storage.Config{Dir: dir, Durable: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b storage.Batch
	for _, prefix := range []string{"q/", "b/", "y/"} {
		if err := st.Scan([]byte(prefix), func(k, v []byte) error {
			if len(k) != 2+8+16 {
				t.Fatalf("key %x is not prefix|created|id", k)
			}
			b.Delete(bytes.Clone(k))
			b.Set(append(bytes.Clone(k[:2]), k[10:]...), bytes.Clone(v))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if b.Len() < 2*(3+2+2) { // replied: q, b, y; mid-delegation and queued: q, b
		t.Fatalf("only %d entries moved", b.Len()/2)
	}
	if err := st.Commit(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
}

// TestShutdown_QueuedRequestsStayQueued: a graceful stop lets the
// delegation in flight finish but starts none of the requests waiting in
// the queue: they stay stored, and the next start delegates each once
// (docs/deploying.md), instead of being sent during the grace period and
// cut off by its end as COMM_FAILURE/MAYBE.
func TestShutdown_QueuedRequestsStayQueued(t *testing.T) {
	_, cfg, e, _, rcv := restartEnv(t)
	release := e.sm.hold()
	inflight := e.call(rcv, "add_stock", reqInfoCtx("inflight", "", 0, false), addStockArgs("INFLIGHT", 1))
	<-e.sm.entered
	var queued []result
	for i := range 3 {
		q := e.call(rcv, "add_stock", reqInfoCtx(fmt.Sprintf("q%d", i), "", 0, false), addStockArgs(fmt.Sprintf("Q%d", i), 2))
		if q.poller == nil || q.poller.IsNil() {
			t.Fatal("a queued request was not acknowledged with a poller")
		}
		queued = append(queued, q)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- e.agent.Shutdown(context.Background()) }()
	for e.agent.Ready() {
		runtime.Gosched()
	}
	release()
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if got := e.sm.calls.Load(); got != 1 {
		t.Fatalf("the target got %d calls during the shutdown, want 1 (the one in flight)", got)
	}

	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	for _, r := range append([]result{inflight}, queued...) {
		p := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
		if p.err != nil || !p.resp.Result.Bool() {
			t.Fatalf("after the restart: %v, want the target's result", p.err)
		}
	}
	if got := e.sm.calls.Load(); got != 4 {
		t.Fatalf("the target got %d calls in all, want 4 (each request once)", got)
	}
}

// TestRestart_EveryPropertyKept: a proxy created with every property of
// nmproto's table that a proxy keeps, each at a value other than its
// default, has them all after a restart. The store writes them by name
// from the table (SPEC.md, "Properties"), so a property added there is
// kept too, and this test covers it with no change.
func TestRestart_EveryPropertyKept(t *testing.T) {
	_, cfg, e, _, _ := restartEnv(t)
	var props []prop
	for _, def := range nmproto.PropertyTable() {
		if _, kept := (agent.Properties{}).Get(def.Name); kept && def.Scope&nmproto.ScopeProxy != 0 {
			props = append(props, prop{def.Name, def.Any(def.Other())})
		}
	}
	proxy := e.mustProxy(props...)
	before := proxyProperties(t, e, proxy)
	for _, p := range props {
		if before[p.name] != p.val.Value {
			t.Fatalf("before the restart %s = %#v, want %#v", p.name, before[p.name], p.val.Value)
		}
	}

	e.agent.Close()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	if after := proxyProperties(t, e, proxy); !reflect.DeepEqual(after, before) {
		t.Fatalf("properties after the restart %v, before %v", after, before)
	}
}

// proxyProperties is what the proxy's properties() answers, by name.
func proxyProperties(t *testing.T, e *env, proxy *giop.IOR) map[string]any {
	t.Helper()
	resp, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "_get_properties"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, p := range nmproto.ReadProperties(resp.Result) {
		got[p.Name] = p.Value.Value
	}
	if err := resp.Result.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}
