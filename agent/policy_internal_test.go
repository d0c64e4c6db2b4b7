package agent

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestTargetRule_Parse: rules read as the addresses and ports they name,
// IPv4-mapped ones as IPv4, and print back canonically.
func TestTargetRule_Parse(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"10.1.2.3", "10.1.2.3"},
		{" 10.1.2.3 ", "10.1.2.3"},
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.9.9.9/8", "10.0.0.0/8"}, // host bits masked
		{"10.0.0.0/8:8000-8999", "10.0.0.0/8:8000-8999"},
		{"10.1.2.3:443", "10.1.2.3:443"},
		{"10.1.2.3:0-65535", "10.1.2.3"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"2001:db8::1", "2001:db8::1"},
		{"2001:DB8:0000::1", "2001:db8::1"},
		{"2001:db8::/32", "2001:db8::/32"},
		{"[2001:db8::1]:443", "[2001:db8::1]:443"},
		{"[2001:db8::/32]:1024-2048", "[2001:db8::/32]:1024-2048"},
		{"[::1]", "::1"},
		{"::ffff:127.0.0.1", "127.0.0.1"},
		{"::FFFF:7f00:1", "127.0.0.1"},
		{"::ffff:10.0.0.0/104", "10.0.0.0/8"},
		{"[::ffff:10.0.0.0/104]:80", "10.0.0.0/8:80"},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0"},
	} {
		r, err := parseTargetRule(c.in)
		if err != nil {
			t.Errorf("parse %q: %v", c.in, err)
			continue
		}
		if got := r.String(); got != c.want {
			t.Errorf("parse %q = %s, want %s", c.in, got, c.want)
		}
	}
}

// TestTargetRule_Bad: a rule that does not parse is refused with the
// reason, never read as something broader.
func TestTargetRule_Bad(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{"", errRuleEmpty},
		{"  ", errRuleEmpty},
		{"localhost", errRuleAddress},
		{"db.example.com:5432", errRuleAddress},
		{"10.0.0.256", errRuleAddress},
		{"010.0.0.1", errRuleAddress}, // leading zeros: octal to some resolvers, refused here
		{"10.0.0.0/33", errRuleAddress},
		{"10.0.0.0/", errRuleAddress},
		{"2001:db8::/129", errRuleAddress},
		{"10.1.2.3:", errRulePort},
		{"10.1.2.3:http", errRulePort},
		{"10.1.2.3:65536", errRulePort},
		{"10.1.2.3:-1", errRulePort},
		{"10.1.2.3:80-", errRulePort},
		{"10.1.2.3:80-90-100", errRulePort},
		{"10.1.2.3:90-80", errRulePortOrder},
		{"[2001:db8::1", errRuleBracket},
		{"[2001:db8::1]443", errRuleBracket},
		{"[2001:db8::1]:", errRulePort},
		{"fe80::1%eth0", errRuleZone},
		{"::ffff:0.0.0.0/95", errRuleMapped},
		{"*", errRuleAddress},
	} {
		r, err := parseTargetRule(c.in)
		if !errors.Is(err, c.want) {
			t.Errorf("parse %q = %v, %v; want %v", c.in, r, err, c.want)
		}
	}
}

// TestTargetPolicy_Allows: deny wins over allow; with allow rules only
// what they name is allowed; without rules everything is; addresses are
// matched unmapped and without zone, whatever port range they name.
func TestTargetPolicy_Allows(t *testing.T) {
	type check struct {
		addr string
		want bool
	}
	for _, c := range []struct {
		name        string
		allow, deny []string
		checks      []check
	}{
		{"none", nil, nil, []check{{"127.0.0.1:1", true}, {"[2001:db8::1]:80", true}, {"10.0.0.1:5555", true}}},
		{"deny only", nil, []string{"169.254.0.0/16", "10.0.0.1:22"}, []check{
			{"169.254.169.254:80", false}, {"[::ffff:169.254.169.254]:80", false}, {"10.0.0.1:22", false},
			{"10.0.0.1:23", true}, {"10.0.0.2:22", true}, {"127.0.0.1:80", true}}},
		{"allow only", []string{"10.0.0.0/8:8000-8999", "[2001:db8::/32]:443"}, nil, []check{
			{"10.1.2.3:8000", true}, {"10.1.2.3:8999", true}, {"10.1.2.3:7999", false}, {"10.1.2.3:9000", false},
			{"11.0.0.1:8000", false}, {"[::ffff:10.1.2.3]:8500", true}, {"[2001:db8:1::5]:443", true},
			{"[2001:db8:1::5]:444", false}, {"[2001:db9::5]:443", false}, {"[fe80::1%eth0]:443", false}}},
		{"deny over allow", []string{"10.0.0.0/8"}, []string{"10.0.0.5", "10.1.0.0/16:1-1023"}, []check{
			{"10.0.0.4:80", true}, {"10.0.0.5:80", false}, {"[::ffff:10.0.0.5]:80", false},
			{"10.1.2.3:80", false}, {"10.1.2.3:1024", true}, {"10.2.0.1:80", true}}},
		{"mapped rule", nil, []string{"::ffff:127.0.0.0/104"}, []check{
			{"127.0.0.1:80", false}, {"127.255.0.1:80", false}, {"[::ffff:127.0.0.1]:80", false}, {"128.0.0.1:80", true}}},
		{"ipv6 zone", nil, []string{"fe80::/10"}, []check{{"[fe80::1%eth0]:80", false}, {"[fe80::1]:80", false}, {"[fec0::1]:80", true}}},
		{"ipv6 /0 is not ipv4", nil, []string{"::/0"}, []check{{"[::1]:80", false}, {"127.0.0.1:80", true}}},
		{"port 0 to 65535", []string{"192.0.2.1:0-65535"}, nil, []check{{"192.0.2.1:0", true}, {"192.0.2.1:65535", true}, {"192.0.2.2:1", false}}},
		// Dialling the unspecified address reaches loopback.
		{"unspecified is loopback", nil, []string{"127.0.0.0/8", "::1"}, []check{
			{"0.0.0.0:80", false}, {"[::]:80", false}, {"[::ffff:0.0.0.0]:80", false}, {"10.0.0.1:80", true}}},
		{"unspecified outside an allow list", []string{"10.0.0.0/8"}, nil, []check{{"0.0.0.0:80", false}, {"[::]:80", false}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := TargetPolicy{Allow: c.allow, Deny: c.deny}.compile()
			if err != nil {
				t.Fatal(err)
			}
			for _, ch := range c.checks {
				addr := netip.MustParseAddrPort(ch.addr)
				if got := p.allows(addr); got != ch.want {
					t.Errorf("allows(%s) = %v, want %v", ch.addr, got, ch.want)
				}
				err := p.check(addr)
				if (err == nil) != ch.want {
					t.Errorf("check(%s) = %v, want allowed=%v", ch.addr, err, ch.want)
				}
				if err != nil && !notAllowed(err) {
					t.Errorf("check(%s) = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED", ch.addr, err)
				}
			}
		})
	}
}

// TestTargetPolicy_ValidateNamesTheSetting: a bad rule fails Validate
// with one line naming the setting and the rule.
func TestTargetPolicy_ValidateNamesTheSetting(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{TargetPolicy: TargetPolicy{Allow: []string{"10.0.0.0/8", "nohost:80"}}}, `allow-target="nohost:80"`},
		{Config{TargetPolicy: TargetPolicy{Deny: []string{"10.0.0.1:99999"}}}, `deny-target="10.0.0.1:99999"`},
	} {
		err := c.cfg.Validate()
		if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Validate = %v, want one line with %s", err, c.want)
		}
	}
	if err := (&Config{TargetPolicy: TargetPolicy{Allow: []string{"10.0.0.0/8"}, Deny: []string{"[::1]:1-2"}}}).Validate(); err != nil {
		t.Errorf("Validate of good rules = %v", err)
	}
}
