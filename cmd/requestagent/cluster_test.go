package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
)

// startClusterAgent starts the binary in cluster mode on the etcd
// cluster, listening on port and publishing every address in hosts; it
// does not wait for it: a standby is not ready until it owns the store.
func startClusterAgent(t *testing.T, c *etcdtest.Cluster, port int, hosts string) *agentProc {
	t.Helper()
	return startClusterAgentLease(t, c, port, hosts, "2s")
}

// startClusterAgentLease is startClusterAgent with another lease, and
// any flags besides.
func startClusterAgentLease(t *testing.T, c *etcdtest.Cluster, port int, hosts, lease string, extra ...string) *agentProc {
	t.Helper()
	p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), dataDir: t.TempDir(),
		stderr: &syncBuffer{}}
	p.run(t, append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", hosts,
		"--admin", p.adminAddr, "--data-dir", p.dataDir,
		"--cluster", strings.Join(c.Endpoints(), ","), "--cluster-lease", lease,
		"--cluster-name", fmt.Sprint("agent-", port)}, extra...)...)
	return p
}

// killForGood SIGKILLs p and removes its data directory: an agent gone
// with its machine, never to come back, so that what still works cannot
// need it.
func killForGood(t *testing.T, p *agentProc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p.dataDir); err != nil {
		t.Fatal(err)
	}
}

// clusterPair is a real 3-member etcd with two agents on it, each
// publishing both addresses: a owns the store, b is its standby. sm is
// the StockManager target both delegate to.
type clusterPair struct {
	etcd         *etcdtest.Cluster
	sm           *stock
	target       *giop.IOR
	portA, portB int
	hosts        string
	a, b         *agentProc
}

// startClusterPair starts the pair: a, ready, then b, not waited for.
func startClusterPair(t *testing.T) *clusterPair {
	t.Helper()
	p := &clusterPair{etcd: etcdtest.New(t, nil), portA: peers.FreePort(t), portB: peers.FreePort(t)}
	p.sm, p.target = startTarget(t)
	p.hosts = fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", p.portA, p.portB)
	p.a = startClusterAgent(t, p.etcd, p.portA, p.hosts)
	waitReady(t, p.a)
	p.b = startClusterAgent(t, p.etcd, p.portB, p.hosts)
	return p
}

// waitGroupReply waits until a reply of the polling group is stored on the
// agent at port: the group's poll, unmask FALSE, reports it without
// reading it.
func waitGroupReply(t *testing.T, port int, group string) {
	t.Helper()
	cl := newClient(t, port)
	resp, err := cl.invoke(cl.agent, "poll", nil, func(e *giop.Encoder) {
		e.WriteString(group)
		e.WriteULong(20_000)
		e.WriteBool(false)
	})
	if err != nil || resp.Header.Status != giop.ReplyNoException {
		t.Fatalf("poll of the group %q: %v %v", group, err, resp)
	}
}

// load is 2PIs sent by clients until stopped, and the pollers they were
// acknowledged with.
type load struct {
	mu      sync.Mutex
	acks    []acked
	refused atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
}

// acked is one acknowledged request: its symbol (unique) and its poller.
type acked struct {
	sym    string
	poller *giop.IOR
}

// startLoad starts n clients, each made by newClient, sending 2PIs on rcv;
// a refused call is counted and tried again after pause.
func startLoad(n int, newClient func() *client, rcv *giop.IOR, pause time.Duration) *load {
	l := &load{stop: make(chan struct{})}
	for w := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := newClient()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				sym := fmt.Sprintf("W%d-%d", w, i)
				p, err := c.send(rcv, sym)
				if err != nil {
					l.refused.Add(1)
					time.Sleep(pause)
					continue
				}
				l.mu.Lock()
				l.acks = append(l.acks, acked{sym, p})
				l.mu.Unlock()
			}
		}()
	}
	return l
}

// count is how many were acknowledged so far.
func (l *load) count() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.acks) }

// end stops the clients and returns what was acknowledged.
func (l *load) end() []acked {
	close(l.stop)
	l.wg.Wait()
	return l.acks
}

// TestServe_ClusterStandbyTakesOver: two agents in cluster mode on a real
// 3-member etcd, each publishing both addresses. The first owns the store
// and serves; the second waits as a standby. The owner is SIGKILLed; the
// standby takes over once its lease ends, and the client's unchanged
// references work through it: the poller it was given before the kill
// gets the request's result (the real one, or COMM_FAILURE/MAYBE if the
// kill caught it mid-delegation: RELIABILITY.md), and the old receiver
// takes a new request, which runs once. The failover time is printed.
func TestServe_ClusterStandbyTakesOver(t *testing.T) {
	p := startClusterPair(t)
	c, sm, target, portA, portB, a, b := p.etcd, p.sm, p.target, p.portA, p.portB, p.a, p.b
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(b.stderr.String(), "standby"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second agent never said it waits as a standby:\n%s", b.stderr)
		}
	}
	wantOwner(t, c, fmt.Sprint("agent-", portA))
	cl := newClient(t, portA)
	rcv := cl.receiver(target, nil)
	poller, err := cl.send(rcv, "BEFORE")
	if err != nil {
		t.Fatalf("a 2PI on the owner: %v", err)
	}
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReady(t, b)
	cl = newClient(t, portB) // the old client's connection died with the owner
	var resp *giop.Response
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err = cl.pull(poller)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller never worked through the standby: %v", err)
		}
	}
	t.Logf("failover: %v from the kill to the first answer through the standby", time.Since(killed).Round(time.Millisecond))
	wantOwner(t, c, fmt.Sprint("agent-", portB))
	resultOrMaybe(t, resp)
	again, err := cl.send(rcv, "AFTER")
	if err != nil {
		t.Fatalf("a new request through the old receiver: %v", err)
	}
	if resp, err := cl.pull(again); err != nil || resp.Header.Status != giop.ReplyNoException || !resp.Result.Bool() {
		t.Fatalf("the new request's pull: %v %v", err, resp)
	}
	for _, sym := range []string{"BEFORE", "AFTER"} {
		if n := sm.count(sym); n > 1 {
			t.Fatalf("%s ran %d times at the target, want at most once", sym, n)
		}
	}
	if sm.count("AFTER") != 1 {
		t.Fatal("the request made through the standby never ran")
	}
}

// count is how many times sym's add_stock ran.
func (s *stock) count(sym string) int32 {
	n, ok := s.calls.Load(sym)
	if !ok {
		return 0
	}
	return n.(*atomic.Int32).Load()
}

// wantOwner checks that "requestagent cluster status" names owner, sees
// the three members, one the leader, and the proxy the test made.
func wantOwner(t *testing.T, c *etcdtest.Cluster, owner string) {
	t.Helper()
	out, errOut, code := run(t, nil, "cluster", "status", "--cluster", strings.Join(c.Endpoints(), ","), "--json")
	if code != 0 {
		t.Fatalf("cluster status: exit %d: %s", code, errOut)
	}
	var st clusterState
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("cluster status --json: %v\n%s", err, out)
	}
	leaders := 0
	for _, m := range st.Members {
		if m.Leader {
			leaders++
		}
	}
	if st.Owner != owner || len(st.Members) != 3 || leaders != 1 {
		t.Fatalf("cluster status: %+v, want owner %s and 3 members, one the leader", st, owner)
	}
	listed := false
	for _, a := range st.Agents {
		listed = listed || (a.Name == owner && a.Role == "owner" && len(a.GIOP) == 1 && a.GIOP[0] == st.OwnerGIOP[0])
	}
	if !listed {
		t.Fatalf("cluster status lists the agents %+v, want %s as the owner, at its address", st.Agents, owner)
	}
}

// TestServe_ClusterPrefixWithoutItsSlash: an agent given the default
// prefix without its slash and one given the default are one cluster:
// the second waits as the first's standby, and cluster status, asked
// either way, names the first as the owner of its request. Before, the
// two spellings were two clusters, each agent owning a store of its own
// on one etcd, and a poller sent to the other agent's address was
// OBJECT_NOT_EXIST.
func TestServe_ClusterPrefixWithoutItsSlash(t *testing.T) {
	c := etcdtest.New(t, nil)
	_, target := startTarget(t)
	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	a := startClusterAgentLease(t, c, portA, hosts, "2s", "--cluster-prefix", "requestagent")
	waitReady(t, a)
	cl := newClient(t, portA)
	if _, err := cl.send(cl.receiver(target, nil), "SLASH"); err != nil {
		t.Fatal(err)
	}
	b := startClusterAgent(t, c, portB, hosts)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(b.stderr.String(), "standby"); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(b.stderr.String(), "agent: serving") {
			t.Fatalf("the agent with the default prefix serves beside the owner:\n%s", b.stderr)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent with the default prefix never said it waits as a standby:\n%s", b.stderr)
		}
	}
	if code, _ := httpGet(t, "http://"+b.adminAddr+"/readyz"); code == http.StatusOK {
		t.Fatal("the standby is ready beside the owner")
	}
	for _, prefix := range []string{"requestagent", "requestagent/"} {
		out, errOut, code := run(t, nil, "cluster", "status", "--cluster", strings.Join(c.Endpoints(), ","),
			"--cluster-prefix", prefix, "--json")
		var st clusterState
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
			t.Fatalf("cluster status --cluster-prefix %s: exit %d: %s%s", prefix, code, out, errOut)
		}
		if want := fmt.Sprint("agent-", portA); st.Owner != want {
			t.Errorf("cluster status --cluster-prefix %s: owner %q, want %s", prefix, st.Owner, want)
		}
	}
}

// TestClusterEndpoints: --cluster takes an etcd:// list or client URLs,
// and refuses anything else with a clear word.
func TestClusterEndpoints(t *testing.T) {
	for in, want := range map[string]string{
		"etcd://h1:2379,h2:2379":                 "http://h1:2379 http://h2:2379",
		"http://10.0.0.1:2379, https://h2:2379/": "http://10.0.0.1:2379 https://h2:2379/",
	} {
		got, err := clusterEndpoints(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("%q: %v %v, want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "etcd://", "h1:2379", "etcd://h1", "ftp://h1:2379"} {
		if got, err := clusterEndpoints(in); err == nil {
			t.Errorf("%q: %v, want an error", in, got)
		}
	}
}

// TestServe_ClusterEtcdMembersKilledUnderLoad: an agent in cluster mode on
// three etcd processes, under 4 clients sending 2PIs. A follower member is
// SIGKILLed and started again, then the leader: nothing acknowledged is
// lost — every request a client got a poller for gives its real result —
// and none runs twice. Calls refused meanwhile (the store stalled past a
// commit's bound) were never acknowledged, and are counted apart.
func TestServe_ClusterEtcdMembersKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("kills etcd processes under load")
	}
	etcd := etcdtest.StartProcs(t)
	sm, target := startTarget(t)
	port := peers.FreePort(t)
	a := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), stderr: &syncBuffer{}}
	a.run(t, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
		"--admin", a.adminAddr, "--data-dir", t.TempDir(), "--cluster", strings.Join(etcd.Endpoints(), ","))
	waitReady(t, a)
	rcv := newClient(t, port).receiver(target, nil)

	ld := startLoad(4, func() *client { return newClient(t, port) }, rcv, 0)
	count := ld.count
	waitMore := func(n int) { // some acknowledged since: the agent goes on
		for deadline := time.Now().Add(60 * time.Second); count() < n; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no progress: %d acknowledged, want %d", count(), n)
			}
		}
	}
	waitMore(200)
	leader := etcd.Leader()
	follower := (leader + 1) % 3
	etcd.Kill(follower)
	waitMore(count() + 200)
	etcd.Start(follower)
	etcd.WaitUp(follower)
	waitMore(count() + 200)
	leader = etcd.Leader()
	etcd.Kill(leader)
	waitMore(count() + 200)
	etcd.Start(leader)
	etcd.WaitUp(leader)
	waitMore(count() + 200)
	acks := ld.end()

	cl := newClient(t, port)
	for _, ack := range acks {
		resp, err := cl.pull(ack.poller)
		if err != nil || resp.Header.Status != giop.ReplyNoException || !resp.Result.Bool() {
			t.Fatalf("acknowledged %s: %v %v, want its real result", ack.sym, err, resp)
		}
		if n := sm.count(ack.sym); n != 1 {
			t.Fatalf("acknowledged %s ran %d times, want once", ack.sym, n)
		}
	}
	t.Logf("%d acknowledged, all read with their real result, each run once; %d refused while etcd members were killed",
		len(acks), ld.refused.Load())
}

// heldStock is a StockManager whose add_stock holds until release closes,
// counting its calls.
type heldStock struct {
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
}

func (s *heldStock) RepositoryID() string { return "IDL:StockManager:1.0" }
func (s *heldStock) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	if s.calls.Add(1) == 1 {
		close(s.entered)
	}
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	r.Results().WriteBool(true)
	return nil
}

// sentAndRun sends a 2PI of sym through the agent at port and waits
// until the target has run it; it returns the request's poller.
func sentAndRun(t *testing.T, port int, target *giop.IOR, sm *stock, sym string) *giop.IOR {
	t.Helper()
	cl := newClient(t, port)
	poller, err := cl.send(cl.receiver(target, nil), sym)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); sm.count(sym) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the target never ran %s", sym)
		}
	}
	return poller
}

// wantResultOrMaybe pulls poller's reply through the agent at port and
// checks it with resultOrMaybe.
func wantResultOrMaybe(t *testing.T, port int, poller *giop.IOR) {
	t.Helper()
	resp, err := newClient(t, port).pull(poller)
	if err != nil {
		t.Fatalf("the poller through the agent at %d: %v", port, err)
	}
	resultOrMaybe(t, resp)
}

// resultOrMaybe checks a pulled reply after a failover: the request's
// real result, or COMM_FAILURE/MAYBE if the fault caught it between the
// target's answer and the reply's commit — the new owner then says MAYBE
// (RELIABILITY.md), never runs it again.
func resultOrMaybe(t *testing.T, resp *giop.Response) {
	t.Helper()
	switch resp.Header.Status {
	case giop.ReplyNoException:
		if !resp.Result.Bool() {
			t.Fatal("the request's result: add_stock answered false")
		}
	case giop.ReplySystemException:
		if x := resp.Result.SystemException(); x.Name != giop.ExcCommFailure || x.Completed != giop.CompletedMaybe {
			t.Fatalf("the request's result: %v, want its result or COMM_FAILURE/MAYBE", x)
		}
	default:
		t.Fatalf("the request's result: status %v", resp.Header.Status)
	}
}

// TestServe_ClusterStandbyOutlivesEtcdQuorumLoss: two of the three etcd
// members SIGKILLed under an owner and its standby, past both their
// leases, then started again. The owner stops (exit 1: it can no longer
// know it owns); the standby does not — its own lease gone unrenewed, it
// takes a new one and waits on — and owns once etcd has its quorum
// again, with the request acknowledged before the loss pollable through
// it. Before, the standby exited with the owner, and nobody owned until
// a supervisor started one again.
func TestServe_ClusterStandbyOutlivesEtcdQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("kills etcd processes")
	}
	etcd := etcdtest.StartProcs(t)
	sm, target := startTarget(t)
	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	start := func(port int) *agentProc {
		p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), stderr: &syncBuffer{}}
		p.run(t, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", hosts, "--admin", p.adminAddr,
			"--data-dir", t.TempDir(), "--cluster", strings.Join(etcd.Endpoints(), ","), "--cluster-lease", "3s",
			"--cluster-name", fmt.Sprint("agent-", port))
		return p
	}
	a := start(portA)
	waitReady(t, a)
	b := start(portB)
	waitStandby(t, b)
	poller := sentAndRun(t, portA, target, sm, "QUORUM")
	aExited := make(chan struct{})
	go func() { a.cmd.Wait(); close(aExited) }()
	leader := etcd.Leader()
	other := (leader + 1) % 3
	etcd.Kill(leader)
	etcd.Kill(other)
	select {
	case <-aExited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the owner never stopped while etcd had no quorum:\n%s", a.stderr)
	}
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(b.stderr.String(), "etcd has not renewed this standby's lease"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the standby never said its lease went unrenewed:\n%s", b.stderr)
		}
	}
	if b.cmd.ProcessState != nil || strings.Contains(b.stderr.String(), "ownership lost") {
		t.Fatalf("the standby stopped with the owner:\n%s", b.stderr)
	}
	etcd.Start(leader)
	etcd.Start(other)
	etcd.WaitUp(leader)
	etcd.WaitUp(other)
	waitReady(t, b)
	wantResultOrMaybe(t, portB, poller) // acknowledged before the loss
	if n := sm.count("QUORUM"); n != 1 {
		t.Fatalf("the target ran it %d times, want once", n)
	}
}

// TestServe_ClusterPausedOwnerIsFenced: the owner is SIGSTOPped past its
// lease while its delegation is at the target. The standby takes over and
// makes the request COMM_FAILURE/MAYBE — it may have run — without
// sending it again. The target then answers the paused owner, which is
// SIGCONTed: it stops by itself, its ownership lost, and its late reply
// never reaches the store (the standby still gives COMM_FAILURE/MAYBE, not
// the real result: nobody gets two results). Two guards stand in its way —
// the owner stopping on Lost, and the fence on its every write — and in
// this run the first acts; without either the test fails. The fence alone
// is proved by cluster's TestOwner_RevokedLeaseFencesItsStore.
func TestServe_ClusterPausedOwnerIsFenced(t *testing.T) {
	c := etcdtest.New(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	held := &heldStock{entered: make(chan struct{}), release: make(chan struct{})}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), held)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	target := giop.NewIOR(held.RepositoryID(), &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})

	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	a := startClusterAgent(t, c, portA, hosts)
	waitReady(t, a)
	b := startClusterAgent(t, c, portB, hosts)
	cl := newClient(t, portA)
	poller, err := cl.send(cl.receiver(target, nil), "HELD")
	if err != nil {
		t.Fatalf("a 2PI on the owner: %v", err)
	}
	select {
	case <-held.entered: // the owner's delegation is at the target
	case <-time.After(60 * time.Second):
		t.Fatal("the request never reached the target")
	}
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitReady(t, b) // the lease ended: the standby owns the store
	close(held.release)
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- a.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(a.stderr.String(), "ownership") {
			t.Fatalf("the woken owner ended with %v, want exit 1 for its lost ownership:\n%s", err, a.stderr)
		}
	case <-time.After(60 * time.Second):
		a.cmd.Process.Kill()
		<-exited // one Wait at a time: the cleanup's comes after
		t.Fatal("the woken owner never stopped")
	}
	cl = newClient(t, portB)
	resp, err := cl.invoke(poller, "add_stock", nil, func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) })
	if err != nil || resp.Header.Status != giop.ReplySystemException {
		t.Fatalf("the request through the standby: %v %v, want COMM_FAILURE/MAYBE", err, resp)
	}
	if x := resp.Result.SystemException(); x.Name != giop.ExcCommFailure || x.Completed != giop.CompletedMaybe {
		t.Fatalf("the request through the standby: %v, want COMM_FAILURE/MAYBE (the paused owner's late reply refused)", x)
	}
	if n := held.calls.Load(); n != 1 {
		t.Fatalf("the target ran the request %d times, want once", n)
	}
}

// TestServe_ClusterOmniORBClientFailsOver: the failover with an
// unchanged omniORB client (testdata/nm/failover_client, a plain client
// of the shipped runtime). It makes a request object through the agent's
// reference — which carries both agents' addresses — and sends the
// request; its reply is stored on the owner, which is then SIGKILLed, its
// data directory removed, never to come back; the client pulls through
// the same request object reference, and omniORB,
// finding the owner gone, reaches the standby, which has taken over and
// answers with the target's real result. The target ran it once.
func TestServe_ClusterOmniORBClientFailsOver(t *testing.T) {
	p := startClusterPair(t)
	sm, target, portA, hosts, a := p.sm, p.target, p.portA, p.hosts, p.a
	ref, _, err := agent.Reference(fmt.Sprintf("127.0.0.1:%d", portA), hosts)
	if err != nil {
		t.Fatal(err)
	}
	client := peers.StartInteractive(t, peers.NMDir(t), "failover_client", ref, target.String())
	if line := client.Line(t, 60*time.Second); line != "sent" {
		t.Fatalf("the omniORB client: %q, want sent", line)
	}
	waitGroupReply(t, portA, "failover") // the reply stored on the owner
	killed := time.Now()
	killForGood(t, a)
	client.Send(t, "pull")
	line := client.Line(t, 90*time.Second)
	if !strings.HasPrefix(line, "result TRUE") {
		t.Fatalf("the omniORB client after the owner's kill: %q, want its real result", line)
	}
	t.Logf("omniORB client: %s; %v from the kill", line, time.Since(killed).Round(time.Millisecond))
	if n := sm.count("FAILOVER"); n != 1 {
		t.Fatalf("the target ran the request %d times, want once", n)
	}
}

// TestServe_ClusterOmniORBClientThroughAStandby: an unchanged omniORB
// client whose reference names a standby first. Its calls are forwarded
// to the owner (LOCATION_FORWARD, OBJECT_FORWARD for its LocateRequest),
// and the standby says why it is not ready. The owner is SIGKILLed while
// the client pulls: the pull that reaches the standby during the
// takeover is held, not refused, and answered once the standby owns — so
// the client sees at most the failure on its dead connection, not a
// stream of TRANSIENTs — and the target ran the request once.
func TestServe_ClusterOmniORBClientThroughAStandby(t *testing.T) {
	p := startClusterPair(t)
	sm, target, portA, portB, a, b := p.sm, p.target, p.portA, p.portB, p.a, p.b
	waitNotReady(t, b, fmt.Sprint("agent-", portA))
	// The reference a client got from the standby when it owned: it
	// names the standby first.
	ref, _, err := agent.Reference(fmt.Sprintf("127.0.0.1:%d", portB), fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portB, portA))
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	client := peers.StartInteractive(t, peers.NMDir(t), "failover_client", ref, target.String())
	if line := client.Line(t, 60*time.Second); line != "sent" {
		t.Fatalf("the omniORB client through the standby: %q, want sent", line)
	}
	t.Logf("the 2PI through the standby: sent %v after the client started", time.Since(started).Round(time.Millisecond))
	if n := metric(t, b.adminAddr, `requestagent_standby_calls_total{answer="forwarded"}`); n < 1 {
		t.Fatalf("the standby forwarded %v calls, want the client's", n)
	}
	// The reply stored on the owner before the kill: a kill during the
	// delegation would make the result COMM_FAILURE/MAYBE, which the
	// client takes for its dead connection's.
	waitGroupReply(t, portA, "failover")
	killed := time.Now()
	killForGood(t, a)
	client.Send(t, "pull")
	line := client.Line(t, 90*time.Second)
	var pulls, failed int
	if _, err := fmt.Sscanf(line, "result TRUE after %d pulls (%d failed", &pulls, &failed); err != nil {
		t.Fatalf("the omniORB client after the owner's kill: %q, want its real result", line)
	}
	t.Logf("omniORB client: %s; %v from the kill", line, time.Since(killed).Round(time.Millisecond))
	if failed > 1 {
		t.Errorf("%d pulls failed during the takeover, want at most the one on the dead connection: the standby holds the others", failed)
	}
	if n := sm.count("FAILOVER"); n != 1 {
		t.Fatalf("the target ran the request %d times, want once", n)
	}
	waitReady(t, b)
	t.Logf("the standby's front: %v calls forwarded, %v held then forwarded, %v left to be sent again at the handover",
		metric(t, b.adminAddr, `requestagent_standby_calls_total{answer="forwarded"}`),
		metric(t, b.adminAddr, `requestagent_standby_calls_total{answer="held_forwarded"}`),
		metric(t, b.adminAddr, `requestagent_standby_calls_total{answer="reissued"}`))
}

// waitNotReady waits until a standby's /readyz is 503 naming owner as
// the owner.
func waitNotReady(t *testing.T, p *agentProc, owner string) {
	t.Helper()
	var code int
	var body string
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body = httpGet(t, "http://"+p.adminAddr+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "standby: "+owner+" owns the store") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby's /readyz: %d %q, want 503 naming %s as the owner\n%s", code, body, owner, p.stderr)
		}
	}
}

// TestServe_ClusterStandbyDeposesADeadOwner: under a 30 s lease the owner
// is SIGKILLed; its address refuses connections and its lease runs down
// unrenewed for a third of it, so the standby revokes the lease and takes
// over without waiting out the rest (at least 20 s more), and the
// client's poller gets the request's real result, run once.
func TestServe_ClusterStandbyDeposesADeadOwner(t *testing.T) {
	c := etcdtest.New(t, nil)
	sm, target := startTarget(t)
	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	a := startClusterAgentLease(t, c, portA, hosts, "30s")
	waitReady(t, a)
	b := startClusterAgentLease(t, c, portB, hosts, "30s")
	waitNotReady(t, b, fmt.Sprint("agent-", portA))
	poller := sentAndRun(t, portA, target, sm, "DEPOSED")
	killed := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitReady(t, b)
	t.Logf("the standby owns %v after the owner's SIGKILL, its 30 s lease revoked", time.Since(killed).Round(time.Millisecond))
	if n := metric(t, b.adminAddr, "requestagent_standby_deposed_total"); n != 1 {
		t.Fatalf("the standby deposed %v owners, want 1", n)
	}
	wantResultOrMaybe(t, portB, poller)
	if n := sm.count("DEPOSED"); n != 1 {
		t.Fatalf("the target ran the request %d times, want once", n)
	}
}
