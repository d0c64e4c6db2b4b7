package giop_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// forwarder answers every call with LOCATION_FORWARD to another object, as
// omniMapper does (SPEC.md).
type forwarder struct {
	to   atomic.Pointer[giop.IOR]
	perm bool
	hits atomic.Int32
}

func forwardTo(ior *giop.IOR) *forwarder {
	f := &forwarder{}
	f.to.Store(ior)
	return f
}

func (f *forwarder) RepositoryID() string { return "IDL:Demo/Echo:1.0" }

func (f *forwarder) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	f.hits.Add(1)
	return &giop.ForwardError{IOR: f.to.Load(), Permanent: f.perm}
}

// TestClient_FollowsLocationForward: a LOCATION_FORWARD reply's IOR is
// called instead, transparently (§15.4.3; SPEC.md).
func TestClient_FollowsLocationForward(t *testing.T) {
	_, echoRef, _ := testServer(t, nil, nil)
	fwd := forwardTo(echoRef)
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Alias": fwd})
	prof, _ := ref.IIOP()
	alias := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Alias"))
	got, err := callString(context.Background(), testClient(t), alias, "echoString", "forwarded")
	if err != nil || got != "forwarded" {
		t.Fatalf("echoString via forward = %q, %v", got, err)
	}
	if fwd.hits.Load() != 1 {
		t.Fatalf("forwarder called %d times", fwd.hits.Load())
	}
}

// TestClient_ForwardLoopIsBounded: forwards that never end stop after
// MaxForwardHops with TRANSIENT, instead of looping for ever.
func TestClient_ForwardLoopIsBounded(t *testing.T) {
	fwd := &forwarder{}
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Loop": fwd})
	prof, _ := ref.IIOP()
	loop := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Loop"))
	fwd.to.Store(loop)
	cfg := giop.DefaultConfig()
	cfg.MaxForwardHops = 3
	c := giop.NewClient(cfg)
	defer c.Close()
	_, err := callString(context.Background(), c, loop, "echoString", "x")
	if !errors.Is(err, giop.ErrForwardLoop) || !errors.Is(err, &giop.SystemException{Name: giop.ExcTransient}) {
		t.Fatalf("forward loop: %v", err)
	}
	if n := fwd.hits.Load(); n != 4 {
		t.Fatalf("forwarder called %d times, want 1 + 3 hops", n)
	}
}

// TestInterop_OmniClientFollowsGoForward: omniORB's client follows a
// LOCATION_FORWARD the Go server sends and completes the calls on the
// forwarded object.
func TestInterop_OmniClientFollowsGoForward(t *testing.T) {
	peers.Dir(t)
	_, echoRef, _ := testServer(t, nil, nil)
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Alias": forwardTo(echoRef)})
	prof, _ := ref.IIOP()
	alias := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Alias"))
	p := peers.Start(t, "echo_client", alias.String())
	lines, err := p.Wait(t, 30*time.Second)
	checkLines(t, lines, err, conformanceLines)
}

// TestClient_ConnectFailureIsTransientNo: nothing was sent, so the call
// certainly did not run (docs/native-messaging.md: TRANSIENT, completed NO).
func TestClient_ConnectFailureIsTransientNo(t *testing.T) {
	ref := objectIOR("IDL:Demo/Echo:1.0", peers.ClosedPort(t), echoKey)
	_, err := callString(context.Background(), testClient(t), ref, "echoString", "x")
	var se *giop.SystemException
	if !errors.As(err, &se) || se.Name != giop.ExcTransient || se.Completed != giop.CompletedNo {
		t.Fatalf("connect failure = %v, want TRANSIENT completed NO", err)
	}
}

// blockingServant holds every call until released, to test what happens
// to calls in progress.
type blockingServant struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingServant) RepositoryID() string { return "IDL:Demo/Echo:1.0" }

func (b *blockingServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	r.Results().WriteString("late")
	return nil
}

// TestClient_ConnectionLostAfterSendIsCommFailureMaybe: the request was
// sent and may have run, so the caller gets COMM_FAILURE completed MAYBE —
// never a silent re-send (docs/native-messaging.md).
func TestClient_ConnectionLostAfterSendIsCommFailureMaybe(t *testing.T) {
	b := &blockingServant{started: make(chan struct{}, 1), release: make(chan struct{})}
	srv, ref, _ := testServer(t, nil, map[string]giop.Servant{"Block": b})
	prof, _ := ref.IIOP()
	block := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Block"))
	errc := make(chan error, 1)
	go func() {
		_, err := callString(context.Background(), testClient(t), block, "echoString", "x")
		errc <- err
	}()
	<-b.started
	srv.Close() // abrupt: no CloseConnection
	var se *giop.SystemException
	if err := <-errc; !errors.As(err, &se) || se.Name != giop.ExcCommFailure || se.Completed != giop.CompletedMaybe {
		t.Fatalf("connection lost mid-call = %v, want COMM_FAILURE completed MAYBE", err)
	}
}

// TestClient_DeadlineIsTimeoutAndCancels: a context deadline ends the call
// with TIMEOUT and sends CancelRequest, which cancels the handler's context
// (§15.4.4).
func TestClient_DeadlineIsTimeoutAndCancels(t *testing.T) {
	b := &blockingServant{started: make(chan struct{}, 1), release: make(chan struct{})}
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Block": b})
	prof, _ := ref.IIOP()
	block := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Block"))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	c := testClient(t)
	go func() {
		_, err := callString(ctx, c, block, "echoString", "x")
		errc <- err
	}()
	<-b.started
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !errors.Is(err, &giop.SystemException{Name: giop.ExcTimeout}) {
		t.Fatalf("cancelled call = %v, want TIMEOUT wrapping context.Canceled", err)
	}
	// The connection stays usable.
	if got, err := callString(context.Background(), c, ref, "echoString", "after"); err != nil || got != "after" {
		t.Fatalf("call after cancel = %q, %v", got, err)
	}
}

// TestClient_InvocationTimeout: Invocation.Timeout ends a call whose reply
// does not come in time with TIMEOUT completed MAYBE wrapping
// ErrCallTimeout, and its CancelRequest cancels the handler (§15.4.4); a
// call answered in time is not affected by its timer.
func TestClient_InvocationTimeout(t *testing.T) {
	b := &cancelSeenServant{blockingServant{started: make(chan struct{}, 1), release: make(chan struct{})}, make(chan error, 1)}
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"Block": b})
	prof, _ := ref.IIOP()
	block := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Block"))
	c := testClient(t)
	_, err := c.Invoke(context.Background(), block, &giop.Invocation{Operation: "echoString",
		Args: func(e *giop.Encoder) { e.WriteString("x") }, Timeout: 20 * time.Millisecond})
	var x *giop.SystemException
	if !errors.Is(err, giop.ErrCallTimeout) || !errors.As(err, &x) || x.Name != giop.ExcTimeout || x.Completed != giop.CompletedMaybe {
		t.Fatalf("call past its timeout = %v, want TIMEOUT completed MAYBE wrapping ErrCallTimeout", err)
	}
	if herr := <-b.ended; !errors.Is(herr, context.Canceled) {
		t.Fatalf("handler ended with %v, want its context cancelled by CancelRequest", herr)
	}
	for range 20 { // recycled timers must not end later calls early
		resp, err := c.Invoke(context.Background(), ref, &giop.Invocation{Operation: "echoString",
			Args: func(e *giop.Encoder) { e.WriteString("in time") }, Timeout: time.Minute})
		if err != nil || resp.Result.String() != "in time" {
			t.Fatalf("call within its timeout = %v", err)
		}
	}
}

// cancelSeenServant is a blockingServant that reports how its call ended.
type cancelSeenServant struct {
	blockingServant
	ended chan error
}

func (s *cancelSeenServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	err := s.blockingServant.Invoke(ctx, r)
	s.ended <- err
	return err
}

// TestServer_GracefulShutdownAnswersThenCloses: Shutdown lets a call in
// progress finish and be answered before CloseConnection (§15.5.2), and a
// client then reconnects transparently.
func TestServer_GracefulShutdownAnswersThenCloses(t *testing.T) {
	b := &blockingServant{started: make(chan struct{}, 1), release: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := giop.NewAdapter()
	a.Register([]byte("Block"), b)
	srv := giop.NewServer(nil, a)
	go srv.Serve(ln)
	block := objectIOR("IDL:Demo/Echo:1.0", ln.Addr().(*net.TCPAddr).Port, []byte("Block"))
	c := testClient(t)
	errc := make(chan error, 1)
	go func() {
		got, err := callString(context.Background(), c, block, "echoString", "x")
		if err == nil && got != "late" {
			err = fmt.Errorf("got %q", got)
		}
		errc <- err
	}()
	<-b.started
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	close(b.release)
	if err := <-errc; err != nil {
		t.Fatalf("call in progress during shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestServer_GracefulShutdownOmniClientReconnects: omniORB treats our
// CloseConnection as orderly and reconnects for its next call without an
// exception (SPEC.md).
func TestServer_GracefulShutdownOmniClientReconnects(t *testing.T) {
	peers.Dir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// One socket stays open throughout and is handed from the old server
	// to the new one, so the client's reconnect never meets a refused port.
	hand := newHandoff(ln)
	t.Cleanup(hand.close)
	start := func() (*giop.Server, *countingServant) {
		cs := &countingServant{Servant: newEchoServant()}
		a := giop.NewAdapter()
		a.Register(echoKey, cs)
		s := giop.NewServer(nil, a)
		go s.Serve(hand.listener())
		return s, cs
	}
	srv, first := start()
	ref := objectIOR("IDL:Demo/Echo:1.0", ln.Addr().(*net.TCPAddr).Port, echoKey)
	// The bench mode makes many calls on one connection; replace the
	// server underneath it once it has served some.
	const calls = 20000
	p := peers.Start(t, "echo_client", "--bench", fmt.Sprint(calls), "--size", "0", ref.String())
	for first.n.Load() < 500 {
		select {
		case <-p.Exited():
			t.Fatalf("client ended early:\n%s", p.Output())
		case <-time.After(time.Millisecond):
		}
	}
	srv2, second := start()
	defer srv2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	lines, err := p.Wait(t, 60*time.Second)
	if err != nil || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], fmt.Sprintf("BENCH calls=%d", calls)) {
		t.Fatalf("omniORB client across a graceful restart: %v\n%s", err, p.Output())
	}
	if second.n.Load() == 0 {
		t.Fatal("the new server served no call: the client never reconnected")
	}
}

// handoff accepts on one real listener and gives each connection to
// whichever of its listeners asks first, so servers can replace each other
// on one port.
type handoff struct {
	ln   net.Listener
	ch   chan net.Conn
	stop chan struct{}
	done chan struct{}
}

func newHandoff(ln net.Listener) *handoff {
	h := &handoff{ln: ln, ch: make(chan net.Conn), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case h.ch <- c:
			case <-h.stop:
				c.Close()
				return
			}
		}
	}()
	return h
}

func (h *handoff) close() { close(h.stop); h.ln.Close(); <-h.done }

func (h *handoff) listener() net.Listener { return &handoffListener{h: h, closed: make(chan struct{})} }

type handoffListener struct {
	h      *handoff
	once   sync.Once
	closed chan struct{}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.h.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	case <-l.h.stop:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *handoffListener) Addr() net.Addr { return l.h.ln.Addr() }

// countingServant counts the calls it serves.
type countingServant struct {
	giop.Servant
	n atomic.Int64
}

func (c *countingServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	c.n.Add(1)
	return c.Servant.Invoke(ctx, r)
}

// returnSeen is a blockingServant that says when its handler has returned.
type returnSeen struct {
	blockingServant
	returned atomic.Bool
}

func (s *returnSeen) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	defer s.returned.Store(true)
	return s.blockingServant.Invoke(ctx, r)
}

// TestServer_CloseCancelsAndWaitsForHandlers: Close cancels the handlers
// still running (their connections close) and returns only once they have
// returned, so that nothing of the server runs after it — the reused
// request goroutines included (TestMain's goleak checks they are gone).
func TestServer_CloseCancelsAndWaitsForHandlers(t *testing.T) {
	s := &returnSeen{blockingServant: blockingServant{started: make(chan struct{}, 1), release: make(chan struct{})}}
	srv, ref, _ := testServer(t, nil, map[string]giop.Servant{"Block": s})
	prof, _ := ref.IIOP()
	block := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("Block"))
	c := testClient(t)
	// Warm the pool: a few calls served one after another leave an idle
	// worker behind, which Close must stop too.
	for range 3 {
		if _, err := callString(context.Background(), c, ref, "echoString", "x"); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error, 1)
	go func() {
		_, err := callString(context.Background(), c, block, "echoString", "x")
		errc <- err
	}()
	<-s.started
	srv.Close()
	if !s.returned.Load() {
		t.Fatal("Close returned while a handler was still running")
	}
	if err := <-errc; err == nil {
		t.Fatal("the blocked call succeeded after Close")
	}
}

// TestClient_TriesAlternateAddresses: a reference whose profile address
// refuses connections reaches the object at its TAG_ALTERNATE_IIOP_ADDRESS
// (CORBA 3.0 §13.6.10.3), as omniORB does (SPEC.md, "omniORB 4.2.5 when a
// server goes away"), and later calls stay on the connection to it.
func TestClient_TriesAlternateAddresses(t *testing.T) {
	srv, live, _ := testServer(t, nil, nil)
	liveProf, _ := live.IIOP()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there now
	ref := giop.NewIOR(live.TypeID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: uint16(dead),
		ObjectKey: liveProf.ObjectKey, Components: []giop.TaggedComponent{
			giop.DefaultCodeSets.Component(),
			giop.AlternateAddress{Host: "127.0.0.1", Port: uint16(dead)}.Component(), // dead too
			giop.AlternateAddress{Host: "127.0.0.1", Port: liveProf.Port}.Component(),
		}})
	c := testClient(t)
	for i := range 3 {
		got, err := callString(context.Background(), c, ref, "echoString", "alt")
		if err != nil || got != "alt" {
			t.Fatalf("call %d through the alternate = %q, %v", i, got, err)
		}
	}
	if n := srv.Stats().Accepted; n != 1 {
		t.Fatalf("%d connections to the alternate, want 1: later calls stay on it", n)
	}
	// Without the alternates, the same reference fails as it should.
	bare := objectIOR(live.TypeID, dead, liveProf.ObjectKey)
	if _, err := callString(context.Background(), c, bare, "echoString", "x"); err == nil {
		t.Fatal("a reference with only a dead address was served")
	}
}

// TestServer_ReplyToACancelledRequestIsNotWritten: a reply the handler
// sends after the peer's CancelRequest is one the peer drops (§15.4.4), so
// AfterReply is told it was not written — the agent then keeps a read
// request pollable instead of deleting a reply nobody took. A reply not
// cancelled is told written.
func TestServer_ReplyToACancelledRequestIsNotWritten(t *testing.T) {
	s := &afterReplyServant{started: make(chan struct{}, 1), after: make(chan bool, 1)}
	_, ref, _ := testServer(t, nil, map[string]giop.Servant{"After": s})
	prof, _ := ref.IIOP()
	after := objectIOR("IDL:Demo/Echo:1.0", int(prof.Port), []byte("After"))
	c := testClient(t)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := callString(ctx, c, after, "echoString", "wait")
		errc <- err
	}()
	<-s.started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call = %v", err)
	}
	if written := <-s.after; written {
		t.Fatal("the reply to a cancelled request was reported written")
	}

	if got, err := callString(context.Background(), c, after, "echoString", "now"); err != nil || got != "answer" {
		t.Fatalf("call = %q, %v", got, err)
	}
	if written := <-s.after; !written {
		t.Fatal("the reply to a request not cancelled was reported not written")
	}
}

// afterReplyServant answers "answer" and reports what AfterReply was
// told; for "wait" it first waits for the request's cancellation.
type afterReplyServant struct {
	started chan struct{}
	after   chan bool
}

func (s *afterReplyServant) RepositoryID() string { return "IDL:Demo/Echo:1.0" }

func (s *afterReplyServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	if r.Args.String() == "wait" {
		s.started <- struct{}{}
		<-ctx.Done()
	}
	r.AfterReply(func(written bool) { s.after <- written })
	r.Results().WriteString("answer")
	return nil
}
