package benchsuite

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// Markers delimit the section of BENCHMARKS.md that Update rewrites.
const (
	StartMarker = "<!-- make-bench:start -->"
	EndMarker   = "<!-- make-bench:end -->"
)

// sectionHeading precedes the markers when Update appends the section.
const sectionHeading = "## `make bench`: omniORB direct, omniORB AMI and the agent"

// Machine describes where and what was measured.
type Machine struct {
	CPU     string // model name from /proc/cpuinfo
	Cores   int    // runtime.NumCPU
	Kernel  string
	Go      string
	OmniORB string
	Commit  string // short hash, "+ uncommitted changes" when the tree is dirty
	Date    time.Time
	// Load is the 1-minute load average just before the run (other work
	// on the machine; during the run the callers themselves raise it).
	Load    string
	Elapsed time.Duration // the whole run
	Cell    time.Duration // measured time aimed at per row (0: fixed counts)
}

// ReadMachine fills what can be read before a run; repo is the
// repository root (for the commit).
func ReadMachine(repo string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC(),
		CPU: "unknown", Kernel: "unknown", OmniORB: "unknown", Commit: "unknown", Load: LoadAverage()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("pkg-config", "--modversion", "omniORB4").Output(); err == nil {
		m.OmniORB = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = "`" + strings.TrimSpace(string(out)) + "`"
		if st, err := exec.Command("git", "-C", repo, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
			m.Commit += " + uncommitted changes"
		}
	}
	return m
}

// LoadAverage returns the 1-minute load average, or "?".
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// Markdown renders the section that goes between the markers: the
// machine, what the rows are, ratios at a glance, a link to the plot
// (svgPath, relative to BENCHMARKS.md) and a table per payload.
func Markdown(m Machine, rows []Row, svgPath string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("_Written by `make bench` (`tools/benchsuite`, `TestMakeBench`) on %s; edits between the markers are overwritten._\n\n",
		m.Date.Format("2006-01-02 15:04 MST"))
	w("| | |\n|---|---|\n")
	w("| CPU | `%s`, **%d cores** (`runtime.NumCPU`) |\n", m.CPU, m.Cores)
	w("| Kernel | %s |\n", m.Kernel)
	w("| Go, omniORB | %s, omniORB %s (C++ peers built with `g++ -O2`) |\n", m.Go, m.OmniORB)
	w("| Commit | %s |\n", m.Commit)
	w("| Load average (1 min) | %s just before the run |\n", m.Load)
	run := fmt.Sprintf("%d rows in %s", len(rows), m.Elapsed.Round(time.Second))
	if m.Cell > 0 {
		run += fmt.Sprintf("; each row sized by a pilot run to about %s of calls", m.Cell)
	}
	w("| Run | %s |\n\n", run)

	w("The workload is Demo::Echo `echoBlob` (`testdata/interop/demo.idl`) on the omniORB\n")
	w("`echo_server`, everything on 127.0.0.1, client, agent and target sharing the cores.\n")
	w("`conc` callers each make one call after the other.\n\n")
	w("* **(a) omniORB direct**: `echo_client --bench`, a synchronous twoway per call. The ceiling.\n")
	w("* **(b) omniORB AMI**: `testdata/bench/ami_client`, `sendp_echoBlob` then `echoBlob(timeout ∞)`\n")
	w("  on the returned Poller (`omniidl -bcxx -Wbami`): the standard CORBA asynchronous call, not durable.\n")
	w("* **(c) agent**: a fresh in-process agent per row (`agent.Start`, store on disk in a temp\n")
	w("  directory; *durable* flushes each group commit), each caller with its own request proxy;\n")
	w("  `blockingTimeout` 30 s, so a send that finds its target's queue full waits for room.\n")
	w("  `waitreply`: a WaitReply proxy, wait_timeout 30 s, the mature result in the same call.\n")
	w("  `2pi`: a premature return (poller), then a pull with wait_timeout forever: two round trips;\n")
	w("  unsuppressed (`NO_RESPONSE`), and for C++ also `2pi suppressed` (a normal reply with zero\n")
	w("  values, VisiBroker's default; the agent has demo.idl).\n")
	w("  **C++**: `testdata/bench/nm_bench_client` (NM-aware omniORB, the shipped runtime `clients/cpp`),\n")
	w("  its pulls send an empty blob. **Go**: `loadgen.Run` in the agent's process (one Go\n")
	w("  runtime for both), its pulls resend the payload.\n")
	w("  `send` (durable): each call is a 2PI's send only, timed to its premature return — the\n")
	w("  agent's acknowledgement that the request is on disk; every reply is pulled after the timed\n")
	w("  part (its CPU is in the row's, its time is not).\n")
	w("  **TLS**: the C++ `waitreply` and durable `2pi` rows again with the client on IIOP over\n")
	w("  mutual TLS: the agent serves TLS only (TLS 1.3, a client certificate required) and its\n")
	w("  references carry `TAG_SSL_SEC_TRANS`; the client is `nm_bench_client_tls`, the same program\n")
	w("  linked with omniORB's SSL transport. The target stays in clear, so only the client's hop differs.\n")
	w("* **(r) raw batched Badger**: no agent, no network: `conc` goroutines each write one record\n")
	w("  (payload + 192 B, so 256 B for 64 B payloads, as in the performance anchors) and wait until\n")
	w("  it is durable; a plain loop commits all that wait in one `SyncWrites` transaction\n")
	w("  (`rawbadger.ClientWriteRate`, on the same disk). Its calls/s are records/s.\n")
	w("* Every C++ client runs with `-ORBmaxGIOPConnectionPerServer conc -ORBverifyObjectExistsAndType 0`\n")
	w("  (a connection per caller; no LocateRequest before the first call on each new poller),\n")
	w("  and each of its threads makes 10 untimed calls first.\n")
	w("* Each row is measured in two halves: all the rows of its conc and payload in the order\n")
	w("  below, then all again in reverse order, so that the machine's drift during the run (a\n")
	w("  shared VM's speed moves by up to a third) weighs alike on every row. calls/s is all calls\n")
	w("  ÷ both halves' wall time; p50/p90/p99 are per-call latencies, the mean of the halves';\n")
	w("  *drift* is the first half's calls/s less the second's, over the row's: how far to trust\n")
	w("  its last digits. ÷ (a) and ÷ (b) are the row's calls/s over those of (a) and (b) at the\n")
	w("  same conc and payload. One run on a small shared VM: read ratios and orders of magnitude.\n")
	w("* CPU µs/call is each process's user+system CPU time ÷ measured calls: the agent's (this test\n")
	w("  process; for Go rows it holds the Go client too; for (r), Badger) and the omniORB target's\n")
	w("  over the client's whole run (start-up and warm-up included); the C++ client's over its timed\n")
	w("  calls alone (it reports its own, getrusage from its clock's start to its end). On 2 cores the\n")
	w("  three share, the sum bounds calls/s; it varies less between runs than calls/s does.\n\n")

	if svgPath != "" {
		w("![Latency percentiles against concurrency](%s)\n\n", svgPath)
	}

	concs, sizes := axes(rows)
	w("**Ratios at a glance**: calls/s ÷ (a) direct / ÷ (b) AMI.\n\n")
	grid(&b, rows, concs, sizes, "(c) row", func(key string) (string, bool) {
		return strings.TrimPrefix(key, "(c) agent, "), strings.HasPrefix(key, "(c)")
	}, func(r Row) string {
		return fmtRatio(ratio(rows, r, PathDirect)) + " / " + fmtRatio(ratio(rows, r, PathAMI))
	})

	w("**Durable acknowledgements against raw batched Badger** (the goal: durable 2PI ≥ 0.8 of (r)):\n")
	w("the rows' calls/s, and ÷ (r) at the same conc and payload.\n\n")
	grid(&b, rows, concs, sizes, "row", func(key string) (string, bool) {
		return key, strings.HasPrefix(key, "(r)") || strings.HasPrefix(key, "(c)") && strings.HasSuffix(key, ", durable") &&
			(strings.Contains(key, " 2pi,") || strings.Contains(key, " send,"))
	}, func(r Row) string {
		if r.Path == PathRaw {
			return FmtInt(r.PerSec)
		}
		return FmtInt(r.PerSec) + " · " + fmtRatio(ratio(rows, r, PathRaw))
	})

	w("**IIOP over mutual TLS against clear text** (the aim: ≥ 0.8): the TLS row's calls/s ÷ its\n")
	w("clear-text twin's, and the agent's CPU µs per call, clear → TLS.\n\n")
	grid(&b, rows, concs, sizes, "row", func(key string) (string, bool) {
		return strings.TrimPrefix(key, "(c) agent, "), strings.HasSuffix(key, ", TLS")
	}, func(r Row) string {
		c, ok := clearTwin(rows, r)
		if !ok {
			return "–"
		}
		return fmtRatio(r.PerSec/c.PerSec) + " · " + fmtCPUTime(c.AgentCPU) + " → " + fmtCPUTime(r.AgentCPU)
	})

	for _, s := range sizes {
		w("**Payload %s**\n\n", sizeName(s))
		w("| conc | row | calls | calls/s | drift | p50 (µs) | p90 (µs) | p99 (µs) | ÷ (a) | ÷ (b) | CPU µs/call: agent · target · client |\n")
		w("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
		for _, c := range concs {
			for _, r := range rows {
				if r.Size != s || r.Conc != c {
					continue
				}
				if r.Err != "" {
					w("| %d | %s | failed: %s | | | | | | | | |\n", c, r.Key(), strings.ReplaceAll(r.Err, "|", "\\|"))
					continue
				}
				toA, toB := ratio(rows, r, PathDirect), ratio(rows, r, PathAMI)
				if r.Path == PathRaw {
					toA, toB = 0, 0 // records are not calls
				}
				w("| %d | %s | %s | %s | %+.0f%% | %s | %s | %s | %s | %s | %s |\n", c, r.Key(), FmtInt(float64(r.Calls)), FmtInt(r.PerSec),
					100*r.Drift, fmtUs(r.P50), fmtUs(r.P90), fmtUs(r.P99), fmtRatio(toA), fmtRatio(toB), fmtCPU(r))
			}
		}
		w("\n")
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

// grid writes a table with a column per payload and concurrency (axes) and a
// line per series that include accepts (under the label it returns), each
// cell what cell says of the series' row there ("–" where it is missing or
// failed).
func grid(b *strings.Builder, rows []Row, concs, sizes []int, head string, include func(key string) (string, bool), cell func(Row) string) {
	fmt.Fprintf(b, "| %s |", head)
	for _, s := range sizes {
		for _, c := range concs {
			fmt.Fprintf(b, " %s, conc %d |", sizeName(s), c)
		}
	}
	b.WriteString("\n|---|")
	for range len(sizes) * len(concs) {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, key := range keys(rows) {
		label, ok := include(key)
		if !ok {
			continue
		}
		fmt.Fprintf(b, "| %s |", label)
		for _, s := range sizes {
			for _, c := range concs {
				if r, ok := find(rows, key, c, s); ok && r.Err == "" {
					fmt.Fprintf(b, " %s |", cell(r))
				} else {
					b.WriteString(" – |")
				}
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// Update replaces what lies between the markers in doc with section, or
// appends a heading, the markers and section when doc has no markers.
func Update(doc []byte, section string) ([]byte, error) {
	s := string(doc)
	i, j := strings.Index(s, StartMarker), strings.Index(s, EndMarker)
	switch {
	case i < 0 && j < 0:
		s = strings.TrimRight(s, "\n") + "\n\n" + sectionHeading + "\n\n" + StartMarker + "\n" + section + EndMarker + "\n"
		return []byte(s), nil
	case i < 0 || j < 0 || j < i || strings.Count(s, StartMarker) != 1 || strings.Count(s, EndMarker) != 1:
		return nil, errors.New("benchsuite: BENCHMARKS.md must hold each make-bench marker once, start before end")
	}
	return []byte(s[:i+len(StartMarker)] + "\n" + section + s[j:]), nil
}

// axes returns the concurrencies and sizes present, in first-seen order.
func axes(rows []Row) (concs, sizes []int) {
	seenC, seenS := map[int]bool{}, map[int]bool{}
	for _, r := range rows {
		if !seenC[r.Conc] {
			seenC[r.Conc] = true
			concs = append(concs, r.Conc)
		}
		if !seenS[r.Size] {
			seenS[r.Size] = true
			sizes = append(sizes, r.Size)
		}
	}
	return concs, sizes
}

// keys returns the series keys in first-seen order.
func keys(rows []Row) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range rows {
		if k := r.Key(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func find(rows []Row, key string, conc, size int) (Row, bool) {
	for _, r := range rows {
		if r.Key() == key && r.Conc == conc && r.Size == size {
			return r, true
		}
	}
	return Row{}, false
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func fmtRatio(x float64) string {
	if x <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", x)
}

func fmtUs(d time.Duration) string {
	if d <= 0 {
		return "–" // not measured
	}
	u := us(d)
	if u >= 100 {
		return FmtInt(u)
	}
	return fmt.Sprintf("%.1f", u)
}

// FmtInt rounds x and groups thousands with commas, as every table of
// BENCHMARKS.md does (tools/clusterbench's too).
func FmtInt(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtCPU formats a row's CPU per call, agent · target · client, with –
// for a process the row does not have.
func fmtCPU(r Row) string {
	return fmtCPUTime(r.AgentCPU) + " · " + fmtCPUTime(r.TargetCPU) + " · " + fmtCPUTime(r.ClientCPU)
}

// fmtCPUTime formats CPU time per call in µs, – when not measured.
func fmtCPUTime(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f", us(d))
}
