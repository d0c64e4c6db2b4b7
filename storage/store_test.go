package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openTemp(t testing.TB, dir string) *storage.Store {
	t.Helper()
	s, err := storage.Open(storage.DefaultConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func key(i int) []byte { return []byte(fmt.Sprintf("r/%08d", i)) }

// TestStore_ConcurrentCommitsAreGroupedAndDurable: 64 writers commit one
// record each, many times; every acknowledged record is there after the
// store is closed and reopened, and the writes took fewer transactions
// than commits (the group commit).
func TestStore_ConcurrentCommitsAreGroupedAndDurable(t *testing.T) {
	dir := t.TempDir()
	s := openTemp(t, dir)
	const writers, each = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var b storage.Batch
				n := w*each + i
				b.Set(key(n), []byte(fmt.Sprint(n)))
				if err := s.Commit(context.Background(), &b); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := s.Stats()
	if st.Commits != writers*each {
		t.Fatalf("Stats.Commits = %d, want %d", st.Commits, writers*each)
	}
	if st.Groups >= st.Commits {
		t.Fatalf("no grouping: %d transactions for %d commits", st.Groups, st.Commits)
	}
	if st.Entries != writers*each || st.Busy <= 0 {
		t.Fatalf("Stats.Entries = %d (want %d), Busy %v", st.Entries, writers*each, st.Busy)
	}
	t.Logf("%d commits in %d group transactions", st.Commits, st.Groups)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTemp(t, dir)
	defer s.Close()
	for n := range writers * each {
		v, err := s.Get(key(n))
		if err != nil || string(v) != fmt.Sprint(n) {
			t.Fatalf("record %d after reopen: %q, %v", n, v, err)
		}
	}
}

// TestStore_BatchIsAtomic: a batch's sets and deletes land together.
func TestStore_BatchIsAtomic(t *testing.T) {
	s, err := storage.Open(storage.Config{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var b storage.Batch
	b.Set([]byte("a/1"), []byte("one"))
	b.Set([]byte("a/2"), []byte("two"))
	b.Set([]byte("b/1"), []byte("other"))
	if err := s.Commit(ctx, &b); err != nil {
		t.Fatal(err)
	}
	var b2 storage.Batch
	b2.Delete([]byte("a/1"))
	b2.Set([]byte("a/3"), []byte("three"))
	if err := s.Commit(ctx, &b2); err != nil {
		t.Fatal(err)
	}
	var got []string
	err = s.Scan([]byte("a/"), func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	})
	if err != nil || fmt.Sprint(got) != "[a/2=two a/3=three]" {
		t.Fatalf("scan a/ = %v, %v", got, err)
	}
	var keys [][]byte
	s.ScanKeys([]byte("b/"), func(k []byte) error { keys = append(keys, bytes.Clone(k)); return nil })
	if len(keys) != 1 || string(keys[0]) != "b/1" {
		t.Fatalf("ScanKeys b/ = %q", keys)
	}
	if _, err := s.Get([]byte("a/1")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("deleted key: %v", err)
	}
}

// TestStore_Limits: a batch over the caps is refused before it reaches
// Badger, and a closed store refuses work instead of pretending.
func TestStore_Limits(t *testing.T) {
	s, err := storage.Open(storage.Config{InMemory: true, MaxBatchEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	var b storage.Batch
	for i := range 3 {
		b.Set(key(i), nil)
	}
	if err := s.Commit(context.Background(), &b); !errors.Is(err, storage.ErrBatchTooLarge) {
		t.Fatalf("3 entries with MaxBatchEntries 2: %v", err)
	}
	s.Close()
	s.Close() // idempotent
	var one storage.Batch
	one.Set(key(0), nil)
	if err := s.Commit(context.Background(), &one); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("commit after Close: %v", err)
	}
}

// TestStore_Config: Validate names the field at fault.
func TestStore_Config(t *testing.T) {
	for _, c := range []storage.Config{
		{},
		{InMemory: true, MaxBatchEntries: -1},
		{InMemory: true, GCDiscardRatio: 1},
		{InMemory: true, JoinDelay: -1},
	} {
		if err := c.Validate(); !errors.Is(err, storage.ErrBadConfig) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	if _, err := storage.Open(storage.Config{}); !errors.Is(err, storage.ErrBadConfig) {
		t.Errorf("Open without Dir: %v", err)
	}
}

// openJoining opens a durable store in dir whose joining batches wait
// for a group commit for up to delay.
func openJoining(t *testing.T, dir string, delay time.Duration) *storage.Store {
	t.Helper()
	cfg := storage.DefaultConfig(dir)
	cfg.JoinDelay = delay
	s, err := storage.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// commitJoiningAsync starts CommitJoining(b) and waits until the committer
// holds it; the returned channel gets its result.
func commitJoiningAsync(t *testing.T, s *storage.Store, b *storage.Batch) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	before := s.Stats().Joining
	go func() { done <- s.CommitJoining(b, time.Minute) }()
	for s.Stats().Joining == before {
		select {
		case err := <-done:
			t.Fatalf("CommitJoining returned %v before it was held", err)
		default:
		}
		runtime.Gosched()
	}
	return done
}

// TestStore_CommitJoiningRidesTheNextGroup: a joining batch (the agent's
// trash after a read) starts no flush of its own — it is committed with the
// next batch that does, before it, in the order they came — and it returns
// only once durable, like every commit.
func TestStore_CommitJoiningRidesTheNextGroup(t *testing.T) {
	dir := t.TempDir()
	s := openJoining(t, dir, time.Hour) // it would wait all test long alone
	var setup storage.Batch
	setup.Set(key(1), []byte("old"))
	if err := s.Commit(context.Background(), &setup); err != nil {
		t.Fatal(err)
	}
	groups := s.Stats().Groups

	var del storage.Batch
	del.Delete(key(1))
	del.Set(key(2), []byte("joined"))
	joined := commitJoiningAsync(t, s, &del)
	select {
	case err := <-joined:
		t.Fatalf("the joining batch was committed alone: %v", err)
	default:
	}

	// A later batch sets key 1 again: it comes after the deletion, so it wins.
	var next storage.Batch
	next.Set(key(1), []byte("new"))
	if err := s.Commit(context.Background(), &next); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("joining batch: %v", err)
	}
	st := s.Stats()
	if st.Groups != groups+1 || st.Joining != 0 {
		t.Errorf("two batches took %d flushes (%d still joining), want one", st.Groups-groups, st.Joining)
	}
	s.Close()

	s = openTemp(t, dir)
	defer s.Close()
	for k, want := range map[int]string{1: "new", 2: "joined"} {
		if v, err := s.Get(key(k)); err != nil || string(v) != want {
			t.Errorf("after reopen, key %d = %q, %v; want %q", k, v, err, want)
		}
	}
}

// TestStore_CommitJoiningAlone: with nothing to join, a joining batch is
// flushed on its own once JoinDelay has passed; on a store that is not
// durable it is written at once; and Close commits what is held.
func TestStore_CommitJoiningAlone(t *testing.T) {
	t.Run("after JoinDelay", func(t *testing.T) {
		s := openJoining(t, t.TempDir(), time.Millisecond)
		defer s.Close()
		var b storage.Batch
		b.Set(key(1), []byte("v"))
		if err := s.CommitJoining(&b, time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := s.Get(key(1)); err != nil || string(v) != "v" {
			t.Errorf("Get = %q, %v", v, err)
		}
		if st := s.Stats(); st.Groups != 1 {
			t.Errorf("%d flushes, want 1", st.Groups)
		}
	})
	t.Run("not durable", func(t *testing.T) {
		cfg := storage.Config{Dir: t.TempDir(), JoinDelay: time.Hour}
		s, err := storage.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var b storage.Batch
		b.Set(key(1), []byte("v"))
		// Held for JoinDelay, it would miss this timeout.
		if err := s.CommitJoining(&b, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("Close", func(t *testing.T) {
		dir := t.TempDir()
		s := openJoining(t, dir, time.Hour)
		var b storage.Batch
		b.Set(key(1), []byte("v"))
		joined := commitJoiningAsync(t, s, &b)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-joined; err != nil {
			t.Fatalf("held batch at Close: %v", err)
		}
		s = openTemp(t, dir)
		defer s.Close()
		if v, err := s.Get(key(1)); err != nil || string(v) != "v" {
			t.Errorf("after reopen, Get = %q, %v", v, err)
		}
	})
}

// TestStore_InjectStall: a stalled store holds commits until released.
func TestStore_InjectStall(t *testing.T) {
	s := openTemp(t, t.TempDir())
	defer s.Close()
	stall := make(chan struct{})
	s.InjectStall(stall)
	var b storage.Batch
	b.Set(key(1), []byte("v"))
	done := make(chan error, 1)
	go func() { done <- s.Commit(context.Background(), &b) }()
	// Held: the commit answers nothing until the stall ends, and nothing
	// of it is readable.
	for s.Stats().Stalled == 0 {
		runtime.Gosched()
	}
	select {
	case err := <-done:
		t.Fatalf("commit returned %v during the stall", err)
	default:
	}
	if _, err := s.Get(key(1)); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get during the stall = %v, want ErrNotFound", err)
	}
	s.InjectStall(nil)
	close(stall)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(key(1)); err != nil || string(v) != "v" {
		t.Fatalf("Get after the stall = %q, %v", v, err)
	}
}
