package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// soakAgent is one agent process of the soak, restarted as it dies.
type soakAgent struct {
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{} // closed when cmd ended
}

func (a *soakAgent) start(t *testing.T) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stderr = &syncBuffer{}
	a.cmd = exec.Command(binary(t), a.args...)
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done, cmd := make(chan struct{}), a.cmd
	a.done = done
	go func() { cmd.Wait(); close(done) }()
}

// signal sends sig to the agent, if it runs.
func (a *soakAgent) signal(sig syscall.Signal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cmd.Process.Signal(sig)
}

func (a *soakAgent) exited() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

func (a *soakAgent) kill() {
	a.signal(syscall.SIGKILL)
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	<-done
}

// TestCluster_Soak is make cluster-soak: three agents in cluster mode on
// three etcd processes under 4 clients sending 2PIs through references
// that carry every agent's address, while agents are SIGKILLed and
// SIGSTOPped past their lease and etcd members SIGKILLed, at random, for
// REQUESTAGENT_CLUSTER_SOAK (a duration). Every request a client got a
// poller for is read — as the soak goes (readingLoad), the rest at its
// end: none may be lost (its real result, or COMM_FAILURE/MAYBE for one
// caught mid-delegation) and none may have run twice. Not in make test:
// set the variable.
func TestCluster_Soak(t *testing.T) {
	spec := os.Getenv("REQUESTAGENT_CLUSTER_SOAK")
	if spec == "" {
		t.Skip("REQUESTAGENT_CLUSTER_SOAK not set (make cluster-soak SOAK=10m)")
	}
	length, err := time.ParseDuration(spec)
	if err != nil {
		t.Fatalf("REQUESTAGENT_CLUSTER_SOAK=%q: %v", spec, err)
	}
	etcd := etcdtest.StartProcs(t)
	sm, target := startTarget(t)
	var ports []int
	for range 3 {
		ports = append(ports, peers.FreePort(t))
	}
	var hosts []string
	for _, p := range ports {
		hosts = append(hosts, fmt.Sprintf("127.0.0.1:%d", p))
	}
	agents := make([]*soakAgent, 3)
	for i, p := range ports {
		agents[i] = &soakAgent{args: []string{"--listen", fmt.Sprintf("127.0.0.1:%d", p), "--host", strings.Join(hosts, ","),
			"--admin", fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), "--data-dir", t.TempDir(), "--cluster", strings.Join(etcd.Endpoints(), ","),
			"--cluster-lease", "2s", "--cluster-name", fmt.Sprint("agent", i), "--shutdown-grace", "1s"}}
		agents[i].start(t)
	}
	t.Cleanup(func() {
		for _, a := range agents {
			a.kill()
		}
	})
	// The agent reference with every address: whichever owns answers.
	ref := giop.NewIOR("IDL:NativeMessaging/RequestAgent:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ports[0]), ObjectKey: []byte("RequestAgent"), Components: []giop.TaggedComponent{
			giop.AlternateAddress{Host: "127.0.0.1", Port: uint16(ports[1])}.Component(),
			giop.AlternateAddress{Host: "127.0.0.1", Port: uint16(ports[2])}.Component()}})
	cl := &client{t: t, c: giop.NewClient(nil), agent: ref}
	t.Cleanup(func() { cl.c.Close() })
	var rcv *giop.IOR
	for deadline := time.Now().Add(60 * time.Second); rcv == nil; time.Sleep(100 * time.Millisecond) {
		rcv = tryReceiver(cl, target)
		if rcv == nil && time.Now().After(deadline) {
			t.Fatal("no agent made the proxy")
		}
	}

	rd := startReadingLoad(4, func() *client {
		c := &client{t: t, c: giop.NewClient(nil), agent: ref}
		t.Cleanup(func() { c.c.Close() })
		return c
	}, rcv)

	var kills, pauses, etcdKills int
	end := time.Now().Add(length)
	for time.Now().Before(end) {
		time.Sleep(time.Duration(1000+rand.IntN(3000)) * time.Millisecond)
		for _, a := range agents {
			if a.exited() {
				a.start(t) // back as a standby
			}
		}
		switch rand.IntN(3) {
		case 0:
			a := agents[rand.IntN(3)]
			a.kill()
			kills++
			a.start(t)
		case 1:
			a := agents[rand.IntN(3)]
			a.signal(syscall.SIGSTOP)
			time.Sleep(time.Duration(2500+rand.IntN(2000)) * time.Millisecond) // past the 2 s lease
			a.signal(syscall.SIGCONT)
			pauses++
		case 2:
			m := rand.IntN(3)
			etcd.Kill(m)
			etcdKills++
			time.Sleep(time.Duration(500+rand.IntN(2000)) * time.Millisecond)
			etcd.Start(m)
			etcd.WaitUp(m)
		}
	}
	rd.end()
	for _, a := range agents {
		if a.exited() {
			a.start(t)
		}
	}
	// What is still outstanding is pulled until it answers: each pull
	// waits 5 s, within the client's 10 s call timeout, so that no pull is
	// given up on while the agent waits on it.
	c := &client{t: t, c: giop.NewClient(nil), agent: ref}
	defer c.c.Close()
	for _, ack := range rd.pending {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			got := pullOnce(c, ack.poller, 5000)
			if got != pullNotYet {
				rd.record(ack, got)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("acknowledged %s: no agent answers its poller", ack.sym)
			}
		}
	}
	if len(rd.lost) > 0 || len(rd.odd) > 0 {
		t.Fatalf("acknowledged and LOST (OBJECT_NOT_EXIST): %v; answered otherwise than its result: %v", rd.lost, rd.odd)
	}
	for sym := range rd.syms {
		if n := sm.count(sym); n > 1 {
			t.Fatalf("acknowledged %s ran %d times", sym, n)
		}
	}
	t.Logf("cluster soak %v: %d agent SIGKILLs, %d agent pauses past the lease, %d etcd member SIGKILLs; "+
		"%d acknowledged: %d real results, %d COMM_FAILURE/MAYBE, 0 lost, 0 run twice; %d calls refused meanwhile",
		length, kills, pauses, etcdKills, rd.acked, rd.real, rd.maybe, rd.refused.Load())
}

// pullResult is what one pull of a poller told.
type pullResult int

const (
	pullNotYet pullResult = iota // a premature return, or no agent reached
	pullReal                     // the target's result
	pullMaybe                    // COMM_FAILURE/MAYBE: caught mid-delegation
	pullGone                     // OBJECT_NOT_EXIST: the request is not there
	pullOdd                      // anything else
)

// pullOnce pulls poller once, waiting up to wait ms.
func pullOnce(c *client, poller *giop.IOR, wait uint32) pullResult {
	w := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: wait}
	resp, err := c.invoke(poller, "add_stock", giop.ServiceContextList{w.Encode()},
		func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) })
	switch {
	case err != nil:
		// A pull that failed may have been read by an agent that then
		// died before its reply arrived (reads are at-least-once only
		// until the agent deletes the read request: RELIABILITY.md):
		// logged, so that a request found gone afterwards can be told
		// apart from one lost.
		c.t.Logf("a pull of %s failed: %v", pollerKey(poller), err)
		return pullNotYet
	case resp.Header.Status == giop.ReplyNoException && resp.Result.Bool():
		return pullReal
	case resp.Header.Status != giop.ReplySystemException:
		c.t.Logf("a pull answered with reply status %v", resp.Header.Status)
		return pullOdd
	}
	switch x := resp.Result.SystemException(); {
	case x.Name == giop.ExcNoResponse:
		return pullNotYet
	case isMaybe(x):
		return pullMaybe
	case x.Name == giop.ExcObjectNotExist:
		c.t.Logf("a pull of %s answered %v", pollerKey(poller), x)
		return pullGone
	case x.Name == giop.ExcTransient && x.Completed == giop.CompletedNo:
		// Refused, nothing read: an agent that may no longer own, a
		// standby past its hold, a server at its budget. Pulled again.
		return pullNotYet
	default:
		c.t.Logf("a pull answered %v", x)
		return pullOdd
	}
}

// readingLoad is clients that send 2PIs and read their replies as they
// go: after each send, a client pulls its oldest request still
// outstanding, so that the store stays about as full as a real one, and
// a lost request shows while the soak runs.
type readingLoad struct {
	mu                 sync.Mutex
	pending            []acked // outstanding once the clients stop
	syms               map[string]bool
	acked, real, maybe int
	lost, odd          []string
	refused            atomic.Int64
	stop               chan struct{}
	wg                 sync.WaitGroup
}

func (l *readingLoad) record(a acked, r pullResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch r {
	case pullReal:
		l.real++
	case pullMaybe:
		l.maybe++
	case pullGone:
		l.lost = append(l.lost, a.sym+" (poller "+pollerKey(a.poller)+")")
	case pullOdd:
		l.odd = append(l.odd, a.sym)
	}
}

func startReadingLoad(n int, newClient func() *client, rcv *giop.IOR) *readingLoad {
	l := &readingLoad{stop: make(chan struct{}), syms: map[string]bool{}}
	for w := range n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			c := newClient()
			var mine []acked
			defer func() {
				l.mu.Lock()
				l.pending = append(l.pending, mine...)
				l.mu.Unlock()
			}()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if len(mine) < 64 {
					sym := fmt.Sprintf("W%d-%d", w, i)
					if p, err := c.send(rcv, sym); err != nil {
						l.refused.Add(1)
						time.Sleep(20 * time.Millisecond)
					} else {
						mine = append(mine, acked{sym, p})
						l.mu.Lock()
						l.acked++
						l.syms[sym] = true
						l.mu.Unlock()
					}
				}
				if len(mine) == 0 {
					continue
				}
				if r := pullOnce(c, mine[0].poller, 0); r != pullNotYet {
					l.record(mine[0], r)
					mine = mine[1:]
				} else if len(mine) >= 64 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	return l
}

func (l *readingLoad) end() {
	close(l.stop)
	l.wg.Wait()
}

// isMaybe reports whether x is the result of a request caught
// mid-delegation: COMM_FAILURE, completed MAYBE.
func isMaybe(x *giop.SystemException) bool {
	return x != nil && x.Name == giop.ExcCommFailure && x.Completed == giop.CompletedMaybe
}

// tryReceiver makes a proxy for target and returns its receiver, or nil
// if no agent answered.
func tryReceiver(cl *client, target *giop.IOR) *giop.IOR {
	resp, err := cl.invoke(cl.agent, "create_request_proxy", nil, func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(nil)
		e.WriteULong(0)
	})
	if err != nil || resp.Header.Status != giop.ReplyNoException {
		return nil
	}
	proxy := resp.Result.IOR()
	resp, err = cl.invoke(proxy, "_get_the_receiver", nil, nil)
	if err != nil || resp.Header.Status != giop.ReplyNoException {
		return nil
	}
	return resp.Result.IOR()
}

// pollerKey names a poller by its object key, for the log.
func pollerKey(ior *giop.IOR) string {
	p, err := ior.IIOP()
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%x", p.ObjectKey)
}
