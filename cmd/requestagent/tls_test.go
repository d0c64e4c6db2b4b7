package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/testcert"
)

// TestServe_TLSFlagsLogAndSIGHUP: the real binary with the TLS flags says
// at start what it enforces, serves TLS 1.2+ with mutual TLS, refuses a
// client without a certificate (counted in
// requestagent_tls_handshake_failures_total), and after its certificate
// files are rewritten and it gets SIGHUP serves the new certificate,
// without a restart.
func TestServe_TLSFlagsLogAndSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "ca")
	cert, key := filepath.Join(dir, "agent.pem"), filepath.Join(dir, "agent.key")
	first := ca.Server(t, "agent")
	install := func(l *testcert.Leaf) {
		for from, to := range map[string]string{l.CertFile: cert, l.KeyFile: key} {
			b, err := os.ReadFile(from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(to, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(first)
	tlsPort := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), peers.FreePort(t), "--tls-listen", fmt.Sprintf("127.0.0.1:%d", tlsPort),
		"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca.File, "--tls-client-auth", "require", "--bind-identity")
	log := p.stderr.String()
	for _, want := range []string{"serving IIOP over TLS (TLS 1.2+)", `"client_auth":"require"`, `"bind_identity":true`,
		`"tls_only":false`, fmt.Sprintf(`"tls_listen":"127.0.0.1:%d"`, tlsPort)} {
		if !strings.Contains(log, want) {
			t.Errorf("the start-up log lacks %s:\n%s", want, log)
		}
	}
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(tlsPort))
	alice := ca.Client(t, "alice")
	served := func() string {
		t.Helper()
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{alice.TLS}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	if got := served(); got != first.Cert.SerialNumber.String() {
		t.Fatalf("serial %s served, want %s", got, first.Cert.SerialNumber)
	}
	// No client certificate: under TLS 1.3 the refusal comes with the
	// first read.
	if c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()}); err == nil {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("a client without a certificate was served")
		}
		c.Close()
	}
	metrics := "http://" + p.adminAddr + "/metrics"
	for i := 0; !strings.Contains(get(t, metrics), `requestagent_tls_handshake_failures_total{direction="inbound"} 1`); i++ {
		if i == 1000 {
			t.Fatalf("the refused handshake is not counted:\n%s", grep(get(t, metrics), "tls_handshake"))
		}
		time.Sleep(10 * time.Millisecond)
	}

	next := ca.Server(t, "agent")
	install(next)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for i := 0; served() != next.Cert.SerialNumber.String(); i++ {
		if i == 1000 {
			t.Fatalf("the rotated certificate is not served after SIGHUP:\n%s", p.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(p.stderr.String(), "TLS certificates and CA bundles reloaded") {
		t.Errorf("the reload is not logged")
	}
}
