package nm

import (
	"fmt"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Target is an object reference in any form this package takes: a
// *giop.IOR; an *Object, *Request, *Proxy or *Recipient of this package;
// or a string holding a stringified IOR or a corbaloc URL. nil, a nil
// pointer and "" are the nil reference.
type Target = any

// resolve returns the IOR a Target stands for (nil for the nil reference).
func resolve(t Target) (*giop.IOR, error) {
	switch t := t.(type) {
	case nil:
		return nil, nil
	case *giop.IOR:
		return t, nil
	case *Object:
		if t == nil {
			return nil, nil
		}
		return t.ref, nil
	case *Request:
		if t == nil || t.Object == nil {
			return nil, nil
		}
		return t.ref, nil
	case *Proxy:
		if t == nil {
			return nil, nil
		}
		return t.ref, nil
	case *Recipient:
		if t == nil {
			return nil, nil
		}
		return t.ref, nil
	case string:
		if t == "" {
			return nil, nil
		}
		return ParseRef(t)
	}
	return nil, fmt.Errorf("%w: a %T is not an object reference", ErrBadReference, t)
}

// nilTarget is the error for a nil target: BAD_PARAM/NIL_TARGET, as the
// agent raises it, raised here before anything is sent.
func nilTarget(what string) error {
	return raise(what, giop.ExcBadParam, nmproto.NilTarget, ErrNilTarget)
}

// refKind reads the TAG_NM_REF component of a reference: what the agent
// made it for, or 0 for another object.
func refKind(ior *giop.IOR) nmproto.RefKind {
	prof, err := ior.IIOP()
	if err != nil {
		return 0
	}
	c, ok := prof.Component(nmproto.TagNMRef)
	if !ok {
		return 0
	}
	k, err := nmproto.ParseRefComponent(c.Data)
	if err != nil {
		return 0
	}
	return k
}
