package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/table"
)

// recoverLogs acts on what checkDir found before Badger opens: ErrCorrupt
// for damage, unless ForceRecover, which logs every loss and removes the
// logs too short for Badger to open; then it records where Badger's replay
// will cut each log (logEnds).
func recoverLogs(cfg Config, c dirCheck) error {
	for _, st := range c.logs {
		if st.torn > 0 {
			// Warn, not Info: bytes are dropped, and an operator who finds
			// acknowledged work missing should find this line.
			cfg.Logger.Warn().Str("file", filepath.Join(cfg.Dir, st.name)).Int64("offset", st.end).Int64("bytes", st.torn).
				Msg("storage: dropping the torn write a crash left at the end of a log (it was never acknowledged)")
		}
	}
	problems := len(c.damaged) + len(c.lostValues)
	if problems > 0 && !cfg.ForceRecover {
		for i, st := range c.damaged {
			if i > 0 {
				cfg.Logger.Error().Err(corruptError(cfg.Dir, st, "")).Msg("storage: damaged log")
			}
		}
		for i, why := range c.lostWhy {
			if i > 0 || len(c.damaged) > 0 {
				cfg.Logger.Error().Str("dir", cfg.Dir).Msg("storage: acknowledged value lost: " + why)
			}
		}
		if len(c.damaged) > 0 {
			return corruptError(cfg.Dir, c.damaged[0], moreOf(len(c.damaged)-1, len(c.lostValues)))
		}
		return fmt.Errorf("%w: %s: %s%s. Restore the data directory from a backup, or start once with --force-recover (storage.Config.ForceRecover) to delete the keys whose values are lost",
			ErrCorrupt, cfg.Dir, c.lostWhy[0], moreOf(0, len(c.lostValues)-1))
	}
	for _, st := range c.logs {
		if st.leftover == "" {
			continue
		}
		// Badger cannot open an empty log ("Create a new file"), and this
		// one held nothing the tables lack (leftoverLog).
		path := filepath.Join(cfg.Dir, st.name)
		cfg.Logger.Warn().Str("file", path).Str("reason", st.leftover).
			Msg("storage: removing the empty memtable log a kill left while Badger deleted it after its flush")
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("storage: remove %s: %w", path, err)
		}
	}
	// A kill while Store.Close wrote its marker leaves the temporary file.
	os.Remove(filepath.Join(cfg.Dir, closingFile+".tmp"))
	if c.closing {
		// The marker speaks of the store as its Close left it; Badger
		// writes again from here on.
		if err := removeSynced(cfg.Dir, closingFile); err != nil {
			return fmt.Errorf("storage: remove %s: %w", filepath.Join(cfg.Dir, closingFile), err)
		}
	}
	for _, st := range c.damaged {
		path := filepath.Join(cfg.Dir, st.name)
		cfg.Logger.Error().Str("file", path).Int64("offset", st.at).Str("damage", st.damage).
			Msg("storage: ForceRecover: dropping what follows the damage in this log")
		var err error
		switch {
		case st.size < logHeaderSize:
			err = os.Remove(path)
			delete(c.ends, st.name)
		case st.end < st.size:
			// Cut it here, where Badger would: Badger's replay sizes its
			// read buffer from the damaged entry's header before checking
			// it against the file (value.go, safeRead.Entry), up to 4 GiB.
			err = os.Truncate(path, st.end)
		}
		if st.size >= logHeaderSize && st.id != "" {
			// Accepted as it now is: the next Open judges it from here.
			c.ends[st.name] = logEnd{end: st.end, id: st.id}
		}
		if err != nil {
			return fmt.Errorf("storage: ForceRecover: %w", err)
		}
	}
	if err := recordMemSize(cfg.Dir, c.memSizes, cfg.MemTableSize); err != nil {
		return fmt.Errorf("storage: record the memtable size in %s: %w", cfg.Dir, err)
	}
	if !newRecords(c.ends, c.recorded) {
		return nil
	}
	if err := writeLogEnds(cfg.Dir, c.ends); err != nil {
		return fmt.Errorf("storage: record log ends in %s: %w", cfg.Dir, err)
	}
	return nil
}

// moreOf says how many more damaged logs and lost values were logged.
func moreOf(logs, values int) string {
	var parts []string
	if logs > 0 {
		parts = append(parts, fmt.Sprintf("%d more damaged logs", logs))
	}
	if values > 0 {
		parts = append(parts, fmt.Sprintf("%d acknowledged values lost", values))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (and " + strings.Join(parts, " and ") + ", logged)"
}

// afterOpen runs once Badger is open: it records where Badger actually
// cut the logs, deletes the keys whose values ForceRecover gave up, and
// checks the free space with the room the tree's compactions need.
func (s *Store) afterOpen(c dirCheck) error {
	ends, changed := maps.Clone(c.ends), false
	for name, e := range c.ends {
		fi, err := os.Stat(filepath.Join(s.cfg.Dir, name))
		switch {
		case err != nil:
			delete(ends, name) // flushed and deleted already
		case fi.Size() == 0:
			// Flushed, and being deleted: Badger empties a log file
			// before it removes it.
			delete(ends, name)
			changed = true
		case fi.Size() != e.end:
			// Badger cut it elsewhere than checkLog says it would:
			// record what it did, so that the next Open judges the file
			// by its real end.
			s.log.Warn().Str("file", name).Int64("checked", e.end).Int64("cut", fi.Size()).
				Msg("storage: Badger cut a log elsewhere than checked")
			ends[name] = logEnd{end: fi.Size(), id: e.id}
			changed = true
		}
	}
	if changed {
		if err := writeLogEnds(s.cfg.Dir, ends); err != nil {
			return fmt.Errorf("storage: record log ends in %s: %w", s.cfg.Dir, err)
		}
	}
	for _, p := range c.lostValues {
		key := p.key[:len(p.key)-8]
		err := s.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(key)
			if err != nil {
				return err
			}
			return item.Value(func(v []byte) error { return readable(item, v) })
		})
		if err == nil || errors.Is(err, badger.ErrKeyNotFound) {
			continue // a later version of the key replaced the lost one
		}
		s.log.Error().Str("key", strings.ToValidUTF8(string(key), "?")).Err(err).Msg("storage: ForceRecover: deleting a key whose value was lost")
		if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete(key) }); err != nil {
			return fmt.Errorf("storage: ForceRecover: delete a key whose value was lost: %w", err)
		}
	}
	if s.space != nil {
		db := s.db
		s.space.headroomOf = func() int64 { return compactionRoom(db.Levels()) }
		s.space.mu.Lock()
		s.space.at = time.Time{} // measure again, with the tree's room
		free := s.space.now()
		floor := s.space.floor + s.space.headroom
		s.space.mu.Unlock()
		if free < floor {
			return fmt.Errorf("%w: %s has %s free on its filesystem, and the store needs %s free to run "+
				"(DiskFloor %s + %s for the compactions its tree allows); free space there or move the data directory",
				ErrNoSpace, s.cfg.Dir, mib(free), mib(floor), mib(s.space.floor), mib(floor-s.space.floor))
		}
		if _, _, reserve := s.space.state(); free < reserve {
			s.log.Warn().Int64("free", free).Int64("reserve", reserve).Str("dir", s.cfg.Dir).
				Msg("storage: free space below the reserve: new work is refused until space is freed")
		}
	}
	return nil
}

// checkTables verifies the block checksums of every table the MANIFEST
// lists, before Badger opens them (Badger checks only each table's index,
// and its iterators end silently at a block that fails); tableChecker
// says why it does not use Badger's own check. Tables the MANIFEST
// does not list are the unfinished output of a flush or compaction cut by
// a crash, which Badger deletes; they are not checked. A MANIFEST that
// does not replay, or a listed table that is missing, is left to Badger's
// Open to report (badgerOpenError).
func checkTables(cfg Config, opts badger.Options) error {
	f, err := os.Open(filepath.Join(cfg.Dir, "MANIFEST"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	m, _, err := badger.ReplayManifestFile(f, opts.ExternalMagicVersion, opts)
	f.Close()
	if err != nil {
		return nil
	}
	ids := slices.Sorted(maps.Keys(m.Tables))
	started := time.Now()
	var checker tableChecker
	for _, id := range ids {
		tm := m.Tables[id]
		if tm.KeyID != 0 {
			continue // encrypted: this store never is; Badger will refuse it
		}
		path := table.NewFilename(id, cfg.Dir)
		err := checker.check(path, tm.Compression)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			err = fmt.Errorf("%w: %s: %v. A damaged table cannot be cut like a log: restore the data directory from a backup, "+
				"or start once with --force-recover (storage.Config.ForceRecover) to serve what can still be read (what the damaged blocks hold is then read wrong or not at all)",
				ErrCorrupt, path, err)
			if !cfg.ForceRecover {
				return err
			}
			cfg.Logger.Error().Err(err).Msg("storage: ForceRecover: a table is damaged")
		}
	}
	cfg.Logger.Debug().Int("tables", len(ids)).Dur("took", time.Since(started)).Msg("storage: table checksums verified")
	return nil
}

// lockDir takes Badger's directory lock (an exclusive flock on LOCK, as
// Badger's acquireDirectoryLock does) and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: open %s: another process has the store open (its LOCK is held): %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// badgerOpenError wraps an error of badger.Open; the ones that mean
// damage Badger found itself (a manifest change or a table index failing
// its checksum, a table the manifest names missing) are ErrCorrupt.
func badgerOpenError(dir string, err error) error {
	msg := err.Error()
	for _, sign := range []string{"checksum", "does not exist for table", "bad magic", "Data corrupted"} {
		if strings.Contains(msg, sign) {
			return fmt.Errorf("%w: %s: %v; restore the data directory from a backup", ErrCorrupt, dir, err)
		}
	}
	return fmt.Errorf("storage: open %s: %w", dir, err)
}
