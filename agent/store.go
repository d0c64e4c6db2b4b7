package agent

import (
	"time"

	"github.com/requestagent/requestagent/storage"
)

// Store is what the agent asks of its durable store (agent/SPEC.md lists
// the keys and records it keeps there): batches committed atomically and
// durably before it acknowledges, reads of one key and of a prefix in key
// order, and the room left for new work. storage.Store, on Badger, is the
// one Start opens; Config.Backend gives another. A backend reports what
// storage's do with storage's sentinel errors: ErrNotFound for a missing
// key, ErrNoSpace when it refuses new work for room, ErrCorrupt for what
// it cannot read, ErrClosed once closed.
type Store interface {
	// CommitWithin commits b durably, or fails within timeout.
	CommitWithin(b *storage.Batch, timeout time.Duration) error
	// CommitJoining commits b with the next commit some other caller makes
	// durable, rather than starting one (a deletion nobody waits for).
	CommitJoining(b *storage.Batch, timeout time.Duration) error
	// Get returns a copy of key's value, or storage.ErrNotFound.
	Get(key []byte) ([]byte, error)
	// Scan calls fn for every key with the prefix and its value, in key
	// order; the slices are valid during the call only.
	Scan(prefix []byte, fn func(key, val []byte) error) error
	// ScanKeysFrom calls fn for the keys with the prefix from the first at
	// or after from (nil: the prefix), in key order, on a snapshot, until
	// fn returns false or an error; fn may keep the keys.
	ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error
	// Admit is nil when the store takes new work that will write about n
	// bytes, storage.ErrNoSpace when it has no room for it.
	Admit(n int) error
	// DiskBytes is the space the store takes now, 0 when not on a disk.
	DiskBytes() int64
	// Stats are the store's counters for the metrics.
	Stats() storage.Stats
	// Close ends the store; the agent closes it last.
	Close() error
}

// The store drills the tests use (InjectStoreFault, InjectStoreStall):
// a Store may offer them.
type (
	faultInjector interface{ InjectFault(err error) }
	stallInjector interface{ InjectStall(release <-chan struct{}) }
)

var _ Store = (*storage.Store)(nil)
