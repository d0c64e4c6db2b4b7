package attacks

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/giop"
)

// suite is one run of the attacks against one binary.
type suite struct {
	bin   string
	label string
	scale int
	help  string // the binary's --help, to know its flags

	mu   sync.Mutex
	rows []row
}

// has reports whether the binary takes the flag (the old release lacks
// some).
func (s *suite) has(flag string) bool {
	return strings.Contains(s.help, flag+" ") || strings.Contains(s.help, flag+",")
}

// n scales a size.
func (s *suite) n(base int) int { return base * s.scale }

func (s *suite) add(r row) {
	r.binary = s.label
	s.mu.Lock()
	s.rows = append(s.rows, r)
	s.mu.Unlock()
}

// run is one attack's agent, with a target for the bystander, the
// bystander itself and the sampler.
type run struct {
	t      *testing.T
	s      *suite
	p      *agentProc
	stock  *stock
	target *giop.IOR
	by     *bystander
	samp   *sampler
	idle   window
	during window
	first  figures
	peak   figures
	last   figures
	hwm    float64
	ended  bool
}

// start starts an agent with the flags, a StockManager for the bystander,
// the bystander (mode "waitreply" or "create") and the sampler, and
// measures one second of the bystander alone.
func (s *suite) start(t *testing.T, mode string, extra ...string) *run {
	return s.startIn(t, filepath.Join(t.TempDir(), "data"), nil, mode, extra...)
}

func (s *suite) startIn(t *testing.T, dataDir string, wrap []string, mode string, extra ...string) *run {
	t.Helper()
	r := &run{t: t, s: s}
	r.stock, r.target = startStock(t)
	r.p = newAgent(t, s.bin, dataDir, wrap, extra...)
	r.by = startBystander(t, r.p, r.target, mode)
	t.Cleanup(r.by.close)
	r.samp = r.p.startSampler()
	r.remarkIdle(time.Second)
	return r
}

// remarkIdle lets the bystander run alone for d and takes that as its
// idle figures (after an attack's set-up, say).
func (r *run) remarkIdle(d time.Duration) {
	r.by.mark()
	time.Sleep(d)
	r.idle = r.by.mark()
}

// attackDone closes the attack's window: the bystander's figures and the
// sampler's peaks so far.
func (r *run) attackDone() {
	if r.ended {
		return
	}
	r.ended = true
	r.during = r.by.mark()
	r.first, r.peak, r.last, r.hwm = r.samp.finish()
}

// again starts another phase of the attack on the same agent: a row of
// its own, with its own peaks.
func (r *run) again() {
	r.attackDone()
	r.ended = false
	r.samp = r.p.startSampler()
}

// cpu is the agent's CPU time over the attack's window, as a sentence.
func (r *run) cpu() string {
	a, b := r.first.values["process_cpu_seconds_total"], r.last.values["process_cpu_seconds_total"]
	if r.first.values == nil || r.last.values == nil || b < a {
		return ""
	}
	return fmt.Sprintf("; agent CPU %.1f s", b-a)
}

// row makes the table's row of the attack.
func (r *run) row(n, attack, attacker, outcome string) {
	r.attackDone()
	outcome += r.cpu()
	rw := row{n: n, attack: attack, binary: r.s.label, first: r.first, peak: r.peak, last: r.last, hwm: r.hwm,
		idle: r.idle, during: r.during, attacker: attacker, outcome: outcome}
	r.s.add(rw)
	r.t.Logf("\n%s\n%s", tableHeader, rw.markdown())
}

// note adds a row that is not a measurement (an attack that cannot run).
func (s *suite) note(n, attack, why string) {
	s.add(row{n: n, attack: attack, first: figures{-1, -1, -1, -1, nil}, peak: figures{-1, -1, -1, -1, nil},
		idle: window{lat: nil}, during: window{lat: nil}, attacker: "–", outcome: why})
}

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(runHelper(spec))
	}
	// Tens of thousands of connections at scale 10: raise the limit of
	// open files of this process, which the agents inherit.
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil && lim.Cur < 250_000 {
		want := syscall.Rlimit{Cur: 250_000, Max: max(lim.Max, 250_000)}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil {
			lim.Cur = lim.Max
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	code := m.Run()
	if code == 0 {
		// Every client, server and process of the attacks is closed by
		// its test's clean-up; idle admin connections are the only
		// goroutines meant to outlive them, and they are closed here.
		http.DefaultTransport.(*http.Transport).CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// buildWorktree builds the worktree's binary into dir.
func buildWorktree(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "requestagent")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/requestagent")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func (s *suite) table() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "\nAttacks against %s (scale %d), %s\n\n%s\n", s.bin, s.scale, time.Now().Format(time.DateTime), tableHeader)
	for _, r := range s.rows {
		b.WriteString(r.markdown())
		b.WriteByte('\n')
	}
	return b.String()
}
