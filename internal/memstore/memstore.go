// Package memstore is a store in memory behind the agent's Store
// interface (agent/store.go): batches applied atomically under one lock,
// keys kept sorted for the scans. It is for tests that run the agent with
// no disk and no Badger, and the proof that the agent asks nothing of its
// store beyond that interface. Nothing survives the process; Reopen gives
// a new handle on the same data, as a restart on the same directory would.
package memstore

import (
	"bytes"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/requestagent/requestagent/storage"
)

// data is what the handles of one store share.
type data struct {
	mu   sync.Mutex // guards keys and vals
	keys []string   // sorted
	vals map[string][]byte
}

// Store is one handle on a store in memory. Safe for concurrent use.
type Store struct {
	d      *data
	mu     sync.Mutex // guards closed and commits
	closed bool
	// commits counts the committed batches, for Stats.
	commits int64
}

// New returns an empty store.
func New() *Store { return &Store{d: &data{vals: map[string][]byte{}}} }

// Reopen returns a new handle on s's data, which stays as s left it.
func (s *Store) Reopen() *Store { return &Store{d: s.d} }

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// CommitWithin applies b at once; the timeout has nothing to wait for.
func (s *Store) CommitWithin(b *storage.Batch, _ time.Duration) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	d := s.d
	d.mu.Lock()
	b.Each(func(key, val []byte, del bool) {
		k := string(key)
		i, found := slices.BinarySearch(d.keys, k)
		switch {
		case del && found:
			d.keys = slices.Delete(d.keys, i, i+1)
			delete(d.vals, k)
		case !del:
			if !found {
				d.keys = slices.Insert(d.keys, i, k)
			}
			d.vals[k] = bytes.Clone(val)
		}
	})
	d.mu.Unlock()
	s.mu.Lock()
	s.commits++
	s.mu.Unlock()
	return nil
}

// CommitJoining is CommitWithin: every commit here is at once.
func (s *Store) CommitJoining(b *storage.Batch, timeout time.Duration) error {
	return s.CommitWithin(b, timeout)
}

// Get returns a copy of key's value, or storage.ErrNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.isClosed() {
		return nil, storage.ErrClosed
	}
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	v, ok := s.d.vals[string(key)]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return bytes.Clone(v), nil
}

// snapshot returns the keys with prefix from the first at or after from,
// and their values, as they are now.
func (s *Store) snapshot(prefix, from []byte) (keys []string, vals [][]byte) {
	if from == nil {
		from = prefix
	}
	d := s.d
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := sort.SearchStrings(d.keys, string(from)); i < len(d.keys) && bytes.HasPrefix([]byte(d.keys[i]), prefix); i++ {
		keys = append(keys, d.keys[i])
		vals = append(vals, d.vals[d.keys[i]])
	}
	return keys, vals
}

// Scan calls fn for each key with the prefix and its value, in key order,
// on a snapshot; fn's error stops it.
func (s *Store) Scan(prefix []byte, fn func(key, val []byte) error) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	keys, vals := s.snapshot(prefix, nil)
	for i, k := range keys {
		if err := fn([]byte(k), vals[i]); err != nil {
			return err
		}
	}
	return nil
}

// ScanKeysFrom calls fn for the keys with the prefix from the first at or
// after from, in key order, on a snapshot, until fn returns false or an
// error.
func (s *Store) ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	keys, _ := s.snapshot(prefix, from)
	for _, k := range keys {
		more, err := fn([]byte(k))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Admit takes any work: memory is the agent's own budgets' to bound.
func (s *Store) Admit(int) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	return nil
}

// DiskBytes is 0: nothing is on a disk.
func (s *Store) DiskBytes() int64 { return 0 }

// Stats counts the commits (each is one group).
func (s *Store) Stats() storage.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return storage.Stats{Commits: s.commits, Groups: s.commits}
}

// Close ends this handle; the data stays for Reopen.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return storage.ErrClosed
	}
	s.closed = true
	return nil
}
