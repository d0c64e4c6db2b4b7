package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

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
// than commits (the group commit of PRODUCT.md §6).
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
	} {
		if err := c.Validate(); !errors.Is(err, storage.ErrBadConfig) {
			t.Errorf("Validate(%+v) = %v", c, err)
		}
	}
	if _, err := storage.Open(storage.Config{}); !errors.Is(err, storage.ErrBadConfig) {
		t.Errorf("Open without Dir: %v", err)
	}
}
