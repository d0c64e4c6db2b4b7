// Package storage is requestagent's durable state: an embedded Badger v4
// store behind a small API in the agent's terms, so that no other package
// sees a Badger transaction.
//
// Acknowledged means durable (RELIABILITY.md). Writers hand a Batch to
// Commit, which returns once the batch is on disk. One committer goroutine
// gathers every batch waiting into one Badger transaction, committed with
// SyncWrites=true: one flush for the whole group. This is the pattern
// measured fastest at high concurrency on our kind of machine, and unlike
// SyncWrites=false plus db.Sync() it has no window in which a memtable
// rotation leaves an acknowledged write unsynced.
//
// Durable=false is the opt-out for users who accept losing the last moments
// of writes on power failure (not on a process crash: Badger writes through
// mmap either way).
//
// # What we rely on from Badger (v4.9.6)
//
// Badger keeps four kinds of files. Memtable logs (NNNNN.mem) are the
// write-ahead log: every transaction's entries, then a commit entry, each
// entry a header, key, value and CRC32C; one log per memtable, created
// sparse at twice MemTableSize and written through mmap. Value logs
// (NNNNNN.vlog) hold values of 1 MiB and more, the memtable log a pointer
// to them. Tables (NNNNNN.sst) hold the flushed, compacted tree, in blocks
// with checksums and an index with its own. The MANIFEST lists the tables.
//
// # Corruption
//
// At Open Badger replays every memtable log, and the newest value log, up
// to the first entry that does not decode or fails its CRC — and cuts the
// file there, silently (memtable.go, UpdateSkipList; value.go,
// valueLog.open). That is right for the torn tail of a crash and wrong for
// a damaged byte in the middle: everything after it, acknowledged or not,
// is gone, and the store serves a shorter history. An emptied memtable log
// fails Badger's Open once ("Create a new file") and is then replayed as
// empty. Badger has no option to change this; its ChecksumVerificationMode
// covers tables only.
//
// So Open reads the logs first (logcheck.go), under Badger's directory
// lock, the way Badger replays them, and judges what follows the point
// where the replay would stop. What a crash can leave there is known: the
// log is preallocated, so past the last write it holds zeroes, and it
// keeps its full size; a batch is acknowledged only once its commit entry
// is synced; and a killed process's stores land in order, so the write in
// flight is a prefix of one transaction — its complete entries, then one
// entry cut short, then zeroes. That tail was never acknowledged, and is
// dropped with a Warn line (bytes are dropped). Anything else is
// ErrCorrupt, with a one-line message naming the file, the offset and
// what is wrong:
//
//   - non-zero bytes past the one entry cut short (a damaged entry with log
//     after it), or a complete commit entry anywhere past the stop;
//   - a cut commit entry whose bytes are not a prefix of the commit entry
//     the open transaction must end with (it is known byte for byte);
//   - a torn tail in any log but the newest (the others were finished);
//   - a memtable log of any size but the one Badger creates it with (twice
//     MemTableSize; REQUESTAGENT-MEMTABLES keeps the sizes the store was
//     opened with, as a changed MemTableSize leaves logs of the old one)
//     or the one its last replay kept: a crash never shrinks a memtable
//     log, and only Badger's replay cuts one, at its last entry. Open
//     records where each replay will cut in REQUESTAGENT-LOGENDS (written
//     atomically before Badger opens, only when Badger is about to cut a
//     log, which after a clean Close it is not; each record names the file
//     by its header's random bytes too, as Badger reuses names). So a log
//     cut a few bytes into an entry is refused, although its remains look
//     like a torn write; so is a log that ends inside an entry, or right
//     after its last entry, or is shorter than its header or its record;
//   - an empty memtable log, unless it is shown to be a leftover of
//     Badger's delete (below);
//   - a replayed entry pointing into a value log past what that log holds.
//
// Badger deletes a flushed memtable's log by emptying the file and then
// removing it (ristretto's z.MmapFile.Delete); a kill in between — at a
// shutdown, whose Close flushes the memtable, after a memtable rotation,
// or in the Open after a crash — leaves an empty log whose entries are
// in a table. Badger cannot open it. Damage that empties a log holding
// unflushed acknowledged writes looks the same, so Open removes an empty
// log (and says so at Warn, with the reason) only when it can show that
// nothing in it is lost:
//
//   - the tables the MANIFEST lists, or the older memtable logs, hold a
//     version at least as high as the last the empty log could have
//     held: the version before the first transaction of the nearest
//     newer log that has one;
//   - or, for the newest log, the version Store.Close recorded in
//     REQUESTAGENT-CLOSING (written durably before Badger's Close, removed
//     after it, and by the next Open once it has judged the logs);
//   - or, failing both, the last version the log held when the Open that
//     replayed it began, which REQUESTAGENT-LOGENDS records with its cut:
//     a kill during that Open, as Badger flushes the replayed memtable,
//     leaves the log empty before the newer log has a transaction.
//
// This is sound because Badger commits transactions in version order
// (its writeChLock), puts each whole into one memtable, and flushes
// memtables in file-id order into tables that carry their versions (the
// highest in each table's index): a memtable not flushed holds only
// versions above every table's and every older log's, so if those reach
// the last version it could have held, it held nothing they lack. The
// newest log could have held up to the store's last version, which only
// the marker knows: an empty newest log with no marker (a kill the
// instant after Badger created it, or damage) is refused, and
// ForceRecover then removes it. The rule errs only towards refusing (a
// version lost to a failed commit leaves a gap).
//
// After a power failure (not a process crash) the pages of the write in
// flight may reach the disk out of order: an unacknowledged transaction
// can then look damaged and be refused; ForceRecover then loses only that
// one. With Durable=false, which syncs nothing, that applies to every
// write since the kernel's last writeback.
//
// Value logs other than the newest are not read at Open (they can be
// large); their length is checked against the record, and every value is
// checked on read (VerifyValueChecksum). Badger answers a value that fails
// its checksum, or lies past its log's end, with an empty value and no
// error, only a log line (iterator.go, yieldItemValue): Get and Scan turn
// that into ErrCorrupt. A value log cut exactly at an entry boundary is
// only caught that way, when the value is read: Badger's own Close cuts the
// newest one there too.
//
// Tables: Badger verifies a table's index checksum when it opens it, and
// block checksums never, by default; and its iterators end silently at a
// block that fails (Iterator has no error), while a changed byte in a
// value is read as it is. So before Badger opens, Open verifies every
// block of every table the MANIFEST lists (Badger's table.OpenTable with
// OnTableRead), each table mapped only while it is checked, and refuses
// with ErrCorrupt naming the table (SkipTableCheck skips it). Badger's
// DB.VerifyChecksum on the open store does the same but leaves the whole
// tree mapped and resident. Verifying each block on read (OnBlockRead)
// would not help: a failing block still just ends the scan.
//
// The MANIFEST's change sets carry CRCs that Badger checks (a mismatch is
// ErrCorrupt); a MANIFEST cut short makes Badger delete the tables it no
// longer lists (levels.go, revertToManifest) — a loss this package does
// not detect. A missing MANIFEST with tables or logs present is
// ErrCorrupt before Badger opens: Badger creates the MANIFEST before any
// other file and replaces it only by a rename, and without it would start
// an empty store and write over 000001.sst.
//
// A memtable log missing altogether is not detected. Badger deletes each
// log once it is flushed, and nothing records which logs exist:
// REQUESTAGENT-LOGENDS lists only the logs a replay cut, and those are
// flushed and deleted right after that Open, so a recorded log that is
// gone is the normal case. Telling a log deleted by hand from one Badger
// deleted would need each log's last version recorded at its rotation and
// compared with the tables' (as for an empty log above) — a write on
// Badger's side of the rotation that this package cannot hook.
//
// The way out of ErrCorrupt: restore the data directory from a backup; or
// move it aside and start empty; or start once with Config.ForceRecover,
// which accepts the loss: each damaged log is cut where Badger would cut
// it, an empty log is removed, a key whose large value was lost is
// deleted, a damaged table is only logged — every loss logged at Error —
// and the cuts are recorded, so the next Open without it succeeds.
//
// # Disk space
//
// Badger writes its logs and tables through mmap into sparse files, so a
// full filesystem reaches it not as an error but as SIGBUS, in whichever
// goroutine touches the next page — a flush, a compaction — at every
// restart too, as the flush of the replayed logs faults again. So the
// store keeps Badger away from a full filesystem (space.go). It measures
// the free space of the data directory's filesystem (statfs, f_bavail)
// before every write group — so what another process wrote is counted
// too — and for Admit and Stats at most every 100 ms or 8 MiB, counting
// what the committer hands Badger in between. Two thresholds:
//
//   - the floor, Config.DiskFloor (default 3 memtables + 8 MiB = 56 MiB):
//     below it every commit fails with ErrNoSpace before reaching Badger
//     (each batch on its own, so a small deletion still passes a big write
//     refused), and Open refuses to start. It is room for what Badger
//     writes on its own: each memtable flushed into a table before its log
//     is deleted. While the store runs the largest compaction the tree
//     allows is added — all of level 0 with the whole base level (new
//     tables are written before the old ones go), plus one table of
//     another level with the part of the next it overlaps;
//   - the reserve, Config.DiskReserve (default 64 MiB) above the floor:
//     below it Admit refuses new work with ErrNoSpace, while the writes
//     of work already accepted — replies, state changes, deletions — still
//     commit. The agent calls Admit before accepting a request.
//
// Against another process that takes the filesystem's last byte, the
// floor is no protection for what Badger writes on its own at that
// instant: a flush or compaction writing a new table through mmap, or the
// committer's group already past its measurement, faults. Allocating
// Badger's files when they are created (fallocate) would turn that into an
// error for the logs, but Badger creates them itself (z.OpenMmapFile
// truncates, then maps) with no hook, and its tables the same way; this
// package does not patch Badger. With the measurement before every group,
// a writer filling a 128 MiB tmpfs in 1 MiB writes while the store
// committed 4 KiB batches faulted it in none of 20 runs (2 of 4 before).
//
// Value-log GC, which rewrites up to one value-log file before deleting
// the old one, is skipped while that would cross the floor; the files are
// 64 MiB (Badger's default is 1 GiB, mapped at 2 GiB). Store.Space and
// Stats report the free space and both thresholds.
//
// On a real tmpfs, 64 KiB values and 4 MiB memtables, new work was refused
// after 38 MiB of values on 96 MiB, 230–290 MiB on 512 MiB and 700–740
// MiB on 1 GiB,
// without a fault; the same writer without the checks died of SIGBUS in a
// compaction after 92 MiB on 96 MiB. Badger itself wrote up to ~480 MiB
// beyond what was committed within 5 s while compacting a 1.2 GiB tree of
// shuffled keys: the room a compaction needs grows with the tree.
package storage
