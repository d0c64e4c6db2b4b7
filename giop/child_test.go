package giop_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// A GIOP server in a child process: the test binary run again with
// childServerEnv set, serving the Echo servant on a loopback port. Tests use
// it where the server needs a process of its own — a lower file limit
// (RLIMIT_NOFILE) than the test's, or a resident set size that belongs to
// the server alone.
//
// Protocol, one line each way: the child prints "addr HOST:PORT" once it
// listens, then answers each "stats" on its stdin with one line of JSON
// (childStats, after a garbage collection) and each "peek" likewise but
// without collecting, so that sampling does not change what is sampled;
// it ends on "quit" or at the end of its stdin, after printing "served
// ERR", ERR being what Serve returned.

const (
	childServerEnv = "REQUESTAGENT_GIOP_CHILD_SERVER"
	// childNofileEnv, if set, is the child's soft RLIMIT_NOFILE.
	childNofileEnv = "REQUESTAGENT_GIOP_CHILD_NOFILE"
)

// childStats is what the child reports: its memory, its goroutines and
// its server's counters (as JSON, so fields added to ServerStats show up).
type childStats struct {
	RSSKiB     int64          `json:"rss_kib"`
	HeapInuse  uint64         `json:"heap_inuse"`
	StackInuse uint64         `json:"stack_inuse"`
	Goroutines int            `json:"goroutines"`
	Server     map[string]any `json:"server"`
	// ServeErr is set once Serve has returned.
	ServeErr string `json:"serve_err"`
}

// stat returns a ServerStats counter by name, 0 if there is none.
func (s *childStats) stat(name string) uint64 {
	v, _ := s.Server[name].(float64)
	return uint64(v)
}

// TestChildServer is the child's body; run on its own it does nothing.
func TestChildServer(t *testing.T) {
	if os.Getenv(childServerEnv) == "" {
		t.Skip("runs only as the child of a test that needs a server process")
	}
	if v := os.Getenv(childNofileEnv); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
		lim.Cur = n
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := giop.NewAdapter()
	a.Register(echoKey, newEchoServant())
	a.Register(blockKey, blockServant{})
	srv := giop.NewServer(nil, a)
	var (
		mu       sync.Mutex
		serveErr error
		served   = make(chan struct{})
	)
	go func() {
		err := srv.Serve(ln)
		mu.Lock()
		serveErr = err
		mu.Unlock()
		close(served)
	}()
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "addr %s\n", ln.Addr())
	out.Flush()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() != "stats" && in.Text() != "peek" {
			break
		}
		if in.Text() == "stats" {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		st := childStats{RSSKiB: rssKiB(), HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, Goroutines: runtime.NumGoroutine()}
		b, _ := json.Marshal(srv.Stats())
		json.Unmarshal(b, &st.Server)
		mu.Lock()
		if serveErr != nil {
			st.ServeErr = serveErr.Error()
		}
		mu.Unlock()
		b, _ = json.Marshal(st)
		fmt.Fprintf(out, "%s\n", b)
		out.Flush()
	}
	srv.Close()
	<-served
	fmt.Fprintf(out, "served %v\n", serveErr)
	out.Flush()
}

// rssKiB is the process's resident set size (VmRSS), or -1.
func rssKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return -1
}

// blockKey names a servant whose every operation blocks until its request
// is cancelled (the connection closes): a forever-poll.
var blockKey = []byte("Block")

type blockServant struct{}

func (blockServant) RepositoryID() string { return "IDL:Demo/Block:1.0" }

func (blockServant) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	<-ctx.Done()
	return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
}

// childServer is a running child process.
type childServer struct {
	t    *testing.T
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	addr string
	done bool
}

// startChildServer runs the child with extra environment variables.
func startChildServer(t *testing.T, env ...string) *childServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestChildServer$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childServerEnv+"=1"), env...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &childServer{t: t, cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	c.out.Buffer(make([]byte, 64<<10), 1<<20)
	t.Cleanup(c.stop)
	line := c.line()
	if !strings.HasPrefix(line, "addr ") {
		t.Fatalf("child said %q, want its address", line)
	}
	c.addr = strings.TrimPrefix(line, "addr ")
	return c
}

// line reads the child's next line of protocol (the test framework's own
// output, "PASS" and the like, is skipped).
func (c *childServer) line() string {
	c.t.Helper()
	for c.out.Scan() {
		l := c.out.Text()
		if strings.HasPrefix(l, "addr ") || strings.HasPrefix(l, "{") || strings.HasPrefix(l, "served ") {
			return l
		}
	}
	c.t.Fatalf("child ended: %v", c.out.Err())
	return ""
}

func (c *childServer) stats() *childStats { return c.ask("stats") }

// peek is stats without a garbage collection first.
func (c *childServer) peek() *childStats { return c.ask("peek") }

func (c *childServer) ask(cmd string) *childStats {
	c.t.Helper()
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		c.t.Fatal(err)
	}
	var st childStats
	if err := json.Unmarshal([]byte(c.line()), &st); err != nil {
		c.t.Fatal(err)
	}
	return &st
}

// quit ends the child and returns what its Serve returned.
func (c *childServer) quit() string {
	c.t.Helper()
	io.WriteString(c.in, "quit\n")
	c.in.Close()
	l := c.line()
	c.done = true
	if err := c.cmd.Wait(); err != nil {
		c.t.Errorf("child: %v", err)
	}
	return strings.TrimPrefix(l, "served ")
}

// stop kills the child if the test did not end it; it is the only
// process the test started.
func (c *childServer) stop() {
	if c.done {
		return
	}
	c.in.Close()
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(ioBound):
		c.cmd.Process.Kill()
		<-done
	}
}

// waitStats polls the child's stats until ok holds, for at most ioBound.
func (c *childServer) waitStats(what string, ok func(*childStats) bool) *childStats {
	c.t.Helper()
	deadline := time.Now().Add(ioBound)
	for {
		st := c.stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("child never reached %s: %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialMany opens n raw connections to addr.
func dialMany(t *testing.T, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, ioBound)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	return conns
}
