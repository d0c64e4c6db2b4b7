package agent_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/memstore"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// TestStore_AnotherBackend: the agent asks of its store only what the
// Store interface says. On the in-memory backend (internal/memstore), no
// Badger and no disk, a 2PI is acknowledged, its reply stored and left
// unread; after a restart on the same data — a new agent, the same
// address — the request is pollable under its old reference, its reply is
// the target's, and the old proxy takes a new request.
func TestStore_AnotherBackend(t *testing.T) {
	mem := memstore.New()
	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), Backend: mem}
	e := newEnv(t, cfg)
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	sent := e.call(rcv, "add_stock", reqInfoCtx("t1", "", 0, false), addStockArgs("MEM", 1))
	if sent.poller == nil || sent.poller.IsNil() {
		t.Fatalf("not acknowledged: %+v", sent)
	}
	// The reply is stored before the request is listed as replied.
	if tags, err := e.pollTags(proxy, nil, 20_000, false); err != nil || joined(tags) != "t1" {
		t.Fatalf("the reply never became ready: %v %v", tags, err)
	}
	if mem.Stats().Commits == 0 {
		t.Fatal("nothing was committed to the backend")
	}
	e.agent.Close()

	cfg.Backend = mem.Reopen()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart on the same data: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	// A client of its own: the old one's connection went with the old
	// agent, and a call on it may meet its end first.
	e.client.Close()
	e.client = giop.NewClient(nil) // closed by the env
	if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("pull after the restart: %+v (%v)", p, p.err)
	}
	again := e.call(rcv, "add_stock", reqInfoCtx("t2", "", 0, false), addStockArgs("MEM2", 2))
	if again.poller == nil || again.poller.IsNil() {
		t.Fatalf("the old proxy after the restart: %+v", again)
	}
	if p := e.call(again.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); p.err != nil || !p.resp.Result.Bool() {
		t.Fatalf("the new request's pull: %+v", p)
	}
	if got := e.sm.calls.Load(); got != 2 {
		t.Fatalf("the target ran %d calls, want 2", got)
	}
}

// lateStore is a store whose next commit of a request record lands, and
// yet answers its caller that it timed out: a write the store's committer
// made after the caller stopped waiting.
type lateStore struct {
	*memstore.Store
	armed atomic.Bool
}

func (s *lateStore) CommitWithin(b *storage.Batch, timeout time.Duration) error {
	late := false
	b.Each(func(key, _ []byte, del bool) {
		late = late || (!del && bytes.HasPrefix(key, []byte("q/")))
	})
	err := s.Store.CommitWithin(b, timeout)
	if late && err == nil && s.armed.CompareAndSwap(true, false) {
		return context.DeadlineExceeded
	}
	return err
}

// TestStore_TimedOutWriteMayLand: a request whose write timed out is
// refused COMPLETED_MAYBE (the write may yet land), not COMPLETED_NO, and
// with no poller; what the write put in the store is deleted behind it, so
// the request does not come back after a restart.
func TestStore_TimedOutWriteMayLand(t *testing.T) {
	mem := &lateStore{Store: memstore.New()}
	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), Backend: mem}
	e := newEnv(t, cfg)
	rcv := e.receiver(e.mustProxy())
	mem.armed.Store(true)
	r := e.call(rcv, "add_stock", reqInfoCtx("late", "", 0, false), addStockArgs("LATE", 1))
	var x *giop.SystemException
	if !errors.As(r.err, &x) || x.Name != giop.ExcPersistStore || x.Completed != giop.CompletedMaybe || r.poller != nil {
		t.Fatalf("the call whose write timed out: %+v, want PERSIST_STORE completed MAYBE and no poller", r)
	}
	var left []string
	mem.ScanKeysFrom([]byte("q/"), nil, func(k []byte) (bool, error) { left = append(left, string(k)); return true, nil })
	if len(left) != 0 {
		t.Fatalf("request records left behind the refused write: %q", left)
	}
	e.agent.Close()
	cfg.Backend = &lateStore{Store: mem.Reopen()}
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if reqs := b.Requests(); len(reqs) != 0 {
		t.Fatalf("the refused request came back after a restart: %+v", reqs)
	}
}

// TestOwned_RefusesAndSendsNothingWhileNotOwned: while Config.Owned says
// the agent may not act (cluster mode, its ownership not known to be
// held), every call is refused TRANSIENT completed NO, and a queued
// request whose turn comes is not sent to its target: another agent may
// own the store and send it. Once Owned says yes again, calls are served.
func TestOwned_RefusesAndSendsNothingWhileNotOwned(t *testing.T) {
	var notOwned atomic.Bool
	e := newEnv(t, agent.Config{MaxThreads: 1, Owned: func() error {
		if notOwned.Load() {
			return errors.New("not the owner")
		}
		return nil
	}})
	rcv := e.receiver(e.mustProxy())
	release := e.sm.hold()
	defer release()
	busy := e.call(rcv, "add_stock", reqInfoCtx("busy", "", 0, false), addStockArgs("BUSY", 1))
	<-e.sm.entered // the one thread
	queued := e.call(rcv, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 1))
	if busy.poller == nil || queued.poller == nil {
		t.Fatalf("not acknowledged: %+v %+v", busy, queued)
	}
	notOwned.Store(true)
	r := e.call(rcv, "add_stock", reqInfoCtx("refused", "", 0, false), addStockArgs("REFUSED", 1))
	var x *giop.SystemException
	if !errors.As(r.err, &x) || x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
		t.Fatalf("a call while not owned: %v, want TRANSIENT completed NO", r.err)
	}
	release() // the queued request's turn comes while not owned
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		waiting := false
		for _, r := range e.agent.Requests() {
			waiting = waiting || r.State == "queued"
		}
		if !waiting {
			break // dispatched: a send, if any, is under way, and Close waits for it
		}
		if time.Now().After(deadline) {
			t.Fatal("the queued request was never dispatched")
		}
	}
	e.agent.Close()
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the target got %d calls, want 1: nothing is sent while the agent may not act", n)
	}
}
