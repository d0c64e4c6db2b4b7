package rawbadger_test

import (
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/requestagent/requestagent/tools/rawbadger"
)

// TestRates_WriteEveryRecord: both baselines write all n records, each of
// valueSize bytes, into the database they leave behind, and report a rate.
func TestRates_WriteEveryRecord(t *testing.T) {
	for name, rate := range map[string]func(dir string) (float64, error){
		"WriteRate":       func(dir string) (float64, error) { return rawbadger.WriteRate(dir, 16, 300, 64) },
		"ClientWriteRate": func(dir string) (float64, error) { return rawbadger.ClientWriteRate(dir, 8, 300, 64) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := rate(dir)
			if err != nil || r <= 0 {
				t.Fatalf("rate = %v, %v", r, err)
			}
			db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			n := 0
			err = db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.DefaultIteratorOptions)
				defer it.Close()
				for it.Rewind(); it.Valid(); it.Next() {
					if it.Item().ValueSize() != 64 {
						t.Errorf("record %q: %d bytes, want 64", it.Item().Key(), it.Item().ValueSize())
					}
					n++
				}
				return nil
			})
			if err != nil || n != 300 {
				t.Fatalf("%d records (%v), want 300", n, err)
			}
		})
	}
}
