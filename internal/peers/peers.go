// Package peers builds and runs the omniORB C++ peers in testdata/ for
// tests. The peers are the proof that requestagent speaks GIOP as a real
// ORB does (README.md, "Set-up": real peers, not mocks, and under make
// test a missing one is a failure).
//
// Each set of peers (testdata/interop, testdata/idl, testdata/nm) is built
// once per test process by its build.sh into build/peers/<set> at the
// repository root (or $REQUESTAGENT_PEERS/<set>). When omniORB is not
// installed, tests that need it are skipped on a developer's machine and
// fail under CI or REQUESTAGENT_REQUIRE_INTEROP=1, so a missing install step
// can never pass silently; `make test` installs omniORB first.
package peers

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Required reports whether interop tests must run rather than skip.
func Required() bool {
	return os.Getenv("CI") != "" || os.Getenv("REQUESTAGENT_REQUIRE_INTEROP") == "1"
}

// RepoRoot returns the repository root (where go.mod is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// set is one directory of C++ peers under testdata/, built once per test
// process by its build.sh into build/peers/<name> at the repository root
// (or $REQUESTAGENT_PEERS/<name>).
type set struct {
	name string
	once sync.Once
	dir  string
	err  error
}

var (
	interopSet = &set{name: "interop"} // echo, bidir and failover peers (giop, internal/failover)
	idlSet     = &set{name: "idl"}     // round-trip peers (idl)
	nmSet      = &set{name: "nm"}      // Native Messaging's StockManager and clients (agent)
	benchSet   = &set{name: "bench"}   // omniORB AMI and NM-aware bench clients (make bench)
	tlsSet     = &set{name: "tls"}     // the NM peers with omniORB's SSL transport (agent)
)

// build builds the set if needed and returns its directory. Without
// omniORB it skips the test, or fails it when Required.
func (s *set) build(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("omniidl"); err != nil {
		if Required() {
			t.Fatalf("omniORB is not installed (run scripts/install-omniorb.sh): %v", err)
		}
		t.Skip("omniORB not installed; run `make test` or scripts/install-omniorb.sh")
	}
	s.once.Do(func() {
		root := os.Getenv("REQUESTAGENT_PEERS")
		if root == "" {
			root = filepath.Join(RepoRoot(), "build", "peers")
		}
		s.dir = filepath.Join(root, s.name)
		cmd := exec.Command(filepath.Join(RepoRoot(), "testdata", s.name, "build.sh"), s.dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			s.err = fmt.Errorf("building the %s peers: %v\n%s", s.name, err, out)
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.dir
}

// Dir builds the interop peers (testdata/interop) if needed and returns
// their directory.
func Dir(t testing.TB) string { t.Helper(); return interopSet.build(t) }

// IDLDir builds the idl round-trip peers (testdata/idl) if needed.
func IDLDir(t testing.TB) string { t.Helper(); return idlSet.build(t) }

// NMDir builds the Native Messaging peers (testdata/nm) if needed.
func NMDir(t testing.TB) string { t.Helper(); return nmSet.build(t) }

// TLSDir builds the Native Messaging peers linked with omniORB's SSL
// transport (testdata/tls) if needed.
func TLSDir(t testing.TB) string { t.Helper(); return tlsSet.build(t) }

// BenchDir builds the `make bench` clients (testdata/bench) if needed.
func BenchDir(t testing.TB) string { t.Helper(); return benchSet.build(t) }

// Catior returns the path of omniORB's catior, failing or skipping like Dir.
func Catior(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("catior")
	if err != nil {
		if Required() {
			t.Fatalf("catior not installed: %v", err)
		}
		t.Skip("catior not installed")
	}
	return p
}

// Process is a running peer.
type Process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // nil unless started by StartInteractive
	lines  chan string
	mu     sync.Mutex
	output bytes.Buffer // everything it printed, for failure messages
	done   chan struct{}
	err    error
}

// CPU returns the user and system CPU time the process has used so far:
// read from /proc while it runs (10 ms ticks), from its exit status once
// it has exited. It returns 0 where neither is available.
func (p *Process) CPU() time.Duration {
	select {
	case <-p.done:
		if st := p.cmd.ProcessState; st != nil {
			return st.UserTime() + st.SystemTime()
		}
		return 0
	default:
	}
	return ProcCPU(p.cmd.Process.Pid)
}

// ProcCPU returns the user and system CPU time of process pid from
// /proc/pid/stat, or 0 if it cannot be read.
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// Start runs interop peer name with args (see StartIn).
func Start(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, Dir(t), name, args...)
}

// StartIDL runs idl round-trip peer name with args (see StartIn).
func StartIDL(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, IDLDir(t), name, args...)
}

// StartNM runs Native Messaging peer name with args (see StartIn).
func StartNM(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, NMDir(t), name, args...)
}

// StartIn runs program name from dir with args: stdout lines are available
// through Line, Expect and Wait, stderr goes to Output only, and the process
// is killed when the test ends (its output is logged if the test failed).
func StartIn(t testing.TB, dir, name string, args ...string) *Process {
	t.Helper()
	return StartInEnv(t, dir, name, nil, args...)
}

// StartInEnv is StartIn with variables added to the peer's environment
// (KEY=value), such as testdata/tls's PEER_SSL_CA and PEER_SSL_KEY.
func StartInEnv(t testing.TB, dir, name string, env []string, args ...string) *Process {
	t.Helper()
	return start(t, dir, name, env, false, args)
}

// StartInteractive is StartIn with a pipe to the peer's stdin, for peers
// driven line by line (Send), such as testdata/interop's failover_client.
func StartInteractive(t testing.TB, dir, name string, args ...string) *Process {
	t.Helper()
	return start(t, dir, name, nil, true, args)
}

// Send writes line and a newline to the stdin of a peer started by
// StartInteractive, failing the test if it cannot.
func (p *Process) Send(t testing.TB, line string) {
	t.Helper()
	if p.stdin == nil {
		t.Fatal("peers: Send on a peer not started by StartInteractive")
	}
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		t.Fatalf("writing to the peer's stdin: %v\n%s", err, p.Output())
	}
}

func start(t testing.TB, dir, name string, env []string, interactive bool, args []string) *Process {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, name), args...)
	cmd.Env = append(append(os.Environ(), "OMNIORB_CONFIG=/dev/null"), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	if interactive {
		if p.stdin, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Stderr = &lockedWriter{p: p}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- line:
			default:
			}
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.Output())
		}
	})
	return p
}

type lockedWriter struct{ p *Process }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.output.Write(b)
}

// Line returns the next line the peer printed on stdout, or fails the test
// after timeout.
func (p *Process) Line(t testing.TB, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("peer exited before printing a line: %v\n%s", p.err, p.Output())
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("peer printed nothing within %v\n%s", timeout, p.Output())
	}
	return ""
}

// LineWithin returns the next line the peer prints on stdout within
// timeout, and false if none comes (or the peer exits first): for checking
// that a peer stays silent, where Line would fail the test.
func (p *Process) LineWithin(timeout time.Duration) (string, bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case l, ok := <-p.lines:
		return l, ok
	case <-t.C:
		return "", false
	}
}

// Wait waits for the peer to exit and returns its stdout lines and error.
func (p *Process) Wait(t testing.TB, timeout time.Duration) ([]string, error) {
	t.Helper()
	var lines []string
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				<-p.done
				return lines, p.err
			}
			lines = append(lines, l)
		case <-deadline:
			p.cmd.Process.Kill()
			t.Fatalf("peer did not exit within %v\n%s", timeout, p.Output())
		}
	}
}

// Output returns everything the peer printed so far.
func (p *Process) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// Run runs a peer to completion and returns its combined output.
func Run(ctx context.Context, t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(Dir(t), name), args...)
	cmd.Env = append(os.Environ(), "OMNIORB_CONFIG=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FreePort returns a loopback TCP port that was free a moment ago. It is
// drawn below Linux's ephemeral range (32768–60999 by default), from which
// every outgoing connection takes its local port: a port the kernel hands
// out for :0 may go to one of the many connections the tests open (etcd's
// clients, gRPC, the agents) between its close here and its listen there,
// which an etcd member's "address already in use" showed. Below that range
// only another listener can take it, and each is drawn at random — never
// one this process drew before: two draws in a row, not yet listened on,
// could otherwise be the same port (an agent's GIOP and admin ports were).
func FreePort(t testing.TB) int {
	t.Helper()
	for range 200 {
		port := freePortLow + rand.IntN(freePortHigh-freePortLow)
		if !drawn.claim(port) {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: draw again
		}
		ln.Close()
		return port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// The range FreePort draws from: below the ephemeral range, above the
// ports services are registered at.
const freePortLow, freePortHigh = 20000, 32700

// drawn is the ports FreePort has drawn in this process.
var drawn drawnPorts

// drawnPorts is a set of ports; mu guards ports.
type drawnPorts struct {
	mu    sync.Mutex
	ports map[int]bool
}

// claim adds port to the set, and reports whether it was not in it.
func (d *drawnPorts) claim(port int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ports[port] {
		return false
	}
	if d.ports == nil {
		d.ports = make(map[int]bool)
	}
	d.ports[port] = true
	return true
}

// ClosedPort returns a loopback port on which nothing listens.
func ClosedPort(t testing.TB) int { return FreePort(t) }

var _ io.Writer = (*lockedWriter)(nil)

// Endpoint returns the -ORBendPoint arguments pinning a peer to loopback.
func Endpoint(port int) []string {
	return []string{"-ORBendPoint", fmt.Sprintf("giop:tcp:127.0.0.1:%d", port)}
}

// Fields parses "k=v" words of a line such as the BENCH line.
func Fields(line string) map[string]string {
	out := make(map[string]string)
	for _, w := range strings.Fields(line) {
		if k, v, ok := strings.Cut(w, "="); ok {
			out[k] = v
		}
	}
	return out
}

// Expect reads the peer's stdout until n lines starting with prefix have
// been seen, or fails the test after timeout.
func (p *Process) Expect(t testing.TB, prefix string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for seen := 0; seen < n; {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("peer exited after %d of %d lines %q:\n%s", seen, n, prefix, p.Output())
			}
			if strings.HasPrefix(l, prefix) {
				seen++
			}
		case <-deadline:
			t.Fatalf("peer printed %d of %d lines %q within %v:\n%s", seen, n, prefix, timeout, p.Output())
		}
	}
}

// CheckLines fails the test unless got, the lines what printed, are want
// exactly, showing both.
func CheckLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s printed:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// Served waits until the peer (testdata/nm's stock_server) has printed want
// "served ..." lines, waits a moment longer for a late re-send, and fails
// the test unless there are exactly want: each request ran on the target
// once. It returns the lines without their "served " prefix.
func (p *Process) Served(t testing.TB, want int) []string {
	t.Helper()
	get := func() []string {
		var out []string
		for _, l := range strings.Split(p.Output(), "\n") {
			if s, ok := strings.CutPrefix(l, "served "); ok {
				out = append(out, s)
			}
		}
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(get()) < want && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a late re-send would show up here
	got := get()
	if len(got) != want {
		t.Fatalf("the target served %d calls, want exactly %d (one per request):\n%s", len(got), want, strings.Join(got, "\n"))
	}
	return got
}

// PollingTranscript is what clients/cpp/examples/polling_client prints
// when it passes: two create_request calls, each premature and then the
// target's result, and the group empty at the end.
func PollingTranscript() []string {
	return []string{
		"create_request -> Request",
		"add_stock -> premature (REPLY_NOT_AVAILABLE)",
		"add_stock -> TRUE",
		"create_request -> Request",
		"find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)",
		"find_closest_symbol -> TRUE ACME",
		"poll -> PollingGroupIsEmpty",
		"PASS",
	}
}

// StockPair checks that served (from Served) holds the seed programs' two
// calls, add_stock ACME and find_closest_symbol ACMA, and returns what
// find_closest_symbol answered. The agent delegates the two concurrently,
// so the target may have run find_closest_symbol first.
func StockPair(t testing.TB, served []string) (find string) {
	t.Helper()
	for _, s := range served {
		if r, ok := strings.CutPrefix(s, "find_closest_symbol ACMA -> "); ok {
			find = r
		}
	}
	if !slices.Contains(served, "add_stock ACME -> TRUE") || find == "" {
		t.Fatalf("stock_server served:\n%s", strings.Join(served, "\n"))
	}
	return find
}

// Exited returns a channel closed when the peer has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

var (
	agentOnce sync.Once
	agentBin  string
	agentErr  error
)

// AgentBinary builds the requestagent command once per test process and
// returns its path, for tests that run the real binary (crash tests, the
// command's own tests, the scale benchmark).
func AgentBinary(t testing.TB) string {
	t.Helper()
	agentOnce.Do(func() {
		dir, err := os.MkdirTemp("", "requestagent-bin")
		if err != nil {
			agentErr = err
			return
		}
		agentBin = filepath.Join(dir, "requestagent")
		// Built as releases are (scripts/build.sh), so --version and the
		// start-up log name the commit.
		build := exec.Command(filepath.Join(RepoRoot(), "scripts", "build.sh"), agentBin)
		build.Dir = RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("go build ./cmd/requestagent: %v\n%s", err, out)
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentBin
}
