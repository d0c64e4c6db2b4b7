package agent_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// crashTarget counts how often each symbol was executed, across every
// agent restart: a request run twice is a broken promise.
type crashTarget struct {
	mu   sync.Mutex
	runs map[string]int
}

func (c *crashTarget) RepositoryID() string { return stockID }

func (c *crashTarget) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	sym, _ := r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	// A little work, so kills land mid-delegation too.
	time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
	c.mu.Lock()
	c.runs[sym]++
	c.mu.Unlock()
	r.Results().WriteBool(true)
	return nil
}

// acked is one acknowledged request: the client got its premature return
// and poller, so the agent owes it a result.
type acked struct {
	sym    string
	poller *giop.IOR
	read   bool // the mature reply was read (so the request is trashed)
	// tried counts reads that failed on the way (agent killed meanwhile).
	tried int
}

// startCrashTarget serves a crashTarget as StockManager on loopback for the
// agent under test to delegate to, and returns it with its reference.
func startCrashTarget(t *testing.T) (*crashTarget, *giop.IOR) {
	t.Helper()
	target := &crashTarget{runs: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), target)
	tsrv := giop.NewServer(nil, ad)
	go tsrv.Serve(ln)
	t.Cleanup(func() { tsrv.Close() })
	targetRef := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")})
	return target, targetRef
}

// TestCrash_SIGKILLUnderLoad: the real requestagent binary, durable, under
// concurrent 2PI sends and polls, is killed with SIGKILL at random moments
// and restarted on the same address and data directory, several times.
// Afterwards every acknowledged request is pollable (its real result, or
// COMM_FAILURE/COMPLETED_MAYBE when it was caught mid-delegation) or was
// already read; none ran twice at the target; none read before a crash
// reappears after it (RELIABILITY.md).
func TestCrash_SIGKILLUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: not in -short")
	}
	bin := peers.AgentBinary(t)
	dataDir := t.TempDir()
	port := peers.FreePort(t)

	target, targetRef := startCrashTarget(t)

	var agentProc *exec.Cmd
	start := func() {
		t.Helper()
		cmd := exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
			"--data-dir", dataDir, "--log-level", "warn", "--admin", fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		agentProc = cmd
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("agent did not come up")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	kill := func() {
		agentProc.Process.Signal(syscall.SIGKILL)
		agentProc.Wait()
	}
	start()
	t.Cleanup(func() { kill() })

	client := giop.NewClient(nil)
	defer client.Close()
	agentRef, err := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", port))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	call := func(ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder)) (*giop.Response, error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return client.Invoke(cctx, ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
	}
	_, rcv := proxyAndReceiver(t, client, agentRef.IOR(""), targetRef, nil)

	var (
		mu   sync.Mutex
		log  []*acked
		seq  int
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	// Senders: every premature return with a poller is an acknowledgement.
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				seq++
				sym := fmt.Sprintf("S%d-%d", w, seq)
				mu.Unlock()
				resp, err := call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs(sym, 1))
				if err != nil {
					time.Sleep(5 * time.Millisecond) // the agent is down
					continue
				}
				c, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
				if ok && c.Kind == nmproto.KindThePoller && !c.ThePoller.IsNil() {
					mu.Lock()
					log = append(log, &acked{sym: sym, poller: c.ThePoller})
					mu.Unlock()
				}
			}
		}()
	}
	// A reader pulls replies as they come, so reads are interrupted too.
	readErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			var a *acked
			if len(log) > 0 {
				a = log[rand.IntN(len(log))]
			}
			mu.Unlock()
			if a == nil || a.read {
				time.Sleep(time.Millisecond)
				continue
			}
			resp, err := call(a.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
			if err != nil {
				mu.Lock()
				a.tried++
				mu.Unlock()
				continue // agent down, or the reply may be lost on the wire: checked at the end
			}
			// Mature — a normal reply without ThePoller, or the request's
			// real exceptional result (ReplierName) — means read and trashed.
			c, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
			mature := (resp.Header.Status == giop.ReplyNoException && !ok) ||
				(resp.Header.Status != giop.ReplyNoException && ok && c.Kind == nmproto.KindReplierName)
			if mature {
				mu.Lock()
				a.read = true
				mu.Unlock()
			}
		}
	}()

	// Four kills, or, for make soak, kills until REQUESTAGENT_SOAK (a
	// duration) has passed.
	rounds := 0
	soak, _ := time.ParseDuration(os.Getenv("REQUESTAGENT_SOAK"))
	for began := time.Now(); rounds < 4 || time.Since(began) < soak; rounds++ {
		time.Sleep(time.Duration(150+rand.IntN(350)) * time.Millisecond)
		kill()
		start()
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	select {
	case err := <-readErr:
		t.Fatal(err)
	default:
	}

	// The final check: every acknowledged request has its result or was read.
	var real, maybe, read, reread int
	for _, a := range log {
		resp, err := call(a.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
		var x *giop.SystemException
		if err == nil && resp.Header.Status == giop.ReplySystemException {
			x = resp.Result.SystemException()
		}
		switch {
		case a.read && x != nil && x.Name == giop.ExcObjectNotExist:
			read++
		case a.read:
			// Read, then readable again: the read was caught by a kill
			// between its reply reaching the socket and its deletion's
			// commit (at-least-once reads, so that nothing is lost).
			reread++
		case err != nil:
			t.Errorf("%s: acknowledged, but polling it fails: %v", a.sym, err)
		case resp.Header.Status == giop.ReplyNoException:
			real++
		case x != nil && x.Name == giop.ExcCommFailure && x.Completed == giop.CompletedMaybe:
			maybe++
		default:
			t.Errorf("%s: acknowledged and never read, yet lost: %v (failed reads before: %d)", a.sym, errOrStatus(resp, err), a.tried)
		}
	}
	// Only reads in the last moment before a kill can come back; if the
	// deletions of reads were not kept at all, nearly all would.
	if reread*10 > read+reread {
		t.Errorf("%d of %d requests read before a crash were readable after it: deletions are not kept", reread, read+reread)
	}
	target.mu.Lock()
	defer target.mu.Unlock()
	for sym, n := range target.runs {
		if n > 1 {
			t.Errorf("%s ran %d times at the target", sym, n)
		}
	}
	t.Logf("%d kills; %d requests acknowledged: %d real results, %d COMM_FAILURE/MAYBE, %d read before (%d of them readable again); %d executions at the target",
		rounds, len(log), real, maybe, read+reread, reread, len(target.runs))
	if len(log) == 0 {
		t.Fatal("no request was acknowledged: the test proved nothing")
	}
}

func errOrStatus(resp *giop.Response, err error) any {
	if err != nil {
		return err
	}
	if resp.Header.Status == giop.ReplySystemException {
		return resp.Result.SystemException()
	}
	return errors.New(resp.Header.Status.String())
}
