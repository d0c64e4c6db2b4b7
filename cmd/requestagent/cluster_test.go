package main

import (
	"fmt"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// startClusterAgent starts the binary in cluster mode on the etcd
// cluster, listening on port and publishing every address in hosts; it
// does not wait for it: a standby is not ready until it owns the store.
func startClusterAgent(t *testing.T, c *etcdtest.Cluster, port int, hosts string) *agentProc {
	t.Helper()
	p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), stderr: &syncBuffer{}}
	p.cmd = exec.Command(binary(t), "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", hosts,
		"--admin", p.adminAddr, "--data-dir", t.TempDir(),
		"--cluster", strings.Join(c.Endpoints(), ","), "--cluster-lease", "2s", "--cluster-name", fmt.Sprint("agent-", port))
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("agent on %d, stderr:\n%s", port, p.stderr)
		}
	})
	return p
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
	c := etcdtest.New(t, nil)
	sm, target := startTarget(t)
	portA, portB := peers.FreePort(t), peers.FreePort(t)
	hosts := fmt.Sprintf("127.0.0.1:%d,127.0.0.1:%d", portA, portB)
	a := startClusterAgent(t, c, portA, hosts)
	waitReady(t, a)
	b := startClusterAgent(t, c, portB, hosts)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(b.stderr.String(), "standby"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the second agent never said it waits as a standby:\n%s", b.stderr)
		}
	}
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
		wait := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever}
		resp, err = cl.invoke(poller, "add_stock", giop.ServiceContextList{wait.Encode()},
			func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) })
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the poller never worked through the standby: %v", err)
		}
	}
	t.Logf("failover: %v from the kill to the first answer through the standby", time.Since(killed).Round(time.Millisecond))
	switch resp.Header.Status {
	case giop.ReplyNoException:
		if !resp.Result.Bool() {
			t.Fatal("the request's result through the standby: add_stock answered false")
		}
	case giop.ReplySystemException:
		x := resp.Result.SystemException()
		if x.Name != giop.ExcCommFailure || x.Completed != giop.CompletedMaybe {
			t.Fatalf("the request's result through the standby: %v, want its result or COMM_FAILURE/MAYBE", x)
		}
	default:
		t.Fatalf("the request's result through the standby: status %v", resp.Header.Status)
	}
	again, err := cl.send(rcv, "AFTER")
	if err != nil {
		t.Fatalf("a new request through the old receiver: %v", err)
	}
	wait := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever}
	if resp, err := cl.invoke(again, "add_stock", giop.ServiceContextList{wait.Encode()},
		func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) }); err != nil || resp.Header.Status != giop.ReplyNoException || !resp.Result.Bool() {
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
