package storage_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/storage"
)

// The crash tests run the store in a child process — this test binary
// again, running TestHelperWriter with the environment below — so that it
// can be killed with SIGKILL (no Close, no flush: what a crash leaves) and
// so that a SIGBUS shows as a crashed child, not a crashed test.
const (
	envHelper   = "STORAGE_TEST_HELPER" // "write" or "fill"
	envDir      = "STORAGE_TEST_DIR"
	envN        = "STORAGE_TEST_N"     // batches to write; 0: until killed
	envValue    = "STORAGE_TEST_VALUE" // value bytes per batch
	envFirst    = "STORAGE_TEST_FIRST" // first key number
	envMemtable = "STORAGE_TEST_MEMTABLE"
	envFloor    = "STORAGE_TEST_FLOOR"
	envReserve  = "STORAGE_TEST_RESERVE"
)

// TestHelperWriter is the child's side (it does nothing in a normal run).
// "write": commit batches of one key each, print "ack <n>" once each is
// acknowledged, then "done", then wait to be killed. "fill" is the disk-
// full run (space_test.go).
func TestHelperWriter(t *testing.T) {
	switch os.Getenv(envHelper) {
	case "write":
		helperWrite()
	case "fill":
		helperFill()
	case "race":
		helperRace()
	}
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			panic(err)
		}
		return n
	}
	return def
}

// helperConfig is the child's store configuration.
func helperConfig() storage.Config {
	cfg := storage.DefaultConfig(os.Getenv(envDir))
	cfg.MemTableSize = int64(envInt(envMemtable, 0))
	cfg.DiskFloor = int64(envInt(envFloor, 0))
	cfg.DiskReserve = int64(envInt(envReserve, 0))
	return cfg
}

func helperWrite() {
	s, err := storage.Open(helperConfig())
	if err != nil {
		fmt.Fprintln(os.Stdout, "open:", err)
		os.Exit(3)
	}
	n, size, first := envInt(envN, 0), envInt(envValue, 100), envInt(envFirst, 0)
	for i := first; n == 0 || i < first+n; i++ {
		var b storage.Batch
		b.Set(key(i), value(i, size))
		if err := s.Commit(context.Background(), &b); err != nil {
			fmt.Fprintln(os.Stdout, "commit:", err)
			os.Exit(4)
		}
		// One write(2) per line: once it returns, the line is the
		// parent's even if this process is killed the next instant.
		os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
	}
	os.Stdout.WriteString("done\n")
	select {} // until killed
}

// value is key i's value: size bytes that say whose they are.
func value(i, size int) []byte {
	v := make([]byte, size)
	seed := uint64(i)*0x9E3779B97F4A7C15 + 1
	for j := range v {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		v[j] = byte(seed)
	}
	return v
}

// child is a helper process and what it acknowledged.
type child struct {
	cmd    *exec.Cmd
	lines  chan string
	acks   []int
	stderr tailBuffer
}

// tailBuffer keeps the last 64 KiB written to it (a child's stderr: the
// Go runtime reports a SIGBUS there, then exits with status 2).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - 64<<10; over > 0 {
		t.b = t.b[over:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// fault returns the lines of the child's stderr that report a fatal
// error and the signal behind it, or "".
func (c *child) fault() string {
	var fatal, signal string
	for _, l := range strings.Split(c.stderr.String(), "\n") {
		if fatal == "" && strings.HasPrefix(l, "fatal error") {
			fatal = l
		}
		if signal == "" && strings.Contains(l, "signal SIG") {
			signal = l
		}
	}
	return strings.TrimSpace(fatal + " " + signal)
}

// startHelper starts this test binary as a helper with the given
// environment.
func startHelper(t *testing.T, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	c := &child{cmd: cmd, lines: make(chan string, 1024)}
	cmd.Stderr = &c.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
	}()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
	})
	return c
}

// next returns the child's next line ("" once it has exited), failing the
// test after a minute.
func (c *child) next(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			return ""
		}
		if n, ok := strings.CutPrefix(l, "ack "); ok {
			i, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("helper said %q", l)
			}
			c.acks = append(c.acks, i)
		}
		return l
	case <-time.After(time.Minute):
		t.Fatal("the helper said nothing for a minute")
		return ""
	}
}

// kill SIGKILLs the child and reads what it said until then.
func (c *child) kill(t *testing.T) {
	t.Helper()
	c.cmd.Process.Signal(syscall.SIGKILL)
	for c.next(t) != "" {
	}
	c.cmd.Wait()
}

// writeAndKill runs a writer of n batches (from key first) in dir, waits
// until every one is acknowledged, SIGKILLs it and returns the acks.
func writeAndKill(t *testing.T, dir string, first, n, valueSize int, env ...string) []int {
	t.Helper()
	c := startHelper(t, append(env, envHelper+"=write", envDir+"="+dir, envN+"="+strconv.Itoa(n),
		envValue+"="+strconv.Itoa(valueSize), envFirst+"="+strconv.Itoa(first))...)
	for {
		l := c.next(t)
		if l == "done" {
			break
		}
		if !strings.HasPrefix(l, "ack ") {
			c.kill(t)
			t.Fatalf("writer: %q", l)
		}
	}
	c.kill(t)
	if len(c.acks) != n {
		t.Fatalf("writer acknowledged %d of %d", len(c.acks), n)
	}
	return c.acks
}

// checkAcks opens dir and checks that every acknowledged key holds its
// value; it returns the store, open.
func checkAcks(t *testing.T, dir string, acks []int, valueSize int) *storage.Store {
	t.Helper()
	s, err := storage.Open(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatalf("open after the crash: %v", err)
	}
	missing := 0
	for _, i := range acks {
		v, err := s.Get(key(i))
		if err != nil || string(v) != string(value(i, valueSize)) {
			missing++
		}
	}
	if missing > 0 {
		s.Close()
		t.Fatalf("%d of %d acknowledged batches missing or wrong after the crash", missing, len(acks))
	}
	return s
}

// onlyFile returns the one file of dir with the extension, the newest if
// several.
func newestFile(t *testing.T, dir, ext string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	if len(m) == 0 {
		t.Fatalf("no %s file in %s", ext, dir)
	}
	return m[len(m)-1]
}

// copyDir copies a data directory, keeping Badger's sparse files sparse.
func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for _, e := range ents {
		if e.Name() == "LOCK" || e.IsDir() {
			continue
		}
		in, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(to, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if string(buf[:n]) == string(zero[:n]) {
					out.Seek(int64(n), io.SeekCurrent)
				} else if _, err := out.Write(buf[:n]); err != nil {
					t.Fatal(err)
				}
				size += int64(n)
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		out.Truncate(size)
		in.Close()
		out.Close()
	}
	return to
}

// patch overwrites the file's bytes at off.
func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// flip inverts the byte at off.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patch(t, path, off, []byte{^b[off]})
}

// wantCorrupt opens dir twice, expecting ErrCorrupt naming the file both
// times (the first refusal must not change what the second finds).
func wantCorrupt(t *testing.T, dir, file string) error {
	t.Helper()
	var first error
	for i := range 2 {
		s, err := storage.Open(storage.DefaultConfig(dir))
		if err == nil {
			s.Close()
			t.Fatalf("open %d of a damaged store succeeded", i+1)
		}
		if !errors.Is(err, storage.ErrCorrupt) {
			t.Fatalf("open %d: %v, want ErrCorrupt", i+1, err)
		}
		if !strings.Contains(err.Error(), file) || strings.Contains(err.Error(), "\n") {
			t.Fatalf("open %d: the message should name %s on one line: %v", i+1, file, err)
		}
		if i == 0 {
			first = err
		} else if err.Error() != first.Error() {
			t.Fatalf("second open says %v, first said %v", err, first)
		}
	}
	t.Logf("refused: %v", first)
	return first
}

const crashN, crashValue = 2000, 100

// crashedStore writes crashN acknowledged batches in a child, SIGKILLs it
// and returns the data directory (shared by the subtests: copy it) and the
// acks.
func crashedStore(t *testing.T) (string, []int) {
	t.Helper()
	dir := t.TempDir()
	return dir, writeAndKill(t, dir, 0, crashN, crashValue)
}

// TestCrash_DamagedMemtableLogIsRefused: after a crash, Badger replays
// the memtable log up to the first entry that fails its CRC and silently
// cuts the rest. A flipped byte in the middle, or a log cut short, must
// make Open refuse with ErrCorrupt naming the file — on every attempt, not
// only the first — while the plain crash opens with every acknowledged
// batch (doc.go, "Corruption").
func TestCrash_DamagedMemtableLogIsRefused(t *testing.T) {
	dir, acks := crashedStore(t)
	mem := filepath.Base(newestFile(t, dir, ".mem"))
	ents, end, err := storage.LogEntries(filepath.Join(dir, mem))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 2*crashN {
		t.Fatalf("the log holds %d entries, want at least %d", len(ents), 2*crashN)
	}
	t.Run("flipped byte in the middle", func(t *testing.T) {
		d := copyDir(t, dir)
		flip(t, filepath.Join(d, mem), int64(end/2))
		wantCorrupt(t, d, mem)
	})
	t.Run("flipped byte in the last commit entry", func(t *testing.T) {
		d := copyDir(t, dir)
		last := ents[len(ents)-1]
		flip(t, filepath.Join(d, mem), int64(last.Offset+last.Size/2))
		wantCorrupt(t, d, mem)
	})
	t.Run("cut in the middle", func(t *testing.T) {
		d := copyDir(t, dir)
		os.Truncate(filepath.Join(d, mem), int64(end/2))
		wantCorrupt(t, d, mem)
	})
	t.Run("cut at a transaction's end", func(t *testing.T) {
		d := copyDir(t, dir)
		i := len(ents) / 2
		for !ents[i].Commit {
			i++
		}
		e := ents[i]
		os.Truncate(filepath.Join(d, mem), int64(e.Offset+e.Size))
		wantCorrupt(t, d, mem)
	})
	t.Run("cut inside the last entry", func(t *testing.T) {
		// The last batch was acknowledged: cutting it is damage, not the
		// torn tail of a crash (which leaves the preallocated file whole).
		d := copyDir(t, dir)
		last := ents[len(ents)-1]
		os.Truncate(filepath.Join(d, mem), int64(last.Offset+last.Size-2))
		wantCorrupt(t, d, mem)
	})
	t.Run("cut 2 bytes into an entry", func(t *testing.T) {
		// The remains pass for a torn write (a transaction's first entry
		// cut short, zeroes after) but for the file's size: a crash
		// leaves the preallocated log whole.
		d := copyDir(t, dir)
		i := len(ents) / 2
		for !ents[i].Commit {
			i++
		}
		os.Truncate(filepath.Join(d, mem), int64(ents[i+1].Offset+2))
		wantCorrupt(t, d, mem)
	})
	t.Run("emptied", func(t *testing.T) {
		d := copyDir(t, dir)
		os.Truncate(filepath.Join(d, mem), 0)
		wantCorrupt(t, d, mem)
	})
	t.Run("plain crash", func(t *testing.T) {
		s := checkAcks(t, copyDir(t, dir), acks, crashValue)
		s.Close()
	})
}

// TestCrash_TornTailOpens: a crash in the middle of a write leaves the
// write's first bytes after the last acknowledged transaction and zeroes
// after them (Badger's logs are preallocated). That write was never
// acknowledged: Open drops it and serves every acknowledged batch, and
// the next Open finds the log as Badger cut it and opens too.
func TestCrash_TornTailOpens(t *testing.T) {
	dir, acks := crashedStore(t)
	mem := filepath.Base(newestFile(t, dir, ".mem"))
	ents, end, err := storage.LogEntries(filepath.Join(dir, mem))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, mem))
	if err != nil {
		t.Fatal(err)
	}
	// The last transaction's bytes, as the next write would have put
	// them (same layout; its commit ts is the last one's, which Badger
	// replays as a duplicate if it ever got whole).
	var from int
	for i := len(ents) - 2; i >= 0; i-- {
		if ents[i].Commit {
			from = ents[i].Offset + ents[i].Size
			break
		}
	}
	txn := raw[from:end]
	for _, cut := range []struct {
		name string
		n    int
	}{
		{"inside its first entry", 7},
		{"inside its commit entry", len(txn) - 9},
		{"all but the commit's last byte", len(txn) - 1},
	} {
		t.Run(cut.name, func(t *testing.T) {
			d := copyDir(t, dir)
			patch(t, filepath.Join(d, mem), int64(end), txn[:cut.n])
			for range 2 {
				s := checkAcks(t, d, acks, crashValue)
				s.Close()
			}
		})
	}
}

// TestCrash_KillWhileWritingLosesNoAck: a writer committing as fast as it
// can is SIGKILLed at arbitrary moments, five times over the same data
// directory. Every Open succeeds (a torn tail is not damage) and holds
// every batch acknowledged before the kill.
func TestCrash_KillWhileWritingLosesNoAck(t *testing.T) {
	dir := t.TempDir()
	var acks []int
	next := 0
	for round := range 5 {
		c := startHelper(t, envHelper+"=write", envDir+"="+dir, envN+"=0", envValue+"=300",
			envFirst+"="+strconv.Itoa(next), envMemtable+"="+strconv.Itoa(256<<10))
		// Let it write a thousand batches or so (a memtable of 256 KiB
		// fills every 700), then kill it wherever it is. Fewer each
		// round: Badger names the first memtable log of each run
		// 00001.mem again, and a record of the last run's must not
		// apply to this one's, shorter.
		for len(c.acks) < 1300-round*150 {
			if l := c.next(t); !strings.HasPrefix(l, "ack ") {
				t.Fatalf("writer: %q", l)
			}
		}
		c.kill(t)
		acks = append(acks, c.acks...)
		next = c.acks[len(c.acks)-1] + 1
		s := checkAcks(t, dir, acks, 300)
		s.Close()
		// The next round writes on top of what this Open replayed
		// (and Close flushed: no memtable log is left).
	}
	mems, _ := filepath.Glob(filepath.Join(dir, "*.mem"))
	ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
	t.Logf("%d acknowledged batches over five kills; %d memtable logs and %d tables left", len(acks), len(mems), len(ssts))
}

// TestCrash_DamagedTable: a byte flipped in a table. Badger's iterators
// end silently at a block that fails its checksum, so Open verifies every
// table and refuses with ErrCorrupt naming it.
func TestCrash_DamagedTable(t *testing.T) {
	dir := t.TempDir()
	s := openTemp(t, dir)
	for i := 0; i < crashN; i += 100 {
		var b storage.Batch
		for j := i; j < i+100; j++ {
			b.Set(key(j), value(j, crashValue))
		}
		if err := s.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	s.Close() // flushes the memtable into a table
	sst := newestFile(t, dir, ".sst")
	fi, _ := os.Stat(sst)
	flip(t, sst, fi.Size()/3) // in the data blocks, before the index
	err := wantCorrupt(t, dir, filepath.Base(sst))
	if !strings.Contains(err.Error(), "checksum") {
		t.Errorf("the message should say what failed: %v", err)
	}

	// A table the MANIFEST does not list is the unfinished output of a
	// flush or compaction a crash cut short: not checked (Badger deletes it).
	clean := t.TempDir()
	s = openTemp(t, clean)
	s.Close()
	if err := os.WriteFile(filepath.Join(clean, "000099.sst"), []byte("cut short by a crash"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = openTemp(t, clean)
	s.Close()

	// What the check prevents: without it the store opens and a scan
	// ends early at the damaged block, without an error.
	cfg := storage.DefaultConfig(dir)
	cfg.SkipTableCheck = true
	s, err = storage.Open(cfg)
	if err != nil {
		t.Logf("without the table check, Open: %v", err)
		return
	}
	defer s.Close()
	n, wrong := 0, 0
	err = s.Scan([]byte("r/"), func(k, v []byte) error {
		var i int
		fmt.Sscanf(string(k), "r/%d", &i)
		if string(v) != string(value(i, crashValue)) {
			wrong++
		}
		n++
		return nil
	})
	t.Logf("without the table check: a scan returns %d of %d records, %d of them wrong, error %v", n, crashN, wrong, err)
}

// TestCrash_DamagedValueLog: values of 1 MiB and more live in the value
// log. A byte flipped in the newest one is refused at Open like damage in
// a memtable log (Badger would cut the file there, and the values after
// it with it); in an older one, which Badger does not read at Open, it is
// an error when the value is read (VerifyValueChecksum), never wrong
// bytes.
func TestCrash_DamagedValueLog(t *testing.T) {
	const big = 1<<20 + 4096
	dir := t.TempDir()
	acks := writeAndKill(t, dir, 0, 6, big)
	vlog := filepath.Base(newestFile(t, dir, ".vlog"))
	ents, _, err := storage.LogEntries(filepath.Join(dir, vlog))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 6 {
		t.Fatalf("the value log holds %d entries, want 6", len(ents))
	}
	t.Run("newest", func(t *testing.T) {
		d := copyDir(t, dir)
		flip(t, filepath.Join(d, vlog), int64(ents[2].Offset+ents[2].Size/2))
		wantCorrupt(t, d, vlog)
	})
	t.Run("newest cut at an entry's end", func(t *testing.T) {
		// The value log alone cannot tell (Badger's Close cuts it at its
		// last entry too), but the memtable log points past the cut.
		d := copyDir(t, dir)
		os.Truncate(filepath.Join(d, vlog), int64(ents[3].Offset))
		wantCorrupt(t, d, "000001.vlog")
		cfg := storage.DefaultConfig(d)
		cfg.ForceRecover = true
		s, err := storage.Open(cfg)
		if err != nil {
			t.Fatalf("ForceRecover: %v", err)
		}
		defer s.Close()
		for i, k := range acks {
			_, err := s.Get(key(k))
			if lost := i >= 3; lost != errors.Is(err, storage.ErrNotFound) || !lost && err != nil {
				t.Errorf("after ForceRecover, key %d: %v (its value lost: %v)", k, err, lost)
			}
		}
	})
	t.Run("older", func(t *testing.T) {
		d := copyDir(t, dir)
		s := checkAcks(t, d, acks, big) // replays, and starts a new value log
		s.Close()
		if newest := filepath.Base(newestFile(t, d, ".vlog")); newest == vlog {
			t.Fatalf("no new value log after a reopen")
		}
		flip(t, filepath.Join(d, vlog), int64(ents[2].Offset+ents[2].Size/2))
		s, err := storage.Open(storage.DefaultConfig(d))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer s.Close()
		v, err := s.Get(key(acks[2]))
		if err == nil {
			t.Fatalf("a damaged value read without an error (right bytes: %v)", string(v) == string(value(acks[2], big)))
		}
		t.Logf("reading the damaged value: %v", err)
		if _, err := s.Get(key(acks[3])); err != nil {
			t.Errorf("an intact value of the same file: %v", err)
		}
	})
}

// TestStore_OpenWhileOpen: a store another Store (or process) has open is
// refused before its files are read, let alone judged or recorded.
func TestStore_OpenWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTemp(t, dir)
	defer s.Close()
	if s2, err := storage.Open(storage.DefaultConfig(dir)); err == nil {
		s2.Close()
		t.Fatal("a second Open of a store in use succeeded")
	} else if errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("a store in use judged as damaged: %v", err)
	}
	var b storage.Batch
	b.Set(key(1), []byte("v"))
	if err := s.Commit(context.Background(), &b); err != nil {
		t.Fatalf("the first store after the second Open: %v", err)
	}
}

// TestCrash_ForceRecover: ForceRecover opens a store Open refused,
// dropping what follows the damage, and records the cut: the next Open,
// without it, succeeds.
func TestCrash_ForceRecover(t *testing.T) {
	dir, _ := crashedStore(t)
	mem := filepath.Base(newestFile(t, dir, ".mem"))
	_, end, err := storage.LogEntries(filepath.Join(dir, mem))
	if err != nil {
		t.Fatal(err)
	}
	flip(t, filepath.Join(dir, mem), int64(end/2))
	if _, err := storage.Open(storage.DefaultConfig(dir)); !errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("open of the damaged store without ForceRecover: %v", err)
	}
	cfg := storage.DefaultConfig(dir)
	cfg.ForceRecover = true
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatalf("ForceRecover: %v", err)
	}
	n := 0
	s.ScanKeys([]byte("r/"), func([]byte) error { n++; return nil })
	s.Close()
	if n == 0 || n >= crashN {
		t.Fatalf("ForceRecover kept %d of %d batches; want those before the damage", n, crashN)
	}
	t.Logf("ForceRecover kept %d of %d batches", n, crashN)
	s = openTemp(t, dir)
	s.Close()

	// A log cut at a transaction's end, accepted once, is accepted after.
	dir2, _ := crashedStore(t)
	ents, _, err := storage.LogEntries(filepath.Join(dir2, mem))
	if err != nil {
		t.Fatal(err)
	}
	i := len(ents) / 2
	for !ents[i].Commit {
		i++
	}
	os.Truncate(filepath.Join(dir2, mem), int64(ents[i].Offset+ents[i].Size))
	cfg = storage.DefaultConfig(dir2)
	cfg.ForceRecover = true
	if s, err = storage.Open(cfg); err != nil {
		t.Fatalf("ForceRecover of a log cut at a transaction's end: %v", err)
	}
	s.Close()
	s = openTemp(t, dir2)
	s.Close()
}
