package agent_test

import (
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
	"github.com/requestagent/requestagent/internal/testcert"
	"github.com/requestagent/requestagent/nmproto"
)

// TestTLS_LocateRequestBoundToIdentity: with --bind-identity a
// LocateRequest for alice's proxy from bob over TLS, or from a client of
// the plain port, learns what its call would: NO_PERMISSION completed NO, minor
// OTHER_IDENTITY
// (LOC_SYSTEM_EXCEPTION) on GIOP 1.2, UNKNOWN_OBJECT on 1.0 and 1.1
// (giop/SPEC.md, "Requests and replies") — not OBJECT_HERE, which told a
// leaked key's holder that the object still exists. Alice's own are
// OBJECT_HERE; each refusal counts.
func TestTLS_LocateRequestBoundToIdentity(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srv, alice, bob := ca.Server(t, "agent"), ca.Client(t, "alice"), ca.Client(t, "bob")
	e := newEnv(t, agent.Config{TLS: agent.TLSConfig{Listen: "127.0.0.1:0", CertFile: srv.CertFile,
		KeyFile: srv.KeyFile, CAFile: ca.File, ClientAuth: agent.ClientAuthRequest, BindIdentity: true}})
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	c.SetTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{alice.TLS}})
	plainClient := e.client
	e.client = c
	ref := e.mustProxy()
	prof, err := ref.IIOP()
	e.client = plainClient // newEnv's clean-up closes e.client
	if err != nil {
		t.Fatal(err)
	}
	key := prof.ObjectKey

	tlsAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(e.agent.TLSPort()))
	dialTLS := func(leaf *testcert.Leaf) net.Conn {
		nc, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{leaf.TLS}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	plain, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(e.agent.Port())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	conns := map[string]net.Conn{"alice": dialTLS(alice), "bob": dialTLS(bob), "plain": plain}

	id := uint32(0)
	for _, who := range []string{"alice", "bob", "plain"} {
		for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
			want := giop.ObjectHere
			switch {
			case who != "alice" && v.Minor >= 2:
				want = giop.LocSystemException
			case who != "alice":
				want = giop.UnknownObject
			}
			id++
			st, x, err := rawgiop.Locate(conns[who], v, id, key)
			if err != nil {
				t.Fatalf("%s, GIOP %s: %v", who, v, err)
			}
			if st != want {
				t.Errorf("%s, GIOP %s: LocateReply status %d, want %d", who, v, st, want)
			}
			if want == giop.LocSystemException && (x == nil || x.Name != giop.ExcNoPermission ||
				x.Minor != nmproto.OtherIdentity || x.Completed != giop.CompletedNo) {
				t.Errorf("%s, GIOP %s: exception %v, want NO_PERMISSION OTHER_IDENTITY completed NO", who, v, x)
			}
		}
	}
	// The call the LocateRequest now matches.
	bc := giop.NewClient(nil)
	t.Cleanup(func() { bc.Close() })
	bc.SetTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{bob.TLS}})
	_, err = bc.Invoke(e.ctx(), ref, &giop.Invocation{Operation: "_non_existent"})
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Name != giop.ExcNoPermission || x.Completed != giop.CompletedNo {
		t.Errorf("bob's _non_existent = %v, want NO_PERMISSION completed NO", err)
	}
	if got := e.metric("requestagent_identity_refusals_total"); got != 7 {
		t.Errorf("requestagent_identity_refusals_total = %v, want 7 (six LocateRequests, one call)", got)
	}
}
