// Package benchsuite is the comparison `make bench` runs: the same
// workload — Demo::Echo echoBlob from testdata/interop's omniORB
// echo_server, on 127.0.0.1 — through
//
//	(a) an omniORB C++ client calling the target directly (echo_client
//	    --bench): the ceiling;
//	(b) omniORB's own AMI (ami_client: sendp_echoBlob, then a poll on the
//	    returned Poller): the standard CORBA asynchronous way, not durable;
//	(c) the request agent, in this process, with the store durable and
//	    not, driven by omniORB C++ clients (nm_bench_client) and by Go
//	    clients (loadgen.Run), in the WaitReply and 2PI models, and both
//	    timing only a durable 2PI's send (its acknowledgement); a
//	    durable C++ 2PI in suppressed mode; and the C++ WaitReply and
//	    durable 2PI again with the client on IIOP over mutual TLS
//	    (nm_bench_client_tls, omniORB's SSL transport);
//	(r) plain Badger: conc writers each writing a record and waiting until
//	    it is durable, coalesced into one transaction per batch — the raw
//	    batched write rate the durable acknowledgements are held against;
//
// at several concurrencies and payloads. Run measures (it needs omniORB
// and the peers of testdata/interop and testdata/bench); Markdown, Update
// and SVG report. Numbers are reported, never asserted.
package benchsuite

import (
	"fmt"
	"time"
)

// Paths a call can take.
const (
	PathDirect = "direct" // (a) omniORB client → omniORB target
	PathAMI    = "ami"    // (b) omniORB AMI client → omniORB target
	PathAgent  = "agent"  // (c) client → agent → omniORB target
	PathRaw    = "raw"    // (r) batched durable Badger writes, no agent
)

// Clients.
const (
	ClientCxx = "C++" // an omniORB C++ client process
	ClientGo  = "Go"  // loadgen.Run in this process
)

// Models of call.
const (
	ModelSync      = "twoway"     // (a): a synchronous call
	ModelAMIPoll   = "sendp+poll" // (b): sendp_, then the poller
	ModelWaitReply = "waitreply"  // (c): one call, mature within the wait
	Model2PI       = "2pi"        // (c): premature return, then a pull
	// Model2PISuppressed is Model2PI with the premature return suppressed,
	// VisiBroker's default (docs/native-messaging.md): a normal reply with
	// zero values rather than NO_RESPONSE. C++ only: there it spares the two
	// C++ exceptions omniORB throws per unsuppressed premature return,
	// which are most of the C++ client's own CPU (docs/cpp-client.md).
	Model2PISuppressed = "2pi suppressed"
	ModelSend          = "send"   // (c): a 2PI's send, timed to its premature return
	ModelRecord        = "record" // (r): one record written and waited for
)

// rawRecordOverhead is added to the payload for (r)'s record: about what
// an accepted request stores besides its arguments (a 160-byte record, the
// body's headers), so that 64-byte payloads compare with the anchors'
// 256-byte records.
const rawRecordOverhead = 192

// Row is one measured cell: a path, client and model at one concurrency
// and payload.
type Row struct {
	Path, Client, Model string
	Durable             bool // (c) only
	// TLS: (c) with the client on IIOP over mutual TLS (TLS 1.3, a client
	// certificate required), the agent serving TLS only; the target stays
	// in clear, so the row differs from its clear-text twin only there.
	TLS        bool
	Conc, Size int
	// Calls and PerSec are over both halves of the row's measurement: all
	// calls ÷ the two halves' wall time. P50, P90 and P99 are the mean of
	// the halves' percentiles.
	Calls         int
	PerSec        float64
	P50, P90, P99 time.Duration
	// Drift is the first half's calls/s less the second's, over PerSec:
	// the halves are measured in opposite orders (Run), so it shows how
	// much the machine moved during the row's group, and how far to trust
	// the row's last digits.
	Drift float64
	// CPU time per call of the three processes, over the client's whole
	// run (its start and warm-up calls included): the agent's (this test
	// process; with a Go client, the client's too), the omniORB target's,
	// and the C++ client's. Zero where there is no such process. CPU per
	// call is steadier from run to run than calls/s on a shared VM.
	AgentCPU, TargetCPU, ClientCPU time.Duration
	Err                            string // not empty: the row failed, no numbers
}

// Key names the row's series (everything but concurrency and payload).
func (r Row) Key() string {
	switch r.Path {
	case PathDirect:
		return "(a) omniORB direct"
	case PathAMI:
		return "(b) omniORB AMI"
	case PathRaw:
		return "(r) raw batched Badger, a record per caller"
	}
	d := "not durable"
	if r.Durable {
		d = "durable"
	}
	if r.TLS {
		d += ", TLS"
	}
	return fmt.Sprintf("(c) agent, %s %s, %s", r.Client, r.Model, d)
}

// clearTwin returns the row r is over TLS, and whether rows hold it.
func clearTwin(rows []Row, r Row) (Row, bool) {
	for _, c := range rows {
		if c.Path == r.Path && c.Client == r.Client && c.Model == r.Model && c.Durable == r.Durable && !c.TLS &&
			c.Conc == r.Conc && c.Size == r.Size && c.Err == "" && c.PerSec > 0 {
			return c, true
		}
	}
	return Row{}, false
}

// ratio returns r's throughput over that of the rows of path at the same
// concurrency and payload (their mean, should there be several), or 0
// when there is none (or r failed).
func ratio(rows []Row, r Row, path string) float64 {
	if r.Err != "" {
		return 0
	}
	sum, n := 0.0, 0
	for _, b := range rows {
		if b.Path == path && b.Conc == r.Conc && b.Size == r.Size && b.Err == "" && b.PerSec > 0 {
			sum += b.PerSec
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return r.PerSec / (sum / float64(n))
}
