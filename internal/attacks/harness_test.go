package attacks

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

// The harness: one agent process per attack, its figures sampled from the
// admin listener, and a bystander client measuring what the attack costs
// everybody else.

// syncBuffer is a buffer safe for the process's stderr copier and the
// test to use at once; made with Keep 4 MiB (newSyncBuffer), as a long run
// logs a lot.
type syncBuffer = syncbuf.Buffer

func newSyncBuffer() *syncBuffer { return &syncBuffer{Keep: 4 << 20} }

// agentProc is one running requestagent.
type agentProc struct {
	t         *testing.T
	bin       string
	dataDir   string
	port      int
	adminAddr string
	extra     []string // flags after the standard ones
	wrap      []string // a command the binary runs under (prlimit …)
	ref       *giop.IOR

	mu      sync.Mutex // guards the fields below, which a restart changes
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan struct{}
	waitErr error
	token   string
}

// freePort returns a loopback port nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// newAgent starts the binary on fresh loopback ports with its data in
// dataDir, under the command wrap if any, and waits until it is ready.
func newAgent(t *testing.T, bin, dataDir string, wrap []string, extra ...string) *agentProc {
	t.Helper()
	p := &agentProc{t: t, bin: bin, dataDir: dataDir, port: freePort(t),
		adminAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), extra: extra, wrap: wrap}
	loc, err := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", p.port))
	if err != nil {
		t.Fatal(err)
	}
	p.ref = loc.IOR("IDL:NativeMessaging/RequestAgentEx:1.0")
	t.Cleanup(func() { p.kill() })
	p.start()
	if err := p.waitReady(60 * time.Second); err != nil {
		t.Fatalf("agent not ready: %v\n%s", err, tail(p.errors(), 20))
	}
	return p
}

// start launches the process (again, after a stop) on the same ports and
// data.
func (p *agentProc) start() {
	p.t.Helper()
	args := append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", p.port), "--host", "127.0.0.1",
		"--admin", p.adminAddr, "--data-dir", p.dataDir, "--log-level", "warn"}, p.extra...)
	argv := append(append([]string(nil), p.wrap...), p.bin)
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr := newSyncBuffer()
	cmd.Stderr = stderr
	cmd.Stdout = io.Discard
	// The agent's settings are its flags; the suite's own REQUESTAGENT_*
	// knobs (make attacks', the Makefile's REQUESTAGENT_PEERS) would each
	// be logged as a stray variable and read as the attack's doing.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REQUESTAGENT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Should this test process die without its clean-ups (a -timeout
	// panic), the agent dies with it rather than live on.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.stderr, p.exited, p.waitErr = cmd, stderr, exited, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		if p.cmd == cmd {
			p.waitErr = err
		}
		p.mu.Unlock()
		close(exited)
	}()
}

func (p *agentProc) state() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.exited
}

// errors returns what the process wrote to stderr.
func (p *agentProc) errors() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stderr == nil {
		return ""
	}
	return p.stderr.String()
}

func (p *agentProc) authToken() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.token
}

// waitReady waits for /readyz to say 200, or for the process to exit.
func (p *agentProc) waitReady(within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: time.Second}
	_, exited := p.state()
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited: %s", p.exitStatus())
		default:
		}
		resp, err := hc.Get("http://" + p.adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if b, err := os.ReadFile(filepath.Join(p.dataDir, "admin.token")); err == nil {
					p.mu.Lock()
					p.token = strings.TrimSpace(string(b))
					p.mu.Unlock()
				}
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v", within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *agentProc) pid() int {
	cmd, _ := p.state()
	return cmd.Process.Pid
}

func (p *agentProc) alive() bool {
	_, exited := p.state()
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// exitStatus says how the process ended: "running", "exit N" or "killed
// by SIGNAL".
func (p *agentProc) exitStatus() string {
	if p.alive() {
		return "running"
	}
	p.mu.Lock()
	err := p.waitErr
	p.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	if err != nil {
		return err.Error()
	}
	return "exit 0"
}

// kill ends the process at once (SIGKILL) and waits for it.
func (p *agentProc) kill() {
	cmd, exited := p.state()
	if cmd == nil {
		return
	}
	if p.alive() {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	<-exited
}

// stop asks the process to stop (SIGTERM) and waits, killing it after
// within.
func (p *agentProc) stop(within time.Duration) {
	if !p.alive() {
		return
	}
	cmd, exited := p.state()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(within):
		p.kill()
	}
}

// restart stops the process gracefully and starts it again on the same
// ports and data; the error says why it did not become ready.
func (p *agentProc) restart() error {
	p.stop(30 * time.Second)
	p.start()
	return p.waitReady(120 * time.Second)
}

// http makes an admin request; with auth, the bearer token goes along.
func (p *agentProc) http(method, path string, auth bool, host string) (int, []byte, error) {
	req, err := http.NewRequest(method, "http://"+p.adminAddr+path, nil)
	if err != nil {
		return 0, nil, err
	}
	if tok := p.authToken(); auth && tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// figures is one sample of the agent's resources.
type figures struct {
	rss        float64 // bytes
	fds        float64
	goroutines float64 // -1 when /metrics did not answer
	// anon is the anonymous part of rss (heap, stacks: RssAnon in
	// /proc), the rest being files mapped (Badger's tables and logs).
	anon   float64
	values map[string]float64
}

var metricsClient = &http.Client{Timeout: 2 * time.Second}

// metrics reads every unlabelled (and labelled, by full name) sample from
// /metrics.
func (p *agentProc) metrics() (map[string]float64, error) {
	resp, err := metricsClient.Get("http://" + p.adminAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// metric returns one sample's value, -1 when absent.
func (p *agentProc) metric(name string) float64 {
	m, err := p.metrics()
	if err != nil {
		return -1
	}
	if v, ok := m[name]; ok {
		return v
	}
	return -1
}

// sample reads the three figures, from /metrics when it answers and from
// /proc otherwise (a process out of files cannot answer).
func (p *agentProc) sample() figures {
	f := figures{rss: -1, fds: -1, goroutines: -1, anon: -1}
	if m, err := p.metrics(); err == nil {
		f.values = m
		if v, ok := m["process_resident_memory_bytes"]; ok {
			f.rss = v
		}
		if v, ok := m["process_open_fds"]; ok {
			f.fds = v
		}
		if v, ok := m["go_goroutines"]; ok {
			f.goroutines = v
		}
	}
	if !p.alive() {
		return f
	}
	if f.rss < 0 {
		f.rss = procStatus(p.pid(), "VmRSS")
	}
	f.anon = procStatus(p.pid(), "RssAnon")
	if f.fds < 0 {
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid())); err == nil {
			f.fds = float64(len(ents))
		}
	}
	return f
}

// procStatus reads a kB field of /proc/PID/status, in bytes; -1 if none.
func procStatus(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return n * 1024
		}
	}
	return -1
}

// sampler records the agent's figures every 100 ms and keeps the peaks.
type sampler struct {
	p      *agentProc
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	first  figures
	peak   figures
	last   figures
	hwm    float64 // the kernel's peak RSS of the process (VmHWM)
	failed int     // samples /metrics did not answer
}

func (p *agentProc) startSampler() *sampler {
	s := &sampler{p: p, stop: make(chan struct{}), done: make(chan struct{})}
	s.first = p.sample()
	s.peak, s.last = s.first, s.first
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
			f := p.sample()
			hwm := -1.0
			if p.alive() {
				hwm = procStatus(p.pid(), "VmHWM")
			}
			s.mu.Lock()
			if f.values == nil {
				s.failed++
			}
			s.peak.rss = max(s.peak.rss, f.rss)
			s.peak.fds = max(s.peak.fds, f.fds)
			s.peak.goroutines = max(s.peak.goroutines, f.goroutines)
			s.peak.anon = max(s.peak.anon, f.anon)
			s.hwm = max(s.hwm, hwm)
			if f.rss >= 0 {
				s.last = f
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// finish stops sampling and returns the first sample, the peaks and the
// last sample.
func (s *sampler) finish() (first, peak, last figures, hwm float64) {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first, s.peak, s.last, s.hwm
}

// lat is a set of latencies.
type lat []time.Duration

func (l lat) pct(p float64) time.Duration {
	if len(l) == 0 {
		return -1
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

// bystander is the unrelated client: one goroutine calling the agent in a
// loop, recording each call's latency. Its calls are WaitReply calls to a
// target of its own (mode "waitreply") or create_request calls (mode
// "create").
type bystander struct {
	p      *agentProc
	c      *giop.Client
	rcv    *giop.IOR
	mode   string
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	cur    lat
	errs   int
	errMsg map[string]int
}

func startBystander(t *testing.T, p *agentProc, target *giop.IOR, mode string) *bystander {
	t.Helper()
	b := &bystander{p: p, c: giop.NewClient(nil), mode: mode, stop: make(chan struct{}), done: make(chan struct{}),
		errMsg: map[string]int{}}
	if mode == "waitreply" {
		proxy, err := createProxy(b.c, p.ref, target, boolProp("WaitReply", true))
		if err != nil {
			t.Fatalf("bystander's proxy: %v", err)
		}
		if b.rcv, err = receiverOf(b.c, proxy); err != nil {
			t.Fatalf("bystander's receiver: %v", err)
		}
	}
	go b.run(target)
	return b
}

func (b *bystander) run(target *giop.IOR) {
	defer close(b.done)
	for i := 0; ; i++ {
		select {
		case <-b.stop:
			return
		default:
		}
		start := time.Now()
		var err error
		switch b.mode {
		case "waitreply":
			r := nmCall(b.c, b.rcv, "add_stock", reqInfoCtx("", "", 10_000), addStockArgs(fmt.Sprintf("B%d", i), 1), 15*time.Second)
			err = r.matureErr()
		case "create":
			var req *giop.IOR
			req, err = createRequest(b.c, b.p.ref, target, "bystander", fmt.Sprintf("b%d", i), nil, 15*time.Second)
			if err == nil {
				d := time.Since(start)
				b.record(d, nil)
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				b.c.Invoke(ctx, b.p.ref, &giop.Invocation{Operation: "destroy_request", Args: func(e *giop.Encoder) { e.WriteIOR(req) }})
				cancel()
				time.Sleep(5 * time.Millisecond)
				continue
			}
		}
		b.record(time.Since(start), err)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (b *bystander) record(d time.Duration, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.errs++
		b.errMsg[shortErr(err)]++
		return
	}
	b.cur = append(b.cur, d)
}

// window is what the bystander saw since the last call of mark.
type window struct {
	lat  lat
	errs int
	msgs map[string]int
}

func (w window) String() string {
	s := fmt.Sprintf("%s / %s (%d ok", ms(w.lat.pct(0.5)), ms(w.lat.pct(0.99)), len(w.lat))
	if w.errs > 0 {
		s += fmt.Sprintf(", %d failed: %s", w.errs, topMsgs(w.msgs))
	}
	return s + ")"
}

func topMsgs(m map[string]int) string {
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range m {
		l = append(l, kv{k, v})
	}
	slices.SortFunc(l, func(a, b kv) int { return b.v - a.v })
	var out []string
	for i, e := range l {
		if i == 2 {
			break
		}
		out = append(out, fmt.Sprintf("%s ×%d", e.k, e.v))
	}
	return strings.Join(out, "; ")
}

// mark returns the window since the previous mark and starts a new one.
func (b *bystander) mark() window {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := window{lat: b.cur, errs: b.errs, msgs: b.errMsg}
	b.cur, b.errs, b.errMsg = nil, 0, map[string]int{}
	return w
}

func (b *bystander) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	b.c.Close()
}

func ms(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f < 10:
		return fmt.Sprintf("%.2f", f)
	case f < 100:
		return fmt.Sprintf("%.1f", f)
	}
	return fmt.Sprintf("%.0f", f)
}

func mib(b float64) string {
	if b < 0 {
		return "?"
	}
	m := b / (1 << 20)
	if m >= 1024 {
		return fmt.Sprintf("%.2f GiB", m/1024)
	}
	return fmt.Sprintf("%.0f", m)
}

// withUnit is mib with its unit.
func withUnit(b float64) string {
	s := mib(b)
	if strings.HasSuffix(s, "GiB") || s == "?" {
		return s
	}
	return s + " MiB"
}

func num(f float64) string {
	if f < 0 {
		return "?"
	}
	return commas(int64(f))
}

func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// row is one line of the table.
type row struct {
	n        string
	attack   string
	binary   string
	first    figures
	peak     figures
	last     figures
	hwm      float64
	idle     window
	during   window
	attacker string
	outcome  string
}

func (r row) markdown() string {
	esc := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }
	rss := fmt.Sprintf("%s → **%s**", mib(r.first.rss), mib(r.peak.rss))
	if r.peak.anon >= 0 && r.peak.anon < r.peak.rss*0.9 {
		rss += fmt.Sprintf(" (anon %s)", mib(r.peak.anon))
	}
	if r.hwm > r.peak.rss*1.1 {
		rss += fmt.Sprintf(" (HWM %s)", mib(r.hwm))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s → %s | %s → %s | %s | %s | %s | %s |", r.n, esc(r.attack), r.binary, rss,
		num(r.first.fds), num(r.peak.fds), num(r.first.goroutines), num(r.peak.goroutines),
		esc(r.idle.String()), esc(r.during.String()), esc(r.attacker), esc(r.outcome))
}

const tableHeader = "| # | attack | binary | RSS MiB start → peak | fds start → peak | goroutines start → peak | bystander p50 / p99 ms, idle | bystander p50 / p99 ms, during | what the attacker saw | outcome |\n" +
	"|---|---|---|---|---|---|---|---|---|---|"

func shortErr(err error) string {
	var x *giop.SystemException
	if errors.As(err, &x) {
		return sysName(x)
	}
	var u *giop.UserException
	if errors.As(err, &u) {
		return u.RepoID
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
