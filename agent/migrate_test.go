package agent_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// Applications compiled against VisiBroker's NativeMessaging IDL, whose
// #pragma prefix and InvalidProperty scope are not published
// (docs/migrating.md): the agent is told both, and then hands out and
// raises the ids those applications have.

// TestMigration_PrefixedClient: the omniORB group client compiled against
// NativeMessaging.idl under #pragma prefix "vendor.example" — its narrow
// asks _is_a with the prefixed id, and it catches PollingGroupIsEmpty by
// its prefixed id — passes through an agent configured with that prefix.
func TestMigration_PrefixedClient(t *testing.T) {
	dir := peers.NMDir(t)
	server := peers.StartIn(t, dir, "stock_server", peers.Endpoint(peers.FreePort(t))...)
	target := server.Line(t, 20*time.Second)
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", RepositoryIDPrefix: "vendor.example"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if !strings.Contains(a.IOR().TypeID, "vendor.example/NativeMessaging/RequestAgentEx") {
		t.Fatalf("the agent's reference is typed %s", a.IOR().TypeID)
	}
	p := peers.StartIn(t, filepath.Join(dir, "vendor"), "group_client", a.IOR().String(), target)
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("the prefixed group_client failed (%v):\n%s", err, p.Output())
	}
	if !strings.Contains(strings.Join(lines, "\n"), "poll -> PollingGroupIsEmpty") {
		t.Fatalf("the prefixed client did not catch PollingGroupIsEmpty:\n%s", p.Output())
	}
}

// TestMigration_RepositoryIDs: with a prefix and InvalidProperty inside
// RequestAgentEx, _is_a answers with and without the prefix, references
// carry the prefixed type, and every user exception is raised with the
// configured id.
func TestMigration_RepositoryIDs(t *testing.T) {
	e := newEnv(t, agent.Config{RepositoryIDPrefix: "vendor.example", InvalidPropertyScope: nmproto.ScopeRequestAgentEx})
	isA := func(ref *giop.IOR, id string) bool {
		t.Helper()
		resp, err := e.client.Invoke(e.ctx(), ref, &giop.Invocation{Operation: "_is_a", Args: stringArg(id)})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Result.Bool()
	}
	for _, id := range []string{"IDL:vendor.example/NativeMessaging/RequestAgentEx:1.0", nmproto.RequestAgentExID,
		"IDL:vendor.example/NativeMessaging/RequestAgent:1.0", nmproto.RequestAgentID} {
		if !isA(e.agentRef, id) {
			t.Errorf("agent _is_a(%s) = false", id)
		}
	}
	proxy := e.mustProxy()
	if proxy.TypeID != "IDL:vendor.example/NativeMessaging/RequestProxy:1.0" {
		t.Errorf("proxy reference typed %s", proxy.TypeID)
	}
	for _, id := range []string{proxy.TypeID, nmproto.RequestProxyID} {
		if !isA(proxy, id) {
			t.Errorf("proxy _is_a(%s) = false", id)
		}
	}
	_, err := e.createProxy(e.target, "", nil, boolProp("NoSuchProperty", true))
	if !isUser(err, "IDL:vendor.example/NativeMessaging/RequestAgentEx/InvalidProperty:1.0") {
		t.Errorf("InvalidProperty = %v, want it under RequestAgentEx with the prefix", err)
	}
	e.createRequest(t, "", "tag", "g", "")
	if _, err := e.createRequestErr("", "tag", "g", ""); !isUser(err, "IDL:vendor.example/NativeMessaging/RequestAgent/DuplicatedRequestTag:1.0") {
		t.Errorf("DuplicatedRequestTag = %v", err)
	}
	group := "empty"
	if _, err := e.pollTags(e.agentRef, &group, 0, false); !isUser(err, "IDL:vendor.example/NativeMessaging/RequestAgent/PollingGroupIsEmpty:1.0") {
		t.Errorf("PollingGroupIsEmpty = %v", err)
	}
	_, err = e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "destroy_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(e.target)
	}})
	if !isUser(err, "IDL:vendor.example/NativeMessaging/RequestAgent/RequestNotExist:1.0") {
		t.Errorf("RequestNotExist = %v", err)
	}
}
