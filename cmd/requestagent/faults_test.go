package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

// limitEnv, set on a re-run of the test binary, makes it lower its limit
// of open files to the value given and exec the rest of its arguments:
// the way these tests start the real binary under a small fd limit
// without depending on prlimit(1).
const limitEnv = "REQUESTAGENT_TEST_NOFILE"

func TestMain(m *testing.M) {
	if v := os.Getenv(limitEnv); v != "" {
		n, _ := strconv.ParseUint(v, 10, 64)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(3)
		}
		os.Unsetenv(limitEnv)
		args := os.Args[1:]
		err := syscall.Exec(args[0], args, os.Environ())
		fmt.Fprintln(os.Stderr, "exec:", err)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// TestServe_FDExhaustionPasses: run with a limit of 100 open files, the
// agent runs out of them when 120 idle connections arrive; once they
// close, new clients are served again, the agent stays ready, and the
// accept errors are counted — the listener is not lost for good.
func TestServe_FDExhaustionPasses(t *testing.T) {
	dir := t.TempDir()
	port := peers.FreePort(t)
	adminPort := peers.FreePort(t)
	adminAddr := fmt.Sprintf("127.0.0.1:%d", adminPort)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, binary(t), "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1",
		"--admin", adminAddr, "--data-dir", filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(), limitEnv+"=100")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("agent stderr:\n%s", stderr.String())
		}
	})
	waitReady(t, &agentProc{adminAddr: adminAddr})

	var held []net.Conn
	for range 120 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			break
		}
		held = append(held, c)
	}
	// While they are held the agent has no file left to accept with
	// (nor to answer /metrics): give its accept loop time to run into it.
	time.Sleep(500 * time.Millisecond)
	for _, c := range held {
		c.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	// A new client is served again, within the back-off of the accept loop.
	c := giop.NewClient(nil)
	defer c.Close()
	ref, err := giop.ParseCorbaloc(fmt.Sprintf("corbaloc:iiop:1.2@127.0.0.1:%d/RequestAgent", port))
	if err != nil {
		t.Fatal(err)
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Invoke(ctx, ref.IOR("IDL:NativeMessaging/RequestAgentEx:1.0"), &giop.Invocation{Operation: "_non_existent"})
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new client served after the fds came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := httpGet(t, "http://"+adminAddr+"/readyz"); code != 200 {
		t.Fatalf("/readyz after the fd exhaustion passed = %d %s", code, body)
	}
	if n := metric(t, adminAddr, "requestagent_giop_accept_errors_total"); n <= 0 {
		t.Fatalf("120 connections under a limit of 100 files made no accept error (%v); %d held", n, len(held))
	}
	if !strings.Contains(stderr.String(), "accept") {
		t.Errorf("nothing logged about the accept errors")
	}
}

// metric reads one unlabelled metric from /metrics; -1 when absent.
func metric(t *testing.T, adminAddr, name string) float64 {
	t.Helper()
	_, body := httpGet(t, "http://"+adminAddr+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

// httpGet returns a GET's status and body; status 0 if it failed.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// syncBuffer is a buffer a child process writes to while a test reads it.
type syncBuffer = syncbuf.Buffer
