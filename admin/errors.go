package admin

import "errors"

// Sentinel errors of the admin package.
var (
	// ErrNotLoopback means the admin listener was asked to listen beyond
	// loopback.
	ErrNotLoopback = errors.New("admin: the admin listener must be on a loopback address")
	// ErrBadConfig means a Config field is missing or out of range.
	ErrBadConfig = errors.New("admin: invalid configuration")
	// ErrBadToken means the token file holds no usable token.
	ErrBadToken = errors.New("admin: bad admin token")
)
