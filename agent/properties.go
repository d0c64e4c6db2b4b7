package agent

import (
	"strings"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Properties are a proxy's (or a request's) settings: the properties of
// nmproto's table (nmproto/properties.go) that are kept, one field each.
type Properties struct {
	// WaitReply lets a call with a non-zero wait_timeout evolve into a 2PI:
	// the agent waits for the mature reply up to the timeout.
	WaitReply bool
	// ReplyDropping says which kinds of replies are dropped
	// (nmproto.Drop* bits).
	ReplyDropping byte
	// ManualTrash keeps requests until destroy_request (and makes polling
	// idempotent) instead of trashing them when their reply is read.
	ManualTrash bool
}

// fields ties each kept property of nmproto's table to its field of
// Properties, so that parsing, properties() and the admin listing need
// nothing per property: a property is its table entry and its field.
// A test checks that every kept entry has a field of its Go type.
var fields = map[string]func(*Properties) any{
	nmproto.PropWaitReply:          func(p *Properties) any { return &p.WaitReply },
	nmproto.PropReplyDropping:      func(p *Properties) any { return &p.ReplyDropping },
	nmproto.PropRequestManualTrash: func(p *Properties) any { return &p.ManualTrash },
}

// keptProperty is a table entry the agent keeps, with its field.
type keptProperty struct {
	def   nmproto.PropertyDef
	field func(*Properties) any
}

// kept are the kept properties in the table's order.
var kept = func() []keptProperty {
	var k []keptProperty
	for _, def := range nmproto.PropertyTable() {
		if f := fields[def.Name]; f != nil && !def.OnCreation {
			k = append(k, keptProperty{def, f})
		}
	}
	return k
}()

// get reads a field through the pointer fields gives.
func get(ptr any) any {
	switch f := ptr.(type) {
	case *bool:
		return *f
	case *byte:
		return *f
	}
	panic("agent: a property field of an unsupported type")
}

// set writes a field through the pointer fields gives; v has been checked
// to be of the property's type.
func set(ptr, v any) {
	switch f := ptr.(type) {
	case *bool:
		*f = v.(bool)
	case *byte:
		*f = v.(byte)
	default:
		panic("agent: a property field of an unsupported type")
	}
}

// Property is one name/value pair, as CORBA::NameValuePair travels.
type Property = nmproto.Property

// drops reports whether a reply with this status is dropped.
func (p Properties) drops(status giop.ReplyStatus) bool {
	switch status {
	case giop.ReplyNoException:
		return p.ReplyDropping&nmproto.DropNormal != 0
	case giop.ReplyUserException:
		return p.ReplyDropping&nmproto.DropUserExceptions != 0
	case giop.ReplySystemException:
		return p.ReplyDropping&nmproto.DropSystemExceptions != 0
	}
	return false
}

// list returns the properties as a PropertySeq, in the table's order.
func (p Properties) list() []Property {
	out := make([]Property, len(kept))
	for i, k := range kept {
		out[i] = Property{Name: k.def.Name, Value: k.def.Any(get(k.field(&p)))}
	}
	return out
}

// String writes the properties as operators read them, in the table's
// order: "WaitReply=false ReplyDropping=0x06 RequestManualTrash=true".
func (p Properties) String() string {
	var b strings.Builder
	for i, k := range kept {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k.def.Name + "=" + k.def.Format(get(k.field(&p))))
	}
	return b.String()
}

// scoped returns p with only the properties of scope s; the others are
// at their zero value.
func (p Properties) scoped(s nmproto.Scope) Properties {
	var q Properties
	for _, k := range kept {
		if k.def.Scope&s != 0 {
			set(k.field(&q), get(k.field(&p)))
		}
	}
	return q
}

// check returns the name and value of the first property of p whose
// value its table entry refuses, and why.
func (p Properties) check() (name string, value any, err error) {
	for _, k := range kept {
		v := get(k.field(&p))
		if err := k.def.Check(k.def.Any(v)); err != nil {
			return k.def.Name, v, err
		}
	}
	return "", nil, nil
}

// With returns p with the named properties set, as create_request_proxy
// sets them over the agent's defaults; the error names the property that
// is unknown or of a wrong value. The command line makes the agent's
// defaults (Config.Defaults) with it.
func (p Properties) With(props ...Property) (Properties, error) {
	return p.apply(props, nmproto.ScopeProxy)
}

// propertyError says which property is wrong and why.
type propertyError struct{ name, why string }

func (e *propertyError) Error() string { return "property " + e.name + ": " + e.why }

// apply sets the named properties over p. scope is where they were given:
// create_request takes the request properties only (RequestManualTrash),
// any other name being "unknown here". Errors say which property is wrong
// and why.
func (p Properties) apply(props []Property, scope nmproto.Scope) (Properties, error) {
	for _, pr := range props {
		def, known := nmproto.LookupProperty(pr.Name)
		field := fields[pr.Name]
		if known && def.OnCreation {
			field = nil
		}
		switch {
		case scope == nmproto.ScopeRequest && (field == nil || def.Scope&scope == 0):
			return p, &propertyError{pr.Name, "unknown here"}
		case field == nil || def.Scope&scope == 0:
			return p, &propertyError{pr.Name, "unknown"}
		}
		if err := def.Check(pr.Value); err != nil {
			return p, &propertyError{pr.Name, err.Error()}
		}
		set(field(&p), pr.Value.Value)
	}
	return p, nil
}

// takeCreation removes the property def, one that instructs a proxy's
// creation (nmproto.PropertyDef.OnCreation), from props and returns its
// last value, or its default when it is not given.
func takeCreation(props []Property, def nmproto.PropertyDef) ([]Property, any, error) {
	out := props[:0:0]
	v := def.Default
	for _, p := range props {
		if p.Name != def.Name {
			out = append(out, p)
			continue
		}
		if err := def.Check(p.Value); err != nil {
			return nil, nil, &propertyError{p.Name, err.Error()}
		}
		v = p.Value.Value
	}
	return out, v, nil
}
