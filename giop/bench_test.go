package giop_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// Round-trip benchmarks: speed is measured, not asserted.
// Every scenario makes the calls of echo_client's bench mode (echoString("x")
// for size 0, echoBlob(size bytes) otherwise) over loopback TCP, and reports
// ns/op (= ns per call, wall time over all callers), p50/p99 latency and, for
// a Go client or server, allocations per call. Nothing here asserts on a
// timing: BenchmarkRoundTrip_Ratio reports Go↔Go against omniORB↔omniORB
// measured in the same run, on the same (noisy) machine.
//
// In Go↔Go the client and the server are one process, so allocs/op counts
// both sides; GoToOmniORB counts the client alone and OmniORBToGo the
// server alone (go_server_allocs/call).

// warmupCalls matches echo_client's bench mode: connection setup, the
// first request's code sets and so on are not timed.
const warmupCalls = 100

// benchSizes and benchConcs are the sub-benchmark axes.
var (
	benchSizes = []int{0, 64, 16384}
	benchConcs = []int{1, 16}
)

func benchName(size, conc int) string { return fmt.Sprintf("size=%d/conc=%d", size, conc) }

// echoCall is one prepared echo invocation: the Invocation (and its Args
// closure) is built once, so the benchmark loop itself allocates nothing.
type echoCall struct {
	size int
	inv  *giop.Invocation
}

func newEchoCall(size int) *echoCall {
	if size == 0 {
		return &echoCall{inv: &giop.Invocation{Operation: "echoString",
			Args: func(e *giop.Encoder) { e.WriteString("x") }}}
	}
	in := blob(size)
	return &echoCall{size: size, inv: &giop.Invocation{Operation: "echoBlob",
		Args: func(e *giop.Encoder) { e.WriteOctets(in) }}}
}

// do makes one call and checks the echo without allocating.
func (ec *echoCall) do(ctx context.Context, c *giop.Client, ref *giop.IOR) error {
	resp, err := c.Invoke(ctx, ref, ec.inv)
	if err != nil {
		return err
	}
	if ec.size == 0 {
		if s := resp.Result.StringBytes(); len(s) != 1 || s[0] != 'x' {
			return fmt.Errorf("echoString returned %q (%v)", s, resp.Result.Err())
		}
		return nil
	}
	if out := resp.Result.OctetsNoCopy(); len(out) != ec.size {
		return fmt.Errorf("echoBlob returned %d bytes, want %d (%v)", len(out), ec.size, resp.Result.Err())
	}
	return nil
}

// goRun is the outcome of one timed Go client loop.
type goRun struct {
	wall    time.Duration
	lat     []time.Duration // sorted
	mallocs uint64          // whole process, during the timed loop
}

func (r *goRun) nsPerCall() float64 { return float64(r.wall.Nanoseconds()) / float64(len(r.lat)) }

// percentile is nearest-rank over the sorted latencies, as echo_client computes it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999)
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// runGoCalls makes b.N calls from conc goroutines sharing c, timing each
// one into a preallocated slice. The timer runs only around the calls.
func runGoCalls(b *testing.B, c *giop.Client, ref *giop.IOR, size, conc int) goRun {
	b.Helper()
	ctx := context.Background()
	ec := newEchoCall(size)
	for range warmupCalls {
		if err := ec.do(ctx, c, ref); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	lat := make([]time.Duration, b.N)
	var (
		wg     sync.WaitGroup
		failed atomic.Pointer[error]
		ms     runtime.MemStats
	)
	// fail is out of line so that err does not escape (and allocate) per call.
	fail := func(err error) { failed.CompareAndSwap(nil, &err) }
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.Mallocs
	b.ResetTimer()
	start := time.Now()
	for w := range conc {
		from, to := b.N*w/conc, b.N*(w+1)/conc
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := from; i < to; i++ {
				t0 := time.Now()
				err := ec.do(ctx, c, ref)
				lat[i] = time.Since(t0)
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	b.StopTimer()
	runtime.ReadMemStats(&ms)
	if err := failed.Load(); err != nil {
		b.Fatalf("call failed: %v", *err)
	}
	slices.Sort(lat)
	return goRun{wall: wall, lat: lat, mallocs: ms.Mallocs - before}
}

func reportGoRun(b *testing.B, r goRun) {
	n := float64(len(r.lat))
	b.ReportMetric(n/r.wall.Seconds(), "calls/s")
	b.ReportMetric(float64(percentile(r.lat, 0.50).Nanoseconds()), "p50_ns")
	b.ReportMetric(float64(percentile(r.lat, 0.99).Nanoseconds()), "p99_ns")
	b.ReportMetric(float64(r.mallocs)/n, "allocs/call")
}

// benchClient is a client for one sub-benchmark run, closed by b.Cleanup.
func benchClient(b *testing.B) *giop.Client {
	c := giop.NewClient(nil)
	b.Cleanup(func() { c.Close() })
	return c
}

// BenchmarkRoundTrip_GoToGo: Go client → Go echo servant. With conc=16 the
// 16 callers share one client, hence one multiplexed connection.
func BenchmarkRoundTrip_GoToGo(b *testing.B) {
	_, ref, _ := testServer(b, nil, nil)
	for _, size := range benchSizes {
		for _, conc := range benchConcs {
			b.Run(benchName(size, conc), func(b *testing.B) {
				b.ReportAllocs()
				reportGoRun(b, runGoCalls(b, benchClient(b), ref, size, conc))
			})
		}
	}
}

// startOmniEchoServer runs omniORB's echo_server for the life of b and
// returns its IOR.
func startOmniEchoServer(b *testing.B) *giop.IOR {
	b.Helper()
	peers.Dir(b)
	p := peers.Start(b, "echo_server", peers.Endpoint(peers.FreePort(b))...)
	text := p.Line(b, 20*time.Second)
	ref, err := giop.ParseIOR(text)
	if err != nil {
		b.Fatalf("omniORB IOR %q: %v", text, err)
	}
	return ref
}

// BenchmarkRoundTrip_GoToOmniORB: Go client → omniORB echo_server.
func BenchmarkRoundTrip_GoToOmniORB(b *testing.B) {
	ref := startOmniEchoServer(b)
	for _, size := range benchSizes {
		for _, conc := range benchConcs {
			b.Run(benchName(size, conc), func(b *testing.B) {
				b.ReportAllocs()
				reportGoRun(b, runGoCalls(b, benchClient(b), ref, size, conc))
			})
		}
	}
}

// omniBench is one BENCH line of echo_client.
type omniBench struct {
	calls                   int
	nsPerCall, p50Ns, p99Ns float64
}

// runOmniClient runs echo_client --bench calls --size size --threads conc
// against ref and parses its BENCH line. With more than one thread it gets
// one connection per thread: omniORB's default oneCallPerConnection=1 and
// maxGIOPConnectionPerServer=5 would otherwise queue the threads.
func runOmniClient(b *testing.B, ref string, calls, size, conc int) omniBench {
	b.Helper()
	args := []string{"--bench", strconv.Itoa(calls), "--size", strconv.Itoa(size),
		"--threads", strconv.Itoa(conc)}
	if conc > 1 {
		args = append([]string{"-ORBmaxGIOPConnectionPerServer", strconv.Itoa(conc)}, args...)
	}
	p := peers.Start(b, "echo_client", append(args, ref)...)
	lines, err := p.Wait(b, 10*time.Minute)
	if err != nil {
		b.Fatalf("echo_client: %v\n%s", err, p.Output())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "BENCH ") {
			continue
		}
		f := peers.Fields(l)
		var r omniBench
		var errs [4]error
		r.calls, errs[0] = strconv.Atoi(f["calls"])
		r.nsPerCall, errs[1] = strconv.ParseFloat(f["ns_per_call"], 64)
		r.p50Ns, errs[2] = strconv.ParseFloat(f["p50_ns"], 64)
		r.p99Ns, errs[3] = strconv.ParseFloat(f["p99_ns"], 64)
		for _, err := range errs {
			if err != nil {
				b.Fatalf("BENCH line %q: %v", l, err)
			}
		}
		return r
	}
	b.Fatalf("echo_client printed no BENCH line:\n%s", p.Output())
	return omniBench{}
}

// reportOmni reports a BENCH line. ns/op is replaced by the client's own
// ns_per_call, which leaves out process start-up and ORB_init.
func reportOmni(b *testing.B, r omniBench) {
	b.ReportMetric(r.nsPerCall, "ns/op")
	b.ReportMetric(1e9/r.nsPerCall, "calls/s")
	b.ReportMetric(r.p50Ns, "p50_ns")
	b.ReportMetric(r.p99Ns, "p99_ns")
}

// BenchmarkRoundTrip_OmniORBToGo: omniORB's echo_client in bench mode
// against the Go echo servant, i.e. our server under their client. The Go
// server shares the process, so the mallocs during the run are the
// server's: go_server_allocs/call (warm-up calls included in the divisor).
func BenchmarkRoundTrip_OmniORBToGo(b *testing.B) {
	peers.Dir(b)
	_, ref, _ := testServer(b, nil, nil)
	iorText := ref.String()
	for _, size := range benchSizes {
		for _, conc := range benchConcs {
			b.Run(benchName(size, conc), func(b *testing.B) {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before := ms.Mallocs
				r := runOmniClient(b, iorText, b.N, size, conc)
				runtime.ReadMemStats(&ms)
				reportOmni(b, r)
				b.ReportMetric(float64(ms.Mallocs-before)/float64(b.N+warmupCalls), "go_server_allocs/call")
			})
		}
	}
}

// BenchmarkRoundTrip_OmniORBToOmniORB is the baseline: omniORB's
// echo_client in bench mode against omniORB's echo_server.
func BenchmarkRoundTrip_OmniORBToOmniORB(b *testing.B) {
	iorText := startOmniEchoServer(b).String()
	for _, size := range benchSizes {
		for _, conc := range benchConcs {
			b.Run(benchName(size, conc), func(b *testing.B) {
				reportOmni(b, runOmniClient(b, iorText, b.N, size, conc))
			})
		}
	}
}

// BenchmarkRoundTrip_Ratio measures, in one run and one after the other
// (never at the same time: the machine has few cores), the omniORB↔omniORB
// baseline with a fixed call count and then the Go↔Go loop for b.N, and
// reports go_ns/call, omniorb_ns/call and ratio_go/omniorb. The goal
// is a ratio of at most 1.5; it is reported, not asserted.
//
// With conc=16 the omniORB client gets 16 connections (one per thread, see
// runOmniClient); the Go client multiplexes its 16 callers on one.
func BenchmarkRoundTrip_Ratio(b *testing.B) {
	omniIOR := startOmniEchoServer(b).String()
	_, goRef, _ := testServer(b, nil, nil)
	cases := []struct{ size, conc, baselineCalls int }{
		{0, 1, 20000},
		{16384, 1, 5000},
		{0, 16, 20000},
		{16384, 16, 5000},
	}
	for _, tc := range cases {
		var baseline omniBench // from this sub-benchmark's last run
		b.Run(benchName(tc.size, tc.conc), func(b *testing.B) {
			// The b.N=1 probe run only sizes the loop; do not pay for
			// the baseline twice there.
			if b.N > 1 || baseline.calls == 0 {
				baseline = runOmniClient(b, omniIOR, tc.baselineCalls, tc.size, tc.conc)
			}
			b.ReportAllocs()
			r := runGoCalls(b, benchClient(b), goRef, tc.size, tc.conc)
			goNs := r.nsPerCall()
			b.ReportMetric(goNs, "go_ns/call")
			b.ReportMetric(baseline.nsPerCall, "omniorb_ns/call")
			b.ReportMetric(goNs/baseline.nsPerCall, "ratio_go/omniorb")
			b.ReportMetric(float64(percentile(r.lat, 0.50).Nanoseconds()), "go_p50_ns")
			b.ReportMetric(baseline.p50Ns, "omniorb_p50_ns")
			b.ReportMetric(float64(percentile(r.lat, 0.99).Nanoseconds()), "go_p99_ns")
			b.ReportMetric(baseline.p99Ns, "omniorb_p99_ns")
		})
	}
}
