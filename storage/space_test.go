package storage_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/requestagent/requestagent/internal/tmpfs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/requestagent/requestagent/storage"
)

const mib = 1 << 20

// TestSpace_Thresholds: the free-space guard with an injected free-space
// figure. Open refuses below the floor; Admit refuses new work below floor
// plus reserve and counts what was committed since the last measurement;
// between the two, commits (replies, deletions) still go through; below
// the floor every commit fails with ErrNoSpace before it reaches Badger,
// each batch on its own; and once space is back, everything works again.
func TestSpace_Thresholds(t *testing.T) {
	dir := t.TempDir()
	var free atomic.Int64
	cfg := storage.DefaultConfig(dir)
	cfg.DiskFloor, cfg.DiskReserve = 40*mib, 20*mib
	cfg.JoinDelay = time.Hour
	storage.WithFreeSpace(&cfg, func() (int64, error) { return free.Load(), nil })

	free.Store(30 * mib)
	_, err := storage.Open(cfg)
	if !errors.Is(err, storage.ErrNoSpace) || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "30.0 MiB free") {
		t.Fatalf("Open with 30 MiB free and a 40 MiB floor: %v", err)
	}
	t.Logf("refused: %v", err)

	free.Store(100 * mib)
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sp := s.Space(); sp.Free != 100*mib || sp.Floor != 40*mib || sp.Reserve != 60*mib {
		t.Fatalf("Space() = %+v", sp)
	}
	if err := s.Admit(39 * mib); err != nil {
		t.Fatalf("Admit 39 MiB with 100 free, 60 kept: %v", err)
	}
	if err := s.Admit(41 * mib); !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Admit 41 MiB with 100 free, 60 kept: %v", err)
	}

	// A burst between measurements is counted: 5 MiB committed, and the
	// (stale) measurement still says 100 MiB.
	for i := range 5 {
		var b storage.Batch
		b.Set(key(i), make([]byte, mib))
		if err := s.Commit(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Admit(36 * mib); !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Admit 36 MiB after 5 MiB committed since the measurement: %v", err)
	}
	if sp := s.Space(); sp.Free > 95*mib {
		t.Fatalf("Space().Free = %d after 5 MiB committed, want at most 95 MiB", sp.Free)
	}

	// Between floor and reserve: no new work, but deletions and the
	// writes of accepted work commit.
	free.Store(50 * mib)
	storage.Remeasure(s)
	if err := s.Admit(0); !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Admit with 50 MiB free, 60 kept: %v", err)
	}
	var del storage.Batch
	del.Delete(key(0))
	if err := s.Commit(context.Background(), &del); err != nil {
		t.Fatalf("deletion between floor and reserve: %v", err)
	}
	var reply storage.Batch
	reply.Set(key(10), make([]byte, 4096))
	if err := s.Commit(context.Background(), &reply); err != nil {
		t.Fatalf("a reply between floor and reserve: %v", err)
	}

	// Near the floor: a big batch fails, the small deletion committed
	// with it in the same transaction does not.
	free.Store(40*mib + 64<<10)
	storage.Remeasure(s)
	var big storage.Batch
	big.Set(key(11), make([]byte, mib))
	bigDone := commitJoiningAsync(t, s, &big)
	var small storage.Batch
	small.Delete(key(1))
	if err := s.Commit(context.Background(), &small); err != nil {
		t.Fatalf("a deletion that fits above the floor: %v", err)
	}
	if err := <-bigDone; !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("1 MiB with 64 KiB above the floor: %v", err)
	}
	if _, err := s.Get(key(11)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("the refused batch reached the store: %v", err)
	}

	// Below the floor: everything fails.
	free.Store(39 * mib)
	storage.Remeasure(s)
	var last storage.Batch
	last.Delete(key(2))
	err = s.Commit(context.Background(), &last)
	if !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("a deletion below the floor: %v", err)
	}
	t.Logf("below the floor: %v", err)
	if st := s.Stats(); st.NoSpace != 2 || st.AdmitRefused != 3 || st.DiskFree != 39*mib || st.DiskFloor != 40*mib {
		t.Fatalf("Stats = %+v", st)
	}

	// Space back: commits resume.
	free.Store(100 * mib)
	storage.Remeasure(s)
	if err := s.Commit(context.Background(), &last); err != nil {
		t.Fatal(err)
	}
	if err := s.Admit(mib); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[int]bool{0: false, 1: false, 2: false, 3: true, 10: true} {
		if _, err := s.Get(key(k)); (err == nil) != want {
			t.Errorf("key %d: %v, want present %v", k, err, want)
		}
	}
}

// TestSpace_CompactionRoom: the floor grows with the compactions Badger's
// tree allows: all of level 0 with the whole base level, plus one table of
// another level with its share of the next.
func TestSpace_CompactionRoom(t *testing.T) {
	levels := []badger.LevelInfo{
		{Level: 0, Size: 40 * mib, TargetFileSize: 16 * mib},
		{Level: 1},
		{Level: 2, Size: 100 * mib, TargetSize: 64 * mib, TargetFileSize: mib / 2, IsBaseLevel: true},
		{Level: 3, Size: 1000 * mib, TargetSize: 640 * mib, TargetFileSize: mib},
	}
	// 40 + 100, and L2's table of 0.5 MiB with 1000/100 of it in L3.
	if got, want := storage.CompactionRoom(levels), int64(140*mib+mib/2+5*mib); got != want {
		t.Fatalf("CompactionRoom = %d, want %d", got, want)
	}
	if got := storage.CompactionRoom(nil); got != 0 {
		t.Fatalf("CompactionRoom of an empty tree = %d", got)
	}
}

// fillKey is the key of the fill's write i: in order, or (shuffled) spread
// over the key space, so that every level-0 table overlaps all of the base
// level and compactions rewrite the most.
func fillKey(i int) []byte {
	if os.Getenv(envShuffle) != "" {
		return key(int(uint64(i) * 2654435761 % 100_000_000))
	}
	return key(i)
}

const envShuffle = "STORAGE_TEST_SHUFFLE"

const (
	fillValue    = 64 << 10
	fillMemtable = 4 << 20
	fillReserve  = 16 << 20
)

// helperFill is the child of TestSpace_FullTmpfs: it fills the store with
// new work until Admit refuses, trashes and writes replies between the
// thresholds, writes on until the floor refuses, and closes. Each step
// prints what the parent checks.
func helperFill() {
	cfg := helperConfig()
	s, err := storage.Open(cfg)
	if err != nil {
		fmt.Println("open:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(3)
	}
	say := func(f string, a ...any) { os.Stdout.WriteString(fmt.Sprintf(f, a...) + "\n") }
	commit := func(b *storage.Batch) error { return s.Commit(context.Background(), b) }
	i := 0
	for ; i < 100000; i++ {
		if err := s.Admit(fillValue); err != nil {
			say("admit-refused %v", err)
			break
		}
		var b storage.Batch
		b.Set(fillKey(i), value(i, fillValue))
		if err := commit(&b); err != nil {
			say("commit-failed %v", err)
			os.Exit(4)
		}
		say("ack %d", i)
	}
	// Between reserve and floor: trash the first ten, store five replies.
	for j := range 10 {
		var b storage.Batch
		b.Delete(fillKey(j))
		if err := commit(&b); err != nil {
			say("delete-failed %v", err)
			os.Exit(5)
		}
		say("del %d", j)
	}
	for range 5 {
		i++
		var b storage.Batch
		b.Set(fillKey(i), value(i, 1024))
		if err := commit(&b); err != nil {
			say("reply-failed %v", err)
			os.Exit(6)
		}
		say("reply %d", i)
	}
	// Accepted work that keeps writing (not admitted) meets the floor.
	for n := 0; ; n++ {
		i++
		var b storage.Batch
		b.Set(fillKey(i), value(i, fillValue))
		err := commit(&b)
		if errors.Is(err, storage.ErrNoSpace) {
			say("floor %v", err)
			break
		}
		if err != nil || n > 100000 {
			say("no-floor %v", err)
			os.Exit(7)
		}
		say("reply %d", i)
	}
	sp := s.Space()
	say("space %d %d %d", sp.Free, sp.Floor, sp.Reserve)
	if err := s.Close(); err != nil {
		say("close-failed %v", err)
		os.Exit(8)
	}
	say("closed")
	os.Exit(0)
}

// TestSpace_FullTmpfs fills a real 96 MiB tmpfs through the store, in a
// child process, so that a SIGBUS (Badger writing through mmap into a full
// filesystem) shows as a crashed child. New work must be refused with
// ErrNoSpace before Badger faults; trash and replies must still commit
// between the thresholds; the floor must stop every commit; Close must
// succeed. A start on the full filesystem must fail in one line, and once
// space is freed, everything acknowledged must be there.
func TestSpace_FullTmpfs(t *testing.T) {
	t.Run("keys in order", func(t *testing.T) { fillTmpfs(t, 96<<20, false) })
	t.Run("keys shuffled", func(t *testing.T) { fillTmpfs(t, 96<<20, true) })
}

func fillTmpfs(t *testing.T, size int64, shuffle bool) {
	if v := os.Getenv("STORAGE_TEST_TMPFS_MIB"); v != "" {
		n, _ := strconv.Atoi(v)
		size = int64(n) << 20
	}
	dir := tmpfs.Mount(t, size)
	env := []string{envHelper + "=fill", envDir + "=" + dir, envMemtable + "=" + strconv.Itoa(fillMemtable),
		envReserve + "=" + strconv.Itoa(fillReserve)}
	if shuffle {
		env = append(env, envShuffle+"=1")
		t.Setenv(envShuffle, "1") // for fillKey here
	}
	c := startHelper(t, env...)
	acked := map[int]bool{}
	var saw []string
	for {
		l := c.next(t)
		if l == "" {
			break
		}
		word, rest, _ := strings.Cut(l, " ")
		switch word {
		case "ack", "reply":
			n, _ := strconv.Atoi(rest)
			acked[n] = true
		case "del":
			n, _ := strconv.Atoi(rest)
			delete(acked, n)
			saw = append(saw, word)
		default:
			t.Logf("child: %s", l)
			saw = append(saw, word)
		}
	}
	err := c.cmd.Wait()
	if f := c.fault(); f != "" {
		t.Fatalf("the child crashed after %d acknowledged writes: %s", len(acked), f)
	}
	if err != nil {
		t.Fatalf("the child failed after %d acknowledged writes: %v (said %v)", len(acked), err, saw)
	}
	for _, want := range []string{"admit-refused", "del", "floor", "space", "closed"} {
		if !strings.Contains(" "+strings.Join(saw, " ")+" ", " "+want+" ") {
			t.Fatalf("the child never said %q (said %v)", want, saw)
		}
	}
	t.Logf("%d writes acknowledged on a %d MiB tmpfs (%d MiB of values)", len(acked), size>>20, len(acked)*fillValue>>20)

	// A start on the full filesystem: fill what is left, then open.
	free, err := statfsFreeT(dir)
	if err != nil {
		t.Fatal(err)
	}
	ballast := filepath.Join(dir, "ballast")
	if err := os.WriteFile(ballast, make([]byte, max(free-4*mib, 0)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := storage.DefaultConfig(dir)
	cfg.MemTableSize = fillMemtable
	_, err = storage.Open(cfg)
	if !errors.Is(err, storage.ErrNoSpace) || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("open on a full filesystem: %v", err)
	}
	t.Logf("open on the full filesystem: %v", err)

	// Space freed: everything acknowledged is there.
	os.Remove(ballast)
	tmpfs.Resize(t, dir, 2*size)
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		if _, err := s.Get(fillKey(i)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("trashed key %d: %v", i, err)
		}
	}
	missing := 0
	for i := range acked {
		if _, err := s.Get(fillKey(i)); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes missing", missing, len(acked))
	}
}

func statfsFreeT(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}

// helperRace is the child of TestSpace_OtherProcessFillsDisk: it commits
// batches of 4 KiB as fast as it can, printing "ack <i>" for each, and
// "nospace" for each refused with ErrNoSpace (retried after a pause), up
// to raceTries batches; then "done", and waits to be killed.
func helperRace() {
	s, err := storage.Open(helperConfig())
	if err != nil {
		fmt.Println("open:", strings.ReplaceAll(err.Error(), "\n", " "))
		os.Exit(3)
	}
	for i, tries := 0, 0; tries < raceTries; tries++ {
		var b storage.Batch
		b.Set(key(i), value(i, raceValue))
		err := s.Commit(context.Background(), &b)
		switch {
		case err == nil:
			os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
			i++
		case errors.Is(err, storage.ErrNoSpace):
			os.Stdout.WriteString("nospace\n")
			time.Sleep(time.Millisecond)
		default:
			fmt.Println("commit:", err)
			os.Exit(4)
		}
	}
	os.Stdout.WriteString("done\n")
	select {}
}

const (
	raceTries    = 200_000
	raceValue    = 4 << 10
	raceMemtable = 64 << 20
)

// TestSpace_OtherProcessFillsDisk: another process fills the filesystem
// while the store commits. Badger writes its logs through mmap, so a
// write into the unallocated part of a log on a full filesystem is SIGBUS;
// the committer measures the free space before every write group and
// refuses below the floor, so nothing is written once the filler has
// taken the space (doc.go, "Disk space"). The child must not crash, and
// once the filler is gone every acknowledged write must be there.
func TestSpace_OtherProcessFillsDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 128<<20)
	// A memtable larger than what the child writes here, so that Badger
	// flushes nothing while the filler runs: a flush writing its table at
	// the instant the filler takes the last byte faults whatever the store
	// checks (doc.go, "Disk space"); this test is about the committer's
	// writes. The floor is set to what a 16 MiB memtable's would be.
	c := startHelper(t, envHelper+"=race", envDir+"="+dir, envMemtable+"="+strconv.Itoa(raceMemtable),
		envFloor+"="+strconv.Itoa(int(storage.DefaultDiskFloor(16<<20))))
	acked := 0
	for acked < 500 {
		l := c.next(t)
		if !strings.HasPrefix(l, "ack ") {
			c.kill(t)
			t.Fatalf("child: %q", l)
		}
		acked++
	}
	// The filler: 1 MiB writes until the filesystem is full, as dd does,
	// while the child's lines are read (a child blocked on a full pipe
	// would not be committing).
	filler := filepath.Join(dir, "filler")
	filled := make(chan error, 1)
	go func() {
		f, err := os.Create(filler)
		if err != nil {
			filled <- err
			return
		}
		defer f.Close()
		chunk := make([]byte, 1<<20)
		for i := range chunk {
			chunk[i] = byte(i)
		}
		for range 256 {
			if _, err := f.Write(chunk); err != nil {
				if errors.Is(err, syscall.ENOSPC) {
					err = nil
				}
				filled <- err
				return
			}
		}
		filled <- errors.New("the filler never filled the filesystem")
	}()
	// Read on until the filler is done and the child has met the full
	// filesystem 50 times (or died, or gave up).
	refused, done := 0, false
	for refused < 50 || !done {
		select {
		case err := <-filled:
			if err != nil {
				c.kill(t)
				t.Fatal(err)
			}
			done, refused = true, 0
			continue
		default:
		}
		l := c.next(t)
		if l == "" || l == "done" {
			if !done {
				if err := <-filled; err != nil {
					t.Fatal(err)
				}
			}
			break
		}
		if l == "nospace" {
			refused++
		}
	}
	c.kill(t)
	if fault := c.fault(); fault != "" {
		t.Fatalf("the child crashed on the full filesystem: %s\n%s", fault, c.stderr.String()[:min(6000, len(c.stderr.String()))])
	}
	if refused == 0 {
		t.Fatal("no commit was refused on the full filesystem")
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	cfg := storage.DefaultConfig(dir)
	cfg.MemTableSize, cfg.DiskFloor = raceMemtable, storage.DefaultDiskFloor(16<<20)
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if ssts, _ := filepath.Glob(filepath.Join(dir, "*.sst")); len(ssts) > 1 {
		t.Logf("the child flushed %d tables: the test may have met a flush", len(ssts))
	}
	missing := 0
	for _, i := range c.acks {
		if v, err := s.Get(key(i)); err != nil || string(v) != string(value(i, raceValue)) {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes missing", missing, len(c.acks))
	}
	t.Logf("%d acknowledged, %d refused before the kill", len(c.acks), refused)
}

// TestSpace_GaugeFollowsIdleStore: the free space Stats reports (the
// agent's free-space gauge) follows the filesystem while nothing is
// committed, as another process fills it.
func TestSpace_GaugeFollowsIdleStore(t *testing.T) {
	dir := tmpfs.Mount(t, 256<<20)
	s, err := storage.Open(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := s.Stats().DiskFree
	if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, 64<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	// Stats measures at most every 100 ms: poll, a bounded number of times.
	var now int64
	for range 1000 {
		if now = s.Stats().DiskFree; now <= before-64<<20 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("Stats says %d bytes free, %d before a 64 MiB file was written", now, before)
}
