package agent_test

import (
	"context"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
)

// TestStart_ServesAGivenListener: an agent given an open listener (as a
// cluster standby's front gives its own on) serves it, publishes its
// port, and a client that connected before the agent started is served;
// the cluster's metrics given to it are on its metrics handler.
func TestStart_ServesAGivenListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	early, err := net.Dial("tcp", ln.Addr().String()) // waits in the backlog
	if err != nil {
		t.Fatal(err)
	}
	early.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "requestagent_test_cluster_gauge", Help: "a test's"}))
	a, err := agent.Start(agent.Config{Listener: ln, Listen: "127.0.0.1:1", Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Port() != ln.Addr().(*net.TCPAddr).Port {
		t.Fatalf("the agent publishes port %d, want the given listener's %d", a.Port(), ln.Addr().(*net.TCPAddr).Port)
	}
	cl := giop.NewClient(nil)
	defer cl.Close()
	if _, err := cl.Invoke(context.Background(), a.IOR(), &giop.Invocation{Operation: "_non_existent"}); err != nil {
		t.Fatalf("a call on the given listener: %v", err)
	}
	if _, ok := scrapeMetric(t, a, "requestagent_test_cluster_gauge"); !ok {
		t.Error("the metrics given in Config.Metrics are not served")
	}
}
