package clusterbench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/tools/benchsuite"
)

// TestClusterBench is `make bench`'s cluster rows: it measures and
// rewrites the marked sections of BENCHMARKS.md ("Cluster mode") and
// docs/cluster.md, and logs the table. It runs only with
// REQUESTAGENT_MAKE_BENCH=1 (about five minutes: twenty kills at the
// default 10 s lease are most of it); REQUESTAGENT_CLUSTER_CELL (a
// duration, default 4s) sets each throughput row's measured time,
// REQUESTAGENT_CLUSTER_KILLS (default 20) the kills per lease. A row that
// fails is reported in the table, and fails the test after the files are
// written; no figure is asserted.
func TestClusterBench(t *testing.T) {
	if os.Getenv("REQUESTAGENT_MAKE_BENCH") != "1" {
		t.Skip("set REQUESTAGENT_MAKE_BENCH=1 (make bench) to run the cluster rows")
	}
	cfg := Config{Logf: t.Logf}
	if s := os.Getenv("REQUESTAGENT_CLUSTER_CELL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("REQUESTAGENT_CLUSTER_CELL=%q: %v", s, err)
		}
		cfg.Cell = d
	}
	if s := os.Getenv("REQUESTAGENT_CLUSTER_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("REQUESTAGENT_CLUSTER_KILLS=%q: a positive number", s)
		}
		cfg.Kills = n
	}
	root := peers.RepoRoot()
	run := NewRun(root)
	start := time.Now()
	res := Measure(t, cfg)
	run.Finish(start, cfg)
	for _, f := range []struct{ path, section string }{
		{"BENCHMARKS.md", Markdown(run, res)},
		{"docs/cluster.md", Summary(run, res)},
	} {
		p := filepath.Join(root, f.path)
		doc, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if doc, err = Update(doc, f.section); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		if err := os.WriteFile(p, doc, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("wrote BENCHMARKS.md and docs/cluster.md:\n%s", Markdown(run, res))
	for _, r := range res.Rows {
		if r.Err != "" {
			t.Errorf("%s: %s", r.Setup, r.Err)
		}
	}
	for _, f := range res.Failovers {
		if f.Err != "" {
			t.Errorf("failover at %v: %s", f.Lease, f.Err)
		}
	}
}

// TestMeasure_Smoke runs every row briefly and one kill at the shortest
// lease: the processes start, the clients are acknowledged, the failover
// is seen, every CPU figure is read. Not a measurement.
func TestMeasure_Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd and agent processes")
	}
	res := Measure(t, Config{Cell: 600 * time.Millisecond, Kills: 1, Leases: []time.Duration{2 * time.Second}, Logf: t.Logf})
	if len(res.Rows) != 3 {
		t.Fatalf("%d rows, want 3", len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Err != "" || r.Calls == 0 || r.PerSec <= 0 || r.AgentCPU <= 0 {
			t.Errorf("%s: %+v, want acknowledgements and the agent's CPU", r.Setup, r)
		}
		if r.Commits <= 0 || r.Flushes <= 0 {
			t.Errorf("%s: no store commits or flushes read", r.Setup)
		}
		if r.Setup != SetupBadger && r.EtcdCPU <= 0 {
			t.Errorf("%s: no etcd CPU read", r.Setup)
		}
	}
	if len(res.Failovers) != 1 || res.Failovers[0].Err != "" || len(res.Failovers[0].Times) != 1 {
		t.Fatalf("failovers: %+v, want one kill measured", res.Failovers)
	}
	t.Log(Markdown(Run{Machine: benchsuite.Machine{Date: time.Now()}, Cell: 600 * time.Millisecond, Kills: 1}, res))
}

// TestQuantile: nearest rank over the failover times.
func TestQuantile(t *testing.T) {
	var f Failover
	for i := 20; i >= 1; i-- {
		f.Times = append(f.Times, time.Duration(i)*time.Second)
	}
	for q, want := range map[float64]time.Duration{0: time.Second, 0.5: 10 * time.Second, 0.99: 20 * time.Second, 1: 20 * time.Second} {
		if got := f.Quantile(q); got != want {
			t.Errorf("q=%v: %v, want %v", q, got, want)
		}
	}
	if (Failover{}).Quantile(0.5) != 0 {
		t.Error("no times: want 0")
	}
}

// TestReport: the tables and the aims' words from a made-up result, and
// Update between the markers.
func TestReport(t *testing.T) {
	res := Result{
		Rows: []Row{
			{Setup: SetupBadger, Agents: 1, Calls: 40000, PerSec: 10000, AgentCPU: 80 * time.Microsecond},
			{Setup: SetupEtcd1, Agents: 1, Calls: 16000, PerSec: 4000, AgentCPU: 120 * time.Microsecond, EtcdCPU: 90 * time.Microsecond,
				Commits: 2.5, Flushes: 0.125},
			{Setup: SetupEtcd3, Agents: 3, Err: "agent on 1 not ready\nits log"},
		},
		Failovers: []Failover{
			{Lease: cluster.DefaultTTL, Times: []time.Duration{9 * time.Second, 10 * time.Second}},
			{Lease: 2 * time.Second, Times: []time.Duration{2 * time.Second, 2500 * time.Millisecond}},
		},
	}
	run := Run{Machine: benchsuite.Machine{CPU: "test", Cores: 2, Date: time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)},
		LoadBefore: "1.00 0.50 0.20", LoadAfter: "2.00 1.00 0.50", Cell: 4 * time.Second, Kills: 2}
	md := Markdown(run, res)
	for _, want := range []string{
		"| single-node Badger | 10,000 | 1.00 |",
		"| cluster, 1 agent | 4,000 | 0.40 |",
		"120.0 · – · 90.0 | 2.50 · 0.125 |",
		"| " + SetupEtcd3 + " | failed: agent on 1 not ready |",
		"| " + cluster.DefaultTTL.String() + " (default) | 2 | 9.00 s | 9.00 s | 10.00 s | 10.00 s |",
		"| 2s | 2 | 2.00 s | 2.00 s | 2.50 s | 2.50 s |",
		"one agent ≥ 0.5 of Badger: 0.40, not met",
		"at the default " + cluster.DefaultTTL.String() + " lease: 10.00 s, not met",
		"at a 2s lease p99 2.50 s, met",
		"1.00 0.50 0.20 before the run, 2.00 1.00 0.50 after",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the section lacks %q:\n%s", want, md)
		}
	}
	sum := Summary(run, res)
	if !strings.Contains(sum, "cluster, 1 agent: 4,000 durable acknowledgements/s at 64 clients (0.40 of Badger)") ||
		!strings.Contains(sum, "at a 2s lease: p50 2.00 s, p99 2.50 s over 2 kills") {
		t.Errorf("summary:\n%s", sum)
	}
	doc := []byte("# B\n\nbefore\n" + StartMarker + "\nold\n" + EndMarker + "\nafter\n")
	got, err := Update(doc, "new\n")
	if err != nil || string(got) != "# B\n\nbefore\n"+StartMarker+"\nnew\n"+EndMarker+"\nafter\n" {
		t.Fatalf("Update: %q %v", got, err)
	}
	for _, bad := range []string{"no markers", EndMarker + StartMarker, StartMarker + StartMarker + EndMarker} {
		if _, err := Update([]byte(bad), "x"); err == nil {
			t.Errorf("Update(%q): want an error", bad)
		}
	}
}
