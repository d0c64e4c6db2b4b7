package agent_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/testcert"
	"github.com/requestagent/requestagent/nmproto"
)

// IIOP over TLS in Go (agent/tls.go; giop/SPEC.md, "IIOP over TLS"): the
// omniORB proof is in tls_interop_test.go.

// tlsEnv is an env whose agent serves TLS only, requires client
// certificates and binds objects to identities, in front of a StockManager
// target reachable only over TLS.
type tlsEnv struct {
	*env
	ca                 *testcert.CA
	alice, bob, server *testcert.Leaf
	certFile, keyFile  string
}

func newTLSEnv(t *testing.T, auth agent.ClientAuth, bind bool) *tlsEnv {
	t.Helper()
	ca := testcert.NewCA(t, "ca")
	te := &tlsEnv{ca: ca, alice: ca.Client(t, "alice"), bob: ca.Client(t, "bob"), server: ca.Server(t, "agent")}
	// The agent's certificate files, to be rotated in place.
	dir := t.TempDir()
	te.certFile, te.keyFile = dir+"/agent.pem", dir+"/agent.key"
	copyFile(t, te.server.CertFile, te.certFile)
	copyFile(t, te.server.KeyFile, te.keyFile)

	e := &env{t: t, sm: newStockManager()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), e.sm)
	e.tsrv = giop.NewServer(nil, ad)
	tcert := ca.Server(t, "target")
	go e.tsrv.ServeTLS(ln, &tls.Config{Certificates: []tls.Certificate{tcert.TLS},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})
	t.Cleanup(func() { e.tsrv.Close() })
	e.target = giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 0,
		ObjectKey: []byte("StockManager"), Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component(),
			giop.SSLComponent{Supports: giop.OmniORBSSLOptions, Requires: giop.OmniORBSSLOptions,
				Port: uint16(ln.Addr().(*net.TCPAddr).Port)}.Component()}})

	agentOut := ca.Client(t, "requestagent")
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 200 * time.Millisecond,
		TLS: agent.TLSConfig{Listen: "127.0.0.1:0", Only: true, CertFile: te.certFile, KeyFile: te.keyFile,
			CAFile: ca.File, ClientAuth: auth, BindIdentity: bind, OutboundCAFile: ca.File,
			OutboundCertFile: agentOut.CertFile, OutboundKeyFile: agentOut.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent = a
	e.agentRef = a.IOR()
	te.env = e
	e.client = te.clientFor(te.alice)
	return te
}

// clientFor is a client presenting leaf (none for nil).
func (te *tlsEnv) clientFor(leaf *testcert.Leaf) *giop.Client {
	c := giop.NewClient(nil)
	cfg := &tls.Config{RootCAs: te.ca.Pool()}
	if leaf != nil {
		cfg.Certificates = []tls.Certificate{leaf.TLS}
	}
	c.SetTLS(cfg)
	te.env.t.Cleanup(func() { c.Close() })
	return c
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLS_AgentReferencesAdvertiseTLSOnly: with TLS only, the agent's
// references have port 0 and TAG_SSL_SEC_TRANS with its TLS port and
// omniORB's options.
func TestTLS_AgentReferencesAdvertiseTLSOnly(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequire, false)
	prof, err := te.agentRef.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := prof.SSL()
	if prof.Port != 0 || !ok || int(s.Port) != te.agent.TLSPort() || s.Supports != 102 || s.Requires != 102 {
		t.Fatalf("agent reference: port %d, SSL %+v (%v); want port 0 and SSL port %d, options 102", prof.Port, s, ok, te.agent.TLSPort())
	}
}

// TestTLS_2PIRecordsIdentityAndBindsIt: alice makes a 2PI over TLS to a
// TLS-only target; the proxy and the request carry her identity in the
// admin listing. Bob, holding the leaked receiver and poller, gets
// NO_PERMISSION completed NO; so does a client without a certificate
// when certificates are only requested.
func TestTLS_2PIRecordsIdentityAndBindsIt(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequest, true)
	rcv := te.receiver(te.mustProxy())
	r := te.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 100.5))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || r.poller == nil {
		t.Fatalf("premature return = %v (poller %v)", r.err, r.poller)
	}
	got := te.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if got.err != nil || got.rna || !got.resp.Result.Bool() {
		t.Fatalf("pull over TLS = %v (rna %v)", got.err, got.rna)
	}
	const alice = "CN=alice,O=test"
	ps := te.agent.Proxies()
	if len(ps) != 1 || ps[0].Identity != alice {
		t.Fatalf("proxies = %+v, want one with identity %s", ps, alice)
	}

	// A second request stays for the others to try.
	r = te.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 1))
	if r.poller == nil {
		t.Fatalf("second request: %v", r.err)
	}
	rs := te.agent.Requests()
	if len(rs) == 0 || rs[len(rs)-1].Identity != alice {
		t.Fatalf("requests = %+v, want identity %s", rs, alice)
	}
	for name, c := range map[string]*giop.Client{"bob": te.clientFor(te.bob), "no certificate": te.clientFor(nil)} {
		te.client = c
		for what, ref := range map[string]*giop.IOR{"receiver": rcv, "poller": r.poller} {
			res := te.call(ref, "add_stock", waitCtx(0), addStockArgs("ACME", 2))
			var x *giop.SystemException
			if !errors.As(res.err, &x) || x.Name != giop.ExcNoPermission || x.Minor != nmproto.OtherIdentity || x.Completed != giop.CompletedNo {
				t.Errorf("%s on alice's %s: %v, want NO_PERMISSION/OTHER_IDENTITY completed NO", name, what, res.err)
			}
		}
		// Nor through the agent: RequestAgent::destroy_request names the
		// poller by its reference.
		_, err := c.Invoke(te.ctx(), te.agentRef, &giop.Invocation{Operation: "destroy_request",
			Args: func(enc *giop.Encoder) { enc.WriteIOR(r.poller) }})
		var x *giop.SystemException
		if !errors.As(err, &x) || x.Name != giop.ExcNoPermission || x.Completed != giop.CompletedNo {
			t.Errorf("%s: destroy_request of alice's poller = %v, want NO_PERMISSION completed NO", name, err)
		}
	}
	// Two objects and destroy_request, for each of the two others.
	if got := te.metric("requestagent_identity_refusals_total"); got != 6 {
		t.Errorf("requestagent_identity_refusals_total = %v, want 6", got)
	}
	// Alice's request is still hers to pull.
	te.client = te.clientFor(te.alice)
	if got := te.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0)); got.err != nil || got.rna {
		t.Fatalf("alice's pull after the others' attempts = %v (rna %v)", got.err, got.rna)
	}
}

// TestTLS_RequiredClientCertificate: with mutual TLS required, a client
// without a certificate, or with one from another CA, is refused in the
// handshake (nothing is created), and the refusal is counted.
func TestTLS_RequiredClientCertificate(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequire, false)
	other := testcert.NewCA(t, "other")
	for name, leaf := range map[string]*testcert.Leaf{"no certificate": nil, "another CA": other.Client(t, "mallory")} {
		te.client = te.clientFor(leaf)
		// Under TLS 1.3 the client's side of the handshake is done before
		// the agent checks its certificate: it reads the refusal as a
		// broken connection (giop/SPEC.md, "IIOP over TLS").
		if _, err := te.createProxy(te.target, "", nil); err == nil {
			t.Errorf("%s: create_request_proxy succeeded", name)
		}
	}
	if n := len(te.agent.Proxies()); n != 0 {
		t.Fatalf("%d proxies made by refused clients", n)
	}
	// The agent counts a refusal after sending it: the client may have
	// read it first.
	for i := 0; te.agent.ServerStats().TLSHandshakeFailures < 2; i++ {
		if i == 2000 {
			t.Fatalf("TLSHandshakeFailures = %d, want at least 2", te.agent.ServerStats().TLSHandshakeFailures)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTLS_RotatedCertificatePickedUp: a certificate written over the
// agent's files is served from the next handshake after ReloadTLS (the
// command's SIGHUP), and, without one, once a handshake sees the files
// changed; never with a restart.
func TestTLS_RotatedCertificatePickedUp(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequire, false)
	served := func() *x509.Certificate {
		t.Helper()
		c, err := tls.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(te.agent.TLSPort())),
			&tls.Config{RootCAs: te.ca.Pool(), Certificates: []tls.Certificate{te.alice.TLS}, ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0]
	}
	if s := served().SerialNumber; s.Cmp(te.server.Cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want %v", s, te.server.Cert.SerialNumber)
	}
	next := te.ca.Server(t, "agent")
	copyFile(t, next.CertFile, te.certFile)
	copyFile(t, next.KeyFile, te.keyFile)
	if err := te.agent.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if s := served().SerialNumber; s.Cmp(next.Cert.SerialNumber) != 0 {
		t.Fatalf("after reload served serial %v, want the rotated %v", s, next.Cert.SerialNumber)
	}
	// Calls still work on new connections.
	te.client = te.clientFor(te.alice)
	te.mustProxy()

	// Without a reload: a handshake notices the files changed (it looks
	// once a second at most).
	third := te.ca.Server(t, "agent")
	copyFile(t, third.CertFile, te.certFile)
	copyFile(t, third.KeyFile, te.keyFile)
	for i := 0; served().SerialNumber.Cmp(third.Cert.SerialNumber) != 0; i++ {
		if i == 2000 {
			t.Fatal("a certificate rewritten in place is not served without ReloadTLS")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTLS_OutboundCertificateNotVerified: a target whose certificate does
// not verify against the agent's trust store gives the request TRANSIENT
// completed NO (nothing was sent), and the failure is counted.
func TestTLS_OutboundCertificateNotVerified(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequire, false)
	other := testcert.NewCA(t, "other")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), newStockManager())
	srv := giop.NewServer(nil, ad)
	go srv.ServeTLS(ln, &tls.Config{Certificates: []tls.Certificate{other.Server(t, "impostor").TLS}})
	t.Cleanup(func() { srv.Close() })
	target := giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1", Port: 0,
		ObjectKey: []byte("StockManager"), Components: []giop.TaggedComponent{
			giop.SSLComponent{Supports: giop.OmniORBSSLOptions, Requires: giop.OmniORBSSLOptions,
				Port: uint16(ln.Addr().(*net.TCPAddr).Port)}.Component()}})
	proxy, err := te.createProxy(target, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r := te.call(te.receiver(proxy), "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("ACME", 1))
	if r.poller == nil {
		t.Fatalf("premature return: %v", r.err)
	}
	got := te.call(r.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	var x *giop.SystemException
	if !errors.As(got.err, &x) || x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
		t.Fatalf("reply from a target whose certificate does not verify = %v, want TRANSIENT completed NO", got.err)
	}
	if n := te.agent.OutboundStats().TLSHandshakeFailures; n == 0 {
		t.Fatal("no outbound TLS handshake failure counted")
	}
}

// TestTLS_BesidePlain: with a TLS listen point beside the plain one, the
// references carry the plain port and the TLS one; a client without TLS
// still uses the plain port, one with TLS the TLS port, and only the
// latter has an identity.
func TestTLS_BesidePlain(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srv, alice := ca.Server(t, "agent"), ca.Client(t, "alice")
	e := newEnv(t, agent.Config{TLS: agent.TLSConfig{Listen: "127.0.0.1:0", CertFile: srv.CertFile,
		KeyFile: srv.KeyFile, CAFile: ca.File, ClientAuth: agent.ClientAuthRequest}})
	prof, _ := e.agentRef.IIOP()
	if s, ok := prof.SSL(); int(prof.Port) != e.agent.Port() || !ok || int(s.Port) != e.agent.TLSPort() {
		t.Fatalf("reference: port %d, SSL %+v %v; want %d and %d", prof.Port, s, ok, e.agent.Port(), e.agent.TLSPort())
	}
	e.mustProxy() // plain client
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	c.SetTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{alice.TLS}})
	plain := e.client
	e.client = c
	e.mustProxy()
	e.client = plain // newEnv's clean-up closes e.client
	ids := map[string]bool{}
	for _, p := range e.agent.Proxies() {
		ids[p.Identity] = true
	}
	if len(ids) != 2 || !ids[""] || !ids["CN=alice,O=test"] {
		t.Fatalf("proxy identities %v, want none and alice's", ids)
	}
}

// TestTLS_NamedGroupsBelongToTheirIdentity: with BindIdentity a
// create_request polling group is the identity's own: bob polling
// alice's group name finds it empty (he can neither read her tags nor
// unmask her replies), and her tags do not clash with his in it.
func TestTLS_NamedGroupsBelongToTheirIdentity(t *testing.T) {
	te := newTLSEnv(t, agent.ClientAuthRequest, true)
	group := "g"
	te.createRequest(t, "", "alice-tag", group, "")
	if _, err := te.createRequestErr("", "alice-tag", group, ""); !isUser(err, "IDL:NativeMessaging/RequestAgent/DuplicatedRequestTag:1.0") {
		t.Fatalf("alice's second request with her tag = %v, want DuplicatedRequestTag", err)
	}
	if tags, err := te.pollTags(te.agentRef, &group, 0, false); err != nil || len(tags) != 0 {
		t.Fatalf("alice polls her group = %v %v, want no ready tags and no exception", tags, err)
	}
	te.client = te.clientFor(te.bob)
	if tags, err := te.pollTags(te.agentRef, &group, 0, true); !isUser(err, "IDL:NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
		t.Fatalf("bob polls alice's group name = %v %v, want PollingGroupIsEmpty", tags, err)
	}
	te.createRequest(t, "", "alice-tag", group, "") // his own group: no clash
	rs := te.agent.Requests()
	if len(rs) != 2 || rs[0].Group != group || rs[1].Group != group {
		t.Fatalf("requests = %+v, want two in group %q as the admin listing shows it", rs, group)
	}
}
