package agent

import (
	"net"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// TestPublishedAddrs: what references carry. With no --host the agent
// publishes what omniORB does: the specific listening address, or the
// host's first non-loopback address when it listens on all interfaces;
// with several hosts, the first is the profile's and the others
// TAG_ALTERNATE_IIOP_ADDRESS components, each with the listening port
// unless it names its own.
func TestPublishedAddrs(t *testing.T) {
	any := &net.TCPAddr{IP: net.IPv6unspecified, Port: 5555}
	p, err := publishedAddrs("", any)
	if err != nil {
		t.Fatal(err)
	}
	if p.host != firstHostAddress() || p.port != 5555 || len(p.alt) != 0 {
		t.Fatalf("default on all interfaces: %+v", p)
	}
	if !isLoopbackHost(firstHostAddress()) && p.loopbackOnly {
		t.Fatal("a non-loopback default is flagged loopback-only")
	}
	p, _ = publishedAddrs("", &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 7})
	if p.host != "10.1.2.3" || p.port != 7 {
		t.Fatalf("a specific listening address: %+v", p)
	}
	p, err = publishedAddrs("a.example, b.example:6000,[::1]", any)
	if err != nil || p.host != "a.example" || p.port != 5555 || len(p.alt) != 2 ||
		p.alt[0] != (giop.AlternateAddress{Host: "b.example", Port: 6000}) || p.alt[1] != (giop.AlternateAddress{Host: "::1", Port: 5555}) {
		t.Fatalf("several hosts: %+v, %v", p, err)
	}
	if p, _ := publishedAddrs("localhost", any); !p.loopbackOnly {
		t.Fatal("localhost on all interfaces is not flagged")
	}
	if _, err := publishedAddrs("h:0", any); err == nil {
		t.Fatal("a bad port accepted")
	}
	a := &Agent{addrs: p}
	if loc := a.Corbaloc(); !strings.Contains(loc, "iiop:1.2@a.example:5555,iiop:1.2@b.example:6000") {
		t.Fatalf("corbaloc %s", loc)
	}
	prof, _ := a.ior("IDL:X:1.0", []byte("k")).IIOP()
	var alts []giop.AlternateAddress
	for _, c := range prof.Components {
		if c.Tag == giop.TagAlternateIIOPAddress {
			x, _ := giop.ParseAlternateAddressComponent(c.Data)
			alts = append(alts, x)
		}
	}
	if prof.Host != "a.example" || len(alts) != 2 {
		t.Fatalf("IOR profile %s:%d with alternates %v", prof.Host, prof.Port, alts)
	}
}
