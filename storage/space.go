package storage

import (
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// The free-space guard (doc.go, "Disk space"). Badger writes its logs and
// tables through mmap into files it preallocates sparse, so a full
// filesystem reaches it as SIGBUS in whichever goroutine touches the next
// page — a flush, a compaction, a commit — not as an error. The guard keeps
// it from getting there: it measures the free space of the data
// directory's filesystem (statfs) before every write group, and for Admit
// at most every spaceRefresh, counting what the committer hands Badger in
// between; and refuses work at two thresholds: new work below
// floor+reserve (Admit), every commit below the floor (the committer).
// Measuring before every group, not on a timer, is what keeps the store
// from writing once another process has taken the space: in 100 ms a
// writer such as dd fills a tmpfs, and Badger's next write into the
// unallocated part of its log faulted.

// spaceRefresh and spaceRefreshBytes bound how stale a measurement gets:
// what was committed since is counted, so they only bound the error of that
// count (compression, page rounding) and what other processes wrote.
const (
	spaceRefresh      = 100 * time.Millisecond
	spaceRefreshBytes = 8 << 20
)

// space is the free-space guard of a store on disk.
type space struct {
	dir            string
	floor, reserve int64                 // Config.DiskFloor, Config.DiskReserve
	measure        func() (int64, error) // free bytes now: statfs, or a test's
	every          time.Duration
	// eachGroup makes take measure every time (statfs costs about a
	// microsecond, a write group far more); off for a test's measure,
	// which measures when the test says.
	eachGroup  bool
	headroomOf func() int64 // room for the compactions the tree allows now

	mu sync.Mutex
	// Guarded by mu: the last measurement, when it was taken, the bytes
	// committed since, and the compaction room then.
	avail, since, headroom int64
	at                     time.Time
	err                    error
}

// statfsFree returns the bytes available to the store's user on the
// filesystem of dir (f_bavail: without the blocks reserved for root).
func statfsFree(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// now returns the free bytes as of now: the last measurement (retaken if
// stale) less what was committed since. Call with mu held.
func (sp *space) now() int64 { return sp.measured(false) }

// measured is now, measuring again also when force is set (the compaction
// room is still retaken only when stale: it asks Badger for its tree).
// Call with mu held.
func (sp *space) measured(force bool) int64 {
	t := time.Now()
	stale := sp.at.IsZero() || t.Sub(sp.at) >= sp.every || sp.since >= spaceRefreshBytes
	if stale || force {
		avail, err := sp.measure()
		sp.err = err
		if err == nil {
			sp.avail, sp.since = avail, 0
		}
		// A failed statfs keeps the last figure and what was counted
		// since: the guard errs towards full.
	}
	if stale {
		sp.at = t
		if sp.headroomOf != nil {
			sp.headroom = sp.headroomOf()
		}
	}
	return sp.avail - sp.since
}

// admit reports ErrNoSpace if n more bytes would leave less than the floor
// and the reserve free.
func (sp *space) admit(n int64) error {
	sp.mu.Lock()
	free := sp.now()
	need := sp.floor + sp.reserve + sp.headroom
	sp.mu.Unlock()
	if free-n < need {
		return fmt.Errorf("%w: %s has %s free on its filesystem, below the %s kept for work already accepted "+
			"(DiskFloor %s + DiskReserve %s + %s for compactions)",
			ErrNoSpace, sp.dir, mib(free), mib(need), mib(sp.floor), mib(sp.reserve), mib(need-sp.floor-sp.reserve))
	}
	return nil
}

// take reports whether n more bytes leave at least the floor free, and if
// so counts them as written: the committer calls it just before handing
// them to Badger. It measures first (eachGroup): what another process
// wrote since is then counted too. A group refused as a whole is retried
// batch by batch (spaceFor) against the same measurement.
func (sp *space) take(n int64) bool {
	return sp.takeMeasured(n, sp.eachGroup)
}

func (sp *space) takeMeasured(n int64, measure bool) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.measured(measure)-n < sp.floor+sp.headroom {
		return false
	}
	sp.since += n
	return true
}

// state returns the last figures: free bytes, floor and reserve (both with
// the compaction room), without measuring.
func (sp *space) state() (free, floor, reserve int64) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.avail - sp.since, sp.floor + sp.headroom, sp.floor + sp.reserve + sp.headroom
}

// compactionRoom is the most Badger may write on its own, beyond flushing
// memtables (which DiskFloor covers), given its tree now: a compaction's
// new tables are written before the old ones are deleted. The level-0
// compactor may merge every level-0 table with the whole base level
// (levels.go, fillTablesL0ToLbase: with keys that overlap, every table);
// the other compactor one table of a level over its target with the
// tables it overlaps in the next level, which holds the next level's share
// of that table's key range (fillTables), or, in the last level, about two
// tables (fillMaxLevelTables).
func compactionRoom(levels []badger.LevelInfo) int64 {
	var l0, base, other int64
	for i, l := range levels {
		switch {
		case l.Level == 0:
			l0 = l.Size
		case l.IsBaseLevel:
			base = l.Size
		}
		if l.Level == 0 || l.Size == 0 {
			continue
		}
		one := l.TargetFileSize
		if i+1 < len(levels) {
			one += l.TargetFileSize * levels[i+1].Size / max(l.Size, l.TargetFileSize, 1)
		} else {
			one *= 2
		}
		other = max(other, one)
	}
	return l0 + base + other
}

// mib formats bytes for messages.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// Space is the free-space guard's view of the data directory's filesystem
// (doc.go, "Disk space"). All zero for a store in memory or with the
// checks disabled.
type Space struct {
	// Free is the free space now, in bytes.
	Free int64
	// Floor is the free space below which every commit fails: DiskFloor
	// plus room for the compactions Badger's tree allows now.
	Floor int64
	// Reserve is the free space below which Admit refuses new work: Floor
	// plus DiskReserve.
	Reserve int64
}

// Space measures the free space (if the last measurement is stale) and
// returns it with the thresholds.
func (s *Store) Space() Space {
	if s.space == nil {
		return Space{}
	}
	if !s.isClosed() {
		s.space.mu.Lock()
		s.space.now()
		s.space.mu.Unlock()
	}
	free, floor, reserve := s.space.state()
	return Space{Free: free, Floor: floor, Reserve: reserve}
}

// Admit reports whether the store takes new work that will write about n
// bytes: ErrNoSpace (with a one-line message) if that would leave less
// free than the floor and the reserve. Call it before accepting a request;
// writes of work already accepted (replies, state changes, deletions) go
// straight to Commit, which refuses only below the floor. It measures at
// most every 100 ms and counts what was committed since, so it is cheap on
// every request. Once the store is closed it returns ErrClosed.
func (s *Store) Admit(n int) error {
	if s.isClosed() {
		return ErrClosed
	}
	if s.space == nil {
		return nil
	}
	if err := s.space.admit(int64(n)); err != nil {
		s.admitRefused.Add(1)
		return err
	}
	return nil
}

// isClosed reports whether Close was called (the guard then no longer
// asks Badger for its tree).
func (s *Store) isClosed() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	return s.closed
}

// batchDiskBytes is what a batch adds to Badger's logs: each entry's key
// with its 8-byte version, value, header (at most 22 bytes, usually 5 to
// 8) and CRC.
func batchDiskBytes(b *Batch) int64 {
	const perEntry = 8 + 12 + 4
	n := int64(b.bytes)
	return n + int64(len(b.ops))*perEntry
}

// perTxnDiskBytes is the commit entry Badger adds to each transaction.
const perTxnDiskBytes = 48

// fits reports whether n more bytes leave at least the floor free, without
// counting them.
func (sp *space) fits(n int64) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.now()-n >= sp.floor+sp.headroom
}

// openCheck refuses to open Badger on a filesystem with less free than
// the floor, or than the memtable logs Badger will replay and flush into
// tables at once (replay bytes) plus the slack.
func (sp *space) openCheck(replay int64) error {
	sp.mu.Lock()
	free := sp.now()
	err := sp.err
	sp.mu.Unlock()
	if err != nil {
		return fmt.Errorf("storage: measure free space of %s: %w (a negative DiskFloor disables the check)", sp.dir, err)
	}
	need := max(sp.floor, replay+diskSlack)
	if free < need {
		return fmt.Errorf("%w: %s has %s free on its filesystem, and the store needs %s free to start (DiskFloor: what Badger writes on its own); "+
			"free space there or move the data directory", ErrNoSpace, sp.dir, mib(free), mib(need))
	}
	return nil
}
