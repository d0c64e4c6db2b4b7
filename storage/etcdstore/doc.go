// Package etcdstore is the agent's durable store on an etcd v3 cluster:
// the first piece of cluster mode (docs/cluster.md: etcd is the engine,
// we write no consensus of our own). Its
// method set is agent.Store's (agent/store.go), with storage's sentinel
// errors, so that the agent runs on it as on Badger (storage) or in
// memory (internal/memstore), through agent.Config.Backend. It does not
// import agent.
//
// # Concepts
//
//   - Key prefix: every key lives under Config.KeyPrefix in etcd, and is
//     read back without it; several agent clusters can share one etcd.
//   - Group commit: one committer goroutine takes the batches waiting and
//     commits as many as fit in ONE etcd transaction. A caller is answered
//     only once its transaction committed, and etcd commits a transaction
//     once a quorum of members has it in its log on disk: that is the
//     durability "acknowledged" means here (RELIABILITY.md: nothing
//     acknowledged is lost — on a quorum of disks rather than one). One
//     writer keeps the groups in order: one transaction in
//     flight at a time, the next group gathering meanwhile — the round
//     trip to a quorum is what a group amortises (one client alone gets a
//     few hundred writes a second from etcd; batching is the throughput).
//   - Atomic batches: a batch is never split across transactions. One too
//     big for a transaction is refused whole with storage.ErrBatchTooLarge.
//     Within a group each key gets only its last mutation, which is what
//     applying the batches in order comes to, and what etcd requires (it
//     refuses a transaction that puts a key twice, or puts and deletes it).
//   - Joining commits: CommitJoining waits up to JoinDelay for another
//     batch's group rather than starting a transaction of its own, as in
//     storage.
//   - Fence: Config.Fence's compares are added to every transaction's If;
//     a failed compare writes nothing of the group and fails each of its
//     batches with ErrFenced. The ownership protocol will put the owner's
//     lease there, so that a deposed owner writes nothing (docs/cluster.md).
//   - Snapshot reads: Get is linearizable; Scan and ScanKeysFrom read
//     PageSize keys at a time, all pages at the first page's revision.
//   - Room: Admit refuses new work (storage.ErrNoSpace) when the NOSPACE
//     alarm is raised or the largest member's database is within
//     AdmitReserve of QuotaBytes; a commit etcd refuses for its quota is
//     storage.ErrNoSpace too. The size is measured every SizeEvery at
//     most, in the background, so Admit never waits on the network.
//
// # etcd's limits
//
// The limits it relies on are etcd's server flags, and the Config fields
// that mirror them must be set as the cluster's are:
//
//   - --max-txn-ops (default 128): operations in one transaction, counted
//     separately for its compares and its mutations. Config.MaxTxnOps.
//   - --max-request-bytes (default 1.5 MiB): the size of one request as the
//     leader proposes it (the transaction wrapped in etcd's internal
//     request). Config.MaxRequestBytes; a group fills it less
//     RequestHeadroom, counting OpOverhead per mutation. The client's send
//     limit is set to it plus gRPC's framing.
//   - --quota-backend-bytes (default 2 GiB, 8 GiB suggested at most): past
//     it etcd raises the NOSPACE alarm and refuses every write until it is
//     compacted, defragmented and the alarm disarmed. Config.QuotaBytes.
//     etcd keeps every revision until compacted: run it with
//     --auto-compaction-retention, or the agent's rewrites fill the quota.
//   - Election timeout (default 1 s): a lost leader costs an election
//     before commits resume. A proposal lost with its leader is answered
//     only at etcd's request timeout (5 s plus two election timeouts), so
//     a transaction is sent again after AttemptTimeout (twice the election
//     timeout), within CommitTimeout (several).
//
// The figures these come from (etcd's op-guide on performance and its
// flags) are summed up in docs/cluster.md.
package etcdstore
