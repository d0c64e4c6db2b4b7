package rawbadger

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/requestagent/requestagent/storage"
)

// WriteRate measures what the disk under dir allows: n records of
// valueSize bytes written straight into a fresh Badger database there, in
// transactions of group records with SyncWrites on, from one goroutine. It
// returns records per second. It is the baseline the benchmarks hold the
// group commit and the agent's durable throughput against, measured in
// the same run (BENCHMARKS.md). The database is closed, and its files are left
// in dir.
func WriteRate(dir string, group, n, valueSize int) (float64, error) {
	db, err := openRaw(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	val := make([]byte, valueSize)
	start := time.Now()
	for i := 0; i < n; i += group {
		err := db.Update(func(txn *badger.Txn) error {
			for j := i; j < i+group && j < n; j++ {
				if err := txn.Set(binary.BigEndian.AppendUint64([]byte("r/"), uint64(j)), val); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// ClientWriteRate measures what clients concurrent writers get from
// Badger alone when each writes one record of valueSize bytes and waits
// until it is durable, the writes being coalesced the plain way: a loop
// takes every record waiting, commits them in one transaction with
// SyncWrites on, and releases their writers. This is the "batched durable
// writes at 64 clients" of the performance anchors (~21k/s on our kind of
// machine) and the baseline of the durable 2PI goal (BENCHMARKS.md); WriteRate,
// whose batches are always full, is the ceiling above it. n records in
// all; it returns records per second, closes the database and leaves its
// files in dir.
func ClientWriteRate(dir string, clients, n, valueSize int) (float64, error) {
	db, err := openRaw(dir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	type write struct {
		key  []byte
		done chan error
	}
	val := make([]byte, valueSize)
	writes := make(chan write, clients)
	var committer sync.WaitGroup
	committer.Add(1)
	go func() {
		defer committer.Done()
		var batch []write
		for w := range writes {
			batch = append(batch[:0], w)
		gather:
			for {
				select {
				case w, ok := <-writes:
					if !ok {
						break gather
					}
					batch = append(batch, w)
				default:
					break gather
				}
			}
			err := db.Update(func(txn *badger.Txn) error {
				for _, w := range batch {
					if err := txn.Set(w.key, val); err != nil {
						return err
					}
				}
				return nil
			})
			for _, w := range batch {
				w.done <- err
			}
		}
	}()
	var (
		next    atomic.Int64
		errOnce sync.Once
		failed  error
		writers sync.WaitGroup
	)
	start := time.Now()
	for range clients {
		writers.Add(1)
		go func() {
			defer writers.Done()
			done := make(chan error, 1)
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				writes <- write{key: binary.BigEndian.AppendUint64([]byte("r/"), uint64(i)), done: done}
				if err := <-done; err != nil {
					errOnce.Do(func() { failed = err })
					return
				}
			}
		}()
	}
	writers.Wait()
	elapsed := time.Since(start)
	close(writes)
	committer.Wait()
	if failed != nil {
		return 0, failed
	}
	return float64(n) / elapsed.Seconds(), nil
}

// openRaw opens the baselines' plain Badger: durable commits, our memtable
// size, nothing else of the store's.
func openRaw(dir string) (*badger.DB, error) {
	return badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).
		WithLogger(nil).WithMemTableSize(storage.DefaultMemTableSize).WithDetectConflicts(false))
}
