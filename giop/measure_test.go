package giop_test

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// Measurements of what hostile but legal peers cost a server with the
// default Config, for the table in RELIABILITY.md. They print numbers and
// assert nothing about them, and they are heavy (up to 2 GiB sent over
// loopback), so they run only with REQUESTAGENT_GIOP_MEASURE=1:
//
//	REQUESTAGENT_GIOP_MEASURE=1 go test -run '^TestMeasure' -v ./giop/
//
// The server runs in a child process (child_test.go), so its resident set
// is its own.

func measuring(t *testing.T) {
	if os.Getenv("REQUESTAGENT_GIOP_MEASURE") == "" {
		t.Skip("set REQUESTAGENT_GIOP_MEASURE=1 to measure")
	}
}

func logStats(t *testing.T, what string, st *childStats) {
	t.Helper()
	t.Logf("%-30s RSS %7.1f MiB  heap %7.1f MiB  stacks %6.1f MiB  goroutines %6d  server %v",
		what, float64(st.RSSKiB)/1024, float64(st.HeapInuse)/(1<<20), float64(st.StackInuse)/(1<<20), st.Goroutines, st.Server)
}

// TestMeasure_Slowloris: 4,000 connections that each send one 12-byte
// header announcing a 1 MiB Request and then nothing.
func TestMeasure_Slowloris(t *testing.T) {
	measuring(t)
	const n = 4000
	c := startChildServer(t)
	logStats(t, "idle server", c.stats())
	conns := dialMany(t, c.addr, n)
	hdr := rawgiop.Header(1, 2, 1, giop.MsgRequest, 1<<20)
	for _, nc := range conns {
		nc.Write(hdr)
	}
	c.waitStats("every connection open", func(s *childStats) bool { return s.stat("Open") == n })
	time.Sleep(time.Second) // let every reader see its header
	st := c.stats()
	logStats(t, "4000 slowloris headers", st)
	for _, nc := range conns {
		nc.Close()
	}
	c.waitStats("every connection closed", func(s *childStats) bool { return s.stat("Open") == 0 })
	logStats(t, "after they closed", c.stats())
	c.quit()
}

// TestMeasure_FragmentChains: 128 connections each hold legal GIOP 1.2
// fragment chains of about 2 MiB: 8 each (2 GiB in all), the most
// MaxPendingFragmented allows, and 3 each (768 MiB), which
// MaxReassemblyBytes allows. The peak is sampled while they are sent.
func TestMeasure_FragmentChains(t *testing.T) {
	measuring(t)
	for _, chains := range []int{8, 3} {
		t.Run(strconv.Itoa(chains), func(t *testing.T) { measureChains(t, chains) })
	}
}

func measureChains(t *testing.T, chains int) {
	const n = 128
	c := startChildServer(t)
	logStats(t, "idle server", c.stats())
	conns := dialMany(t, c.addr, n)
	var wg sync.WaitGroup
	var complete atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan *childStats)
	go func() {
		// The peak of RSS and of the heap, sampled every 100 ms.
		var peak childStats
		for {
			select {
			case <-stop:
				sampled <- &peak
				return
			case <-time.After(100 * time.Millisecond):
			}
			st := c.peek()
			if st.RSSKiB > peak.RSSKiB {
				peak.RSSKiB, peak.Goroutines, peak.Server = st.RSSKiB, st.Goroutines, st.Server
			}
			peak.HeapInuse = max(peak.HeapInuse, st.HeapInuse)
			peak.StackInuse = max(peak.StackInuse, st.StackInuse)
		}
	}()
	start := time.Now()
	for _, nc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rawgiop.FragmentChains(nc, chains) {
				complete.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d of %d connections wrote all %d chains in %v", complete.Load(), n, chains, time.Since(start).Round(time.Millisecond))
	time.Sleep(time.Second)
	close(stop)
	logStats(t, "peak while sending (no GC)", <-sampled)
	logStats(t, "then", c.stats())
	for _, nc := range conns {
		nc.Close()
	}
	c.waitStats("every connection closed", func(s *childStats) bool { return s.stat("Open") == 0 })
	logStats(t, "after they closed", c.stats())
	time.Sleep(5 * time.Second)
	logStats(t, "5 s later", c.stats())
	c.quit()
}

// TestMeasure_ForeverPolls: 40 connections each send 1,024 requests to an
// operation that blocks until the connection closes.
func TestMeasure_ForeverPolls(t *testing.T) {
	measuring(t)
	const n, per = 40, 1024
	c := startChildServer(t)
	logStats(t, "idle server", c.stats())
	conns := dialMany(t, c.addr, n)
	var msgs [][]byte
	for i := range per {
		msgs = append(msgs, buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: uint32(2*i + 1),
			ResponseFlags: giop.ResponseTarget, ObjectKey: blockKey, Operation: "poll"}, nil))
	}
	batch := bytes.Join(msgs, nil)
	var refused atomic.Int64
	var readers sync.WaitGroup
	for _, nc := range conns {
		nc.Write(batch)
		readers.Add(1)
		go func() {
			defer readers.Done()
			rc := &rawClient{t: t, nc: nc}
			for {
				m, err := rc.next()
				if err != nil {
					return
				}
				if m.Type == giop.MsgReply {
					refused.Add(1)
				}
			}
		}()
	}
	time.Sleep(3 * time.Second)
	st := c.stats()
	logStats(t, "40 × 1024 blocked requests", st)
	t.Logf("replies (refusals) received: %d", refused.Load())
	for _, nc := range conns {
		nc.Close()
	}
	readers.Wait()
	c.waitStats("every connection closed", func(s *childStats) bool { return s.stat("Open") == 0 })
	logStats(t, "after they closed", c.stats())
	c.quit()
}
