package nm_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nm"
	"github.com/requestagent/requestagent/nmproto"
)

// TestDial: by corbaloc and by IOR; refs that are not references, not an
// agent, or not reachable fail with typed errors.
func TestDial(t *testing.T) {
	e := newEnv(t, envOpts{noDial: true})
	ctx := e.ctx()
	for _, ref := range []string{e.agent.Corbaloc(), e.agent.IOR().String(), "  " + e.agent.Corbaloc() + "\n"} {
		a, err := nm.Dial(ctx, ref)
		if err != nil {
			t.Fatalf("Dial(%s): %v", ref, err)
		}
		if a.IOR().IsNil() || a.Repository() == nil {
			t.Fatal("agent without IOR or repository")
		}
		a.Close()
		a.Close() // idempotent
	}
	for _, ref := range []string{"", "nonsense", "IOR:0", "corbaloc:rir:/NameService"} {
		if _, err := nm.Dial(ctx, ref); !errors.Is(err, nm.ErrBadReference) {
			t.Fatalf("Dial(%q) = %v, want ErrBadReference", ref, err)
		}
	}
	if _, err := nm.Dial(ctx, "corbaloc::1.2@127.0.0.1:1/RequestAgent"); err == nil {
		t.Fatal("Dial to a closed port succeeded")
	} else if !errors.Is(err, &giop.SystemException{Name: giop.ExcTransient}) {
		t.Fatalf("Dial to a closed port: %v, want TRANSIENT", err)
	}
	if _, err := nm.Dial(ctx, e.stock.String()); !errors.Is(err, nm.ErrNotAgent) {
		t.Fatalf("Dial to a StockManager: %v, want ErrNotAgent", err)
	}
	if _, err := nm.Dial(ctx, e.agent.Corbaloc(), nm.WithIDLSource("bad.idl", []byte("interface {"))); err == nil {
		t.Fatal("bad IDL accepted")
	}
	if _, err := nm.Dial(ctx, e.agent.Corbaloc(), nm.WithGIOPConfig(&giop.Config{MaxMessageSize: 1})); !errors.Is(err, giop.ErrBadConfig) {
		t.Fatalf("bad GIOP config: %v", err)
	}
}

// TestDial_IDLFromFiles: IDL from a file, a directory, and a repository.
func TestDial_IDLFromFiles(t *testing.T) {
	e := newEnv(t, envOpts{noDial: true})
	dir := t.TempDir()
	file := filepath.Join(dir, "StockManager.idl")
	if err := os.WriteFile(file, stock.IDL, 0o644); err != nil {
		t.Fatal(err)
	}
	repo := idl.NewRepository()
	for _, opts := range [][]nm.Option{
		{nm.WithIDLFiles(file)},
		{nm.WithIDLFiles(dir), nm.WithIDLOptions(&idl.Options{})},
		{nm.WithRepository(repo), nm.WithIDLSource("StockManager.idl", stock.IDL)},
	} {
		a, err := nm.Dial(e.ctx(), e.agent.Corbaloc(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := a.Repository().Interface(stock.RepoID); !ok {
			t.Fatal("StockManager not loaded")
		}
		a.Close()
	}
	if _, ok := repo.Interface(stock.RepoID); !ok {
		t.Fatal("WithRepository: IDL not loaded into the given repository")
	}
}

// TestProperties: the agent's defaults, and a proxy's properties read back
// with their Go types.
func TestProperties(t *testing.T) {
	e := newEnv(t, envOpts{agent: agent.Config{Defaults: agent.Properties{ManualTrash: true}}})
	props, err := e.a.Properties(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if get(props, nm.PropRequestManualTrash) != true {
		t.Fatalf("agent defaults %v", props)
	}
	proxy, _ := e.receiver(e.stock, nil, nm.WaitReply(true), nm.ReplyDropping(nm.DropNormal))
	props, err = proxy.Properties(e.ctx())
	if err != nil {
		t.Fatal(err)
	}
	if get(props, nm.PropWaitReply) != true || get(props, nm.PropReplyDropping) != nm.DropNormal || get(props, nm.PropRequestManualTrash) != true {
		t.Fatalf("proxy properties %v", props)
	}
	if s := nm.WaitReply(true).String(); s != "WaitReply=true" {
		t.Fatalf("Property.String() = %q", s)
	}
}

// TestKnownProperties: the client and the agent see the same properties.
// Each one nm.KnownProperties names is accepted by CreateRequestProxy at
// its default, and by CreateRequest exactly when its scope has requests;
// the agent's and a proxy's properties list exactly the kept ones, in
// the table's order; and a name outside the table is refused.
func TestKnownProperties(t *testing.T) {
	e := newEnv(t, envOpts{})
	var kept []string
	for _, def := range nm.KnownProperties() {
		p := nm.Property{Name: def.Name, Value: def.Default}
		if _, err := e.a.CreateRequestProxy(e.ctx(), e.stock, "", nil, p); err != nil {
			t.Errorf("CreateRequestProxy(%v): %v", p, err)
		}
		_, err := e.a.CreateRequest(e.ctx(), nm.RequestDesc{Target: e.stock, Properties: []nm.Property{p}})
		if forRequests := def.Scope&nmproto.ScopeRequest != 0; forRequests && err != nil {
			t.Errorf("CreateRequest(%v): %v", p, err)
		} else if !forRequests && !errors.Is(err, nm.ErrInvalidProperty) {
			t.Errorf("CreateRequest(%v) = %v, want ErrInvalidProperty: its scope is %v", p, err, def.Scope)
		}
		if !def.OnCreation {
			kept = append(kept, def.Name)
		}
	}
	names := func(props []nm.Property, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, p := range props {
			n = append(n, p.Name)
		}
		return n
	}
	if got := names(e.a.Properties(e.ctx())); !slices.Equal(got, kept) {
		t.Errorf("agent's properties %v, want %v", got, kept)
	}
	proxy, _ := e.receiver(e.stock, nil)
	if got := names(proxy.Properties(e.ctx())); !slices.Equal(got, kept) {
		t.Errorf("proxy's properties %v, want %v", got, kept)
	}
	for _, name := range []string{"NoSuchProperty", "waitreply"} {
		if _, err := e.a.CreateRequestProxy(e.ctx(), e.stock, "", nil, nm.Property{Name: name, Value: true}); !errors.Is(err, nm.ErrInvalidProperty) {
			t.Errorf("%s: %v, want ErrInvalidProperty", name, err)
		}
	}
}

func get(props []nm.Property, name string) any {
	for _, p := range props {
		if p.Name == name {
			return p.Value
		}
	}
	return nil
}

// TestProxy_ByReference: a proxy handle from a stored IOR, and a target
// given as an IOR string or a corbaloc URL with a repository id.
func TestProxy_ByReference(t *testing.T) {
	e := newEnv(t, envOpts{})
	prof, _ := e.stock.IIOP()
	loc := "corbaloc:iiop:1.2@127.0.0.1:" + strconv.Itoa(int(prof.Port)) + "/StockManager"
	for _, target := range []nm.Target{e.stock.String(), loc} {
		p, err := e.a.CreateRequestProxy(e.ctx(), target, stock.RepoID, nil)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.a.Proxy(p.IOR().String(), stock.RepoID)
		if err != nil {
			t.Fatal(err)
		}
		rcv, err := again.Receiver(e.ctx())
		if err != nil || rcv.RepoID() != stock.RepoID {
			t.Fatalf("receiver: %v", err)
		}
		cur := nm.Current{WaitTimeout: nm.WaitForever}
		poller := e.send(rcv, &cur, "add_stock", "A", 1.0)
		if _, err := poller.Invoke(e.ctx(), &cur, "add_stock"); err != nil {
			t.Fatal(err)
		}
		if err := again.Destroy(e.ctx(), true); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Receiver(e.ctx()); !errors.Is(err, nm.ErrProxyDestroyed) {
			t.Fatalf("destroyed proxy: %v", err)
		}
	}
	if _, err := e.a.Proxy(nil, ""); !errors.Is(err, nm.ErrNilTarget) {
		t.Fatalf("nil proxy: %v", err)
	}
}

// TestParseRef: the reference forms.
func TestParseRef(t *testing.T) {
	ior, err := nm.ParseRef("corbaloc::127.0.0.1:5555/RequestAgent")
	if err != nil {
		t.Fatal(err)
	}
	prof, _ := ior.IIOP()
	if prof.Port != 5555 || string(prof.ObjectKey) != "RequestAgent" || prof.Version != giop.V1_0 {
		t.Fatalf("corbaloc: %+v", prof)
	}
	if _, err := nm.ParseRef("iOr:" + ior.String()[4:]); err != nil {
		t.Fatal(err)
	}
	if _, err := nm.ParseRef("corbaloc:iiop:1.2@[::1]:x/K"); !errors.Is(err, giop.ErrBadCorbaloc) || !errors.Is(err, nm.ErrBadReference) {
		t.Fatalf("bad corbaloc: %v", err)
	}
}
