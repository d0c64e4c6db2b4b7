package poller_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"strconv"
	"testing"

	"github.com/requestagent/requestagent/poller"
)

// nid is the n-th request id of a benchmark or a big test.
func nid(n int) poller.ID {
	var i poller.ID
	binary.BigEndian.PutUint64(i[8:], uint64(n)+1)
	return i
}

// fill gives group g members requests tagged "t<n>", the first ready of
// them ready, the others pending (ready ones spread over the group, as
// replies come in any order).
func fill(tb testing.TB, r *poller.Registry[*int], g string, members, ready int) {
	tb.Helper()
	every := members
	if ready > 0 {
		every = members / ready
	}
	for n := range members {
		if err := r.Add(g, nid(n), "t"+strconv.Itoa(n)); err != nil {
			tb.Fatal(err)
		}
	}
	for k := range ready {
		r.SetReady(nid(k * every))
	}
}

// BenchmarkPoll: a poll with unmask=FALSE (so that every iteration finds the
// same state) of a group of 1k, 100k and 1M members, with 10 replies ready
// and with every reply ready. What a poll costs grows with the replies it
// returns, not with the group's size (PRODUCT.md §3; doc.go "Cost").
func BenchmarkPoll(b *testing.B) {
	ctx := context.Background()
	for _, members := range []int{1_000, 100_000, 1_000_000} {
		for _, all := range []bool{false, true} {
			ready, name := 10, "few"
			if all {
				ready, name = members, "all"
			}
			b.Run(fmt.Sprintf("members=%s/ready=%s", count(members), name), func(b *testing.B) {
				r := poller.NewRegistry[*int]()
				fill(b, r, "g", members, ready)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					tags, err := r.Poll(ctx, "g", 0, false)
					if err != nil || len(tags) != ready {
						b.Fatalf("poll: %d tags, %v", len(tags), err)
					}
				}
			})
		}
	}
}

// BenchmarkMemory_Entries reports the heap one live request costs in the
// registry (its entry and its slot in the map by id; the tag's own bytes
// are not counted: the request record holds them anyway), over a million
// requests in one group, half of them ready — RELIABILITY.md "Memory".
func BenchmarkMemory_Entries(b *testing.B) {
	const n = 1_000_000
	tags := make([]string, n)
	for i := range tags {
		tags[i] = "t" + strconv.Itoa(i)
	}
	var perEntry float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := poller.NewRegistry[*int]()
		for i := range n {
			if err := r.Insert("g", nid(i), tags[i], i%2 == 0, nil); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perEntry = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perEntry, "B/entry")
}

func count(n int) string {
	switch {
	case n >= 1_000_000:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000:
		return strconv.Itoa(n/1_000) + "k"
	}
	return strconv.Itoa(n)
}
