package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

// Interop through the agent with a second ORB, Combat (testdata/combat:
// pure Tcl, a GIOP stack that shares nothing with omniORB), and with
// omniORB limited to GIOP 1.0 and 1.1: clients and targets at every GIOP
// version, in both byte orders, with no IDL loaded — the agent relays every
// body unchanged, keeping its offset modulo 8 with the padding context
// (giop/SPEC.md, "Relaying bodies across GIOP versions").

// combatWant is what testdata/combat/stock_client.tcl prints against a
// fresh StockManager, for the operations it is given.
var combatWant = []string{
	"add_stock ACME 100.5 -> TRUE",
	"find_closest_symbol ACMA -> TRUE ACME",
	"mix 3 2.5 abc 01020304 -> 11.5 abc! 04030201 10",
}

// interopAgent starts an agent without IDL, and a Go client to set up
// request objects on it.
func interopAgent(t *testing.T) (*agent.Agent, *giop.Client) {
	t.Helper()
	a, err := agent.Start(agent.Config{Listen: "127.0.0.1:0", ConnectRetryBudget: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	c := giop.NewClient(nil)
	t.Cleanup(func() { c.Close() })
	return a, c
}

// requestObject calls create_request for target (repository id from its
// IOR) and returns the request object.
func requestObject(t *testing.T, c *giop.Client, a *agent.Agent, target *giop.IOR) *giop.IOR {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, a.IOR(), &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(target)
		enc.WriteString("")
		enc.WriteIOR(nil)
		enc.WriteOctets(nil)
		enc.WriteString("")
		enc.WriteOctets(nil)
		writeProps(enc, nil)
	}})
	if err != nil {
		t.Fatalf("create_request: %v", err)
	}
	ref := resp.Result.IOR()
	if err := resp.Result.Err(); err != nil {
		t.Fatal(err)
	}
	return ref
}

// withProfileVersion returns ref with only its IIOP profile, at version v
// (no components at 1.0, which has none): how a peer limited to v, or a
// corbaloc, names the object.
func withProfileVersion(t *testing.T, ref *giop.IOR, v giop.Version) *giop.IOR {
	t.Helper()
	return asVersion(t, ref, v)
}

// startCombatTarget starts testdata/combat/stock_server.tcl marshalling in
// order and returns it with its reference.
func startCombatTarget(t *testing.T, order string) (*peers.Process, *giop.IOR) {
	t.Helper()
	p := peers.StartCombat(t, "stock_server.tcl", "-byteorder", order)
	line := p.Line(t, 20*time.Second)
	ref, err := giop.ParseIOR(line)
	if err != nil {
		t.Fatalf("stock_server.tcl's first line is not an IOR (%v): %q", err, line)
	}
	return p, ref
}

// runCombatClient runs testdata/combat/stock_client.tcl in order on the
// request objects refs and checks what it prints.
func runCombatClient(t *testing.T, name, order string, refs []*giop.IOR) {
	t.Helper()
	args := []string{"-byteorder", order}
	for _, r := range refs {
		args = append(args, r.String())
	}
	p := peers.StartCombat(t, "stock_client.tcl", args...)
	lines, err := p.Wait(t, 60*time.Second)
	want := append(append([]string(nil), combatWant[:len(refs)]...), "PASS")
	if err != nil || strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s: stock_client.tcl (%v) printed:\n  %s\nwant:\n  %s\n%s", name, err,
			strings.Join(lines, "\n  "), strings.Join(want, "\n  "), p.Output())
	}
}

var orders = []string{"little", "big"}

// TestCombat_ClientAndTargetAllVersions: a Combat client at GIOP 1.0, 1.1
// and 1.2 (the IIOP version of the request objects it is given), in both
// byte orders, calls a Combat StockManager whose reference the agent has
// at IIOP 1.0, 1.1 and 1.2, itself in both byte orders: add_stock,
// find_closest_symbol (inout) and mix (a long, doubles, strings and octet
// sequences each way). Each call ran once on the target and the client
// printed its real results.
func TestCombat_ClientAndTargetAllVersions(t *testing.T) {
	a, c := interopAgent(t)
	for _, tv := range versions {
		for _, torder := range orders {
			for _, cv := range versions {
				for _, corder := range orders {
					name := fmt.Sprintf("Combat client %s %s-endian → Combat target %s %s-endian", cv, corder, tv, torder)
					target, ref := startCombatTarget(t, torder)
					ref = withProfileVersion(t, ref, tv)
					var objs []*giop.IOR
					for range combatWant {
						objs = append(objs, withProfileVersion(t, requestObject(t, c, a, ref), cv))
					}
					runCombatClient(t, name, corder, objs)
					served := target.Served(t, 3)
					peers.CheckLines(t, name+": stock_server.tcl", served, []string{
						"add_stock ACME 100.5 -> TRUE",
						"find_closest_symbol ACMA -> TRUE ACME",
						"mix 3 2.5 abc 01020304 -> 11.5 abc! 04030201 10",
					})
				}
			}
		}
	}
}

// omniORB's GIOP versions: the C++ peers of testdata/nm with
// -ORBmaxGIOPVersion, which also makes stock_server publish an IIOP
// profile of that version.
var omniVersions = []string{"1.0", "1.1", "1.2"}

// startOmniTarget starts testdata/nm's stock_server at GIOP version v.
func startOmniTarget(t *testing.T, dir, v string) (*peers.Process, *giop.IOR) {
	t.Helper()
	args := append(peers.Endpoint(peers.FreePort(t)), "-ORBmaxGIOPVersion", v)
	p := peers.StartIn(t, dir, "stock_server", args...)
	line := p.Line(t, 20*time.Second)
	ref, err := giop.ParseIOR(line)
	if err != nil {
		t.Fatalf("stock_server's first line is not an IOR (%v): %q", err, line)
	}
	if prof, err := ref.IIOP(); err != nil || prof.Version.String() != v {
		t.Fatalf("stock_server -ORBmaxGIOPVersion %s publishes %v (%v)", v, prof, err)
	}
	return p, ref
}

// runPollingClient runs testdata/nm's polling_client (a plain omniORB
// client of create_request request objects) at GIOP version v.
func runPollingClient(t *testing.T, dir, name, v string, a *agent.Agent, target *giop.IOR) {
	t.Helper()
	p := peers.StartIn(t, dir, "polling_client", "-ORBmaxGIOPVersion", v, a.IOR().String(), target.String())
	lines, err := p.Wait(t, 90*time.Second)
	if err != nil || len(lines) == 0 || lines[len(lines)-1] != "PASS" {
		t.Fatalf("%s: polling_client failed (%v):\n%s", name, err, p.Output())
	}
	peers.CheckLines(t, name+": polling_client", lines, peers.PollingTranscript())
}

// TestOmniORB_OldGIOPClientsAndTargets: omniORB clients at GIOP 1.0 and
// 1.1 (all their calls, create_request included) reach omniORB targets at
// 1.0, 1.1 and 1.2 through the agent, and an omniORB 1.2 client reaches
// the 1.0 and 1.1 targets; each request ran once.
func TestOmniORB_OldGIOPClientsAndTargets(t *testing.T) {
	dir := peers.NMDir(t)
	a, _ := interopAgent(t)
	for _, tv := range omniVersions {
		for _, cv := range omniVersions {
			if cv == "1.2" && tv == "1.2" {
				continue // TestSeedExample_PollingClient
			}
			name := fmt.Sprintf("omniORB client %s → omniORB target %s", cv, tv)
			target, ref := startOmniTarget(t, dir, tv)
			runPollingClient(t, dir, name, cv, a, ref)
			peers.CheckLines(t, name+": stock_server", target.Served(t, 2), []string{
				"add_stock ACME -> TRUE",
				"find_closest_symbol ACMA -> TRUE ACME",
			})
		}
	}
}

// TestCombatAndOmniORB_AcrossORBs: a Combat client at GIOP 1.0, 1.1 and
// 1.2 in both byte orders reaches omniORB targets at 1.0, 1.1 and 1.2; an
// omniORB client at 1.0, 1.1 and 1.2 reaches a Combat target at each IIOP
// version and in both byte orders. The agent sends the request in the
// client's byte order and the reply goes back in the target's, so every
// pairing of orders crosses it.
func TestCombatAndOmniORB_AcrossORBs(t *testing.T) {
	dir := peers.NMDir(t)
	a, c := interopAgent(t)
	for _, tv := range omniVersions {
		for _, cv := range versions {
			for _, corder := range orders {
				name := fmt.Sprintf("Combat client %s %s-endian → omniORB target %s", cv, corder, tv)
				target, ref := startOmniTarget(t, dir, tv)
				objs := []*giop.IOR{
					withProfileVersion(t, requestObject(t, c, a, ref), cv),
					withProfileVersion(t, requestObject(t, c, a, ref), cv),
				}
				runCombatClient(t, name, corder, objs)
				peers.CheckLines(t, name+": stock_server", target.Served(t, 2), []string{
					"add_stock ACME -> TRUE",
					"find_closest_symbol ACMA -> TRUE ACME",
				})
			}
		}
	}
	for _, tv := range versions {
		for _, torder := range orders {
			for _, cv := range omniVersions {
				name := fmt.Sprintf("omniORB client %s → Combat target %s %s-endian", cv, tv, torder)
				target, ref := startCombatTarget(t, torder)
				runPollingClient(t, dir, name, cv, a, withProfileVersion(t, ref, tv))
				peers.CheckLines(t, name+": stock_server.tcl", target.Served(t, 2), []string{
					"add_stock ACME 100.5 -> TRUE",
					"find_closest_symbol ACMA -> TRUE ACME",
				})
			}
		}
	}
}
