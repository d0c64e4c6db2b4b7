package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
)

// TestClusterBench_LeaderLossTakeovers measures what sets the default
// --cluster-lease against the failover time (docs/cluster.md, "The
// lease"): how often an etcd leader's SIGKILL makes the owner give its
// ownership up, at a few leases. The owner stops once etcd has not
// answered its keep-alives for two thirds of the lease, and an election
// (1 s election timeout, randomised up to 2 s) can be that long. A
// measurement, run by make bench-cluster (REQUESTAGENT_MAKE_BENCH=1), not
// a test: it prints its figures. REQUESTAGENT_LEADER_KILLS sets the kills
// per lease (default 6).
func TestClusterBench_LeaderLossTakeovers(t *testing.T) {
	if os.Getenv("REQUESTAGENT_MAKE_BENCH") == "" {
		t.Skip("a measurement: REQUESTAGENT_MAKE_BENCH=1 (make bench-cluster)")
	}
	rounds := 6
	if n, err := strconv.Atoi(os.Getenv("REQUESTAGENT_LEADER_KILLS")); err == nil && n > 0 {
		rounds = n
	}
	for _, lease := range []string{"2s", "3s", "5s", "10s"} {
		etcd := etcdtest.StartProcs(t)
		start := func() *agentProc {
			port := peers.FreePort(t)
			a := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), stderr: &syncBuffer{}}
			a.run(t, "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", "127.0.0.1", "--admin", a.adminAddr,
				"--data-dir", t.TempDir(), "--cluster", strings.Join(etcd.Endpoints(), ","), "--cluster-lease", lease)
			waitReady(t, a)
			return a
		}
		a := start()
		losses := 0
		for range rounds {
			l := etcd.Leader()
			etcd.Kill(l)
			time.Sleep(4 * time.Second) // an election, and a lease's worth of keep-alives after it
			etcd.Start(l)
			etcd.WaitUp(l)
			time.Sleep(time.Second)
			if strings.Contains(a.stderr.String(), "ownership of the cluster's store is lost") {
				losses++
				a = start() // as systemd's Restart=on-failure does
			}
		}
		t.Logf("lease %s: %d of %d etcd leader SIGKILLs made the owner give its ownership up (a failover); load average %s",
			lease, losses, rounds, loadavg())
	}
}

// loadavg is /proc/loadavg's first three fields.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
