package etcdstore

import "errors"

// ErrFenced means the fence's compares (Config.Fence) failed: the store
// no longer owns what it writes, and nothing of the group was written.
// The other errors are storage's sentinels, as agent.Store asks:
// storage.ErrNotFound, storage.ErrNoSpace, storage.ErrBatchTooLarge,
// storage.ErrBadConfig and storage.ErrClosed.
var ErrFenced = errors.New("etcdstore: fenced: the transaction's ownership compares failed")
