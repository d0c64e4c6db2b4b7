package agent

import "errors"

// ErrBadConfig means a Config field is out of range; the message names it.
var ErrBadConfig = errors.New("agent: invalid configuration")

// errOtherIdentity is the cause of the NO_PERMISSION a call from another
// TLS identity than its object's gets (TLSConfig.BindIdentity, tls.go).
var errOtherIdentity = errors.New("agent: the object is bound to another TLS identity")
