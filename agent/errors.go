package agent

import "errors"

// ErrBadConfig means a Config field is out of range; the message names it.
var ErrBadConfig = errors.New("agent: invalid configuration")

// ErrBadArgument means an operator's request is malformed: a listing
// cursor that is not one, a filter naming no state. The message says
// which.
var ErrBadArgument = errors.New("agent: bad argument")

// ErrCorruptRecord means a record in the store does not decode: the agent
// does not start rather than serve a history it misreads (storage's
// ErrCorrupt is the same for the store's own files). The message names the
// record.
var ErrCorruptRecord = errors.New("agent: corrupt record")

// ErrNewerRecord means a record in the store is of a version newer than
// this agent reads: a later release wrote the store (agent/SPEC.md,
// "Versions and compatibility"). It is an ErrCorruptRecord too.
var ErrNewerRecord = errors.New("agent: record written by a newer release")

// errNotAllowed is why a call outside the target policy is refused
// (policy.go); the refusal names the address.
var errNotAllowed = errors.New("agent: the target policy does not allow calling this address")

// Why a target policy rule does not parse (policy.go); Validate names the
// setting and the rule around them.
var (
	errRuleEmpty     = errors.New("empty rule")
	errRuleAddress   = errors.New("not an IP address or CIDR prefix (rules name addresses, not host names: a name's addresses change)")
	errRuleBracket   = errors.New("an IPv6 address with a port is written [address]:port")
	errRulePort      = errors.New("a port is a number from 0 to 65535, or a range of them lo-hi")
	errRulePortOrder = errors.New("a port range runs from the lower port to the higher")
	errRuleZone      = errors.New("an IPv6 zone (%eth0) is not matched: write the address without it")
	errRuleMapped    = errors.New("an IPv4-mapped prefix shorter than /96 covers more than IPv4 addresses: write the IPv4 and IPv6 rules apart")
)

// errOtherIdentity is the cause of the NO_PERMISSION a call from another
// TLS identity than its object's gets (TLSConfig.BindIdentity, tls.go).
var errOtherIdentity = errors.New("agent: the object is bound to another TLS identity")
