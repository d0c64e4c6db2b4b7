package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/internal/logevery"
	"github.com/requestagent/requestagent/nmproto"
)

// IIOP over TLS and client identity (giop/SPEC.md, "IIOP over TLS";
// docs/deploying.md, "TLS").
//
// The agent serves TLS on a listen point of its own, beside the plain one
// or instead of it; its references carry TAG_SSL_SEC_TRANS as omniORB's
// do, with port 0 in the profile when there is no plain listen point.
// Certificates and CA bundles are read from files at start and again on
// ReloadTLS (SIGHUP in the command), or when an inbound handshake finds
// them changed (looked at once a second at most): a handshake takes
// whatever was loaded last, through GetConfigForClient, so nothing
// restarts.

// ClientAuth says whether the TLS listen point asks clients for a
// certificate.
type ClientAuth string

// The ClientAuth values (--tls-client-auth).
const (
	// ClientAuthNone asks for none.
	ClientAuthNone ClientAuth = "none"
	// ClientAuthRequest asks for one and verifies it when given: a client
	// without one is served, with no identity.
	ClientAuthRequest ClientAuth = "request"
	// ClientAuthRequire refuses the handshake of a client without a
	// certificate that verifies against CAFile (mutual TLS).
	ClientAuthRequire ClientAuth = "require"
)

// TLSConfig configures IIOP over TLS. The zero value is no TLS at all.
type TLSConfig struct {
	// Listen is the TCP address of the TLS listen point; "" for none.
	Listen string
	// Only serves TLS alone: no plain listen point is opened, and the
	// references' profiles carry port 0 (as omniORB's with only a
	// giop:ssl endpoint), so a client can reach the agent over TLS only.
	Only bool
	// CertFile and KeyFile are the agent's certificate chain and key (PEM)
	// for the TLS listen point.
	CertFile, KeyFile string
	// CAFile is the bundle (PEM) client certificates are verified
	// against; needed unless ClientAuth is none.
	CAFile string
	// ClientAuth is none (the default), request or require.
	ClientAuth ClientAuth
	// OutboundCAFile is the trust store (PEM) for targets' and
	// recipients' certificates; "" takes the system's.
	OutboundCAFile string
	// OutboundCertFile and OutboundKeyFile are the certificate the agent
	// presents to targets and recipients that ask for one; "" for none.
	OutboundCertFile, OutboundKeyFile string
	// BindIdentity binds each proxy and request to the TLS identity of
	// the client that created it: a call on it, or on its receiver,
	// poller or request object, from another identity or none is
	// NO_PERMISSION completed NO. Objects created without an identity
	// are not bound. Reply holders are not bound: they are handed to the
	// recipient, who may be someone else.
	BindIdentity bool
}

// Enabled reports whether the agent serves TLS.
func (c *TLSConfig) Enabled() bool { return c.Listen != "" }

// validate checks the fields that can be checked without reading files.
func (c *TLSConfig) validate() error {
	bad := func(field, v, why string) error { return configerr.Quoted(ErrBadConfig, field, v, why) }
	switch c.ClientAuth {
	case "", ClientAuthNone, ClientAuthRequest, ClientAuthRequire:
	default:
		return bad("tls-client-auth", string(c.ClientAuth), "must be none, request or require")
	}
	if !c.Enabled() {
		if c.Only {
			return bad("tls-only", "true", "needs a TLS listen point (tls-listen)")
		}
		if c.BindIdentity {
			return bad("bind-identity", "true", "needs a TLS listen point (tls-listen)")
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		return bad("tls-listen", c.Listen, "must be host:port")
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return bad("tls-cert", c.CertFile, "a TLS listen point needs a certificate and a key (tls-cert, tls-key)")
	}
	if c.ClientAuth != "" && c.ClientAuth != ClientAuthNone && c.CAFile == "" {
		return bad("tls-ca", "", "client authentication needs a CA bundle (tls-ca)")
	}
	if (c.OutboundCertFile == "") != (c.OutboundKeyFile == "") {
		return bad("tls-outbound-cert", c.OutboundCertFile, "needs tls-outbound-key too, and the other way round")
	}
	return nil
}

// tlsState is what was loaded from the files last.
type tlsState struct {
	server   *tls.Config // for GetConfigForClient; nil without a listen point
	outbound *tls.Config
}

// tlsFiles holds the loaded state; ReloadTLS swaps it.
type tlsFiles struct {
	cfg TLSConfig
	cur atomic.Pointer[tlsState]
	// checked is when the files were last looked at for a change (Unix
	// nanoseconds), stamp what they looked like then; reload is called
	// when they changed (see changed).
	checked atomic.Int64
	stamp   atomic.Pointer[string]
	reload  func()
}

// recheck is how often, at most, an inbound handshake looks whether the
// files changed: a stat of each, a few microseconds, once a second.
const recheck = time.Second

// stampNow describes the files as they are: size and modification time.
func (f *tlsFiles) stampNow() string {
	var b strings.Builder
	for _, name := range []string{f.cfg.CertFile, f.cfg.KeyFile, f.cfg.CAFile, f.cfg.OutboundCAFile,
		f.cfg.OutboundCertFile, f.cfg.OutboundKeyFile} {
		if name == "" {
			continue
		}
		if fi, err := os.Stat(name); err == nil {
			fmt.Fprintf(&b, "%s %d %d;", name, fi.Size(), fi.ModTime().UnixNano())
		}
	}
	return b.String()
}

// changed reports, at most once per recheck, whether the files changed
// since they were last loaded.
func (f *tlsFiles) changed() bool {
	now := time.Now().UnixNano()
	last := f.checked.Load()
	if now-last < int64(recheck) || !f.checked.CompareAndSwap(last, now) {
		return false
	}
	s := f.stampNow()
	if old := f.stamp.Load(); old != nil && *old == s {
		return false
	}
	return true
}

// load reads every file the configuration names.
func (f *tlsFiles) load() (*tlsState, error) {
	c := &f.cfg
	st := &tlsState{}
	if c.Enabled() {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("agent: TLS certificate %s, key %s: %w", c.CertFile, c.KeyFile, err)
		}
		st.server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		switch c.ClientAuth {
		case ClientAuthRequest:
			st.server.ClientAuth = tls.VerifyClientCertIfGiven
		case ClientAuthRequire:
			st.server.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if c.CAFile != "" {
			pool, err := loadPool(c.CAFile)
			if err != nil {
				return nil, err
			}
			st.server.ClientCAs = pool
		}
	}
	st.outbound = &tls.Config{MinVersion: tls.VersionTLS12}
	if c.OutboundCAFile != "" {
		pool, err := loadPool(c.OutboundCAFile)
		if err != nil {
			return nil, err
		}
		st.outbound.RootCAs = pool
	}
	if c.OutboundCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.OutboundCertFile, c.OutboundKeyFile)
		if err != nil {
			return nil, fmt.Errorf("agent: outbound TLS certificate %s, key %s: %w", c.OutboundCertFile, c.OutboundKeyFile, err)
		}
		st.outbound.Certificates = []tls.Certificate{cert}
	}
	return st, nil
}

// loadPool reads a CA bundle.
func loadPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("agent: CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%w: CA bundle %s holds no PEM certificate", ErrBadConfig, file)
	}
	return pool, nil
}

// listenerConfig is the TLS listen point's configuration: each handshake
// takes the state loaded last.
func (f *tlsFiles) listenerConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			if f.reload != nil && f.changed() {
				f.reload() // this handshake already takes the new files
			}
			return f.cur.Load().server, nil
		}}
}

// ReloadTLS reads the TLS certificates, keys and CA bundles again: the
// next handshakes, inbound and outbound, use them; connections already
// open keep theirs. On an error nothing changes. A no-op without TLS.
func (a *Agent) ReloadTLS() error {
	if a.tls == nil {
		return nil
	}
	stamp := a.tls.stampNow()
	st, err := a.tls.load()
	if err != nil {
		// Not again until the files change once more.
		a.tls.stamp.Store(&stamp)
		a.log.Error().Err(err).Msg("agent: TLS reload failed; the certificates loaded before stay in use")
		return err
	}
	a.tls.stamp.Store(&stamp)
	a.tls.cur.Store(st)
	a.client.SetTLS(st.outbound)
	a.log.Info().Msg("agent: TLS certificates and CA bundles reloaded")
	return nil
}

// TLSPort returns the port of the TLS listen point, 0 without one.
func (a *Agent) TLSPort() int {
	if a.tlsLn == nil {
		return 0
	}
	return a.tlsLn.Addr().(*net.TCPAddr).Port
}

// sslComponent is the TAG_SSL_SEC_TRANS component of the agent's
// references; ok false without a TLS listen point.
func (a *Agent) sslComponent() (giop.TaggedComponent, bool) {
	if a.tlsLn == nil {
		return giop.TaggedComponent{}, false
	}
	return giop.SSLComponent{Supports: giop.OmniORBSSLOptions, Requires: giop.OmniORBSSLOptions,
		Port: uint16(a.TLSPort())}.Component(), true
}

// logTLS states at start-up what TLS enforces.
func (a *Agent) logTLS() {
	c := &a.cfg.TLS
	if !c.Enabled() {
		return
	}
	auth := c.ClientAuth
	if auth == "" {
		auth = ClientAuthNone
	}
	plain := "plain IIOP also served"
	if c.Only {
		plain = "plain IIOP not served"
	}
	out := "system trust store"
	if c.OutboundCAFile != "" {
		out = c.OutboundCAFile
	}
	a.log.Info().Str("tls_listen", a.tlsLn.Addr().String()).Str("client_auth", string(auth)).
		Bool("bind_identity", c.BindIdentity).Bool("tls_only", c.Only).Str("outbound_trust", out).
		Bool("outbound_client_cert", c.OutboundCertFile != "").
		Msg("agent: serving IIOP over TLS (TLS 1.2+), client certificates " + string(auth) + "; " + plain)
}

// maxIdentityLen bounds a stored identity (a distinguished name or SAN).
const maxIdentityLen = 4096

// identityHandler refuses, when the objects are bound to identities, the
// calls on an object from a connection of another identity, and its
// LocateRequests, which would otherwise tell that peer whether the object
// exists; the rest goes to the adapter.
type identityHandler struct {
	a *Agent
	h giop.Handler
}

func (h identityHandler) Locate(key []byte) bool { return h.h.Locate(key) }

// LocateConn implements giop.ConnLocator: another identity learns from a
// LocateRequest what a call tells it, NO_PERMISSION completed NO (or, on
// GIOP 1.0 and 1.1, UNKNOWN_OBJECT; giop/SPEC.md "Requests and replies").
func (h identityHandler) LocateConn(c *giop.Conn, key []byte) (bool, *giop.SystemException) {
	if x := h.a.refuseOn(c, "LocateRequest", key); x != nil {
		return false, x
	}
	return h.h.Locate(key), nil
}

func (h identityHandler) ServeGIOP(ctx context.Context, req *giop.ServerRequest) error {
	if err := h.a.refuseOther(req, req.ObjectKey()); err != nil {
		return err
	}
	return h.h.ServeGIOP(ctx, req)
}

// refuseOther is the NO_PERMISSION, completed NO, of a call from another
// identity than the one the object of key is bound to; nil when the call
// may go on.
func (a *Agent) refuseOther(req *giop.ServerRequest, key []byte) error {
	if x := a.refuseOn(req.Conn, req.Operation(), key); x != nil {
		return x
	}
	return nil
}

// refuseOn is refuseOther for what arrived on c: a call of operation, or
// a LocateRequest.
func (a *Agent) refuseOn(c *giop.Conn, operation string, key []byte) *giop.SystemException {
	owner, ok := a.owner(key)
	if !ok || owner == "" || owner == c.PeerIdentity() {
		return nil
	}
	a.metrics.otherIdentity.Inc()
	if n, ok := a.identityRefusals.Note(time.Now()); ok {
		a.log.Warn().Str("identity", c.PeerIdentity()).Str("operation", operation).
			Uint64(logevery.Field, n).
			Msg("agent: call refused: the object is bound to another TLS identity (a leaked reference?)")
	}
	return giop.NewSystemExceptionCause(giop.ExcNoPermission, nmproto.OtherIdentity, giop.CompletedNo,
		fmt.Errorf("%w (%s)", errOtherIdentity, strings.TrimSpace(c.PeerIdentity())))
}

// checkOwner is refuseOther for an object named by a reference in the
// arguments (RequestAgent::destroy_request), when objects are bound.
func (a *Agent) checkOwner(req *giop.ServerRequest, ref *giop.IOR) error {
	if !a.cfg.TLS.BindIdentity {
		return nil
	}
	prof, err := ref.IIOP()
	if err != nil {
		return nil
	}
	return a.refuseOther(req, prof.ObjectKey)
}

// owner returns the identity the object of key was created by.
func (a *Agent) owner(key []byte) (string, bool) {
	kind, id, ok := parseKey(key)
	if !ok {
		return "", false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch kind {
	case keyProxy:
		if p := a.proxies[id]; p != nil {
			return p.identity, true
		}
	case keyReceiver:
		if p := a.receivers[id]; p != nil {
			return p.identity, true
		}
	case keyRequest, keyPoller:
		if r := a.groups.Value(id); r != nil {
			return r.identity, true
		}
	}
	return "", false
}

// tlsFailures is requestagent_tls_handshake_failures_total for one
// direction: inbound (clients of the TLS listen point: no or a bad
// certificate, a stalled handshake) or outbound (targets and recipients
// whose certificate does not verify, or that refuse the agent's).
func tlsFailures(direction string, f func() uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_tls_handshake_failures_total",
		Help:        "TLS handshakes that failed or timed out, by direction.",
		ConstLabels: prometheus.Labels{"direction": direction}}, func() float64 { return float64(f()) })
}

// ServerStats returns the counters of the agent's GIOP server.
func (a *Agent) ServerStats() giop.ServerStats { return a.server.Stats() }

// OutboundStats returns the counters of the agent's connections to
// targets and recipients.
func (a *Agent) OutboundStats() giop.OutboundStats { return a.client.Stats() }
