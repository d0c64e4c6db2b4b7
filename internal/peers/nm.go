package peers

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The Native Messaging peers of testdata/nm (seed 003's StockManager target
// and its polling, group polling and WaitReply clients) are built like the
// interop peers, by testdata/nm/build.sh, into build/nmpeers at the
// repository root (or $REQUESTAGENT_NMPEERS), once per test process.

var (
	nmBuildOnce sync.Once
	nmBuildDir  string
	nmBuildErr  error
)

// NMDir builds the Native Messaging peers if needed and returns the
// directory holding them. Without omniORB it skips, or fails when
// Required, as Dir does.
func NMDir(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("omniidl"); err != nil {
		if Required() {
			t.Fatalf("omniORB is not installed (run scripts/install-omniorb.sh): %v", err)
		}
		t.Skip("omniORB not installed; run `make test` or scripts/install-omniorb.sh")
	}
	nmBuildOnce.Do(func() {
		nmBuildDir = os.Getenv("REQUESTAGENT_NMPEERS")
		if nmBuildDir == "" {
			nmBuildDir = filepath.Join(RepoRoot(), "build", "nmpeers")
		}
		cmd := exec.Command(filepath.Join(RepoRoot(), "testdata", "nm", "build.sh"), nmBuildDir)
		out, err := cmd.CombinedOutput()
		if err != nil {
			nmBuildErr = fmt.Errorf("building the Native Messaging peers: %v\n%s", err, out)
		}
	})
	if nmBuildErr != nil {
		t.Fatal(nmBuildErr)
	}
	return nmBuildDir
}

// StartNM runs Native Messaging peer name with args (see StartIn).
func StartNM(t testing.TB, name string, args ...string) *Process {
	t.Helper()
	return StartIn(t, NMDir(t), name, args...)
}

// StartIn runs program name from dir with args, like Start does for the
// interop peers: stdout lines are available through Line, Expect and Wait,
// stderr goes to Output only, and the process is killed when the test ends
// (its output is logged if the test failed).
func StartIn(t testing.TB, dir, name string, args ...string) *Process {
	t.Helper()
	cmd := exec.Command(filepath.Join(dir, name), args...)
	cmd.Env = append(os.Environ(), "OMNIORB_CONFIG=/dev/null")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &Process{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
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
