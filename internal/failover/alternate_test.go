package failover_test

import (
	"testing"

	"github.com/requestagent/requestagent/internal/peers"
)

// Experiment 1: TAG_ALTERNATE_IIOP_ADDRESS (giop/SPEC.md, "omniORB 4.2.5
// when a server goes away").

// wantServed fails the test unless r succeeded on the node named name.
func wantServed(t *testing.T, r result, name string) {
	t.Helper()
	if !r.ok || r.served() != name {
		t.Fatalf("%s: want the call answered by %s", r, name)
	}
}

// wantException fails the test unless r raised exc with minor and
// completion status completed.
func wantException(t *testing.T, r result, exc string, minor uint32, completed int) {
	t.Helper()
	if r.ok || r.exc != exc || r.minor != minor || r.completed != completed {
		t.Fatalf("%s: want %s minor=0x%x completed=%d", r, exc, minor, completed)
	}
}

// TestAlternate_DeadPrimaryUsesFirstLiveAlternate: the profile's own
// host:port is dead — nothing listens there (refused), or something
// accepts and resets the connection at once (reset) — and the profile
// carries alternates for two live nodes. omniORB connects to the first live
// address in the IOR's order (the profile's, then the components' as
// written) and stays there for later calls. On a refused connect that is
// transparent. On a reset it is not always: when the request went out
// before the reset came back, the call fails with COMM_FAILURE
// WaitingForReply completed MAYBE (most runs here), and only the next
// call reaches the alternate.
func TestAlternate_DeadPrimaryUsesFirstLiveAlternate(t *testing.T) {
	for _, kind := range []string{"refused", "reset"} {
		for _, order := range []string{"BC", "CB"} {
			t.Run(kind+"_"+order, func(t *testing.T) {
				b, c := newNode(t, "B"), newNode(t, "C")
				primary := peers.ClosedPort(t)
				if kind == "reset" {
					primary = newRawListener(t, true).port
				}
				alts, first := []int{b.port, c.port}, "B"
				if order == "CB" {
					alts, first = []int{c.port, b.port}, "C"
				}
				cl := startClient(t, echoIOR(primary, alts...))
				want := 3
				if r := cl.call("1"); kind == "reset" && !r.ok {
					wantException(t, r, "COMM_FAILURE", minorWaitingForReply, 2)
					t.Logf("the reset surfaced as %s", r)
					want = 2
				} else {
					wantServed(t, r, first)
				}
				wantServed(t, cl.call("2"), first)
				wantServed(t, cl.call("3"), first)
				if got := b.calls() + c.calls(); got != want {
					t.Fatalf("the nodes saw %d calls, want %d", got, want)
				}
			})
		}
	}
}

// TestAlternate_CrashOfTheAddressInUse: the node a client is connected to
// crashes (listener and connections closed, no CloseConnection). omniORB
// does not notice the closed connection until it sends the next request on
// it: that call fails with COMM_FAILURE WaitingForReply completed MAYBE —
// though the request reached no one — and is not retried. The call after
// it connects to the next live address. With every address dead a call
// fails with TRANSIENT ConnectFailed completed NO, not retried either; once
// the profile's own address lives again the next call goes there, and it
// stays there when an alternate comes back.
func TestAlternate_CrashOfTheAddressInUse(t *testing.T) {
	p, b, c := newNode(t, "P"), newNode(t, "B"), newNode(t, "C")
	cl := startClient(t, p.ior(b.port, c.port))
	wantServed(t, cl.call("1"), "P")

	p.kill()
	wantException(t, cl.call("2"), "COMM_FAILURE", minorWaitingForReply, 2)
	wantServed(t, cl.call("3"), "B")
	b.kill()
	wantException(t, cl.call("4"), "COMM_FAILURE", minorWaitingForReply, 2)
	wantServed(t, cl.call("5"), "C")
	c.kill()
	wantException(t, cl.call("6"), "COMM_FAILURE", minorWaitingForReply, 2)
	wantException(t, cl.call("7"), "TRANSIENT", minorConnectFailed, 1)

	p.start()
	wantServed(t, cl.call("8"), "P")
	b.start()
	wantServed(t, cl.call("9"), "P")
	if b.calls() != 1 || c.calls() != 1 {
		t.Fatalf("B saw %d calls and C %d, want 1 each: no failed call was re-sent", b.calls(), c.calls())
	}
}

// TestAlternate_GracefulCloseMovesOn: the node in use shuts down
// gracefully (CloseConnection, then close). omniORB's next call goes to the
// next live address with no exception.
func TestAlternate_GracefulCloseMovesOn(t *testing.T) {
	p, b := newNode(t, "P"), newNode(t, "B")
	cl := startClient(t, p.ior(b.port))
	wantServed(t, cl.call("1"), "P")
	p.shutdown()
	wantServed(t, cl.call("2"), "B")
	wantServed(t, cl.call("3"), "B")
}
