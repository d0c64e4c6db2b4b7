package examples_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// The example programs, built and run for real: each against an
// in-process agent configured as `make run` configures it (no IDL, so
// suppressed mode is the client's doing), and the omniORB StockManager
// target of testdata/nm (a fresh one per test, so results are those of a
// new target). The Go StockManager is checked the same way.

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if built.dir != "" {
			os.RemoveAll(built.dir)
		}
	}))
}

var examples = []string{"polling", "grouppolling", "callback", "waitreply", "stockmanager"}

var built struct {
	once sync.Once
	dir  string
	err  error
	out  []byte
}

// bin builds the example programs once per test process and returns the
// path of one.
func bin(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the example programs")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "nm-examples-")
		if built.err != nil {
			return
		}
		goCmd, err := exec.LookPath("go")
		if err != nil {
			built.err = fmt.Errorf("the go command is not on PATH: %w", err)
			return
		}
		args := []string{"build", "-o", built.dir + string(filepath.Separator)}
		for _, e := range examples {
			args = append(args, "./examples/"+e)
		}
		cmd := exec.Command(goCmd, args...)
		cmd.Dir = peers.RepoRoot()
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("building the examples: %v\n%s", built.err, built.out)
	}
	return filepath.Join(built.dir, name)
}

// startAgent starts an agent as `make run` does, on a loopback port.
func startAgent(t *testing.T) *agent.Agent {
	t.Helper()
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// target is a StockManager process: its IOR, and its "served" lines.
type target struct {
	ior string
	p   *peers.Process
}

// omniTarget starts the omniORB StockManager (testdata/nm/stock_server).
func omniTarget(t *testing.T) *target {
	t.Helper()
	p := peers.StartNM(t, "stock_server", peers.Endpoint(peers.FreePort(t))...)
	return newTarget(t, p)
}

// goTarget starts the Go StockManager (examples/stockmanager).
func goTarget(t *testing.T) *target {
	t.Helper()
	b := bin(t, "stockmanager")
	p := peers.StartIn(t, filepath.Dir(b), filepath.Base(b), "-listen", "127.0.0.1:"+strconv.Itoa(peers.FreePort(t)))
	return newTarget(t, p)
}

func newTarget(t *testing.T, p *peers.Process) *target {
	t.Helper()
	ior := p.Line(t, 20*time.Second)
	if !strings.HasPrefix(ior, "IOR:") {
		t.Fatalf("the target's first line is not an IOR: %q", ior)
	}
	return &target{ior: ior, p: p}
}

// run runs an example program against the agent and target, and returns
// its output lines; it fails the test unless the program exits 0.
func run(t *testing.T, name string, a *agent.Agent, tg *target, flags ...string) []string {
	t.Helper()
	b := bin(t, name)
	args := append([]string{"-agent", a.Corbaloc(), "-target", tg.ior, "-timeout", "60s"}, flags...)
	p := peers.StartIn(t, filepath.Dir(b), filepath.Base(b), args...)
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(flags, " "), err, p.Output())
	}
	return lines
}

// TestExample_Polling: examples/polling against the omniORB target, in
// suppressed mode (the default; the agent has no IDL, so the client builds
// the zero values) and unsuppressed.
func TestExample_Polling(t *testing.T) {
	for _, mode := range []struct {
		flags               []string
		premature, premFind string
	}{
		{nil, "premature (suppressed FALSE)", `premature (suppressed FALSE "")`},
		{[]string{"-unsuppressed"}, "premature (REPLY_NOT_AVAILABLE)", "premature (REPLY_NOT_AVAILABLE)"},
	} {
		t.Run(strings.Join(append([]string{"default"}, mode.flags...), ""), func(t *testing.T) {
			a, tg := startAgent(t), omniTarget(t)
			peers.CheckLines(t, "polling", run(t, "polling", a, tg, mode.flags...), []string{
				"create_request_proxy -> RequestProxy",
				"the_receiver -> StockManager (typed receiver)",
				"add_stock ACME 100.5 -> " + mode.premature,
				"add_stock -> TRUE",
				"find_closest_symbol ACMA -> " + mode.premFind,
				"find_closest_symbol -> TRUE ACME",
				"destroyed",
			})
			peers.CheckLines(t, "stock_server", tg.p.Served(t, 2), []string{
				"add_stock ACME -> TRUE",
				"find_closest_symbol ACMA -> TRUE ACME",
			})
		})
	}
}

// TestExample_GroupPolling: examples/grouppolling against the omniORB
// target. The agent delegates the two requests concurrently, so the pull
// lines come in reply order and find_closest_symbol prints whatever the
// target answered.
func TestExample_GroupPolling(t *testing.T) {
	a, tg := startAgent(t), omniTarget(t)
	got := run(t, "grouppolling", a, tg)
	served := tg.p.Served(t, 2)
	find := peers.StockPair(t, served)
	if len(got) != 8 {
		t.Fatalf("grouppolling printed %d lines, want 8:\n  %s", len(got), strings.Join(got, "\n  "))
	}
	peers.CheckLines(t, "grouppolling", got[:4], []string{
		"create_request_proxy -> RequestProxy",
		"the_receiver -> StockManager (typed receiver)",
		"tag 0: add_stock ACME 100.5 -> premature",
		"tag 1: find_closest_symbol ACMA -> premature",
	})
	peers.CheckLines(t, "grouppolling pulls", slices.Sorted(slices.Values(got[4:6])), []string{
		"tag 0: add_stock -> TRUE",
		"tag 1: find_closest_symbol -> " + find,
	})
	peers.CheckLines(t, "grouppolling", got[6:], []string{"poll -> PollingGroupIsEmpty", "destroyed"})
}

// TestExample_Callback: examples/callback against the omniORB target, its
// recipient on a loopback port and over a bidirectional connection.
func TestExample_Callback(t *testing.T) {
	for _, mode := range []struct{ flag, line string }{
		{"", "recipient -> loopback port"},
		{"-bidir", "recipient -> bidirectional connection"},
	} {
		t.Run("mode"+mode.flag, func(t *testing.T) {
			a, tg := startAgent(t), omniTarget(t)
			var flags []string
			if mode.flag != "" {
				flags = append(flags, mode.flag)
			}
			got := run(t, "callback", a, tg, flags...)
			served := tg.p.Served(t, 2)
			find := peers.StockPair(t, served)
			if len(got) != 8 {
				t.Fatalf("callback printed %d lines, want 8:\n  %s", len(got), strings.Join(got, "\n  "))
			}
			peers.CheckLines(t, "callback", got[:4], []string{
				mode.line,
				"create_request_proxy -> RequestProxy",
				"add_stock ACME 100.5 -> premature",
				"find_closest_symbol ACMA -> premature",
			})
			// Two callbacks, each two lines, in reply order.
			pairs := []string{got[4] + " / " + got[5], got[6] + " / " + got[7]}
			peers.CheckLines(t, "callbacks", slices.Sorted(slices.Values(pairs)), []string{
				"reply_available op=add_stock cookie=add stock / pulled add_stock -> TRUE",
				"reply_available op=find_closest_symbol cookie=find symbol / pulled find_closest_symbol -> " + find,
			})
		})
	}
}

// waitReplyLines is what examples/waitreply prints, whichever target.
var waitReplyLines = []string{
	"create_request_proxy WaitReply=TRUE -> RequestProxy",
	"add_stock FAST -> TRUE (mature)",
	"add_stock SLOW1500 -> premature (evolved into 2PI)",
	"add_stock SLOW1500 -> TRUE (mature)",
}

// TestExample_WaitReply: examples/waitreply against the omniORB target: a
// mature return, and one that evolves into a 2PI.
func TestExample_WaitReply(t *testing.T) {
	a, tg := startAgent(t), omniTarget(t)
	peers.CheckLines(t, "waitreply", run(t, "waitreply", a, tg), waitReplyLines)
	peers.CheckLines(t, "stock_server", tg.p.Served(t, 2), []string{
		"add_stock FAST -> TRUE",
		"add_stock SLOW1500 -> TRUE",
	})
}

// TestExample_GoStockManager: examples/stockmanager serves as the omniORB
// target does, reached by IOR and by corbaloc (the examples' default
// target form).
func TestExample_GoStockManager(t *testing.T) {
	a, tg := startAgent(t), goTarget(t)
	peers.CheckLines(t, "waitreply", run(t, "waitreply", a, tg), waitReplyLines)
	ior, err := giop.ParseIOR(tg.ior)
	if err != nil {
		t.Fatal(err)
	}
	prof, err := ior.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	loc := fmt.Sprintf("corbaloc:iiop:1.2@%s:%d/%s", prof.Host, prof.Port, stock.ObjectKey)
	lines := run(t, "polling", a, &target{ior: loc, p: tg.p}, "-unsuppressed")
	peers.CheckLines(t, "polling", lines[len(lines)-3:], []string{
		"find_closest_symbol ACMA -> premature (REPLY_NOT_AVAILABLE)",
		"find_closest_symbol -> TRUE ACME",
		"destroyed",
	})
	peers.CheckLines(t, "stockmanager", tg.p.Served(t, 4), []string{
		"add_stock FAST -> TRUE",
		"add_stock SLOW1500 -> TRUE",
		"add_stock ACME -> TRUE",
		"find_closest_symbol ACMA -> TRUE ACME",
	})
}
