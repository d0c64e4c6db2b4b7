package nm_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nm"
	"github.com/requestagent/requestagent/nmproto"
)

// Misuse gives clear, typed errors.

// TestMisuse_PollerOtherOperation: a poller called with another operation
// than its request's is a polling failure — BAD_OPERATION/
// OPERATION_MISMATCH from the agent — not a result, and the request is
// still there to be pulled with the right one.
func TestMisuse_PollerOtherOperation(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	var cur nm.Current
	poller := e.send(rcv, &cur, "add_stock", "ACME", 100.5)

	_, err := poller.Invoke(e.ctx(), &cur, "find_closest_symbol", "ACMA")
	x := sysExc(t, err, giop.ExcBadOperation, nmproto.WrongOperation)
	if x.Completed != giop.CompletedNo || !errors.Is(err, nm.ErrWrongOperation) {
		t.Fatalf("wrong operation: %v (completed %v)", err, x.Completed)
	}
	if !cur.ReplyNotAvailable() || cur.Poller() != nil {
		t.Fatal("a polling failure must leave reply_not_available TRUE and no poller")
	}
	if _, ok := cur.ReplierName(); ok {
		t.Fatal("a polling failure has no replier name")
	}
	if !strings.Contains(err.Error(), "find_closest_symbol") || !strings.Contains(err.Error(), "BAD_OPERATION") {
		t.Fatalf("error message %q should name the operation and the exception", err)
	}
	cur.WaitTimeout = nm.WaitForever
	res, err := poller.Invoke(e.ctx(), &cur, "add_stock")
	if err != nil || res.Return != true || cur.ReplyNotAvailable() {
		t.Fatalf("the right operation afterwards: %v %v", res, err)
	}
}

// TestMisuse_PollerAfterTrash: a Current's poller whose request has been
// trashed — its reply read, or destroyed with RequestManualTrash — is
// OBJECT_NOT_EXIST, matching ErrRequestTrashed. (The agent answers the
// standard minor code rather than REQUEST_TRASHED once it has forgotten
// the request; ErrRequestTrashed matches both on a poller.)
func TestMisuse_PollerAfterTrash(t *testing.T) {
	e := newEnv(t, envOpts{})
	cur := nm.Current{WaitTimeout: nm.WaitForever}

	// Read means trashed.
	_, rcv := e.receiver(e.stock, nil)
	poller := e.send(rcv, &cur, "add_stock", "ACME", 100.5)
	if _, err := poller.Invoke(e.ctx(), &cur, "add_stock"); err != nil {
		t.Fatal(err)
	}
	cur.WaitTimeout = 0
	eventually(t, "poller after its reply was read", func() error {
		_, err := poller.Invoke(e.ctx(), &cur, "add_stock")
		if !errors.Is(err, nm.ErrRequestTrashed) {
			return errors.New("still pullable: " + errString(err))
		}
		if !errors.Is(err, &giop.SystemException{Name: giop.ExcObjectNotExist}) || !cur.ReplyNotAvailable() {
			t.Fatal("OBJECT_NOT_EXIST on a poller is a polling failure: reply_not_available TRUE")
		}
		return nil
	})

	// Manual trash: polling is idempotent until DestroyRequest.
	_, rcv = e.receiver(e.stock, nil, nm.RequestManualTrash(true))
	cur.WaitTimeout = nm.WaitForever
	poller = e.send(rcv, &cur, "find_closest_symbol", "ACMA")
	for range 2 {
		res, err := poller.Invoke(e.ctx(), &cur, "find_closest_symbol")
		if err != nil || res.Outs[0] != "ACME" {
			t.Fatalf("idempotent pull: %v %v", res, err)
		}
	}
	if err := e.a.DestroyRequest(e.ctx(), poller); err != nil {
		t.Fatalf("destroy_request(poller): %v", err)
	}
	_, err := poller.Invoke(e.ctx(), &cur, "find_closest_symbol")
	if !errors.Is(err, nm.ErrRequestTrashed) || !errors.Is(err, &giop.SystemException{Name: giop.ExcObjectNotExist}) {
		t.Fatalf("poller after destroy_request: %v", err)
	}
	err = e.a.DestroyRequest(e.ctx(), poller)
	var u *nm.UserException
	if !errors.Is(err, nm.ErrRequestNotExist) || !errors.As(err, &u) || u.RepoID != nm.RequestNotExistID {
		t.Fatalf("destroy_request twice: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// TestMisuse_NilTarget: a nil target, in each form, is refused before
// anything is sent with BAD_PARAM/NIL_TARGET — the exception the agent
// raises for a target it cannot use, as it does for an IOR with no
// profile.
func TestMisuse_NilTarget(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := e.ctx()
	check := func(what string, err error) {
		t.Helper()
		x := sysExc(t, err, giop.ExcBadParam, nmproto.NilTarget)
		if !errors.Is(err, nm.ErrNilTarget) || x.Completed != giop.CompletedNo {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for _, target := range []nm.Target{nil, "", (*giop.IOR)(nil), &giop.IOR{}, (*nm.Object)(nil)} {
		_, err := e.a.CreateRequestProxy(ctx, target, stock.RepoID, nil)
		check("create_request_proxy", err)
		_, err = e.a.CreateRequest(ctx, nm.RequestDesc{Target: target, PollingGroup: "g"})
		check("create_request", err)
		_, err = e.a.Object(target, stock.RepoID)
		check("Object", err)
	}
	_, err := (*nm.Object)(nil).Invoke(ctx, nil, "add_stock", "A", 1.0)
	check("Invoke on a nil Object", err)

	// Not nil, but with no profile to call: the agent refuses it.
	_, err = e.a.CreateRequestProxy(ctx, &giop.IOR{TypeID: stock.RepoID}, "", nil)
	check("create_request_proxy with a profile-less IOR", err)

	// Not a reference at all.
	if _, err := e.a.CreateRequestProxy(ctx, 42, "", nil); !errors.Is(err, nm.ErrBadReference) {
		t.Fatalf("an int as target: %v", err)
	}
	if _, err := e.a.CreateRequestProxy(ctx, "IOR:zz", "", nil); !errors.Is(err, nm.ErrBadReference) || !errors.Is(err, giop.ErrBadIOR) {
		t.Fatalf("a bad IOR string as target: %v", err)
	}
}

// TestMisuse_NoIDL: calls on an interface whose IDL is not loaded, or with
// an operation or arguments the IDL does not have, fail before anything is
// sent.
func TestMisuse_NoIDL(t *testing.T) {
	e := newEnv(t, envOpts{clientOpts: []nm.Option{}})
	proxy, rcv := e.receiver(e.stock, nil)
	var cur nm.Current
	_, err := rcv.Invoke(e.ctx(), &cur, "add_stock", "ACME", 100.5)
	if !errors.Is(err, nm.ErrNoIDL) || !strings.Contains(err.Error(), stock.RepoID) {
		t.Fatalf("no IDL: %v", err)
	}
	var x *giop.SystemException
	if errors.As(err, &x) {
		t.Fatalf("a local error is no system exception: %v", x)
	}
	if cur.ReplyNotAvailable() {
		t.Fatal("nothing was sent, so the Current is untouched")
	}
	if _, err := proxy.Poll(e.ctx(), 0, false); !errors.Is(err, nm.ErrPollingGroupIsEmpty) {
		t.Fatalf("a request reached the agent: poll = %v", err)
	}

	e = newEnv(t, envOpts{})
	_, rcv = e.receiver(e.stock, nil)
	if _, err := rcv.Invoke(e.ctx(), nil, "remove_stock", "ACME"); !errors.Is(err, nm.ErrUnknownOperation) {
		t.Fatalf("unknown operation: %v", err)
	}
	for _, args := range [][]any{{"ACME"}, {"ACME", 1.0, 2.0}, {42, 1.0}, {"ACME", "high"}} {
		_, err := rcv.Invoke(e.ctx(), nil, "add_stock", args...)
		if !errors.Is(err, idl.ErrMismatch) {
			t.Fatalf("add_stock%v: %v, want idl.ErrMismatch", args, err)
		}
	}
	if got := servedLines(e.served); len(got) != 0 {
		t.Fatalf("the target was called: %v", got)
	}

	// A corbaloc reference has no type id: name the interface.
	target, err := e.a.Object(e.stockS.Corbaloc(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := target.Invoke(e.ctx(), nil, "add_stock", "X", 1.0); !errors.Is(err, nm.ErrNoIDL) || !strings.Contains(err.Error(), "WithRepoID") {
		t.Fatalf("corbaloc without an interface: %v", err)
	}
	// Called directly, the target is a plain object: no context, and the
	// Current is left alone.
	var plain nm.Current
	res, err := target.WithRepoID(stock.RepoID).Invoke(e.ctx(), &plain, "add_stock", "X", 1.0)
	if err != nil || res.Return != true || plain.ReplyNotAvailable() || target.Kind() != nm.KindPlain {
		t.Fatalf("direct call: %v %v", res, err)
	}
}

// TestMisuse_HolderAfterReturn: a reply holder used after reply_available
// returned is OBJECT_NOT_EXIST/REPLY_HOLDER_EXPIRED; inside it, another
// operation is BAD_OPERATION.
func TestMisuse_HolderAfterReturn(t *testing.T) {
	e := newEnv(t, envOpts{})
	holders := make(chan *nm.Object, 1)
	rec, err := nm.HostRecipient(e.ctx(), e.a, func(ctx context.Context, holder *nm.Object, op string, cookie []byte) error {
		if _, err := holder.Invoke(ctx, nil, "find_closest_symbol", "A"); !errors.Is(err, nm.ErrWrongOperation) {
			t.Errorf("another operation on the holder: %v", err)
		}
		if _, err := holder.Invoke(ctx, nil, op); err != nil {
			return err
		}
		holders <- holder
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	_, rcv := e.receiver(e.stock, rec)
	e.send(rcv, &nm.Current{}, "add_stock", "ACME", 1.0)
	holder := <-holders
	eventually(t, "holder after reply_available", func() error {
		_, err := holder.Invoke(e.ctx(), nil, "add_stock")
		if !errors.Is(err, nm.ErrReplyHolderExpired) {
			return errors.New(errString(err))
		}
		return nil
	})
}

// TestMisuse_DuplicatedTag: a tag used by a live request of the group is
// refused, on a typed receiver (BAD_INV_ORDER, no poller, reply not
// available) and by create_request (the DuplicatedRequestTag exception).
func TestMisuse_DuplicatedTag(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	cur := nm.Current{RequestTag: []byte("t")}
	e.send(rcv, &cur, "add_stock", "SLOW300", 1.0)
	_, err := rcv.Invoke(e.ctx(), &cur, "add_stock", "B", 1.0)
	sysExc(t, err, giop.ExcBadInvOrder, nmproto.DuplicatedRequestTag)
	if !errors.Is(err, nm.ErrDuplicatedRequestTag) || !cur.ReplyNotAvailable() || cur.Poller() != nil {
		t.Fatalf("duplicate tag on a receiver: %v", err)
	}

	d := nm.RequestDesc{Target: e.stock, PollingGroup: "g", RequestTag: []byte("t")}
	if _, err := e.a.CreateRequest(e.ctx(), d); err != nil {
		t.Fatal(err)
	}
	_, err = e.a.CreateRequest(e.ctx(), d)
	var u *nm.UserException
	if !errors.Is(err, nm.ErrDuplicatedRequestTag) || !errors.As(err, &u) || u.Name != "NativeMessaging::RequestAgent::DuplicatedRequestTag" {
		t.Fatalf("duplicate tag in create_request: %v", err)
	}
}

// TestMisuse_InvalidProperty: properties the agent refuses, and values
// that cannot travel as an any.
func TestMisuse_InvalidProperty(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, err := e.a.CreateRequestProxy(e.ctx(), e.stock, "", nil, nm.Property{Name: "NoSuchProperty", Value: true})
	var u *nm.UserException
	if !errors.Is(err, nm.ErrInvalidProperty) || !errors.As(err, &u) || u.Members["name"] != "NoSuchProperty" {
		t.Fatalf("unknown property: %v", err)
	}
	_, err = e.a.CreateRequestProxy(e.ctx(), e.stock, "", nil, nm.Property{Name: nm.PropWaitReply, Value: struct{}{}})
	if !errors.Is(err, nm.ErrInvalidProperty) {
		t.Fatalf("a struct as property value: %v", err)
	}
	_, err = e.a.CreateRequest(e.ctx(), nm.RequestDesc{Target: e.stock, Properties: []nm.Property{nm.ReplyDropping(nm.DropNormal)}})
	if !errors.Is(err, nm.ErrInvalidProperty) {
		t.Fatalf("ReplyDropping on create_request: %v", err)
	}
	sysExc(t, err, giop.ExcBadParam, nmproto.BadProperty)
}

// TestMisuse_ProxyDestroyed: after Destroy(false) the proxy is "to be
// destroyed": Receiver and Properties fail with ErrProxyDestroyed, Poll and
// DestroyRequest work until its last request is trashed.
func TestMisuse_ProxyDestroyed(t *testing.T) {
	e := newEnv(t, envOpts{})
	proxy, rcv := e.receiver(e.stock, nil)
	e.send(rcv, &nm.Current{RequestTag: []byte("a")}, "add_stock", "A", 1.0)
	if err := proxy.Destroy(e.ctx(), false); err != nil {
		t.Fatal(err)
	}
	if _, err := proxy.Receiver(e.ctx()); !errors.Is(err, nm.ErrProxyDestroyed) {
		t.Fatalf("receiver: %v", err)
	}
	if _, err := proxy.Properties(e.ctx()); !errors.Is(err, nm.ErrProxyDestroyed) {
		t.Fatalf("properties: %v", err)
	}
	if _, err := rcv.Invoke(e.ctx(), nil, "add_stock", "B", 1.0); !errors.Is(err, nm.ErrProxyDestroyed) {
		t.Fatalf("a new request: %v", err)
	}
	if tags, err := proxy.Poll(e.ctx(), nm.WaitForever, false); err != nil || string(tags[0]) != "a" {
		t.Fatalf("poll: %q %v", tags, err)
	}
	if err := proxy.DestroyRequest(e.ctx(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := proxy.Poll(e.ctx(), 0, false); !errors.Is(err, &giop.SystemException{Name: giop.ExcObjectNotExist}) {
		t.Fatalf("proxy after its last request: %v", err)
	}
	if err := proxy.DestroyRequest(e.ctx(), []byte("a")); err == nil {
		t.Fatal("destroy_request on a gone proxy succeeded")
	}
}

// TestMisuse_ClosedAgent: calls after Close fail with a system exception.
func TestMisuse_ClosedAgent(t *testing.T) {
	e := newEnv(t, envOpts{})
	_, rcv := e.receiver(e.stock, nil)
	e.a.Close()
	_, err := rcv.Invoke(e.ctx(), nil, "add_stock", "A", 1.0)
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Completed != giop.CompletedNo {
		t.Fatalf("call after Close: %v", err)
	}
}
