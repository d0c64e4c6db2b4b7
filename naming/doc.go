// Package naming registers an object in a CORBA naming service (CosNaming,
// over GIOP with the giop package): stringified names (ParseName), a
// binding that makes the contexts its path needs and replaces what an
// earlier run left (Register), and an unbinding that leaves a name
// another process took over alone (Registration.Unregister). The
// requestagent command registers the agent with it (--naming).
package naming
