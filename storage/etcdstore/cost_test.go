package etcdstore_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

// BenchmarkCommit_EtcdCPU is what a durable commit costs etcd: 64
// writers committing batches of k 64-byte mutations (one 256-byte one
// beside, for the value's share) on a 3-member cluster of etcd processes
// with fsync on, with the members' CPU per commit and per mutation
// reported beside the rate. k=1 is the baseline: the per-commit share
// is what the group commit amortises, the per-mutation share what only
// fewer keys per acknowledgement would save (docs/cluster.md, "Measured").
//
//	go test -run '^$' -bench Commit_EtcdCPU -benchtime 4s ./storage/etcdstore/
func BenchmarkCommit_EtcdCPU(b *testing.B) {
	procs := etcdtest.StartProcs(b)
	etcdCPU := func() time.Duration {
		var d time.Duration
		for i := range 3 {
			if pid := procs.Pid(i); pid != 0 {
				d += peers.ProcCPU(pid)
			}
		}
		return d
	}
	for _, c := range []struct{ k, size int }{{1, 64}, {2, 64}, {4, 64}, {8, 64}, {1, 256}} {
		b.Run(fmt.Sprintf("mutations=%d/bytes=%d", c.k, c.size), func(b *testing.B) {
			s, err := etcdstore.Open(etcdstore.Config{Endpoints: procs.Endpoints(), KeyPrefix: b.Name() + "/"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			val := make([]byte, c.size)
			var writer atomic.Int64
			// About 64 writers, as the cluster rows' 64 clients.
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			e0 := etcdCPU()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := writer.Add(1)
				for i := 0; pb.Next(); i++ {
					batch := &storage.Batch{}
					for j := range c.k {
						batch.Set(fmt.Appendf(nil, "q/%d/%d/%d", w, i, j), val)
					}
					if err := s.CommitWithin(batch, 10*time.Second); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			e := etcdCPU() - e0
			st := s.Stats()
			b.ReportMetric(float64(e.Microseconds())/float64(b.N), "etcd-µs/commit")
			b.ReportMetric(float64(e.Microseconds())/float64(b.N*c.k), "etcd-µs/mutation")
			if st.Groups > 0 {
				b.ReportMetric(float64(st.Commits)/float64(st.Groups), "commits/txn")
			}
		})
	}
}
