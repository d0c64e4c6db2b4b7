package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// These tests run the built requestagent binary, as an operator would.

func binary(t *testing.T) string { t.Helper(); return peers.AgentBinary(t) }

func run(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// TestUsage: -? prints usage, as VisiBroker operators type it.
func TestUsage(t *testing.T) {
	out, _, code := run(t, nil, "-?")
	if code != 0 || !strings.Contains(out, "USAGE:") || !strings.Contains(out, "--maxThreads") {
		t.Fatalf("-? exit %d:\n%s", code, out)
	}
}

// TestBench: requestagent bench (the load generator) runs an
// in-process agent, prints throughput and percentiles, and, durable, the
// disk's raw batched Badger rate with the run's share of it; exit 0.
func TestBench(t *testing.T) {
	out, errOut, code := run(t, nil, "bench", "--model", "2pi", "--clients", "4", "--count", "200", "--size", "64")
	if code != 0 || !strings.Contains(out, "200 calls in") || !strings.Contains(out, ", 0 errors") ||
		!strings.Contains(out, "latency p50") || !strings.Contains(out, "baseline: raw batched durable Badger writes") {
		t.Fatalf("bench exit %d:\n%s\n%s", code, out, errOut)
	}
	out, _, code = run(t, nil, "bench", "--model", "waitreply", "--clients", "2", "--count", "50", "--durable=false")
	if code != 0 || !strings.Contains(out, "50 calls in") || strings.Contains(out, "baseline:") {
		t.Fatalf("bench, not durable: exit %d:\n%s", code, out)
	}
	// The send model: the store's figures, then the pulls after the timed
	// part; a CPU profile written where asked.
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	out, errOut, code = run(t, nil, "bench", "--model", "send", "--clients", "4", "--count", "100", "--baseline=false", "--cpuprofile", prof)
	if code != 0 || !strings.Contains(out, "100 calls in") || !strings.Contains(out, "store: ") ||
		!strings.Contains(out, "then 100 replies pulled in") {
		t.Fatalf("bench --model send: exit %d:\n%s\n%s", code, out, errOut)
	}
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
		t.Fatalf("no CPU profile: %v", err)
	}
	_, errOut, code = run(t, nil, "bench", "--count", "1", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir"))
	if code == 0 || !strings.Contains(errOut, "cpuprofile") {
		t.Fatalf("an unwritable --cpuprofile: exit %d, %s", code, errOut)
	}
}

// TestBadConfiguration: an invalid value is a one-line error naming the
// flag, exit code 2, nothing started.
func TestBadConfiguration(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "agent.properties")
	os.WriteFile(props, []byte("maxThreads = 4\nnoSuchProperty = 1\n"), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--maxThreads", "-1"}, "maxThreads"},
		{[]string{"--maxThreads=abc"}, "maxThreads"},
		{[]string{"--max-threads", "1.5"}, "max-threads"},
		{[]string{"--blockingTimeout", "soon"}, "blocking-timeout"},
		{[]string{"--reply-dropping", "256"}, "reply-dropping"},
		{[]string{"--log-level", "verbose"}, "--log-level"},
		{[]string{"--no-such-flag"}, "no-such-flag"},
		{[]string{"--max-waiting", "0"}, "max-waiting"},
		{[]string{"--memory-limit", "-5"}, "memory-limit"},
		{[]string{"--delegation-timeout", "-1s"}, "delegation-timeout"},
		{[]string{"--admin", "0.0.0.0:5556"}, "--admin"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"--ReplyDropping", "300"}, "--ReplyDropping"},
		{[]string{"--properties", props}, "noSuchProperty"},
		{[]string{"--idl", filepath.Join(dir, "missing.idl")}, "--idl"},
		{[]string{"serve", "--help"}, "unknown command"},
		{[]string{"--max-cookie-bytes", "100000"}, "--max-cookie-bytes"},
		{[]string{"--invalid-property-scope", "foo"}, "--invalid-property-scope"},
		{[]string{"--max-connections", "-5"}, "--max-connections"},
		{[]string{"--reply-dropping", "9"}, "--reply-dropping"},
		{[]string{"--listen", "127.0.0.1:99999"}, "--listen"},
		{[]string{"--host", "a b c"}, "--host"},
		{[]string{"--host", ":::"}, "--host"},
		// etcd's limits are checked before etcd is dialled (none listens
		// at port 1).
		{[]string{"--cluster", "etcd://127.0.0.1:1", "--cluster-max-request-bytes", "1000"}, "--cluster-max-request-bytes"},
		{[]string{"--cluster", "etcd://127.0.0.1:1", "--cluster-max-txn-ops", "-1"}, "--cluster-max-txn-ops"},
		{[]string{"--cluster", "etcd://127.0.0.1:1", "--cluster-quota-backend-bytes", "-1"}, "--cluster-quota-backend-bytes"},
		// An empty prefix: the store would take its default, the
		// ownership key would not, and two agents could own one store.
		{[]string{"--cluster", "etcd://127.0.0.1:1", "--cluster-prefix", ""}, "--cluster-prefix"},
		{[]string{"--cluster", "etcd://127.0.0.1:1", "--cluster-prefix", "  "}, "--cluster-prefix"},
	}
	for _, c := range cases {
		args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, c.args...)
		_, stderr, code := run(t, nil, args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		last := lines[len(lines)-1]
		if code != 2 || !strings.Contains(last, c.want) {
			t.Errorf("%v: exit %d, last line %q; want exit 2 naming %s", c.args, code, last, c.want)
		}
		if strings.Contains(stderr, "agent: serving") {
			t.Errorf("%v: the agent started anyway", c.args)
		}
		if strings.Contains(stderr, "USAGE") || len(lines) > 1 && !strings.Contains(stderr, `"level"`) {
			t.Errorf("%v: more than a one-line error:\n%s", c.args, stderr)
		}
	}
}

// agentProc is a running requestagent.
type agentProc struct {
	cmd       *exec.Cmd
	port      int
	adminAddr string
	dataDir   string // set where a test removes it (cluster tests)
	stderr    *syncBuffer
}

func startAgent(t *testing.T, dataDir string, port int, extra ...string) *agentProc {
	t.Helper()
	adminPort := peers.FreePort(t)
	p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", adminPort), stderr: &syncBuffer{}}
	args := append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
		"--admin", p.adminAddr, "--data-dir", dataDir}, extra...)
	p.run(t, args...)
	waitReady(t, p)
	return p
}

// run starts the binary with args as p, and kills it on cleanup, showing
// its stderr if the test failed.
func (p *agentProc) run(t *testing.T, args ...string) {
	t.Helper()
	p.cmd = exec.Command(binary(t), args...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("agent on %d, stderr:\n%s", p.port, p.stderr)
		}
	})
}

// stock is a Go StockManager target for these tests.
type stock struct{ calls sync.Map }

func (s *stock) RepositoryID() string { return "IDL:StockManager:1.0" }
func (s *stock) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	sym, _ := r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	n, _ := s.calls.LoadOrStore(sym, new(atomic.Int32))
	// Counted atomically: a request resumed after a restart may still be
	// delegated while a test reads the counts.
	n.(*atomic.Int32).Add(1)
	r.Results().WriteBool(true)
	return nil
}

const stockIDL = `interface StockManager {
  boolean add_stock(in string symbol, in double quote);
  boolean find_closest_symbol(inout string symbol);
};`

func startTarget(t *testing.T) (*stock, *giop.IOR) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &stock{}
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), s)
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})
}

// client is a GIOP client that speaks to the agent by corbaloc.
type client struct {
	t     *testing.T
	c     *giop.Client
	agent *giop.IOR
}

func newClient(t *testing.T, port int) *client {
	loc, err := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", port))
	if err != nil {
		t.Fatal(err)
	}
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, agent: loc.IOR("")}
}

func (c *client) invoke(ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder)) (*giop.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.c.Invoke(ctx, ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
}

func (c *client) receiver(target *giop.IOR, props func(*giop.Encoder)) *giop.IOR {
	c.t.Helper()
	resp, err := c.invoke(c.agent, "create_request_proxy", nil, func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(nil)
		if props == nil {
			e.WriteULong(0)
		} else {
			props(e)
		}
	})
	if err != nil || resp.Header.Status != giop.ReplyNoException {
		c.t.Fatalf("create_request_proxy: %v %v", err, resp)
	}
	proxy := resp.Result.IOR()
	resp, err = c.invoke(proxy, "_get_the_receiver", nil, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.Result.IOR()
}

func reqInfo() giop.ServiceContextList {
	nc := nmproto.Context{Kind: nmproto.KindReqInfo}
	return giop.ServiceContextList{nc.Encode()}
}

// send makes one 2PI and returns the poller it was acknowledged with.
func (c *client) send(rcv *giop.IOR, sym string) (*giop.IOR, error) {
	resp, err := c.invoke(rcv, "add_stock", reqInfo(), func(e *giop.Encoder) { e.WriteString(sym); e.WriteDouble(100.5) })
	if err != nil {
		return nil, err
	}
	nc, ok, _ := nmproto.Find(resp.Header.ServiceContexts)
	if !ok || nc.Kind != nmproto.KindThePoller || nc.ThePoller.IsNil() {
		return nil, fmt.Errorf("no poller (status %v)", resp.Header.Status)
	}
	return nc.ThePoller, nil
}

// pull reads an add_stock 2PI's reply through its poller, waiting for it.
func (c *client) pull(poller *giop.IOR) (*giop.Response, error) {
	wait := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: nmproto.WaitForever}
	return c.invoke(poller, "add_stock", giop.ServiceContextList{wait.Encode()},
		func(e *giop.Encoder) { e.WriteString(""); e.WriteDouble(0) })
}

// TestServe_DefaultsAdminAndMetrics: started with an assigned port, the
// agent is reached by corbaloc; /metrics counts what the test did; the
// admin commands list the requests it made, decoded through the IDL; trash
// works.
func TestServe_DefaultsAdminAndMetrics(t *testing.T) {
	dir := t.TempDir()
	idlFile := filepath.Join(dir, "StockManager.idl")
	os.WriteFile(idlFile, []byte(stockIDL), 0o644)
	port := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), port, "--idl", idlFile, "--connect-retry-budget", "1h")
	c := newClient(t, port)
	resp, err := c.invoke(c.agent, "_is_a", nil, func(e *giop.Encoder) { e.WriteString("IDL:NativeMessaging/RequestAgent:1.0") })
	if err != nil || !resp.Result.Bool() {
		t.Fatalf("agent by corbaloc: %v", err)
	}
	// A target nobody serves keeps the requests pending.
	gone := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(peers.ClosedPort(t)), ObjectKey: []byte("StockManager")})
	rcv := c.receiver(gone, nil)
	for _, sym := range []string{"ACME", "ACMA", "INIT"} {
		if _, err := c.send(rcv, sym); err != nil {
			t.Fatal(err)
		}
	}

	metrics := get(t, "http://"+p.adminAddr+"/metrics")
	if !strings.Contains(metrics, `requestagent_requests_total{outcome="accepted"} 3`) ||
		!strings.Contains(metrics, "requestagent_proxies 1") {
		t.Fatalf("/metrics does not count the 3 requests and 1 proxy:\n%s", grep(metrics, "requestagent_"))
	}

	data := filepath.Join(dir, "data")
	out, _, code := run(t, nil, "requests", "--admin", p.adminAddr, "--data-dir", data, "--json")
	var page struct {
		Requests []struct{ ID, Operation, State string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &page) != nil || len(page.Requests) != 3 {
		t.Fatalf("requests --json (exit %d):\n%s", code, out)
	}
	reqs := page.Requests
	if _, stderr, code := run(t, nil, "requests", "--admin", p.adminAddr, "--admin-token-file", filepath.Join(dir, "none")); code == 0 || !strings.Contains(stderr, "token file") {
		t.Fatalf("requests without the token file: exit %d: %s", code, stderr)
	}
	table, _, _ := run(t, nil, "requests", "--admin", p.adminAddr, "--data-dir", data)
	if !strings.Contains(table, "REQUEST") || !strings.Contains(table, reqs[0].ID) {
		t.Fatalf("requests table:\n%s", table)
	}
	show, _, code := run(t, nil, "show", "--admin", p.adminAddr, "--data-dir", data, "--json", reqs[0].ID)
	var d struct {
		Operation string
		Arguments map[string]any
	}
	if code != 0 || json.Unmarshal([]byte(show), &d) != nil || d.Operation != "add_stock" || d.Arguments["quote"] != 100.5 {
		t.Fatalf("show: decoded arguments missing (exit %d):\n%s", code, show)
	}
	if out, stderr, code := run(t, nil, "trash", "--admin", p.adminAddr, "--data-dir", data, reqs[0].ID); code != 0 || !strings.Contains(out, "trashed") {
		t.Fatalf("trash: exit %d: %s%s", code, out, stderr)
	}
	if _, stderr, code := run(t, nil, "trash", "--admin", p.adminAddr, "--data-dir", data, reqs[0].ID); code == 0 || !strings.Contains(stderr, "no such") {
		t.Fatalf("trash twice: exit %d: %s", code, stderr)
	}
	if _, stderr, code := run(t, nil, "trash", "--admin", p.adminAddr, "--data-dir", data); code != 2 || !strings.Contains(stderr, "give one request id") {
		t.Fatalf("trash without an id: exit %d: %s", code, stderr)
	}
	out, stderr, _ := run(t, nil, "proxies", "--admin", p.adminAddr, "--data-dir", data, "--json")
	var proxies struct {
		Proxies []struct {
			ID           string
			RepositoryID string `json:"repository_id"`
		}
	}
	if json.Unmarshal([]byte(out), &proxies) != nil || len(proxies.Proxies) != 1 || proxies.Proxies[0].RepositoryID != "IDL:StockManager:1.0" {
		t.Fatalf("proxies:\n%s%s", out, stderr)
	}
	if out, stderr, code := run(t, nil, "destroy", "--admin", p.adminAddr, "--data-dir", data, proxies.Proxies[0].ID); code != 0 || !strings.Contains(out, "destroyed") {
		t.Fatalf("destroy: exit %d: %s%s", code, out, stderr)
	}
	if out, _, _ := run(t, nil, "requests", "--admin", p.adminAddr, "--data-dir", data, "--json"); !strings.Contains(out, `"requests": []`) {
		t.Fatalf("requests after destroying their proxy:\n%s", out)
	}
}

// TestServe_PropertiesFileAndPrecedence: a properties file by agent
// property names sets the defaults; the environment wins over it.
func TestServe_PropertiesFileAndPrecedence(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "agent.properties")
	os.WriteFile(props, []byte("# defaults\nvbroker.requestagent.RequestManualTrash = true\nReplyDropping = 6\n"), 0o644)
	port := peers.FreePort(t)
	// Beside the setting: a misspelt one, which is ignored with a
	// warning, and a Kubernetes service link, which is ignored silently.
	cmdEnv := []string{"REQUESTAGENT_REPLY_DROPPING=2", "REQUESTAGENT_REPLY_DROPING=3", "REQUESTAGENT_PORT=tcp://10.0.0.7:14000"}
	p := &agentProc{}
	{
		// startAgent with an environment: inline, since it is the only one.
		adminPort := peers.FreePort(t)
		p.adminAddr = fmt.Sprintf("127.0.0.1:%d", adminPort)
		p.stderr = &syncBuffer{}
		p.cmd = exec.Command(binary(t), "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin", p.adminAddr,
			"--data-dir", filepath.Join(dir, "data"), "--properties", props)
		p.cmd.Env = append(os.Environ(), cmdEnv...)
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
		waitReady(t, p)
	}
	c := newClient(t, port)
	resp, err := c.invoke(c.agent, "properties", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	n := resp.Result.ULong()
	for range n {
		name := resp.Result.String()
		got[name] = resp.Result.Any().Value
	}
	if got["RequestManualTrash"] != true || got["ReplyDropping"] != byte(2) {
		t.Fatalf("defaults from file and environment: %v (want RequestManualTrash from the file, ReplyDropping 2 from the environment)", got)
	}
	log := p.stderr.String()
	if !strings.Contains(log, `"variable":"REQUESTAGENT_REPLY_DROPING","did_you_mean":"REQUESTAGENT_REPLY_DROPPING"`) {
		t.Errorf("the start-up log does not name the misspelt variable and the setting it may mean:\n%s", log)
	}
	if strings.Contains(log, `"variable":"REQUESTAGENT_PORT"`) {
		t.Errorf("the start-up log warns of Kubernetes' REQUESTAGENT_PORT:\n%s", log)
	}
}

func waitReady(t *testing.T, p *agentProc) {
	t.Helper()
	// Generous: under a full -race suite on two cores a start that checks
	// a store's tables and replays its logs can take many seconds.
	deadline := time.Now().Add(60 * time.Second)
	for {
		// httpGet bounds each try: an admin listener out of file
		// descriptors accepts nothing, and a Get without a timeout would
		// wait past the deadline.
		if code, _ := httpGet(t, "http://"+p.adminAddr+"/readyz"); code == http.StatusOK {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent not ready:\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestServe_SIGTERMDuringLoadLosesNothing: SIGTERM while clients send
// 2PIs; the agent stops gracefully (exit 0); restarted on the same data, it
// still has every request it acknowledged, and each ran once.
func TestServe_SIGTERMDuringLoadLosesNothing(t *testing.T) {
	dir := t.TempDir()
	targetSrv, target := startTarget(t)
	port := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), port)
	c := newClient(t, port)
	rcv := c.receiver(target, nil)
	var (
		mu    sync.Mutex
		acked = map[string]*giop.IOR{}
		wg    sync.WaitGroup
		stop  = make(chan struct{})
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				sym := fmt.Sprintf("W%d-%d", w, i)
				poller, err := c.send(rcv, sym)
				if err != nil {
					time.Sleep(2 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked[sym] = poller
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("SIGTERM: %v\n%s", err, p.stderr)
	}
	if !strings.Contains(p.stderr.String(), "requestagent: stopped") {
		t.Fatalf("no orderly stop:\n%s", p.stderr)
	}
	startAgent(t, filepath.Join(dir, "data"), port)
	for sym, poller := range acked {
		resp, err := c.pull(poller)
		if err != nil || resp.Header.Status != giop.ReplyNoException {
			t.Fatalf("%s acknowledged before SIGTERM, after it: %v %v", sym, err, resp)
		}
	}
	targetSrv.calls.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n > 1 {
			t.Errorf("%s ran %d times", k, n)
		}
		return true
	})
	t.Logf("%d requests acknowledged across a SIGTERM, all there after the restart", len(acked))
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged: the test proved nothing")
	}
}

// TestServe_SecondSignalEndsTheGraceAndClosesTheStore: two SIGTERMs in a
// row under load, as a supervisor that signals a process and its group
// sends them, end the grace period but not the store's close: the agent
// exits 0 having logged an orderly stop, and every restart finds a store
// it opens, with every acknowledged request in it: with its result, or,
// for one whose delegation the cut grace abandoned, COMM_FAILURE
// completed MAYBE.
func TestServe_SecondSignalEndsTheGraceAndClosesTheStore(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	targetSrv, target := startTarget(t)
	port := peers.FreePort(t)
	acked := map[string]*giop.IOR{}
	var c *client
	for round := range 4 {
		p := startAgent(t, data, port)
		c = newClient(t, port)
		rcv := c.receiver(target, nil)
		for i := range 200 {
			sym := fmt.Sprintf("R%d-%d", round, i)
			if poller, err := c.send(rcv, sym); err == nil {
				acked[sym] = poller
			}
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		time.Sleep(time.Duration(round) * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("round %d: two SIGTERMs: %v\n%s", round, err, p.stderr)
		}
		if !strings.Contains(p.stderr.String(), "requestagent: stopped") {
			t.Fatalf("round %d: no orderly stop:\n%s", round, p.stderr)
		}
	}
	startAgent(t, data, port)
	c = newClient(t, port)
	cut := 0
	for sym, poller := range acked {
		resp, err := c.pull(poller)
		if err == nil && resp.Header.Status == giop.ReplySystemException {
			if x := resp.Result.SystemException(); x != nil && x.Name == giop.ExcCommFailure && x.Completed == giop.CompletedMaybe {
				cut++
				continue
			}
		}
		if err != nil || resp.Header.Status != giop.ReplyNoException {
			t.Fatalf("%s acknowledged before two SIGTERMs, after them: %v %v", sym, err, resp)
		}
	}
	t.Logf("%d acknowledged across 4 double SIGTERMs: all there, %d of them cut off mid-delegation (COMM_FAILURE/MAYBE)", len(acked), cut)
	targetSrv.calls.Range(func(k, v any) bool {
		if n := v.(*atomic.Int32).Load(); n > 1 {
			t.Errorf("%s ran %d times", k, n)
		}
		return true
	})
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged: the test proved nothing")
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestServe_NamingService: with --naming the agent registers itself in
// omniNames (started here on loopback) under a name whose contexts do not
// exist yet — it makes them — and omniORB's own nameclt resolves it; at
// SIGTERM the agent unbinds the name again.
func TestServe_NamingService(t *testing.T) {
	omniNames, err := exec.LookPath("omniNames")
	if err != nil {
		if peers.Required() {
			t.Fatalf("omniNames not installed (scripts/install-omniorb.sh installs omniorb-nameserver): %v", err)
		}
		t.Skip("omniNames not installed")
	}
	dir := t.TempDir()
	nsPort := peers.FreePort(t)
	ns := exec.Command(omniNames, "-start", fmt.Sprint(nsPort), "-always", "-datadir", dir,
		"-ORBendPoint", fmt.Sprintf("giop:tcp:127.0.0.1:%d", nsPort))
	ns.Env = append(os.Environ(), "OMNIORB_CONFIG=/dev/null")
	var nsOut bytes.Buffer
	ns.Stdout, ns.Stderr = &nsOut, &nsOut
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Process.Kill(); ns.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", nsPort))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("omniNames did not start:\n%s", nsOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	nsLoc := fmt.Sprintf("corbaloc::127.0.0.1:%d/NameService", nsPort)
	port := peers.FreePort(t)
	const name = "services.ctx/agents/RequestAgent.service"
	p := startAgent(t, filepath.Join(dir, "data"), port, "--naming", nsLoc, "--naming-name", name)

	nameclt, err := exec.LookPath("nameclt")
	if err != nil {
		t.Fatal(err)
	}
	resolve := func() (string, error) {
		out, err := exec.Command(nameclt, "-ORBInitRef", "NameService="+nsLoc, "resolve", name).CombinedOutput()
		return string(out), err
	}
	// The agent registers once it serves, after startAgent has seen it
	// ready: the name may take a moment to appear.
	out, err := resolve()
	for i := 0; err != nil && strings.Contains(out, "NotFound") && i < 200; i++ {
		time.Sleep(50 * time.Millisecond)
		out, err = resolve()
	}
	if err != nil {
		t.Fatalf("nameclt resolve: %v\n%s", err, out)
	}
	ref, err := giop.ParseIOR(strings.TrimSpace(lastLine(out)))
	if err != nil {
		t.Fatalf("nameclt printed no IOR: %v\n%s", err, out)
	}
	prof, _ := ref.IIOP()
	if ref.TypeID != "IDL:NativeMessaging/RequestAgentEx:1.0" || int(prof.Port) != port || string(prof.ObjectKey) != "RequestAgent" {
		t.Fatalf("resolved %s at port %d key %q", ref.TypeID, prof.Port, prof.ObjectKey)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("the agent's exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if out, err := resolve(); err == nil {
		t.Fatalf("the name is still bound after the agent stopped:\n%s", out)
	}
	if !strings.Contains(p.stderr.String(), "unregistered from the naming service") {
		t.Fatalf("no log of the unbinding:\n%s", p.stderr.String())
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestServe_VisiBrokerPropertiesAndDefines: a Java .properties file shared
// with other VisiBroker services — continuation lines, ':' and blank
// separators, '!' comments, escapes — sets the agent's properties by
// VisiBroker's names; its other services' keys are logged and ignored; a
// -Dvbroker.requestagent.name=value argument wins over the file, and the
// flags win over both.
func TestServe_VisiBrokerPropertiesAndDefines(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "vbroker.properties")
	os.WriteFile(props, []byte(`! shared by the VisiBroker services of this host
vbroker.agent.port=14000
vbroker.orb.enableBiDir : client
vbroker.requestagent.maxThreads = \
    7
vbroker.requestagent.RequestManualTrash   true
vbroker.requestagent.Wait\u0052eply=t\
  rue
vbroker.requestagent.ReplyDropping=4
vbroker.requestagent.maxQueueSize=99
`), 0o644)
	port := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), port, "--properties", props,
		"-Dvbroker.requestagent.ReplyDropping=2", "-Dvbroker.requestagent.maxQueueSize=77", "--maxQueueSize", "55")
	c := newClient(t, port)
	resp, err := c.invoke(c.agent, "properties", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for range resp.Result.ULong() {
		name := resp.Result.String()
		got[name] = resp.Result.Any().Value
	}
	if got["RequestManualTrash"] != true || got["WaitReply"] != true || got["ReplyDropping"] != byte(2) {
		t.Fatalf("properties %v: want RequestManualTrash and WaitReply from the file, ReplyDropping 2 from -D", got)
	}
	log := p.stderr.String()
	for _, want := range []string{`"max_threads":7`, `"max_queue_size":55`, `"property":"vbroker.agent.port"`, `"property":"vbroker.orb.enableBiDir"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	if strings.Count(log, `"property":"vbroker.agent.port"`) != 1 {
		t.Errorf("an ignored property logged more than once")
	}
	// An unknown key of the agent's own is an error naming it; so is a -D
	// without a value.
	bad := filepath.Join(dir, "bad.properties")
	os.WriteFile(bad, []byte("vbroker.orb.x=1\nvbroker.requestagent.noSuchThing=1\n"), 0o644)
	for _, args := range [][]string{{"--properties", bad}, {"-Dvbroker.requestagent.noSuchThing=1"}, {"-Dvbroker.requestagent.maxThreads"}} {
		_, stderr, code := run(t, nil, append([]string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "d2")}, args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || !strings.Contains(lines[len(lines)-1], "noSuchThing") && !strings.Contains(lines[len(lines)-1], "-Dname=value") {
			t.Errorf("%v: exit %d, last line %q", args, code, lines[len(lines)-1])
		}
	}
}

// TestServe_RecipientsRetry: a callback given up after its retry budget
// is shown by 'requestagent recipients' with the recipient's address, and
// 'requestagent recipients retry' queues it again.
func TestServe_RecipientsRetry(t *testing.T) {
	dir := t.TempDir()
	_, target := startTarget(t)
	port := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), port, "--recipient-retry-budget", "100ms")
	c := newClient(t, port)
	gone := peers.ClosedPort(t)
	recipient := giop.NewIOR("IDL:NativeMessaging/ReplyRecipient:1.0", &giop.IIOPProfile{Version: giop.V1_2,
		Host: "127.0.0.1", Port: uint16(gone), ObjectKey: []byte("Recipient")})
	resp, err := c.invoke(c.agent, "create_request_proxy", nil, func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(recipient)
		e.WriteULong(0)
	})
	if err != nil || resp.Header.Status != giop.ReplyNoException {
		t.Fatalf("create_request_proxy: %v", err)
	}
	proxy := resp.Result.IOR()
	resp, _ = c.invoke(proxy, "_get_the_receiver", nil, nil)
	rcv := resp.Result.IOR()
	if _, err := c.invoke(rcv, "add_stock", reqInfo(), func(e *giop.Encoder) { e.WriteString("CB"); e.WriteDouble(1) }); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	want := fmt.Sprintf("127.0.0.1:%d/Recipient", gone)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, _ := run(t, nil, "recipients", "--admin", p.adminAddr, "--data-dir", data, "--json")
		var fs []struct {
			Recipient string
			GivenUp   int
		}
		if json.Unmarshal([]byte(out), &fs) == nil && len(fs) == 1 && fs[0].Recipient == want && fs[0].GivenUp == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recipients never showed %s given up:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The log says it once, in one line that names the recipient's
	// address, without its IOR.
	var gaveUp []string
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, "given up") {
			gaveUp = append(gaveUp, l)
		}
	}
	if len(gaveUp) != 1 || !strings.Contains(gaveUp[0], want) || strings.Contains(gaveUp[0], "IOR:") || len(gaveUp[0]) > 600 {
		t.Fatalf("want one short given-up line naming %s, got:\n%s", want, strings.Join(gaveUp, "\n"))
	}
	out, stderr, code := run(t, nil, "recipients", "retry", "--admin", p.adminAddr, "--data-dir", data, fmt.Sprintf("127.0.0.1:%d", gone))
	if code != 0 || !strings.Contains(out, "1 given-up callbacks queued again") {
		t.Fatalf("recipients retry: exit %d: %s%s", code, out, stderr)
	}
}

// TestServe_LogsExplain: at start the log names the version, the
// effective limits, durability and the store limit, the published
// address, without a target policy that any address may be called, and
// either the IDL interfaces loaded or that suppressed
// premature returns need --idl; on SIGTERM it says what the grace period
// waits for.
func TestServe_LogsExplain(t *testing.T) {
	dir := t.TempDir()
	p := startAgent(t, filepath.Join(dir, "data"), peers.FreePort(t), "--max-threads", "7")
	log := p.stderr.String()
	for _, want := range []string{`"version":"`, `"max_threads":7`, `"max_queue_size":`, `"max_store_bytes":`,
		`"durable":true`, `"published":"127.0.0.1:`, `"memory_limit":`, "no --idl: suppressed-mode premature returns",
		"no target policy: any client may make the agent call any address", "docs/deploying.md"} {
		if !strings.Contains(log, want) {
			t.Errorf("the start-up log lacks %s", want)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	if log := p.stderr.String(); !strings.Contains(log, "waiting for what is in progress") || !strings.Contains(log, `"grace":`) ||
		!strings.Contains(log, `"delegations_running":`) || !strings.Contains(log, `"callbacks_pending":`) {
		t.Errorf("SIGTERM: the log does not say what the grace period waits for:\n%s", log)
	}
	idlFile := filepath.Join(dir, "stock.idl")
	os.WriteFile(idlFile, []byte(stockIDL), 0o644)
	q := startAgent(t, filepath.Join(dir, "d2"), peers.FreePort(t), "--idl", idlFile)
	if log := q.stderr.String(); !strings.Contains(log, "IDL loaded") || !strings.Contains(log, "IDL:StockManager:1.0") ||
		strings.Contains(log, "no --idl") {
		t.Errorf("--idl: the start-up log does not name the interfaces loaded")
	}
	if t.Failed() {
		t.Logf("agent stderr:\n%s", p.stderr)
	}
}

// TestServe_PublishesWhatOmniORBPublishes: listening on every interface
// with no --host, the agent's references carry the address omniORB's own
// servers publish on this host (the first non-loopback one), and the
// start-up log says which; several --host values are published as the
// profile's address and TAG_ALTERNATE_IIOP_ADDRESS components; a
// loopback-only address on all interfaces gets a warning.
func TestServe_PublishesWhatOmniORBPublishes(t *testing.T) {
	catior := peers.Catior(t)
	server := peers.StartIn(t, peers.NMDir(t), "stock_server", "-ORBendPoint", fmt.Sprintf("giop:tcp::%d", peers.FreePort(t)))
	omni := server.Line(t, 20*time.Second)
	hostOf := func(ior string) string {
		ref, err := giop.ParseIOR(strings.TrimSpace(ior))
		if err != nil {
			t.Fatalf("%v: %q", err, ior)
		}
		prof, err := ref.IIOP()
		if err != nil {
			t.Fatal(err)
		}
		return prof.Host
	}
	port := peers.FreePort(t)
	out, _, code := run(t, nil, "ior", "--listen", fmt.Sprintf(":%d", port))
	if code != 0 {
		t.Fatalf("ior: exit %d", code)
	}
	iorLine := strings.SplitN(out, "\n", 2)[0]
	if got, want := hostOf(iorLine), hostOf(omni); got != want {
		t.Fatalf("the agent publishes %s where omniORB publishes %s", got, want)
	}
	p := startAgent(t, filepath.Join(t.TempDir(), "data"), port, "--listen", fmt.Sprintf(":%d", port), "--host", "")
	if !strings.Contains(p.stderr.String(), `"published":"`+net.JoinHostPort(hostOf(omni), fmt.Sprint(port))) {
		t.Fatalf("the log does not name the published address:\n%s", p.stderr.String())
	}
	out, _, _ = run(t, nil, "ior", "--listen", fmt.Sprintf(":%d", port), "--host", "a.example,b.example:6000")
	ior := strings.SplitN(out, "\n", 2)[0]
	cat, err := exec.Command(catior, ior).CombinedOutput()
	if err != nil || !strings.Contains(string(cat), "a.example") || !strings.Contains(string(cat), "b.example") {
		t.Fatalf("catior of a two-address IOR (%v):\n%s", err, cat)
	}
	if !strings.Contains(out, "iiop:1.2@a.example") || !strings.Contains(out, "iiop:1.2@b.example:6000") {
		t.Fatalf("corbaloc of two addresses:\n%s", out)
	}
	lport := peers.FreePort(t)
	lp := startAgent(t, filepath.Join(t.TempDir(), "data"), lport, "--listen", fmt.Sprintf(":%d", lport), "--host", "localhost")
	if !strings.Contains(lp.stderr.String(), "publishing only loopback addresses") {
		t.Fatalf("no warning for a loopback address on all interfaces:\n%s", lp.stderr.String())
	}
}

// TestVersion: --version names the release, the commit and its date, and
// the agent logs them at start.
func TestVersion(t *testing.T) {
	out, _, code := run(t, nil, "--version")
	head, err := exec.Command("git", "-C", peers.RepoRoot(), "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse: %v", err)
	}
	commit := strings.TrimSpace(string(head))
	if code != 0 || !strings.Contains(out, "commit "+commit) || strings.Contains(out, "devel") || !strings.Contains(out, "20") {
		t.Fatalf("--version (exit %d) = %q, want the commit %s and its date", code, out, commit)
	}
	p := startAgent(t, filepath.Join(t.TempDir(), "data"), peers.FreePort(t))
	if !strings.Contains(p.stderr.String(), `"commit":"`+commit) {
		t.Fatalf("the start-up log does not name the commit:\n%s", p.stderr.String())
	}
}

// TestGlobalFlagsBeforeCommand: flags written before a command count as
// written after it — requestagent --host h ior, requestagent --admin A
// requests — and VisiBroker's milliseconds and Go durations are both
// taken by --blockingTimeout.
func TestGlobalFlagsBeforeCommand(t *testing.T) {
	out, _, code := run(t, nil, "--host", "before.example", "--listen", ":5999", "ior")
	if code != 0 || !strings.Contains(out, "iiop:1.2@before.example:5999") {
		t.Fatalf("--host before ior (exit %d):\n%s", code, out)
	}
	out, _, _ = run(t, nil, "ior", "--host", "after.example", "--listen", ":5999")
	if !strings.Contains(out, "after.example:5999") {
		t.Fatalf("--host after ior:\n%s", out)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	p := startAgent(t, data, peers.FreePort(t), "--blockingTimeout", "2s")
	if !strings.Contains(p.stderr.String(), `"blocking_timeout":2000`) {
		t.Fatalf("--blockingTimeout 2s not taken:\n%s", p.stderr.String())
	}
	out, stderr, code := run(t, nil, "--admin", p.adminAddr, "--data-dir", data, "requests", "--json")
	if code != 0 || !strings.Contains(out, `"requests"`) {
		t.Fatalf("requests with --admin before the command: exit %d\n%s%s", code, out, stderr)
	}
	q := startAgent(t, filepath.Join(dir, "d2"), peers.FreePort(t), "--blockingTimeout", "1500")
	if !strings.Contains(q.stderr.String(), `"blocking_timeout":1500`) {
		t.Fatalf("--blockingTimeout 1500 (ms) not taken:\n%s", q.stderr.String())
	}
}

// TestAdminCLI_Show: show names the target and (with --json after the
// id, too) shows a printable tag as text and binary octets as hex; a
// system exception's minor code is hex with its name; trash given a
// proxy's id says it is a proxy.
func TestAdminCLI_Show(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	port := peers.FreePort(t)
	p := startAgent(t, data, port, "--connect-retry-budget", "100ms")
	c := newClient(t, port)
	gone := giop.NewIOR("IDL:StockManager:1.0", &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(peers.ClosedPort(t)), ObjectKey: []byte("StockManager")})
	rcv := c.receiver(gone, nil)
	nc := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{RequestTag: []byte("t1"), Cookie: []byte{0, 1, 0xff}}}
	if _, err := c.invoke(rcv, "add_stock", giop.ServiceContextList{nc.Encode()}, func(e *giop.Encoder) { e.WriteString("X"); e.WriteDouble(1) }); err != nil {
		t.Fatal(err)
	}
	var id string
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, _, _ := run(t, nil, "requests", "--admin", p.adminAddr, "--data-dir", data, "--json", "--state", "replied")
		var page struct{ Requests []struct{ ID string } }
		if json.Unmarshal([]byte(out), &page) == nil && len(page.Requests) == 1 {
			id = page.Requests[0].ID
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no replied request:\n%s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, stderr, code := run(t, nil, "show", "--admin", p.adminAddr, "--data-dir", data, id, "--json")
	var d struct {
		Target, Tag, Cookie string
		Reply               map[string]any
	}
	if code != 0 || json.Unmarshal([]byte(out), &d) != nil {
		t.Fatalf("show ID --json: exit %d\n%s%s", code, out, stderr)
	}
	if d.Tag != "t1" || d.Cookie != "0x0001ff" || !strings.HasPrefix(d.Target, "127.0.0.1:") ||
		d.Reply["minor"] != "0x4e4d000b TARGET_UNREACHABLE" {
		t.Fatalf("show --json: %+v", d)
	}
	table, _, _ := run(t, nil, "show", "--admin", p.adminAddr, "--data-dir", data, id)
	if !strings.Contains(table, "target") || !strings.Contains(table, "t1") {
		t.Fatalf("show table:\n%s", table)
	}
	out, _, _ = run(t, nil, "proxies", "--admin", p.adminAddr, "--data-dir", data, "--json")
	var proxies struct{ Proxies []struct{ ID string } }
	json.Unmarshal([]byte(out), &proxies)
	if len(proxies.Proxies) != 1 {
		t.Fatalf("proxies:\n%s", out)
	}
	if _, stderr, code := run(t, nil, "trash", "--admin", p.adminAddr, "--data-dir", data, proxies.Proxies[0].ID); code == 0 || !strings.Contains(stderr, "is a proxy") {
		t.Fatalf("trash PROXY-ID: exit %d: %s", code, stderr)
	}
}
