package nm

import (
	"fmt"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Property names the agent recognises: nmproto's table, which
// KnownProperties returns with each one's type, scope, default and meaning
// (docs/native-messaging.md, "Properties").
const (
	PropRequestManualTrash    = nmproto.PropRequestManualTrash    // see RequestManualTrash
	PropWaitReply             = nmproto.PropWaitReply             // see WaitReply
	PropReplyDropping         = nmproto.PropReplyDropping         // see ReplyDropping
	PropRecipientOnConnection = nmproto.PropRecipientOnConnection // for ORBs without listen points; HostRecipient does not need it
)

// ReplyDropping bits.
const (
	DropNormal           = nmproto.DropNormal           // normal returns
	DropUserExceptions   = nmproto.DropUserExceptions   // user exceptions
	DropSystemExceptions = nmproto.DropSystemExceptions // system exceptions
)

// KnownProperties returns the properties the agent recognises, in the
// order Agent.Properties and Proxy.Properties list those that are kept.
// A property's value goes as the Go type of its Default: bool for a
// boolean, byte for an octet.
func KnownProperties() []nmproto.PropertyDef { return nmproto.PropertyTable() }

// Property is a proxy or request property: a name and a value, on the wire
// a CORBA::NameValuePair (a string and an any). Value is a Go value of a
// primitive IDL type — bool (boolean), byte (octet), int16, uint16, int32,
// uint32, int64, uint64, float32, float64, string — or a giop.Any. Values
// read back from the agent have those Go types.
type Property struct {
	Name  string
	Value any
}

// RequestManualTrash returns the RequestManualTrash property (proxies and
// requests): requests are trashed only by DestroyRequest, and polling is
// idempotent.
func RequestManualTrash(on bool) Property { return Property{PropRequestManualTrash, on} }

// WaitReply returns the WaitReply property (proxies): a call with a
// non-zero Current.WaitTimeout waits that long for the mature result
// before evolving into a two-phase invocation.
func WaitReply(on bool) Property { return Property{PropWaitReply, on} }

// ReplyDropping returns the ReplyDropping property (proxies): which
// replies are dropped rather than kept or delivered; bits is an OR of
// DropNormal, DropUserExceptions and DropSystemExceptions.
func ReplyDropping(bits byte) Property { return Property{PropReplyDropping, bits} }

// String formats the property as name=value.
func (p Property) String() string { return fmt.Sprintf("%s=%v", p.Name, p.Value) }

// toAny returns the any a property value travels as.
func toAny(v any) (giop.Any, error) {
	var tc *giop.TypeCode
	switch v := v.(type) {
	case giop.Any:
		return v, nil
	case bool:
		tc = giop.TCBoolean
	case byte:
		tc = giop.TCOctet
	case int16:
		tc = giop.TCShort
	case uint16:
		tc = giop.TCUShort
	case int32:
		tc = giop.TCLong
	case uint32:
		tc = giop.TCULong
	case int64:
		tc = giop.TCLongLong
	case uint64:
		tc = giop.TCULongLong
	case float32:
		tc = giop.TCFloat
	case float64:
		tc = giop.TCDouble
	case string:
		tc = giop.TCString
	default:
		return giop.Any{}, fmt.Errorf("%w: a value of Go type %T cannot be sent as an any", ErrInvalidProperty, v)
	}
	return giop.Any{Type: tc, Value: v}, nil
}

// writeProperties writes a PropertySeq. The encoder's error is returned
// before anything is sent.
func writeProperties(e *giop.Encoder, props []Property) error {
	e.WriteULong(uint32(len(props)))
	for _, p := range props {
		a, err := toAny(p.Value)
		if err != nil {
			return fmt.Errorf("property %s: %w", p.Name, err)
		}
		e.WriteString(p.Name)
		if err := e.WriteAny(a); err != nil {
			return fmt.Errorf("property %s: %w: %w", p.Name, ErrInvalidProperty, err)
		}
	}
	return nil
}

// readProperties reads a PropertySeq; errors are left on d.
func readProperties(d *giop.Decoder) []Property {
	ps := nmproto.ReadProperties(d)
	if ps == nil {
		return nil
	}
	out := make([]Property, len(ps))
	for i, p := range ps {
		out[i] = Property{Name: p.Name, Value: p.Value.Value}
	}
	return out
}
