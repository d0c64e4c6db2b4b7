package etcdstore_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/nmtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/recipient"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

// The store is an agent.Store; this package's own code never imports agent.
var _ agent.Store = (*etcdstore.Store)(nil)

// TestStore_AgentOnEtcd is agent's TestStore_AnotherBackend on etcd: an
// agent whose Backend is this store takes a request, stores its reply,
// and after a restart on the same cluster (a new Store on the same
// endpoints, a new agent) the request is still pollable and the old
// proxy takes new requests.
func TestStore_AgentOnEtcd(t *testing.T) {
	c := etcdtest.New(t, nil)
	sm, target := nmtest.StartTarget(t)

	store := open(t, c, etcdstore.Config{})
	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), Backend: store,
		ConnectRetryBudget: 200 * time.Millisecond}
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cl := nmtest.NewClient(t)
	proxy, rcv := cl.Proxy(a.IOR(), target)
	poller := cl.Send(rcv, "t1", "ETCD")
	// The reply is stored before the request is listed as replied.
	if tags := cl.PollTags(proxy, 20_000); len(tags) != 1 || tags[0] != "t1" {
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
	cl = nmtest.NewClient(t)
	if !cl.Pull(poller, 0) {
		t.Fatal("pull after the restart: add_stock answered false")
	}
	again := cl.Send(rcv, "t2", "ETCD2")
	if !cl.Pull(again, nmproto.WaitForever) {
		t.Fatal("the new request's pull: add_stock answered false")
	}
	if got := sm.Calls.Load(); got != 2 {
		t.Fatalf("the target ran %d calls, want 2", got)
	}
}

// deposingRecipient is a ReplyRecipient whose first reply_available hands
// the shard to another owner (its fence's key rewritten, as a takeover
// does) and then refuses, TRANSIENT completed NO: the owner is deposed
// between two attempts of a callback.
type deposingRecipient struct {
	depose func() error
	calls  atomic.Int32
}

func (r *deposingRecipient) RepositoryID() string { return agent.ReplyRecipientID }

func (r *deposingRecipient) Invoke(_ context.Context, req *giop.ServerRequest) error {
	if r.calls.Add(1) == 1 {
		if err := r.depose(); err != nil {
			return giop.NewSystemExceptionCause(giop.ExcInternal, 0, giop.CompletedNo, err)
		}
	}
	return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
}

// TestStore_AgentOnEtcdDeposedOwnerCallsNobody: an agent owned by a
// cluster marks each callback attempt in a transaction conditioned on its
// ownership (docs/cluster.md, fencing). Deposed during its first attempt
// — another agent owns the shard now, while this one's ownership check
// still says yes, as after a pause — its next attempts' marks are
// refused with ErrFenced, and the recipient is never called again. The
// first attempt's mark stands (taking it off was refused too), so the
// owner after it keeps the callback as maybe made and does not call.
func TestStore_AgentOnEtcdDeposedOwnerCallsNobody(t *testing.T) {
	c := etcdtest.New(t, nil)
	cli := client(t, c)
	const owner = "owners/shard-0"
	if _, err := cli.Put(t.Context(), owner, "agent-1"); err != nil {
		t.Fatal(err)
	}
	fenceOn := func(who string) func() []clientv3.Cmp {
		return func() []clientv3.Cmp { return []clientv3.Cmp{clientv3.Compare(clientv3.Value(owner), "=", who)} }
	}
	_, target := nmtest.StartTarget(t)
	rcp := &deposingRecipient{depose: func() error {
		_, err := cli.Put(context.Background(), owner, "agent-2")
		return err
	}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Recipient"), rcp)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ref := giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Recipient")})

	cfg := agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)),
		Backend: open(t, c, etcdstore.Config{Fence: fenceOn("agent-1")}), Owned: func() error { return nil },
		ConnectRetryBudget: 200 * time.Millisecond, RecipientRetryBudget: 500 * time.Millisecond}
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	cl := nmtest.NewClient(t)
	proxy := cl.Invoke(a.IOR(), &giop.Invocation{Operation: "create_request_proxy", Args: func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(ref)
		e.WriteULong(0) // no properties
	}}).Result.IOR()
	rcv := cl.Invoke(proxy, &giop.Invocation{Operation: "_get_the_receiver"}).Result.IOR()
	polled := cl.Send(rcv, "t1", "FENCED")
	var failures []recipient.Failure
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if failures = a.RecipientFailures(); len(failures) == 1 && failures[0].GivenUp == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the callback was never given up: %+v", a.RecipientFailures())
		}
	}
	if n := rcp.calls.Load(); n != 1 {
		t.Fatalf("reply_available called %d times, want 1: none once deposed", n)
	}
	if failures[0].Attempts < 2 || !strings.Contains(failures[0].LastError, etcdstore.ErrFenced.Error()) {
		t.Fatalf("the attempts after the deposition: %+v, want them refused by the fence", failures[0])
	}
	a.Close()

	// The owner after it.
	cfg.Backend = open(t, c, etcdstore.Config{Fence: fenceOn("agent-2")})
	b, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	reqs := b.Requests()
	if len(reqs) != 1 || reqs[0].State != "replied" {
		t.Fatalf("after the takeover: %+v, want the request replied", reqs)
	}
	if d, err := b.Request(reqs[0].ID); err != nil || !strings.HasPrefix(d.Callback, "maybe made") {
		t.Fatalf("its callback: %q, %v; want it kept as maybe made", d.Callback, err)
	}
	time.Sleep(300 * time.Millisecond) // for a callback the takeover would have made
	if n := rcp.calls.Load(); n != 1 {
		t.Fatalf("reply_available called %d times in all, want 1: the kept callback is not made again", n)
	}
	// Its reply is there for the client's poller.
	cl = nmtest.NewClient(t)
	if !cl.Pull(polled, 0) {
		t.Fatal("the kept reply through its poller: add_stock answered false")
	}
}
