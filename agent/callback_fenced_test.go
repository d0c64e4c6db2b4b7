package agent_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/memstore"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/storage"
)

// The callbacks of an agent owned by a cluster (Config.Owned): each
// attempt is marked in the store before reply_available, so that a
// deposed owner, whose every write the fence refuses, calls nobody, and
// the owner after it does not call a marked callback again
// (docs/cluster.md, fencing; agent/lifecycle/testdata/callbacks.txt).

// errFenced is what a fenced store answers a deposed owner: on etcd,
// etcdstore.ErrFenced, the transaction's compare on the lease failed.
var errFenced = errors.New("fenced: the owner's lease is gone")

// fenceStore is a memstore whose commits the fence refuses once its owner
// is deposed — from the first commit after a reply is stored, with
// deposeAfterReply: the lease lost between the reply and its callback.
type fenceStore struct {
	*memstore.Store
	deposeAfterReply atomic.Bool
	deposed          atomic.Bool
	refused          atomic.Int32
}

func (s *fenceStore) commit(b *storage.Batch, commit func() error) error {
	if s.deposed.Load() {
		s.refused.Add(1)
		return errFenced
	}
	err := commit()
	reply := false
	b.Each(func(key, _ []byte, del bool) { reply = reply || !del && strings.HasPrefix(string(key), "y/") })
	if err == nil && reply && s.deposeAfterReply.Load() {
		s.deposed.Store(true)
	}
	return err
}

func (s *fenceStore) CommitWithin(b *storage.Batch, timeout time.Duration) error {
	return s.commit(b, func() error { return s.Store.CommitWithin(b, timeout) })
}

func (s *fenceStore) CommitJoining(b *storage.Batch, timeout time.Duration) error {
	return s.commit(b, func() error { return s.Store.CommitJoining(b, timeout) })
}

// storedStates lists the states of the request records in mem.
func storedStates(t *testing.T, mem *memstore.Store) []string {
	t.Helper()
	var states []string
	if err := mem.Scan([]byte("q/"), func(_, v []byte) error {
		states = append(states, agent.RecordState(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return states
}

// owned is Config.Owned of an owner that believes it owns the store: a
// deposed one paused past its lease between this check and its write
// believes so too.
func owned() error { return nil }

// ownedCallbackEnv is an agent owned by a cluster (Owned) on store at a
// fixed address, so that an owner after it on the same store keeps the
// references, with a gateRecipient that pulls its replies and a proxy
// that calls it back.
func ownedCallbackEnv(t *testing.T, store agent.Store, budget time.Duration) (agent.Config, *env, *gateRecipient, *giop.IOR) {
	t.Helper()
	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), Backend: store, Owned: owned,
		RecipientRetryBudget: budget}
	e := newEnv(t, cfg)
	r := newGateRecipient(e.client)
	r.pull.Store(true)
	proxy, err := e.createProxy(e.target, "", startRecipient2(t, r))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, e, r, proxy
}

// TestOwned_DeposedOwnerCallsNobody: an owner whose lease is gone between
// its reply's write and the callback — its ownership check still saying
// yes, as after a pause — has its callback's mark refused by the fence,
// and calls nobody: every attempt stops at the refused mark until the
// budget is spent. The store still says replied, not marked, and the
// owner after it calls the recipient back: once in all.
func TestOwned_DeposedOwnerCallsNobody(t *testing.T) {
	mem := &fenceStore{Store: memstore.New()}
	cfg, e, r, proxy := ownedCallbackEnv(t, mem, 300*time.Millisecond)
	mem.deposeAfterReply.Store(true)
	sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("tag", "d", 0, false), addStockArgs("D", 1))
	if sent.poller == nil {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if f := e.agent.RecipientFailures(); len(f) == 1 && f[0].GivenUp == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the callback was never given up: %+v", e.agent.RecipientFailures())
		}
	}
	if n := mem.refused.Load(); n == 0 {
		t.Fatal("no write was refused: the callback was not marked")
	}
	if n := r.count("d"); n != 0 {
		t.Fatalf("the deposed owner called the recipient %d times; its mark was refused, so it calls nobody", n)
	}
	if got := storedStates(t, mem.Store); !slices.Equal(got, []string{"replied"}) {
		t.Fatalf("the store holds %v, want [replied]: the refused mark wrote nothing", got)
	}
	e.agent.Close()

	// The owner after it: the callback was never marked, so it is due.
	cfg.Backend = mem.Reopen()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	waitEntered(t, r, "d")
	waitTrashed(t, b, "not trashed after its callback")
	if n := r.count("d"); n != 1 {
		t.Fatalf("reply_available called %d times in all, want 1", n)
	}
}

// TestOwned_MarkedCallbackNotMadeAgain: an owner goes (a crash, or a
// takeover) while its recipients are inside reply_available. The marks
// were written before the calls, and the owner after it does not call
// back again: the requests are there, replied, their callbacks kept as
// maybe made; a client's poller still reads the reply, and an operator's
// retry (RetryCallbacks) calls back, knowing it may be a second call. A
// recipient that answers refusing completed NO, its holder never called,
// is not kept: that mark comes off, and the owner after calls back.
func TestOwned_MarkedCallbackNotMadeAgain(t *testing.T) {
	mem := memstore.New()
	cfg, e, r, proxy := ownedCallbackEnv(t, mem, time.Minute)
	release := r.hold()
	defer release()
	polled := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("polled", "polled", 0, false), addStockArgs("P", 1))
	retried := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("retried", "retried", 0, false), addStockArgs("R", 1))
	if polled.poller == nil || retried.poller == nil {
		t.Fatalf("not acknowledged: %+v %+v", polled, retried)
	}
	// The two callbacks run at once, in either order.
	waitEnteredAll(t, r, "polled", "retried")
	// Inside reply_available, both marked.
	if got := storedStates(t, mem); !slices.Equal(got, []string{"calling", "calling"}) {
		t.Fatalf("the store holds %v while the recipient is called, want both calling", got)
	}
	e.agent.Close() // the owner gone, its calls cut mid-way

	cfg.Backend = mem.Reopen()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	release()
	reqs := b.Requests()
	if len(reqs) != 2 || reqs[0].State != "replied" || reqs[1].State != "replied" {
		t.Fatalf("after the takeover: %+v, want both replied", reqs)
	}
	for _, ri := range reqs {
		d, err := b.Request(ri.ID)
		if err != nil || !strings.HasPrefix(d.Callback, "maybe made") {
			t.Fatalf("the callback of %s: %q, %v; want it kept as maybe made", ri.Tag, d.Callback, err)
		}
	}
	if f := b.RecipientFailures(); len(f) != 0 {
		t.Fatalf("a callback kept as maybe made was attempted: %+v", f)
	}
	// Nothing queued them: a settle, for a callback the restart would
	// have made (as restartAndSettle).
	time.Sleep(300 * time.Millisecond)
	if p, q := r.count("polled"), r.count("retried"); p != 1 || q != 1 {
		t.Fatalf("reply_available called %d and %d times, want once each: a marked callback is not made again", p, q)
	}
	// The client's poller reads the reply — through a client of its own:
	// the old one's connection went with the old owner (the recipient's
	// pulls keep it, and meet its end at most once).
	old := e.client
	t.Cleanup(func() { old.Close() })
	e.client = giop.NewClient(nil) // closed by the env
	if p := e.call(polled.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("the kept reply through its poller: %+v (%v)", p, p.err)
	}
	// The operator's retry.
	if n := b.RetryCallbacks(""); n != 1 {
		t.Fatalf("RetryCallbacks queued %d, want the one left", n)
	}
	waitEntered(t, r, "retried")
	waitTrashed(t, b, "not trashed after the retried callback")
	if q := r.count("retried"); q != 2 {
		t.Fatalf("reply_available called %d times after the operator's retry, want 2", q)
	}
	b.Close()

	// A recipient that refuses completed NO, its holder never called: the
	// attempt surely missed it, its mark comes off, and the owner after
	// calls back.
	cur := mem.Reopen()
	cfg.Backend, cfg.RecipientRetryBudget = cur, 200*time.Millisecond
	c, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A client of its own again: the last one's connection went with b
	// (its next call would meet b's end, COMM_FAILURE).
	prev := e.client
	t.Cleanup(func() { prev.Close() })
	e.client = giop.NewClient(nil) // closed by the env
	r.fail.Store(true)
	missed := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("missed", "missed", 0, false), addStockArgs("M", 1))
	if missed.poller == nil {
		t.Fatalf("not acknowledged: %+v", missed)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if f := c.RecipientFailures(); len(f) == 1 && f[0].GivenUp == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failing callback was never given up: %+v", c.RecipientFailures())
		}
	}
	if r.count("missed") == 0 {
		t.Fatal("the recipient was never called")
	}
	if got := storedStates(t, cur); !slices.Equal(got, []string{"replied"}) {
		t.Fatalf("the store holds %v after missed attempts, want [replied]: their marks come off", got)
	}
	c.Close()
	r.fail.Store(false)
	cfg.Backend = mem.Reopen()
	d, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	waitTrashed(t, d, "the missed callback was not made after the takeover")
	if n := r.count("missed"); n < 2 {
		t.Fatalf("reply_available called %d times, want the missed one and the one after the takeover", n)
	}
}

// TestCallback_SingleNodeMarksNothing: without Config.Owned (one agent,
// its own store) a callback writes nothing before reply_available: the
// store says replied while the recipient is called, as before the marks
// (BENCHMARKS.md's callback rows stand).
func TestCallback_SingleNodeMarksNothing(t *testing.T) {
	mem := memstore.New()
	e := newEnv(t, agent.Config{Backend: mem})
	r := newGateRecipient(e.client)
	ref := startRecipient2(t, r)
	proxy, err := e.createProxy(e.target, "", ref)
	if err != nil {
		t.Fatal(err)
	}
	release := r.hold()
	defer release()
	e.call(e.receiver(proxy), "add_stock", reqInfoCtx("s", "s", 0, false), addStockArgs("S", 1))
	waitEntered(t, r, "s")
	if got := storedStates(t, mem); !slices.Equal(got, []string{"replied"}) {
		t.Fatalf("the store holds %v while a single node calls back, want [replied]", got)
	}
}

// waitTrashed waits until a holds no request, failing with what
// otherwise.
func waitTrashed(t *testing.T, a *agent.Agent, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); len(a.Requests()) != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %+v", what, a.Requests())
		}
	}
}
