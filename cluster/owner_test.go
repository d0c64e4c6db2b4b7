package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/nmtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

func TestMain(m *testing.M) { etcdtest.Main(m) }

// hangGuard bounds a wait that must end, so that a broken test fails
// rather than hangs; it is not a bound on how long the wait may take.
const hangGuard = 60 * time.Second

const ownerKey = "requestagent/cluster/owner"

func client(t *testing.T, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

func acquire(t *testing.T, cli *clientv3.Client, name string) *cluster.Owner {
	t.Helper()
	o, err := cluster.Acquire(context.Background(), cli, cluster.Config{Key: ownerKey, Name: name, TTL: 2 * time.Second})
	if err != nil {
		t.Fatalf("acquire as %s: %v", name, err)
	}
	t.Cleanup(func() { o.Release(context.Background()) })
	return o
}

func holder(t *testing.T, cli *clientv3.Client) string {
	t.Helper()
	resp, err := cli.Get(context.Background(), ownerKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return ""
	}
	return cluster.DecodeHolder(resp.Kvs[0].Value).Name
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(hangGuard):
		t.Fatalf("%s never happened", what)
	}
}

// TestAcquire_OneOwnerAtATime: a second agent waits as a standby while
// the first owns, and owns once the first releases — not before.
func TestAcquire_OneOwnerAtATime(t *testing.T) {
	c := etcdtest.New(t, nil)
	a := acquire(t, client(t, c), "a")
	if got := holder(t, client(t, c)); got != "a" {
		t.Fatalf("the key names %q, want a", got)
	}
	var released atomic.Bool
	got := make(chan *cluster.Owner, 1)
	go func() {
		o, err := cluster.Acquire(context.Background(), client(t, c), cluster.Config{Key: ownerKey, Name: "b", TTL: 2 * time.Second})
		if err != nil {
			t.Errorf("acquire as b: %v", err)
		}
		if !released.Load() {
			t.Error("b owns while a has not released")
		}
		got <- o
	}()
	released.Store(true)
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	var b *cluster.Owner
	select {
	case b = <-got:
	case <-time.After(hangGuard):
		t.Fatal("the standby never took over")
	}
	defer b.Release(context.Background())
	if h := holder(t, client(t, c)); h != "b" {
		t.Fatalf("the key names %q after the takeover, want b", h)
	}
	waitClosed(t, a.Lost(), "a's loss after its release")
}

// TestAcquire_StandbyOutlivesItsLease: a standby whose own lease ends
// while it waits (revoked here, as etcd without quorum would let it
// expire) takes a new one, registers again, and still owns once the owner
// releases. Before, its wait ended with ErrLost, and the agent exited.
func TestAcquire_StandbyOutlivesItsLease(t *testing.T) {
	c := etcdtest.New(t, nil)
	cli := client(t, c)
	a := acquire(t, cli, "a")
	const members = "requestagent/cluster/members/"
	got := make(chan *cluster.Owner, 1)
	go func() {
		o, err := cluster.Acquire(context.Background(), client(t, c),
			cluster.Config{Key: ownerKey, Name: "b", Members: members, TTL: 2 * time.Second})
		if err != nil {
			t.Errorf("the standby's wait: %v", err)
		}
		got <- o
	}()
	lease := func() clientv3.LeaseID {
		resp, err := cli.Get(context.Background(), members+"b")
		if err != nil || len(resp.Kvs) == 0 {
			return 0
		}
		return clientv3.LeaseID(resp.Kvs[0].Lease)
	}
	var first clientv3.LeaseID
	for deadline := time.Now().Add(hangGuard); first == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the standby never registered")
		}
		first = lease()
	}
	if _, err := cli.Revoke(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
		if l := lease(); l != 0 && l != first {
			break
		}
		select {
		case o := <-got:
			t.Fatalf("the standby's wait ended (%v) when its lease did", o)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the standby never registered again under a new lease")
		}
	}
	if err := a.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if b == nil {
			t.FailNow()
		}
		defer b.Release(context.Background())
	case <-time.After(hangGuard):
		t.Fatal("the standby never took over")
	}
	if h := holder(t, cli); h != "b" {
		t.Fatalf("the key names %q after the takeover, want b", h)
	}
}

// TestAcquire_UnreachableEtcdIsToldAndWaitedFor: with no etcd to answer,
// Acquire neither fails nor waits in silence: it logs why and tries
// again until its context ends.
func TestAcquire_UnreachableEtcdIsToldAndWaitedFor(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t))},
		DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var log syncbuf.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	o, err := cluster.Acquire(ctx, cli, cluster.Config{Key: ownerKey, Name: "a", TTL: 2 * time.Second,
		Logger: zerolog.New(&log)})
	if o != nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire with no etcd: %v, %v; want its context's end", o, err)
	}
	if !strings.Contains(log.String(), "cannot reach the ownership through etcd") || !strings.Contains(log.String(), `"level":"warn"`) {
		t.Fatalf("Acquire with no etcd logged:\n%s", log.String())
	}
}

// TestOwner_RevokedLeaseFencesItsStore: an owner whose lease ends while it
// still acts (revoked here, as a pause past the TTL would have it expire)
// is told so (Lost), and its store writes nothing more (ErrFenced): the
// next owner's store writes.
func TestOwner_RevokedLeaseFencesItsStore(t *testing.T) {
	c := etcdtest.New(t, nil)
	cli := client(t, c)
	a := acquire(t, cli, "a")
	st, err := etcdstore.Open(etcdstore.Config{Endpoints: c.Endpoints(), Fence: a.Fence})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b storage.Batch
	b.Set([]byte("q/1"), []byte("while it owns"))
	if err := st.CommitWithin(&b, 10*time.Second); err != nil {
		t.Fatalf("the owner's write: %v", err)
	}
	if err := a.Held(); err != nil {
		t.Fatalf("Held while it owns: %v", err)
	}
	lease, err := cli.Get(context.Background(), ownerKey)
	if err != nil || len(lease.Kvs) != 1 {
		t.Fatalf("the ownership key: %v %v", lease, err)
	}
	if _, err := cli.Revoke(context.Background(), clientv3.LeaseID(lease.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	var late storage.Batch
	late.Set([]byte("q/2"), []byte("after the lease ended"))
	if err := st.CommitWithin(&late, 10*time.Second); !errors.Is(err, etcdstore.ErrFenced) {
		t.Fatalf("the deposed owner's write: %v, want ErrFenced", err)
	}
	waitClosed(t, a.Lost(), "the loss of a revoked lease")
	if err := a.Held(); !errors.Is(err, cluster.ErrLost) {
		t.Fatalf("Held after the loss: %v, want ErrLost", err)
	}
	next := acquire(t, client(t, c), "b")
	st2, err := etcdstore.Open(etcdstore.Config{Endpoints: c.Endpoints(), Fence: next.Fence})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if err := st2.CommitWithin(&late, 10*time.Second); err != nil {
		t.Fatalf("the new owner's write: %v", err)
	}
	if _, err := st2.Get([]byte("q/1")); err != nil {
		t.Fatalf("the first owner's write, read by the next: %v", err)
	}
}

// TestOwner_SilentEtcdIsLoss: an owner that hears nothing from etcd (the
// whole cluster gone here, as a partition would have it) stops owning by
// itself, before its lease could have expired on etcd.
func TestOwner_SilentEtcdIsLoss(t *testing.T) {
	c := etcdtest.New(t, nil)
	a := acquire(t, client(t, c), "a")
	c.StopAll()
	waitClosed(t, a.Lost(), "the loss when etcd is silent")
}

// TestConfig_Validate: a key and a name are required; a TTL is whole
// seconds, at least 2.
func TestConfig_Validate(t *testing.T) {
	for _, cfg := range []cluster.Config{
		{Name: "a"}, {Key: "k"}, {Key: "k", Name: "a", TTL: time.Second}, {Key: "k", Name: "a", TTL: 2500 * time.Millisecond},
	} {
		if err := cfg.Validate(); !errors.Is(err, cluster.ErrBadConfig) {
			t.Errorf("%+v: %v, want ErrBadConfig", cfg, err)
		}
	}
	if err := (&cluster.Config{Key: "k", Name: "a", TTL: 3 * time.Second}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestTakeover_StandbyServesTheOwnersRequests: two agents on one etcd,
// each publishing both addresses. The owner acknowledges a 2PI and stores
// its reply; then it dies without a word (its etcd client gone, its
// process stopped). The standby takes over once the lease ends, and the
// client's unchanged poller reference — whose first address is the dead
// agent's — gets the reply through the standby; the old proxy takes a new
// request there. The dead owner's store, should it write late, is fenced.
func TestTakeover_StandbyServesTheOwnersRequests(t *testing.T) {
	c := etcdtest.New(t, nil)
	sm, target := nmtest.StartTarget(t)
	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	start := func(name string, port int, cli *clientv3.Client) (*agent.Agent, *cluster.Owner, *etcdstore.Store) {
		t.Helper()
		o := acquire(t, cli, name)
		st, err := etcdstore.Open(etcdstore.Config{Endpoints: c.Endpoints(), Fence: o.Fence})
		if err != nil {
			t.Fatal(err)
		}
		a, err := agent.Start(agent.Config{Listen: fmt.Sprintf("127.0.0.1:%d", port), Host: hosts, Backend: st,
			ConnectRetryBudget: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		return a, o, st
	}
	cliA, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	a, ownerA, storeA := start("a", portA, cliA)
	cl := nmtest.NewClient(t)
	proxy, rcv := cl.Proxy(a.IOR(), target)
	poller := cl.Send(rcv, "t1", "FAILOVER")
	if tags := cl.PollTags(proxy, 20_000); len(tags) != 1 || tags[0] != "t1" {
		t.Fatalf("the reply never became ready: %v", tags)
	}

	standby := make(chan *agent.Agent, 1)
	go func() {
		b, _, _ := start("b", portB, client(t, c))
		standby <- b
	}()
	// a dies: no release, no more keep-alives, no more serving.
	cliA.Close()
	a.Close()
	waitClosed(t, ownerA.Lost(), "the dead owner's loss")
	select {
	case <-standby:
	case <-time.After(hangGuard):
		t.Fatal("the standby never took over")
	}
	cl = nmtest.NewClient(t) // a fresh client: the old one's connection died with a
	if !cl.Pull(poller, 0) {
		t.Fatal("the pull through the standby: add_stock answered false")
	}
	again := cl.Send(rcv, "t2", "AGAIN")
	if !cl.Pull(again, 20_000) {
		t.Fatal("a new request through the old proxy: add_stock answered false")
	}
	if got := sm.Calls.Load(); got != 2 {
		t.Fatalf("the target ran %d calls, want 2: nothing ran twice", got)
	}
	var late storage.Batch
	late.Set([]byte("q/late"), []byte("from the dead owner"))
	if err := storeA.CommitWithin(&late, 10*time.Second); err == nil {
		t.Fatal("the dead owner's store still writes")
	}
	storeA.Close()
}
