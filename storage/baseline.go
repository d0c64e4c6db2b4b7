package storage

import (
	"encoding/binary"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// RawWriteRate measures what the disk under dir allows: n records of
// valueSize bytes written straight into a fresh Badger database there, in
// transactions of group records with SyncWrites on, from one goroutine. It
// returns records per second. It is the baseline the benchmarks hold the
// group commit and the agent's durable throughput against, measured in
// the same run (issue 6). The database is closed, and its files are left
// in dir.
func RawWriteRate(dir string, group, n, valueSize int) (float64, error) {
	db, err := badger.Open(badger.DefaultOptions(dir).WithSyncWrites(true).
		WithLogger(nil).WithMemTableSize(DefaultMemTableSize).WithDetectConflicts(false))
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
