package failover_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// Experiment 3: system exceptions answered by the server, and a server
// that never answers (giop/SPEC.md, "omniORB 4.2.5 when a server goes
// away").

// failFirst answers a node's first n calls with x, later ones normally.
func failFirst(n int, x *giop.SystemException) func(int, *giop.ServerRequest) error {
	return func(count int, _ *giop.ServerRequest) error {
		if count <= n {
			return x
		}
		return nil
	}
}

// TestTransient_AnsweredIsNotRetried: TRANSIENT completed NO answered by
// the server, with an OMG minor code or none, reaches the application at
// once: omniORB 4.2's default TRANSIENT handler retries only
// TRANSIENT_FailedOnForwarded. So does COMM_FAILURE completed MAYBE
// (the default COMM_FAILURE handler never retries).
func TestTransient_AnsweredIsNotRetried(t *testing.T) {
	for _, x := range []*giop.SystemException{
		giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo),
		giop.NewSystemException(giop.ExcTransient, giop.OMGVMCID|1, giop.CompletedNo), // TRANSIENT_POANoResource
		giop.NewSystemException(giop.ExcTransient, minorConnectFailed, giop.CompletedNo),
		giop.NewSystemException(giop.ExcCommFailure, 0, giop.CompletedMaybe),
	} {
		t.Run(fmt.Sprintf("%s_%#x_%s", x.Name, x.Minor, x.Completed), func(t *testing.T) {
			a := newNode(t, "A")
			a.setBehave(failFirst(1, x))
			cl := startClient(t, a.ior())
			wantException(t, cl.call("1"), x.Name, x.Minor, int(x.Completed))
			if a.calls() != 1 {
				t.Fatalf("A saw %d calls, want 1: not retried", a.calls())
			}
			wantServed(t, cl.call("2"), "A")
		})
	}
}

// TestTransient_FailedOnForwardedIsRetried: TRANSIENT with omniORB's own
// minor TRANSIENT_FailedOnForwarded (0x41540001), answered by the server
// on a reference that was never forwarded, is retried by the default
// handler like a failed forward: retry n after n seconds, until it
// succeeds. A server can make an unchanged omniORB client wait and retry.
func TestTransient_FailedOnForwardedIsRetried(t *testing.T) {
	a := newNode(t, "A")
	a.setBehave(failFirst(2, giop.NewSystemException(giop.ExcTransient, minorFailedOnForwarded, giop.CompletedNo)))
	cl := startClient(t, a.ior())
	r := cl.call("1")
	wantServed(t, r, "A")
	if a.calls() != 3 {
		t.Fatalf("A saw %d calls, want 3: two TRANSIENT answers retried, then the answer", a.calls())
	}
	t.Logf("call succeeded after 2 retries in %.1f ms; gaps between arrivals %v", r.ms, a.gaps())
}

// TestCommFailure_DroppedMidCallIsNotRetried: the server closes the
// connection with the request in hand (no reply): COMM_FAILURE
// WaitingForReply completed MAYBE reaches the application, the request
// arrived once, and the next call opens a new connection.
func TestCommFailure_DroppedMidCallIsNotRetried(t *testing.T) {
	a := newNode(t, "A")
	a.setBehave(func(n int, req *giop.ServerRequest) error {
		if n == 2 {
			return dropConnection(req)
		}
		return nil
	})
	cl := startClient(t, a.ior())
	wantServed(t, cl.call("1"), "A")
	wantException(t, cl.call("2"), "COMM_FAILURE", minorWaitingForReply, 2)
	if a.calls() != 2 {
		t.Fatalf("A saw %d calls, want 2", a.calls())
	}
	wantServed(t, cl.call("3"), "A")
}

// TestNoAnswer_DefaultWaitsForever: a server that accepts and never
// answers (here not even the LocateRequest omniORB sends first). With the
// default clientCallTimeOutPeriod 0 the call stays blocked — for as long
// as the test watches — until the connection closes, and then fails with
// COMM_FAILURE completed MAYBE.
func TestNoAnswer_DefaultWaitsForever(t *testing.T) {
	r := newRawListener(t, false)
	cl := startClient(t, echoIOR(r.port))
	cl.send("1")
	const watch = 2 * time.Second
	if l, silent := cl.silent(watch); !silent {
		t.Fatalf("the call returned while the server stayed mute: %q", l)
	}
	if r.accepted() != 1 {
		t.Fatalf("%d connections, want 1", r.accepted())
	}
	r.close()
	res := cl.read()
	wantException(t, res, "COMM_FAILURE", minorWaitingForReply, 2)
	t.Logf("blocked %.1f ms, until the connection closed", res.ms)
}

// TestNoAnswer_CallTimeout: with -ORBclientCallTimeOutPeriod 500 a call
// the servant never answers fails with TIMEOUT minor
// TRANSIENT_CallTimedout completed MAYBE (throwTransientOnTimeOut is 0 by
// default), is not retried, and the next call is served on a new
// connection.
func TestNoAnswer_CallTimeout(t *testing.T) {
	a := newNode(t, "A")
	a.setBehave(func(n int, req *giop.ServerRequest) error {
		if n == 1 {
			<-req.Context().Done() // until omniORB closes the connection
			return req.Context().Err()
		}
		return nil
	})
	cl := startClient(t, a.ior(), "-ORBclientCallTimeOutPeriod", "500")
	r := cl.call("1")
	wantException(t, r, "TIMEOUT", minorCallTimedout, 2)
	t.Logf("timed out after %.1f ms (clientCallTimeOutPeriod 500)", r.ms)
	if a.calls() != 1 {
		t.Fatalf("A saw %d calls, want 1: not retried", a.calls())
	}
	wantServed(t, cl.call("2"), "A")
}
