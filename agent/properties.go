package agent

import (
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Properties are a proxy's (or a request's) settings: nmproto's, where
// every property is defined (nmproto/properties.go).
type Properties = nmproto.Settings

// Property is one name/value pair, as CORBA::NameValuePair travels.
type Property = nmproto.Property

// drops reports whether a reply with this status is dropped (ReplyDropping).
func drops(p Properties, status giop.ReplyStatus) bool {
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
