package poller_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

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
// returns, not with the group's size (docs/native-messaging.md; doc.go "Cost").
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

// BenchmarkOtherGroup_WhilePolled: what a request costs another client
// (an Add and a Remove in a group of its own, as create_request and the
// trash of its reply do) while three connections poll, without unmask and
// without pause, a group of 200k members — with 10 replies ready, and
// with all of them ready. p50 and p99 are of one Add+Remove.
func BenchmarkOtherGroup_WhilePolled(b *testing.B) {
	ctx := context.Background()
	const members = 200_000
	for _, all := range []bool{false, true} {
		ready, name := 10, "few"
		if all {
			ready, name = members, "all"
		}
		b.Run("ready="+name, func(b *testing.B) {
			r := poller.NewRegistry[*int]()
			fill(b, r, "big", members, ready)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						select {
						case <-stop:
							return
						default:
						}
						r.Poll(ctx, "big", 0, false)
					}
				}()
			}
			var took []time.Duration
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				r.Add("other", nid(members+i), "x")
				r.Remove(nid(members + i))
				took = append(took, time.Since(start))
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds()), "p99-ns")
		})
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

// BenchmarkMemory_Groups is BenchmarkMemory_Entries with every request
// in a group of its own (a proxy per call, or create_request naming a
// group per request): the heap of a group with its one request.
func BenchmarkMemory_Groups(b *testing.B) {
	const n = 200_000
	names := make([]string, n)
	for i := range names {
		names[i] = "g" + strconv.Itoa(i)
	}
	var perGroup float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := poller.NewRegistry[*int]()
		for i := range n {
			if err := r.Insert(names[i], nid(i), "t", false, nil); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perGroup = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(r)
	}
	b.ReportMetric(perGroup, "B/group")
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
