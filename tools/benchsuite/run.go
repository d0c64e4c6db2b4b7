package benchsuite

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/testcert"
	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/tools/loadgen"
	"github.com/requestagent/requestagent/tools/rawbadger"
)

// Config is what Run measures and for how long.
type Config struct {
	// Concurrency lists the numbers of concurrent callers. Default 1, 16, 64.
	Concurrency []int
	// Sizes lists the payloads in bytes. Default 64 and 16384.
	Sizes []int
	// Calls, when positive, is the fixed number of calls of every row
	// (half in each half of its measurement). Otherwise a pilot run sizes
	// each half to about Cell/2 of calls, within [MinCalls, MaxCalls].
	Calls int
	// Cell is the measured time aimed at per row, both halves. Default 1.5s.
	Cell time.Duration
	// MinCalls and MaxCalls bound a half's calls. Defaults 500 and 200000.
	MinCalls, MaxCalls int
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	if len(c.Concurrency) == 0 {
		c.Concurrency = []int{1, 16, 64}
	}
	if len(c.Sizes) == 0 {
		c.Sizes = []int{64, 16384}
	}
	if c.Cell <= 0 {
		c.Cell = 1500 * time.Millisecond
	}
	if c.MinCalls <= 0 {
		c.MinCalls = 500
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 200000
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// clientTimeout bounds one client run (a pilot or a measured row).
const clientTimeout = 5 * time.Minute

// benchBlockingTimeout is the agents' BlockingTimeout (VisiBroker's
// blockingTimeout): how long a send waits for queue room.
const benchBlockingTimeout = 30 * time.Second

// Run measures every row: for each payload and concurrency, (a), (b),
// the eight (c) rows (durable off and on × C++ and Go × waitreply and
// 2pi), durable sends from C++ and Go, a durable suppressed C++ 2pi, the
// C++ WaitReply and durable 2pi over TLS, and (r). Each row is measured in two halves:
// the group's rows one after the other, then again in reverse order, so
// that a machine whose speed drifts during the run (a shared VM's does,
// by a third at times) weighs alike on every row rather than on the last
// ones, and Row.Drift shows by how much. It starts the omniORB echo_server
// (killed when t ends) and a fresh in-process agent with its own store
// under t.TempDir() for each half of each (c) row. A row that fails is
// returned with Err set.
func Run(t testing.TB, cfg Config) []Row {
	t.Helper()
	cfg.defaults()
	interop, bench := peers.Dir(t), peers.BenchDir(t)
	srv := peers.StartIn(t, interop, "echo_server", peers.Endpoint(peers.FreePort(t))...)
	target := srv.Line(t, 20*time.Second)
	if !strings.HasPrefix(target, "IOR:") {
		t.Fatalf("echo_server printed %q, want its IOR", target)
	}
	r := &runner{t: t, cfg: cfg, interop: interop, bench: bench, target: target, srv: srv, dataDir: t.TempDir()}
	r.ca = testcert.NewCA(t, "bench-ca")
	r.agentLeaf, r.clientLeaf = r.ca.Server(t, "requestagent"), r.ca.Client(t, "nm-bench-client")
	var rows []Row
	for _, size := range cfg.Sizes {
		for _, conc := range cfg.Concurrency {
			group := []Row{
				{Path: PathDirect, Client: ClientCxx, Model: ModelSync},
				{Path: PathAMI, Client: ClientCxx, Model: ModelAMIPoll},
			}
			for _, durable := range []bool{false, true} {
				for _, client := range []string{ClientCxx, ClientGo} {
					for _, model := range []string{ModelWaitReply, Model2PI} {
						group = append(group, Row{Path: PathAgent, Client: client, Model: model, Durable: durable})
					}
				}
			}
			group = append(group, Row{Path: PathAgent, Client: ClientCxx, Model: ModelSend, Durable: true},
				Row{Path: PathAgent, Client: ClientCxx, Model: Model2PISuppressed, Durable: true},
				Row{Path: PathAgent, Client: ClientGo, Model: ModelSend, Durable: true},
				Row{Path: PathAgent, Client: ClientCxx, Model: ModelWaitReply, TLS: true},
				Row{Path: PathAgent, Client: ClientCxx, Model: Model2PI, Durable: true, TLS: true},
				Row{Path: PathRaw, Client: ClientGo, Model: ModelRecord, Durable: true})
			first := make([]Row, len(group))
			for i := range group {
				group[i].Conc, group[i].Size = conc, size
				first[i] = r.half(group[i], (cfg.Calls+1)/2)
			}
			second := make([]Row, len(group))
			for i := len(group) - 1; i >= 0; i-- {
				second[i] = first[i]
				if first[i].Err == "" {
					second[i] = r.half(group[i], first[i].Calls) // as many calls: no pilot
				}
			}
			for i := range group {
				rows = append(rows, combine(first[i], second[i]))
			}
		}
	}
	return rows
}

// combine makes a row of its two halves: calls and CPU added up, the
// percentiles averaged, and how far their rates differ.
func combine(a, b Row) Row {
	if a.Err != "" {
		return a
	}
	if b.Err != "" {
		return b
	}
	row := a
	row.Calls = a.Calls + b.Calls
	wall := float64(a.Calls)/a.PerSec + float64(b.Calls)/b.PerSec
	row.PerSec = float64(row.Calls) / wall
	row.Drift = (a.PerSec - b.PerSec) / row.PerSec
	row.P50, row.P90, row.P99 = (a.P50+b.P50)/2, (a.P90+b.P90)/2, (a.P99+b.P99)/2
	perCall := func(x, y time.Duration) time.Duration {
		return (x*time.Duration(a.Calls) + y*time.Duration(b.Calls)) / time.Duration(row.Calls)
	}
	row.AgentCPU, row.TargetCPU, row.ClientCPU = perCall(a.AgentCPU, b.AgentCPU), perCall(a.TargetCPU, b.TargetCPU),
		perCall(a.ClientCPU, b.ClientCPU)
	return row
}

type runner struct {
	t                      testing.TB
	cfg                    Config
	interop, bench, target string
	srv                    *peers.Process // the omniORB echo_server target
	dataDir                string         // the agents' stores, one directory per row
	// The TLS rows' certificates: the agent's, and the C++ client's.
	ca                    *testcert.CA
	agentLeaf, clientLeaf *testcert.Leaf
}

// measurement is one run of a client.
type measurement struct {
	calls         int
	perSec        float64
	p50, p90, p99 time.Duration
	clientCPU     time.Duration // the C++ client's over its timed calls (its BENCH line's cpu_ns); 0 for Go
}

// half measures one half of a row: calls calls, or as many as a pilot run
// says fill Cell/2 when calls is 0.
func (r *runner) half(row Row, calls int) Row {
	var agentRef string
	if row.Path == PathAgent {
		dir, err := os.MkdirTemp(r.dataDir, "agent")
		if err != nil {
			r.t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		// A client that sends faster than the target answers (the send
		// rows: thousands of requests, no pull until the end) fills the
		// queue a target may hold (agent.DefaultMaxQueuePerTarget); with a
		// blocking timeout its sends wait for room, as a production
		// client's would be told to, rather than fail with QUEUE_FULL.
		cfg := agent.Config{Listen: "127.0.0.1:0", Store: storage.Config{Dir: dir, Durable: row.Durable},
			BlockingTimeout: benchBlockingTimeout}
		if row.Model == Model2PISuppressed {
			// Suppressed premature returns are built from the target's IDL.
			repo := idl.NewRepository()
			if err := repo.LoadFile(filepath.Join(peers.RepoRoot(), "testdata", "interop", "demo.idl"), nil); err != nil {
				r.t.Fatal(err)
			}
			cfg.IDL = agent.RepositoryIDL(repo)
		}
		if row.TLS {
			cfg.TLS = agent.TLSConfig{Listen: "127.0.0.1:0", Only: true, CertFile: r.agentLeaf.CertFile,
				KeyFile: r.agentLeaf.KeyFile, CAFile: r.ca.File, ClientAuth: agent.ClientAuthRequire}
		}
		a, err := agent.Start(cfg)
		if err != nil {
			row.Err = fmt.Sprintf("agent.Start: %v", err)
			return row
		}
		defer a.Close()
		agentRef = a.IOR().String()
	}
	if calls <= 0 {
		pilot := max(200, 8*row.Conc)
		m, err := r.measure(row, agentRef, pilot)
		if err != nil {
			row.Err = "pilot: " + err.Error()
			r.cfg.Logf("%-42s conc=%-3d size=%-5d FAILED %s", row.Key(), row.Conc, row.Size, row.Err)
			return row
		}
		calls = int(m.perSec * r.cfg.Cell.Seconds() / 2)
		calls = min(max(calls, r.cfg.MinCalls), r.cfg.MaxCalls)
	}
	self0, target0 := selfCPU(), r.srv.CPU()
	m, err := r.measure(row, agentRef, calls)
	self, target := selfCPU()-self0, r.srv.CPU()-target0
	if err != nil {
		row.Err = err.Error()
		r.cfg.Logf("%-42s conc=%-3d size=%-5d FAILED %s", row.Key(), row.Conc, row.Size, row.Err)
		return row
	}
	row.Calls, row.PerSec, row.P50, row.P90, row.P99 = m.calls, m.perSec, m.p50, m.p90, m.p99
	n := time.Duration(max(m.calls, 1))
	row.TargetCPU, row.ClientCPU = target/n, m.clientCPU/n
	if row.Path == PathAgent || row.Path == PathRaw {
		row.AgentCPU = self / n
	}
	r.cfg.Logf("%-42s conc=%-3d size=%-5d %7d calls %9.0f calls/s  p50 %8.1f µs  p90 %8.1f µs  p99 %8.1f µs",
		row.Key(), row.Conc, row.Size, row.Calls, row.PerSec, us(row.P50), us(row.P90), us(row.P99))
	return row
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// measure runs the row's client for calls calls.
func (r *runner) measure(row Row, agentRef string, calls int) (measurement, error) {
	if row.Path == PathAgent && row.Client == ClientGo {
		return r.measureGo(row, agentRef, calls)
	}
	if row.Path == PathRaw {
		return r.measureRaw(row, calls)
	}
	// The same ORB options for every C++ client: a connection per thread
	// (omniORB runs one call per connection and opens at most 5 by
	// default), and no LocateRequest before the first call on a reference
	// (otherwise one per 2PI poller).
	args := []string{"-ORBmaxGIOPConnectionPerServer", strconv.Itoa(max(row.Conc, 1)),
		"-ORBverifyObjectExistsAndType", "0"}
	common := []string{"--bench", strconv.Itoa(calls), "--size", strconv.Itoa(row.Size),
		"--threads", strconv.Itoa(row.Conc)}
	var dir, prog string
	var env []string
	switch row.Path {
	case PathDirect:
		dir, prog = r.interop, "echo_client"
		args = append(append(args, common...), r.target)
	case PathAMI:
		dir, prog = r.bench, "ami_client"
		args = append(append(args, common...), r.target)
	case PathAgent:
		dir, prog = r.bench, "nm_bench_client"
		model := []string{"--model", row.Model}
		if row.Model == Model2PISuppressed {
			model = []string{"--model", Model2PI, "--suppress", "1"}
		}
		args = append(append(append(args, model...), common...), agentRef, r.target)
		if row.TLS {
			// The same client with omniORB's SSL transport, turned on from
			// the environment (testdata/tls/ssl_init.cc).
			prog = "nm_bench_client_tls"
			env = []string{"PEER_SSL_CA=" + r.ca.File, "PEER_SSL_KEY=" + r.clientLeaf.BothFile}
		}
	default:
		return measurement{}, fmt.Errorf("no C++ client for path %q", row.Path)
	}
	p := peers.StartInEnv(r.t, dir, prog, env, args...)
	lines, err := p.Wait(r.t, clientTimeout)
	for _, l := range lines {
		if strings.HasPrefix(l, "BENCH ") {
			m, err := parseBench(l)
			if m.clientCPU == 0 {
				// A client that does not say its timed CPU: the whole
				// process's, start-up and warm-up included.
				m.clientCPU = p.CPU()
			}
			return m, err
		}
	}
	if err == nil {
		err = fmt.Errorf("no BENCH line")
	}
	return measurement{}, fmt.Errorf("%s: %v: %s", prog, err, lastLine(p.Output()))
}

// measureGo runs loadgen.Run against the agent and the omniORB target.
func (r *runner) measureGo(row Row, agentRef string, calls int) (measurement, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	res, err := loadgen.Run(ctx, loadgen.Config{Agent: agentRef, Target: r.target, Model: row.Model,
		Clients: row.Conc, Count: calls, Size: row.Size}, io.Discard)
	if err != nil {
		return measurement{}, err
	}
	if res.Errors > 0 {
		return measurement{}, fmt.Errorf("loadgen: %d of %d calls failed", res.Errors, res.Errors+res.Calls)
	}
	return measurement{calls: int(res.Calls), perSec: res.PerSecond, p50: res.P50, p90: res.P90, p99: res.P99}, nil
}

// measureRaw runs rawbadger.ClientWriteRate in a fresh directory: row.Conc
// writers, calls records of the payload plus rawRecordOverhead bytes.
func (r *runner) measureRaw(row Row, calls int) (measurement, error) {
	dir, err := os.MkdirTemp(r.dataDir, "raw")
	if err != nil {
		return measurement{}, err
	}
	defer os.RemoveAll(dir)
	rate, err := rawbadger.ClientWriteRate(dir, row.Conc, calls, row.Size+rawRecordOverhead)
	if err != nil {
		return measurement{}, err
	}
	return measurement{calls: calls, perSec: rate}, nil
}

// parseBench reads a BENCH line of echo_client, ami_client or
// nm_bench_client: calls, ns_per_call, p50_ns, p90_ns, p99_ns.
func parseBench(line string) (measurement, error) {
	f := peers.Fields(line)
	num := func(k string) (int64, error) {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("BENCH line %q: %s: %v", line, k, err)
		}
		return v, nil
	}
	var m measurement
	vals := make(map[string]int64)
	for _, k := range []string{"calls", "ns_per_call", "p50_ns", "p90_ns", "p99_ns"} {
		v, err := num(k)
		if err != nil {
			return m, err
		}
		vals[k] = v
	}
	if vals["ns_per_call"] <= 0 {
		return m, fmt.Errorf("BENCH line %q: ns_per_call must be positive", line)
	}
	m.calls = int(vals["calls"])
	m.perSec = 1e9 / float64(vals["ns_per_call"])
	m.p50, m.p90, m.p99 = time.Duration(vals["p50_ns"]), time.Duration(vals["p90_ns"]), time.Duration(vals["p99_ns"])
	if _, ok := f["cpu_ns"]; ok {
		v, err := num("cpu_ns")
		if err != nil {
			return m, err
		}
		m.clientCPU = time.Duration(v)
	}
	return m, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// selfCPU is the user and system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
