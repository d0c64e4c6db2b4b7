package storage

import "github.com/dgraph-io/badger/v4"

// ScanKeysFrom calls fn for the keys with the prefix, in key order,
// starting at the first key at or after from (from must have the prefix;
// nil starts at the prefix), without reading values, until fn returns
// false or an error. It reads a snapshot and holds no lock of the
// caller's: listings page through it while the store keeps committing.
func (s *Store) ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error {
	if from == nil {
		from = prefix
	}
	return s.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = prefix
		opts.PrefetchValues = false
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Seek(from); it.ValidForPrefix(prefix); it.Next() {
			more, err := fn(it.Item().KeyCopy(nil))
			if err != nil || !more {
				return err
			}
		}
		return nil
	})
}
