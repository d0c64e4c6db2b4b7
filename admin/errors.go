package admin

import "errors"

// Sentinel errors of the admin package.
var (
	// ErrNotLoopback means the admin listener was asked to listen beyond
	// loopback.
	ErrNotLoopback = errors.New("admin: the admin listener must be on a loopback address")
	// ErrBadConfig means a Config field is missing or out of range.
	ErrBadConfig = errors.New("admin: invalid configuration")
	// ErrStandby is the answer of a cluster standby's admin interface to
	// what only the owner of the store can answer (Standby): 503.
	ErrStandby = errors.New("admin: this agent is a cluster standby: the agent that owns the store answers this (requestagent cluster status names it)")
	// ErrBadToken means the token file holds no usable token.
	ErrBadToken = errors.New("admin: bad admin token")
)
