// Package cluster is what lets several agents share one store on etcd
// (docs/cluster.md) without two of them acting on it at once: ownership,
// held through an etcd lease and fenced.
//
// Concepts:
//
//   - owner.go: Owner, this agent's ownership of a key prefix. Acquire
//     waits, as a standby, until no other agent owns it, then takes the
//     ownership key under a lease of its own and keeps the lease alive.
//     Fence is the compare every write of the owner's store carries
//     (etcdstore.Config.Fence), so that a deposed owner — its lease
//     expired while it was paused, partitioned or slow — can write
//     nothing: locks on leases are not safe without fencing. Lost closes
//     when the owner must stop acting: the lease ended, or etcd has not
//     answered its keep-alives for two thirds of its TTL, before the lease
//     could expire on the server. Release gives the ownership up at once,
//     for a standby to take over.
//   - errors.go: the package's sentinel errors.
//
// One owner for the whole prefix is the one-shard case of the design in
// docs/cluster.md: shards owned apart, each with an Owner of its own, are
// its next step.
package cluster
