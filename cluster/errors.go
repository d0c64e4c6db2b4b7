package cluster

import "errors"

var (
	// ErrBadConfig is a Config that does not validate.
	ErrBadConfig = errors.New("cluster: bad configuration")
	// ErrNoLease is Depose of a holder whose lease is not known.
	ErrNoLease = errors.New("cluster: the holder's lease is not known")
	// ErrLost is the ownership ended while held: the lease expired or
	// was revoked, or etcd stopped answering.
	ErrLost = errors.New("cluster: ownership lost")
)

// errStandbyLease is an attempt's "this standby's own lease ended" (etcd
// did not renew it): Acquire takes a new one and waits on.
var errStandbyLease = errors.New("cluster: etcd did not renew this standby's lease")
