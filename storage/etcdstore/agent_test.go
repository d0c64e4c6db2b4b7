package etcdstore_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

// The store is an agent.Store; this package's own code never imports agent.
var _ agent.Store = (*etcdstore.Store)(nil)

// stockManager is the StockManager target in brief: add_stock answers
// whether the symbol is new.
type stockManager struct {
	calls  atomic.Int32
	stocks map[string]bool // touched by add_stock only, one call at a time here
}

func (s *stockManager) RepositoryID() string { return "IDL:StockManager:1.0" }

func (s *stockManager) Invoke(_ context.Context, r *giop.ServerRequest) error {
	if r.Operation() != "add_stock" {
		return giop.BadOperation(r.Operation())
	}
	s.calls.Add(1)
	sym, _ := r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	had := s.stocks[sym]
	s.stocks[sym] = true
	r.Results().WriteBool(!had)
	return nil
}

// nmClient is an NM-aware client in brief: what agent/env_test.go's env
// does, for one agent.
type nmClient struct {
	t *testing.T
	c *giop.Client
}

func newNMClient(t *testing.T) *nmClient {
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	return &nmClient{t: t, c: c}
}

func (n *nmClient) invoke(ref *giop.IOR, inv *giop.Invocation) *giop.Response {
	n.t.Helper()
	resp := n.invokeRaw(ref, inv)
	if resp.Header.Status != giop.ReplyNoException {
		n.t.Fatalf("%s: %s %v", inv.Operation, resp.Header.Status, resp.Result.SystemException())
	}
	return resp
}

// invokeRaw is invoke for a call that may answer an exception.
func (n *nmClient) invokeRaw(ref *giop.IOR, inv *giop.Invocation) *giop.Response {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inv.RawReply = true
	resp, err := n.c.Invoke(ctx, ref, inv)
	if err != nil {
		n.t.Fatalf("%s: %v", inv.Operation, err)
	}
	return resp
}

// proxy makes a request proxy for target on the agent at agentRef and
// returns it with its typed receiver.
func (n *nmClient) proxy(agentRef, target *giop.IOR) (proxy, rcv *giop.IOR) {
	resp := n.invoke(agentRef, &giop.Invocation{Operation: "create_request_proxy", Args: func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(nil)
		e.WriteULong(0) // no properties
	}})
	proxy = resp.Result.IOR()
	rcv = n.invoke(proxy, &giop.Invocation{Operation: "_get_the_receiver"}).Result.IOR()
	return proxy, rcv
}

// send calls add_stock on the receiver with a request tag, and returns
// the poller of the premature return (NO_RESPONSE, with the poller in
// its NMService context).
func (n *nmClient) send(rcv *giop.IOR, tag, sym string) *giop.IOR {
	n.t.Helper()
	c := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte(tag)}}
	resp := n.invokeRaw(rcv, &giop.Invocation{Operation: "add_stock", Contexts: giop.ServiceContextList{c.Encode()},
		Args: func(e *giop.Encoder) { e.WriteString(sym); e.WriteDouble(1) }})
	nc, ok, err := nmproto.Find(resp.Header.ServiceContexts)
	if err != nil || !ok || nc.Kind != nmproto.KindThePoller || nc.ThePoller.IsNil() {
		n.t.Fatalf("add_stock %s: no poller in the premature return (%v)", tag, err)
	}
	return nc.ThePoller
}

// pull calls add_stock on the poller, waiting up to wait ms, and returns
// the target's result.
func (n *nmClient) pull(poller *giop.IOR, wait uint32) bool {
	n.t.Helper()
	c := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: wait}
	resp := n.invoke(poller, &giop.Invocation{Operation: "add_stock", Contexts: giop.ServiceContextList{c.Encode()},
		Args: func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) }})
	if nc, ok, _ := nmproto.Find(resp.Header.ServiceContexts); ok && nc.Kind == nmproto.KindThePoller {
		n.t.Fatal("pull: the reply is not available")
	}
	return resp.Result.Bool()
}

// pollTags calls poll on a proxy and returns the tags ready.
func (n *nmClient) pollTags(proxy *giop.IOR, timeout uint32) []string {
	resp := n.invoke(proxy, &giop.Invocation{Operation: "poll", Args: func(e *giop.Encoder) {
		e.WriteULong(timeout)
		e.WriteBool(false)
	}})
	var tags []string
	for range resp.Result.ULong() {
		tags = append(tags, string(resp.Result.Octets()))
	}
	return tags
}

// TestStore_AgentOnEtcd is agent's TestStore_AnotherBackend on etcd: an
// agent whose Backend is this store takes a request, stores its reply,
// and after a restart on the same cluster (a new Store on the same
// endpoints, a new agent) the request is still pollable and the old
// proxy takes new requests.
func TestStore_AgentOnEtcd(t *testing.T) {
	c := newCluster(t, nil)
	sm := &stockManager{stocks: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), sm)
	tsrv := giop.NewServer(nil, ad)
	go tsrv.Serve(ln)
	t.Cleanup(func() { tsrv.Close() })
	target := giop.NewIOR(sm.RepositoryID(), &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})

	store := open(t, c, etcdstore.Config{})
	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), Backend: store,
		ConnectRetryBudget: 200 * time.Millisecond}
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cl := newNMClient(t)
	proxy, rcv := cl.proxy(a.IOR(), target)
	poller := cl.send(rcv, "t1", "ETCD")
	// The reply is stored before the request is listed as replied.
	if tags := cl.pollTags(proxy, 20_000); len(tags) != 1 || tags[0] != "t1" {
		t.Fatalf("the reply never became ready: %v", tags)
	}
	if store.Stats().Commits == 0 {
		t.Fatal("nothing was committed to etcd")
	}
	a.Close()

	cfg.Backend = open(t, c, etcdstore.Config{})
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatalf("restart on the same etcd: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	// A client of its own: the old one's connection went with the old agent.
	cl = newNMClient(t)
	if !cl.pull(poller, 0) {
		t.Fatal("pull after the restart: add_stock answered false")
	}
	again := cl.send(rcv, "t2", "ETCD2")
	if !cl.pull(again, nmproto.WaitForever) {
		t.Fatal("the new request's pull: add_stock answered false")
	}
	if got := sm.calls.Load(); got != 2 {
		t.Fatalf("the target ran %d calls, want 2", got)
	}
}
