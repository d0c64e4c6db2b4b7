package agent

import "errors"

// ErrBadConfig means a Config field is out of range; the message names it.
var ErrBadConfig = errors.New("agent: invalid configuration")
