package nmproto

import (
	"fmt"
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// The Native Messaging properties the agent recognises, defined once: the
// table below is what the agent parses from create_request_proxy's and a
// RequestDesc's PropertySeq and lists in properties(), what the Go client
// (nm/) names, what the command line's default-property flags are made
// from, and what the admin listing shows. docs/native-messaging.md
// ("Properties") prints the same table; a test keeps the two in step.

// The properties' names.
const (
	PropWaitReply             = "WaitReply"
	PropReplyDropping         = "ReplyDropping"
	PropRequestManualTrash    = "RequestManualTrash"
	PropRecipientOnConnection = "RecipientOnConnection"
)

// ReplyDropping bits: which replies are neither delivered nor kept.
const (
	DropNormal           byte = 0x01 // normal returns
	DropUserExceptions   byte = 0x02 // user exceptions
	DropSystemExceptions byte = 0x04 // system exceptions
)

// propertyTable is the table. Its order is the order in which properties()
// lists a proxy's and the agent's properties, and the admin listing shows
// them.
var propertyTable = []PropertyDef{
	{Name: PropWaitReply, Kind: giop.TkBoolean, Scope: ScopeProxy, Default: false, VisiBroker: true,
		Doc: "a call with a non-zero wait_timeout waits that long for the mature reply before evolving into a 2PI"},
	{Name: PropReplyDropping, Kind: giop.TkOctet, Scope: ScopeProxy, Default: byte(0), VisiBroker: true,
		Bits: DropNormal | DropUserExceptions | DropSystemExceptions,
		Doc:  "replies neither delivered to the recipient nor kept: 0x01 normal returns, 0x02 user exceptions, 0x04 system exceptions (0x06 all exceptions)"},
	{Name: PropRequestManualTrash, Kind: giop.TkBoolean, Scope: ScopeBoth, Default: false, VisiBroker: true,
		Doc: "requests are trashed only by destroy_request, and polling is idempotent"},
	{Name: PropRecipientOnConnection, Kind: giop.TkBoolean, Scope: ScopeProxy, Default: false, OnCreation: true,
		Doc: "call the recipient back over the connection create_request_proxy came on, whatever its IOR says (docs/callbacks.md)"},
}

// Scope says where a property may be given.
type Scope uint8

// The scopes. A property given where its scope does not allow is refused:
// InvalidProperty from create_request_proxy, BAD_PARAM/BAD_PROPERTY from
// create_request.
const (
	// ScopeProxy: in create_request_proxy's properties; the proxy's
	// requests inherit it.
	ScopeProxy Scope = 1 << iota
	// ScopeRequest: in a RequestDesc's properties (create_request).
	ScopeRequest
	// ScopeBoth: in either.
	ScopeBoth = ScopeProxy | ScopeRequest
)

// String names the scope as docs/native-messaging.md does.
func (s Scope) String() string {
	switch s {
	case ScopeProxy:
		return "proxy"
	case ScopeRequest:
		return "request"
	case ScopeBoth:
		return "proxy, request"
	}
	return fmt.Sprintf("Scope(%d)", uint8(s))
}

// PropertyDef is one property of the table.
type PropertyDef struct {
	// Name is the property's name on the wire.
	Name string
	// Kind is its wire type: giop.TkBoolean (a Go bool) or giop.TkOctet
	// (a Go byte); any alias of it is accepted.
	Kind giop.TCKind
	// Scope says where it may be given.
	Scope Scope
	// Default is its value when it is not given and the agent is not
	// configured otherwise, of Kind's Go type. It is the Go zero value,
	// since an agent configured with no defaults must mean these.
	Default any
	// Bits, for an octet that is a set of bits (ReplyDropping), are the
	// bits it may have; zero allows every value.
	Bits byte
	// OnCreation marks a property that instructs the creation of a proxy
	// and is not kept: neither a proxy's nor the agent's properties()
	// lists it, and the agent has no default setting for it.
	OnCreation bool
	// VisiBroker says VisiBroker's request agent has the property under
	// this name too; the others are ours.
	VisiBroker bool
	// Doc is what it does, in one line.
	Doc string
}

// PropertyTable returns the table: every property the agent recognises,
// in the order properties() lists them.
func PropertyTable() []PropertyDef {
	return append([]PropertyDef(nil), propertyTable...)
}

// LookupProperty returns the table's entry for a property name.
func LookupProperty(name string) (PropertyDef, bool) {
	for _, d := range propertyTable {
		if d.Name == name {
			return d, true
		}
	}
	return PropertyDef{}, false
}

// kinds are the wire types a property may have, with the TypeCode a value
// travels as and its name in errors.
var kinds = map[giop.TCKind]struct {
	tc   *giop.TypeCode
	name string
}{
	giop.TkBoolean: {giop.TCBoolean, "a boolean"},
	giop.TkOctet:   {giop.TCOctet, "an octet"},
}

// Any returns v, a value of the property's Go type, as the any it travels as.
func (d PropertyDef) Any(v any) giop.Any {
	return giop.Any{Type: kinds[d.Kind].tc, Value: v}
}

// Check reports whether a is a valid value of the property: of its wire
// type and, for a set of bits, with no other bit. The error says why, in
// words that follow the property's name.
func (d PropertyDef) Check(a giop.Any) error {
	k, ok := kinds[d.Kind]
	if !ok {
		return fmt.Errorf("has an unsupported kind %v", d.Kind)
	}
	var typed bool
	switch d.Kind {
	case giop.TkBoolean:
		_, typed = a.Value.(bool)
	case giop.TkOctet:
		_, typed = a.Value.(byte)
	}
	if !typed || a.Type.Unalias().Kind != d.Kind {
		return fmt.Errorf("must be %s, not %v", k.name, a.Type)
	}
	if o, isOctet := a.Value.(byte); isOctet && d.Bits != 0 && o&^d.Bits != 0 {
		return fmt.Errorf("0x%02x has bits other than %s", o, d.bitList())
	}
	return nil
}

// bitList writes the bits the property may have: "0x01, 0x02, 0x04".
func (d PropertyDef) bitList() string {
	var s []string
	for b := 1; b < 0x100; b <<= 1 {
		if d.Bits&byte(b) != 0 {
			s = append(s, fmt.Sprintf("0x%02x", b))
		}
	}
	return strings.Join(s, ", ")
}

// Format writes a value of the property as operators read it: octets in
// hex, as the bits they usually are.
func (d PropertyDef) Format(v any) string {
	if o, ok := v.(byte); ok && d.Kind == giop.TkOctet {
		return fmt.Sprintf("0x%02x", o)
	}
	return fmt.Sprint(v)
}

// TypeName is the property's wire type as IDL spells it ("boolean").
func (d PropertyDef) TypeName() string { return d.Kind.String() }
