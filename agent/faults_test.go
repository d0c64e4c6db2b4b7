package agent_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// rawTarget accepts TCP connections and does what misbehave says with
// each: targets that reset, hang or answer garbage.
func rawTarget(t *testing.T, misbehave func(net.Conn)) *giop.IOR {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); misbehave(c) }()
		}
	}()
	return giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")})
}

// resultOf sends add_stock through a fresh proxy for target and pulls the
// result the agent stored for it.
func resultOf(t *testing.T, e *env, target *giop.IOR) result {
	t.Helper()
	proxy, err := e.createProxy(target, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := e.call(e.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("X", 1))
	if r.poller == nil {
		t.Fatalf("not acknowledged: %v", r.err)
	}
	return e.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
}

// TestFault_TargetAnswersGarbage: bytes that are not GIOP end the
// connection to the target; the request may have run, so its result is
// COMM_FAILURE, completed MAYBE, and the agent serves on.
func TestFault_TargetAnswersGarbage(t *testing.T) {
	e := newEnv(t, agent.Config{})
	target := rawTarget(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		time.Sleep(50 * time.Millisecond)
	})
	p := resultOf(t, e, target)
	if !isSys(p.err, giop.ExcCommFailure, 0) || p.err.(*giop.SystemException).Completed != giop.CompletedMaybe || !p.replierName {
		t.Fatalf("garbage from the target: %v", p.err)
	}
	if p := resultOf(t, e, e.target); p.err != nil {
		t.Fatalf("the agent after a garbage target: %v", p.err)
	}
}

// TestFault_TargetResets: a target that drops every connection at once.
// Nothing or something may have been sent: the result says which, and is
// never a normal return.
func TestFault_TargetResets(t *testing.T) {
	e := newEnv(t, agent.Config{ConnectRetryBudget: 50 * time.Millisecond})
	target := rawTarget(t, func(c net.Conn) {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST, not FIN
		}
	})
	p := resultOf(t, e, target)
	ok := (isSys(p.err, giop.ExcCommFailure, 0) && p.err.(*giop.SystemException).Completed == giop.CompletedMaybe) ||
		(isSys(p.err, giop.ExcTransient, 0) && p.err.(*giop.SystemException).Completed == giop.CompletedNo)
	if !ok || !p.replierName {
		t.Fatalf("resetting target: %v", p.err)
	}
}

// TestFault_TargetHangs: a target that never answers holds a delegation
// only for DelegationTimeout; the result is TIMEOUT, completed MAYBE.
func TestFault_TargetHangs(t *testing.T) {
	e := newEnv(t, agent.Config{DelegationTimeout: 50 * time.Millisecond})
	release := e.sm.hold()
	defer release()
	p := resultOf(t, e, e.target)
	if !isSys(p.err, giop.ExcTimeout, 0) || p.err.(*giop.SystemException).Completed != giop.CompletedMaybe || !p.replierName {
		t.Fatalf("hanging target: %v", p.err)
	}
}

// slowStock answers add_stock after a short pause.
type slowStock struct{ n atomic.Int64 }

func (s *slowStock) RepositoryID() string { return stockID }
func (s *slowStock) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	time.Sleep(2 * time.Millisecond)
	s.n.Add(1)
	r.Results().WriteBool(true)
	return nil
}

// TestOverload_ImpLimitNothingLost: far more offered load than maxThreads
// and maxQueueSize allow: the excess gets IMP_LIMIT (completed NO, nothing
// stored), every acknowledged request gets its real result, and service is
// normal once the load drops.
func TestOverload_ImpLimitNothingLost(t *testing.T) {
	e := newEnv(t, agent.Config{MaxThreads: 2, MaxQueueSize: 4})
	slow := &slowStock{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Slow"), slow)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	target := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Slow")})
	proxy, err := e.createProxy(target, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv := e.receiver(proxy)
	var (
		mu      sync.Mutex
		pollers []*giop.IOR
		refused atomic.Int64
		other   atomic.Int64
		wg      sync.WaitGroup
	)
	const clients, each = 40, 25
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs(fmt.Sprint(w, "-", i), 1))
				switch {
				case r.poller != nil && !r.poller.IsNil():
					mu.Lock()
					pollers = append(pollers, r.poller)
					mu.Unlock()
				case isSys(r.err, giop.ExcImpLimit, nmproto.QueueFull):
					refused.Add(1)
				default:
					other.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if other.Load() != 0 {
		t.Fatalf("%d answers were neither an acknowledgement nor IMP_LIMIT", other.Load())
	}
	if refused.Load() == 0 || len(pollers) == 0 {
		t.Fatalf("overload did not overload: %d acknowledged, %d refused", len(pollers), refused.Load())
	}
	for _, p := range pollers {
		if r := e.call(p, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); r.err != nil || r.rna {
			t.Fatalf("acknowledged request lost under overload: %v", r.err)
		}
	}
	if got := slow.n.Load(); got != int64(len(pollers)) {
		t.Fatalf("target ran %d requests, %d were acknowledged (refused ones must not run)", got, len(pollers))
	}
	if r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("after", 1)); r.poller == nil {
		t.Fatalf("service after the load dropped: %v", r.err)
	}
	t.Logf("offered %d: %d acknowledged, %d IMP_LIMIT (%.0f%%), none lost", clients*each, len(pollers), refused.Load(),
		100*float64(refused.Load())/float64(clients*each))
}
