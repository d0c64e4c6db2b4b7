package agent_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/testcert"
)

// IIOP over TLS with omniORB for real: the Native Messaging peers of
// testdata/nm linked with omniORB's SSL transport (testdata/tls) go
// through an agent that serves TLS only, requires client certificates and
// binds objects to identities, to an omniORB StockManager reachable only
// over TLS (giop:ssl), with callbacks to an omniORB recipient over TLS.

// tlsSeedEnv is seedEnv over TLS.
type tlsSeedEnv struct {
	seedEnv
	ca     *testcert.CA
	client []string // the environment of an omniORB client with a good certificate
	// The agent's certificate and key files, copies to rotate in place.
	certFile, keyFile string
}

// sslEnv is the environment that turns on a testdata/tls peer's SSL
// transport with leaf's certificate (testdata/tls/ssl_init.cc).
func sslEnv(ca *testcert.CA, leaf *testcert.Leaf) []string {
	return []string{"PEER_SSL_CA=" + ca.File, "PEER_SSL_KEY=" + leaf.BothFile}
}

func newTLSSeedEnv(t *testing.T) *tlsSeedEnv {
	t.Helper()
	ca := testcert.NewCA(t, "ca")
	// A server certificate (loopback names): the client is a recipient
	// too, whose certificate the agent verifies for 127.0.0.1.
	e := &tlsSeedEnv{ca: ca, client: sslEnv(ca, ca.Server(t, "omniorb-client"))}
	e.dir = peers.TLSDir(t)
	e.server = peers.StartInEnv(t, e.dir, "stock_server", sslEnv(ca, ca.Server(t, "stock-server")),
		"-ORBendPoint", fmt.Sprintf("giop:ssl:127.0.0.1:%d", peers.FreePort(t)))
	e.target = e.server.Line(t, 20*time.Second)
	if !strings.HasPrefix(e.target, "IOR:") {
		t.Fatalf("stock_server's first line is not an IOR: %q", e.target)
	}
	srv, out := ca.Server(t, "requestagent"), ca.Client(t, "requestagent-out")
	dir := t.TempDir()
	e.certFile, e.keyFile = filepath.Join(dir, "agent.pem"), filepath.Join(dir, "agent.key")
	copyFile(t, srv.CertFile, e.certFile)
	copyFile(t, srv.KeyFile, e.keyFile)
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second,
		TLS: agent.TLSConfig{Listen: "127.0.0.1:0", Only: true, CertFile: e.certFile, KeyFile: e.keyFile,
			CAFile: ca.File, ClientAuth: agent.ClientAuthRequire, BindIdentity: true,
			OutboundCAFile: ca.File, OutboundCertFile: out.CertFile, OutboundKeyFile: out.KeyFile}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent = a
	return e
}

// runTLS runs an omniORB client over TLS with env, flags, the agent's and
// the target's IORs; it fails the test unless the client passes.
func (e *tlsSeedEnv) runTLS(t *testing.T, client string, env []string, flags ...string) []string {
	t.Helper()
	args := append(flags, e.agent.IOR().String(), e.target)
	p := peers.StartInEnv(t, e.dir, client, env, args...)
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("%s failed (%v):\n%s", client, err, p.Output())
	}
	return lines
}

// TestTLSInterop_PollingClient: omniORB's polling client over giop:ssl
// makes its two 2PIs through the agent to the omniORB target over TLS.
func TestTLSInterop_PollingClient(t *testing.T) {
	e := newTLSSeedEnv(t)
	got := e.runTLS(t, "polling_client", e.client)
	peers.CheckLines(t, "polling_client", got, peers.PollingTranscript())
	peers.CheckLines(t, "stock_server", e.server.Served(t, 2), []string{
		"add_stock ACME -> TRUE",
		"find_closest_symbol ACMA -> TRUE ACME",
	})
	if n := e.agent.ServerStats().TLSHandshakeFailures; n != 0 {
		t.Fatalf("%d TLS handshakes failed", n)
	}
}

// TestTLSInterop_RecipientByAddress: an omniORB recipient serving only
// giop:ssl gets its callbacks on a TLS connection the agent opens.
func TestTLSInterop_RecipientByAddress(t *testing.T) {
	e := newTLSSeedEnv(t)
	got := e.runTLS(t, "recipient_client", e.client,
		"-ORBendPoint", fmt.Sprintf("giop:ssl:127.0.0.1:%d", peers.FreePort(t)))
	checkRecipientRun(t, &e.seedEnv, got)
}

// TestTLSInterop_RecipientBidirBehindFirewall: a bidirectional omniORB
// recipient whose published TLS port is unreachable gets its callbacks
// over its own TLS connection to the agent.
func TestTLSInterop_RecipientBidirBehindFirewall(t *testing.T) {
	e := newTLSSeedEnv(t)
	trap, dials := trapListener(t)
	// recipient_client's own rule, "* unix,tcp,bidir", leaves ssl out and
	// comes before any -ORB argument; a configuration file's comes first.
	conf := filepath.Join(t.TempDir(), "omniORB.cfg")
	if err := os.WriteFile(conf, []byte("clientTransportRule = * unix,ssl,tcp,bidir\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := e.runTLS(t, "recipient_client", append(e.client, "OMNIORB_CONFIG="+conf), "--bidir",
		"-ORBendPoint", fmt.Sprintf("giop:ssl:127.0.0.1:%d", peers.FreePort(t)),
		"-ORBendPointPublish", fmt.Sprintf("giop:ssl:127.0.0.1:%d", trap))
	checkRecipientRun(t, &e.seedEnv, got)
	if n := dials.Load(); n != 0 {
		t.Fatalf("the agent dialed the recipient's published (unreachable) TLS address %d times; "+
			"callbacks to a bidir client must go over its own connection", n)
	}
}

// TestTLSInterop_ClientWithoutValidCertificateRefused: with mutual TLS
// required, an omniORB client whose certificate is from another CA gets
// nowhere: it fails, the handshake failure is counted, and nothing reaches
// the target.
func TestTLSInterop_ClientWithoutValidCertificateRefused(t *testing.T) {
	e := newTLSSeedEnv(t)
	other := testcert.NewCA(t, "other")
	// It trusts the agent's CA, but its own certificate is another's.
	env := []string{"PEER_SSL_CA=" + e.ca.File, "PEER_SSL_KEY=" + other.Client(t, "mallory").BothFile}
	p := peers.StartInEnv(t, e.dir, "polling_client", env, e.agent.IOR().String(), e.target)
	lines, err := p.Wait(t, 90*time.Second)
	if err == nil || (len(lines) > 0 && lines[len(lines)-1] == "PASS") {
		t.Fatalf("polling_client with a certificate from another CA passed:\n%s", p.Output())
	}
	for i := 0; e.agent.ServerStats().TLSHandshakeFailures == 0; i++ {
		if i == 2000 {
			t.Fatalf("no TLS handshake failure counted; client said:\n%s", p.Output())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(e.agent.Requests()); n != 0 {
		t.Fatalf("%d requests made by a refused client", n)
	}
}

// TestTLSInterop_RotatedCertificatePickedUp: an omniORB client that
// trusts only a new CA cannot use the agent until the agent's certificate
// files are rewritten with one that CA signed; after ReloadTLS (the
// command's SIGHUP) the same client makes its 2PIs, with no restart.
func TestTLSInterop_RotatedCertificatePickedUp(t *testing.T) {
	e := newTLSSeedEnv(t)
	next := testcert.NewCA(t, "next")
	// Its own certificate is from the agent's CA, which the agent trusts.
	env := []string{"PEER_SSL_CA=" + next.File, "PEER_SSL_KEY=" + e.ca.Server(t, "omniorb-client").BothFile}
	p := peers.StartInEnv(t, e.dir, "polling_client", env, e.agent.IOR().String(), e.target)
	if lines, err := p.Wait(t, 90*time.Second); err == nil || (len(lines) > 0 && lines[len(lines)-1] == "PASS") {
		t.Fatalf("polling_client trusting only the next CA passed before the rotation:\n%s", p.Output())
	}
	rotated := next.Server(t, "requestagent")
	copyFile(t, rotated.CertFile, e.certFile)
	copyFile(t, rotated.KeyFile, e.keyFile)
	if err := e.agent.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	peers.CheckLines(t, "polling_client", e.runTLS(t, "polling_client", env), peers.PollingTranscript())
}

// TestTLSInterop_CatiorReadsAgentReference: omniORB's catior reads the
// agent's TLS-only reference as it reads its own: port 0 and
// TAG_SSL_SEC_TRANS with the TLS port, supports and requires 102.
func TestTLSInterop_CatiorReadsAgentReference(t *testing.T) {
	e := newTLSSeedEnv(t)
	out, err := exec.CommandContext(t.Context(), peers.Catior(t), e.agent.IOR().String()).CombinedOutput()
	if err != nil {
		t.Fatalf("catior: %v\n%s", err, out)
	}
	want := fmt.Sprintf("TAG_SSL_SEC_TRANS port = %d supports 102 requires 102", e.agent.TLSPort())
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "127.0.0.1 0 ") {
		t.Fatalf("catior of the agent's reference lacks %q or port 0:\n%s", want, out)
	}
}

// TestTLSInterop_LeakedKeyRefusedForAnotherIdentity: with identity binding
// on, alice's omniORB client leaves a 2PI unread; bob's omniORB client,
// with a certificate from the same CA and alice's request reference, gets
// NO_PERMISSION completed NO for a pull and for destroy_request, and his
// poll of the same group name sees only his own (empty) group. Alice
// then pulls her reply, and the target ran the request once.
func TestTLSInterop_LeakedKeyRefusedForAnotherIdentity(t *testing.T) {
	e := newTLSSeedEnv(t)
	alice, bob := sslEnv(e.ca, e.ca.Client(t, "alice")), sslEnv(e.ca, e.ca.Client(t, "bob"))
	step := func(env []string, args ...string) []string {
		t.Helper()
		p := peers.StartInEnv(t, e.dir, "leaked_key_client", env, append(args[:1:1], append([]string{e.agent.IOR().String()}, args[1:]...)...)...)
		lines, err := p.Wait(t, 90*time.Second)
		if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
			t.Fatalf("leaked_key_client %s failed (%v):\n%s", args[0], err, p.Output())
		}
		return lines[:len(lines)-1]
	}
	made := step(alice, "make", e.target)
	if len(made) != 1 || !strings.HasPrefix(made[0], "REQUEST IOR:") {
		t.Fatalf("make printed %q, want the request's reference", made)
	}
	request := strings.TrimPrefix(made[0], "REQUEST ")
	if rs := e.agent.Requests(); len(rs) != 1 || rs[0].Identity != "CN=alice,O=test" {
		t.Fatalf("requests = %+v, want alice's one", rs)
	}

	used := step(bob, "use", request)
	if len(used) != 3 {
		t.Fatalf("use printed %q, want three lines", used)
	}
	for i, call := range []string{"add_stock", "destroy_request"} {
		line := used[2*i] // add_stock is line 0, destroy_request line 2
		if !strings.HasPrefix(line, call+" -> NO_PERMISSION minor=0x4e4d0018 ") || !strings.HasSuffix(line, "completed=NO") {
			t.Errorf("bob's %s with alice's reference: %q, want NO_PERMISSION minor OTHER_IDENTITY (0x4e4d0018) completed=NO", call, line)
		}
	}
	if !strings.HasPrefix(used[1], "poll -> PollingGroupIsEmpty") {
		t.Errorf("bob's poll of group \"leak\": %q, want PollingGroupIsEmpty (his own group, not alice's)", used[1])
	}

	peers.CheckLines(t, "alice's pull", step(alice, "pull", request), []string{"add_stock -> TRUE"})
	peers.CheckLines(t, "stock_server", e.server.Served(t, 1), []string{"add_stock ACME -> TRUE"})
	if rs := e.agent.Requests(); len(rs) != 0 {
		t.Fatalf("requests after alice's pull = %+v, want none (a reply read is trashed)", rs)
	}
}
