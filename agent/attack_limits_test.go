package agent_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Attacks on the agent's bounds (docs/limits.md): fields too large to
// keep, more live requests than memory allows, too many blocked calls, a
// target that hangs. Each is refused with IMP_LIMIT, completed NO, before
// anything is stored, and the agent goes on serving.

// bigIOR is a reference of about n bytes: its IIOP profile followed by
// filler profiles of an unknown tag.
func bigIOR(base *giop.IOR, n int) *giop.IOR {
	out := &giop.IOR{TypeID: base.TypeID, Profiles: append([]giop.TaggedProfile(nil), base.Profiles...)}
	for size := 0; size < n; size += min(60<<10, n) {
		out.Profiles = append(out.Profiles, giop.TaggedProfile{Tag: 0x7777, Data: bytes.Repeat([]byte{1}, min(60<<10, n))})
	}
	return out
}

// TestAttack_OversizedFieldsRefused: a target or recipient reference, a
// cookie or a tag over its limit is refused with IMP_LIMIT/
// FIELD_TOO_LARGE on every path that takes one, and nothing is stored.
func TestAttack_OversizedFieldsRefused(t *testing.T) {
	e := newEnv(t, agent.Config{})
	huge := bigIOR(e.target, 1<<20)
	recipient := bigIOR(giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: 9, ObjectKey: []byte("r")}), 64<<10)
	tooLarge := func(what string, err error) {
		t.Helper()
		if !isSys(err, giop.ExcImpLimit, nmproto.FieldTooLarge) {
			t.Errorf("%s = %v, want IMP_LIMIT/FIELD_TOO_LARGE", what, err)
		}
	}
	_, err := e.createProxy(huge, stockID, nil)
	tooLarge("proxy with a 1 MiB target", err)
	_, err = e.createProxy(e.target, "", recipient)
	tooLarge("proxy with a 64 KiB recipient", err)
	createRequest := func(target, rcp *giop.IOR, cookie, tag []byte) error {
		_, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
			enc.WriteIOR(target)
			enc.WriteString(stockID)
			enc.WriteIOR(rcp)
			enc.WriteOctets(cookie)
			enc.WriteString("g")
			enc.WriteOctets(tag)
			enc.WriteULong(0)
		}})
		return err
	}
	tooLarge("create_request with a 1 MiB target", createRequest(huge, nil, nil, nil))
	tooLarge("create_request with a 64 KiB recipient", createRequest(e.target, recipient, nil, nil))
	tooLarge("create_request with a 60 KiB cookie", createRequest(e.target, nil, make([]byte, 60<<10), nil))
	tooLarge("create_request with a 1 KiB tag", createRequest(e.target, nil, nil, make([]byte, 1<<10)))
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	r := e.call(rcv, "add_stock", reqInfoCtx("", strings.Repeat("c", 60<<10), 0, false), addStockArgs("X", 1))
	tooLarge("a call with a 60 KiB cookie", r.err)
	r = e.call(rcv, "add_stock", reqInfoCtx(strings.Repeat("t", 1<<10), "", 0, false), addStockArgs("X", 1))
	tooLarge("a call with a 1 KiB tag", r.err)
	if n := len(e.agent.Requests()); n != 0 {
		t.Fatalf("%d requests stored", n)
	}
	if n := len(e.agent.Proxies()); n != 1 {
		t.Fatalf("%d proxies stored, want the test's one", n)
	}
	if n := e.sm.calls.Load(); n != 0 {
		t.Fatalf("the target got %d calls", n)
	}
	// Within the limits all goes on.
	if createRequest(e.target, nil, make([]byte, 4<<10), make([]byte, 256)) != nil {
		t.Fatal("create_request at the limits refused")
	}
}

// TestAttack_IndexBudget: once the live requests fill MaxIndexBytes, new
// ones get IMP_LIMIT/TOO_MANY_REQUESTS and nothing is stored; trashing
// makes room again.
func TestAttack_IndexBudget(t *testing.T) {
	e := newEnv(t, agent.Config{MaxIndexBytes: 20 << 10})
	accepted := 0
	var refused error
	for range 200 {
		if _, err := e.createRequestErr("", "", "g", strings.Repeat("c", 1000)); err != nil {
			refused = err
			break
		}
		accepted++
	}
	if !isSys(refused, giop.ExcImpLimit, nmproto.TooManyRequests) {
		t.Fatalf("after %d requests: %v, want IMP_LIMIT/TOO_MANY_REQUESTS", accepted, refused)
	}
	if accepted < 5 || accepted > 20 {
		t.Fatalf("%d requests of ~1.5 KB fit in 20 KiB", accepted)
	}
	reqs := e.agent.Requests()
	if len(reqs) != accepted {
		t.Fatalf("%d requests live, %d accepted", len(reqs), accepted)
	}
	if err := e.agent.Trash(reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.createRequestErr("", "", "g", strings.Repeat("c", 1000)); err != nil {
		t.Fatalf("after a trash: %v", err)
	}
}

// TestAttack_QueuedRequestsCountAgainstTheIndexBudget: requests waiting
// in an unbounded delegation queue hold their prepared delegations, and
// MaxIndexBytes counts that: a hung target cannot make the agent hold
// more than the budget by queueing.
func TestAttack_QueuedRequestsCountAgainstTheIndexBudget(t *testing.T) {
	const budget = 200 << 10
	e := newEnv(t, agent.Config{MaxIndexBytes: budget, MaxThreads: 1, MaxQueueSize: -1,
		MaxThreadsPerTarget: 1, MaxQueuePerTarget: -1})
	hrcv := e.receiver(e.hungProxy(t))
	accepted := 0
	var refused error
	for range 1000 {
		r := e.call(hrcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("H", 1))
		if r.poller == nil {
			refused = r.err
			break
		}
		accepted++
	}
	if !isSys(refused, giop.ExcImpLimit, nmproto.TooManyRequests) {
		t.Fatalf("after %d queued requests: %v, want IMP_LIMIT/TOO_MANY_REQUESTS", accepted, refused)
	}
	// About 1 KB each while they wait (docs/limits.md); 400 B if the
	// waiting were not counted.
	if accepted > budget/900 {
		t.Fatalf("%d queued requests fit in %d bytes", accepted, budget)
	}
}

// TestCreatedRetention: a request made by create_request and never
// invoked is trashed after CreatedRetention; one invoked is not.
func TestCreatedRetention(t *testing.T) {
	e := newEnv(t, agent.Config{CreatedRetention: 50 * time.Millisecond})
	idle := e.createRequest(t, "", "", "g", "")
	used := e.createRequest(t, "", "", "g", "")
	release := e.sm.hold()
	defer release()
	if r := e.call(used, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("U", 1)); r.poller == nil {
		t.Fatalf("invoking the request: %+v", r)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := e.client.Invoke(e.ctx(), idle, &giop.Invocation{Operation: "_non_existent"})
		if err == nil && resp.Result.Bool() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the uninvoked request was never expired")
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, err := e.client.Invoke(e.ctx(), used, &giop.Invocation{Operation: "_non_existent"})
	if err != nil || resp.Result.Bool() {
		t.Fatalf("the invoked request was expired too (%v)", err)
	}
}

// TestAttack_WaitingCallsBudget: calls that block (forever polls, from
// many connections) are bounded in all: beyond MaxWaiting a blocking poll
// gets IMP_LIMIT/TOO_MANY_WAITING at once, a non-blocking one is still
// answered, and the places come back when the blocked callers go.
func TestAttack_WaitingCallsBudget(t *testing.T) {
	e := newEnv(t, agent.Config{MaxWaiting: 8})
	proxy := e.mustProxy()
	release := e.sm.hold()
	defer release()
	e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("W", 1))
	var clients []*giop.Client
	var wg sync.WaitGroup
	for i := range 8 {
		c := giop.NewClient(nil)
		clients = append(clients, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Invoke(context.Background(), proxy, &giop.Invocation{Operation: "poll", Args: func(enc *giop.Encoder) {
				enc.WriteULong(nmproto.WaitForever)
				enc.WriteBool(false)
			}})
		}()
		_ = i
	}
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, e.agent, "requestagent_calls_waiting") < 8 {
		if time.Now().After(deadline) {
			t.Fatal("the forever polls did not block")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.pollTags(proxy, nil, nmproto.WaitForever, false); !isSys(err, giop.ExcImpLimit, nmproto.TooManyWaiting) {
		t.Fatalf("a ninth blocking poll = %v, want IMP_LIMIT/TOO_MANY_WAITING", err)
	}
	if tags, err := e.pollTags(proxy, nil, 0, false); err != nil || len(tags) != 0 {
		t.Fatalf("a non-blocking poll beside them = %v, %v", tags, err)
	}
	for _, c := range clients {
		c.Close() // the blocked callers go
	}
	wg.Wait()
	for metricValue(t, e.agent, "requestagent_calls_waiting") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the places of the gone callers did not come back")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := e.pollTags(proxy, nil, 10, false); err != nil {
		t.Fatalf("a blocking poll after they went: %v", err)
	}
}

// TestAttack_HungTargetTakesOnlyItsShare: requests to a target that never
// answers fill that target's share of threads and queue and are then
// refused with IMP_LIMIT/QUEUE_FULL, nothing stored for them; another
// target's requests still run; and the waiting requests hold no
// goroutine each.
func TestAttack_HungTargetTakesOnlyItsShare(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreadsPerTarget: 4, MaxQueuePerTarget: 50})
	hrcv := e.receiver(e.hungProxy(t))
	before := runtime.NumGoroutine()
	accepted, refused := 0, 0
	for range 500 {
		r := e.call(hrcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("H", 1))
		switch {
		case r.poller != nil:
			accepted++
		case isSys(r.err, giop.ExcImpLimit, nmproto.QueueFull):
			refused++
		default:
			t.Fatalf("request to the hung target: %+v", r)
		}
	}
	if accepted != 54 || refused != 446 {
		t.Fatalf("%d accepted and %d refused of 500, want 54 (4 running + 50 waiting) and 446", accepted, refused)
	}
	if grew := runtime.NumGoroutine() - before; grew > 30 {
		t.Fatalf("the goroutines grew by %d for 54 accepted requests", grew)
	}
	if n := len(e.agent.Requests()); n != accepted {
		t.Fatalf("%d requests stored, %d accepted", n, accepted)
	}
	// The real target is served meanwhile.
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	if r := e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("OK", 1)); r.err != nil || r.rna {
		t.Fatalf("another target beside the hung one: %+v", r)
	}
}

// TestWaitReply_QueuedRequestWaits: a WaitReply call that has to wait for
// a delegation thread still waits for its reply within its wait_timeout,
// rather than returning premature at once.
func TestWaitReply_QueuedRequestWaits(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 1})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	release := e.sm.hold()
	first := make(chan result, 1)
	go func() { first <- e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("FIRST", 1)) }()
	<-e.sm.entered // the one thread is busy
	second := make(chan result, 1)
	go func() {
		second <- e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("SECOND", 1))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, e.agent, "requestagent_queue_depth") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the second call never queued")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case r := <-second:
		t.Fatalf("the queued WaitReply call returned before its reply: %+v", r)
	default:
	}
	release()
	for _, c := range []chan result{first, second} {
		if r := <-c; r.err != nil || r.rna || !r.resp.Result.Bool() {
			t.Fatalf("WaitReply call: %+v, want the mature result", r)
		}
	}
}

// hungProxy is a proxy for a target that accepts calls and never answers.
func (e *env) hungProxy(t *testing.T) *giop.IOR {
	t.Helper()
	// The hung target: accepts and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	hung := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")})
	hp, err := e.createProxy(hung, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return hp
}
