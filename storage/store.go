package storage

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/internal/timerpool"
)

// Store is the agent's durable key-value store.
type Store struct {
	db  *badger.DB
	cfg Config
	log zerolog.Logger

	commitCh chan *pending
	quitCh   chan struct{} // closed by Close: the committer drains and exits
	wg       sync.WaitGroup
	closeMu  sync.RWMutex // held for reading while enqueueing; Close takes it to stop enqueues
	closed   bool         // guarded by closeMu

	commits, groups atomic.Int64 // batches committed, transactions used
	entries, busy   atomic.Int64 // mutations committed; nanoseconds in committed transactions
	joining         atomic.Int64 // batches the committer holds (Stats.Joining)
	stalled         atomic.Int64 // group commits held by InjectStall (Stats.Stalled)

	// fault, when set, fails every commit with it (InjectFault).
	fault atomic.Pointer[error]
	// stall, when set, holds every commit until it is closed (InjectStall).
	stall atomic.Pointer[<-chan struct{}]
	// disk and diskAt cache DiskBytes.
	disk, diskAt atomic.Int64

	// space is the free-space guard; nil in memory or when disabled.
	space *space
	// noSpace counts batches the floor refused, admitRefused the work
	// Admit refused; belowFloor is set while commits are being refused
	// (so that the transition is logged, not every refusal).
	noSpace, admitRefused atomic.Int64
	belowFloor            atomic.Bool
}

// InjectFault makes every commit fail with err until called with nil: the
// way tests play a full disk or a failing fsync, which Badger reports the
// same way (an error from the commit, nothing acknowledged).
func (s *Store) InjectFault(err error) {
	if err == nil {
		s.fault.Store(nil)
		return
	}
	s.fault.Store(&err)
}

// InjectStall makes every commit wait, before it reaches Badger, until
// release is closed (nil: no more stalls): the way tests hold a commit in
// flight, as a slow disk would.
func (s *Store) InjectStall(release <-chan struct{}) {
	if release == nil {
		s.stall.Store(nil)
		return
	}
	s.stall.Store(&release)
}

// Stats are counters for operators and tests.
type Stats struct {
	// Commits is the number of batches committed; Groups the number of
	// Badger transactions (flushes) they took. Commits/Groups is the group
	// commit's gain.
	Commits, Groups int64
	// Entries is the number of mutations (sets and deletes) committed.
	Entries int64
	// Busy is the time spent in the transactions that committed, flushes
	// included: over a run's wall time, how loaded the committer was.
	Busy time.Duration
	// Joining is the number of batches waiting for a group commit to join
	// (CommitJoining) right now.
	Joining int64
	// Stalled is the number of group commits held by InjectStall right now.
	Stalled int64
	// NoSpace is the number of batches refused with ErrNoSpace because
	// free space was below the floor; AdmitRefused the number of times
	// Admit refused new work.
	NoSpace, AdmitRefused int64
	// DiskFree, DiskFloor and DiskReserve are the free-space guard's
	// figures (Space: measured again if the last measurement is older than
	// 100 ms); zero in memory.
	DiskFree, DiskFloor, DiskReserve int64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{Commits: s.commits.Load(), Groups: s.groups.Load(), Entries: s.entries.Load(),
		Busy: time.Duration(s.busy.Load()), Joining: s.joining.Load(), Stalled: s.stalled.Load(),
		NoSpace: s.noSpace.Load(), AdmitRefused: s.admitRefused.Load()}
	if s.space != nil {
		// Measured again if stale (at most every 100 ms), so that the
		// free-space gauge follows the filesystem while the store is idle.
		sp := s.Space()
		st.DiskFree, st.DiskFloor, st.DiskReserve = sp.Free, sp.Floor, sp.Reserve
	}
	return st
}

// Batch is a set of mutations committed atomically.
type Batch struct {
	ops   []mutation
	bytes int
	// small holds the first mutations: the agent's batches have two or
	// three, and then need no allocation of their own.
	small [3]mutation
}

type mutation struct {
	key, val []byte
	del      bool
}

// Set stores val under key. The batch keeps the slices; do not modify them
// until Commit returns.
func (b *Batch) Set(key, val []byte) {
	if b.ops == nil {
		b.ops = b.small[:0]
	}
	b.ops = append(b.ops, mutation{key: key, val: val})
	b.bytes += len(key) + len(val)
}

// Delete removes key.
func (b *Batch) Delete(key []byte) {
	if b.ops == nil {
		b.ops = b.small[:0]
	}
	b.ops = append(b.ops, mutation{key: key, del: true})
	b.bytes += len(key)
}

// Len returns the number of mutations in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Each calls fn for each mutation in order: a Set with its value, a
// Delete with del true — for a backend other than this package's to
// apply the batch.
func (b *Batch) Each(fn func(key, val []byte, del bool)) {
	for _, m := range b.ops {
		fn(m.key, m.val, m.del)
	}
}

// pendingPool recycles pendings and their channels (two allocations per
// commit otherwise). Only a pending whose answer was received goes back.
var pendingPool = sync.Pool{New: func() any { return &pending{done: make(chan error, 1)} }}

// recycle returns a pending that the committer no longer holds.
func (p *pending) recycle() {
	p.b = nil
	p.joining = false
	pendingPool.Put(p)
}

// pending is a batch waiting for the committer.
type pending struct {
	b    *Batch
	done chan error // buffered 1
	// joining: the batch waits for a group commit to join rather than
	// starting one (CommitJoining).
	joining bool
}

// Open opens (or creates) the store. Before Badger opens, it checks the
// free space (ErrNoSpace below the floor) and Badger's logs (ErrCorrupt
// for damage that Badger would silently cut away); after, every table's
// checksums (unless SkipTableCheck). See doc.go, "Corruption" and "Disk
// space". On an error nothing on disk was changed, except by ForceRecover.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	var sp *space
	var check dirCheck
	if !cfg.InMemory {
		if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", cfg.Dir, err)
		}
		// Hold Badger's directory lock while reading its files, so that a
		// store another process has open is reported as such rather than
		// judged while it is being written; it is released for Badger to
		// take right after.
		unlock, err := lockDir(cfg.Dir)
		if err != nil {
			return nil, err
		}
		check, err = checkDir(cfg.Dir, cfg.MemTableSize)
		if err != nil {
			unlock()
			if errors.Is(err, ErrCorrupt) {
				return nil, err
			}
			return nil, fmt.Errorf("storage: check %s: %w", cfg.Dir, err)
		}
		if cfg.DiskFloor >= 0 {
			sp = &space{dir: cfg.Dir, floor: cfg.DiskFloor, reserve: cfg.DiskReserve, every: spaceRefresh,
				measure: func() (int64, error) { return statfsFree(cfg.Dir) }, eachGroup: true}
			if cfg.freeSpace != nil {
				sp.measure, sp.every, sp.eachGroup = cfg.freeSpace, cfg.freeSpaceEvery, false
			}
			if err := sp.openCheck(check.replay); err != nil {
				unlock()
				return nil, err
			}
		}
		err = recoverLogs(cfg, check)
		unlock()
		if err != nil {
			return nil, err
		}
	}
	opts := badger.DefaultOptions(cfg.Dir).
		WithInMemory(cfg.InMemory).
		WithSyncWrites(cfg.Durable).
		WithLogger(badgerLogger{cfg.Logger}).
		WithMemTableSize(cfg.MemTableSize).
		WithNumMemtables(numMemtables).
		WithBlockCacheSize(32 << 20).
		WithNumCompactors(2).
		WithBaseTableSize(512 << 10).
		// A base level of 64 MiB (Badger's: 10) holds what a burst of a
		// million requests writes, so a restart right after one finds
		// nothing to compact: compacting while recovering added up to
		// ~100 MiB of table builders and a second (RELIABILITY.md, Memory).
		WithBaseLevelSize(64 << 20).
		// One committer writes; there is nothing to conflict with.
		WithDetectConflicts(false).
		// Values from 1 MiB go to the value log (Badger's default), but
		// Badger refuses a threshold above a transaction's limit, 15% of
		// the memtable: smaller memtables (tests) take a smaller one.
		WithValueThreshold(min(1<<20, cfg.MemTableSize*15/100)).
		// 64 MiB value-log files, not Badger's 1 GiB: each is mapped at
		// twice its size and value-log GC rewrites up to one file's live
		// values at a time, which the free-space guard must leave room
		// for (doc.go, "Disk space"). Only values of 1 MiB and more go
		// there, so the file count stays small.
		WithValueLogFileSize(valueLogFileSize).
		// A damaged value in the value log is then an error on read, not
		// wrong bytes (doc.go, "Corruption").
		WithVerifyValueChecksum(true)
	if cfg.InMemory {
		opts.Dir, opts.ValueDir = "", ""
	} else if !cfg.SkipTableCheck {
		if err := checkTables(cfg, opts); err != nil {
			return nil, err
		}
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, badgerOpenError(cfg.Dir, err)
	}
	s := &Store{
		db:       db,
		cfg:      cfg,
		log:      cfg.Logger,
		commitCh: make(chan *pending, cfg.MaxBatchEntries),
		quitCh:   make(chan struct{}),
		space:    sp,
	}
	if !cfg.InMemory {
		if err := s.afterOpen(check); err != nil {
			db.Close()
			return nil, err
		}
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.commitLoop() }()
	if cfg.GCInterval > 0 && !cfg.InMemory {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.gcLoop() }()
	}
	return s, nil
}

// valueLogFileSize is Badger's ValueLogFileSize (Open).
const valueLogFileSize = 64 << 20

// Commit writes the batch and returns once it is durable (or, with
// Durable=false, written through to Badger). If ctx ends first, Commit
// returns ctx's error — but the batch may still be committed: callers must
// not acknowledge it, and must not assume it absent either.
func (s *Store) Commit(ctx context.Context, b *Batch) error {
	if err := s.commit(b, ctx.Done(), nil, false); err != errGaveUp {
		return err
	}
	return ctx.Err()
}

// CommitWithin is Commit with a timeout instead of a context: if the batch
// is not durable within it, the error is context.DeadlineExceeded (and
// the batch may still be committed). It waits on a recycled timer — the
// agent commits at least twice per request, and a context with a deadline
// costs five allocations each time.
func (s *Store) CommitWithin(b *Batch, timeout time.Duration) error {
	return s.commitWithin(b, timeout, false)
}

// CommitJoining is CommitWithin for a batch that need not be durable at
// once: it does not start a flush of its own, but joins the next group
// commit that another batch starts — or, if none comes within JoinDelay,
// is flushed alone. It still returns only once the batch is durable. A
// write nobody is waiting for (the agent's trash after a read) then costs
// no flush of its own, and does not make the next acknowledged write wait
// behind one: at one client, that was every other flush.
func (s *Store) CommitJoining(b *Batch, timeout time.Duration) error {
	return s.commitWithin(b, timeout, true)
}

func (s *Store) commitWithin(b *Batch, timeout time.Duration, joining bool) error {
	t := timerpool.Get(timeout)
	defer timerpool.Put(t)
	if err := s.commit(b, nil, t.C, joining); err != errGaveUp {
		return err
	}
	return context.DeadlineExceeded
}

// errGaveUp is commit's "the caller stopped waiting".
var errGaveUp = errors.New("storage: gave up waiting for the commit")

// commit hands b to the committer and waits for it, or until cancel is
// closed or expired fires (either may be nil). joining marks the batch as
// one that joins a group rather than starting one.
func (s *Store) commit(b *Batch, cancel <-chan struct{}, expired <-chan time.Time, joining bool) error {
	if b.Len() == 0 {
		return nil
	}
	if b.Len() > s.cfg.MaxBatchEntries || b.bytes > s.cfg.MaxBatchBytes {
		return fmt.Errorf("%w: %d entries, %d bytes", ErrBatchTooLarge, b.Len(), b.bytes)
	}
	p := pendingPool.Get().(*pending)
	p.b = b
	p.joining = joining && s.cfg.Durable
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		p.recycle()
		return ErrClosed
	}
	select {
	case s.commitCh <- p:
		s.closeMu.RUnlock()
	case <-cancel:
		s.closeMu.RUnlock()
		p.recycle()
		return errGaveUp
	case <-expired:
		s.closeMu.RUnlock()
		p.recycle()
		return errGaveUp
	}
	select {
	case err := <-p.done:
		p.recycle()
		return err
	case <-cancel:
	case <-expired:
	}
	// The committer still has p and will answer into its buffered done:
	// it is left to the garbage collector, not recycled.
	return errGaveUp
}

// commitLoop is the only writer. It takes every batch waiting, up to the
// caps, and commits them in one transaction: one flush for the group.
// Joining batches (CommitJoining) are held until a batch that starts a
// group comes, and go first in its transaction — the order they came in —
// or are flushed alone once the oldest has waited JoinDelay.
func (s *Store) commitLoop() {
	var group, held []*pending
	heldEntries, heldBytes := 0, 0
	join := time.NewTimer(time.Hour)
	join.Stop()
	var joinC <-chan time.Time // join.C while batches are held
	hold := func(p *pending) {
		if len(held) == 0 {
			join.Reset(s.cfg.JoinDelay)
			joinC = join.C
		}
		held = append(held, p)
		heldEntries += p.b.Len()
		heldBytes += p.b.bytes
		s.joining.Store(int64(len(held)))
	}
	// takeHeld moves the held batches to the front of group.
	takeHeld := func() {
		group = append(group[:0], held...)
		join.Stop()
		joinC = nil
		clear(held)
		held = held[:0]
		heldEntries, heldBytes = 0, 0
		s.joining.Store(0)
	}
	lastGroup := 0
	for {
		var first *pending
		select {
		case first = <-s.commitCh:
			if first.joining {
				if heldEntries+first.b.Len() > s.cfg.MaxBatchEntries || heldBytes+first.b.bytes > s.cfg.MaxBatchBytes {
					// Enough held for a group of their own.
					takeHeld()
					s.commitGroup(group)
					clear(group)
				}
				hold(first)
				continue
			}
		case <-joinC:
			lastGroup = len(held)
			takeHeld()
			s.commitGroup(group)
			clear(group)
			continue
		case <-s.quitCh:
			// Close stopped new enqueues; commit what is held and what
			// is left, then exit.
			if len(held) > 0 {
				takeHeld()
				s.commitGroup(group)
			}
			for {
				select {
				case p := <-s.commitCh:
					s.commitGroup([]*pending{p})
				default:
					return
				}
			}
		}
		entries, bytes := heldEntries+first.b.Len(), heldBytes+first.b.bytes
		takeHeld()
		group = append(group, first)
		// Under load (the last group was big) writers that were just
		// answered are about to come back: yielding a few times before the
		// flush lets them join this group instead of waiting for the next.
		yields := 0
		if lastGroup >= lingerAbove {
			yields = lingerYields
		}
	gather:
		for entries < s.cfg.MaxBatchEntries && bytes < s.cfg.MaxBatchBytes {
			select {
			case p := <-s.commitCh:
				if entries+p.b.Len() > s.cfg.MaxBatchEntries || bytes+p.b.bytes > s.cfg.MaxBatchBytes {
					s.commitGroup(group)
					group = append(group[:0], p)
					entries, bytes = p.b.Len(), p.b.bytes
					continue
				}
				group = append(group, p)
				entries += p.b.Len()
				bytes += p.b.bytes
			default:
				if yields == 0 {
					break gather
				}
				yields--
				runtime.Gosched()
			}
		}
		lastGroup = len(group)
		s.commitGroup(group)
		clear(group)
	}
}

// commitGroup commits the batches in one transaction (writeGroup) and
// tells each waiter the outcome, after the stall and fault a test may have
// injected and the free-space floor.
func (s *Store) commitGroup(group []*pending) {
	if st := s.stall.Load(); st != nil {
		s.stalled.Add(1)
		<-*st
		s.stalled.Add(-1)
	}
	if f := s.fault.Load(); f != nil {
		for _, p := range group {
			p.done <- fmt.Errorf("storage: commit: %w", *f)
		}
		return
	}
	if s.space != nil {
		if group = s.spaceFor(group); len(group) == 0 {
			return
		}
	}
	s.writeGroup(group)
}

// spaceFor answers ErrNoSpace to the batches of group that would leave
// less than the floor free, in order, and returns the others (sharing
// group's array): a big write refused does not hold back the small
// deletion behind it.
func (s *Store) spaceFor(group []*pending) []*pending {
	var n int64 = perTxnDiskBytes
	for _, p := range group {
		n += batchDiskBytes(p.b)
	}
	if s.space.take(n) {
		s.spaceOK()
		return group
	}
	kept := group[:0]
	for _, p := range group {
		if s.space.takeMeasured(batchDiskBytes(p.b)+perTxnDiskBytes, false) {
			kept = append(kept, p)
			continue
		}
		s.noSpace.Add(1)
		free, floor, _ := s.space.state()
		err := fmt.Errorf("%w: %s has %s free on its filesystem, and the store keeps %s free for Badger's own writes "+
			"(DiskFloor %s + %s for compactions): free space there", ErrNoSpace, s.cfg.Dir, mib(free), mib(floor),
			mib(s.cfg.DiskFloor), mib(floor-s.cfg.DiskFloor))
		if !s.belowFloor.Swap(true) {
			s.log.Error().Err(err).Msg("storage: free space below the floor: commits fail until space is freed")
		}
		p.done <- err
	}
	return kept
}

// spaceOK logs the end of a shortage of space.
func (s *Store) spaceOK() {
	if s.belowFloor.Load() && s.belowFloor.Swap(false) {
		free, floor, _ := s.space.state()
		s.log.Warn().Int64("free", free).Int64("floor", floor).Msg("storage: free space back above the floor: commits resume")
	}
}

// writeGroup commits the batches in one Badger transaction and answers
// them. Should the transaction still be too big for Badger, the group is
// split in halves and retried, so one batch never fails because of its
// neighbours.
func (s *Store) writeGroup(group []*pending) {
	started, entries := time.Now(), 0
	err := s.db.Update(func(txn *badger.Txn) error {
		entries = 0
		for _, p := range group {
			entries += len(p.b.ops)
			for _, m := range p.b.ops {
				var err error
				if m.del {
					err = txn.Delete(m.key)
				} else {
					err = txn.Set(m.key, m.val)
				}
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if errors.Is(err, badger.ErrTxnTooBig) && len(group) > 1 {
		half := len(group) / 2
		s.writeGroup(group[:half])
		s.writeGroup(group[half:])
		return
	}
	if errors.Is(err, syscall.ENOSPC) {
		// A file Badger writes with write(2) (the manifest) found the
		// filesystem full: the guard's figures were off.
		err = fmt.Errorf("storage: commit: %w: %w", ErrNoSpace, err)
	} else if err != nil {
		err = fmt.Errorf("storage: commit: %w", err)
	}
	if err != nil {
		s.log.Error().Err(err).Int("batches", len(group)).Msg("storage: group commit failed")
	} else {
		// Commits first: a reader of Groups then Commits never sees
		// more transactions than batches.
		s.entries.Add(int64(entries))
		s.busy.Add(int64(time.Since(started)))
		s.commits.Add(int64(len(group)))
		s.groups.Add(1)
	}
	for _, p := range group {
		p.done <- err
	}
}

// The committer lingers (yields lingerYields times before flushing) only
// after a group of at least lingerAbove batches: alone, a writer never waits.
const (
	lingerAbove  = 8
	lingerYields = 4
)

// Get returns a copy of the value stored under key, or ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		if val, err = item.ValueCopy(nil); err != nil {
			return err
		}
		return readable(item, val)
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	return val, err
}

// Scan calls fn for every key with the prefix, in key order, with the
// value. The slices are valid only during the call. fn returning an error
// stops the scan and Scan returns it.
func (s *Store) Scan(prefix []byte, fn func(key, val []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			item := it.Item()
			err := item.Value(func(v []byte) error {
				if err := readable(item, v); err != nil {
					return err
				}
				return fn(item.Key(), v)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// readable turns Badger's silence about a value it could not read into
// an error. Badger returns an empty value and no error when a value in
// the value log fails its checksum or lies past the log's end — it only
// logs it (iterator.go, yieldItemValue) — and such a value is never empty
// (values of 1 MiB and more go there).
func readable(item *badger.Item, val []byte) error {
	if len(val) == 0 && item.ValueSize() > 0 {
		return fmt.Errorf("%w: the value of key %q cannot be read: the value log fails its checksum there or no longer holds it "+
			"(Badger's log says which); restore the data directory from a backup", ErrCorrupt, item.Key())
	}
	return nil
}

// ScanKeys calls fn for every key with the prefix, without reading values
// (cheap: values of large records stay on disk).
func (s *Store) ScanKeys(prefix []byte, fn func(key []byte) error) error {
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(prefix); it.ValidForPrefix(prefix); it.Next() {
			if err := fn(it.Item().Key()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Size returns the on-disk size of the LSM tree and the value log, in
// bytes, as Badger last computed it (it does so about once a minute).
func (s *Store) Size() (lsm, vlog int64) { return s.db.Size() }

// DiskBytes returns the disk space the data directory uses now — allocated
// blocks, so that Badger's sparse, preallocated files count for what they
// hold. It is measured at most once a second; 0 for an in-memory store.
func (s *Store) DiskBytes() int64 {
	if s.cfg.InMemory {
		return 0
	}
	now := time.Now().UnixNano()
	if at := s.diskAt.Load(); now-at < int64(time.Second) && at != 0 {
		return s.disk.Load()
	}
	var total int64
	filepath.WalkDir(s.cfg.Dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil {
			if st, ok := info.Sys().(*syscall.Stat_t); ok {
				total += st.Blocks * 512
			} else {
				total += info.Size()
			}
		}
		return nil
	})
	s.disk.Store(total)
	s.diskAt.Store(now)
	return total
}

// gcLoop runs value-log GC on a schedule, repeating while it finds work
// (Badger rewrites at most one file per call).
func (s *Store) gcLoop() {
	t := time.NewTicker(s.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quitCh:
			return
		case <-t.C:
		}
		for n := 0; ; n++ {
			if s.space != nil && !s.space.fits(valueLogFileSize) {
				// A rewrite writes up to one file's live values before
				// the old file goes.
				s.log.Debug().Msg("storage: value-log GC skipped: too little free space for a rewrite")
				break
			}
			err := s.db.RunValueLogGC(s.cfg.GCDiscardRatio)
			if err != nil {
				if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
					s.log.Warn().Err(err).Msg("storage: value-log GC failed")
				}
				s.log.Debug().Int("rewritten", n).Msg("storage: value-log GC done")
				break
			}
			select {
			case <-s.quitCh:
				return
			default:
			}
		}
	}
}

// Close commits what is queued, stops the store's goroutines and closes
// Badger. It is idempotent; the store must close after everything that
// uses it (agent/agent.go, Agent.Shutdown, closes it last).
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.quitCh)
	s.wg.Wait()
	if s.cfg.InMemory {
		return s.db.Close()
	}
	// Badger's Close flushes the memtable and deletes its log, emptying
	// the file first: a kill in between leaves an empty log that the next
	// Open must tell from one emptied by damage. The marker tells it the
	// last version written, which the tables then hold (doc.go,
	// "Corruption"). Nothing writes after this point.
	err := writeClosing(s.cfg.Dir, s.db.MaxVersion())
	marked := err == nil
	if !marked {
		s.log.Warn().Err(err).Str("dir", s.cfg.Dir).
			Msg("storage: cannot mark the close: a kill while Badger closes may leave a store that refuses to start")
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	if marked {
		if err := removeSynced(s.cfg.Dir, closingFile); err != nil {
			return fmt.Errorf("storage: close %s: %w", s.cfg.Dir, err)
		}
	}
	return nil
}

// badgerLogger routes Badger's logging to zerolog; its INFO lines (table
// and value-log replay at open) are Debug for us.
type badgerLogger struct{ l zerolog.Logger }

func (b badgerLogger) Errorf(f string, a ...any)   { badgerLine(b.l.Error(), f, a) }
func (b badgerLogger) Warningf(f string, a ...any) { badgerLine(b.l.Warn(), f, a) }
func (b badgerLogger) Infof(f string, a ...any)    { badgerLine(b.l.Debug(), f, a) }
func (b badgerLogger) Debugf(f string, a ...any)   { badgerLine(b.l.Trace(), f, a) }

// badgerLine formats only when the level is enabled: Badger logs at debug
// on every commit, and formatting those for nothing showed in profiles.
func badgerLine(ev *zerolog.Event, f string, a []any) {
	if ev == nil {
		return
	}
	ev.Msg("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
