package agent_test

import (
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nmproto"
)

// stockIDL is the seed's StockManager, with the two operations the Go
// test target adds for exceptional results.
const stockIDL = `
interface StockManager {
  exception NotFound { string symbol; };
  boolean add_stock(in string symbol, in double quote);
  boolean find_closest_symbol(inout string symbol);
  void remove_stock(in string symbol) raises (NotFound);
  void crash();
};`

func stockRepo(t *testing.T) agent.IDL {
	t.Helper()
	repo := idl.NewRepository()
	if err := repo.LoadSource("StockManager.idl", []byte(stockIDL), nil); err != nil {
		t.Fatal(err)
	}
	return agent.RepositoryIDL(repo)
}

// TestSuppressedMode: an NM-aware client asking for suppressed mode gets a
// normal reply with zero return and out values built from the IDL, plus
// the poller — reply_not_available TRUE (docs/native-messaging.md).
func TestSuppressedMode(t *testing.T) {
	e := newEnv(t, agent.Config{IDL: stockRepo(t)})
	release := e.sm.hold()
	defer release()
	rcv := e.receiver(e.mustProxy())
	add := e.call(rcv, "add_stock", reqInfoCtx("", "", 0, true), addStockArgs("ACME", 1))
	if add.err != nil || !add.rna || add.poller == nil {
		t.Fatalf("suppressed premature return = %v (rna %v)", add.err, add.rna)
	}
	if added := add.resp.Result.Bool(); added || add.resp.Result.Err() != nil {
		t.Fatalf("dummy return value should be FALSE: %v", add.resp.Result.Err())
	}
	find := e.call(rcv, "find_closest_symbol", reqInfoCtx("", "", 0, true), stringArg("ACMA"))
	if find.err != nil || !find.rna || find.resp.Result.Bool() || find.resp.Result.String() != "" {
		t.Fatalf("suppressed inout: %v", find.err)
	}
	// Polling add_stock (held at the target) before its reply, in the
	// request's mode: zero values again.
	p := e.call(add.poller, "add_stock", waitCtx(0), addStockArgs("", 0))
	if p.err != nil || !p.rna || p.resp.Result.Bool() {
		t.Fatalf("suppressed poll before the reply = %v (rna %v)", p.err, p.rna)
	}
	release()
	p = e.call(add.poller, "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
	if p.err != nil || p.rna || !p.resp.Result.Bool() {
		t.Fatalf("mature pull = %v (rna %v)", p.err, p.rna)
	}
}

// TestSuppressedMode_NoIDLFallsBack: without the interface's IDL the agent
// cannot build dummy values, so it answers unsuppressed (RNA).
func TestSuppressedMode_NoIDLFallsBack(t *testing.T) {
	e := newEnv(t, agent.Config{})
	release := e.sm.hold()
	defer release()
	r := e.call(e.receiver(e.mustProxy()), "add_stock", reqInfoCtx("", "", 0, true), addStockArgs("ACME", 1))
	if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) || r.poller == nil {
		t.Fatalf("suppressed without IDL = %v, want RNA", r.err)
	}
}

// TestTranscode_GIOP10Client: a GIOP 1.0 client's body is not 8-aligned
// as a 1.2 body is, so relaying it into a 1.2 request would misplace the
// double. The agent sends it at 1.0, padded to its offset, with or without
// the IDL, and the reply on the way back too (giop/SPEC.md).
func TestTranscode_GIOP10Client(t *testing.T) {
	for _, withIDL := range []bool{true, false} {
		cfg := agent.Config{}
		if withIDL {
			cfg.IDL = stockRepo(t)
		}
		e := newEnv(t, cfg)
		rcv := e.receiver(e.mustProxy())
		old := asGIOP10(t, rcv)
		r := e.call(old, "add_stock", nil, addStockArgs("OLD", 2.5))
		if !isSys(r.err, giop.ExcNoResponse, nmproto.ReplyNotAvailable) {
			t.Fatalf("1.0 client premature return = %v", r.err)
		}
		p := e.call(asGIOP10(t, r.poller), "add_stock", waitCtx(nmproto.WaitForever), addStockArgs("", 0))
		if p.err != nil || !p.resp.Result.Bool() {
			t.Fatalf("1.0 pull = %v", p.err)
		}
		e.sm.mu.Lock()
		q := e.sm.stocks["OLD"]
		e.sm.mu.Unlock()
		if q != 2.5 {
			t.Fatalf("target stored quote %v, want 2.5: the double was misplaced", q)
		}
	}
}

// asGIOP10 rewrites a reference to IIOP 1.0, as corbaloc::host/key does.
func asGIOP10(t *testing.T, ref *giop.IOR) *giop.IOR {
	t.Helper()
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	return giop.NewIOR(ref.TypeID, &giop.IIOPProfile{Version: giop.V1_0, Host: prof.Host, Port: prof.Port, ObjectKey: prof.ObjectKey})
}
