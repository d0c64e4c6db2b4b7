package storage_test

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/tools/rawbadger"
)

// BenchmarkDurableCommit_64Clients measures acknowledged durable writes
// with 64 concurrent clients committing one 256-byte record each, and, in
// the same run, the raw rate of Badger itself writing the same records in
// transactions of 64 with SyncWrites — the best the group commit could do —
// and of 64 clients writing through a plain coalescing loop over Badger
// (rawbadger.ClientWriteRate). It reports the ratio to each (the goal is
// ≥ 0.8, BENCHMARKS.md). Numbers are reported, never asserted.
func BenchmarkDurableCommit_64Clients(b *testing.B) {
	const clients = 64
	val := make([]byte, 256)

	raw, err := rawbadger.WriteRate(b.TempDir(), clients, 20000, len(val))
	if err != nil {
		b.Fatal(err)
	}
	rawClients, err := rawbadger.ClientWriteRate(b.TempDir(), clients, 20000, len(val))
	if err != nil {
		b.Fatal(err)
	}

	s := openTemp(b, b.TempDir())
	defer s.Close()
	var next atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := make([]byte, 10)
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				var bt storage.Batch
				k = binary.BigEndian.AppendUint64(k[:2], uint64(n))
				bt.Set(append([]byte(nil), k...), val)
				if err := s.Commit(context.Background(), &bt); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	ours := float64(b.N) / elapsed.Seconds()
	st := s.Stats()
	b.ReportMetric(ours, "commits/s")
	b.ReportMetric(raw, "raw_badger_writes/s")
	b.ReportMetric(ours/raw, "ratio_to_raw")
	b.ReportMetric(rawClients, "raw_badger_64clients/s")
	b.ReportMetric(ours/rawClients, "ratio_to_raw_64clients")
	b.ReportMetric(float64(st.Commits)/float64(max(st.Groups, 1)), "commits/flush")
}
