package etcdstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/requestagent/requestagent/storage"
)

// Get returns key's value, or storage.ErrNotFound. The read is
// linearizable (etcd's default): it sees every commit acknowledged
// before it began, whichever member answers. The value is the
// response's own, the caller's to keep.
func (s *Store) Get(key []byte) ([]byte, error) {
	if s.isClosed() {
		return nil, storage.ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ReadTimeout)
	defer cancel()
	sent := time.Now()
	resp, err := s.cli.Get(ctx, s.key(key))
	s.metrics.read(sent)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: get %q: %w", key, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, storage.ErrNotFound
	}
	return resp.Kvs[0].Value, nil
}

// Scan calls fn for every key with the prefix and its value, in key
// order, on a snapshot; fn's error stops it.
func (s *Store) Scan(prefix []byte, fn func(key, val []byte) error) error {
	return s.pages(prefix, nil, false, func(kv *mvccpb.KeyValue) (bool, error) {
		return true, fn(kv.Key[len(s.prefix):], kv.Value)
	})
}

// ScanKeysFrom calls fn for the keys with the prefix from the first at or
// after from (nil: the prefix), in key order, on a snapshot, until fn
// returns false or an error. It reads no values; fn may keep the keys.
func (s *Store) ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error {
	return s.pages(prefix, from, true, func(kv *mvccpb.KeyValue) (bool, error) {
		return fn(kv.Key[len(s.prefix):])
	})
}

// pages reads the keys with prefix from from, PageSize at a time, and
// calls fn for each until it returns false or an error. The first page is
// a linearizable read; the others are read at its revision, so that the
// scan is one snapshot however long fn takes — unless etcd compacts that
// revision away meanwhile, which fails the scan (rpctypes.ErrCompacted)
// rather than mix two states.
func (s *Store) pages(prefix, from []byte, keysOnly bool, fn func(kv *mvccpb.KeyValue) (bool, error)) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	start := s.key(prefix)
	end := clientv3.GetPrefixRangeEnd(start)
	if from != nil && bytes.Compare(from, prefix) > 0 {
		start = s.key(from)
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(s.cfg.PageSize))}
	if keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	for rev := int64(0); ; {
		resp, err := s.page(start, opts, rev)
		if err != nil {
			return fmt.Errorf("etcdstore: scan %q: %w", prefix, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			more, err := fn(kv)
			if err != nil || !more {
				return err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		// The next page starts just after this one's last key.
		start = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// page reads one page from start, at rev (0: the latest).
func (s *Store) page(start string, opts []clientv3.OpOption, rev int64) (*clientv3.GetResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ReadTimeout)
	defer cancel()
	if rev != 0 {
		opts = append(opts[:len(opts):len(opts)], clientv3.WithRev(rev))
	}
	defer s.metrics.read(time.Now())
	return s.cli.Get(ctx, start, opts...)
}
