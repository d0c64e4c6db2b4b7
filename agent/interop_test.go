package agent_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// Native Messaging's three example programs, for real: omniORB C++ clients
// (testdata/nm) go through an in-process agent to an omniORB C++
// StockManager target, and print the target's real results.

// seedEnv is the omniORB stock_server and an agent in front of it.
type seedEnv struct {
	dir    string
	server *peers.Process
	target string // the stock_server's IOR
	agent  *agent.Agent
}

func newSeedEnv(t *testing.T) *seedEnv {
	t.Helper()
	e := &seedEnv{dir: peers.NMDir(t)}
	e.server = peers.StartIn(t, e.dir, "stock_server", peers.Endpoint(peers.FreePort(t))...)
	e.target = e.server.Line(t, 20*time.Second)
	if !strings.HasPrefix(e.target, "IOR:") {
		t.Fatalf("stock_server's first line is not an IOR: %q", e.target)
	}
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	e.agent = a
	return e
}

// run runs a client with flags, the agent's IOR and the target's IOR, and
// returns its stdout lines; it fails the test unless it exits 0 with PASS.
func (e *seedEnv) run(t *testing.T, client string, flags ...string) []string {
	t.Helper()
	args := append(flags, e.agent.IOR().String(), e.target)
	p := peers.StartIn(t, e.dir, client, args...)
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("%s failed (%v):\n%s", client, err, p.Output())
	}
	return lines
}

// TestSeedExample_AgentWireConstantsMatchIDL: the C++ clients take the wire
// constants from idl/NativeMessaging.idl (omniidl); the agent takes them
// from nmproto. They must be the same numbers.
func TestSeedExample_AgentWireConstantsMatchIDL(t *testing.T) {
	r := idl.NewRepository()
	if err := r.LoadFile(filepath.Join(peers.RepoRoot(), "idl", "NativeMessaging.idl"), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		idlName string
		goName  string
		agent   uint32
	}{
		{"NativeMessaging::NMService", "nmproto.ServiceID", nmproto.ServiceID},
		{"NativeMessaging::TAG_NM_REF", "nmproto.TagNMRef", nmproto.TagNMRef},
		{"NativeMessaging::REPLY_NOT_AVAILABLE", "nmproto.ReplyNotAvailable", nmproto.ReplyNotAvailable},
	} {
		k, ok := r.Const(c.idlName)
		if !ok {
			t.Errorf("%s is not in idl/NativeMessaging.idl", c.idlName)
			continue
		}
		if v := fmt.Sprint(k.Value); v != fmt.Sprint(c.agent) {
			t.Errorf("%s = %#x in idl/NativeMessaging.idl, but the agent uses %s = %#x: "+
				"IDL-compiled clients and the agent do not understand each other", c.idlName, k.Value, c.goName, c.agent)
		}
	}
}

// TestSeedExample_PollingClient: a plain omniORB client (no NMService
// context) uses create_request request objects in polling group "demo":
// NO_RESPONSE/REPLY_NOT_AVAILABLE until the reply is there, then the
// target's real result; the replies read are trashed.
func TestSeedExample_PollingClient(t *testing.T) {
	e := newSeedEnv(t)
	got := e.run(t, "polling_client")
	peers.CheckLines(t, "polling_client", got, peers.PollingTranscript())
	peers.CheckLines(t, "stock_server", e.server.Served(t, 2), []string{
		"add_stock ACME -> TRUE",
		"find_closest_symbol ACMA -> TRUE ACME",
	})
}

// TestSeedExample_GroupPollingClient: an NM-aware omniORB client tags two
// requests on a proxy's typed receiver, polls the proxy until
// PollingGroupIsEmpty, pulling each reply from its poller, then destroys
// the proxy.
func TestSeedExample_GroupPollingClient(t *testing.T) {
	e := newSeedEnv(t)
	got := e.run(t, "group_client")
	served := e.server.Served(t, 2)
	// The agent delegates the two requests concurrently, so the target may
	// run find_closest_symbol before add_stock; the client must print
	// whatever the target answered.
	find := peers.StockPair(t, served)
	if find != "TRUE ACME" {
		t.Logf("the target ran find_closest_symbol before add_stock: %s", find)
	}
	if len(got) != 9 {
		t.Fatalf("group_client printed %d lines, want 9:\n  %s", len(got), strings.Join(got, "\n  "))
	}
	peers.CheckLines(t, "group_client", got[:4], []string{
		"create_request_proxy -> RequestProxy",
		"the_receiver -> StockManager (typed receiver)",
		"tag 0: add_stock -> premature (REPLY_NOT_AVAILABLE)",
		"tag 1: find_closest_symbol -> premature (REPLY_NOT_AVAILABLE)",
	})
	pulls := slices.Sorted(slices.Values(got[4:6])) // in the order poll reported the tags
	peers.CheckLines(t, "group_client", pulls, []string{
		"tag 0: add_stock -> TRUE",
		"tag 1: find_closest_symbol -> " + find,
	})
	peers.CheckLines(t, "group_client", got[6:], []string{
		"poll -> PollingGroupIsEmpty",
		"destroyed",
		"PASS",
	})
}

// TestSeedExample_WaitReply: with WaitReply, a fast call returns mature
// within its wait_timeout; a slow one evolves into a 2PI, and its poller
// then gives the real result.
func TestSeedExample_WaitReply(t *testing.T) {
	e := newSeedEnv(t)
	got := e.run(t, "waitreply_client")
	peers.CheckLines(t, "waitreply_client", got, []string{
		"create_request_proxy WaitReply=TRUE -> RequestProxy",
		"add_stock FAST -> TRUE (mature)",
		"add_stock SLOW1500 -> premature (evolved into 2PI)",
		"add_stock SLOW1500 -> TRUE (mature)",
		"PASS",
	})
	peers.CheckLines(t, "stock_server", e.server.Served(t, 2), []string{
		"add_stock FAST -> TRUE",
		"add_stock SLOW1500 -> TRUE",
	})
}
