package stock_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/internal/peers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// signature describes an interface's operations for comparison.
func signature(t *testing.T, r *idl.Repository) string {
	t.Helper()
	iface, ok := r.Interface(stock.RepoID)
	if !ok {
		t.Fatalf("no %s", stock.RepoID)
	}
	var b strings.Builder
	for _, op := range iface.AllOperations() {
		fmt.Fprintf(&b, "%s %s(", op.Result.Kind, op.Name)
		for _, p := range op.Params {
			fmt.Fprintf(&b, "%s %s %s,", p.Dir, p.Type.Kind, p.Name)
		}
		b.WriteString(");")
	}
	return b.String()
}

// TestIDLMatchesOmniORBTarget: the embedded IDL is the interface the
// omniORB target (clients/cpp/examples, built by testdata/nm) compiles.
func TestIDLMatchesOmniORBTarget(t *testing.T) {
	ours, err := stock.Repository()
	if err != nil {
		t.Fatal(err)
	}
	theirs := idl.NewRepository()
	if err := theirs.LoadFile(filepath.Join(peers.RepoRoot(), "clients", "cpp", "examples", "StockManager.idl"), nil); err != nil {
		t.Fatal(err)
	}
	if a, b := signature(t, ours), signature(t, theirs); a != b {
		t.Fatalf("examples/stock:  %s\ntestdata/nm:     %s", a, b)
	}
}

// TestManager: the target's behaviour, through a client.
func TestManager(t *testing.T) {
	served := &lockedBuilder{}
	m, err := stock.NewManager(served)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := stock.Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := giop.NewClient(nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ref, err := giop.ParseCorbaloc(srv.Corbaloc())
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []*giop.IOR{srv.IOR(), ref.IOR("")} {
		call := func(op string, args func(*giop.Encoder)) *giop.Decoder {
			t.Helper()
			resp, err := c.Invoke(ctx, target, &giop.Invocation{Operation: op, Args: args})
			if err != nil {
				t.Fatalf("%s: %v", op, err)
			}
			return resp.Result
		}
		add := func(sym string) bool {
			return call("add_stock", func(e *giop.Encoder) { e.WriteString(sym); e.WriteDouble(1) }).Bool()
		}
		find := func(sym string) string {
			d := call("find_closest_symbol", func(e *giop.Encoder) { e.WriteString(sym) })
			ok := d.Bool()
			return fmt.Sprint(ok, " ", d.String())
		}
		add("ACMB")
		add("ACME")
		if got := find("ACMA"); got != "true ACMB" {
			t.Fatalf("find ACMA = %s (ties: the smallest)", got)
		}
		if got := find("ZZZ"); got != "false ZZZ" {
			t.Fatalf("find ZZZ = %s", got)
		}
	}
	start := time.Now()
	if _, err := c.Invoke(ctx, srv.IOR(), &giop.Invocation{Operation: "add_stock",
		Args: func(e *giop.Encoder) { e.WriteString("SLOW100"); e.WriteDouble(1) }}); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("SLOW100 did not take 100 ms")
	}
	if _, err := c.Invoke(ctx, srv.IOR(), &giop.Invocation{Operation: "remove_stock"}); !isSys(err, giop.ExcBadOperation) {
		t.Fatalf("unknown operation: %v", err)
	}
	if !strings.HasPrefix(served.String(), "served add_stock ACMB -> TRUE\nserved add_stock ACME -> TRUE\nserved find_closest_symbol ACMA -> TRUE ACMB\n") {
		t.Fatalf("served lines:\n%s", served.String())
	}
	if stock.Bool(true) != "TRUE" || stock.Bool(false) != "FALSE" || stock.Bool(nil) != "FALSE" {
		t.Fatal("Bool")
	}
}

// lockedBuilder is a strings.Builder safe to write from the servant and
// read from the test (the race detector sees no order through a socket).
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func isSys(err error, name string) bool {
	x, ok := err.(*giop.SystemException)
	return ok && x.Name == name
}
