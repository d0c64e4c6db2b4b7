package benchsuite

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/internal/peers"
)

// TestMakeBench is `make bench`'s comparison: it runs the whole suite and
// rewrites the marked section of BENCHMARKS.md and docs/bench-latency.svg.
// It runs only with REQUESTAGENT_MAKE_BENCH=1 (a few minutes);
// REQUESTAGENT_BENCH_CELL (a duration, default 1.5s) sets the measured
// time per row. A row that fails is reported in the table, and fails the
// test after the files are written; no timing is asserted.
func TestMakeBench(t *testing.T) {
	if os.Getenv("REQUESTAGENT_MAKE_BENCH") != "1" {
		t.Skip("set REQUESTAGENT_MAKE_BENCH=1 (make bench) to run the comparison")
	}
	cfg := Config{Logf: t.Logf}
	if s := os.Getenv("REQUESTAGENT_BENCH_CELL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("REQUESTAGENT_BENCH_CELL=%q: %v", s, err)
		}
		cfg.Cell = d
	}
	root := peers.RepoRoot()
	m := ReadMachine(root)
	start := time.Now()
	rows := Run(t, cfg)
	m.Elapsed = time.Since(start)
	cfg.defaults()
	m.Cell = cfg.Cell

	const svgRel = "docs/bench-latency.svg"
	if err := os.MkdirAll(filepath.Join(root, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, svgRel), []byte(SVG(m, rows)), 0o644); err != nil {
		t.Fatal(err)
	}
	mdPath := filepath.Join(root, "BENCHMARKS.md")
	doc, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err = Update(doc, Markdown(m, rows, svgRel))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mdPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s and %s", mdPath, filepath.Join(root, svgRel))
	for _, r := range rows {
		if r.Err != "" {
			t.Errorf("%s conc=%d size=%d: %s", r.Key(), r.Conc, r.Size, r.Err)
		}
	}
}

// TestRun_Smoke runs every row of the suite with a few calls at two
// concurrencies: each client works and prints a BENCH line, and the
// report renders. Not a measurement.
func TestRun_Smoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts omniORB peers and agents")
	}
	rows := Run(t, Config{Concurrency: []int{1, 3}, Sizes: []int{0, 64}, Calls: 60, Logf: t.Logf})
	if len(rows) != 2*2*16 {
		t.Fatalf("%d rows, want 64", len(rows))
	}
	for _, r := range rows {
		// (r) measures a rate only: no latencies.
		timed := r.Path != PathRaw
		if r.Err != "" || r.Calls != 60 || r.PerSec <= 0 || (r.P50 > 0) != timed || r.P90 < r.P50 || r.P99 < r.P90 {
			t.Errorf("%s conc=%d size=%d: %+v", r.Key(), r.Conc, r.Size, r)
		}
		// Only agent rows have an agent (and (r) Badger) in this process,
		// and only C++ rows a client process. (The target's CPU is read in
		// 10 ms ticks, so a few calls may show none: not checked.)
		if (r.Path == PathAgent || r.Path == PathRaw) != (r.AgentCPU > 0) || (r.Client == ClientCxx) != (r.ClientCPU > 0) {
			t.Errorf("%s conc=%d size=%d: CPU per call agent %v, client %v", r.Key(), r.Conc, r.Size, r.AgentCPU, r.ClientCPU)
		}
	}
	m := ReadMachine(peers.RepoRoot())
	checkXML(t, SVG(m, rows))
	md := Markdown(m, rows, "x.svg")
	for _, want := range []string{"(c) agent, Go 2pi, durable", "(c) agent, Go send, durable", "(c) agent, C++ send, durable", "(c) agent, C++ 2pi suppressed, durable",
		"(c) agent, C++ 2pi, durable, TLS", "(r) raw batched Badger", "IIOP over mutual TLS against clear text"} {
		if !strings.Contains(md, want) {
			t.Fatalf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func fakeRows() []Row {
	var rows []Row
	for _, size := range []int{64, 16384} {
		for _, conc := range []int{1, 16, 64} {
			base := float64(conc) * 1000
			mk := func(path, client, model string, durable bool, f float64) Row {
				return Row{Path: path, Client: client, Model: model, Durable: durable, Conc: conc, Size: size,
					Calls: 1000, PerSec: base * f, P50: time.Duration(20*conc) * time.Microsecond,
					P90: time.Duration(30*conc) * time.Microsecond, P99: time.Duration(50*conc) * time.Microsecond}
			}
			rows = append(rows, mk(PathDirect, ClientCxx, ModelSync, false, 1), mk(PathAMI, ClientCxx, ModelAMIPoll, false, 0.5),
				mk(PathAgent, ClientCxx, ModelWaitReply, false, 0.25), mk(PathAgent, ClientGo, Model2PI, true, 0.1),
				mk(PathAgent, ClientGo, ModelSend, true, 0.2), Row{Path: PathRaw, Client: ClientGo, Model: ModelRecord,
					Durable: true, Conc: conc, Size: size, Calls: 1000, PerSec: base * 0.8})
			tls := mk(PathAgent, ClientCxx, ModelWaitReply, false, 0.2)
			tls.TLS, tls.AgentCPU = true, 50*time.Microsecond
			rows = append(rows, tls)
		}
	}
	rows[3].Err = "loadgen: 1 of 1000 calls failed | oops"
	rows[2].AgentCPU, rows[2].TargetCPU, rows[2].ClientCPU = 40*time.Microsecond, 25500*time.Nanosecond, 30*time.Microsecond
	return rows
}

func TestMarkdown(t *testing.T) {
	m := Machine{CPU: "Test CPU", Cores: 2, Kernel: "6.0", Go: "go1.26", OmniORB: "4.2.5", Commit: "`abc1234`",
		Date: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Load: "0.5", Elapsed: time.Minute, Cell: time.Second}
	rows := fakeRows()
	rows[0].Drift = 0.125
	md := Markdown(m, rows, "docs/x.svg")
	for _, want := range []string{
		"| 16 | (a) omniORB direct | 1,000 | 16,000 | +0% | 320 | 480 | 800 | 1.00 | 2.00 |",
		"| 1 | (a) omniORB direct | 1,000 | 1,000 | +12% | 20.0 |", // the first half faster
		"`Test CPU`, **2 cores**", "| Commit | `abc1234` |", "![Latency percentiles against concurrency](docs/x.svg)",
		"| C++ waitreply, not durable | 0.25 / 0.50 |", // ratios at a glance, 64 B conc 1
		"| 16 | (b) omniORB AMI | 1,000 | 8,000 | +0% | 320 | 480 | 800 | 0.50 | 1.00 |",
		"| 64 | (c) agent, C++ waitreply, not durable | 1,000 | 16,000 | +0% | 1,280 | 1,920 | 3,200 | 0.25 | 0.50 |",
		"| 1 | (c) agent, C++ waitreply, not durable | 1,000 | 250 | +0% | 20.0 | 30.0 | 50.0 | 0.25 | 0.50 | 40.0 · 25.5 · 30.0 |",
		"| 1 | (a) omniORB direct | 1,000 | 1,000 | +12% | 20.0 | 30.0 | 50.0 | 1.00 | 2.00 | – · – · – |",
		"| 1 | (c) agent, Go 2pi, durable | failed: loadgen: 1 of 1000 calls failed \\| oops |",
		"**Payload 16 KiB**",
		// Durable acknowledgements: (r) as records/s, durable 2PI and send rows over it.
		"| (r) raw batched Badger, a record per caller | 800 | 12,800 | 51,200 | 800 | 12,800 | 51,200 |",
		"| (c) agent, Go send, durable | 200 · 0.25 | 3,200 · 0.25 | 12,800 · 0.25 | 200 · 0.25 |",
		"| 16 | (r) raw batched Badger, a record per caller | 1,000 | 12,800 | +0% | – | – | – | – | – |",
		// TLS against its clear twin: calls/s ratio, agent CPU clear → TLS
		// (the twin's CPU is set at 64 B, conc 1 only).
		"| C++ waitreply, not durable, TLS | 0.80 · 40.0 → 50.0 | 0.80 · – → 50.0 |",
		"| 1 | (c) agent, C++ waitreply, not durable, TLS | 1,000 | 200 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestUpdate(t *testing.T) {
	doc := []byte("# B\n\nintro\n\n## Other\n\ntext\n")
	out, err := Update(doc, "one\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "# B\n\nintro\n\n## Other\n\ntext\n\n" + sectionHeading + "\n\n" + StartMarker + "\none\n" + EndMarker + "\n"
	if string(out) != want {
		t.Fatalf("appended:\n%s\nwant:\n%s", out, want)
	}
	out2, err := Update(out, "two\nlines\n")
	if err != nil {
		t.Fatal(err)
	}
	if want2 := strings.Replace(want, "one\n", "two\nlines\n", 1); string(out2) != want2 {
		t.Fatalf("replaced:\n%s\nwant:\n%s", out2, want2)
	}
	mid := []byte("a\n" + StartMarker + "\nold\n" + EndMarker + "\nafter\n")
	if out3, _ := Update(mid, "new\n"); string(out3) != "a\n"+StartMarker+"\nnew\n"+EndMarker+"\nafter\n" {
		t.Fatalf("kept the text around the markers wrongly:\n%s", out3)
	}
	for _, bad := range []string{StartMarker, EndMarker + StartMarker, StartMarker + EndMarker + StartMarker + EndMarker} {
		if _, err := Update([]byte(bad), "x\n"); err == nil {
			t.Errorf("Update(%q) accepted broken markers", bad)
		}
	}
}

func TestParseBench(t *testing.T) {
	m, err := parseBench("BENCH calls=5000 threads=16 size=64 ns_per_call=12500 p50_ns=150000 p99_ns=480000 p90_ns=290000")
	if err != nil {
		t.Fatal(err)
	}
	if m.calls != 5000 || m.perSec != 80000 || m.p50 != 150*time.Microsecond || m.p90 != 290*time.Microsecond || m.p99 != 480*time.Microsecond ||
		m.clientCPU != 0 {
		t.Fatalf("%+v", m)
	}
	// The client's CPU over its timed calls, when it says it.
	m, err = parseBench("BENCH calls=5000 threads=16 size=64 ns_per_call=12500 p50_ns=150000 p99_ns=480000 p90_ns=290000 cpu_ns=250000000")
	if err != nil || m.clientCPU != 250*time.Millisecond {
		t.Fatalf("%+v %v, want 250 ms of client CPU", m, err)
	}
	if _, err := parseBench("BENCH calls=1 ns_per_call=10 p50_ns=1 p90_ns=1 p99_ns=1 cpu_ns=x"); err == nil {
		t.Error("parseBench took a cpu_ns that is not a number")
	}
	for _, bad := range []string{"BENCH calls=1 ns_per_call=10 p50_ns=1 p99_ns=1", "BENCH calls=1 ns_per_call=0 p50_ns=1 p90_ns=1 p99_ns=1"} {
		if _, err := parseBench(bad); err == nil {
			t.Errorf("parseBench(%q) accepted it", bad)
		}
	}
}

func TestSVG_WellFormed(t *testing.T) {
	m := Machine{CPU: `A & B <"cpu">`, Cores: 2, Kernel: "6.0", Commit: "`abc`", Date: time.Now()}
	s := SVG(m, fakeRows())
	checkXML(t, s)
	if !strings.Contains(s, "A &amp; B &lt;&quot;cpu&quot;&gt;") || strings.Count(s, "<polyline") != 2*6*3 {
		t.Fatalf("SVG: %d polylines, or the CPU name unescaped:\n%s", strings.Count(s, "<polyline"), s)
	}
	checkXML(t, SVG(m, nil)) // no rows: still a document
}

func checkXML(t *testing.T, s string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}

// TestCombine: a row's halves add up as one measurement would — calls over
// both halves' wall time, CPU per call weighted by calls — and a failed
// half fails the row.
func TestCombine(t *testing.T) {
	a := Row{Path: PathAgent, Calls: 1000, PerSec: 1000, P50: 100 * time.Microsecond, P90: 200 * time.Microsecond,
		P99: 400 * time.Microsecond, AgentCPU: 30 * time.Microsecond, TargetCPU: 10 * time.Microsecond}
	b := Row{Path: PathAgent, Calls: 3000, PerSec: 500, P50: 300 * time.Microsecond, P90: 400 * time.Microsecond,
		P99: 800 * time.Microsecond, AgentCPU: 50 * time.Microsecond, TargetCPU: 20 * time.Microsecond}
	got := combine(a, b)
	// 1 s + 6 s for 4,000 calls.
	want := Row{Path: PathAgent, Calls: 4000, PerSec: 4000.0 / 7, Drift: 500 / (4000.0 / 7),
		P50: 200 * time.Microsecond, P90: 300 * time.Microsecond, P99: 600 * time.Microsecond,
		AgentCPU: 45 * time.Microsecond, TargetCPU: 17500 * time.Nanosecond}
	if math.Abs(got.PerSec-want.PerSec) > 1e-9 || math.Abs(got.Drift-want.Drift) > 1e-9 {
		t.Fatalf("PerSec %v Drift %v, want %v and %v", got.PerSec, got.Drift, want.PerSec, want.Drift)
	}
	got.PerSec, got.Drift = want.PerSec, want.Drift
	if got != want {
		t.Fatalf("combine:\n got %+v\nwant %+v", got, want)
	}
	b.Err = "second half failed"
	if got := combine(a, b); got.Err != b.Err {
		t.Fatalf("a failed half: %+v", got)
	}
}
