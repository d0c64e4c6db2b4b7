package giop

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/requestagent/requestagent/internal/logevery"
)

// IIOP over TLS (giop/SPEC.md, "IIOP over TLS").
//
// A reference says it can be reached over TLS with a TAG_SSL_SEC_TRANS
// component (CORBA Security Service, SSLIOP): the TLS port on the
// profile's host, and what the target supports and requires. omniORB
// 4.2.5 publishes it with supports = requires = 102 (Integrity,
// Confidentiality, EstablishTrustInTarget, EstablishTrustInClient) and,
// when it has no plain endpoint, the IIOP profile's port 0. A server
// takes TLS connections on a listener of its own (ServeTLS); a client
// dials TLS to a profile with the component (Client.SetTLS).

// TagSSLSecTrans is the component tag of TAG_SSL_SEC_TRANS (IOP::ComponentId
// 20; the CORBA Security Service's SSLIOP module).
const TagSSLSecTrans uint32 = 20

// Security::AssociationOptions bits of an SSL component (CORBA Security
// Service). omniORB sets the four below on both sides.
const (
	AssocIntegrity              uint16 = 0x02
	AssocConfidentiality        uint16 = 0x04
	AssocEstablishTrustInTarget uint16 = 0x20
	AssocEstablishTrustInClient uint16 = 0x40
)

// OmniORBSSLOptions are the association options omniORB 4.2.5 publishes
// in target_supports and target_requires (102), which our references
// repeat: a peer that knows omniORB's references knows ours.
const OmniORBSSLOptions = AssocIntegrity | AssocConfidentiality | AssocEstablishTrustInTarget | AssocEstablishTrustInClient

// SSLComponent is the body of a TAG_SSL_SEC_TRANS component:
// SSLIOP::SSL { AssociationOptions target_supports, target_requires;
// unsigned short port; }.
type SSLComponent struct {
	Supports, Requires uint16
	Port               uint16
}

// Component encodes s as a TAG_SSL_SEC_TRANS component in the standard
// form: a little-endian encapsulation of three unsigned shorts, 8 octets.
func (s SSLComponent) Component() TaggedComponent {
	e := NewEncoder(V1_2, true)
	e.WriteBool(true)
	e.WriteUShort(s.Supports)
	e.WriteUShort(s.Requires)
	e.WriteUShort(s.Port)
	return TaggedComponent{Tag: TagSSLSecTrans, Data: e.Bytes()}
}

// ParseSSLComponent decodes the component_data of a TAG_SSL_SEC_TRANS
// component. An encapsulation of 8 octets is the standard form; any other
// length is read, as omniORB reads it, as VisiBroker's form with unsigned
// longs for the two option sets (their high halves dropped). Errors wrap
// ErrBadIOR.
func ParseSSLComponent(data []byte) (SSLComponent, error) {
	d := DecodeEncapsulation(data, V1_2)
	var s SSLComponent
	if len(data) == 8 {
		s.Supports = d.UShort()
		s.Requires = d.UShort()
	} else {
		s.Supports = uint16(d.ULong())
		s.Requires = uint16(d.ULong())
	}
	s.Port = d.UShort()
	if err := d.Err(); err != nil {
		return SSLComponent{}, fmt.Errorf("%w: TAG_SSL_SEC_TRANS component: %w", ErrBadIOR, err)
	}
	return s, nil
}

// SSL returns the profile's TAG_SSL_SEC_TRANS component; false when there
// is none, it cannot be decoded, or its port is 0.
func (p *IIOPProfile) SSL() (SSLComponent, bool) {
	c, ok := p.Component(TagSSLSecTrans)
	if !ok {
		return SSLComponent{}, false
	}
	s, err := ParseSSLComponent(c.Data)
	return s, err == nil && s.Port != 0
}

// AddressPort is the port that names the profile's endpoint: the plain
// port, or the SSL component's when the profile has no plain port (a
// TLS-only reference, whose plain port 0 names nothing). For naming
// targets and recipients apart, not for dialling: see callPort.
func (p *IIOPProfile) AddressPort() uint16 {
	if p.Port == 0 {
		if s, ok := p.SSL(); ok {
			return s.Port
		}
	}
	return p.Port
}

// callPort returns the port a call to the profile goes to and whether
// over TLS: the SSL component's port when the profile has one and the
// client dials TLS (withTLS) or the profile has no plain port; else the
// plain port.
func (p *IIOPProfile) callPort(withTLS bool) (uint16, bool) {
	if s, ok := p.SSL(); ok && (withTLS || p.Port == 0) {
		return s.Port, true
	}
	return p.Port, false
}

// PeerIdentity returns the identity a TLS peer's certificate gives: its
// subject's distinguished name (subjectDN), or when that is empty its
// first subject alternative name (URI, DNS name, e-mail address, IP
// address, in that order). Empty for no certificate.
func PeerIdentity(cert *x509.Certificate) string {
	if cert == nil {
		return ""
	}
	id := ""
	switch s := subjectDN(cert); {
	case s != "":
		id = s
	// Each SAN kind has a prefix no distinguished name can start with
	// (an attribute type is a keyword or a dotted number, then "="), so a
	// SAN never reads as another certificate's subject.
	case len(cert.URIs) > 0:
		id = "URI:" + cert.URIs[0].String()
	case len(cert.DNSNames) > 0:
		id = "DNS:" + cert.DNSNames[0]
	case len(cert.EmailAddresses) > 0:
		id = "email:" + cert.EmailAddresses[0]
	case len(cert.IPAddresses) > 0:
		id = "IP:" + cert.IPAddresses[0].String()
	}
	if len(id) > MaxIdentityLen {
		// Stored with every object its holder makes: bounded, and still
		// one identity per certificate subject.
		sum := sha256.Sum256([]byte(id))
		id = "sha256:" + hex.EncodeToString(sum[:])
	}
	return id
}

// subjectDN names the certificate's subject. x509's parsed Subject,
// which earlier releases stored as the identity, folds some names into
// others: a multi-valued RDN is flattened and only the last CN and
// serialNumber are kept, so "/CN=bob/CN=alice/O=example" and
// "/CN=alice+O=example" both read "CN=alice,O=example", alice's identity.
// A subject it does not fold keeps that rendering, so identities stored
// before stay their certificates' (attributes in another order are one
// identity, as there). A subject it folds is rendered whole from the
// certificate's bytes, every attribute in order (RFC 4514), after "DN:",
// which no rendering of x509's starts with: it is nobody else's. A subject
// that does not parse (x509 parsed it, so it should) is its digest; a
// certificate built in memory, without its bytes, is its parsed Subject.
func subjectDN(cert *x509.Certificate) string {
	if len(cert.RawSubject) == 0 {
		return cert.Subject.String()
	}
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(cert.RawSubject, &seq); err != nil || len(rest) != 0 {
		sum := sha256.Sum256(cert.RawSubject)
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	if !folds(seq) {
		return cert.Subject.String()
	}
	return "DN:" + seq.String()
}

// folds reports whether x509's parsed Subject loses part of seq: an RDN of
// several attributes, or a second CN or serialNumber.
func folds(seq pkix.RDNSequence) bool {
	cn, serial := 0, 0
	for _, rdn := range seq {
		if len(rdn) > 1 {
			return true
		}
		for _, atv := range rdn {
			switch {
			case atv.Type.Equal(oidCommonName):
				cn++
			case atv.Type.Equal(oidSerialNumber):
				serial++
			}
		}
	}
	return cn > 1 || serial > 1
}

// The attribute types x509's Subject keeps one of.
var (
	oidCommonName   = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidSerialNumber = asn1.ObjectIdentifier{2, 5, 4, 5}
)

// MaxIdentityLen bounds an identity PeerIdentity returns: a longer one
// (a subject of many attributes) is given as "sha256:" and the hex
// digest of it.
const MaxIdentityLen = 1024

// connIdentity is the verified peer identity of a TLS connection whose
// handshake is done; empty for a plain one or a peer without certificate.
func connIdentity(nc net.Conn) string {
	tc, ok := nc.(*tls.Conn)
	if !ok {
		return ""
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) == 0 {
		return ""
	}
	return PeerIdentity(st.PeerCertificates[0])
}

// PeerIdentity returns the TLS identity of the connection's peer (see the
// function PeerIdentity): empty on a plain connection or when the peer
// gave no certificate.
func (c *Conn) PeerIdentity() string {
	if c == nil {
		return ""
	}
	return c.identity
}

// ServeTLS is Serve for a TLS listen point: each connection accepted on
// ln (a plain TCP listener) does the TLS handshake of cfg, TLS 1.2 at
// least whatever cfg says, within TLSHandshakeTimeout, and is served as a
// GIOP connection once it is done. A connection in its handshake counts
// against MaxConnections; one whose handshake fails or times out is
// closed, counted in ServerStats.TLSHandshakeFailures and logged at warn
// with its reason and peer, once a second at most (the line says how many
// failed since the last one).
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	cfg = cfg.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return s.serve(ln, cfg)
}

// acceptTLS starts the handshake of a connection accepted on a TLS
// listen point, if there is room for it.
func (s *Server) acceptTLS(nc net.Conn, cfg *tls.Config) {
	s.mu.Lock()
	if !s.roomFor(nc, true) {
		return
	}
	s.handshaking[nc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true) // accept sees the *tls.Conn, not this
	}
	go func() {
		defer s.wg.Done()
		tc := tls.Server(nc, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.TLSHandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		s.mu.Lock()
		delete(s.handshaking, nc)
		s.mu.Unlock()
		if err != nil {
			s.tlsFailures.Add(1)
			// At warn: an expired or foreign certificate, none, an old TLS
			// version or plain IIOP on the TLS port is what an operator
			// needs to see to know why clients are refused; once a second
			// at most, since any peer can fail handshakes at will.
			if n, ok := s.handshakeLog.Note(time.Now()); ok {
				s.cfg.Logger.Warn().Err(err).Str("peer", nc.RemoteAddr().String()).Uint64(logevery.Field, n).
					Msg("giop: TLS handshake failed")
			}
			nc.Close()
			return
		}
		s.accept(tc)
	}()
}

// SetTLS makes the client dial TLS, with cfg (TLS 1.2 at least), to every
// profile that has a TAG_SSL_SEC_TRANS component, to the component's port;
// cfg's ServerName is set per call to the profile's host. Without it (nil)
// the client dials TLS only to profiles that have no plain port, with the
// system's trust store. Call it before the first call.
func (c *Client) SetTLS(cfg *tls.Config) {
	if cfg != nil {
		cfg = cfg.Clone()
		if cfg.MinVersion < tls.VersionTLS12 {
			cfg.MinVersion = tls.VersionTLS12
		}
	}
	c.mu.Lock()
	c.tls = cfg
	c.mu.Unlock()
}

// maxTLSLogged bounds the targets whose TLS failure was logged.
const maxTLSLogged = 4096

// handshake runs the client side of a TLS handshake on nc to host. A
// failure is TRANSIENT completed NO (nothing was sent: SPEC.md), counted,
// and logged once per address.
func (c *Client) handshake(ctx context.Context, nc net.Conn, host string, key epKey) (net.Conn, error) {
	c.mu.Lock()
	cfg := c.tls
	c.mu.Unlock()
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, c.cfg.TLSHandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		c.tlsFailures.Add(1)
		c.mu.Lock()
		_, logged := c.tlsLogged[key.addr]
		if !logged {
			if len(c.tlsLogged) >= maxTLSLogged {
				clear(c.tlsLogged)
			}
			c.tlsLogged[key.addr] = struct{}{}
		}
		c.mu.Unlock()
		if !logged {
			c.cfg.Logger.Warn().Err(err).Stringer("peer", key.addr).Str("host", host).
				Msg("giop: TLS handshake with target failed (logged once per target)")
		}
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo,
			cause: fmt.Errorf("%w with %s: %w", ErrTLSHandshake, key.addr, err)}
	}
	return tc, nil
}
