package failover_test

import (
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// Experiment 2: LOCATION_FORWARD and what omniORB does when the target of
// a forward dies (giop/SPEC.md, "omniORB 4.2.5 when a server goes away").

// forwardFirst answers a node's first n calls with LOCATION_FORWARD (or
// LOCATION_FORWARD_PERM) to ref, and the later ones normally.
func forwardFirst(n int, ref *giop.IOR, perm bool) func(int, *giop.ServerRequest) error {
	return func(count int, _ *giop.ServerRequest) error {
		if count <= n {
			return &giop.ForwardError{IOR: ref, Permanent: perm}
		}
		return nil
	}
}

// TestForward_RevertsWhenTargetDies: A forwards the first call to B, and
// omniORB sends that and the next call to B. B crashes: the next call
// fails on B's closed connection, omniORB reverts the reference to A's
// original profile and retries at once (the TRANSIENT_FailedOnForwarded
// handler's first retry sleeps 0 s), and the application sees the call
// succeed on A. The request is re-sent although the failure on B was
// completed MAYBE.
func TestForward_RevertsWhenTargetDies(t *testing.T) {
	a, b := newNode(t, "A"), newNode(t, "B")
	a.setBehave(forwardFirst(1, b.ior(), false))
	cl := startClient(t, a.ior())
	wantServed(t, cl.call("1"), "B")
	wantServed(t, cl.call("2"), "B")
	b.kill()
	r := cl.call("3")
	wantServed(t, r, "A")
	t.Logf("after B died the call succeeded on A in %.1f ms", r.ms)
	wantServed(t, cl.call("4"), "A")
	if a.calls() != 3 || b.calls() != 2 {
		t.Fatalf("A saw %d calls and B %d, want 3 and 2", a.calls(), b.calls())
	}
}

// TestForward_RetryDelaysWhileOwnerForwardsToTheDead: A keeps forwarding
// to B after B has died (an owner table not yet updated). Each round —
// revert, A forwards again, the connect to B is refused — goes through the
// TRANSIENT handler, which sleeps n seconds before retry n (0, 1, 2, ...,
// at most 30): the delays bound how fast such a client fails over.
func TestForward_RetryDelaysWhileOwnerForwardsToTheDead(t *testing.T) {
	a, b := newNode(t, "A"), newNode(t, "B")
	a.setBehave(forwardFirst(3, b.ior(), false))
	cl := startClient(t, a.ior())
	wantServed(t, cl.call("1"), "B")
	b.kill()
	r := cl.call("2")
	wantServed(t, r, "A")
	if a.calls() != 4 {
		t.Fatalf("A saw %d calls, want 4: the forward, two forwards to the dead B, the answer", a.calls())
	}
	t.Logf("call after B died: %.1f ms; gaps between A's arrivals %v", r.ms, a.gaps())
}

// TestForward_PermDoesNotRevert: after LOCATION_FORWARD_PERM omniORB
// replaces the reference for good. When B dies the calls fail
// (COMM_FAILURE on the closed connection, then TRANSIENT ConnectFailed)
// and A is never asked again.
func TestForward_PermDoesNotRevert(t *testing.T) {
	a, b := newNode(t, "A"), newNode(t, "B")
	a.setBehave(forwardFirst(1, b.ior(), true))
	cl := startClient(t, a.ior())
	wantServed(t, cl.call("1"), "B")
	b.kill()
	wantException(t, cl.call("2"), "COMM_FAILURE", minorWaitingForReply, 2)
	wantException(t, cl.call("3"), "TRANSIENT", minorConnectFailed, 1)
	if a.calls() != 1 {
		t.Fatalf("A saw %d calls, want 1", a.calls())
	}
}

// TestForward_FailureOnTargetResendsToOriginal: on a forwarded reference,
// a COMM_FAILURE answer (even completed MAYBE), a connection that drops
// with the request in hand, and OBJECT_NOT_EXIST all make omniORB revert
// and re-send the request to A: the call succeeds on A although B got it
// too. A TRANSIENT answer does not revert: it surfaces.
func TestForward_FailureOnTargetResendsToOriginal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(*giop.ServerRequest) error
		revert bool
	}{
		{"COMM_FAILURE_MAYBE", func(*giop.ServerRequest) error {
			return giop.NewSystemException(giop.ExcCommFailure, 0, giop.CompletedMaybe)
		}, true},
		{"connection_dropped", dropConnection, true},
		{"OBJECT_NOT_EXIST", func(*giop.ServerRequest) error {
			return giop.NewSystemException(giop.ExcObjectNotExist, giop.MinorObjectNotExistNoObject, giop.CompletedNo)
		}, true},
		{"TRANSIENT_NO", func(*giop.ServerRequest) error {
			return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newNode(t, "A"), newNode(t, "B")
			a.setBehave(forwardFirst(1, b.ior(), false))
			b.setBehave(func(n int, req *giop.ServerRequest) error {
				if n == 1 {
					return nil
				}
				return tc.answer(req)
			})
			cl := startClient(t, a.ior())
			wantServed(t, cl.call("1"), "B")
			r := cl.call("2")
			if b.calls() != 2 {
				t.Fatalf("B saw %d calls, want 2", b.calls())
			}
			if !tc.revert {
				wantException(t, r, "TRANSIENT", 0, 1)
				if a.calls() != 1 {
					t.Fatalf("A saw %d calls, want 1", a.calls())
				}
				return
			}
			wantServed(t, r, "A")
			if a.calls() != 2 {
				t.Fatalf("A saw %d calls, want 2", a.calls())
			}
		})
	}
}

// TestForward_RevertToAlternates: A's reference carries C as an alternate;
// A forwards to B, then A and B crash together. The next call fails on B's
// connection, omniORB reverts to A's profile and retries on its pooled
// connection to A, closed too: that failure is no longer on a forwarded
// reference, so it surfaces (COMM_FAILURE completed MAYBE). The call after
// it reaches C through the alternate address.
func TestForward_RevertToAlternates(t *testing.T) {
	a, b, c := newNode(t, "A"), newNode(t, "B"), newNode(t, "C")
	a.setBehave(forwardFirst(1, b.ior(), false))
	cl := startClient(t, a.ior(c.port))
	wantServed(t, cl.call("1"), "B")
	a.kill()
	b.kill()
	wantException(t, cl.call("2"), "COMM_FAILURE", minorWaitingForReply, 2)
	wantServed(t, cl.call("3"), "C")
	if c.calls() != 1 {
		t.Fatalf("C saw %d calls, want 1", c.calls())
	}
}
