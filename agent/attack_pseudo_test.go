package agent_test

import (
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestPseudoOperations_AnsweredNotDelegated: CORBA::Object's
// pseudo-operations on a typed receiver, a request object or a poller
// are answered by the agent at once; none is stored or delegated (it
// would come back as an empty tag in a poll), and none carries a poller.
func TestPseudoOperations_AnsweredNotDelegated(t *testing.T) {
	e := newEnv(t, agent.Config{})
	proxy := e.mustProxy()
	rcv := e.receiver(proxy)
	ops := []struct {
		name string
		args func(*giop.Encoder)
		// ok: a normal reply is right; else the system exception wanted.
		exc string
	}{
		{"_component", nil, ""},
		{"_get_component", nil, ""},
		{"_domain_managers", nil, ""},
		{"_get_domain_managers", nil, ""},
		{"_interface", nil, giop.ExcNoImplement},
		{"_get_interface", nil, giop.ExcNoImplement},
		{"_get_policy", func(enc *giop.Encoder) { enc.WriteULong(1) }, giop.ExcBadOperation},
		{"_get_policy_overrides", func(enc *giop.Encoder) { enc.WriteULong(0) }, giop.ExcBadOperation},
		{"_set_policy_overrides", func(enc *giop.Encoder) { enc.WriteULong(0) }, giop.ExcBadOperation},
		{"_validate_connection", nil, giop.ExcBadOperation},
		{"_hash", func(enc *giop.Encoder) { enc.WriteULong(100) }, giop.ExcBadOperation},
		{"_anything_else", nil, giop.ExcBadOperation},
	}
	for _, op := range ops {
		r := e.call(rcv, op.name, reqInfoCtx("tag-"+op.name, "", 0, false), op.args)
		if r.poller != nil {
			t.Errorf("%s: the reply carries a poller: the call became a 2PI", op.name)
		}
		switch {
		case op.exc == "" && r.err != nil:
			t.Errorf("%s: %v, want a normal reply", op.name, r.err)
		case op.exc != "" && !isSys(r.err, op.exc, 0):
			t.Errorf("%s: %v, want %s", op.name, r.err, op.exc)
		}
		if op.name == "_component" && r.err == nil {
			if ref := r.resp.Result.IOR(); !ref.IsNil() || r.resp.Result.Err() != nil {
				t.Errorf("_component = %v (%v), want the nil reference", ref, r.resp.Result.Err())
			}
		}
		if op.name == "_domain_managers" && r.err == nil {
			if n := r.resp.Result.ULong(); n != 0 || r.resp.Result.Err() != nil {
				t.Errorf("_domain_managers = %d entries (%v), want none", n, r.resp.Result.Err())
			}
		}
	}
	if n := e.sm.calls.Load(); n != 0 {
		t.Fatalf("the target got %d calls for pseudo-operations", n)
	}
	if _, err := e.pollTags(proxy, nil, 0, false); !isUser(err, nmproto.PollingGroupIsEmptyID) {
		t.Fatalf("poll after pseudo-operations = %v, want PollingGroupIsEmpty: nothing stored", err)
	}
	// A real operation still is a 2PI: the test was not refusing everything.
	if r := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, false), addStockArgs("REAL", 1)); r.poller == nil {
		t.Fatalf("add_stock: %+v, want a premature return with a poller", r)
	}
}
