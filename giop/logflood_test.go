package giop_test

import (
	"crypto/tls"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/logevery"
	"github.com/requestagent/requestagent/internal/testcert"
)

// Lines a peer can trigger at will are logged once a second at most for
// each kind, with the count since the last line (server.go, tls.go;
// internal/logevery); ServerStats counts every one.

// logLines returns the JSON log lines of s whose message is msg.
func logLines(t *testing.T, s *syncBuffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// wantLines checks that msg was logged n times, at warn, the last line
// with count in its count field.
func wantLines(t *testing.T, logs *syncBuffer, msg string, n int, count float64) map[string]any {
	t.Helper()
	ls := logLines(t, logs, msg)
	if len(ls) != n {
		t.Fatalf("%q logged %d times, want %d", msg, len(ls), n)
	}
	last := ls[n-1]
	if last["level"] != "warn" || last[logevery.Field] != count {
		t.Fatalf("%q: level %v, %s %v; want warn, %v", msg, last["level"], logevery.Field, last[logevery.Field], count)
	}
	return last
}

// dialAndDrop opens a TCP connection to addr and closes it.
func dialAndDrop(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestLogs_RefusedConnectionsThrottled: 100 connections refused on a full
// server are one warn line, and the next line, a second later, says how
// many were refused since (this one included); Refused counts them all.
func TestLogs_RefusedConnectionsThrottled(t *testing.T) {
	const n = 100
	var logs syncBuffer
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = 1
	cfg.Logger = zerolog.New(&logs)
	srv, ref, _ := testServer(t, cfg, nil)
	prof, _ := ref.IIOP()
	addr := net.JoinHostPort(prof.Host, strconv.Itoa(int(prof.Port)))
	held, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	waitStat(t, func() uint64 { return srv.Stats().Open }, 1)
	for range n {
		dialAndDrop(t, addr)
	}
	if got := waitStat(t, func() uint64 { return srv.Stats().Refused }, n); got != n {
		t.Fatalf("Refused = %d, want %d", got, n)
	}
	const msg = "giop: connection refused: too many connections"
	wantLines(t, &logs, msg, 1, 1)
	time.Sleep(logevery.Interval + 50*time.Millisecond)
	dialAndDrop(t, addr)
	waitStat(t, func() uint64 { return srv.Stats().Refused }, n+1)
	wantLines(t, &logs, msg, 2, n)
}

// TestLogs_RefusedTLSConnectionsThrottledByKind: on a TLS listen point,
// refusals for a full server and for too many handshakes are each one
// line for a burst: the one kind does not silence the other.
func TestLogs_RefusedTLSConnectionsThrottledByKind(t *testing.T) {
	const n = 50
	ca := testcert.NewCA(t, "ca")
	srvCert := ca.Server(t, "server")
	var logs syncBuffer
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = 3 // handshakes take 1 place at most
	cfg.TLSHandshakeTimeout = time.Minute
	cfg.Logger = zerolog.New(&logs)
	srv, _, tcpAddr := tlsServer(t, cfg, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS}})
	addr := tcpAddr.String()
	var done []*tls.Conn
	for i := range 2 {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		done = append(done, c)
		waitStat(t, func() uint64 { return srv.Stats().Open }, uint64(i+1))
	}
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	waitStat(t, func() uint64 { return srv.Stats().Handshaking }, 1)
	for range n {
		dialAndDrop(t, addr)
	}
	waitStat(t, func() uint64 { return srv.Stats().Refused }, n)
	wantLines(t, &logs, "giop: TLS connection refused: too many connections", 1, 1)

	done[0].Close()
	waitStat(t, func() uint64 { return srv.Stats().Open }, 1)
	for range n {
		dialAndDrop(t, addr)
	}
	if got := waitStat(t, func() uint64 { return srv.Stats().Refused }, 2*n); got != 2*n {
		t.Fatalf("Refused = %d, want %d", got, 2*n)
	}
	wantLines(t, &logs, "giop: TLS connection refused: too many handshakes in progress", 1, 1)
	wantLines(t, &logs, "giop: TLS connection refused: too many connections", 1, 1)
}

// TestLogs_HandshakeFailuresAtWarnThrottled: failed inbound handshakes —
// no certificate, another CA's, TLS 1.1, plain bytes — are logged at
// warn, so an operator sees why clients are refused, and once a second
// at most: the line after a burst says how many failed since, with the
// reason and peer of the last.
func TestLogs_HandshakeFailuresAtWarnThrottled(t *testing.T) {
	ca, other := testcert.NewCA(t, "ca"), testcert.NewCA(t, "other")
	srvCert := ca.Server(t, "server")
	var logs syncBuffer
	cfg := giop.DefaultConfig()
	cfg.Logger = zerolog.New(&logs)
	srv, _, tcpAddr := tlsServer(t, cfg, &tls.Config{Certificates: []tls.Certificate{srvCert.TLS},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()})
	addr := tcpAddr.String()
	failures := func() uint64 { return srv.Stats().TLSHandshakeFailures }
	tlsTry := func(c *tls.Config) {
		c.RootCAs = ca.Pool()
		if tc, err := tls.Dial("tcp", addr, c); err == nil {
			// TLS 1.3: the server refuses after the client's side is done.
			tc.SetReadDeadline(time.Now().Add(10 * time.Second))
			tc.Read(make([]byte, 1))
			tc.Close()
		}
	}
	plain := func() net.Addr {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GIOP\x01\x02\x01\x00\x00\x00\x00\x00"))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			if _, err := c.Read(make([]byte, 64)); err != nil {
				return c.LocalAddr()
			}
		}
	}
	tlsTry(&tls.Config{})
	tlsTry(&tls.Config{Certificates: []tls.Certificate{other.Client(t, "mallory").TLS}})
	tlsTry(&tls.Config{Certificates: []tls.Certificate{ca.Client(t, "old").TLS}, MaxVersion: tls.VersionTLS11})
	plain()
	if got := waitStat(t, failures, 4); got != 4 {
		t.Fatalf("TLSHandshakeFailures = %d, want 4", got)
	}
	const msg = "giop: TLS handshake failed"
	wantLines(t, &logs, msg, 1, 1)
	time.Sleep(logevery.Interval + 50*time.Millisecond)
	peer := plain()
	waitStat(t, failures, 5)
	last := wantLines(t, &logs, msg, 2, 4)
	if last["peer"] != peer.String() || !strings.Contains(last["error"].(string), "does not look like a TLS handshake") {
		t.Fatalf("last line: peer %v, error %v; want %s and the plain bytes' reason", last["peer"], last["error"], peer)
	}
}
