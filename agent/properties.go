package agent

import (
	"fmt"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Property names (docs/native-messaging.md; Native Messaging).
const (
	PropWaitReply          = "WaitReply"
	PropReplyDropping      = "ReplyDropping"
	PropRequestManualTrash = "RequestManualTrash"
)

// ReplyDropping bits: which replies are neither delivered nor kept.
const (
	DropNormal  byte = 0x01
	DropUser    byte = 0x02
	DropSystem  byte = 0x04
	dropAllBits byte = DropNormal | DropUser | DropSystem
)

// Properties are a proxy's (or a request's) settings.
type Properties struct {
	// WaitReply lets a call with a non-zero wait_timeout evolve into a 2PI:
	// the agent waits for the mature reply up to the timeout.
	WaitReply bool
	// ReplyDropping says which kinds of replies are dropped (Drop* bits).
	ReplyDropping byte
	// ManualTrash keeps requests until destroy_request (and makes polling
	// idempotent) instead of trashing them when their reply is read.
	ManualTrash bool
}

// Property is one name/value pair, as CORBA::NameValuePair travels.
type Property = nmproto.Property

// drops reports whether a reply with this status is dropped.
func (p Properties) drops(status giop.ReplyStatus) bool {
	switch status {
	case giop.ReplyNoException:
		return p.ReplyDropping&DropNormal != 0
	case giop.ReplyUserException:
		return p.ReplyDropping&DropUser != 0
	case giop.ReplySystemException:
		return p.ReplyDropping&DropSystem != 0
	}
	return false
}

// list returns the properties as a PropertySeq.
func (p Properties) list() []Property {
	return []Property{
		{Name: PropWaitReply, Value: giop.Any{Type: giop.TCBoolean, Value: p.WaitReply}},
		{Name: PropReplyDropping, Value: giop.Any{Type: giop.TCOctet, Value: p.ReplyDropping}},
		{Name: PropRequestManualTrash, Value: giop.Any{Type: giop.TCBoolean, Value: p.ManualTrash}},
	}
}

// propertyError says which property is wrong and why.
type propertyError struct{ name, why string }

func (e *propertyError) Error() string { return "property " + e.name + ": " + e.why }

// apply sets the named properties over p. allowed limits the names
// accepted (create_request takes RequestManualTrash only). Errors say which
// property is wrong and why.
func (p Properties) apply(props []Property, allowed ...string) (Properties, error) {
	ok := func(name string) bool {
		for _, a := range allowed {
			if a == name {
				return true
			}
		}
		return len(allowed) == 0
	}
	for _, pr := range props {
		if !ok(pr.Name) {
			return p, &propertyError{pr.Name, "unknown here"}
		}
		v := pr.Value.Value
		switch pr.Name {
		case PropWaitReply, PropRequestManualTrash:
			b, isBool := v.(bool)
			if !isBool || pr.Value.Type.Unalias().Kind != giop.TkBoolean {
				return p, &propertyError{pr.Name, fmt.Sprintf("must be a boolean, not %v", pr.Value.Type)}
			}
			if pr.Name == PropWaitReply {
				p.WaitReply = b
			} else {
				p.ManualTrash = b
			}
		case PropReplyDropping:
			o, isOctet := v.(byte)
			if !isOctet || pr.Value.Type.Unalias().Kind != giop.TkOctet {
				return p, &propertyError{pr.Name, fmt.Sprintf("must be an octet, not %v", pr.Value.Type)}
			}
			if o&^dropAllBits != 0 {
				return p, &propertyError{pr.Name, fmt.Sprintf("0x%02x has bits other than 0x01, 0x02, 0x04", o)}
			}
			p.ReplyDropping = o
		default:
			return p, &propertyError{pr.Name, "unknown"}
		}
	}
	return p, nil
}
