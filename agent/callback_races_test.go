package agent_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// gateRecipient is a ReplyRecipient whose reply_available can be held
// (gate set) and can pull the result through the holder after the hold
// (pull); it counts its calls by cookie and can fail them (fail set).
type gateRecipient struct {
	client  *giop.Client
	pull    atomic.Bool
	fail    atomic.Bool
	mu      sync.Mutex
	gate    chan struct{}
	calls   map[string]int
	pulls   []error
	entered chan string
}

func newGateRecipient(c *giop.Client) *gateRecipient {
	return &gateRecipient{client: c, calls: map[string]int{}, entered: make(chan string, 64)}
}

func (r *gateRecipient) RepositoryID() string { return agent.ReplyRecipientID }

// hold makes the next reply_available calls wait until release.
func (r *gateRecipient) hold() (release func()) {
	g := make(chan struct{})
	r.mu.Lock()
	r.gate = g
	r.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(g) }) }
}

func (r *gateRecipient) count(cookie string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[cookie]
}

func (r *gateRecipient) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	holder := req.Args.IOR()
	op := req.Args.String()
	cookie := string(req.Args.Octets())
	if err := req.ArgsErr(); err != nil {
		return err
	}
	r.mu.Lock()
	r.calls[cookie]++
	g := r.gate
	r.mu.Unlock()
	select {
	case r.entered <- cookie:
	default:
	}
	if r.fail.Load() {
		return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
	}
	if g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if r.pull.Load() {
		_, err := r.client.Invoke(ctx, holder, &giop.Invocation{Operation: op, Args: addStockArgs("", 0)})
		r.mu.Lock()
		r.pulls = append(r.pulls, err)
		r.mu.Unlock()
	}
	return nil
}

// callbackEnv is an agent on a durable store at a fixed address (so that
// a restart keeps the references), with a gateRecipient.
func callbackEnv(t *testing.T, cfg agent.Config) (dir string, _ agent.Config, e *env, r *gateRecipient, ref *giop.IOR) {
	dir = t.TempDir()
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t))
	cfg.Store = storage.Config{Dir: dir, Durable: true}
	e = newEnv(t, cfg)
	r = newGateRecipient(e.client)
	ref = startRecipient2(t, r)
	return dir, cfg, e, r, ref
}

// startRecipient2 serves r on a loopback port and returns its IOR.
func startRecipient2(t *testing.T, r giop.Servant) *giop.IOR {
	t.Helper()
	return startServant(t, "Recipient2", r)
}

// waitEntered waits for a reply_available with that cookie.
func waitEntered(t *testing.T, r *gateRecipient, cookie string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case c := <-r.entered:
			if c == cookie {
				return
			}
		case <-deadline:
			t.Fatalf("no reply_available for %q", cookie)
		}
	}
}

// waitEnteredAll waits until a reply_available call with each cookie has
// begun, in whatever order: callbacks to one recipient run several at a
// time (CallbacksPerRecipient).
func waitEnteredAll(t *testing.T, r *gateRecipient, cookies ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, c := range cookies {
		want[c] = true
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case c := <-r.entered:
			delete(want, c)
		case <-deadline:
			t.Fatalf("no reply_available for %v", want)
		}
	}
}

// restartAndSettle closes the agent, checks nothing of any request is left
// in its store, restarts it on that store and waits a little for any
// callback the restart would make.
func restartAndSettle(t *testing.T, dir string, cfg agent.Config, e *env) *agent.Agent {
	t.Helper()
	e.agent.Close()
	if left := requestEntries(t, dir); len(left) != 0 {
		t.Errorf("entries of trashed requests left in the store: %q (states %v)", left, recordStates(t, dir))
	}
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	time.Sleep(300 * time.Millisecond)
	return b
}

// TestCallback_TrashDuringReplyAvailable: a request trashed — by
// RequestAgent::destroy_request, RequestProxy::destroy_request(tag), the
// proxy's destroy(TRUE), or Agent.Trash — while its recipient is inside
// reply_available (pulling through the holder after the trash or not),
// with RequestManualTrash or without: trashed is gone for good. The
// recipient's return writes nothing back (Delivered), nothing is left in
// the store, its poller says REQUEST_TRASHED, and no restart calls the
// recipient again.
func TestCallback_TrashDuringReplyAvailable(t *testing.T) {
	for _, how := range []string{"agent.destroy_request", "proxy.destroy_request", "destroy(TRUE)", "Agent.Trash"} {
		for _, manual := range []bool{false, true} {
			for _, pull := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/manual=%v/pull=%v", how, manual, pull), func(t *testing.T) {
					dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
					r.pull.Store(pull)
					proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropRequestManualTrash, manual))
					if err != nil {
						t.Fatal(err)
					}
					release := r.hold()
					defer release()
					sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("tag", "c", 0, false), addStockArgs("A", 1))
					if sent.poller == nil || sent.poller.IsNil() {
						t.Fatalf("not acknowledged: %+v", sent)
					}
					waitEntered(t, r, "c")
					switch how {
					case "agent.destroy_request":
						err = e.destroyRequest(sent.poller)
					case "proxy.destroy_request":
						_, err = e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
							Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte("tag")) }})
					case "destroy(TRUE)":
						_, err = e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy",
							Args: func(enc *giop.Encoder) { enc.WriteBool(true) }})
					case "Agent.Trash":
						reqs := e.agent.Requests()
						if len(reqs) != 1 {
							t.Fatalf("%d requests live, want 1", len(reqs))
						}
						err = e.agent.Trash(reqs[0].ID)
					}
					if err != nil {
						t.Fatalf("%s: %v", how, err)
					}
					release()
					time.Sleep(100 * time.Millisecond) // reply_available returns, the agent records it
					if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
						t.Fatalf("poller after the trash: %+v, want REQUEST_TRASHED", p)
					}
					if pull {
						r.mu.Lock()
						perr := r.pulls
						r.mu.Unlock()
						if len(perr) != 1 || !isSys(perr[0], giop.ExcObjectNotExist, 0) {
							t.Errorf("the holder's pull after the trash: %v, want OBJECT_NOT_EXIST", perr)
						}
					}
					restartAndSettle(t, dir, cfg, e)
					if n := r.count("c"); n != 1 {
						t.Fatalf("reply_available called %d times, want 1 (none after the trash, none after the restart)", n)
					}
					if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
						t.Fatalf("poller after the restart: %+v, want REQUEST_TRASHED", p)
					}
				})
			}
		}
	}
}

// TestCallback_ManualTrashDeliveredThenTrashedThenRestart: with
// RequestManualTrash a delivered request stays (Delivered) and is not
// called back after a restart; then trashed, it is gone, and a second
// restart neither brings it back nor calls its recipient.
func TestCallback_ManualTrashDeliveredThenTrashedThenRestart(t *testing.T) {
	dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
	r.pull.Store(true)
	proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropRequestManualTrash, true))
	if err != nil {
		t.Fatal(err)
	}
	sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("tag", "m", 0, false), addStockArgs("M", 1))
	waitEntered(t, r, "m")
	deadline := time.Now().Add(20 * time.Second)
	for {
		reqs := e.agent.Requests()
		if len(reqs) == 1 && reqs[0].State == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not marked delivered: %+v", reqs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.agent.Close()
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := r.count("m"); n != 1 {
		t.Fatalf("after a restart a delivered request was called back again: %d calls", n)
	}
	if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("the delivered, kept reply after the restart: %+v", p)
	}
	if err := e.destroyRequest(sent.poller); err != nil {
		t.Fatalf("destroy_request: %v", err)
	}
	e.agent = b
	restartAndSettle(t, dir, cfg, e)
	if n := r.count("m"); n != 1 {
		t.Fatalf("reply_available called %d times, want 1", n)
	}
	if p := e.call(sent.poller, "add_stock", waitCtx(0), addStockArgs("", 0)); !isSys(p.err, giop.ExcObjectNotExist, nmproto.RequestTrashed) {
		t.Fatalf("trashed request after the restart: %+v, want REQUEST_TRASHED", p)
	}
}

// TestCallback_TrashDuringRetryBackoff: a request trashed while its
// callback is failing and retried with backoff gets no further
// reply_available; once given up (the recipient now back) nothing is
// retried for it; after a restart it is gone and not called back.
func TestCallback_TrashDuringRetryBackoff(t *testing.T) {
	dir, cfg, e, r, ref := callbackEnv(t, agent.Config{RecipientRetryBudget: 600 * time.Millisecond})
	r.fail.Store(true)
	proxy, err := e.createProxy(e.target, "", ref)
	if err != nil {
		t.Fatal(err)
	}
	sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("tag", "b", 0, false), addStockArgs("B", 1))
	waitEntered(t, r, "b")
	waitEntered(t, r, "b") // a retry: it is in its backoff now
	if err := e.destroyRequest(sent.poller); err != nil {
		t.Fatalf("destroy_request: %v", err)
	}
	n := r.count("b")
	r.fail.Store(false)
	time.Sleep(1500 * time.Millisecond) // past the budget
	if got := r.count("b"); got > n+1 {
		// One attempt may have been on its way as the trash came.
		t.Fatalf("reply_available called %d more times after the trash", got-n)
	}
	if k := e.agent.RetryCallbacks(""); k != 0 {
		t.Fatalf("RetryCallbacks after the trash queued %d", k)
	}
	time.Sleep(100 * time.Millisecond)
	m := r.count("b")
	restartAndSettle(t, dir, cfg, e)
	if got := r.count("b"); got != m {
		t.Fatalf("the trashed request was called back after the restart (%d calls, %d before)", got, m)
	}
}

// TestCallback_GivenUpThenTrashedThenRetried: a given-up callback whose
// request is then trashed (each way) is not tried again by
// Agent.RetryCallbacks, nor after a restart.
func TestCallback_GivenUpThenTrashedThenRetried(t *testing.T) {
	for _, how := range []string{"agent.destroy_request", "destroy(TRUE)", "Agent.Trash", "ReplyRetention"} {
		t.Run(how, func(t *testing.T) {
			c := agent.Config{RecipientRetryBudget: 100 * time.Millisecond}
			if how == "ReplyRetention" {
				c.ReplyRetention = 1500 * time.Millisecond
			}
			dir, cfg, e, r, ref := callbackEnv(t, c)
			r.fail.Store(true)
			proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropRequestManualTrash, true))
			if err != nil {
				t.Fatal(err)
			}
			sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("tag", "g", 0, false), addStockArgs("G", 1))
			deadline := time.Now().Add(20 * time.Second)
			for {
				if f := e.agent.RecipientFailures(); len(f) == 1 && f[0].GivenUp == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not given up: %+v", e.agent.RecipientFailures())
				}
				time.Sleep(5 * time.Millisecond)
			}
			switch how {
			case "agent.destroy_request":
				err = e.destroyRequest(sent.poller)
			case "destroy(TRUE)":
				_, err = e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy",
					Args: func(enc *giop.Encoder) { enc.WriteBool(true) }})
			case "Agent.Trash":
				err = e.agent.Trash(e.agent.Requests()[0].ID)
			case "ReplyRetention":
				for len(e.agent.Requests()) != 0 {
					if time.Now().After(deadline) {
						t.Fatal("the unread reply never expired")
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			if err != nil {
				t.Fatalf("%s: %v", how, err)
			}
			r.fail.Store(false)
			n := r.count("g")
			if k := e.agent.RetryCallbacks(""); k != 0 {
				t.Fatalf("RetryCallbacks after the trash queued %d", k)
			}
			time.Sleep(200 * time.Millisecond)
			if got := r.count("g"); got != n {
				t.Fatalf("reply_available after the trash: %d calls more", got-n)
			}
			restartAndSettle(t, dir, cfg, e)
			if got := r.count("g"); got != n {
				t.Fatalf("reply_available after the restart: %d calls more", got-n)
			}
		})
	}
}

// TestCallback_TrashRacingCallbacks: many requests to a recipient that
// pulls through the holder, each trashed by its tag at a varying moment
// around its callback (before, during, after reply_available). Each is
// called back at most once; afterwards nothing of any request is in the
// store, and a restart calls nobody back.
func TestCallback_TrashRacingCallbacks(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprint("manual=", manual), func(t *testing.T) {
			dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
			r.pull.Store(true)
			proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropRequestManualTrash, manual))
			if err != nil {
				t.Fatal(err)
			}
			rcv := e.receiver(proxy)
			c2 := giop.NewClient(nil)
			defer c2.Close()
			const n = 150
			var wg sync.WaitGroup
			for i := range n {
				tag := fmt.Sprint("t", i)
				e.call(rcv, "add_stock", reqInfoCtx(tag, tag, 0, false), addStockArgs(tag, 1))
				wg.Add(1)
				go func() {
					defer wg.Done()
					time.Sleep(time.Duration(i%10) * 150 * time.Microsecond)
					c2.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy_request",
						Args: func(enc *giop.Encoder) { enc.WriteOctets([]byte(tag)) }})
				}()
			}
			wg.Wait()
			time.Sleep(300 * time.Millisecond)
			// Every request not trashed yet (delivered and kept, or
			// delivered and trashed already) goes now.
			if _, err := e.client.Invoke(e.ctx(), proxy, &giop.Invocation{Operation: "destroy",
				Args: func(enc *giop.Encoder) { enc.WriteBool(true) }}); err != nil {
				t.Fatal(err)
			}
			before := map[string]int{}
			r.mu.Lock()
			for k, v := range r.calls {
				before[k] = v
				if v > 1 {
					t.Errorf("%s called back %d times", k, v)
				}
			}
			r.mu.Unlock()
			restartAndSettle(t, dir, cfg, e)
			r.mu.Lock()
			defer r.mu.Unlock()
			for k, v := range r.calls {
				if v != before[k] {
					t.Errorf("%s called back after the restart (%d, %d before)", k, v, before[k])
				}
			}
		})
	}
}

// TestCallback_TrashedWhileReplyIsWrittenNeverCalledBack: a request with a
// recipient trashed while its reply is being written (the window
// TrashWhileReplyIsWritten opens) is never called back, with
// RequestManualTrash or without, and nothing of it is left in the store;
// a restart calls nobody.
func TestCallback_TrashedWhileReplyIsWrittenNeverCalledBack(t *testing.T) {
	for _, manual := range []bool{false, true} {
		t.Run(fmt.Sprint("manual=", manual), func(t *testing.T) {
			dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
			proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropRequestManualTrash, manual))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			defer agent.TrashWhileReplyIsWritten(done)()
			sent := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "w", 0, false), addStockArgs("W", 1))
			if sent.poller == nil {
				t.Fatalf("not acknowledged: %+v", sent)
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("the hook never ran")
			}
			time.Sleep(200 * time.Millisecond)
			if n := r.count("w"); n != 0 {
				t.Fatalf("a request trashed while its reply was written was called back %d times", n)
			}
			restartAndSettle(t, dir, cfg, e)
			if n := r.count("w"); n != 0 {
				t.Fatalf("called back after the restart: %d", n)
			}
		})
	}
}

// TestCallback_TrashedBeforeEvolveNeverCalledBack: a WaitReply call to a
// proxy with a recipient, trashed as its wait ends (TrashBeforeEvolve):
// its reply, coming later, is never called back nor stored.
func TestCallback_TrashedBeforeEvolveNeverCalledBack(t *testing.T) {
	dir, cfg, e, r, ref := callbackEnv(t, agent.Config{})
	proxy, err := e.createProxy(e.target, "", ref, boolProp(nmproto.PropWaitReply, true))
	if err != nil {
		t.Fatal(err)
	}
	release := e.sm.hold()
	defer release()
	done := make(chan struct{})
	defer agent.TrashBeforeEvolve(done)()
	res := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "v", 20, false), addStockArgs("V", 1))
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the hook never ran: %+v", res)
	}
	release()
	time.Sleep(300 * time.Millisecond)
	if n := r.count("v"); n != 0 {
		t.Fatalf("a request trashed as its wait ended was called back %d times", n)
	}
	restartAndSettle(t, dir, cfg, e)
	if n := r.count("v"); n != 0 {
		t.Fatalf("called back after the restart: %d", n)
	}
}
