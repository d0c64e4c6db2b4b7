package agent_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// The rows of Native Messaging's outcome table, each a test named after its row.

// Test2PIInitiated: a call on a typed receiver returns at once — in
// unsuppressed mode with NO_RESPONSE/REPLY_NOT_AVAILABLE — and the poller
// travels in the NMService context; reply_not_available is TRUE.
func Test2PIInitiated(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold() // the target does not answer yet
	defer release()
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 100.5))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || !r.rna {
		t.Fatalf("premature return = %v (rna %v), want NO_RESPONSE/REPLY_NOT_AVAILABLE", r.err, r.rna)
	}
	var x *giop.SystemException
	if isSys(r.err, giop.ExcNoResponse, 0) {
		x = r.err.(*giop.SystemException)
		if x.Completed != giop.CompletedNo {
			t.Fatalf("RNA completed %v", x.Completed)
		}
	}
	if r.poller == nil || r.poller.IsNil() {
		t.Fatal("no poller in the NMService context")
	}
	// The poller is a typed reference with TAG_NM_REF 0x02 (docs/native-messaging.md).
	prof, _ := r.poller.IIOP()
	c, ok := prof.Component(nmproto.TagNMRef)
	if k, err := nmproto.ParseRefComponent(c.Data); !ok || err != nil || k != nmproto.RefPoller || r.poller.TypeID != stockID {
		t.Fatalf("poller IOR: type %q, TAG_NM_REF %v %v", r.poller.TypeID, k, err)
	}
	<-e.sm.entered // and the agent did delegate it
}

// Test2PIInitiated_PlainClient: a request without NMService (a plain ORB
// client) gets unsuppressed behaviour even if it could be suppressed.
func Test2PIInitiated_PlainClient(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", nil, addStockArgs("ACME", 100.5))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("plain client premature return = %v", r.err)
	}
}

// Test2PIInitiationFailure: the agent refuses to initiate — here a
// duplicate request tag — with an exception other than RNA and no poller;
// reply_not_available is TRUE.
func Test2PIInitiationFailure(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	e.call(rcv, "add_stock", reqInfoCtx("0", "", 0, false), addStockArgs("ACME", 1))
	r := e.call(rcv, "add_stock", reqInfoCtx("0", "", 0, false), addStockArgs("ACMA", 2))
	if !isSys(r.err, giop.ExcBadInvOrder, nmproto.DuplicatedRequestTag) || !r.rna || r.poller != nil {
		t.Fatalf("duplicate tag = %v (rna %v, poller %v), want BAD_INV_ORDER/DUPLICATED_REQUEST_TAG without poller", r.err, r.rna, r.poller)
	}
}

// Test2PICompleted: pulling on the poller returns the target's real
// result; no ThePoller context, so reply_not_available is FALSE. A real
// exceptional result carries ReplierName.
func Test2PICompleted(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 100.5))
	pull := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if pull.err != nil || pull.rna {
		t.Fatalf("pull = %v (rna %v)", pull.err, pull.rna)
	}
	if added := pull.resp.Result.Bool(); !added {
		t.Fatal("add_stock's real result is TRUE (a new symbol)")
	}

	// inout: find_closest_symbol returns the symbol found.
	r = e.call(rcv, "find_closest_symbol", reqInfoCtx("", "", 0, false), stringArg("ACMA"))
	pull = e.call(r.poller, "find_closest_symbol", waitCtx(nmproto.WaitForever), stringArg("ACMA"))
	if pull.err != nil || !pull.resp.Result.Bool() || pull.resp.Result.String() != "ACME" {
		t.Fatalf("find_closest_symbol via poller: %v", pull.err)
	}

	// An exceptional result is the target's, with ReplierName.
	r = e.call(rcv, "remove_stock", reqInfoCtx("", "", 0, false), stringArg("NOPE"))
	pull = e.call(r.poller, "remove_stock", waitCtx(nmproto.WaitForever), stringArg(""))
	if !isUser(pull.err, "IDL:StockManager/NotFound:1.0") || pull.rna || !pull.replierName {
		t.Fatalf("user exception result = %v (rna %v)", pull.err, pull.rna)
	}
	if sym := pull.resp.Result.String(); sym != "NOPE" {
		t.Fatalf("exception member %q", sym)
	}
	r = e.call(rcv, "crash", reqInfoCtx("", "", 0, false), nil)
	pull = e.call(r.poller, "crash", waitCtx(nmproto.WaitForever), nil)
	if !isSys(pull.err, giop.ExcNoPermission, 42) || pull.rna {
		t.Fatalf("system exception result = %v (rna %v)", pull.err, pull.rna)
	}
}

// TestReplyNotAvailable: pulling before the reply is there gives a
// premature return again (after waiting up to wait_timeout), with the poller.
func TestReplyNotAvailable(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 1))
	for _, wait := range []uint32{0, 10} {
		p := e.call(r.poller, "add_stock", waitCtx(wait), addStockArgs("", 0))
		if !isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || !p.rna || p.poller == nil {
			t.Fatalf("pull before reply (wait %d) = %v", wait, p.err)
		}
	}
	release()
	p := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if p.err != nil || p.rna {
		t.Fatalf("pull after reply = %v", p.err)
	}
}

// TestPollingPullingFailure: another operation on a poller, or a trashed
// poller, is a polling failure: an exception without ReplierName, so
// reply_not_available is TRUE — never mistaken for a result.
func TestPollingPullingFailure(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 1))
	wrong := e.call(r.poller, "find_closest_symbol", waitCtx(0), stringArg("A"))
	if !isSys(wrong.err, giop.ExcBadOperation, nmproto.WrongOperation) || !wrong.rna {
		t.Fatalf("wrong operation on poller = %v (rna %v)", wrong.err, wrong.rna)
	}
	if p := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil {
		t.Fatal(p.err)
	}
	// The reply was read, so the request is trashed (default).
	again := e.call(r.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if !isSys(again.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) || !again.rna {
		t.Fatalf("trashed poller = %v (rna %v), want OBJECT_NOT_EXIST", again.err, again.rna)
	}
}

// TestManualTrash_IdempotentPolling: with RequestManualTrash the reply can
// be pulled again and again until destroy_request (docs/native-messaging.md).
func TestManualTrash_IdempotentPolling(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropRequestManualTrash, true)))
	r := e.call(rcv, "find_closest_symbol", reqInfoCtx("t", "", 0, false), stringArg("X"))
	for range 3 {
		p := e.call(r.poller, "find_closest_symbol", waitCtx(nmproto.WaitForever), stringArg(""))
		if p.err != nil || p.resp.Result.Bool() || p.resp.Result.String() != "X" {
			t.Fatalf("idempotent pull: %v", p.err)
		}
	}
	if _, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "destroy_request",
		Args: func(enc *giop.Encoder) { enc.WriteIOR(r.poller) }}); err != nil {
		t.Fatalf("destroy_request(poller): %v", err)
	}
	if p := e.call(r.poller, "find_closest_symbol", waitCtx(0), stringArg("")); !isSys(p.err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("after destroy_request: %v", p.err)
	}
	_, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "destroy_request",
		Args: func(enc *giop.Encoder) { enc.WriteIOR(r.poller) }})
	if !isUser(err, "IDL:NativeMessaging/RequestAgent/RequestNotExist:1.0") {
		t.Fatalf("destroy_request twice = %v, want RequestNotExist", err)
	}
}

// TestGroupPolling: tagged requests on a proxy, polled until
// PollingGroupIsEmpty, then destroy(true) (the seed's GroupPollingClient).
func TestGroupPolling(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	pollers := map[string]*giop.IOR{}
	r := e.call(rcv, "add_stock", reqInfoCtx("0", "", 0, false), addStockArgs("ACME", 100.5))
	pollers["0"] = r.poller
	r = e.call(rcv, "find_closest_symbol", reqInfoCtx("1", "", 0, false), stringArg("ACMA"))
	pollers["1"] = r.poller
	var seen []string
	for {
		tags, err := e.pollTags(proxy, nil, 5000, true)
		if isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			seen = append(seen, tag)
			op, args := "add_stock", addStockArgs("", 0)
			if tag == "1" {
				op, args = "find_closest_symbol", stringArg("ACMA")
			}
			if p := e.call(pollers[tag], op, waitCtx(0), args); p.err != nil || p.rna {
				t.Fatalf("pull tag %s: %v", tag, p.err)
			}
		}
	}
	sort.Strings(seen)
	if joined(seen) != "0,1" {
		t.Fatalf("tags seen %v", seen)
	}
	if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy", Args: func(enc *giop.Encoder) { enc.WriteBool(true) }}); err != nil {
		t.Fatalf("destroy(true): %v", err)
	}
	if _, err := e.getRef(proxy, "_get_the_receiver"); !isSys(err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("destroyed proxy: %v", err)
	}
}

// TestPoll_UnmaskAndTimeout: unmask=FALSE keeps reporting a ready tag;
// a poll with a timeout and nothing ready returns an empty list.
func TestPoll_UnmaskAndTimeout(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy(boolProp(nmproto.PropRequestManualTrash, true))
	rcv := e.receiver(proxy)
	release := e.sm.hold()
	defer release()
	e.call(rcv, "add_stock", reqInfoCtx("slow", "", 0, false), addStockArgs("S", 1))
	if tags, err := e.pollTags(proxy, nil, 20, true); err != nil || len(tags) != 0 {
		t.Fatalf("poll with nothing ready = %v, %v; want empty", tags, err)
	}
	release()
	for range 2 {
		if tags, err := e.pollTags(proxy, nil, nmproto.WaitForever, false); err != nil || joined(tags) != "slow" {
			t.Fatalf("unmask=false poll = %v, %v", tags, err)
		}
	}
	if tags, _ := e.pollTags(proxy, nil, 0, true); joined(tags) != "slow" {
		t.Fatalf("first unmask=true poll = %v", tags)
	}
	if tags, _ := e.pollTags(proxy, nil, 0, true); len(tags) != 0 {
		t.Fatalf("second unmask=true poll = %v", tags)
	}
}

// TestWaitReply_EvolveInto2PI: with WaitReply and a wait_timeout, a fast
// target's reply comes back mature in the same call; a slow one evolves
// into a 2PI with a premature return.
func TestWaitReply_EvolveInto2PI(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	fast := e.call(rcv, "add_stock", reqInfoCtx("", "", 10000, false), addStockArgs("FAST", 1))
	if fast.err != nil || fast.rna || !fast.resp.Result.Bool() {
		t.Fatalf("fast call = %v (rna %v), want the mature result", fast.err, fast.rna)
	}
	release := e.sm.hold()
	defer release()
	slow := e.call(rcv, "add_stock", reqInfoCtx("", "", 20, false), addStockArgs("SLOW", 2))
	if !isSys(slow.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || !slow.rna || slow.poller == nil {
		t.Fatalf("slow call = %v (rna %v), want a premature return", slow.err, slow.rna)
	}
	release()
	p := e.call(slow.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("evolved request's result: %v", p.err)
	}
}

// TestWaitReply_Forever: a wait_timeout of 0xFFFFFFFF waits as long as the
// target takes (docs/native-messaging.md: ≥ 2^31 is forever), and the result comes
// back mature rather than as a premature return.
func TestWaitReply_Forever(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true)))
	release := e.sm.hold()
	defer release()
	got := make(chan result, 1)
	go func() {
		got <- e.call(rcv, "add_stock", reqInfoCtx("", "", nmproto.WaitForever, false), addStockArgs("F", 1))
	}()
	<-e.sm.entered // the target has the request; the caller still waits
	release()
	r := <-got
	if r.err != nil || r.rna || !r.resp.Result.Bool() {
		t.Fatalf("call waiting forever = %v (rna %v), want the mature result", r.err, r.rna)
	}
}

// TestWaitReply_MatureNeedsNoStore: a reply within the wait is the whole
// story, so it is relayed even while the store cannot write; a request
// that outlives its wait must be stored before its premature return, and
// with the store failing it gets PERSIST_STORE completed MAYBE (it was
// sent) and no poller (docs/native-messaging.md: acknowledge only what is durable).
func TestWaitReply_MatureNeedsNoStore(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy(boolProp(nmproto.PropWaitReply, true))
	rcv := e.receiver(proxy)
	e.agent.InjectStoreFault(errors.New("no space left on device"))
	defer e.agent.InjectStoreFault(nil)
	fast := e.call(rcv, "add_stock", reqInfoCtx("", "", 10000, false), addStockArgs("FAST", 1))
	if fast.err != nil || fast.rna || !fast.resp.Result.Bool() {
		t.Fatalf("fast call with the store failing = %v (rna %v), want the mature result", fast.err, fast.rna)
	}
	release := e.sm.hold()
	defer release()
	slow := e.call(rcv, "add_stock", reqInfoCtx("", "", 20, false), addStockArgs("SLOW", 2))
	if !isSys(slow.err, giop.ExcPersistStore, nmproto.StoreFailed) || slow.poller != nil ||
		slow.err.(*giop.SystemException).Completed != giop.CompletedMaybe {
		t.Fatalf("slow call with the store failing = %v (poller %v), want PERSIST_STORE completed MAYBE, no poller", slow.err, slow.poller)
	}
	// Refused, it is not half-kept: its group holds nothing.
	if _, err := e.pollTags(proxy, nil, 0, false); !isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
		t.Fatalf("poll after the refused request = %v, want PollingGroupIsEmpty", err)
	}
}

// TestPull_ReplyHandedToWaitingPull: a pull that waits on a poller whose
// reply is on its way gets the reply as it arrives, without it being
// stored first; the request is trashed after the read like any other
// (docs/native-messaging.md). A proxy with RequestManualTrash, whose reads do not
// trash, gets its reply the stored way.
func TestPull_ReplyHandedToWaitingPull(t *testing.T) {
	e := newEnv(t, agent.Config{})
	for _, manual := range []bool{false, true} {
		proxy := e.mustProxy(boolProp(nmproto.PropRequestManualTrash, manual))
		release := e.sm.hold()
		sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs(fmt.Sprint("H", manual), 1))
		if sent.poller == nil {
			t.Fatalf("no poller: %v", sent.err)
		}
		<-e.sm.entered
		handedBefore := metricValue(t, e.agent, "requestagent_replies_handed_total")
		got := make(chan result, 1)
		go func() { got <- e.call(sent.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)) }()
		// Release the target only once the pull waits (never, with
		// RequestManualTrash: then the pull is simply in flight).
		for deadline := time.Now().Add(20 * time.Second); !manual && metricValue(t, e.agent, "requestagent_pulls_waiting") < 1; {
			if time.Now().After(deadline) {
				t.Fatal("the pull never registered as waiting")
			}
			time.Sleep(time.Millisecond)
		}
		release()
		r := <-got
		if r.err != nil || r.rna || !r.resp.Result.Bool() {
			t.Fatalf("manual trash %v: pull = %v (rna %v), want the result", manual, r.err, r.rna)
		}
		handed := metricValue(t, e.agent, "requestagent_replies_handed_total") - handedBefore
		if want := map[bool]float64{false: 1, true: 0}[manual]; handed != want {
			t.Fatalf("manual trash %v: %v replies handed over, want %v", manual, handed, want)
		}
		// The read's trash is committed after its reply is on the socket:
		// a second read meanwhile is told to pull again (REPLY_NOT_AVAILABLE),
		// then finds the request gone. With RequestManualTrash it reads the
		// reply again.
		again := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
		for deadline := time.Now().Add(20 * time.Second); !manual && isSys(again.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			again = e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
		}
		if trashed := isSys(again.err, giop.ExcObjectNotExist, 0); trashed == manual {
			t.Fatalf("manual trash %v: second read = %v", manual, again.err)
		}
		if metricValue(t, e.agent, "requestagent_pulls_waiting") != 0 {
			t.Fatal("a pull is still registered as waiting")
		}
	}
}

// TestPull_ReplyTakenWhileBeingStored: a pull that comes while its reply
// is being written (no pull was waiting when the reply came) is handed the
// reply at once instead of waiting for the write's flush; the request is
// then trashed — record, body and the reply just written — after that
// write (RELIABILITY.md, crash points: the same outcomes as a reply handed
// to a waiting pull).
func TestPull_ReplyTakenWhileBeingStored(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, agent.Config{Store: storage.Config{Dir: dir, Durable: true}})
	proxy := e.mustProxy()
	release := e.sm.hold()
	sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("TAKEN", 1))
	if sent.poller == nil {
		t.Fatalf("no poller: %v", sent.err)
	}
	<-e.sm.entered
	stall := make(chan struct{})
	e.agent.InjectStoreStall(stall)
	release()
	// The reply is back and its write is held: the request is "replied"
	// but not readable from the store.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		if reqs := e.agent.Requests(); len(reqs) == 1 && reqs[0].State == "replied" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reply never came back: %+v", e.agent.Requests())
		}
	}
	handedBefore := metricValue(t, e.agent, "requestagent_replies_handed_total")
	got := make(chan result, 1)
	go func() { got <- e.call(sent.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)) }()
	var r result
	select {
	case r = <-got:
	case <-time.After(20 * time.Second):
		close(stall)
		t.Fatal("the pull waited for the stalled write")
	}
	if r.err != nil || r.rna || !r.resp.Result.Bool() {
		t.Fatalf("pull = %v (rna %v), want the result", r.err, r.rna)
	}
	if handed := metricValue(t, e.agent, "requestagent_replies_handed_total") - handedBefore; handed != 1 {
		t.Fatalf("%v replies handed over, want 1", handed)
	}
	close(stall)
	e.agent.InjectStoreStall(nil)
	// Until the trash that follows the reply's write is done, the request
	// is being read (lifecycle.Reading): a pull is told to pull again.
	for i := 0; ; i++ {
		again := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
		if isSys(again.err, giop.ExcObjectNotExist, 0) {
			break
		}
		if i == 2000 || !isSys(again.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
			t.Fatalf("second read = %v, want OBJECT_NOT_EXIST once the trash is done", again.err)
		}
		time.Sleep(time.Millisecond)
	}
	e.agent.Close() // waits for the trash, which follows the reply's write
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Fatalf("entries left after the read: %q", left)
	}
	// The new store's public-id key, the proxy, the request, its reply and
	// its deletion: five batches.
	flushes := metricValue(t, e.agent, "requestagent_store_flushes_total")
	commits := metricValue(t, e.agent, "requestagent_store_commits_total")
	if commits != 5 || flushes < 1 || flushes > commits {
		t.Errorf("store metrics: %v commits in %v flushes, want 5 in 1 to 5", commits, flushes)
	}
}

// metricValue reads one unlabelled metric from the agent's /metrics.
func metricValue(t *testing.T, a *agent.Agent, name string) float64 {
	t.Helper()
	v, ok := scrapeMetric(t, a, name)
	if !ok {
		t.Fatalf("metric %s not found", name)
	}
	return v
}

// scrapeMetric reads one sample, by its name and labels as the exposition
// writes them, from the agent's /metrics; ok is false when there is none.
func scrapeMetric(t *testing.T, a *agent.Agent, sample string) (float64, bool) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", sample, err)
			}
			return f, true
		}
	}
	return 0, false
}

// TestReplyDropping: ReplyDropping filters what is sent to the reply
// recipient (docs/native-messaging.md): each bit drops one kind of reply due to a
// recipient — not delivered, not kept, its request trashed — and the other
// kinds are delivered. Without a recipient nothing is dropped: the reply
// is there for polling whatever its kind.
func TestReplyDropping(t *testing.T) {
	cases := []struct {
		drop     byte
		op       string
		args     func(*giop.Encoder)
		wantDrop bool
	}{
		{0x01, "add_stock", addStockArgs("A", 1), true},
		{0x01, "remove_stock", stringArg("NOPE"), false},
		{0x02, "remove_stock", stringArg("NOPE"), true},
		{0x02, "crash", nil, false},
		{0x04, "crash", nil, true},
		{0x04, "add_stock", addStockArgs("B", 1), false},
		{0x06, "remove_stock", stringArg("NOPE"), true},
		{0x06, "crash", nil, true},
		{0x06, "add_stock", addStockArgs("C", 1), false},
	}
	e := newEnv(t, agent.Config{})
	r := &goRecipient{client: e.client, arrived: make(chan delivery, 16)}
	recipient := startRecipient(t, r)
	for _, c := range cases {
		// With a recipient.
		proxy, err := e.createProxy(e.target, "", recipient, octetProp(nmproto.PropReplyDropping, c.drop))
		if err != nil {
			t.Fatal(err)
		}
		e.call(e.receiver(proxy), c.op, reqInfoCtx("x", c.op, 0, false), c.args)
		if c.wantDrop {
			deadline := time.Now().Add(20 * time.Second)
			for {
				if _, err := e.pollTags(proxy, nil, 0, false); isUser(err, nmproto.PollingGroupIsEmptyID) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("0x%02x %s: the dropped reply's request was not trashed", c.drop, c.op)
				}
				time.Sleep(time.Millisecond)
			}
			select {
			case d := <-r.arrived:
				t.Fatalf("0x%02x %s: a dropped reply was delivered: %+v", c.drop, c.op, d)
			default:
			}
		} else if d := <-r.arrived; d.cookie != c.op {
			t.Fatalf("0x%02x %s: delivery %+v", c.drop, c.op, d)
		}
		// Without a recipient: kept for polling.
		proxy = e.mustProxy(octetProp(nmproto.PropReplyDropping, c.drop))
		res := e.call(e.receiver(proxy), c.op, reqInfoCtx("x", "", 0, false), c.args)
		if res.poller == nil || res.poller.IsNil() {
			t.Fatalf("0x%02x %s: no poller (no recipient, so one is due)", c.drop, c.op)
		}
		if p := e.call(res.poller, c.op, waitCtx(10_000), c.args); p.rna || isSys(p.err, giop.ExcObjectNotExist, 0) {
			t.Fatalf("ReplyDropping 0x%02x without a recipient, %s: the reply was not kept for polling: %v", c.drop, c.op, p.err)
		}
	}
}

// TestReplyDropping_WaitReplyMatures: a reply that matures within a
// WaitReply wait goes to the caller whatever ReplyDropping says — the
// property filters what is sent to a recipient, not the caller's own call.
func TestReplyDropping_WaitReplyMatures(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy(boolProp(nmproto.PropWaitReply, true), octetProp(nmproto.PropReplyDropping, 0x06)))
	r := e.call(rcv, "remove_stock", reqInfoCtx("", "", 10_000, false), stringArg("NOPE"))
	if r.rna || !isUser(r.err, "IDL:StockManager/NotFound:1.0") {
		t.Fatalf("WaitReply with ReplyDropping 0x06 = %+v (%v), want the mature user exception", r, r.err)
	}
	r = e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("M", 1))
	if r.rna || r.err != nil {
		t.Fatalf("WaitReply with ReplyDropping 0x06, a normal reply = %+v", r)
	}
}

// TestReplyDropping_NoPollerWithRecipient: with a recipient and dropping,
// no poller is returned (docs/native-messaging.md).
func TestReplyDropping_NoPollerWithRecipient(t *testing.T) {
	e := newEnv(t, agent.Config{})
	recipient := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 9, ObjectKey: []byte("rr")})
	proxy, err := e.createProxy(e.target, "", recipient, octetProp(nmproto.PropReplyDropping, 0x06))
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || r.poller == nil || !r.poller.IsNil() {
		t.Fatalf("premature return %v with poller %v; want a nil poller", r.err, r.poller)
	}
}

// TestCreateRequest_PlainClientPolling: the request-object model of
// create_request, as a plain client uses it: the first call sends, later
// calls poll with NO_RESPONSE/REPLY_NOT_AVAILABLE until the reply is there.
func TestCreateRequest_PlainClientPolling(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	reqObj := e.createRequest(t, "", "", "g", "")
	first := e.call(reqObj, "add_stock", nil, addStockArgs("ACME", 100.5))
	if !isSys(first.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("first call = %v", first.err)
	}
	if p := e.call(reqObj, "add_stock", nil, addStockArgs("ACME", 100.5)); !isSys(p.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
		t.Fatalf("poll before reply = %v", p.err)
	}
	release()
	group := "g"
	if tags, err := e.pollTags(e.agentRef, &group, nmproto.WaitForever, false); err != nil || len(tags) != 1 {
		t.Fatalf("RequestAgent::poll = %v, %v", tags, err)
	}
	p := e.call(reqObj, "add_stock", nil, addStockArgs("ACME", 100.5))
	if p.err != nil || !p.resp.Result.Bool() {
		t.Fatalf("mature result = %v", p.err)
	}
	if e.sm.calls.Load() != 1 {
		t.Fatalf("target called %d times; polling must not re-send", e.sm.calls.Load())
	}
	if _, err := e.pollTags(e.agentRef, &group, 0, false); !isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
		t.Fatalf("group after the read = %v, want PollingGroupIsEmpty", err)
	}
}

func (e *env) createRequest(t *testing.T, repoID, tag, group, cookie string, props ...prop) *giop.IOR {
	t.Helper()
	ref, err := e.createRequestErr(repoID, tag, group, cookie, props...)
	if err != nil {
		t.Fatalf("create_request: %v", err)
	}
	return ref
}

func (e *env) createRequestErr(repoID, tag, group, cookie string, props ...prop) (*giop.IOR, error) {
	resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(e.target)
		enc.WriteString(repoID)
		enc.WriteIOR(nil)
		enc.WriteOctets([]byte(cookie))
		enc.WriteString(group)
		enc.WriteOctets([]byte(tag))
		writeProps(enc, props)
	}})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

// TestCreateRequest_Rules: DuplicatedRequestTag in a group, BAD_PARAM for
// a nil target, "*" answers _is_a for any id, unknown property BAD_PARAM.
func TestCreateRequest_Rules(t *testing.T) {
	e := newEnv(t, agent.Config{})
	e.createRequest(t, "", "tag", "g", "")
	if _, err := e.createRequestErr("", "tag", "g", ""); !isUser(err, "IDL:NativeMessaging/RequestAgent/DuplicatedRequestTag:1.0") {
		t.Fatalf("duplicate tag = %v", err)
	}
	e.createRequest(t, "", "tag", "other", "") // another group: fine
	star := e.createRequest(t, "*", "", "g", "")
	resp, err := e.client.Invoke(e.ctx(), star, &giop.Invocation{Operation: "_is_a", Args: stringArg("IDL:Anything/At/All:1.0")})
	if err != nil || !resp.Result.Bool() {
		t.Fatalf(`_is_a on a "*" request: %v`, err)
	}
	if _, err := e.createRequestErr("", "", "g", "", octetProp(nmproto.PropReplyDropping, 1)); !isSys(err, giop.ExcBadParam, nmproto.BadProperty) {
		t.Fatalf("ReplyDropping on create_request = %v, want BAD_PARAM", err)
	}
	_, err = e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(nil)
		enc.WriteString("")
		enc.WriteIOR(nil)
		enc.WriteOctets(nil)
		enc.WriteString("g")
		enc.WriteOctets(nil)
		enc.WriteULong(0)
	}})
	if !isSys(err, giop.ExcBadParam, nmproto.NilTarget) {
		t.Fatalf("nil target = %v, want BAD_PARAM", err)
	}
}

// TestCreateProxy_InvalidProperty: unknown or ill-typed properties raise
// InvalidProperty; properties() returns what was set.
func TestCreateProxy_InvalidProperty(t *testing.T) {
	e := newEnv(t, agent.Config{})
	for _, p := range []prop{
		boolProp("NoSuchProperty", true),
		octetProp(nmproto.PropWaitReply, 1),
		boolProp(nmproto.PropReplyDropping, true),
		octetProp(nmproto.PropReplyDropping, 0x08),
	} {
		if _, err := e.createProxy(e.target, "", nil, p); !isUser(err, "IDL:NativeMessaging/InvalidProperty:1.0") {
			t.Fatalf("property %s=%v: %v, want InvalidProperty", p.name, p.val, err)
		}
	}
	proxy := e.mustProxy(octetProp(nmproto.PropReplyDropping, 0x06), boolProp(nmproto.PropWaitReply, true))
	resp, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "_get_properties"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	n := resp.Result.ULong()
	for range n {
		name := resp.Result.String()
		got[name] = resp.Result.Any().Value
	}
	if got[nmproto.PropReplyDropping] != byte(0x06) || got[nmproto.PropWaitReply] != true || got[nmproto.PropRequestManualTrash] != false {
		t.Fatalf("properties() = %v", got)
	}
}

// TestProxy_ToBeDestroyed: after destroy(false) the_receiver, properties
// and destroy raise OBJECT_NOT_EXIST while poll and destroy_request work
// until the last request is trashed, and then the proxy is gone.
func TestProxy_ToBeDestroyed(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	e.call(rcv, "add_stock", reqInfoCtx("a", "", 0, false), addStockArgs("A", 1))
	e.call(rcv, "add_stock", reqInfoCtx("b", "", 0, false), addStockArgs("B", 1))
	destroy := func(all bool) error {
		_, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy", Args: func(enc *giop.Encoder) { enc.WriteBool(all) }})
		return err
	}
	if err := destroy(false); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"_get_the_receiver", "_get_properties"} {
		if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: op}); !isSys(err, giop.ExcObjectNotExist, nmproto.ProxyDestroyed) {
			t.Fatalf("%s on a proxy to be destroyed: %v", op, err)
		}
	}
	if err := destroy(false); !isSys(err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("destroy twice: %v", err)
	}
	if r := e.call(rcv, "add_stock", reqInfoCtx("c", "", 0, false), addStockArgs("C", 1)); !isSys(r.err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("new request on a proxy to be destroyed: %v", r.err)
	}
	if tags, err := e.pollTags(proxy, nil, 5000, false); err != nil || len(tags) == 0 {
		t.Fatalf("poll still works: %v %v", tags, err)
	}
	for _, tag := range []string{"a", "b"} {
		if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request", Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }}); err != nil {
			t.Fatalf("destroy_request(%s): %v", tag, err)
		}
	}
	if _, err := e.pollTags(proxy, nil, 0, false); !isSys(err, giop.ExcObjectNotExist, 0) {
		t.Fatalf("proxy after its last request: %v", err)
	}
}

// TestQueueFull_ImpLimitNothingStored: with the delegation queue full,
// a request gets IMP_LIMIT (completed NO) and nothing is stored: it is not
// in the group and the target never sees it.
func TestQueueFull_ImpLimitNothingStored(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 1, MaxQueueSize: 1})
	release := e.sm.hold()
	defer release()
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	e.call(rcv, "add_stock", reqInfoCtx("1", "", 0, false), addStockArgs("A", 1)) // running
	<-e.sm.entered
	e.call(rcv, "add_stock", reqInfoCtx("2", "", 0, false), addStockArgs("B", 1)) // queued
	r := e.call(rcv, "add_stock", reqInfoCtx("3", "", 0, false), addStockArgs("C", 1))
	var x *giop.SystemException
	if !isSys(r.err, giop.ExcImpLimit, nmproto.QueueFull) || r.poller != nil {
		t.Fatalf("third request = %v, want IMP_LIMIT without poller", r.err)
	}
	if x, _ = r.err.(*giop.SystemException); x.Completed != giop.CompletedNo {
		t.Fatalf("IMP_LIMIT completed %v", x.Completed)
	}
	release()
	seen := map[string]bool{}
	for len(seen) < 2 {
		tags, err := e.pollTags(proxy, nil, 5000, true)
		if err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			seen[tag] = true
		}
	}
	if seen["3"] || e.sm.calls.Load() != 2 {
		t.Fatalf("refused request left traces: tags %v, target calls %d", seen, e.sm.calls.Load())
	}
	// Tag "3" is free again: nothing of the refused request remains.
	if r := e.call(rcv, "add_stock", reqInfoCtx("3", "", 0, false), addStockArgs("C", 1)); !isSys(r.err, giop.ExcNoResponse, 0) {
		t.Fatalf("tag 3 after the refusal: %v", r.err)
	}
}

// TestTargetDown_Transient: a target nobody listens for is retried for the
// budget, then the result is TRANSIENT completed NO (nothing was sent).
func TestTargetDown_Transient(t *testing.T) {
	e := newEnv(t, agent.Config{ConnectRetryBudget: 50 * time.Millisecond})
	e.tsrv.Close()
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	p := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	var x *giop.SystemException
	if !isSys(p.err, giop.ExcTransient, nmproto.TargetUnreachable) || !p.replierName {
		t.Fatalf("target down: %v", p.err)
	}
	if x = p.err.(*giop.SystemException); x.Completed != giop.CompletedNo {
		t.Fatalf("completed %v", x.Completed)
	}
}

// TestTargetKilledMidCall_CommFailureMaybe: the connection to the target
// breaks while it runs the call: COMM_FAILURE completed MAYBE, and the
// agent does not re-send it.
func TestTargetKilledMidCall_CommFailureMaybe(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("A", 1))
	<-e.sm.entered
	e.tsrv.Close()
	p := e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	var x *giop.SystemException
	if !isSys(p.err, giop.ExcCommFailure, nmproto.TargetConnectionLost) {
		t.Fatalf("target killed mid-call: %v", p.err)
	}
	if x = p.err.(*giop.SystemException); x.Completed != giop.CompletedMaybe {
		t.Fatalf("completed %v", x.Completed)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("target called %d times", n)
	}
}

// TestOneway: a oneway on a receiver is delegated as oneway: no reply,
// no poller.
func TestOneway(t *testing.T) {
	e := newEnv(t, agent.Config{})
	rcv := e.receiver(e.mustProxy())
	if _, err := e.client.Invoke(e.ctx(), rcv, &giop.Invocation{Operation: "add_stock", Oneway: true, Args: addStockArgs("ONE", 1)}); err != nil {
		t.Fatal(err)
	}
	select {
	case sym := <-e.sm.entered:
		if sym != "ONE" {
			t.Fatalf("target got %q", sym)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("oneway never delegated")
	}
}

// TestAgent_StandardOps: the agent answers _is_a for RequestAgent and
// RequestAgentEx, and properties() gives the defaults.
func TestAgent_StandardOps(t *testing.T) {
	e := newEnv(t, agent.Config{Defaults: agent.Properties{ManualTrash: true}})
	for _, id := range []string{agent.RequestAgentID, agent.RequestAgentExID} {
		resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "_is_a", Args: stringArg(id)})
		if err != nil || !resp.Result.Bool() {
			t.Fatalf("_is_a(%s): %v", id, err)
		}
	}
	resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "properties"})
	if err != nil {
		t.Fatal(err)
	}
	n := resp.Result.ULong()
	found := false
	for range n {
		if name, v := resp.Result.String(), resp.Result.Any(); name == nmproto.PropRequestManualTrash {
			found = v.Value == true
		}
	}
	if !found {
		t.Fatal("properties() does not report the RequestManualTrash default")
	}
}
