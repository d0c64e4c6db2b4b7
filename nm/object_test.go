package nm_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nm"
	"github.com/requestagent/requestagent/nmproto"
)

// TestInvoke_Suppressed: in suppressed mode (the default) a premature
// return is a normal return with zero values and a nil error, whether the
// agent builds it (it has the IDL) or this package does (it has not);
// reply_not_available is TRUE and the poller, with TAG_NM_REF 0x02, pulls
// the real result, out and inout parameters included.
func TestInvoke_Suppressed(t *testing.T) {
	for _, agentIDL := range []bool{true, false} {
		t.Run(fmt.Sprint("agentIDL=", agentIDL), func(t *testing.T) {
			e := newEnv(t, envOpts{agentIDL: agentIDL})
			_, rcv := e.receiver(e.stock, nil)
			if rcv.Kind() != nm.KindReceiver {
				t.Fatalf("receiver kind %v", rcv.Kind())
			}
			var cur nm.Current
			res, err := rcv.Invoke(e.ctx(), &cur, "find_closest_symbol", "ACMA")
			if err != nil || res.Return != false || len(res.Outs) != 1 || res.Outs[0] != "" {
				t.Fatalf("suppressed premature return = %+v, %v; want zero values", res, err)
			}
			poller := cur.Poller()
			if !cur.ReplyNotAvailable() || poller == nil || poller.Kind() != nm.KindPoller || poller.RepoID() != rcv.RepoID() {
				t.Fatalf("rna %v, poller %v", cur.ReplyNotAvailable(), poller)
			}
			cur.WaitTimeout = nm.WaitForever
			res, err = poller.Invoke(e.ctx(), &cur, "find_closest_symbol", "ignored")
			if err != nil || res.Return != false || res.Outs[0] != "ACMA" || cur.ReplyNotAvailable() || cur.Poller() != nil {
				t.Fatalf("pull = %+v, %v (rna %v)", res, err, cur.ReplyNotAvailable())
			}

			// Vault's open has an out parameter.
			_, vrcv := e.receiver(e.vaultR, nil)
			cur.WaitTimeout = 0
			res, err = vrcv.Invoke(e.ctx(), &cur, "open", "bob")
			if err != nil || res.Return != false || res.Outs[0] != int32(0) {
				t.Fatalf("open premature = %+v, %v", res, err)
			}
			cur.WaitTimeout = nm.WaitForever
			res, err = cur.Poller().Invoke(e.ctx(), &cur, "open")
			if err != nil || res.Return != true || res.Outs[0] != int32(1) {
				t.Fatalf("open pulled = %+v, %v", res, err)
			}
		})
	}
}

// TestInvoke_Unsuppressed: a premature return is an RNA error (NO_RESPONSE,
// REPLY_NOT_AVAILABLE, completed NO) matching ErrReplyNotAvailable, with the
// poller on the Current; pulling too early gives RNA again after the wait.
func TestInvoke_Unsuppressed(t *testing.T) {
	e := newEnv(t, envOpts{agentIDL: true})
	_, rcv := e.receiver(e.stock, nil)
	var cur nm.Current
	cur.SetSuppressMode(false)
	if cur.SuppressMode() {
		t.Fatal("SetSuppressMode(false)")
	}
	res, err := rcv.Invoke(e.ctx(), &cur, "add_stock", "SLOW400", 1.0)
	x := sysExc(t, err, giop.ExcNoResponse, nmproto.ReplyNotAvailable)
	if res != nil || x.Completed != giop.CompletedNo || !errors.Is(err, nm.ErrReplyNotAvailable) || !cur.ReplyNotAvailable() || cur.Poller() == nil {
		t.Fatalf("unsuppressed premature return: %v %v", res, err)
	}
	poller := cur.Poller()
	cur.WaitTimeout = 20 * time.Millisecond
	start := time.Now()
	_, err = poller.Invoke(e.ctx(), &cur, "add_stock")
	if !errors.Is(err, nm.ErrReplyNotAvailable) || !cur.ReplyNotAvailable() || cur.Poller() == nil {
		t.Fatalf("early pull: %v", err)
	}
	if time.Since(start) < 20*time.Millisecond {
		t.Fatalf("the agent did not wait the wait timeout")
	}
	cur.WaitTimeout = nm.WaitForever
	res, err = poller.Invoke(e.ctx(), &cur, "add_stock")
	if err != nil || res.Return != true || cur.ReplyNotAvailable() {
		t.Fatalf("pull: %v %v", res, err)
	}
}

// TestInvoke_RealExceptions: exceptions raised by the target come back
// from the poller as the real result — replier name present,
// reply_not_available FALSE — a user exception with its members decoded
// through the IDL, a system exception with minor and completion.
func TestInvoke_RealExceptions(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.vaultR, nil)
	cur := nm.Current{}
	poller := e.send(rcv, &cur, "open", "eve")
	cur.WaitTimeout = nm.WaitForever
	_, err := poller.Invoke(e.ctx(), &cur, "open")
	var u *nm.UserException
	if !errors.As(err, &u) || u.RepoID != deniedID || u.Name != "Test::Vault::Denied" ||
		u.Members["who"] != "eve" || u.Members["code"] != int32(403) {
		t.Fatalf("user exception: %v", err)
	}
	if !errors.Is(err, &nm.UserException{RepoID: deniedID}) || errors.Is(err, nm.ErrPollingGroupIsEmpty) {
		t.Fatalf("errors.Is on a user exception: %v", err)
	}
	if name, ok := cur.ReplierName(); !ok || name != "" || cur.ReplyNotAvailable() {
		t.Fatalf("real result: replier %q %v, rna %v", name, ok, cur.ReplyNotAvailable())
	}
	if want := `nm: open: user exception IDL:Test/Vault/Denied:1.0 {code: 403, who: eve}`; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}

	poller = e.send(rcv, &cur, "crash", uint32(42))
	_, err = poller.Invoke(e.ctx(), &cur, "crash")
	x := sysExc(t, err, giop.ExcNoPermission, 42)
	if x.Completed != giop.CompletedYes || cur.ReplyNotAvailable() {
		t.Fatalf("system exception result: %v (rna %v)", err, cur.ReplyNotAvailable())
	}
	if _, ok := cur.ReplierName(); !ok {
		t.Fatal("no replier name with the real result")
	}

	// Called directly, the target raises the same, decoded the same way.
	target, err := e.a.Object(e.vaultR, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = target.Invoke(e.ctx(), nil, "open", "eve")
	if !errors.As(err, &u) || u.Members["code"] != int32(403) {
		t.Fatalf("direct call: %v", err)
	}
}

// TestInvoke_Oneway: a oneway operation on a typed receiver is delegated
// as oneway: no reply, no poller.
func TestInvoke_Oneway(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.vaultR, nil)
	var cur nm.Current
	res, err := rcv.Invoke(e.ctx(), &cur, "ping", "hello")
	if err != nil || res.Return != nil || cur.Poller() != nil || !cur.ReplyNotAvailable() {
		t.Fatalf("oneway: %v %v", res, err)
	}
	select {
	case note := <-e.vault.pings:
		if note != "hello" {
			t.Fatalf("target got %q", note)
		}
	case <-e.ctx().Done():
		t.Fatal("oneway never delegated")
	}
}

// TestInvoke_ContextDeadline: a context that ends first fails the call with
// TIMEOUT, matching the context's error; one ended before the call sends
// nothing.
func TestInvoke_ContextDeadline(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	cur := nm.Current{}
	poller := e.send(rcv, &cur, "add_stock", "SLOW3000", 1.0)
	ctx, cancel := context.WithTimeout(e.ctx(), 100*time.Millisecond)
	defer cancel()
	cur.WaitTimeout = nm.WaitForever
	start := time.Now()
	_, err := poller.Invoke(ctx, &cur, "add_stock")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, &giop.SystemException{Name: giop.ExcTimeout}) || !cur.ReplyNotAvailable() {
		t.Fatalf("deadline: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %v past a 100 ms deadline", d)
	}

	done, cancel2 := context.WithCancel(e.ctx())
	cancel2()
	if _, err := rcv.Invoke(done, &cur, "add_stock", "X", 1.0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	for _, f := range []func() error{
		func() error { _, err := e.a.CreateRequestProxy(done, e.stock, "", nil); return err },
		func() error { _, err := e.a.Poll(done, "g", 0, false); return err },
	} {
		if err := f(); !errors.Is(err, context.Canceled) {
			t.Fatalf("agent call with a cancelled context: %v", err)
		}
	}
}

// TestInvoke_ReplyDroppingWithRecipient: with a recipient and ReplyDropping
// the premature return carries no poller (docs/native-messaging.md).
func TestInvoke_ReplyDroppingWithRecipient(t *testing.T) {
	e := newEnv(t, envOpts{})
	rec, err := nm.HostRecipient(e.ctx(), e.a, func(context.Context, *nm.Object, string, []byte) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	_, rcv := e.receiver(e.stock, rec, nm.ReplyDropping(nm.DropUserExceptions|nm.DropSystemExceptions))
	var cur nm.Current
	res, err := rcv.Invoke(e.ctx(), &cur, "add_stock", "A", 1.0)
	if err != nil || res.Return != false || !cur.ReplyNotAvailable() || cur.Poller() != nil {
		t.Fatalf("premature return %v %v, poller %v", res, err, cur.Poller())
	}
}

// TestInvoke_Concurrent: one receiver, many goroutines, each with its own
// Current and tag.
func TestInvoke_Concurrent(t *testing.T) {
	e := newEnv(t, envOpts{})
	proxy, rcv := e.receiver(e.stock, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur := nm.Current{RequestTag: fmt.Appendf(nil, "%d", i)}
			if _, err := rcv.Invoke(e.ctx(), &cur, "add_stock", fmt.Sprint("S", i), float64(i)); err != nil {
				errs <- err
				return
			}
			cur.WaitTimeout = nm.WaitForever
			res, err := cur.Poller().Invoke(e.ctx(), &cur, "add_stock")
			if err != nil || res.Return != true {
				errs <- fmt.Errorf("pull %d: %v %v", i, res, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "group empty after all reads", func() error {
		_, err := proxy.Poll(e.ctx(), 0, false)
		if errors.Is(err, nm.ErrPollingGroupIsEmpty) {
			return nil
		}
		return errors.New(errString(err))
	})
}

// TestInvoke_RequestObject: create_request's request object, unsuppressed:
// the first call sends (RNA), calls before the reply pull (RNA), then the
// real result; a cookie and tag travel; Agent.Poll reports the group.
func TestInvoke_RequestObject(t *testing.T) {
	e := newEnv(t, envOpts{})
	req, err := e.a.CreateRequest(e.ctx(), nm.RequestDesc{Target: e.stock, PollingGroup: "g", RequestTag: []byte("r1"),
		Properties: []nm.Property{nm.RequestManualTrash(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if req.Kind() != nm.KindReceiver || req.Group != "g" || string(req.Tag) != "r1" {
		t.Fatalf("request object %+v", req)
	}
	var cur nm.Current
	cur.SetSuppressMode(false)
	_, err = req.Invoke(e.ctx(), &cur, "add_stock", "SLOW200", 1.0)
	if !errors.Is(err, nm.ErrReplyNotAvailable) || !cur.ReplyNotAvailable() {
		t.Fatalf("first call: %v", err)
	}
	if tags, err := e.a.Poll(e.ctx(), "g", 0, false); err != nil || len(tags) != 0 {
		t.Fatalf("poll before the reply: %q %v", tags, err)
	}
	tags, err := e.a.Poll(e.ctx(), "g", nm.WaitForever, true)
	if err != nil || len(tags) != 1 || string(tags[0]) != "r1" {
		t.Fatalf("poll: %q %v", tags, err)
	}
	res, err := req.Invoke(e.ctx(), &cur, "add_stock", "SLOW200", 1.0)
	if err != nil || res.Return != true || cur.ReplyNotAvailable() {
		t.Fatalf("pull: %v %v", res, err)
	}
	if err := req.Destroy(e.ctx()); err != nil {
		t.Fatal(err)
	}
	if _, err := req.Invoke(e.ctx(), &cur, "add_stock", "X", 1.0); !errors.Is(err, nm.ErrRequestTrashed) {
		t.Fatalf("destroyed request object: %v", err)
	}
	if _, err := e.a.Poll(e.ctx(), "g", 0, false); !errors.Is(err, nm.ErrPollingGroupIsEmpty) {
		t.Fatalf("empty group: %v", err)
	}
	if got := servedLines(e.served); len(got) != 1 {
		t.Fatalf("the target ran %d calls, want 1: %v", len(got), got)
	}
}

// TestInvoke_WaitReply: WaitReply with a wait timeout returns the mature
// result in time; too slow, it evolves into a 2PI with a poller.
func TestInvoke_WaitReply(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil, nm.WaitReply(true))
	cur := nm.Current{WaitTimeout: 10 * time.Second}
	res, err := rcv.Invoke(e.ctx(), &cur, "find_closest_symbol", "ACMA")
	if err != nil || res.Outs[0] != "ACMA" || cur.ReplyNotAvailable() || cur.Poller() != nil {
		t.Fatalf("mature: %v %v", res, err)
	}
	cur.WaitTimeout = 30 * time.Millisecond
	res, err = rcv.Invoke(e.ctx(), &cur, "add_stock", "SLOW500", 1.0)
	if err != nil || res.Return != false || !cur.ReplyNotAvailable() || cur.Poller() == nil {
		t.Fatalf("evolved: %v %v", res, err)
	}
}

// TestCurrent_NoMoreReply: no_more_reply is true once a read has taken the
// request's last reply (the request is trashed) or it is gone already;
// false after a premature return and after a read that keeps the request
// (RequestManualTrash).
func TestCurrent_NoMoreReply(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	var cur nm.Current
	if _, err := rcv.Invoke(e.ctx(), &cur, "add_stock", "A", 1.0); err != nil || cur.NoMoreReply() {
		t.Fatalf("premature return: %v, no_more_reply %v", err, cur.NoMoreReply())
	}
	poller := cur.Poller()
	cur.WaitTimeout = nm.WaitForever
	if res, err := poller.Invoke(e.ctx(), &cur, "add_stock"); err != nil || res.Return != true || !cur.NoMoreReply() {
		t.Fatalf("the read that trashes: %v %v, no_more_reply %v", res, err, cur.NoMoreReply())
	}
	if _, err := poller.Invoke(e.ctx(), &cur, "add_stock"); !errors.Is(err, nm.ErrRequestTrashed) || !cur.NoMoreReply() {
		t.Fatalf("a read after the trash: %v, no_more_reply %v", err, cur.NoMoreReply())
	}
	_, krcv := e.receiver(e.stock, nil, nm.RequestManualTrash(true))
	cur.WaitTimeout = 0
	krcv.Invoke(e.ctx(), &cur, "add_stock", "B", 1.0)
	kept := cur.Poller()
	cur.WaitTimeout = nm.WaitForever
	if _, err := kept.Invoke(e.ctx(), &cur, "add_stock"); err != nil || cur.NoMoreReply() {
		t.Fatalf("a read that keeps the request: %v, no_more_reply %v", err, cur.NoMoreReply())
	}
}

// TestCurrent_PushPopContext: PopContext restores the settings and results
// PushContext saved, whatever nested calls did in between; a pop without
// a push is ErrNoPushedContext.
func TestCurrent_PushPopContext(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	cur := nm.Current{RequestTag: []byte("outer"), Cookie: []byte("c")}
	rcv.Invoke(e.ctx(), &cur, "add_stock", "O", 1.0)
	outer := cur.Poller()
	cur.PushContext()
	cur.RequestTag, cur.Cookie, cur.WaitTimeout = []byte("inner"), nil, time.Second
	cur.SetSuppressMode(false)
	rcv.Invoke(e.ctx(), &cur, "add_stock", "I", 1.0)
	if cur.Poller() == outer {
		t.Fatal("the nested call did not set its own results")
	}
	if err := cur.PopContext(); err != nil {
		t.Fatal(err)
	}
	if string(cur.RequestTag) != "outer" || string(cur.Cookie) != "c" || cur.WaitTimeout != 0 || !cur.SuppressMode() ||
		cur.Poller() != outer || !cur.ReplyNotAvailable() {
		t.Fatalf("after pop: tag %q cookie %q wait %v suppress %v poller restored %v", cur.RequestTag, cur.Cookie,
			cur.WaitTimeout, cur.SuppressMode(), cur.Poller() == outer)
	}
	if err := cur.PopContext(); !errors.Is(err, nm.ErrNoPushedContext) {
		t.Fatalf("pop without push = %v", err)
	}
}
