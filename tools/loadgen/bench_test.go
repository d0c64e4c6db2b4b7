package loadgen_test

import (
	"context"
	"io"
	"testing"

	"github.com/requestagent/requestagent/tools/loadgen"
	"github.com/requestagent/requestagent/tools/rawbadger"
)

// BenchmarkDurable2PI_64Clients is the throughput figure: durable
// 2PIs (premature return after the request's group commit, then a pull of
// the reply) from 64 concurrent Go clients through an in-process agent,
// against two raw rates of batched durable Badger writes measured on the
// same disk in the same run: transactions of 64 records of 256 B (the
// ceiling), and 64 clients each writing one record and waiting for it
// through a plain coalescing loop (the baseline, the anchors' "~21k/s
// at 64 clients"). A 2PI writes its request and body and deletes both, so
// each ratio compares a whole invocation with one record. It runs b.N 2PIs (at least 2,000);
// nothing is asserted.
func BenchmarkDurable2PI_64Clients(b *testing.B) {
	raw, err := rawbadger.WriteRate(b.TempDir(), 64, 20000, 256)
	if err != nil {
		b.Fatal(err)
	}
	rawClients, err := rawbadger.ClientWriteRate(b.TempDir(), 64, 20000, 256)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	res, err := loadgen.Run(context.Background(), loadgen.Config{Model: loadgen.Model2PI, Clients: 64,
		Count: max(b.N, 2000), Size: 64, Durable: true, DataDir: b.TempDir()}, io.Discard)
	b.StopTimer()
	if err != nil || res.Errors != 0 {
		b.Fatalf("%v (%d errors)", err, res.Errors)
	}
	b.ReportMetric(res.PerSecond, "2pi/s")
	b.ReportMetric(raw, "raw_badger_writes/s")
	b.ReportMetric(res.PerSecond/raw, "ratio_to_raw")
	b.ReportMetric(rawClients, "raw_badger_64clients/s")
	b.ReportMetric(res.PerSecond/rawClients, "ratio_to_raw_64clients")
	b.ReportMetric(float64(res.P50.Microseconds()), "p50_µs")
}
