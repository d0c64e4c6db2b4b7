package memstore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/internal/memstore"
	"github.com/requestagent/requestagent/storage"
)

// TestStore_AsTheInterfaceSays: a batch applies whole and in order, scans
// are in key order within the prefix and start where asked, values are
// copies, a closed handle refuses, and Reopen sees what was committed.
func TestStore_AsTheInterfaceSays(t *testing.T) {
	s := memstore.New()
	var b storage.Batch
	val := []byte("1")
	for _, k := range []string{"q/c", "q/a", "p/x", "q/b"} {
		b.Set([]byte(k), val)
	}
	b.Delete([]byte("q/b"))
	b.Set([]byte("q/b"), []byte("2")) // after its delete: kept
	b.Delete([]byte("q/none"))
	if err := s.CommitWithin(&b, 0); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store holds its own copy
	var got []string
	if err := s.Scan([]byte("q/"), func(k, v []byte) error { got = append(got, string(k)+"="+string(v)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "q/a=1 q/b=2 q/c=1" {
		t.Fatalf("scan = %v", got)
	}
	got = nil
	if err := s.ScanKeysFrom([]byte("q/"), []byte("q/b"), func(k []byte) (bool, error) {
		got = append(got, string(k))
		return len(got) < 1, nil
	}); err != nil || strings.Join(got, " ") != "q/b" {
		t.Fatalf("keys from q/b, one = %v, %v", got, err)
	}
	if _, err := s.Get([]byte("q/none")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	var del storage.Batch
	del.Delete([]byte("q/a"))
	if err := s.CommitJoining(&del, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("q/c")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Get on a closed handle: %v", err)
	}
	r := s.Reopen()
	if v, err := r.Get([]byte("q/c")); err != nil || string(v) != "1" {
		t.Fatalf("after Reopen: %q, %v", v, err)
	}
	if _, err := r.Get([]byte("q/a")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a deleted key after Reopen: %v", err)
	}
	if n := r.Stats().Commits; n != 0 {
		t.Fatalf("a new handle's commits = %d", n)
	}
}
