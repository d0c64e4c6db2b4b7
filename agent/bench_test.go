package agent_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// BenchmarkAgent compares, in one run and against the same omniORB echo
// target (testdata/interop), a direct call with the same call through the
// agent: WaitReply (the reply comes back mature within the wait) and a
// 2PI (premature return, then a pull on the poller), with the store
// durable (fsync per group commit) and not. It reports calls/s, p50/p99,
// allocations per call and the ratio to direct; nothing is asserted.
func BenchmarkAgent(b *testing.B) {
	port := peers.FreePort(b)
	srv := peers.Start(b, "echo_server", peers.Endpoint(port)...)
	target, err := giop.ParseIOR(srv.Line(b, 20*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	for _, conc := range []int{1, 16} {
		var direct float64
		b.Run(fmt.Sprintf("direct/conc=%d", conc), func(b *testing.B) {
			c := giop.NewClient(nil)
			defer c.Close()
			direct = runCalls(b, conc, func(ctx context.Context) error {
				_, err := c.Invoke(ctx, target, &giop.Invocation{Operation: "echoString", Args: stringArg("x")})
				return err
			})
		})
		for _, durable := range []bool{false, true} {
			for _, model := range []string{"waitreply", "2pi"} {
				name := fmt.Sprintf("%s/durable=%v/conc=%d", model, durable, conc)
				b.Run(name, func(b *testing.B) {
					rate := benchThroughAgent(b, target, durable, model, conc)
					if direct > 0 {
						b.ReportMetric(rate/direct, "ratio_to_direct")
					}
				})
			}
		}
	}
}

func benchThroughAgent(b *testing.B, target *giop.IOR, durable bool, model string, conc int) float64 {
	cfg := agent.Config{Listen: "127.0.0.1:0", Store: storage.Config{Dir: b.TempDir(), Durable: durable}}
	c := giop.NewClient(nil)
	defer c.Close()
	return benchThroughAgentWith(b, cfg, c, target, model, conc)
}

// benchThroughAgentWith is benchThroughAgent with an agent of cfg and the
// client c (bench_tls_test.go gives both TLS).
func benchThroughAgentWith(b *testing.B, cfg agent.Config, c *giop.Client, target *giop.IOR, model string, conc int) float64 {
	a, err := agent.Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	_, rcv := proxyAndReceiver(b, c, a.IOR(), target, nil, boolProp(nmproto.PropWaitReply, true))
	var send giop.ServiceContextList
	if model == "waitreply" {
		send = reqInfoCtx("", "", 10000, false)
	} else {
		send = reqInfoCtx("", "", 0, false)
	}
	pull := waitCtx(nmproto.WaitForever)
	return runCalls(b, conc, func(ctx context.Context) error {
		resp, err := c.Invoke(ctx, rcv, &giop.Invocation{Operation: "echoString", Args: stringArg("x"), Contexts: send, RawReply: true})
		if err != nil {
			return err
		}
		if model == "waitreply" {
			if resp.Header.Status != giop.ReplyNoException {
				return fmt.Errorf("WaitReply call did not come back mature: %v", resp.Header.Status)
			}
			return nil
		}
		nm, ok, err := nmproto.Find(resp.Header.ServiceContexts)
		if err != nil || !ok || nm.Kind != nmproto.KindThePoller {
			return fmt.Errorf("no poller: %v", err)
		}
		resp, err = c.Invoke(ctx, nm.ThePoller, &giop.Invocation{Operation: "echoString", Args: stringArg("x"), Contexts: pull})
		if err != nil {
			return err
		}
		if got := resp.Result.String(); got != "x" {
			return fmt.Errorf("pulled %q", got)
		}
		return nil
	})
}

// runCalls runs b.N calls over conc goroutines and reports calls/s and
// latency percentiles; it returns calls/s.
func runCalls(b *testing.B, conc int, call func(context.Context) error) float64 {
	b.ReportAllocs()
	ctx := context.Background()
	for range 50 { // warm connections and caches
		if err := call(ctx); err != nil {
			b.Fatal(err)
		}
	}
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var next sync.Mutex
	i := 0
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				n := i
				i++
				next.Unlock()
				if n >= b.N {
					return
				}
				t0 := time.Now()
				if err := call(ctx); err != nil {
					b.Error(err)
					return
				}
				lat[n] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(x, y int) bool { return lat[x] < lat[y] })
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "calls/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50_µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99_µs")
	return rate
}
