package etcdstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/nmtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
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
