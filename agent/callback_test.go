package agent_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// goRecipient is a ReplyRecipient in Go: in reply_available it pulls the
// result through the holder (a nested call into the agent) and records it.
type goRecipient struct {
	client   *giop.Client
	mu       sync.Mutex
	got      []delivery
	holders  []*giop.IOR
	arrived  chan delivery
	failures atomic.Int32 // reply_available calls to fail before succeeding
	pull     bool
}

type delivery struct {
	op, cookie string
	result     bool
	pullErr    error
}

func (r *goRecipient) RepositoryID() string { return agent.ReplyRecipientID }

func (r *goRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "reply_available" {
		return giop.BadOperation(req.Operation())
	}
	holder := req.Args.IOR()
	op := req.Args.String()
	cookie := req.Args.Octets()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	if r.failures.Load() > 0 {
		r.failures.Add(-1)
		return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
	}
	d := delivery{op: op, cookie: string(cookie)}
	if r.pull {
		resp, err := r.client.Invoke(ctx, holder, &giop.Invocation{Operation: op, Args: addStockArgs("", 0)})
		d.pullErr = err
		if err == nil {
			d.result = resp.Result.Bool()
		}
	}
	r.mu.Lock()
	r.got = append(r.got, d)
	r.holders = append(r.holders, holder)
	r.mu.Unlock()
	r.arrived <- d
	return nil
}

// startRecipient serves a goRecipient on a loopback port and returns its IOR.
func startRecipient(t *testing.T, r *goRecipient) *giop.IOR {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), r)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Recipient")})
}

// TestCallback_PullThroughHolder: the recipient gets reply_available with
// the operation and the cookie byte for byte, pulls the real result
// through the holder inside the call, and the holder is dead afterwards
// (OBJECT_NOT_EXIST) — docs/callbacks.md.
func TestCallback_PullThroughHolder(t *testing.T) {
	e := newEnv(t, agent.Config{})
	r := &goRecipient{client: e.client, arrived: make(chan delivery, 4), pull: true}
	ref := startRecipient(t, r)
	proxy, err := e.createProxy(e.target, "", ref)
	if err != nil {
		t.Fatal(err)
	}
	cookie := "add stock\x00\xff"
	e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", cookie, 0, false), addStockArgs("ACME", 1))
	d := <-r.arrived
	if d.op != "add_stock" || d.cookie != cookie || d.pullErr != nil || !d.result {
		t.Fatalf("delivery = %+v", d)
	}
	r.mu.Lock()
	holder := r.holders[0]
	r.mu.Unlock()
	// Once reply_available has returned (the request is then trashed, so
	// its group empties), the holder is dead.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := e.pollTags(proxy, nil, 0, false)
		if isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("request not trashed after delivery: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	_, err = e.client.Invoke(e.ctx(), holder, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("", 0)})
	if !isSys(err, giop.ExcObjectNotExist, nmproto.ReplyHolderExpired) {
		t.Fatalf("holder after reply_available = %v, want OBJECT_NOT_EXIST/REPLY_HOLDER_EXPIRED", err)
	}
}

// TestCallback_RecipientDownThenUp: reply_available fails (the recipient
// raises) and is retried until it succeeds: delivered exactly once.
func TestCallback_RecipientDownThenUp(t *testing.T) {
	e := newEnv(t, agent.Config{})
	r := &goRecipient{client: e.client, arrived: make(chan delivery, 4)}
	r.failures.Store(3)
	proxy, err := e.createProxy(e.target, "", startRecipient(t, r))
	if err != nil {
		t.Fatal(err)
	}
	e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "c", 0, false), addStockArgs("ACME", 1))
	<-r.arrived
	select {
	case d := <-r.arrived:
		t.Fatalf("delivered twice: %+v", d)
	case <-time.After(200 * time.Millisecond):
	}
	if f := e.agent.RecipientFailures(); len(f) != 0 {
		t.Fatalf("failure record after delivery: %+v", f)
	}
}

// TestCallback_RecipientGoneReplyStaysPollable: a recipient that never
// comes back is given up after the retry budget; the failure is visible
// and the reply can still be polled (never lost silently).
func TestCallback_RecipientGoneReplyStaysPollable(t *testing.T) {
	e := newEnv(t, agent.Config{RecipientRetryBudget: 100 * time.Millisecond})
	gone := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(freePort(t)), ObjectKey: []byte("Recipient")})
	proxy, err := e.createProxy(e.target, "", gone)
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 1))
	deadline := time.Now().Add(20 * time.Second)
	for {
		f := e.agent.RecipientFailures()
		if len(f) == 1 && f[0].GivenUp == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("failure never recorded: %+v", f)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p := e.call(r.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || !p.resp.Result.Bool() {
		t.Fatalf("reply after the recipient was given up: %v", p.err)
	}
}

// TestCallback_ManyRecipientsOneStalled: 1,000 callbacks to 100
// recipients, one of which hangs in reply_available: all the others are
// delivered.
func TestCallback_ManyRecipientsOneStalled(t *testing.T) {
	e := newEnv(t, agent.Config{CallbackTimeout: time.Minute})
	stall := make(chan struct{})
	defer close(stall)
	var delivered atomic.Int32
	var proxies []*giop.IOR
	for i := range 100 {
		var r giop.Servant = &countingRecipient{n: &delivered}
		if i == 0 {
			r = &stalledRecipient{stall: stall}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ad := giop.NewAdapter()
		ad.Register([]byte("R"), r)
		srv := giop.NewServer(nil, ad)
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		ref := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
			Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("R")})
		p, err := e.createProxy(e.target, "", ref)
		if err != nil {
			t.Fatal(err)
		}
		proxies = append(proxies, e.receiver(p))
	}
	var wg sync.WaitGroup
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.call(proxies[i%100], "add_stock", reqInfoCtx("", fmt.Sprint(i), 0, false), addStockArgs(fmt.Sprint("S", i), 1))
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for delivered.Load() < 990 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 990 callbacks delivered with one recipient stalled", delivered.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type countingRecipient struct{ n *atomic.Int32 }

func (c *countingRecipient) RepositoryID() string { return agent.ReplyRecipientID }
func (c *countingRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	c.n.Add(1)
	return nil
}

type stalledRecipient struct{ stall chan struct{} }

func (s *stalledRecipient) RepositoryID() string { return agent.ReplyRecipientID }
func (s *stalledRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	select {
	case <-s.stall:
	case <-ctx.Done():
	}
	return nil
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestCallback_ExplicitConnectionBinding: a client whose ORB announces no
// listen points asks with RecipientOnConnection=TRUE; the agent then calls
// its recipient back over the very connection create_request_proxy came
// on, whatever the recipient's IOR says (Ice's fixed proxies).
func TestCallback_ExplicitConnectionBinding(t *testing.T) {
	e := newEnv(t, agent.Config{})
	// A client that serves requests arriving on its own outbound
	// connections, announcing nothing.
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	r := &goRecipient{client: c, arrived: make(chan delivery, 4), pull: true}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), r)
	c.OfferBiDir(ad, nil)
	unreachable := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(freePort(t)), ObjectKey: []byte("Recipient")})
	e.expectBoundCallback(t, c, r, unreachable)
}

// expectBoundCallback makes a 2PI through a proxy whose recipient (at
// recipient, never dialled) is bound to c's connection
// (RecipientOnConnection), and waits for its callback to reach r over
// that connection.
func (e *env) expectBoundCallback(t *testing.T, c *giop.Client, r *goRecipient, recipient *giop.IOR) {
	t.Helper()
	_, rcv := proxyAndReceiver(t, c, e.agentRef, e.target, recipient, boolProp(nmproto.PropRecipientOnConnection, true))
	if _, err := c.Invoke(e.ctx(), rcv, &giop.Invocation{Operation: "add_stock", Args: addStockArgs("ACME", 1),
		Contexts: reqInfoCtx("", "bound", 0, false), RawReply: true}); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-r.arrived:
		if d.cookie != "bound" || d.pullErr != nil || !d.result {
			t.Fatalf("delivery over the bound connection: %+v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no callback over the bound connection; failures: %+v", e.agent.RecipientFailures())
	}
}

// blockingRecipient holds each reply_available until released, telling
// when one enters.
type blockingRecipient struct {
	entered chan string
	release chan struct{}
}

func (r *blockingRecipient) RepositoryID() string { return agent.ReplyRecipientID }
func (r *blockingRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	_ = req.Args.IOR()
	_ = req.Args.String()
	cookie := req.Args.Octets()
	r.entered <- string(cookie)
	select {
	case <-r.release:
	case <-ctx.Done():
	}
	return nil
}

// TestCallback_ConcurrentPerRecipient: replies to one recipient are called
// back several at a time (CallbacksPerRecipient, 4 by default), so a slow
// reply_available does not hold the others back.
func TestCallback_ConcurrentPerRecipient(t *testing.T) {
	e := newEnv(t, agent.Config{})
	r := &blockingRecipient{entered: make(chan string, 8), release: make(chan struct{})}
	ref := startServant(t, "Blocking", r)
	proxy, err := e.createProxy(e.target, "", ref)
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	for i := range 4 {
		e.call(rcv, "add_stock", reqInfoCtx("", fmt.Sprint("c", i), 0, false), addStockArgs(fmt.Sprint("S", i), 1))
	}
	seen := map[string]bool{}
	for range 4 {
		select {
		case c := <-r.entered:
			seen[c] = true
		case <-time.After(20 * time.Second):
			close(r.release)
			t.Fatalf("only %d of 4 callbacks ran at once: %v", len(seen), seen)
		}
	}
	close(r.release)
}

// TestCallback_OperatorRetry: a callback given up after its budget is
// tried again when an operator asks (RetryCallbacks), once the recipient
// is back, and delivered.
func TestCallback_OperatorRetry(t *testing.T) {
	e := newEnv(t, agent.Config{RecipientRetryBudget: 100 * time.Millisecond})
	r := &goRecipient{client: e.client, arrived: make(chan delivery, 4), pull: true}
	r.failures.Store(1 << 20) // down for now
	ref := startRecipient(t, r)
	proxy, err := e.createProxy(e.target, "", ref)
	if err != nil {
		t.Fatal(err)
	}
	e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "retried", 0, false), addStockArgs("R", 1))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if f := e.agent.RecipientFailures(); len(f) == 1 && f[0].GivenUp == 1 {
			if !strings.HasPrefix(f[0].Recipient, hostPortOf(ref)+"/") {
				t.Fatalf("failing recipient shown as %q", f[0].Recipient)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not given up: %+v", e.agent.RecipientFailures())
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.failures.Store(0) // back
	if n := e.agent.RetryCallbacks("127.0.0.9:1"); n != 0 {
		t.Fatalf("a retry for another address queued %d", n)
	}
	if n := e.agent.RetryCallbacks(hostPortOf(ref)); n != 1 {
		t.Fatalf("RetryCallbacks = %d, want 1", n)
	}
	select {
	case d := <-r.arrived:
		if d.cookie != "retried" || !d.result {
			t.Fatalf("delivery %+v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the retried callback was not delivered")
	}
}

func hostPortOf(ref *giop.IOR) string {
	prof, _ := ref.IIOP()
	return net.JoinHostPort(prof.Host, fmt.Sprint(prof.Port))
}
