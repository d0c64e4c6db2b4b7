package clusterbench

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/tools/benchsuite"
)

// Markers delimit the sections Update rewrites: the table in
// BENCHMARKS.md and the summary in docs/cluster.md.
const (
	StartMarker = "<!-- cluster-bench:start -->"
	EndMarker   = "<!-- cluster-bench:end -->"
)

// Aims for these rows (docs/cluster.md, "Measured").
const (
	aimRatio    = 0.5             // one agent's acknowledgements/s over Badger's
	aimFailover = 3 * time.Second // p99, at the default lease
)

// Run describes where and when a Result was measured.
type Run struct {
	Machine benchsuite.Machine
	// LoadBefore and LoadAfter are /proc/loadavg's 1, 5 and 15 minute
	// figures just before and just after the run: the other work on a
	// shared machine, which moves every figure.
	LoadBefore, LoadAfter string
	Elapsed               time.Duration
	Cell                  time.Duration
	Kills                 int
}

// NewRun reads the machine before a run; repo is the repository root.
func NewRun(repo string) Run {
	return Run{Machine: benchsuite.ReadMachine(repo), LoadBefore: loadAverage()}
}

// Finish records the end of the run.
func (r *Run) Finish(start time.Time, cfg Config) {
	cfg.defaults()
	r.LoadAfter, r.Elapsed, r.Cell, r.Kills = loadAverage(), time.Since(start), cfg.Cell, cfg.Kills
}

// ratio is row's rate over the Badger row's, 0 when either is missing.
func ratio(res Result, r Row) float64 {
	for _, b := range res.Rows {
		if b.Setup == SetupBadger && b.Err == "" && b.PerSec > 0 && r.Err == "" {
			return r.PerSec / b.PerSec
		}
	}
	return 0
}

func row(res Result, setup string) (Row, bool) {
	for _, r := range res.Rows {
		if r.Setup == setup && r.Err == "" {
			return r, true
		}
	}
	return Row{}, false
}

func failoverAt(res Result, lease time.Duration) (Failover, bool) {
	for _, f := range res.Failovers {
		if f.Lease == lease && f.Err == "" && len(f.Times) > 0 {
			return f, true
		}
	}
	return Failover{}, false
}

// Markdown renders BENCHMARKS.md's section, between the markers.
func Markdown(run Run, res Result) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := run.Machine
	w("_Written by `make bench` (`tools/clusterbench`, `TestClusterBench`) on %s; edits between the markers are overwritten._\n\n",
		m.Date.Format("2006-01-02 15:04 UTC"))
	w("| | |\n|---|---|\n")
	w("| CPU | `%s`, **%d cores**, shared by the clients, the agents and etcd's three members |\n", m.CPU, m.Cores)
	w("| Go, commit | %s, %s |\n", m.Go, m.Commit)
	w("| Load average (1, 5, 15 min) | %s before the run, %s after |\n", run.LoadBefore, run.LoadAfter)
	w("| Run | %s in all: each throughput row %v of sends in two halves (the rows in turn, then in reverse order), then %d owner kills per lease |\n\n",
		run.Elapsed.Round(time.Second), run.Cell, run.Kills)
	w("**Durable acknowledgements**, 64 Go clients, 64 B (`requestagent bench --model send`'s workload: a 2PI's send timed to its premature return, every reply pulled afterwards), ")
	w("each agent a `requestagent` process of its own; etcd three `tools/etcd` processes on loopback, fsync on:\n\n")
	w("| store | acks/s | of Badger | p50 | p99 | CPU µs per ack: serving agent · standbys · etcd (3 members) | store commits · transactions per ack |\n|---|---:|---:|---:|---:|---|---|\n")
	for _, r := range res.Rows {
		if r.Err != "" {
			w("| %s | failed: %s | | | | | |\n", r.Setup, oneLine(r.Err))
			continue
		}
		standby := "–"
		if r.Agents > 1 {
			standby = fmt.Sprintf("%.1f", us(r.StandbyCPU))
		}
		etcd := "–"
		if r.Setup != SetupBadger {
			etcd = fmt.Sprintf("%.1f", us(r.EtcdCPU))
		}
		rate := benchsuite.FmtInt(r.PerSec)
		if r.Errors > 0 {
			rate += fmt.Sprintf(" (and %d refused)", r.Errors)
		}
		w("| %s | %s | %.2f | %v | %v | %.1f · %s · %s | %.2f · %.3f |\n", r.Setup, rate, ratio(res, r),
			r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond), us(r.AgentCPU), standby, etcd,
			r.Commits, r.Flushes)
	}
	w("\nCluster mode has one owner at a time (docs/cluster.md): with three agents one serves and two wait as standbys, serving nothing. ")
	w("That row measures what the standbys cost the owner — their watch on the ownership key, their share of the cores — not a spread of the work.\n\n")
	w("**Failover**: three agents; the owner SIGKILLed with nothing in flight, then durable sends every 5 ms through one receiver reference ")
	w("(made through the agent reference, which carries the three addresses) until one is acknowledged; the killed agent started again as a standby, and the next kill at a random point of the new owner's keep-alive period (a third of the lease).\n\n")
	w("| `--cluster-lease` | kills | min | p50 | p99 | max |\n|---|---:|---:|---:|---:|---:|\n")
	for _, f := range res.Failovers {
		def := ""
		if f.Lease == cluster.DefaultTTL {
			def = " (default)"
		}
		if f.Err != "" {
			w("| %v%s | %d done, then failed: %s | | | | |\n", f.Lease, def, len(f.Times), oneLine(f.Err))
			continue
		}
		w("| %v%s | %d | %s | %s | %s | %s |\n", f.Lease, def, len(f.Times), fmtSec(f.Quantile(0)),
			fmtSec(f.Quantile(0.5)), fmtSec(f.Quantile(0.99)), fmtSec(f.Quantile(1)))
	}
	if run.Kills <= 100 {
		w("\nThe p99 is nearest-rank: of %d kills, the largest. ", run.Kills)
	} else {
		w("\nThe p99 is nearest-rank. ")
	}
	w("Aims (docs/cluster.md): %s; %s.\n", ratioAim(res), failoverAim(res))
	return b.String()
}

// Summary renders docs/cluster.md's measured lines, between the markers.
func Summary(run Run, res Result) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("_Written by `make bench` (`tools/clusterbench`) on %s, load average %s before the run; BENCHMARKS.md, \"Cluster mode\", has the whole table._\n\n",
		run.Machine.Date.Format("2006-01-02 15:04 UTC"), run.LoadBefore)
	for _, r := range res.Rows {
		if r.Err != "" {
			w("- %s: failed\n", r.Setup)
			continue
		}
		w("- %s: %s durable acknowledgements/s at 64 clients (%.2f of Badger), %.0f µs of agent CPU per ack", r.Setup, benchsuite.FmtInt(r.PerSec), ratio(res, r), us(r.AgentCPU))
		if r.Setup != SetupBadger {
			w(", %.0f µs of etcd's", us(r.EtcdCPU))
		}
		w("\n")
	}
	for _, f := range res.Failovers {
		if f.Err != "" || len(f.Times) == 0 {
			w("- failover at a %v lease: failed\n", f.Lease)
			continue
		}
		w("- failover (owner SIGKILLed → first acknowledgement through the same reference) at a %v lease: p50 %s, p99 %s over %d kills\n",
			f.Lease, fmtSec(f.Quantile(0.5)), fmtSec(f.Quantile(0.99)), len(f.Times))
	}
	w("\nAims: %s; %s.\n", ratioAim(res), failoverAim(res))
	return b.String()
}

func ratioAim(res Result) string {
	r, ok := row(res, SetupEtcd1)
	if !ok || ratio(res, r) == 0 {
		return fmt.Sprintf("one agent ≥ %.1f of Badger: not measured", aimRatio)
	}
	x := ratio(res, r)
	return fmt.Sprintf("one agent ≥ %.1f of Badger: %.2f, %s", aimRatio, x, met(x >= aimRatio))
}

func failoverAim(res Result) string {
	f, ok := failoverAt(res, cluster.DefaultTTL)
	if !ok {
		return fmt.Sprintf("failover p99 ≤ %v at the default lease: not measured", aimFailover)
	}
	p99 := f.Quantile(0.99)
	s := fmt.Sprintf("failover p99 ≤ %v at the default %v lease: %s, %s", aimFailover, cluster.DefaultTTL, fmtSec(p99), met(p99 <= aimFailover))
	if p99 > aimFailover {
		// Why, and what would: a standby deposes a SIGKILLed owner once
		// its address has refused connections and its lease gone
		// unrenewed for a third of the lease (cluster/standby), so no
		// failover is much shorter than a third of it, plus the new
		// owner's start (docs/cluster.md, "The lease").
		s += " (a standby deposes the dead owner after a third of its lease, its address refusing and its lease unrenewed that long, then starts: no failover at this lease is much shorter than a third of it"
		for _, g := range res.Failovers {
			if g.Lease < cluster.DefaultTTL && g.Err == "" && len(g.Times) > 0 {
				s += fmt.Sprintf("; at a %v lease p99 %s, %s", g.Lease, fmtSec(g.Quantile(0.99)), met(g.Quantile(0.99) <= aimFailover))
			}
		}
		s += ")"
	}
	return s
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// Update replaces what lies between the markers in doc with section. A
// document without the markers is an error: where the section goes is
// the document's to say.
func Update(doc []byte, section string) ([]byte, error) {
	s := string(doc)
	i, j := strings.Index(s, StartMarker), strings.Index(s, EndMarker)
	if i < 0 || j < i || strings.Count(s, StartMarker) != 1 || strings.Count(s, EndMarker) != 1 {
		return nil, errors.New("clusterbench: the document must hold each cluster-bench marker once, start before end")
	}
	return []byte(s[:i+len(StartMarker)] + "\n" + section + s[j:]), nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func fmtSec(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

// oneLine keeps a table cell on one line: an error's first line.
func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.ReplaceAll(s, "|", "/")
}
