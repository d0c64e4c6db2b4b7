package storage

import (
	"os"
	"time"
)

// Test hooks. Files named *_test.go are compiled only into the package's
// test binary, so none of this is API.

// WithFreeSpace makes cfg's store measure free space with f instead of
// statfs, and only when Remeasure says so (or 8 MiB were committed since).
func WithFreeSpace(cfg *Config, f func() (int64, error)) {
	cfg.freeSpace, cfg.freeSpaceEvery = f, time.Hour
}

// Remeasure makes the store's next free-space check measure again.
func Remeasure(s *Store) {
	s.space.mu.Lock()
	s.space.at = time.Time{}
	s.space.mu.Unlock()
}

// CompactionRoom is compactionRoom.
var CompactionRoom = compactionRoom

// LogEntry is an entry of a Badger log, as LogEntries reads it.
type LogEntry struct {
	Offset, Size int
	// Commit marks a transaction's commit entry.
	Commit bool
}

// LogEntries returns the entries of the log at path up to where Badger's
// replay ends, and that end.
func LogEntries(path string) ([]LogEntry, int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	w := walkLog(data)
	var out []LogEntry
	for off := logHeaderSize; off < w.end; {
		e, ok := decodeEntry(data, off)
		if !ok {
			break
		}
		out = append(out, LogEntry{Offset: off, Size: e.size, Commit: e.meta&bitFinTxn != 0})
		off += e.size
	}
	return out, w.end, nil
}

// WriteClosing writes the marker Store.Close leaves while Badger closes,
// holding version v.
func WriteClosing(dir string, v uint64) error { return writeClosing(dir, v) }

// LogEndsFile is the record of where replays cut the logs.
const LogEndsFile = logEndsFile

// ClosingFile is the marker's name.
const ClosingFile = closingFile

// MaxVersion is the store's last version, as Close records it.
func MaxVersion(s *Store) uint64 { return s.db.MaxVersion() }
