package giop

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// corbalocDefaultPort is the IIOP port a corbaloc address without one means
// (CORBA 3.0 §13.6.10.3, the IANA "corbaloc" port).
const corbalocDefaultPort = 2809

// corbalocMaxLen caps the URL length; real ones are well under 200 bytes.
const corbalocMaxLen = 4 << 10

// CorbalocAddress is one IIOP address of a corbaloc URL. Version is the IIOP
// (and so GIOP) version the client will use: 1.0 when the URL names none,
// as omniORB does (SPEC.md).
type CorbalocAddress struct {
	Version Version
	Host    string // without the brackets of an IPv6 literal
	Port    uint16
}

// Corbaloc is a parsed corbaloc URL: addresses to try in order and the
// object key (unescaped) they all serve.
type Corbaloc struct {
	Addresses []CorbalocAddress
	Key       []byte
}

// ParseCorbaloc parses an IIOP corbaloc URL (CORBA 3.0 §13.6.10; omniORB
// user guide ch. 7.1; SPEC.md):
//
//	corbaloc:iiop:1.2@host:port/key   explicit version and port
//	corbaloc::host:port/key           empty protocol is iiop; no version means GIOP 1.0
//	corbaloc:iiop:host/key            default port 2809
//	corbaloc::h1,:1.1@h2:1234/key     several addresses, each with its protocol
//	corbaloc::[::1]:2809/key          IPv6 literal in brackets
//
// The key may use %xx escapes and must not be empty; at most 32 addresses
// are accepted, as an IOR may have at most 32 profiles. Only IIOP 1.0–1.2 is
// accepted; rir, other protocols and corbaname are refused, since they do
// not name an address. Surrounding whitespace is ignored. Errors wrap
// ErrBadCorbaloc.
func ParseCorbaloc(s string) (*Corbaloc, error) {
	s = strings.TrimSpace(s)
	if len(s) > corbalocMaxLen {
		return nil, corbalocErr("URL of %d bytes exceeds the limit of %d", len(s), corbalocMaxLen)
	}
	const scheme = "corbaloc:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		if len(s) >= 10 && strings.EqualFold(s[:10], "corbaname:") {
			return nil, corbalocErr("corbaname URLs need a naming service lookup and are not supported")
		}
		return nil, corbalocErr("missing \"corbaloc:\" prefix")
	}
	rest := s[len(scheme):]
	addrList, rawKey, found := strings.Cut(rest, "/")
	if !found {
		return nil, corbalocErr("missing \"/\" and object key")
	}
	key, err := unescapeCorbalocKey(rawKey)
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, corbalocErr("empty object key")
	}
	c := &Corbaloc{Key: key}
	for a := range strings.SplitSeq(addrList, ",") {
		if len(c.Addresses) == iorMaxProfiles {
			// Each address becomes an IOR profile; keep within what we accept in an IOR.
			return nil, corbalocErr("more than %d addresses", iorMaxProfiles)
		}
		addr, err := parseCorbalocAddress(a)
		if err != nil {
			return nil, err
		}
		c.Addresses = append(c.Addresses, addr)
	}
	// The canonical form escapes raw bytes (1 → 3) and spells out versions
	// and ports, so it can outgrow the input. Holding it to the same limit
	// keeps String's result parseable (a fuzzer found this).
	if n := len(c.String()); n > corbalocMaxLen {
		return nil, corbalocErr("canonical form of %d bytes exceeds the limit of %d", n, corbalocMaxLen)
	}
	return c, nil
}

func corbalocErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadCorbaloc}, args...)...)
}

// parseCorbalocAddress parses "<prot>:[major.minor@]host[:port]".
func parseCorbalocAddress(a string) (CorbalocAddress, error) {
	prot, addr, found := strings.Cut(a, ":")
	if !found {
		if a == "" {
			return CorbalocAddress{}, corbalocErr("empty address")
		}
		return CorbalocAddress{}, corbalocErr("address %q has no protocol (write \":%s\" or \"iiop:%s\")", a, a, a)
	}
	switch strings.ToLower(prot) {
	case "", "iiop":
	case "rir":
		return CorbalocAddress{}, corbalocErr("corbaloc:rir: names an initial reference of the local ORB, not an address")
	default:
		return CorbalocAddress{}, corbalocErr("unsupported protocol %q (only iiop)", prot)
	}
	out := CorbalocAddress{Version: V1_0, Port: corbalocDefaultPort}
	if ver, hostPort, ok := strings.Cut(addr, "@"); ok {
		v, err := parseCorbalocVersion(ver)
		if err != nil {
			return CorbalocAddress{}, err
		}
		out.Version, addr = v, hostPort
	}
	host, port := addr, ""
	if strings.HasPrefix(addr, "[") {
		end := strings.IndexByte(addr, ']')
		if end < 0 {
			return CorbalocAddress{}, corbalocErr("unterminated IPv6 literal in %q", addr)
		}
		host, port = addr[1:end], addr[end+1:]
		// Zones ("%eth0") are refused: they mean nothing to the peer that
		// would receive this host in an IOR profile.
		if ip, err := netip.ParseAddr(host); err != nil || !ip.Is6() || ip.Zone() != "" {
			return CorbalocAddress{}, corbalocErr("invalid IPv6 literal %q", host)
		}
		if port != "" {
			if port[0] != ':' {
				return CorbalocAddress{}, corbalocErr("unexpected %q after IPv6 literal", port)
			}
			port = port[1:]
			if port == "" {
				return CorbalocAddress{}, corbalocErr("empty port in %q", a)
			}
		}
	} else {
		if strings.Count(addr, ":") > 1 {
			return CorbalocAddress{}, corbalocErr("too many ':' in %q (an IPv6 literal needs brackets)", addr)
		}
		var hasPort bool
		host, port, hasPort = strings.Cut(addr, ":")
		if hasPort && port == "" {
			return CorbalocAddress{}, corbalocErr("empty port in %q", a)
		}
		if err := checkCorbalocHost(host); err != nil {
			return CorbalocAddress{}, err
		}
	}
	out.Host = host
	if port != "" {
		p, err := parseCorbalocPort(port)
		if err != nil {
			return CorbalocAddress{}, err
		}
		out.Port = p
	}
	return out, nil
}

// parseCorbalocVersion parses "major.minor" and accepts IIOP 1.0–1.2.
func parseCorbalocVersion(s string) (Version, error) {
	maj, minr, ok := strings.Cut(s, ".")
	if !ok || !allDigits(maj) || !allDigits(minr) {
		return Version{}, corbalocErr("invalid version %q (want major.minor, e.g. 1.2)", s)
	}
	mj, err1 := strconv.ParseUint(maj, 10, 8)
	mn, err2 := strconv.ParseUint(minr, 10, 8)
	v := Version{uint8(mj), uint8(mn)}
	if err1 != nil || err2 != nil || !v.Supported() {
		return Version{}, corbalocErr("unsupported IIOP version %q (only 1.0–1.2)", s)
	}
	return v, nil
}

// parseCorbalocPort parses a decimal port 1–65535.
func parseCorbalocPort(s string) (uint16, error) {
	if !allDigits(s) {
		return 0, corbalocErr("invalid port %q", s)
	}
	p, err := strconv.ParseUint(s, 10, 16)
	if err != nil || p == 0 {
		return 0, corbalocErr("port %q out of range 1–65535", s)
	}
	return uint16(p), nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkCorbalocHost accepts DNS names and IPv4 literals: letters, digits,
// '-', '.', '_' (seen in some internal names). Anything else would be a
// typo or an injection into logs and ORB command lines.
func checkCorbalocHost(h string) error {
	if h == "" {
		return corbalocErr("empty host")
	}
	if len(h) > iorMaxHostLen {
		return corbalocErr("host of %d bytes exceeds the limit of %d", len(h), iorMaxHostLen)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !isAlnum(c) && c != '-' && c != '.' && c != '_' {
			return corbalocErr("invalid character %q in host %q", c, h)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// corbalocKeyUnescaped reports whether c may appear unescaped in a key
// string: US-ASCII alphanumerics and the characters §13.6.10.3 lists (the
// RFC 2396 unreserved marks and the reserved characters).
func corbalocKeyUnescaped(c byte) bool {
	return isAlnum(c) || strings.IndexByte(";/:?@&=+$,-_.!~*'()", c) >= 0
}

// unescapeCorbalocKey decodes %xx escapes. Other characters are taken as
// they are, except controls and space, which cannot be part of a URL.
func unescapeCorbalocKey(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return nil, corbalocErr("truncated %%-escape at offset %d of the key", i)
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, corbalocErr("invalid %%-escape %q in the key", s[i:i+3])
			}
			out = append(out, hi<<4|lo)
			i += 2
		case c <= ' ' || c == 0x7f:
			return nil, corbalocErr("control character or space %q in the key (escape it as %%%02X)", c, c)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// String returns the canonical form: every address as
// "iiop:major.minor@host:port" (so the GIOP 1.0 default is explicit),
// IPv6 hosts in brackets, and the key %-escaped except for the characters
// §13.6.10.3 allows. ParseCorbaloc of the result gives c back.
func (c *Corbaloc) String() string {
	var b strings.Builder
	b.WriteString("corbaloc:")
	for i, a := range c.Addresses {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "iiop:%d.%d@", a.Version.Major, a.Version.Minor)
		if strings.IndexByte(a.Host, ':') >= 0 {
			b.WriteString("[" + a.Host + "]")
		} else {
			b.WriteString(a.Host)
		}
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(int(a.Port)))
	}
	b.WriteByte('/')
	const hexDigits = "0123456789ABCDEF"
	for _, k := range c.Key {
		if corbalocKeyUnescaped(k) {
			b.WriteByte(k)
		} else {
			b.Write([]byte{'%', hexDigits[k>>4], hexDigits[k&15]})
		}
	}
	return b.String()
}

// IOR returns a reference with one IIOP profile per address, each with the
// address's version and no components. Without TAG_CODE_SETS an omniORB
// client sends no CodeSets context, and neither will ours, which is how a
// corbaloc reference behaves in omniORB (SPEC.md).
// typeID may be empty, as omniORB leaves it for corbaloc references.
func (c *Corbaloc) IOR(typeID string) *IOR {
	ior := &IOR{TypeID: typeID}
	for _, a := range c.Addresses {
		p := IIOPProfile{Version: a.Version, Host: a.Host, Port: a.Port, ObjectKey: c.Key}
		ior.Profiles = append(ior.Profiles, p.Profile())
	}
	return ior
}
