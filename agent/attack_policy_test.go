package agent_test

import (
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// The target policy (docs/deploying.md): a client cannot make the agent
// call an address outside it — not as a target, not as a recipient, not
// through a LOCATION_FORWARD — however the address is spelt.

// servedAt starts s at key on a server of its own, so that a test can see
// whether anything ever connected to it.
func servedAt(t *testing.T, key string, s giop.Servant) (*giop.IOR, *giop.Server) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte(key), s)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return giop.NewIOR(s.RepositoryID(), &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte(key)}), srv
}

// respelt returns ref with its host written as host.
func respelt(ref *giop.IOR, host string) *giop.IOR {
	prof, _ := ref.IIOP()
	p := *prof
	p.Host = host
	return giop.NewIOR(ref.TypeID, &p)
}

// createRequestTo calls RequestAgent::create_request with target and
// recipient.
func (e *env) createRequestTo(target, recipient *giop.IOR) error {
	_, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(target)
		enc.WriteString(stockID)
		enc.WriteIOR(recipient)
		enc.WriteOctets(nil)
		enc.WriteString("g")
		enc.WriteOctets(nil)
		enc.WriteULong(0)
	}})
	return err
}

// refusedNo reports whether err is the policy's refusal, completed NO.
func refusedNo(err error) bool {
	var x *giop.SystemException
	return isSys(err, giop.ExcNoPermission, nmproto.TargetNotAllowed) && errorsAs(err, &x) && x.Completed == giop.CompletedNo
}

// metric returns the value of one sample of the agent's metrics, by its
// name and labels as the exposition writes them; 0 when absent.
func (e *env) metric(sample string) float64 {
	e.t.Helper()
	v, _ := scrapeMetric(e.t, e.agent, sample)
	return v
}

// TestPolicy_OutsideRefusedAtCreation: a proxy or a create_request whose
// target or recipient is outside the policy — under any spelling of the
// address — is refused with NO_PERMISSION/TARGET_NOT_ALLOWED completed
// NO, nothing is stored and the address is never dialled; a target
// inside the policy works as before.
func TestPolicy_OutsideRefusedAtCreation(t *testing.T) {
	deniedSM := newStockManager()
	denied, dsrv := servedAt(t, "StockManager", deniedSM)
	dprof, _ := denied.IIOP()
	e := newEnv(t, agent.Config{TargetPolicy: agent.TargetPolicy{
		Allow: []string{"127.0.0.0/8"},
		Deny:  []string{fmt.Sprintf("[::ffff:127.0.0.1]:%d", dprof.Port)}, // a mapped spelling in the rule too
	}})

	var refs []*giop.IOR
	for _, h := range spellings() {
		refs = append(refs, respelt(denied, h))
	}
	for _, ref := range refs {
		if _, err := e.createProxy(ref, stockID, nil); !refusedNo(err) {
			t.Errorf("proxy with target %s = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", hostOf(ref), err)
		}
		if _, err := e.createProxy(e.target, "", ref); !refusedNo(err) {
			t.Errorf("proxy with recipient %s = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", hostOf(ref), err)
		}
		if err := e.createRequestTo(ref, nil); !refusedNo(err) {
			t.Errorf("create_request with target %s = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", hostOf(ref), err)
		}
		if err := e.createRequestTo(e.target, ref); !refusedNo(err) {
			t.Errorf("create_request with recipient %s = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", hostOf(ref), err)
		}
	}
	if n := len(e.agent.Proxies()); n != 0 {
		t.Fatalf("%d proxies stored, want none", n)
	}
	if n := len(e.agent.Requests()); n != 0 {
		t.Fatalf("%d requests stored, want none", n)
	}
	if got, want := e.metric(`requestagent_target_policy_refusals_total{at="create"}`), float64(4*len(refs)); got != want {
		t.Errorf("refusals at creation counted %v, want %v", got, want)
	}
	if got, want := e.metric(`requestagent_requests_total{outcome="target_not_allowed"}`), float64(4*len(refs)); got != want {
		t.Errorf("target_not_allowed outcomes counted %v, want %v", got, want)
	}

	// Inside the policy: allowed by 127.0.0.0/8, on another port.
	proxy := e.mustProxy(boolProp(nmproto.PropWaitReply, true))
	if r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("IN", 1)); r.err != nil || r.rna {
		t.Fatalf("call to a target inside the policy: %+v", r)
	}
	if err := e.createRequestTo(e.target, nil); err != nil {
		t.Fatalf("create_request to a target inside the policy: %v", err)
	}
	if n := dsrv.Stats().Accepted; n != 0 || deniedSM.calls.Load() != 0 {
		t.Fatalf("the denied target was connected to %d times and called %d times, want never", n, deniedSM.calls.Load())
	}
}

// TestPolicy_AllowListRefusesTheRest: with allow rules only the addresses
// they name are allowed — the test's loopback target is not among them.
func TestPolicy_AllowListRefusesTheRest(t *testing.T) {
	e := newEnv(t, agent.Config{TargetPolicy: agent.TargetPolicy{Allow: []string{"192.0.2.0/24", "[2001:db8::/32]:443"}}})
	if _, err := e.createProxy(e.target, "", nil); !refusedNo(err) {
		t.Fatalf("proxy to a target outside the allow list = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", err)
	}
	if n := len(e.agent.Proxies()); n != 0 {
		t.Fatalf("%d proxies stored, want none", n)
	}
}

// TestPolicy_ForwardOutsideIsRefused: a target inside the policy that
// answers with LOCATION_FORWARD to one outside it — spelt however it
// likes — gets one call; the request's result is NO_PERMISSION/
// TARGET_NOT_ALLOWED completed NO (it was not sent), and the target behind
// the forward is never connected to.
func TestPolicy_ForwardOutsideIsRefused(t *testing.T) {
	deniedSM := newStockManager()
	denied, dsrv := servedAt(t, "StockManager", deniedSM)
	dprof, _ := denied.IIOP()
	e := newEnv(t, agent.Config{TargetPolicy: agent.TargetPolicy{Deny: []string{fmt.Sprintf("127.0.0.1:%d", dprof.Port)}}})
	f := &forwarder{}
	fref := startServant(t, "Forwarder", f)
	proxy, err := e.createProxy(fref, stockID, nil, boolProp(nmproto.PropWaitReply, true))
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	hosts := spellings()
	for i, h := range hosts {
		f.where.Store(respelt(denied, h))
		r := e.call(rcv, "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("FWD", 1))
		if !refusedNo(r.err) || r.rna {
			t.Fatalf("result of a request forwarded to %s = %+v (%v), want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", h, r, r.err)
		}
		if n := f.calls.Load(); int(n) != i+1 {
			t.Fatalf("the forwarding target was called %d times after %d requests", n, i+1)
		}
	}
	if n := dsrv.Stats().Accepted; n != 0 || deniedSM.calls.Load() != 0 {
		t.Fatalf("the target behind the forward was connected to %d times and called %d times, want never", n, deniedSM.calls.Load())
	}
	if got, want := e.metric(`requestagent_target_policy_refusals_total{at="delegation"}`), float64(len(hosts)); got != want {
		t.Errorf("refusals at delegation counted %v, want %v", got, want)
	}
}

// TestPolicy_BoundRecipientIsNotJudged: a recipient bound to its client's
// connection (RecipientOnConnection) is called back over that connection
// only, never dialled, so its address — here one the policy denies, as a
// firewalled client's often is — does not refuse the proxy, and the
// callback arrives; the same recipient unbound is refused.
func TestPolicy_BoundRecipientIsNotJudged(t *testing.T) {
	e := newEnv(t, agent.Config{TargetPolicy: agent.TargetPolicy{Deny: []string{"192.0.2.0/24"}}})
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	r := &goRecipient{client: c, arrived: make(chan delivery, 4), pull: true}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), r)
	c.OfferBiDir(ad, nil)
	away := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "192.0.2.7",
		Port: 4000, ObjectKey: []byte("Recipient")})
	if _, err := e.createProxy(e.target, "", away); !refusedNo(err) {
		t.Fatalf("proxy with an unbound recipient the policy denies = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED", err)
	}
	e.expectBoundCallback(t, c, r, away)
	if n := len(e.agent.Proxies()); n != 1 {
		t.Fatalf("%d proxies stored, want the bound one only", n)
	}
}

// TestPolicy_StoredRequestMeetsAStricterPolicy: a request accepted before
// a restart, delegated after it under a policy that now denies its
// target, ends with the result NO_PERMISSION/TARGET_NOT_ALLOWED completed
// NO and is never sent (docs/deploying.md).
func TestPolicy_StoredRequestMeetsAStricterPolicy(t *testing.T) {
	_, cfg, e, _, rcv := restartEnv(t)
	release := e.sm.hold()
	first := e.call(rcv, "add_stock", reqInfoCtx("first", "", 0, false), addStockArgs("FIRST", 1))
	<-e.sm.entered
	queued := e.call(rcv, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 2))
	if first.poller == nil || queued.poller == nil {
		t.Fatal("a request was not acknowledged with a poller")
	}
	e.agent.Close() // the queued request stays stored, to be delegated at the next start
	release()

	tprof, _ := e.target.IIOP()
	cfg.TargetPolicy.Deny = []string{fmt.Sprintf("127.0.0.1:%d", tprof.Port)}
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	var got result
	for range 20 {
		if got = e.call(queued.poller, "add_stock", waitCtx(1000), addStockArgs("", 0)); !got.rna {
			break
		}
	}
	if !refusedNo(got.err) || got.rna {
		t.Fatalf("result of the queued request under the stricter policy = %+v (%v), want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", got, got.err)
	}
	if n := e.sm.calls.Load(); n != 1 {
		t.Fatalf("the target ran %d calls, want 1 (the first, before the restart)", n)
	}
}

// TestPolicy_CallbackOutsideIsRefused: a recipient that a restart's
// stricter policy denies is never called back: the callback is refused
// before any dial, counted, given up after the retry budget, and the reply
// stays pollable.
func TestPolicy_CallbackOutsideIsRefused(t *testing.T) {
	cfg := agent.Config{
		Listen:               fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Store:                storage.Config{Dir: t.TempDir(), Durable: true},
		MaxThreads:           1,
		RecipientRetryBudget: 100 * time.Millisecond,
	}
	e := newEnv(t, cfg)
	r := &goRecipient{arrived: make(chan delivery, 4)}
	recipient, rsrv := servedAt(t, "Recipient", r)
	proxy, err := e.createProxy(e.target, "", recipient)
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	release := e.sm.hold()
	e.call(rcv, "add_stock", reqInfoCtx("first", "", 0, false), addStockArgs("FIRST", 1))
	<-e.sm.entered
	queued := e.call(rcv, "add_stock", reqInfoCtx("queued", "", 0, false), addStockArgs("QUEUED", 2))
	if queued.poller == nil {
		t.Fatal("the queued request was not acknowledged with a poller")
	}
	e.agent.Close()
	release()

	before := rsrv.Stats().Accepted
	rprof, _ := recipient.IIOP()
	cfg.TargetPolicy.Deny = []string{fmt.Sprintf("127.0.0.1:%d", rprof.Port)}
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	e.agent = b
	for i := 0; len(b.RecipientFailures()) == 0 || b.RecipientFailures()[0].GivenUp == 0; i++ {
		if i == 2000 {
			t.Fatalf("the refused callback was not given up; failures %+v", b.RecipientFailures())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := e.metric(`requestagent_target_policy_refusals_total{at="callback"}`); n < 1 {
		t.Errorf("callback refusals counted %v, want at least 1", n)
	}
	if got := e.call(queued.poller, "add_stock", waitCtx(1000), addStockArgs("", 0)); got.err != nil || got.rna || !got.resp.Result.Bool() {
		t.Fatalf("the reply of the queued request is not pollable: %+v (%v)", got, got.err)
	}
	if n := rsrv.Stats().Accepted; n != before {
		t.Fatalf("the denied recipient was connected to %d times after the restart, want never", n-before)
	}
}

// TestPolicy_UnspecifiedIsJudgedAsWhatItDials: a target written "::" is
// judged as the addresses a dial of it reaches (::1, then 127.0.0.1),
// not as ::1 alone: with 127.0.0.0/8 denied, a request to "[::]:port"
// never reaches a service listening on 127.0.0.1:port, where Go's dialer
// would have taken it.
func TestPolicy_UnspecifiedIsJudgedAsWhatItDials(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	e := newEnv(t, agent.Config{ConnectRetryBudget: 100 * time.Millisecond,
		TargetPolicy: agent.TargetPolicy{Deny: []string{"127.0.0.0/8"}}})
	for _, host := range []string{"::", "0:0:0:0:0:0:0:0", "0.0.0.0"} {
		canary := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: host, Port: port, ObjectKey: []byte("StockManager")})
		proxy, err := e.createProxy(canary, stockID, nil, boolProp(nmproto.PropWaitReply, true))
		if err != nil {
			// 0.0.0.0 is 127.0.0.1 alone: refused at once.
			if !refusedNo(err) {
				t.Errorf("proxy to %s: %v, want accepted or NO_PERMISSION/TARGET_NOT_ALLOWED", host, err)
			}
			continue
		}
		// "::" may be ::1, which the policy allows: the call goes there,
		// where nothing listens.
		r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 10_000, false), addStockArgs("X", 1))
		if r.err == nil && !r.rna {
			t.Errorf("call to %s succeeded; nothing should answer there", host)
		}
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the service on 127.0.0.1:%d, denied, was reached %d times through the unspecified address", port, n)
	}
}
