// Package clusterbench is `make bench`'s cluster rows (docs/cluster.md's
// measured part): in one run, on one machine,
//
//   - durable acknowledgements per second at 64 Go clients, 64 B
//     payloads — the workload of `requestagent bench --model send`
//     (tools/loadgen) — against a requestagent process on single-node
//     Badger, one agent process in cluster mode on a 3-member etcd of
//     real processes (internal/etcdtest.Procs: loopback, fsync on), and
//     three agents on the same (one owner, two standbys: cluster mode
//     has one owner at a time, docs/cluster.md), with the CPU time per
//     acknowledgement of the agent processes and of etcd's;
//   - the failover time — an owner SIGKILLed to the first durable
//     acknowledgement through the same client reference, which carries
//     every agent's address — over a number of kills, at the default
//     lease (cluster.DefaultTTL) and at the shortest one (2 s).
//
// Measure does it; Markdown and Summary render it; Update writes it into
// its marked sections. Numbers are reported, never asserted.
package clusterbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/tools/loadgen"
)

// Store setups a throughput row is measured on.
const (
	SetupBadger  = "single-node Badger"
	SetupEtcd1   = "cluster, 1 agent"
	SetupEtcd3   = "cluster, 3 agents (1 owner + 2 standbys)"
	benchClients = 64
	benchSize    = 64
)

// Config is what Measure measures and for how long.
type Config struct {
	// Cell is the measured time of each throughput row, in two halves
	// (the rows one after the other, then again in reverse order, as
	// tools/benchsuite does, so that a shared machine's drift weighs alike
	// on every row). Default 4s.
	Cell time.Duration
	// Kills is the number of owner kills per lease. Default 20.
	Kills int
	// Leases are the ownership leases the failover is measured at.
	// Default cluster.DefaultTTL and 2s.
	Leases []time.Duration
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

func (c *Config) defaults() {
	if c.Cell <= 0 {
		c.Cell = 4 * time.Second
	}
	if c.Kills <= 0 {
		c.Kills = 20
	}
	if len(c.Leases) == 0 {
		c.Leases = []time.Duration{cluster.DefaultTTL, 2 * time.Second}
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

// Row is one throughput row: durable acknowledgements on one setup.
type Row struct {
	Setup  string
	Agents int // agent processes running (0: none in cluster mode)
	// Calls acknowledged and Errors over both halves; PerSec is Calls over
	// the halves' wall time; P50 and P99 are the mean of the halves'.
	Calls, Errors int64
	PerSec        float64
	P50, P99      time.Duration
	// CPU time per acknowledgement over the timed calls: the agent that
	// serves (owner), the standbys together, and etcd's three members
	// together. The Go clients and the echo target run in the test
	// process and are not counted.
	AgentCPU, StandbyCPU, EtcdCPU time.Duration
	// Commits and Flushes per acknowledgement over the timed calls: the
	// serving agent's store batches and the transactions they took (its
	// requestagent_store_commits_total and _flushes_total): on etcd a
	// flush is one etcd transaction, replicated and fsynced by a quorum.
	Commits, Flushes float64
	Err              string // not empty: the row failed
}

// Failover is the failover time at one lease over Kills kills.
type Failover struct {
	Lease time.Duration
	// Times holds each kill's failover, in kill order.
	Times []time.Duration
	Err   string // not empty: the measurement stopped there
}

// Quantile returns the nearest-rank q-quantile of the failover times (of
// 20, p99 is the largest).
func (f Failover) Quantile(q float64) time.Duration {
	if len(f.Times) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), f.Times...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(len(s)-1, i))]
}

// Result is a whole run.
type Result struct {
	Rows      []Row
	Failovers []Failover
}

// Measure runs the throughput rows, then the failovers, on one etcd
// cluster of three processes (killed when t ends). It builds the
// requestagent binary (peers.AgentBinary) and runs every agent as a
// process of its own, the single-node one too, so that each row's agent
// CPU is one process's.
func Measure(t testing.TB, cfg Config) Result {
	t.Helper()
	cfg.defaults()
	bin := peers.AgentBinary(t)
	etcd := etcdtest.StartProcs(t)
	b := &bench{t: t, cfg: cfg, bin: bin, etcd: etcd}
	var res Result
	setups := []string{SetupBadger, SetupEtcd1, SetupEtcd3}
	halves := make([][2]half, len(setups))
	for i, s := range setups {
		halves[i][0] = b.half(s, 0)
	}
	for i := len(setups) - 1; i >= 0; i-- {
		halves[i][1] = b.half(setups[i], 1)
	}
	for i, s := range setups {
		res.Rows = append(res.Rows, combine(s, halves[i]))
	}
	for _, lease := range cfg.Leases {
		res.Failovers = append(res.Failovers, b.failover(lease))
	}
	return res
}

type bench struct {
	t    testing.TB
	cfg  Config
	bin  string
	etcd *etcdtest.Procs
	seq  int // makes each row's etcd key prefix its own
}

// half is one half of a throughput row.
type half struct {
	res                           loadgen.Result
	agents                        int
	agentCPU, standbyCPU, etcdCPU time.Duration
	commits, flushes              float64
	err                           error
}

func combine(setup string, h [2]half) Row {
	r := Row{Setup: setup, Agents: h[0].agents}
	for _, x := range h {
		if x.err != nil {
			r.Err = x.err.Error()
			return r
		}
	}
	a, b := h[0].res, h[1].res
	r.Calls, r.Errors = a.Calls+b.Calls, a.Errors+b.Errors
	if el := a.Elapsed + b.Elapsed; el > 0 {
		r.PerSec = float64(r.Calls) / el.Seconds()
	}
	r.P50, r.P99 = (a.P50+b.P50)/2, (a.P99+b.P99)/2
	if r.Calls > 0 {
		n := time.Duration(r.Calls)
		r.AgentCPU = (h[0].agentCPU + h[1].agentCPU) / n
		r.StandbyCPU = (h[0].standbyCPU + h[1].standbyCPU) / n
		r.EtcdCPU = (h[0].etcdCPU + h[1].etcdCPU) / n
		r.Commits = (h[0].commits + h[1].commits) / float64(r.Calls)
		r.Flushes = (h[0].flushes + h[1].flushes) / float64(r.Calls)
	}
	return r
}

// half measures one half of setup's row on fresh agent processes: a
// warm-up run, then Cell/2 of durable sends from 64 clients.
func (b *bench) half(setup string, which int) (h half) {
	b.seq++
	prefix := fmt.Sprintf("bench%d/", b.seq)
	var procs []*agentProc
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()
	var ref string
	switch setup {
	case SetupBadger:
		p, err := b.start(nil, 0, "", 0)
		if err != nil {
			h.err = err
			return h
		}
		procs = append(procs, p)
		ref = p.corbaloc()
	default:
		n := 1
		if setup == SetupEtcd3 {
			n = 3
		}
		ports := make([]int, n)
		for i := range ports {
			ports[i] = peers.FreePort(b.t)
		}
		hosts := hostList(ports)
		for i := range ports {
			p, err := b.start(ports, i, prefix, cluster.DefaultTTL)
			if err != nil {
				h.err = err
				return h
			}
			procs = append(procs, p)
			if i == 0 {
				if err := p.waitReady(); err != nil {
					h.err = err
					return h
				}
			} else if err := p.waitStandby(); err != nil {
				h.err = err
				return h
			}
		}
		ior, _, err := agent.Reference(fmt.Sprintf("127.0.0.1:%d", ports[0]), hosts)
		if err != nil {
			h.err = err
			return h
		}
		ref = ior
	}
	h.agents = len(procs)
	if setup == SetupBadger {
		h.agents = 1
	}
	ctx := context.Background()
	// The warm-up: connections, etcd's first transactions, the Go runtime.
	if _, err := loadgen.Run(ctx, loadgen.Config{Agent: ref, Model: loadgen.ModelSend, Clients: benchClients,
		Count: 20 * benchClients, Size: benchSize}, discard{}); err != nil {
		h.err = fmt.Errorf("warm-up: %w", err)
		return h
	}
	var a0, s0, e0 time.Duration
	var c0, f0 float64
	var merr error
	cpu := func() (owner, standbys, etcd time.Duration) {
		owner = peers.ProcCPU(procs[0].cmd.Process.Pid)
		for _, p := range procs[1:] {
			standbys += peers.ProcCPU(p.cmd.Process.Pid)
		}
		for i := range 3 {
			if pid := b.etcd.Pid(i); pid != 0 {
				etcd += peers.ProcCPU(pid)
			}
		}
		return
	}
	res, err := loadgen.Run(ctx, loadgen.Config{Agent: ref, Model: loadgen.ModelSend, Clients: benchClients,
		Duration: b.cfg.Cell / 2, Size: benchSize, Timing: func(begin bool) {
			a, s, e := cpu()
			c, f, err := procs[0].storeCounts()
			if err != nil {
				merr = err
			}
			if begin {
				a0, s0, e0, c0, f0 = a, s, e, c, f
				return
			}
			h.agentCPU, h.standbyCPU, h.etcdCPU = a-a0, s-s0, e-e0
			h.commits, h.flushes = c-c0, f-f0
		}}, discard{})
	if err == nil {
		err = merr
	}
	if err != nil {
		h.err = err
		return h
	}
	if res.PullErrors > 0 {
		h.err = fmt.Errorf("%d of the acknowledged requests' pulls failed", res.PullErrors)
		return h
	}
	h.res = res
	b.cfg.Logf("%s, half %d: %v", setup, which+1, strings.ReplaceAll(res.String(), "\n", "; "))
	return h
}

// failover measures Kills failovers at lease among three agents: the
// owner SIGKILLed, then durable sends through one receiver reference
// (made through the agent reference that carries the three addresses)
// until one is acknowledged, which is the failover time; the killed agent
// is started again as a standby before the next kill, so that two
// standbys wait at every kill, and the next kill comes at a random point
// of the new owner's keep-alive period.
func (b *bench) failover(lease time.Duration) (f Failover) {
	f.Lease = lease
	b.seq++
	prefix := fmt.Sprintf("failover%d/", b.seq)
	ports := []int{peers.FreePort(b.t), peers.FreePort(b.t), peers.FreePort(b.t)}
	procs := make([]*agentProc, 3)
	defer func() {
		for _, p := range procs {
			if p != nil {
				p.kill()
			}
		}
	}()
	fail := func(err error) Failover { f.Err = err.Error(); return f }
	for i := range procs {
		p, err := b.start(ports, i, prefix, lease)
		if err != nil {
			return fail(err)
		}
		procs[i] = p
		if i == 0 {
			err = p.waitReady()
		} else {
			err = p.waitStandby()
		}
		if err != nil {
			return fail(err)
		}
	}
	target, stop, err := serveEcho()
	if err != nil {
		return fail(err)
	}
	defer stop()
	ior, _, err := agent.Reference(fmt.Sprintf("127.0.0.1:%d", ports[0]), hostList(ports))
	if err != nil {
		return fail(err)
	}
	agentRef, err := giop.ParseIOR(ior)
	if err != nil {
		return fail(err)
	}
	client := giop.NewClient(nil)
	defer client.Close()
	rcv, err := receiver(client, agentRef, target)
	if err != nil {
		return fail(err)
	}
	owner := 0
	for k := range b.cfg.Kills {
		if err := sendOnce(client, rcv); err != nil {
			return fail(fmt.Errorf("kill %d: the owner does not acknowledge before its kill: %w", k+1, err))
		}
		// The kill lands at a random point of the owner's keep-alive
		// period (etcd's client renews a lease every third of its TTL, and
		// the owner's lease is kept alive from its start: cluster/owner.go):
		// without it every kill would come a fixed delay after the last
		// takeover, and the lease left to run at the kill would be the same
		// each time rather than what a crash meets.
		time.Sleep(rand.N(lease / 3))
		killed := time.Now()
		procs[owner].kill()
		deadline := killed.Add(lease + time.Minute)
		for {
			if err := sendOnce(client, rcv); err == nil {
				break
			} else if time.Now().After(deadline) {
				return fail(fmt.Errorf("kill %d: no acknowledgement a minute past the lease: %w", k+1, err))
			}
			// Each attempt fails at once (refused: a standby listens only
			// once it owns): a short pause keeps the probe cheap and the
			// measurement's own error under 5 ms.
			time.Sleep(5 * time.Millisecond)
		}
		f.Times = append(f.Times, time.Since(killed))
		b.cfg.Logf("lease %v, kill %d: %v", lease, k+1, f.Times[k].Round(time.Millisecond))
		next := -1
		for i, p := range procs {
			if i != owner && p.ready() {
				next = i
			}
		}
		if next < 0 {
			return fail(fmt.Errorf("kill %d: acknowledged, but no agent says it is ready", k+1))
		}
		p, err := b.start(ports, owner, prefix, lease)
		if err != nil {
			return fail(err)
		}
		procs[owner] = p
		if err := p.waitStandby(); err != nil {
			return fail(err)
		}
		owner = next
	}
	return f
}

// hostList is every agent's address, for --host and the references.
func hostList(ports []int) string {
	hs := make([]string, len(ports))
	for i, p := range ports {
		hs[i] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return strings.Join(hs, ",")
}

// agentProc is a requestagent process.
type agentProc struct {
	cmd       *exec.Cmd
	port      int
	adminAddr string
	stderr    *syncbuf.Buffer
	done      chan struct{}
}

// start starts an agent: on Badger in a data directory of its own when
// ports is nil, else agent i of ports in cluster mode under prefix with
// lease, publishing every port's address.
func (b *bench) start(ports []int, i int, prefix string, lease time.Duration) (*agentProc, error) {
	port := peers.FreePort(b.t)
	if ports != nil {
		port = ports[i]
	}
	p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(b.t)),
		stderr: &syncbuf.Buffer{Keep: 1 << 16}, done: make(chan struct{})}
	// A send waits for queue room rather than being refused IMP_LIMIT at
	// once (the default): 64 clients outrun the delegations to the one
	// target, and tools/benchsuite's agents wait alike (its
	// benchBlockingTimeout), so that the rows count acknowledgements, not
	// refusals retried in a spin.
	args := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin", p.adminAddr,
		"--data-dir", b.t.TempDir(), "--blocking-timeout", "30s"}
	if ports == nil {
		args = append(args, "--host", "127.0.0.1")
	} else {
		args = append(args, "--host", hostList(ports), "--cluster", strings.Join(b.etcd.Endpoints(), ","),
			"--cluster-prefix", prefix, "--cluster-name", fmt.Sprint("agent-", port),
			"--cluster-lease", lease.String())
	}
	p.cmd = exec.Command(b.bin, args...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	if ports == nil {
		return p, p.waitReady()
	}
	return p, nil
}

// kill SIGKILLs p and waits until it has ended (its port is free again).
func (p *agentProc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *agentProc) corbaloc() string {
	return fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", p.port)
}

// ready reports whether p's admin listener says ready: it serves.
func (p *agentProc) ready() bool {
	resp, err := http.Get("http://" + p.adminAddr + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// storeCounts reads p's store counters from its /metrics: batches
// committed and the transactions (flushes) they took.
func (p *agentProc) storeCounts() (commits, flushes float64, err error) {
	resp, err := http.Get("http://" + p.adminAddr + "/metrics")
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, l := range strings.Split(string(body), "\n") {
		name, v, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		var dst *float64
		switch name {
		case "requestagent_store_commits_total":
			dst = &commits
		case "requestagent_store_flushes_total":
			dst = &flushes
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return 0, 0, fmt.Errorf("%s: %q: %w", name, v, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("agent on %d: its /metrics lacks the store's commits and flushes", p.port)
	}
	return commits, flushes, nil
}

// waitReady waits until p serves.
func (p *agentProc) waitReady() error {
	return p.wait("ready", p.ready)
}

// waitStandby waits until p says it waits as a standby.
func (p *agentProc) waitStandby() error {
	return p.wait("a standby", func() bool { return strings.Contains(p.stderr.String(), "standby") })
}

func (p *agentProc) wait(what string, ok func() bool) error {
	for deadline := time.Now().Add(60 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		select {
		case <-p.done:
			return fmt.Errorf("agent on %d ended before it was %s:\n%s", p.port, what, p.stderr)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("agent on %d not %s within 60 s:\n%s", p.port, what, p.stderr)
		}
	}
	return nil
}

// echo is Demo::Echo's echoString (testdata/interop/demo.idl), the
// failover probe's target.
type echo struct{}

func (echo) RepositoryID() string { return "IDL:Demo/Echo:1.0" }
func (echo) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	s := r.Args.String()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	r.Results().WriteString(s)
	return nil
}

func serveEcho() (*giop.IOR, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Echo"), echo{})
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	return giop.NewIOR("IDL:Demo/Echo:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Echo"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}}), func() { srv.Close() }, nil
}

// receiver makes a request proxy for target and returns its receiver.
func receiver(c *giop.Client, agentRef, target *giop.IOR) (*giop.IOR, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, agentRef, &giop.Invocation{Operation: "create_request_proxy", RawReply: true,
		Args: func(e *giop.Encoder) {
			e.WriteIOR(target)
			e.WriteString("")
			e.WriteIOR(nil)
			e.WriteULong(0)
		}})
	if err != nil {
		return nil, err
	}
	if resp.Header.Status != giop.ReplyNoException {
		return nil, fmt.Errorf("create_request_proxy: %v", resp.Header.Status)
	}
	proxy := resp.Result.IOR()
	if resp, err = c.Invoke(ctx, proxy, &giop.Invocation{Operation: "_get_the_receiver", RawReply: true}); err != nil {
		return nil, err
	}
	if resp.Header.Status != giop.ReplyNoException {
		return nil, fmt.Errorf("_get_the_receiver: %v", resp.Header.Status)
	}
	return resp.Result.IOR(), nil
}

// sendOnce sends one 2PI through rcv and returns nil once it is
// acknowledged: its premature return, which the agent gives once the
// request is durable in its store.
func sendOnce(c *giop.Client, rcv *giop.IOR) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	send := nmproto.Context{Kind: nmproto.KindReqInfo}
	resp, err := c.Invoke(ctx, rcv, &giop.Invocation{Operation: "echoString", RawReply: true,
		Args:     func(e *giop.Encoder) { e.WriteString("x") },
		Contexts: giop.ServiceContextList{send.Encode()}})
	if err != nil {
		return err
	}
	if c, ok, _ := nmproto.Find(resp.Header.ServiceContexts); !ok || c.Kind != nmproto.KindThePoller {
		return errors.New("no premature return")
	}
	return nil
}

// discard is loadgen's progress writer here: the rows are logged whole.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// loadAverage is /proc/loadavg's three figures, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}
