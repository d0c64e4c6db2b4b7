package agent_test

import (
	"crypto/tls"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/testcert"
	"github.com/requestagent/requestagent/storage"
)

// BenchmarkTLS sets calls through the agent with the client on TLS
// (mutual, TLS 1.3) beside the same calls in clear, against the same
// omniORB echo target: WaitReply in memory and the durable 2PI, at
// concurrency 16 and 64. It reports calls/s, the ratio of the TLS row to
// the plain one (the aim is 0.8 at least) and the process's
// CPU per call (client and agent, both in this process); nothing is
// asserted.
func BenchmarkTLS(b *testing.B) {
	port := peers.FreePort(b)
	srv := peers.Start(b, "echo_server", peers.Endpoint(port)...)
	target, err := giop.ParseIOR(srv.Line(b, 20*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	ca := testcert.NewCA(b, "ca")
	server, client := ca.Server(b, "agent"), ca.Client(b, "bench")
	for _, conc := range []int{16, 64} {
		for _, row := range []struct {
			model   string
			durable bool
		}{{"waitreply", false}, {"2pi", true}} {
			var plain float64
			for _, useTLS := range []bool{false, true} {
				name := fmt.Sprintf("%s/durable=%v/tls=%v/conc=%d", row.model, row.durable, useTLS, conc)
				b.Run(name, func(b *testing.B) {
					cfg := agent.Config{Listen: "127.0.0.1:0", Store: storage.Config{Dir: b.TempDir(), Durable: row.durable}}
					c := giop.NewClient(nil)
					defer c.Close()
					if useTLS {
						cfg.TLS = agent.TLSConfig{Listen: "127.0.0.1:0", Only: true, CertFile: server.CertFile,
							KeyFile: server.KeyFile, CAFile: ca.File, ClientAuth: agent.ClientAuthRequire}
						c.SetTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: []tls.Certificate{client.TLS}})
					}
					cpu0 := processCPU()
					rate := benchThroughAgentWith(b, cfg, c, target, row.model, conc)
					b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu_µs/call")
					if useTLS && plain > 0 {
						b.ReportMetric(rate/plain, "ratio_to_plain")
					} else {
						plain = rate
					}
				})
			}
		}
	}
}

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
