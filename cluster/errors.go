package cluster

import "errors"

var (
	// ErrBadConfig is a Config that does not validate.
	ErrBadConfig = errors.New("cluster: bad configuration")
	// ErrNoLease is Depose of a holder whose lease is not known.
	ErrNoLease = errors.New("cluster: the holder's lease is not known")
	// ErrLost is the ownership ended while Acquire waited or held it: the
	// lease expired or was revoked, or etcd stopped answering.
	ErrLost = errors.New("cluster: ownership lost")
)
