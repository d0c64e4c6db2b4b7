package agent_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/internal/peers"
)

// TestSeedExample_TargetOutsideThePolicy: omniORB's own clients, asking
// an agent whose target policy denies the omniORB StockManager's address,
// get NO_PERMISSION with minor TARGET_NOT_ALLOWED, completed NO, from
// create_request and create_request_proxy — as the C++ mapping raises it —
// nothing is stored, and the target is never called.
func TestSeedExample_TargetOutsideThePolicy(t *testing.T) {
	dir := peers.NMDir(t)
	port := peers.FreePort(t)
	server := peers.StartIn(t, dir, "stock_server", peers.Endpoint(port)...)
	target := server.Line(t, 20*time.Second)
	if !strings.HasPrefix(target, "IOR:") {
		t.Fatalf("stock_server's first line is not an IOR: %q", target)
	}
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second,
		TargetPolicy: agent.TargetPolicy{Deny: []string{fmt.Sprintf("127.0.0.1:%d", port)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	// The clients print the exception and exit 1 (testdata/nm/demo_util.hh).
	want := "FAIL: unexpected exception NO_PERMISSION minor=0x4e4d0017 completed=NO"
	for _, client := range []string{"polling_client", "group_client"} {
		p := peers.StartIn(t, dir, client, a.IOR().String(), target)
		lines, err := p.Wait(t, 90*time.Second)
		if err == nil || len(lines) == 0 || lines[len(lines)-1] != want {
			t.Errorf("%s (%v) printed:\n%s\nwant its last line %q", client, err, p.Output(), want)
		}
	}
	if n, m := len(a.Requests()), len(a.Proxies()); n != 0 || m != 0 {
		t.Fatalf("%d requests and %d proxies stored, want none", n, m)
	}
	if out := server.Output(); strings.Contains(out, "served ") {
		t.Fatalf("the denied target was called:\n%s", out)
	}
}
