package storage

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4/options"
)

// FuzzWalkLog feeds arbitrary bytes to the reader of Badger's logs that
// Open runs over every memtable and value log before Badger sees them: a
// damaged file must give a verdict, never a panic or an allocation beyond
// the file, and the verdict's offsets stay inside the file. The seeds are
// real memtable logs, so mutations start from the format.
func FuzzWalkLog(f *testing.F) {
	for _, seed := range realLogs(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		w := walkLog(data)
		if w.end < logHeaderSize || w.stop < w.end {
			t.Fatalf("end %d, stop %d", w.end, w.stop)
		}
		if len(data) >= logHeaderSize && w.stop > len(data) {
			t.Fatalf("stop %d past the %d bytes", w.stop, len(data))
		}
		for _, p := range w.ptrs {
			if p.end < p.offset {
				t.Fatalf("value pointer %+v ends before it starts", p)
			}
		}
	})
}

// FuzzReadLogEnds: the record of replay cuts that Open reads back is
// parsed or refused, whatever the file holds.
func FuzzReadLogEnds(f *testing.F) {
	f.Add([]byte(logEndsMagic + "\n00001.mem 4096 abcdef 42\nend\n"))
	f.Add([]byte(logEndsMagicV2 + "\n00001.mem 4096 abcdef\nend\n"))
	f.Add([]byte(logEndsMagic + "\nend\n"))
	f.Add([]byte(logEndsMagic + "\n00001.mem -1 x\nend\n"))
	f.Add([]byte("requestagent log ends v1\nend\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, logEndsFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		ends, err := readLogEnds(dir)
		if err != nil {
			return
		}
		for name, e := range ends {
			if e.end < 0 || filepath.Base(name) != name {
				t.Fatalf("accepted %q at %d", name, e.end)
			}
		}
	})
}

// realLogs writes a few batches into a fresh store and returns its
// memtable logs as they are on disk while it is open.
func realLogs(tb testing.TB) [][]byte {
	tb.Helper()
	dir := tb.TempDir()
	s, err := Open(Config{Dir: dir, Durable: true, MemTableSize: 1 << 20, DiskFloor: -1})
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	for i := range 4 {
		var b Batch
		for j := range 3 {
			b.Set([]byte(fmt.Sprintf("key-%d-%d", i, j)), []byte(fmt.Sprintf("value %d %d", i, j)))
		}
		if i == 3 {
			b.Delete([]byte("key-0-0"))
		}
		if err := s.Commit(context.Background(), &b); err != nil {
			tb.Fatal(err)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	var logs [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		// The written part and a little of the zeroes after it.
		end := lastNonZeroIn(data) + 64
		logs = append(logs, data[:min(end, len(data))])
	}
	if len(logs) == 0 {
		tb.Fatal("no memtable log")
	}
	return logs
}

// FuzzTableCheck: the table check Open runs over every .sst reads a
// damaged or made-up table to a verdict, never a panic, and allocates no
// more than the file and one bounded block. The seed is a real table.
func FuzzTableCheck(f *testing.F) {
	f.Add(realTable(f))
	// One file, rewritten by each input: a directory per input costs more
	// than the check.
	path := filepath.Join(f.TempDir(), "000001.sst")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		var c tableChecker
		for _, comp := range []options.CompressionType{options.None, options.Snappy} {
			c.check(path, comp)
		}
	})
}

// realTable returns a small table that a store flushed on closing.
func realTable(tb testing.TB) []byte {
	tb.Helper()
	dir := tb.TempDir()
	s, err := Open(Config{Dir: dir, Durable: true, MemTableSize: 1 << 20, DiskFloor: -1})
	if err != nil {
		tb.Fatal(err)
	}
	var b Batch
	for i := range 50 {
		b.Set([]byte(fmt.Sprintf("key-%03d", i)), []byte(fmt.Sprintf("value %d", i)))
	}
	if err := s.Commit(context.Background(), &b); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	if len(names) == 0 {
		tb.Fatal("no table after closing")
	}
	data, err := os.ReadFile(names[0])
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
