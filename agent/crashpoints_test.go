package agent_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// TestCrashPoints: the real binary dies abruptly (REQUESTAGENT_CRASH_AT)
// at each moment between the durable steps of a request's life — before
// and after storing, sending, storing the reply, delivering a callback,
// trashing — and after a restart the outcome must be one of the allowed
// ones: an acknowledged request is pollable (its result, or
// COMM_FAILURE/MAYBE when it may have run) or was read; nothing runs twice;
// a deletion that was committed stays.
//
// The reply is read two ways: by a pull that waits for it (so it may be
// handed over as it arrives, never stored), and, for the trash points, by
// polls that do not wait (so it is read from the store).
func TestCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("crash points: not in -short")
	}
	for _, point := range []string{agent.CrashBeforeStore, agent.CrashAfterStore, agent.CrashBeforeSend,
		agent.CrashAfterSend, agent.CrashBeforeTrash, agent.CrashAfterTrash, agent.CrashAfterCallback} {
		t.Run(point, func(t *testing.T) { crashAt(t, point, true) })
	}
	// A reply handed to a waiting pull is not stored: "after reply" is a
	// step of the stored-reply path only.
	for _, point := range []string{agent.CrashAfterReply, agent.CrashBeforeTrash, agent.CrashAfterTrash} {
		t.Run(point+"/stored-reply", func(t *testing.T) { crashAt(t, point, false) })
	}
}

// countingRecipientPull counts reply_available calls and pulls each result.
type countingRecipientPull struct {
	client *giop.Client
	n      atomic.Int32
}

func (r *countingRecipientPull) RepositoryID() string { return agent.ReplyRecipientID }
func (r *countingRecipientPull) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	holder := req.Args.IOR()
	op := req.Args.String()
	req.Args.Octets()
	if _, err := r.client.Invoke(ctx, holder, &giop.Invocation{Operation: op, Args: addStockArgs("", 0)}); err != nil {
		return err
	}
	r.n.Add(1)
	return nil
}

// crashAt drills one crash point; waitingPull reads the reply with a pull
// that waits, else with polls that do not.
func crashAt(t *testing.T, point string, waitingPull bool) {
	bin := peers.AgentBinary(t)
	dir := t.TempDir()
	port := peers.FreePort(t)
	target, targetRef := startCrashTarget(t)

	// exited gets the crashing agent's exit code; its goroutine is the
	// one that waits for it.
	exited := make(chan int, 1)
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command(bin, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
			"--data-dir", dir, "--admin", fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), "--log-level", "error",
			"--recipient-retry-budget", "30s")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if len(env) > 0 {
			waited := make(chan struct{})
			go func() {
				defer close(waited)
				cmd.Wait()
				exited <- cmd.ProcessState.ExitCode()
			}()
			t.Cleanup(func() {
				cmd.Process.Kill()
				<-waited
			})
		} else {
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				return cmd
			}
			if time.Now().After(deadline) {
				t.Fatal("agent did not come up")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	start("REQUESTAGENT_CRASH_AT=" + point)

	client := giop.NewClient(nil)
	defer client.Close()
	call := func(ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder)) (*giop.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return client.Invoke(ctx, ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
	}
	loc, _ := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", port))
	var recipientRef *giop.IOR
	rec := &countingRecipientPull{client: client}
	if point == agent.CrashAfterCallback {
		rln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		rad := giop.NewAdapter()
		rad.Register([]byte("R"), rec)
		rsrv := giop.NewServer(nil, rad)
		go rsrv.Serve(rln)
		t.Cleanup(func() { rsrv.Close() })
		recipientRef = giop.NewIOR(agent.ReplyRecipientID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
			Port: uint16(rln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("R")})
	}
	_, rcv := proxyAndReceiver(t, client, loc.IOR(""), targetRef, recipientRef)

	// Send, and read the reply if the agent lives that long.
	var poller *giop.IOR
	read := false
	if resp, err := call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("P", 1)); err == nil {
		if c, ok, _ := nmproto.Find(resp.Header.ServiceContexts); ok && c.Kind == nmproto.KindThePoller && !c.ThePoller.IsNil() {
			poller = c.ThePoller
		}
	}
	if poller != nil && point != agent.CrashAfterCallback {
		wait := uint32(5000)
		if !waitingPull {
			wait = 0
		}
		for range 500 {
			resp, err := call(poller, "add_stock", waitCtx(wait), addStockArgs("", 0))
			if err != nil {
				break // the agent died
			}
			if _, ok, _ := nmproto.Find(resp.Header.ServiceContexts); !ok && resp.Header.Status == giop.ReplyNoException {
				read = true
				break
			}
			time.Sleep(5 * time.Millisecond) // not there yet
		}
	}
	select {
	case code := <-exited:
		if code != 99 {
			t.Fatalf("agent exited with %d, not at the crash point", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the agent never reached crash point %s", point)
	}

	start() // after the crash, no drill
	acked := poller != nil
	var outcome string
	if acked {
		resp, err := call(poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
		switch {
		case err != nil:
			t.Fatalf("acknowledged request after the crash: %v", err)
		case resp.Header.Status == giop.ReplyNoException:
			outcome = "result"
		case resp.Header.Status == giop.ReplySystemException:
			x := resp.Result.SystemException()
			switch {
			case x.Name == giop.ExcObjectNotExist:
				outcome = "gone"
			case x.Name == giop.ExcCommFailure && x.Completed == giop.CompletedMaybe:
				outcome = "maybe"
			default:
				t.Fatalf("acknowledged request after the crash: %v", x)
			}
		}
	}
	allowed := map[string][]string{
		agent.CrashBeforeStore: {"unacked"},
		agent.CrashAfterStore:  {"unacked"},
		// Delegation starts as soon as the request is committed, alongside
		// the premature return, so a crash from here on may also come
		// before the acknowledgement reached the client: "unacked".
		agent.CrashBeforeSend: {"maybe", "unacked"},
		agent.CrashAfterSend:  {"maybe", "unacked"},
		agent.CrashAfterReply: {"result", "unacked"},
		// Read; at-least-once reads may show the stored reply again. A
		// reply handed straight to a waiting pull was never stored: the
		// request is then as it was stored before its reply, caught
		// mid-delegation (RELIABILITY.md).
		agent.CrashBeforeTrash:   {"gone", "result", "maybe"},
		agent.CrashAfterTrash:    {"gone"},
		agent.CrashAfterCallback: {"gone", "result"}, // delivered; the callback may come again
	}[point]
	if !acked {
		outcome = "unacked"
	}
	ok := false
	for _, a := range allowed {
		ok = ok || a == outcome
	}
	if !waitingPull && outcome == "maybe" {
		ok = false // the reply was stored before it was read: it must stay
	}
	if !ok {
		t.Fatalf("crash %s: outcome %q (read before: %v), allowed %v", point, outcome, read, allowed)
	}
	if point == agent.CrashAfterTrash && !read {
		t.Fatal("the read that led to the trash was not seen by the client")
	}
	target.mu.Lock()
	runs := target.runs["P"]
	target.mu.Unlock()
	if runs > 1 {
		t.Fatalf("crash %s: the request ran %d times", point, runs)
	}
	if point == agent.CrashAfterCallback {
		deadline := time.Now().Add(30 * time.Second)
		for rec.n.Load() < 1 {
			if time.Now().After(deadline) {
				t.Fatal("the callback never completed")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("crash %s: %s; ran %d time(s); callbacks %d", point, outcome, runs, rec.n.Load())
}
