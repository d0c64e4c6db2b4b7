package agent_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestTrash_QueuedRequestLeavesTheQueue: a request trashed while it waits
// for a delegation thread — by destroy_request, by an operator, by its
// proxy's destroy(TRUE) — gives its place in the queue back at once, is
// never sent, and is never written again: once the thread frees nothing of
// it is in the store, and after a restart its poller finds a trashed
// request (OBJECT_NOT_EXIST/REQUEST_TRASHED), not COMM_FAILURE/MAYBE.
func TestTrash_QueuedRequestLeavesTheQueue(t *testing.T) {
	dir, cfg, e, _, rcv := restartEnv(t)
	release := e.sm.hold()
	defer release()
	inflight := e.call(rcv, "add_stock", reqInfoCtx("inflight", "", 0, false), addStockArgs("INFLIGHT", 1))
	<-e.sm.entered // the one thread is busy
	other := e.mustProxy()
	var queued []result
	for i, r := range []*giop.IOR{rcv, rcv, e.receiver(other)} {
		q := e.call(r, "add_stock", reqInfoCtx(fmt.Sprint("q", i), "", 0, false), addStockArgs(fmt.Sprint("Q", i), 2))
		if q.poller == nil || q.poller.IsNil() {
			t.Fatalf("queued request %d not acknowledged: %+v", i, q)
		}
		queued = append(queued, q)
	}
	if d := metricValue(t, e.agent, "requestagent_queue_depth"); d != 3 {
		t.Fatalf("queue depth %v, want 3", d)
	}

	// destroy_request on the agent, by the poller.
	if _, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "destroy_request",
		Args: func(enc *giop.Encoder) { enc.WriteIOR(queued[0].poller) }}); err != nil {
		t.Fatalf("destroy_request: %v", err)
	}
	// An operator's trash, by the public id (the one queued request of
	// the first proxy left, besides the one in flight).
	var id string
	for _, r := range e.agent.Requests() {
		if r.Tag == "q1" {
			id = r.ID
		}
	}
	if err := e.agent.Trash(id); err != nil {
		t.Fatalf("trash %q: %v", id, err)
	}
	// The other proxy destroyed with its requests.
	if _, err := e.client.Invoke(e.ctx(), other, &giop.Invocation{Operation: "destroy",
		Args: func(enc *giop.Encoder) { enc.WriteBool(true) }}); err != nil {
		t.Fatalf("destroy(TRUE): %v", err)
	}
	if d := metricValue(t, e.agent, "requestagent_queue_depth"); d != 0 {
		t.Fatalf("queue depth %v after trashing every queued request, want 0", d)
	}

	release()
	if p := e.call(inflight.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil || !p.resp.Result.Bool() {
		t.Fatalf("the request in flight: %+v", p)
	}
	// Let the freed thread go wherever it would go.
	deadline := time.Now().Add(20 * time.Second)
	for metricValue(t, e.agent, "requestagent_delegations_in_flight") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a delegation still runs")
		}
		time.Sleep(time.Millisecond)
	}
	e.agent.Close() // waits for the trash after the read
	if got := e.sm.calls.Load(); got != 1 {
		t.Fatalf("the target got %d calls, want 1 (the trashed requests never sent)", got)
	}
	var pollers []*giop.IOR
	for _, q := range queued {
		pollers = append(pollers, q.poller)
	}
	wantTrashedAfterRestart(t, dir, cfg, e, pollers...)
	if got := e.sm.calls.Load(); got != 1 {
		t.Fatalf("the target got %d calls after the restart, want 1", got)
	}
}

// TestRequests_QueuedRequestShownDelegating: a request that waited in the
// queue is shown delegating, not queued, once it has a thread and is on
// its way to the target (docs/admin.md's states follow the request's).
func TestRequests_QueuedRequestShownDelegating(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 1})
	rcv := e.receiver(e.mustProxy())
	first := e.sm.hold()
	defer first()
	e.call(rcv, "add_stock", reqInfoCtx("first", "", 0, false), addStockArgs("FIRST", 1))
	<-e.sm.entered
	e.call(rcv, "add_stock", reqInfoCtx("second", "", 0, false), addStockArgs("SECOND", 1))
	state := func(tag string) string {
		for _, r := range e.agent.Requests() {
			if r.Tag == tag {
				return r.State
			}
		}
		return "gone"
	}
	if s := state("second"); s != "queued" {
		t.Fatalf("the waiting request is %q, want queued", s)
	}
	// The first call waits on the first gate; the second will wait on this one.
	second := e.sm.hold()
	defer second()
	first()
	select {
	case sym := <-e.sm.entered:
		if sym != "SECOND" {
			t.Fatalf("the target got %q", sym)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the queued request never reached the target")
	}
	if s := state("second"); s != "delegating" {
		t.Fatalf("the request at its target is %q, want delegating", s)
	}
}

// TestTrash_WhileTheReplyIsWrittenStaysTrashed: a request trashed after
// storeReply found it live and before its reply's commit — the commit then
// writes the request back — is deleted again once the commit is done:
// nothing of it is left in the store, its poller finds it trashed after a
// restart, and the reply is never made ready for anyone.
func TestTrash_WhileTheReplyIsWrittenStaysTrashed(t *testing.T) {
	dir, cfg, e, _, rcv := restartEnv(t)
	done := make(chan struct{})
	defer agent.TrashWhileReplyIsWritten(done)()
	sent := e.call(rcv, "add_stock", reqInfoCtx("t", "", 0, false), addStockArgs("A", 1))
	if sent.poller == nil || sent.poller.IsNil() {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the reply was never written")
	}
	if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
		t.Fatalf("pull of the trashed request: %+v, want OBJECT_NOT_EXIST/REQUEST_TRASHED", p)
	}
	e.agent.Close() // waits for the delegation, storeReply included
	wantTrashedAfterRestart(t, dir, cfg, e, sent.poller)
}

// TestTrash_DuringAWaitReplyWaitIsNeverStored: a WaitReply call's
// request, trashed while the call waits for its reply unstored, is not
// written when the wait ends: the caller gets OBJECT_NOT_EXIST/
// REQUEST_TRASHED completed MAYBE (it was sent), no poller, and nothing of
// it is in the store or comes back after a restart. (It was written, and
// came back.)
func TestTrash_DuringAWaitReplyWaitIsNeverStored(t *testing.T) {
	dir, cfg, e, _, _ := restartEnv(t)
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	release := e.sm.hold()
	defer release()
	done := make(chan struct{})
	defer agent.TrashBeforeEvolve(done)()
	r := e.call(rcv, "add_stock", reqInfoCtx("w", "", 20, false), addStockArgs("W", 1))
	<-done
	var x *giop.SystemException
	if !errors.As(r.err, &x) || x.Name != giop.ExcObjectNotExist || x.Minor != nmproto.RequestTrashed ||
		x.Completed != giop.CompletedMaybe || r.poller != nil {
		t.Fatalf("the call whose request was trashed during its wait: %+v, want OBJECT_NOT_EXIST/REQUEST_TRASHED completed MAYBE, no poller", r)
	}
	release()
	e.agent.Close()
	wantTrashedAfterRestart(t, dir, cfg, e)
}

// TestCreateRequest_FirstCallWithBadContextStaysInvokable: a request
// object's first call refused for a malformed NMService context leaves it
// as created, and the next call is its first: sent to the target, not a
// pull of a request that never went. (It stayed claimed for ever.)
func TestCreateRequest_FirstCallWithBadContextStaysInvokable(t *testing.T) {
	e := newEnv(t, agent.Config{})
	reqObj := e.createRequest(t, "", "", "g", "")
	bad := giop.ServiceContextList{{ID: nmproto.ServiceID, Data: []byte{0xff, 0xff, 0xff}}}
	if r := e.call(reqObj, "add_stock", bad, addStockArgs("ACME", 1)); !isSys(r.err, giop.ExcBadParam, nmproto.BadContext) {
		t.Fatalf("first call with a malformed context = %v, want BAD_PARAM/BAD_CONTEXT", r.err)
	}
	if r := e.call(reqObj, "add_stock", nil, addStockArgs("ACME", 1)); !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("the next call = %v, want its premature return", r.err)
	}
	group := "g"
	if tags, err := e.pollTags(e.agentRef, &group, nmproto.WaitForever, false); err != nil || len(tags) != 1 {
		t.Fatalf("RequestAgent::poll = %v, %v", tags, err)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the target ran %d calls, want 1: the second call was the first", n)
	}
}

// wantTrashedAfterRestart checks, once e's agent is closed, that nothing
// of the trashed requests is left in the store under dir, and that after
// a restart on cfg each of their pollers finds its request trashed
// (OBJECT_NOT_EXIST/REQUEST_TRASHED), not come back.
func wantTrashedAfterRestart(t *testing.T, dir string, cfg agent.Config, e *env, pollers ...*giop.IOR) {
	t.Helper()
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("entries of trashed requests left in the store: %q", left)
	}
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	for i, pl := range pollers {
		if p := e.call(pl, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
			t.Fatalf("trashed request %d after the restart: %+v, want OBJECT_NOT_EXIST/REQUEST_TRASHED", i, p)
		}
	}
}
