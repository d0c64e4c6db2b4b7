package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/nmproto"
)

// createProxy calls create_request_proxy on the agent and returns the
// exception it raised, if any.
func (c *client) createProxy(target *giop.IOR) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.c.Invoke(ctx, c.agent, &giop.Invocation{Operation: "create_request_proxy", Args: func(e *giop.Encoder) {
		e.WriteIOR(target)
		e.WriteString("")
		e.WriteIOR(nil)
		e.WriteULong(0)
	}})
	if err != nil {
		return err
	}
	resp.Result.IOR()
	return resp.Result.Err()
}

// notAllowed reports whether err is NO_PERMISSION/TARGET_NOT_ALLOWED,
// completed NO.
func notAllowed(err error) bool {
	var x *giop.SystemException
	return errors.As(err, &x) && x.Name == giop.ExcNoPermission && x.Minor == nmproto.TargetNotAllowed && x.Completed == giop.CompletedNo
}

func port(ref *giop.IOR) uint16 { prof, _ := ref.IIOP(); return prof.Port }

func spelt(ref *giop.IOR, host string) *giop.IOR {
	prof, _ := ref.IIOP()
	p := *prof
	p.Host = host
	return giop.NewIOR(ref.TypeID, &p)
}

// TestServe_TargetPolicy: --deny-target is honoured by the binary — a
// proxy to a denied target, however spelt, is refused with
// NO_PERMISSION/TARGET_NOT_ALLOWED, nothing is stored, the target is never
// called, the refusal is counted in /metrics and the policy is stated in
// the start-up log — while a target outside the rule works; the
// properties file sets the same rules by the flag's camelCase name.
func TestServe_TargetPolicy(t *testing.T) {
	dir := t.TempDir()
	deniedSrv, denied := startTarget(t)
	allowedSrv, allowed := startTarget(t)
	agentPort := peers.FreePort(t)
	p := startAgent(t, filepath.Join(dir, "data"), agentPort,
		"--deny-target", fmt.Sprintf("127.0.0.1:%d", port(denied)), "--deny-target", "198.51.100.0/24,[2001:db8::]:1-1023")
	c := newClient(t, agentPort)
	for _, h := range []string{"127.0.0.1", "::ffff:127.0.0.1", "localhost", "0:0:0:0:0:FFFF:7f00:0001"} {
		if err := c.createProxy(spelt(denied, h)); !notAllowed(err) {
			t.Errorf("proxy to the denied target at %s = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED completed NO", h, err)
		}
	}
	rcv := c.receiver(allowed, nil)
	if _, err := c.send(rcv, "OK"); err != nil {
		t.Fatalf("a 2PI to a target outside the deny rules: %v", err)
	}
	out, stderr, code := run(t, nil, "proxies", "--admin", p.adminAddr, "--data-dir", filepath.Join(dir, "data"), "--json")
	var proxies struct{ Proxies []struct{ ID string } }
	if code != 0 || json.Unmarshal([]byte(out), &proxies) != nil || len(proxies.Proxies) != 1 {
		t.Fatalf("proxies (exit %d), want only the allowed one:\n%s%s", code, out, stderr)
	}
	metrics := get(t, "http://"+p.adminAddr+"/metrics")
	if !strings.Contains(metrics, `requestagent_target_policy_refusals_total{at="create"} 4`) {
		t.Errorf("/metrics does not count the 4 refusals:\n%s", grep(metrics, "target_policy"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := 0; n == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		allowedSrv.calls.Range(func(any, any) bool { n++; return true })
	}
	deniedSrv.calls.Range(func(k, _ any) bool { t.Errorf("the denied target was called (%v)", k); return true })
	log := p.stderr.String()
	want := fmt.Sprintf(`"deny":["127.0.0.1:%d","198.51.100.0/24","[2001:db8::]:1-1023"]`, port(denied))
	if !strings.Contains(log, "agent: target policy") || !strings.Contains(log, want) || strings.Contains(log, "no target policy") {
		t.Errorf("the start-up log does not state the policy (%s):\n%s", want, log)
	}

	// The same rule from a properties file, by the camelCase name.
	props := filepath.Join(dir, "agent.properties")
	os.WriteFile(props, []byte(fmt.Sprintf("vbroker.requestagent.denyTarget = 127.0.0.1:%d\n", port(denied))), 0o644)
	qPort := peers.FreePort(t)
	startAgent(t, filepath.Join(dir, "d2"), qPort, "--properties", props)
	if err := newClient(t, qPort).createProxy(denied); !notAllowed(err) {
		t.Errorf("--properties denyTarget: proxy to the denied target = %v, want NO_PERMISSION/TARGET_NOT_ALLOWED", err)
	}
}

// TestServe_BadTargetRule: a rule that does not parse — by flag,
// environment variable or properties file — stops the agent before it
// starts, with one line naming the setting and the rule, exit code 2.
func TestServe_BadTargetRule(t *testing.T) {
	dir := t.TempDir()
	props := filepath.Join(dir, "agent.properties")
	os.WriteFile(props, []byte("allowTarget = 10.0.0.0/33\n"), 0o644)
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--allow-target", "db.example.com"}, `allow-target="db.example.com"`},
		{nil, []string{"--deny-target", "10.0.0.1:80-70"}, `deny-target="10.0.0.1:80-70"`},
		{nil, []string{"--deny-target", "[2001:db8::1]443"}, `deny-target="[2001:db8::1]443"`},
		{[]string{"REQUESTAGENT_DENY_TARGET=10.0.0.0/8,10.0.0.1:99999"}, nil, `deny-target="10.0.0.1:99999"`},
		{nil, []string{"--properties", props}, `allow-target="10.0.0.0/33"`},
	} {
		args := append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data")}, c.args...)
		_, stderr, code := run(t, c.env, args...)
		last := lastLine(stderr)
		if code != 2 || !strings.Contains(last, c.want) {
			t.Errorf("%v %v: exit %d, last line %q; want exit 2 naming %s", c.env, c.args, code, last, c.want)
		}
		for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if l != last && !strings.HasPrefix(l, "{") {
				t.Errorf("%v %v: more than a one-line error:\n%s", c.env, c.args, stderr)
			}
		}
		if strings.Contains(stderr, "agent: serving") {
			t.Errorf("%v %v: the agent started anyway", c.env, c.args)
		}
	}
}
