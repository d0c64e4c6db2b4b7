package standby

import "errors"

var (
	// ErrBadConfig is a Config that does not validate.
	ErrBadConfig = errors.New("standby: bad configuration")
	// ErrNotHandedOver is Handover on a listener that cannot be stopped
	// without being closed (no SetDeadline): the agent must listen anew.
	ErrNotHandedOver = errors.New("standby: the listener cannot be handed over")
)
