package storage

import "errors"

// Sentinel errors of the storage package.
var (
	// ErrNotFound means no value is stored under the key.
	ErrNotFound = errors.New("storage: not found")
	// ErrClosed means the store is closed or closing.
	ErrClosed = errors.New("storage: closed")
	// ErrBatchTooLarge means one batch exceeds what a single transaction
	// may hold; split it.
	ErrBatchTooLarge = errors.New("storage: batch too large")
	// ErrBadConfig means a Config field is out of range; the message names it.
	ErrBadConfig = errors.New("storage: invalid configuration")
	// ErrCorrupt means Open found damage in the data directory that Badger
	// would silently drop, or a table whose checksums do not match: the
	// message names the file, the offset and the way out (doc.go,
	// "Corruption"). Nothing was changed on disk.
	ErrCorrupt = errors.New("storage: data corrupt")
	// ErrNoSpace means the data directory's filesystem is too full: below
	// the reserve, for new work (Admit); below the floor, for every commit
	// and for Open (doc.go, "Disk space"). Nothing of the refused batch was
	// written.
	ErrNoSpace = errors.New("storage: no space left for the store")
)
