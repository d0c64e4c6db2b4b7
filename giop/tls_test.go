package giop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/testcert"
)

// omniORBSSLComponent is the TAG_SSL_SEC_TRANS component omniORB 4.2.5
// publishes for -ORBendPoint giop:ssl:127.0.0.1:23001 (captured with
// catior; giop/SPEC.md): supports = requires = 102, port 23001.
const omniORBSSLComponent = "0100660066" + "00d959"

// TestSSLComponent_OmniORBBytes: our encoding of omniORB's component is
// omniORB's, byte for byte, and both forms omniORB reads decode.
func TestSSLComponent_OmniORBBytes(t *testing.T) {
	want, _ := hex.DecodeString(omniORBSSLComponent)
	c := giop.SSLComponent{Supports: giop.OmniORBSSLOptions, Requires: giop.OmniORBSSLOptions, Port: 23001}.Component()
	if c.Tag != 20 || hex.EncodeToString(c.Data) != hex.EncodeToString(want) {
		t.Fatalf("component = tag %d % x, want tag 20 % x", c.Tag, c.Data, want)
	}
	got, err := giop.ParseSSLComponent(want)
	if err != nil || got.Port != 23001 || got.Supports != 102 || got.Requires != 102 {
		t.Fatalf("ParseSSLComponent = %+v, %v", got, err)
	}
	// VisiBroker's form: unsigned longs for the options (omniORB's ior.cc
	// reads any length but 8 so).
	vb, _ := hex.DecodeString("01000000" + "66000000" + "66000000" + "d959")
	if got, err := giop.ParseSSLComponent(vb); err != nil || got.Port != 23001 || got.Supports != 102 {
		t.Fatalf("ParseSSLComponent(VisiBroker form) = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "01", "0100660066", "01000000660000006600"} {
		b, _ := hex.DecodeString(bad)
		if _, err := giop.ParseSSLComponent(b); !errors.Is(err, giop.ErrBadIOR) {
			t.Errorf("ParseSSLComponent(%s) = %v, want ErrBadIOR", bad, err)
		}
	}
}

// tlsServer serves the echo servant on a TLS listen point only: its
// reference has port 0 and the SSL component, as omniORB's with only a
// giop:ssl endpoint.
func tlsServer(t *testing.T, cfg *giop.Config, tc *tls.Config) (*giop.Server, *giop.IOR, net.Addr) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := giop.NewAdapter()
	a.Register(echoKey, identityEcho{})
	srv := giop.NewServer(cfg, a)
	serveUntilCleanup(t, srv, func() error { return srv.ServeTLS(ln, tc) })
	ref := objectIOR("IDL:Demo/Echo:1.0", 0, echoKey)
	prof, _ := ref.IIOP()
	prof.Components = append(prof.Components, giop.SSLComponent{Supports: giop.OmniORBSSLOptions,
		Requires: giop.OmniORBSSLOptions, Port: uint16(ln.Addr().(*net.TCPAddr).Port)}.Component())
	return srv, giop.NewIOR(ref.TypeID, prof), ln.Addr()
}

// identityEcho answers echoString with the caller's TLS identity.
type identityEcho struct{}

func (identityEcho) RepositoryID() string { return "IDL:Demo/Echo:1.0" }

func (identityEcho) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	_ = r.Args.String()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	r.Results().WriteString(r.Conn.PeerIdentity())
	return nil
}

// TestTLS_CallAndIdentity: a client with a trust store and a certificate
// calls a TLS-only reference; the server sees the client's identity. A
// client whose trust store lacks the server's CA gets TRANSIENT
// completed NO, and the failure is counted.
func TestTLS_CallAndIdentity(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srvCert := ca.Server(t, "server")
	cli := ca.Client(t, "alice")
	srv, ref, _ := tlsServer(t, nil, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS},
		ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.Pool()})

	c := testClient(t)
	c.SetTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{cli.TLS}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := callString(ctx, c, ref, "echoString", "x")
	if err != nil || got != "CN=alice,O=test" {
		t.Fatalf("echoString over TLS = %q, %v; want the identity CN=alice,O=test", got, err)
	}

	other := testcert.NewCA(t, "other")
	bad := testClient(t)
	bad.SetTLS(&tls.Config{RootCAs: other.Pool()})
	_, err = callString(ctx, bad, ref, "echoString", "x")
	var se *giop.SystemException
	if !errors.As(err, &se) || se.Name != giop.ExcTransient || se.Completed != giop.CompletedNo || !errors.Is(err, giop.ErrTLSHandshake) {
		t.Fatalf("call with a trust store that does not verify the server = %v, want TRANSIENT completed NO (ErrTLSHandshake)", err)
	}
	if n := bad.Stats().TLSHandshakeFailures; n != 1 {
		t.Fatalf("client TLSHandshakeFailures = %d, want 1", n)
	}
	if n := waitStat(t, func() uint64 { return srv.Stats().TLSHandshakeFailures }, 1); n != 1 {
		t.Fatalf("server TLSHandshakeFailures = %d, want 1", n)
	}
}

// TestTLS_StalledHandshakeClosedAndCounted: a client that opens TCP on
// a TLS listen point and never handshakes holds a place under
// MaxConnections (the next is refused) until TLSHandshakeTimeout closes
// it.
func TestTLS_StalledHandshakeClosedAndCounted(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srvCert := ca.Server(t, "server")
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = 1
	cfg.TLSHandshakeTimeout = 200 * time.Millisecond
	srv, _, addr := tlsServer(t, cfg, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}})

	stalled, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	waitStat(t, func() uint64 { return srv.Stats().Handshaking }, 1)
	second, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if n := waitStat(t, func() uint64 { return srv.Stats().Refused }, 1); n != 1 {
		t.Fatalf("Refused = %d with one connection in its handshake and MaxConnections 1", n)
	}
	// The stalled one is closed by the server: a read ends.
	stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := stalled.Read(make([]byte, 1)); err == nil {
		t.Fatal("read on the stalled connection returned data")
	}
	if n := waitStat(t, func() uint64 { return srv.Stats().TLSHandshakeFailures }, 1); n != 1 {
		t.Fatalf("TLSHandshakeFailures = %d after the handshake timed out", n)
	}
	if n := waitStat(t, func() uint64 { return srv.Stats().Handshaking }, 0); n != 0 {
		t.Fatalf("Handshaking = %d", n)
	}
}

// TestTLS_OldVersionRefused: TLS 1.1 is refused whatever the server's
// configuration says.
func TestTLS_OldVersionRefused(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srvCert := ca.Server(t, "server")
	_, _, addr := tlsServer(t, nil, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}, MinVersion: tls.VersionTLS10})
	c, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: ca.Pool(), MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
}

// waitStat polls a counter until it is want (or 10 s pass) and returns it.
func waitStat(t *testing.T, f func() uint64, want uint64) uint64 {
	t.Helper()
	for range 1000 {
		if v := f(); v == want {
			return v
		}
		time.Sleep(10 * time.Millisecond)
	}
	return f()
}

// TestSSLComponent_OmniORBIOR: omniORB's TLS-only reference has port 0
// and the SSL component; a call to it goes to the component's port over
// TLS.
func TestSSLComponent_OmniORBIOR(t *testing.T) {
	ref, err := giop.ParseIOR(omniORBSSLEchoIORForTest)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	s, ok := prof.SSL()
	if prof.Port != 0 || !ok || s.Port != 23001 || s.Requires != giop.OmniORBSSLOptions {
		t.Fatalf("profile port %d, SSL %+v %v", prof.Port, s, ok)
	}
}

const omniORBSSLEchoIORForTest = "IOR:010000001200000049444c3a44656d6f2f4563686f3a312e30000000010000000000000064000000010102000a0000003132372e302e302e31000000040000004563686f0300000000000000080000000100000000545441010000001c000000010000000100010001000000010001050901010001000000090101001400000008000000010066006600d959"

// TestSSLComponent_AddressPort: a TLS-only reference is named by its TLS
// port, one with a plain port by that.
func TestSSLComponent_AddressPort(t *testing.T) {
	ref, err := giop.ParseIOR(omniORBSSLEchoIORForTest)
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := ref.IIOP()
	if p := prof.AddressPort(); p != 23001 {
		t.Fatalf("AddressPort of a TLS-only reference = %d, want the SSL port 23001", p)
	}
	prof.Port = 5555
	if p := prof.AddressPort(); p != 5555 {
		t.Fatalf("AddressPort with a plain port = %d, want 5555", p)
	}
}

// TestPeerIdentity_Namespaces: a SAN-only certificate's identity cannot
// read as another certificate's subject, and a subject of any length
// gives an identity of at most MaxIdentityLen, distinct per subject.
func TestPeerIdentity_Namespaces(t *testing.T) {
	alice := &x509.Certificate{Subject: pkix.Name{CommonName: "alice", Organization: []string{"test"}}}
	u, _ := url.Parse("CN=alice,O=test")
	spoof := &x509.Certificate{URIs: []*url.URL{u}}
	if a, s := giop.PeerIdentity(alice), giop.PeerIdentity(spoof); a == s || !strings.HasPrefix(s, "URI:") {
		t.Fatalf("subject %q and URI SAN %q", a, s)
	}
	long := func(ou string) *x509.Certificate {
		var ous []string
		for i := range 80 {
			ous = append(ous, fmt.Sprintf("%s-%02d-%s", ou, i, strings.Repeat("x", 50)))
		}
		return &x509.Certificate{Subject: pkix.Name{CommonName: "long", OrganizationalUnit: ous}}
	}
	a, b := giop.PeerIdentity(long("a")), giop.PeerIdentity(long("b"))
	if len(a) > giop.MaxIdentityLen || len(b) > giop.MaxIdentityLen || a == b || !strings.HasPrefix(a, "sha256:") {
		t.Fatalf("long subjects: %q (%d), %q (%d)", a, len(a), b, len(b))
	}
}

// TestTLS_HandshakesTakeAtMostHalfThePlaces: connections that never
// finish their handshake hold at most half of MaxConnections: the third
// is refused, and the other half stays for the clients of the plain
// listen point, which stalled handshakes cannot lock out.
func TestTLS_HandshakesTakeAtMostHalfThePlaces(t *testing.T) {
	ca := testcert.NewCA(t, "ca")
	srvCert := ca.Server(t, "server")
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = 4
	cfg.TLSHandshakeTimeout = time.Minute
	srv, _, addr := tlsServer(t, cfg, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}})
	for i := range 3 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if i == 1 {
			waitStat(t, func() uint64 { return srv.Stats().Handshaking }, 2)
		}
	}
	if n := waitStat(t, func() uint64 { return srv.Stats().Refused }, 1); n != 1 {
		t.Fatalf("Refused = %d with two handshakes stalled and MaxConnections 4", n)
	}
	if n := srv.Stats().Handshaking; n != 2 {
		t.Fatalf("Handshaking = %d, want 2", n)
	}
}

// TestPeerIdentity_SubjectAsWritten: subjects that x509's parsed Subject
// folds into alice's — a second CN, a multi-valued RDN — are identities
// of their own, none of them alice's; a subject it does not fold reads as
// earlier releases stored it (so identities survive an upgrade),
// attributes in another order included.
func TestPeerIdentity_SubjectAsWritten(t *testing.T) {
	cn := func(v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: v}
	}
	o := func(v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: v}
	}
	const alice = "CN=alice,O=example"
	subjects := map[string]struct {
		seq  pkix.RDNSequence
		want string
	}{
		"alice":       {pkix.RDNSequence{{o("example")}, {cn("alice")}}, alice}, // as Go's pkix.Name writes it
		"reordered":   {pkix.RDNSequence{{cn("alice")}, {o("example")}}, alice}, // openssl's -subj order
		"second CN":   {pkix.RDNSequence{{cn("bob")}, {cn("alice")}, {o("example")}}, "DN:O=example,CN=alice,CN=bob"},
		"multivalued": {pkix.RDNSequence{{cn("alice"), o("example")}}, "DN:CN=alice+O=example"},
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, sub := range subjects {
		raw, err := asn1.Marshal(sub.seq)
		if err != nil {
			t.Fatal(err)
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: raw,
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}, &x509.Certificate{RawSubject: raw}, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.String() != alice {
			t.Fatalf("%s: x509 reads the subject as %q; the test assumes it folds to %s", name, cert.Subject.String(), alice)
		}
		if id := giop.PeerIdentity(cert); id != sub.want {
			t.Errorf("%s: identity %q, want %q", name, id, sub.want)
		}
	}
}
