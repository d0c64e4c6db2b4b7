package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/storage"
)

// An empty memtable log is what a kill leaves between Badger emptying a
// flushed memtable's log and removing it; it is also what damage leaves of
// a log that held acknowledged writes. Open removes the first kind and
// refuses the second (doc.go, "Corruption").

// memName is Badger's name of memtable log fid.
func memName(fid int) string { return fmt.Sprintf("%05d.mem", fid) }

// memFids returns the file ids of dir's memtable logs.
func memFids(t *testing.T, dir string) []int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	var ids []int
	for _, p := range m {
		id, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), ".mem"))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// createEmpty creates an empty file at path.
func createEmpty(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLeftover_KillInClose: Store.Close closes Badger, which flushes the
// memtable into a table and then empties and removes its log. A kill
// between the two leaves the log empty and Store.Close's marker in place,
// holding the store's last version, which the tables hold: Open removes
// the log and serves everything. Without the marker, or with a version
// the tables do not hold, the same empty log is refused.
func TestLeftover_KillInClose(t *testing.T) {
	const n = 300
	base := t.TempDir()
	s, err := storage.Open(storage.DefaultConfig(base))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		var b storage.Batch
		b.Set(key(i), value(i, 100))
		if err := s.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	fids := memFids(t, base)
	if len(fids) != 1 {
		t.Fatalf("memtable logs %v, want one", fids)
	}
	mem := memName(fids[0])
	last := storage.MaxVersion(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, storage.ClosingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a clean Close left its marker: %v", err)
	}
	if len(memFids(t, base)) != 0 {
		t.Fatal("Close left a memtable log")
	}
	// The state at a kill in Badger's delete window: the log emptied,
	// the marker there.
	killed := func(t *testing.T, marker uint64, withMarker bool) string {
		d := copyDir(t, base)
		createEmpty(t, filepath.Join(d, mem))
		if withMarker {
			if err := storage.WriteClosing(d, marker); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	t.Run("in the window", func(t *testing.T) {
		d := killed(t, last, true)
		acks := make([]int, n)
		for i := range acks {
			acks[i] = i
		}
		for range 2 {
			s := checkAcks(t, d, acks, 100)
			s.Close()
		}
		if _, err := os.Stat(filepath.Join(d, storage.ClosingFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open left the marker: %v", err)
		}
	})
	t.Run("no marker", func(t *testing.T) {
		wantCorrupt(t, killed(t, 0, false), mem)
	})
	t.Run("marker past the tables", func(t *testing.T) {
		// The log held a version the tables lack: it was not flushed.
		wantCorrupt(t, killed(t, last+1, true), mem)
	})
}

// TestLeftover_KillAfterRotation: once a memtable fills, Badger starts the
// next log, flushes the full memtable and deletes its log. A kill in the
// delete window leaves that log empty, older than the newest: the tables
// hold every version before the next log's first transaction, so Open
// removes it and serves every acknowledged batch.
func TestLeftover_KillAfterRotation(t *testing.T) {
	dir := t.TempDir()
	acks := writeAndKill(t, dir, 0, 3000, 300, envMemtable+"="+strconv.Itoa(256<<10))
	fids := memFids(t, dir)
	if len(fids) == 0 {
		t.Fatal("no memtable log left")
	}
	newest := fids[len(fids)-1]
	have := map[int]bool{}
	for _, id := range fids {
		have[id] = true
	}
	gone := 0
	for id := newest - 1; id >= 1; id-- {
		if !have[id] {
			gone = id // flushed and deleted before the kill
			break
		}
	}
	if gone == 0 {
		t.Fatalf("memtable logs %v: no rotation to play", fids)
	}
	createEmpty(t, filepath.Join(dir, memName(gone)))
	s := checkAcks(t, dir, acks, 300)
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, memName(gone))); err == nil {
		// Badger replays and deletes every log at Open; what matters is
		// that Open did not refuse.
		t.Logf("%s still there after a clean Close", memName(gone))
	}
}

// TestLeftover_UnflushedOlderLogRefused: an empty memtable log older than
// the newest whose transactions the tables do not hold — the newer log
// begins at the last transaction, nothing before it is in a table — was
// emptied by damage, not by Badger's delete after a flush.
func TestLeftover_UnflushedOlderLogRefused(t *testing.T) {
	dir, _ := crashedStore(t)
	mem := filepath.Join(dir, "00001.mem")
	ents, end, err := storage.LogEntries(mem)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(mem)
	if err != nil {
		t.Fatal(err)
	}
	from := 0
	for i := len(ents) - 2; i >= 0; i-- {
		if ents[i].Commit {
			from = ents[i].Offset + ents[i].Size
			break
		}
	}
	// 00002.mem: the header and the last transaction, at full size.
	next := append(append([]byte{}, raw[:20]...), raw[from:end]...)
	next = append(next, make([]byte, len(raw)-len(next))...)
	if err := os.WriteFile(filepath.Join(dir, "00002.mem"), next, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(mem, 0); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, dir, "00001.mem")
}

// TestDamage_ManifestMissing: without its MANIFEST Badger starts an empty
// store over the old tables and writes its first table over 000001.sst.
// Open refuses, naming the MANIFEST, and leaves every file as it was.
func TestDamage_ManifestMissing(t *testing.T) {
	dir := t.TempDir()
	s, err := storage.Open(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		var b storage.Batch
		b.Set(key(i), value(i, 100))
		if err := s.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sst := filepath.Join(dir, "000001.sst")
	before, err := os.ReadFile(sst)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "MANIFEST")); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, dir, "MANIFEST")
	after, err := os.ReadFile(sst)
	if err != nil || string(after) != string(before) {
		t.Fatalf("000001.sst changed (%d bytes, was %d): %v", len(after), len(before), err)
	}
}

// TestLeftover_KillInTheReplayOpen: the Open after a crash records where
// its replay cuts the memtable log and the last version the log holds;
// Badger then flushes the replayed memtable into a table and empties and
// removes its log, while the next log, just made, holds no transaction. A
// kill between the emptying and the removal leaves that state. The record
// shows the tables hold every version the emptied log held: the next Open
// removes it and serves every acknowledged batch. Without the version in
// the record (a record of the release before), it is refused.
func TestLeftover_KillInTheReplayOpen(t *testing.T) {
	dir, acks := crashedStore(t)
	mem := filepath.Join(dir, "00001.mem")
	raw, err := os.ReadFile(mem)
	if err != nil {
		t.Fatal(err)
	}
	// The Open that replays the crashed log, as far as the flush: a clean
	// Close has flushed it into a table too, and left the record.
	s := checkAcks(t, dir, acks, crashValue)
	s.Close()
	ends, err := os.ReadFile(filepath.Join(dir, storage.LogEndsFile))
	if err != nil || !strings.Contains(string(ends), "00001.mem ") {
		t.Fatalf("no record of 00001.mem's replay: %q, %v", ends, err)
	}
	// What the kill leaves: 00001.mem emptied, 00002.mem made (a header,
	// then its preallocated zeroes) and holding nothing.
	next := append(append([]byte{}, raw[:20]...), make([]byte, len(raw)-20)...)
	next[10] ^= 0xff // another file's header
	damaged := t.TempDir()
	if err := os.CopyFS(damaged, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, damaged} {
		createEmpty(t, filepath.Join(d, "00001.mem"))
		if err := os.WriteFile(filepath.Join(d, "00002.mem"), next, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = checkAcks(t, dir, acks, crashValue)
	s.Close()

	// The same with a record of version 2, which has no versions.
	var v2 strings.Builder
	v2.WriteString("requestagent log ends v2\n")
	for _, l := range strings.Split(strings.TrimSpace(string(ends)), "\n")[1:] {
		if f := strings.Fields(l); len(f) == 4 {
			l = strings.Join(f[:3], " ")
		}
		v2.WriteString(l + "\n")
	}
	if err := os.WriteFile(filepath.Join(damaged, storage.LogEndsFile), []byte(v2.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	wantCorrupt(t, damaged, "00001.mem")
}
