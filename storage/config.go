package storage

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Store. Zero fields take their defaults.
type Config struct {
	// Dir is the data directory. Required unless InMemory.
	Dir string
	// InMemory keeps everything in memory (for tests); nothing survives Close.
	InMemory bool
	// Durable makes Commit return only once the batch is flushed to disk
	// (Badger SyncWrites). Default true via DefaultConfig; false loses the
	// last moments of acknowledged writes on power failure or kernel crash.
	Durable bool
	// MaxBatchEntries caps the entries of one group commit. Default 4096.
	MaxBatchEntries int
	// MaxBatchBytes caps the bytes of one group commit, well below Badger's
	// transaction limit. Default 8 MiB.
	MaxBatchBytes int
	// MemTableSize is Badger's memtable size in bytes. Default 16 MiB:
	// smaller than Badger's server default, for 2-core machines and tests.
	MemTableSize int64
	// JoinDelay is how long a batch committed with CommitJoining waits for
	// a group commit to join before it is flushed on its own. Default
	// 10 ms; it only matters when Durable.
	JoinDelay time.Duration
	// GCInterval is how often value-log garbage collection runs. Default
	// 5 minutes; negative disables it.
	GCInterval time.Duration
	// GCDiscardRatio is the share of garbage a value-log file must hold to
	// be rewritten. Default 0.5.
	GCDiscardRatio float64
	// Logger receives store events; Badger's own INFO lines go to Debug.
	Logger zerolog.Logger

	// ForceRecover opens a store in which Open found damage (ErrCorrupt)
	// anyway, accepting the loss: each damaged log is cut at its first bad
	// entry, as Badger would silently do, an empty log is removed, a key
	// whose large value was lost is deleted, and damaged tables are only
	// logged. Every loss is logged at Error. Meant for one start after an
	// operator chose it over restoring a backup (doc.go, "Corruption").
	ForceRecover bool
	// SkipTableCheck skips verifying every table's block checksums at Open
	// (Badger's DB.VerifyChecksum). Badger's iterators end silently at a
	// bad block, and a changed byte in a value is read as it is, so without
	// the check a damaged table shows up as records missing or wrong, not
	// as an error. It reads the whole tree once: about 0.3–1.5 s for a
	// 190 MiB store on our 2-core machine (doc.go, "Corruption").
	SkipTableCheck bool
}

// Defaults.
const (
	DefaultMaxBatchEntries = 4096
	DefaultMaxBatchBytes   = 8 << 20
	DefaultMemTableSize    = 16 << 20
	DefaultJoinDelay       = 10 * time.Millisecond
	DefaultGCInterval      = 5 * time.Minute
	DefaultGCDiscardRatio  = 0.5
)

// numMemtables is how many memtables Badger keeps (Open): one being
// written, the others waiting for their flush.
const numMemtables = 3

// DefaultConfig returns the defaults for a store in dir.
func DefaultConfig(dir string) Config {
	return Config{Dir: dir, Durable: true, Logger: zerolog.Nop()}
}

func (c *Config) withDefaults() {
	if c.MaxBatchEntries == 0 {
		c.MaxBatchEntries = DefaultMaxBatchEntries
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MemTableSize == 0 {
		c.MemTableSize = DefaultMemTableSize
	}
	if c.JoinDelay == 0 {
		c.JoinDelay = DefaultJoinDelay
	}
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.GCDiscardRatio == 0 {
		c.GCDiscardRatio = DefaultGCDiscardRatio
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: %s=%v: %s", ErrBadConfig, field, v, why)
	}
	switch {
	case c.Dir == "" && !c.InMemory:
		return bad("Dir", `""`, "a data directory is required")
	case c.MaxBatchEntries < 0:
		return bad("MaxBatchEntries", c.MaxBatchEntries, "must not be negative")
	case c.MaxBatchBytes < 0:
		return bad("MaxBatchBytes", c.MaxBatchBytes, "must not be negative")
	case c.MemTableSize < 0:
		return bad("MemTableSize", c.MemTableSize, "must not be negative")
	case c.JoinDelay < 0:
		return bad("JoinDelay", c.JoinDelay, "must not be negative")
	case c.GCDiscardRatio < 0 || c.GCDiscardRatio >= 1:
		return bad("GCDiscardRatio", c.GCDiscardRatio, "must be in [0, 1)")
	}
	return nil
}
