// Package standby is what a cluster standby serves while another agent
// owns the store (docs/cluster.md, "Standbys forward"): a GIOP front on
// the agent's own listen address that answers every call with
// LOCATION_FORWARD to the owner, and holds calls, for a bounded time,
// while nobody owns.
//
// Concepts:
//
//   - front.go: Front, the standby's GIOP listener, and its Config. A
//     call is forwarded to the owner's addresses (agent.ForwardIOR, the
//     object's own key with the components the owner's reference
//     carries), a LocateRequest is answered OBJECT_FORWARD; while nobody
//     owns, a call waits until an owner is known, or until Hold, then
//     TRANSIENT completed NO — omniORB does not retry a TRANSIENT its
//     server answered (giop/SPEC.md, "omniORB 4.2.5 when a server goes
//     away"), so holding is what keeps a takeover from the application.
//     Handover stops the front when this agent owns: held calls are
//     forwarded to this agent's own addresses and the listener is given
//     on open, so connects during the agent's recovery wait in the
//     backlog instead of being refused.
//   - metrics.go: the front's Prometheus metrics.
//   - errors.go: the package's sentinel errors.
//
// It is a package of its own, not part of cluster, because it speaks GIOP
// and serves clients; cluster is ownership on etcd alone.
package standby
