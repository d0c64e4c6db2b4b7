// Package nmtest is test support for tests outside package agent that run
// agents: a StockManager target and a small NM-aware Go client (a proxy,
// a 2PI with its poller, a pull, a group poll).
package nmtest

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// StartTarget serves a StockManager on loopback until cleanup and returns
// it with its reference.
func StartTarget(t testing.TB) (*StockManager, *giop.IOR) {
	t.Helper()
	sm := &StockManager{stocks: map[string]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), sm)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return sm, giop.NewIOR(sm.RepositoryID(), &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
}

// StockManager is the StockManager target in brief: add_stock answers
// whether the symbol is new.
type StockManager struct {
	// Calls counts the add_stock calls served.
	Calls  atomic.Int32
	stocks map[string]bool // touched by add_stock only, one call at a time here
}

// RepositoryID is StockManager's.
func (s *StockManager) RepositoryID() string { return "IDL:StockManager:1.0" }

// Invoke serves add_stock.
func (s *StockManager) Invoke(_ context.Context, r *giop.ServerRequest) error {
	if r.Operation() != "add_stock" {
		return giop.BadOperation(r.Operation())
	}
	s.Calls.Add(1)
	sym, _ := r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	had := s.stocks[sym]
	s.stocks[sym] = true
	r.Results().WriteBool(!had)
	return nil
}

// Client is an NM-aware client in brief: what agent/env_test.go's env
// does, for tests outside package agent.
type Client struct {
	t testing.TB
	c *giop.Client
}

// NewClient makes a Client, closed on cleanup.
func NewClient(t testing.TB) *Client {
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	return &Client{t: t, c: c}
}

// Invoke calls inv on ref and fails the test on an exception.
func (n *Client) Invoke(ref *giop.IOR, inv *giop.Invocation) *giop.Response {
	n.t.Helper()
	resp := n.InvokeRaw(ref, inv)
	if resp.Header.Status != giop.ReplyNoException {
		n.t.Fatalf("%s: %s %v", inv.Operation, resp.Header.Status, resp.Result.SystemException())
	}
	return resp
}

// InvokeRaw is Invoke for a call that may answer an exception.
func (n *Client) InvokeRaw(ref *giop.IOR, inv *giop.Invocation) *giop.Response {
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

// Proxy makes a request proxy for target on the agent at agentRef and
// returns it with its typed receiver.
func (n *Client) Proxy(agentRef, target *giop.IOR) (proxy, rcv *giop.IOR) {
	resp := n.Invoke(agentRef, &giop.Invocation{Operation: "create_request_proxy", Args: func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(nil)
		e.WriteULong(0) // no properties
	}})
	proxy = resp.Result.IOR()
	rcv = n.Invoke(proxy, &giop.Invocation{Operation: "_get_the_receiver"}).Result.IOR()
	return proxy, rcv
}

// Send calls add_stock on the receiver with a request tag, and returns
// the poller of the premature return (NO_RESPONSE, with the poller in
// its NMService context).
func (n *Client) Send(rcv *giop.IOR, tag, sym string) *giop.IOR {
	n.t.Helper()
	c := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte(tag)}}
	resp := n.InvokeRaw(rcv, &giop.Invocation{Operation: "add_stock", Contexts: giop.ServiceContextList{c.Encode()},
		Args: func(e *giop.Encoder) { e.WriteString(sym); e.WriteDouble(1) }})
	nc, ok, err := nmproto.Find(resp.Header.ServiceContexts)
	if err != nil || !ok || nc.Kind != nmproto.KindThePoller || nc.ThePoller.IsNil() {
		n.t.Fatalf("add_stock %s: no poller in the premature return (%v)", tag, err)
	}
	return nc.ThePoller
}

// Pull calls add_stock on the poller, waiting up to wait ms, and returns
// the target's result.
func (n *Client) Pull(poller *giop.IOR, wait uint32) bool {
	n.t.Helper()
	c := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: wait}
	resp := n.Invoke(poller, &giop.Invocation{Operation: "add_stock", Contexts: giop.ServiceContextList{c.Encode()},
		Args: func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) }})
	if nc, ok, _ := nmproto.Find(resp.Header.ServiceContexts); ok && nc.Kind == nmproto.KindThePoller {
		n.t.Fatal("pull: the reply is not available")
	}
	return resp.Result.Bool()
}

// PollTags calls poll on a proxy and returns the tags ready.
func (n *Client) PollTags(proxy *giop.IOR, timeout uint32) []string {
	resp := n.Invoke(proxy, &giop.Invocation{Operation: "poll", Args: func(e *giop.Encoder) {
		e.WriteULong(timeout)
		e.WriteBool(false)
	}})
	var tags []string
	for range resp.Result.ULong() {
		tags = append(tags, string(resp.Result.Octets()))
	}
	return tags
}
