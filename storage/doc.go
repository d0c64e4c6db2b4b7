// Package storage is requestagent's durable state: an embedded Badger v4
// store behind a small API in the agent's terms, so that no other package
// sees a Badger transaction.
//
// Acknowledged means durable (PRODUCT.md §6). Writers hand a Batch to
// Commit, which returns once the batch is on disk. One committer goroutine
// gathers every batch waiting into one Badger transaction, committed with
// SyncWrites=true: one flush for the whole group. This is the pattern
// measured fastest at high concurrency on our kind of machine, and unlike
// SyncWrites=false plus db.Sync() it has no window in which a memtable
// rotation leaves an acknowledged write unsynced
// (shared/reference/anchors-perf-reliability.md §A4, §A6).
//
// Durable=false is the opt-out for users who accept losing the last moments
// of writes on power failure (not on a process crash: Badger writes through
// mmap either way).
package storage
