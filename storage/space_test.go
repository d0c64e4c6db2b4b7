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
