package nmproto

import (
	"fmt"
	"strings"

	"github.com/requestagent/requestagent/giop"
)

// The Native Messaging properties the agent recognises, defined once in
// this file: the table below, and Settings, the field each kept property
// has. The agent parses create_request_proxy's and a RequestDesc's
// PropertySeq with them (Settings.Apply) and lists them in properties()
// (Settings.List); the Go client (nm/) names them and returns the table
// (nm.KnownProperties); the command line makes its default-property flags
// from the table; the admin listing prints Settings.String.
// docs/native-messaging.md ("Properties") prints the table; a test keeps
// the two in step. So a property is its entry, its field and its line in
// the documentation.

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

// Settings are a proxy's (or a request's) settings: the value of every
// property of the table that is kept (not OnCreation). The agent keeps
// one per proxy and per live request, so it stays a few bytes.
type Settings struct {
	// WaitReply lets a call with a non-zero wait_timeout evolve into a 2PI:
	// the agent waits for the mature reply up to the timeout.
	WaitReply bool
	// ReplyDropping says which kinds of replies are dropped (Drop* bits).
	ReplyDropping byte
	// ManualTrash keeps requests until destroy_request (and makes polling
	// idempotent) instead of trashing them when their reply is read.
	ManualTrash bool
}

// settingFields ties each kept property to its field of Settings, so that
// parsing, listing, printing and storing need nothing per property. A test
// checks that every kept entry has a field of its Go type, and that both
// accessors reach the same one.
var settingFields = map[string]field{
	PropWaitReply: {
		func(s Settings) any { return s.WaitReply },
		func(s *Settings) any { return &s.WaitReply }},
	PropReplyDropping: {
		func(s Settings) any { return s.ReplyDropping },
		func(s *Settings) any { return &s.ReplyDropping }},
	PropRequestManualTrash: {
		func(s Settings) any { return s.ManualTrash },
		func(s *Settings) any { return &s.ManualTrash }},
}

// field reaches one field of Settings. value reads it from a copy, so that
// reading lets nothing escape and costs no allocation: the agent's store
// writes every property of every request it keeps (Each). ptr gives the
// field to set (set).
type field struct {
	value func(Settings) any
	ptr   func(*Settings) any
}

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
// Other returns a valid value of the property other than its default
// (of Kind's Go type): what a test or a drill sets to see the property
// taken, kept and restored. For a set of bits it is the lowest allowed bit.
func (d PropertyDef) Other() any {
	switch d.Kind {
	case giop.TkBoolean:
		return !d.Default.(bool)
	case giop.TkOctet:
		if d.Bits != 0 {
			return d.Bits & -d.Bits
		}
		return d.Default.(byte) + 1
	}
	panic(fmt.Sprintf("nmproto: property %s has no other value of kind %v", d.Name, d.Kind))
}

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

// keptProperty is a table entry that Settings keeps, with its field.
type keptProperty struct {
	def   PropertyDef
	field field
}

// kept are the kept properties, in the table's order.
var kept = func() []keptProperty {
	var k []keptProperty
	for _, def := range propertyTable {
		if f, ok := settingFields[def.Name]; ok && !def.OnCreation {
			k = append(k, keptProperty{def, f})
		}
	}
	return k
}()

// set writes a field through the pointer field.ptr gives; v has been
// checked to be of the property's type.
func set(ptr, v any) {
	switch f := ptr.(type) {
	case *bool:
		*f = v.(bool)
	case *byte:
		*f = v.(byte)
	default:
		panic("nmproto: a Settings field of an unsupported type")
	}
}

// PropertyError says which property of a PropertySeq is refused and why.
type PropertyError struct {
	Name string
	Why  string
}

// Error reads "property ReplyDropping: 0x08 has bits other than ...".
func (e *PropertyError) Error() string { return "property " + e.Name + ": " + e.Why }

// Apply returns s with props set over it. scope is where they were
// given: ScopeProxy for create_request_proxy (and the agent's defaults),
// ScopeRequest for a RequestDesc. A name the table does not have, one it
// does not keep, or one outside scope is refused — "unknown", or "unknown
// here" for a RequestDesc, which takes nothing but request properties —
// and so is a value its entry refuses (PropertyDef.Check); the error is a
// *PropertyError.
func (s Settings) Apply(props []Property, scope Scope) (Settings, error) {
	for _, pr := range props {
		def, known := LookupProperty(pr.Name)
		f, kept := settingFields[pr.Name]
		kept = kept && known && !def.OnCreation
		switch {
		case scope == ScopeRequest && (!kept || def.Scope&scope == 0):
			return s, &PropertyError{pr.Name, "unknown here"}
		case !kept || def.Scope&scope == 0:
			return s, &PropertyError{pr.Name, "unknown"}
		}
		if err := def.Check(pr.Value); err != nil {
			return s, &PropertyError{pr.Name, err.Error()}
		}
		set(f.ptr(&s), pr.Value.Value)
	}
	return s, nil
}

// Only returns s with the properties of scope sc; the others are at their
// zero value: a request made by create_request takes from the agent's
// defaults only what a RequestDesc may set.
func (s Settings) Only(sc Scope) Settings {
	var o Settings
	for _, k := range kept {
		if k.def.Scope&sc != 0 {
			set(k.field.ptr(&o), k.field.value(s))
		}
	}
	return o
}

// Get returns the value of a kept property.
func (s Settings) Get(name string) (any, bool) {
	for _, k := range kept {
		if k.def.Name == name {
			return k.field.value(s), true
		}
	}
	return nil, false
}

// Check returns a *PropertyError for the first property whose value its
// entry refuses (a ReplyDropping with other bits).
func (s Settings) Check() error {
	for _, k := range kept {
		if err := k.def.Check(k.def.Any(k.field.value(s))); err != nil {
			return &PropertyError{k.def.Name, err.Error()}
		}
	}
	return nil
}

// List returns the settings as a PropertySeq, in the table's order: what
// properties() answers.
func (s Settings) List() []Property {
	out := make([]Property, len(kept))
	for i, k := range kept {
		out[i] = Property{Name: k.def.Name, Value: k.def.Any(k.field.value(s))}
	}
	return out
}

// Each calls f with the entry and the value of every kept property, in
// the table's order, and costs no allocation: the agent's store writes
// a proxy's and every request's settings with it, by name, so that a
// property added to the table is kept across a restart with no change
// there (agent/SPEC.md, "Properties").
func (s Settings) Each(f func(def PropertyDef, v any)) {
	for _, k := range kept {
		f(k.def, k.field.value(s))
	}
}

// String writes the settings as operators read them, in the table's
// order: "WaitReply=false ReplyDropping=0x06 RequestManualTrash=true".
func (s Settings) String() string {
	var b strings.Builder
	for i, k := range kept {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k.def.Name + "=" + k.def.Format(k.field.value(s)))
	}
	return b.String()
}

// TakeProperty removes the property name, one that instructs a proxy's
// creation (PropertyDef.OnCreation), from props and returns the rest and
// its last value, or its default when it is not given. A value its entry
// refuses is a *PropertyError.
func TakeProperty(props []Property, name string) ([]Property, any, error) {
	def, ok := LookupProperty(name)
	if !ok {
		return props, nil, &PropertyError{name, "unknown"}
	}
	out := props[:0:0]
	v := def.Default
	for _, p := range props {
		if p.Name != name {
			out = append(out, p)
			continue
		}
		if err := def.Check(p.Value); err != nil {
			return nil, nil, &PropertyError{p.Name, err.Error()}
		}
		v = p.Value.Value
	}
	return out, v, nil
}
