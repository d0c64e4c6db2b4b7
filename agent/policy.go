package agent

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/nmproto"
)

// The target policy (docs/deploying.md, "Where the agent may call"): the
// addresses the agent may open connections to for its clients — targets,
// recipients and every LOCATION_FORWARD hop. Without one, anyone who can
// reach the agent can make it connect anywhere its network reaches.
//
// Rules are matched against the resolved address a call would be dialled
// at, inside the giop client's Guard beside the self check (self.go), so
// no spelling of an address — a host name, ::ffff:10.0.0.1, leading
// zeros a resolver reads as octal — is matched other than as the address
// it reaches. They name addresses, not host names: a name's addresses
// change, and a rule that meant one host would quietly mean another. The
// port is the one dialled, so when outbound TLS dials a profile's TLS
// port, that is the port rules name.

// TargetPolicy is where the agent may call (docs/deploying.md). A rule is
// an IPv4 or IPv6 address or CIDR prefix, with an optional port or port
// range: 10.1.2.3, 10.0.0.0/8:8000-8999, 2001:db8::/32,
// [2001:db8::1]:443. IPv4-mapped IPv6 rules (::ffff:10.0.0.0/104) are
// read as the IPv4 ones they are. An address is allowed when no Deny rule
// matches it and, if there are Allow rules, one of them does: deny wins.
// With no rules at all every address is allowed, as before there was a
// policy. The agent's own addresses are refused whatever the rules say.
type TargetPolicy struct {
	// Allow are the rules of --allow-target; Deny of --deny-target.
	Allow, Deny []string
}

// targetRule is one parsed rule: the addresses of prefix, at ports lo to
// hi.
type targetRule struct {
	prefix netip.Prefix
	lo, hi uint16
}

// matches reports whether the rule covers addr, which must be unmapped
// and without zone.
func (r targetRule) matches(addr netip.AddrPort) bool {
	return r.prefix.Contains(addr.Addr()) && addr.Port() >= r.lo && addr.Port() <= r.hi
}

// String writes the rule in the canonical form the start-up log shows.
func (r targetRule) String() string {
	host := r.prefix.String()
	if r.prefix.IsSingleIP() {
		host = r.prefix.Addr().String()
	}
	switch {
	case r.lo == 0 && r.hi == 65535:
		return host
	case r.prefix.Addr().Is6():
		host = "[" + host + "]"
	}
	if r.lo == r.hi {
		return host + ":" + strconv.Itoa(int(r.lo))
	}
	return fmt.Sprintf("%s:%d-%d", host, r.lo, r.hi)
}

// parseTargetRule reads one rule (see TargetPolicy).
func parseTargetRule(s string) (targetRule, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return targetRule{}, errRuleEmpty
	}
	host, ports := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return targetRule{}, errRuleBracket
		}
		host, ports = s[1:end], s[end+1:]
		if ports != "" {
			var ok bool
			if ports, ok = strings.CutPrefix(ports, ":"); !ok {
				return targetRule{}, errRuleBracket
			}
			if ports == "" {
				return targetRule{}, errRulePort
			}
		}
	case strings.Count(s, ":") == 1:
		// IPv4 with a port; a bare IPv6 address has more colons and no port.
		host, ports, _ = strings.Cut(s, ":")
		if ports == "" {
			return targetRule{}, errRulePort
		}
	}
	prefix, err := parseRuleHost(host)
	if err != nil {
		return targetRule{}, err
	}
	r := targetRule{prefix: prefix, lo: 0, hi: 65535}
	if ports != "" {
		if r.lo, r.hi, err = parseRulePorts(ports); err != nil {
			return targetRule{}, err
		}
	}
	return r, nil
}

// parseRuleHost reads a rule's address or prefix, IPv4-mapped ones as
// IPv4 so that they match what calls are checked at (resolve unmaps).
func parseRuleHost(host string) (netip.Prefix, error) {
	if strings.Contains(host, "%") {
		return netip.Prefix{}, errRuleZone
	}
	var prefix netip.Prefix
	if strings.Contains(host, "/") {
		p, err := netip.ParsePrefix(host)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%w: %v", errRuleAddress, err)
		}
		prefix = p
	} else {
		ip, err := netip.ParseAddr(host)
		if err != nil {
			return netip.Prefix{}, errRuleAddress
		}
		prefix = netip.PrefixFrom(ip, ip.BitLen())
	}
	if ip := prefix.Addr(); ip.Is4In6() {
		if prefix.Bits() < 96 {
			return netip.Prefix{}, errRuleMapped
		}
		prefix = netip.PrefixFrom(ip.Unmap(), prefix.Bits()-96)
	}
	return prefix.Masked(), nil
}

// parseRulePorts reads a port or a range lo-hi.
func parseRulePorts(s string) (lo, hi uint16, err error) {
	one := func(s string) (uint16, error) {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return 0, errRulePort
		}
		return uint16(n), nil
	}
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = one(a); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = one(b); err != nil {
		return 0, 0, err
	}
	if lo > hi {
		return 0, 0, errRulePortOrder
	}
	return lo, hi, nil
}

// targetPolicy is a TargetPolicy parsed.
type targetPolicy struct {
	allow, deny []targetRule
}

// compile parses the policy's rules; errors wrap ErrBadConfig and name
// the setting and the rule.
func (p TargetPolicy) compile() (*targetPolicy, error) {
	var out targetPolicy
	for _, set := range []struct {
		name  string
		rules []string
		into  *[]targetRule
	}{{"allow-target", p.Allow, &out.allow}, {"deny-target", p.Deny, &out.deny}} {
		for _, s := range set.rules {
			r, err := parseTargetRule(s)
			if err != nil {
				return nil, configerr.Quoted(ErrBadConfig, set.name, s, err.Error())
			}
			*set.into = append(*set.into, r)
		}
	}
	return &out, nil
}

// allows reports whether the policy lets the agent call addr.
func (p *targetPolicy) allows(addr netip.AddrPort) bool {
	ip := addr.Addr().Unmap().WithZone("")
	if ip.IsUnspecified() {
		// Dialling the unspecified address reaches this host's own
		// services. The giop client never asks about one — it judges the
		// addresses a dial of it reaches instead — but the policy holds
		// alone too, judging the same ones (giop.Dialable): each must be
		// allowed, so a rule against 127.0.0.0/8 or ::1 covers it.
		var room [2]netip.Addr
		for _, d := range giop.Dialable(room[:0], ip) {
			if !p.allows(netip.AddrPortFrom(d, addr.Port())) {
				return false
			}
		}
		return true
	}
	addr = netip.AddrPortFrom(ip, addr.Port())
	for _, r := range p.deny {
		if r.matches(addr) {
			return false
		}
	}
	if len(p.allow) == 0 {
		return true
	}
	for _, r := range p.allow {
		if r.matches(addr) {
			return true
		}
	}
	return false
}

// check is the policy's part of the Guard: nil, or the refusal a call to
// addr gets.
func (p *targetPolicy) check(addr netip.AddrPort) error {
	if p.allows(addr) {
		return nil
	}
	return giop.NewSystemExceptionCause(giop.ExcNoPermission, nmproto.TargetNotAllowed, giop.CompletedNo,
		fmt.Errorf("%w: %s", errNotAllowed, addr))
}

// rulesStrings returns the rules in canonical form, for the start-up log.
func rulesStrings(rules []targetRule) []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.String()
	}
	return out
}

// logPolicy says at start what the policy enforces — or, without one,
// that the agent is an open relay into its network.
func (a *Agent) logPolicy() {
	p := a.policy
	if len(p.allow) == 0 && len(p.deny) == 0 {
		a.log.Warn().Msg("agent: no target policy: any client may make the agent call any address its network reaches; set --allow-target/--deny-target (docs/deploying.md)")
		return
	}
	allow := rulesStrings(p.allow)
	if len(allow) == 0 {
		allow = []string{"any address not denied"}
	}
	a.log.Info().Strs("allow", allow).Strs("deny", rulesStrings(p.deny)).
		Msg("agent: target policy: targets, recipients and forwards outside it get NO_PERMISSION/TARGET_NOT_ALLOWED; the agent's own addresses are always refused")
}
