package storage

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/internal/configerr"
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

	// DiskFloor is the free space, in bytes, kept on the data directory's
	// filesystem for what Badger writes on its own: below it every commit
	// fails with ErrNoSpace before it reaches Badger, and Open refuses to
	// start. Badger writes through mmap, so a full filesystem would reach
	// it as SIGBUS, not as an error (doc.go, "Disk space"). Default
	// numMemtables × MemTableSize + 8 MiB (56 MiB): every memtable flushed
	// into a table while its log still exists, plus the manifest, discard
	// stats and page rounding. While the store runs, the largest compaction
	// its tree allows (level 0 and the base level) is added to it. Negative
	// disables every free-space check.
	DiskFloor int64
	// DiskReserve is the free space, in bytes, above DiskFloor that only
	// work already accepted may use: Admit refuses new work once it would
	// eat into it, while replies, state changes and deletions still commit.
	// Default 64 MiB: 32 replies of the largest GIOP message by default
	// (giop.DefaultMaxMessageSize), or hundreds of thousands of deletions.
	DiskReserve int64
	// ForceRecover opens a store in which Open found damage (ErrCorrupt)
	// anyway, accepting the loss: each damaged log is cut at its first bad
	// entry, as Badger would silently do, an empty log is removed, a key
	// whose large value was lost is deleted, and damaged tables are only
	// logged. Every loss is logged at Error. Meant for one start after an
	// operator chose it over restoring a backup (doc.go, "Corruption").
	ForceRecover bool
	// SkipTableCheck skips verifying every table's block checksums at
	// Open. Badger's iterators end silently at a bad block, and a changed
	// byte in a value is read as it is, so without the check a damaged
	// table shows up as records missing or wrong, not as an error. It reads
	// the whole tree once, before Badger opens it (doc.go, "Corruption").
	SkipTableCheck bool

	// freeSpace, when set (by tests, export_test.go), measures the free
	// space instead of statfs, at most every freeSpaceEvery.
	freeSpace      func() (int64, error)
	freeSpaceEvery time.Duration
}

// Defaults.
const (
	DefaultMaxBatchEntries = 4096
	DefaultMaxBatchBytes   = 8 << 20
	DefaultMemTableSize    = 16 << 20
	DefaultJoinDelay       = 10 * time.Millisecond
	DefaultGCInterval      = 5 * time.Minute
	DefaultGCDiscardRatio  = 0.5
	// DefaultDiskReserve is Config.DiskReserve's default.
	DefaultDiskReserve = 64 << 20
	// diskSlack is what the floor keeps beyond the memtables: the
	// manifest, the 1 MiB discard-stats file, new log headers and the
	// page rounding of every file Badger appends to.
	diskSlack = 8 << 20
)

// numMemtables is how many memtables Badger keeps (Open): one being
// written, the others waiting for their flush.
const numMemtables = 3

// DefaultDiskFloor is Config.DiskFloor's default for a memtable size.
func DefaultDiskFloor(memTableSize int64) int64 {
	return numMemtables*memTableSize + diskSlack
}

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
	if c.DiskFloor == 0 {
		c.DiskFloor = DefaultDiskFloor(c.MemTableSize)
	}
	if c.DiskReserve == 0 {
		c.DiskReserve = DefaultDiskReserve
	}
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error { return configerr.New(ErrBadConfig, field, v, why) }
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
	case c.DiskReserve < 0:
		return bad("DiskReserve", c.DiskReserve, "must not be negative (a negative DiskFloor disables the checks)")
	}
	return nil
}
