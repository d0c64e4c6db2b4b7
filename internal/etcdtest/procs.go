package etcdtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/syncbuf"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary is etcd's server built from this module's etcd (tools/etcd),
// once per test binary.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "requestagent-etcd")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "etcd")
		build := exec.Command("go", "build", "-o", binPath, "./tools/etcd")
		build.Dir = peers.RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build tools/etcd: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Procs is a real etcd cluster of three members, each a process of its
// own on loopback, which a test may SIGKILL and start again.
type Procs struct {
	t       testing.TB
	args    [][]string
	clients []string
	cmds    []*exec.Cmd
	logs    []*syncbuf.Buffer
}

// StartProcs starts a 3-member cluster of etcd processes, waits until
// every member answers, and kills them on cleanup.
func StartProcs(t testing.TB) *Procs {
	t.Helper()
	const n = 3
	bin := Binary(t)
	p := &Procs{t: t, cmds: make([]*exec.Cmd, n), logs: make([]*syncbuf.Buffer, n)}
	var peerURLs, initial []string
	for i := range n {
		peerURLs = append(peerURLs, fmt.Sprintf("http://127.0.0.1:%d", peers.FreePort(t)))
		p.clients = append(p.clients, fmt.Sprintf("http://127.0.0.1:%d", peers.FreePort(t)))
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peerURLs[i]))
	}
	for i := range n {
		p.args = append(p.args, []string{bin, "--name", fmt.Sprintf("m%d", i), "--data-dir", t.TempDir(),
			"--listen-peer-urls", peerURLs[i], "--initial-advertise-peer-urls", peerURLs[i],
			"--listen-client-urls", p.clients[i], "--advertise-client-urls", p.clients[i],
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", t.Name(),
			"--initial-cluster-state", "new", "--log-level", "error"})
		p.logs[i] = &syncbuf.Buffer{}
		p.Start(i)
	}
	t.Cleanup(func() {
		for i := range p.cmds {
			p.Kill(i)
		}
		if t.Failed() {
			for i, l := range p.logs {
				t.Logf("etcd member %d's log:\n%s", i, l.String())
			}
		}
	})
	for i := range n {
		p.WaitUp(i)
	}
	return p
}

// Start starts member i (again: its data directory keeps what it had).
func (p *Procs) Start(i int) {
	p.t.Helper()
	cmd := exec.Command(p.args[i][0], p.args[i][1:]...)
	cmd.Stdout, cmd.Stderr = p.logs[i], p.logs[i]
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start etcd member %d: %v", i, err)
	}
	p.cmds[i] = cmd
}

// Kill SIGKILLs member i, if it runs, and waits for it to end.
func (p *Procs) Kill(i int) {
	if cmd := p.cmds[i]; cmd != nil {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		p.cmds[i] = nil
	}
}

// Pid is member i's process id, or 0 while it does not run: for reading
// its CPU time from /proc (tools/clusterbench).
func (p *Procs) Pid(i int) int {
	if cmd := p.cmds[i]; cmd != nil && cmd.Process != nil {
		return cmd.Process.Pid
	}
	return 0
}

// Endpoints are the members' client URLs.
func (p *Procs) Endpoints() []string { return p.clients }

// status asks member i for its status.
func (p *Procs) status(i int) (*clientv3.StatusResponse, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: p.clients[i : i+1], DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return cli.Status(ctx, p.clients[i])
}

// WaitUp waits until member i answers and knows a leader.
func (p *Procs) WaitUp(i int) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if st, err := p.status(i); err == nil && st.Leader != 0 {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("etcd member %d not up within 60 s:\n%s", i, p.logs[i].String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Leader is the index of the member the others follow.
func (p *Procs) Leader() int {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for i := range p.clients {
			if p.cmds[i] == nil {
				continue
			}
			if st, err := p.status(i); err == nil && st.Leader == st.Header.MemberId {
				return i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatal("no etcd leader within 30 s")
	return -1
}
