package agent

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
)

// Published addresses (docs/deploying.md): what the agent puts in every
// reference it hands out, so that clients on other machines reach it.
// Config.Host names them, comma-separated, each a host or host:port; the
// first goes in the IIOP profile and the others in
// TAG_ALTERNATE_IIOP_ADDRESS components, which ORBs such as omniORB try in
// turn. Unset, the agent publishes what omniORB publishes by default: the
// listening address when it is a specific one, else the host's first
// non-loopback IPv4 address (then IPv6), and the loopback address only
// when there is nothing else — with a warning, since such references reach
// nobody on another machine.

// published is the agent's published addresses.
type published struct {
	host string
	port uint16
	alt  []giop.AlternateAddress
	// loopbackOnly: every address is a loopback one although the agent
	// listens on all interfaces.
	loopbackOnly bool
}

// publishedAddrs works out the published addresses from Config.Host and
// the listening address.
func publishedAddrs(hosts string, listen *net.TCPAddr) (published, error) {
	port := uint16(listen.Port)
	var addrs []giop.AlternateAddress
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		a := giop.AlternateAddress{Host: strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), Port: port}
		if host, p, err := net.SplitHostPort(h); err == nil {
			n, err := strconv.Atoi(p)
			if err != nil || n <= 0 || n > 65535 {
				return published{}, configerr.Quoted(ErrBadConfig, "Host", h, "bad port")
			}
			a = giop.AlternateAddress{Host: host, Port: uint16(n)}
		}
		if !validHost(a.Host) {
			return published{}, configerr.Quoted(ErrBadConfig, "Host", h, "not a host name or IP address")
		}
		addrs = append(addrs, a)
	}
	ip := listen.AddrPort().Addr().Unmap()
	if len(addrs) == 0 {
		h := ip.String()
		if ip.IsUnspecified() {
			h = firstHostAddress()
		}
		addrs = []giop.AlternateAddress{{Host: h, Port: port}}
	}
	p := published{host: addrs[0].Host, port: addrs[0].Port, alt: addrs[1:]}
	if ip.IsUnspecified() {
		p.loopbackOnly = true
		for _, a := range addrs {
			if !isLoopbackHost(a.Host) {
				p.loopbackOnly = false
			}
		}
	}
	return p, nil
}

// firstHostAddress is omniORB's default published address for an
// endpoint on all interfaces: the first non-loopback IPv4 address of an
// interface that is up, else the first IPv6 one that is not link-local,
// else 127.0.0.1.
func firstHostAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	var v6 string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			switch {
			case ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified():
			case ip.Is4():
				return ip.String()
			case v6 == "":
				v6 = ip.String()
			}
		}
	}
	if v6 != "" {
		return v6
	}
	return "127.0.0.1"
}

// isLoopbackHost reports whether a published host can only be reached
// from this machine.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && ip.Unmap().IsLoopback()
}

// components are the TAG_ALTERNATE_IIOP_ADDRESS components of the
// addresses after the first.
func (p published) components() []giop.TaggedComponent {
	var out []giop.TaggedComponent
	for _, a := range p.alt {
		out = append(out, a.Component())
	}
	return out
}

// corbaloc returns the agent's corbaloc URL, every published address in it.
func (p published) corbaloc(key string) string {
	addrs := []giop.CorbalocAddress{{Version: giop.V1_2, Host: p.host, Port: p.port}}
	for _, a := range p.alt {
		addrs = append(addrs, giop.CorbalocAddress{Version: giop.V1_2, Host: a.Host, Port: a.Port})
	}
	return (&giop.Corbaloc{Addresses: addrs, Key: []byte(key)}).String()
}

// String lists the published addresses.
func (p published) String() string {
	s := []string{net.JoinHostPort(p.host, strconv.Itoa(int(p.port)))}
	for _, a := range p.alt {
		s = append(s, net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port))))
	}
	return strings.Join(s, ",")
}

// validHost reports whether h can stand in an IOR as a host: an IP
// address, or a DNS name (letters, digits, hyphens and underscores in
// dot-separated labels of at most 63, 253 in all). Anything else would
// publish references no ORB can dial.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}
