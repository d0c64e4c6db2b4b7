package giop_test

import (
	"net"
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// refusingLocator is an adapter whose LocateRequests for refusedKey are
// refused, as a handler refuses calls from the wrong peer
// (giop.ConnLocator).
type refusingLocator struct {
	*giop.Adapter
	conns chan *giop.Conn
}

var refusedKey = []byte("Refused")

func (l refusingLocator) LocateConn(c *giop.Conn, key []byte) (bool, *giop.SystemException) {
	l.conns <- c
	if string(key) == string(refusedKey) {
		return false, giop.NewSystemException(giop.ExcNoPermission, 0, giop.CompletedNo)
	}
	return l.Locate(key), nil
}

// TestLocate_ConnLocatorRefuses: a handler that is a ConnLocator answers
// LocateRequests with the connection in hand; a refusal is
// LOC_SYSTEM_EXCEPTION NO_PERMISSION completed NO on GIOP 1.2, as a call
// would get, and UNKNOWN_OBJECT on 1.0 and 1.1, whose LocateReply has no
// exception (SPEC.md, "Requests and replies"). Keys it does not refuse
// are answered as Locate would.
func TestLocate_ConnLocatorRefuses(t *testing.T) {
	ad := giop.NewAdapter()
	ad.Register(echoKey, newEchoServant())
	ad.Register(refusedKey, newEchoServant())
	h := refusingLocator{Adapter: ad, conns: make(chan *giop.Conn, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := giop.NewServer(nil, h)
	serveUntilCleanup(t, srv, func() error { return srv.Serve(ln) })
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	id := uint32(0)
	for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		for _, tc := range []struct {
			key    []byte
			want   giop.LocateStatus
			refuse bool
		}{
			{echoKey, giop.ObjectHere, false},
			{[]byte("Nobody"), giop.UnknownObject, false},
			{refusedKey, giop.UnknownObject, true},
		} {
			want := tc.want
			if tc.refuse && v.Minor >= 2 {
				want = giop.LocSystemException
			}
			id++
			st, x, err := rawgiop.Locate(nc, v, id, tc.key)
			if err != nil {
				t.Fatalf("GIOP %s, key %q: %v", v, tc.key, err)
			}
			if st != want {
				t.Errorf("GIOP %s, key %q: status %d, want %d", v, tc.key, st, want)
			}
			if want == giop.LocSystemException && (x == nil || x.Name != giop.ExcNoPermission || x.Completed != giop.CompletedNo) {
				t.Errorf("GIOP %s, key %q: exception %v, want NO_PERMISSION completed NO", v, tc.key, x)
			}
			// LocateConn ran before the reply was sent.
			select {
			case c := <-h.conns:
				if c == nil {
					t.Errorf("GIOP %s: LocateConn without its connection", v)
				}
			default:
				t.Errorf("GIOP %s, key %q: answered without LocateConn", v, tc.key)
			}
		}
	}
}

// forwardingLocator answers LocateRequests for keys it does not serve
// with a forward to elsewhere (giop.LocateForwarder), as a cluster standby
// forwards to the owner.
type forwardingLocator struct {
	*giop.Adapter
	elsewhere *giop.IOR
}

func (l forwardingLocator) LocateForward(key []byte) *giop.IOR {
	if l.Locate(key) {
		return nil
	}
	return l.elsewhere
}

// TestLocate_ForwarderAnswersObjectForward: a LocateRequest the handler
// forwards gets OBJECT_FORWARD with the reference, at every GIOP version,
// and one it does not is answered as Locate would (SPEC.md, "Requests and
// replies").
func TestLocate_ForwarderAnswersObjectForward(t *testing.T) {
	ad := giop.NewAdapter()
	ad.Register(echoKey, newEchoServant())
	to := giop.NewIOR("IDL:omg.org/CORBA/Object:1.0", &giop.IIOPProfile{
		Version: giop.V1_2, Host: "127.0.0.1", Port: 4711, ObjectKey: []byte("Elsewhere")})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := giop.NewServer(nil, forwardingLocator{Adapter: ad, elsewhere: to})
	serveUntilCleanup(t, srv, func() error { return srv.Serve(ln) })
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for i, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		st, _, ior, err := rawgiop.LocateForward(nc, v, uint32(2*i+1), []byte("Nobody"))
		if err != nil {
			t.Fatalf("GIOP %s: %v", v, err)
		}
		if st != giop.ObjectForward || ior == nil {
			t.Fatalf("GIOP %s: status %d with %v, want OBJECT_FORWARD with a reference", v, st, ior)
		}
		p, err := ior.IIOP()
		if err != nil || p.Port != 4711 || string(p.ObjectKey) != "Elsewhere" {
			t.Errorf("GIOP %s: forwarded to %+v (%v), want 127.0.0.1:4711 Elsewhere", v, p, err)
		}
		if st, _, _, err := rawgiop.LocateForward(nc, v, uint32(2*i+2), echoKey); err != nil || st != giop.ObjectHere {
			t.Errorf("GIOP %s: a key served here: status %d (%v), want OBJECT_HERE", v, st, err)
		}
	}
}
