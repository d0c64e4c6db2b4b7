package nm_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/examples/stock"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/internal/syncbuf"
	"github.com/requestagent/requestagent/nm"
)

// vaultIDL is a test interface with what StockManager lacks: a user
// exception with members, an operation raising a system exception, an out
// parameter, and a oneway operation.
const vaultIDL = `
module Test {
  interface Vault {
    exception Denied { string who; long code; };
    boolean open(in string who, out long attempts) raises (Denied);
    void crash(in unsigned long minor);
    oneway void ping(in string note);
  };
};`

const vaultID = "IDL:Test/Vault:1.0"
const deniedID = "IDL:Test/Vault/Denied:1.0"

// vault serves Test::Vault: open("eve") raises Denied{who, 403}; other
// names return TRUE and the attempt count; crash raises NO_PERMISSION with
// the given minor, completed YES; ping reports its note on pings.
type vault struct {
	iface *idl.Interface
	repo  *idl.Repository
	mu    sync.Mutex
	tries int32
	pings chan string
}

func (v *vault) RepositoryID() string { return vaultID }

func (v *vault) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	op, ok := v.iface.Operation(req.Operation())
	if !ok {
		return giop.BadOperation(req.Operation())
	}
	args, err := op.UnmarshalArgs(req.Args)
	if err != nil {
		return giop.NewSystemException(giop.ExcMarshal, 0, giop.CompletedNo)
	}
	switch op.Name {
	case "open":
		who := args[0].(string)
		v.mu.Lock()
		v.tries++
		n := v.tries
		v.mu.Unlock()
		if who == "eve" {
			t, _ := v.repo.Type(deniedID)
			return &giop.UserException{RepoID: deniedID, Members: func(e *giop.Encoder) {
				if err := idl.MarshalExceptionMembers(e, t, map[string]any{"who": who, "code": int32(403)}); err != nil {
					panic(err)
				}
			}}
		}
		return op.MarshalResults(req.Results(), true, []any{n})
	case "crash":
		return giop.NewSystemException(giop.ExcNoPermission, args[0].(uint32), giop.CompletedYes)
	case "ping":
		v.pings <- args[0].(string)
		return nil
	}
	return giop.BadOperation(op.Name)
}

// lines is a concurrency-safe io.Writer collecting the target's "served"
// lines.
type lines = syncbuf.Buffer

// env is an in-process agent, the Go StockManager and Vault targets, and
// an nm.Agent dialled to the agent.
type env struct {
	t      *testing.T
	agent  *agent.Agent
	served *lines
	stock  *giop.IOR
	stockS *stock.Server
	vault  *vault
	vaultR *giop.IOR
	a      *nm.Agent
}

type envOpts struct {
	agent agent.Config
	// agentIDL gives the agent StockManager's and Vault's IDL (so it can
	// suppress premature returns itself).
	agentIDL bool
	// clientIDL is the IDL the nm.Agent is dialled with; nil means both.
	clientOpts []nm.Option
	noDial     bool
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, served: &lines{}}
	m, err := stock.NewManager(e.served)
	if err != nil {
		t.Fatal(err)
	}
	e.stockS, err = stock.Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.stockS.Close() })
	e.stock = e.stockS.IOR()

	repo, err := stock.Repository()
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadSource("vault.idl", []byte(vaultIDL), nil); err != nil {
		t.Fatal(err)
	}
	iface, _ := repo.Interface(vaultID)
	e.vault = &vault{iface: iface, repo: repo, pings: make(chan string, 16)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register([]byte("Vault"), e.vault)
	vs := giop.NewServer(nil, ad)
	go vs.Serve(ln)
	t.Cleanup(func() { vs.Close() })
	e.vaultR = giop.NewIOR(vaultID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("Vault"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})

	cfg := o.agent
	cfg.Listen = "127.0.0.1:0"
	if cfg.ConnectRetryBudget == 0 {
		cfg.ConnectRetryBudget = 200 * time.Millisecond
	}
	if o.agentIDL {
		cfg.IDL = agent.RepositoryIDL(repo)
	}
	e.agent, err = agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.agent.Close() })
	if o.noDial {
		return e
	}
	opts := o.clientOpts
	if opts == nil {
		opts = []nm.Option{nm.WithIDLSource("StockManager.idl", stock.IDL), nm.WithIDLSource("vault.idl", []byte(vaultIDL))}
	}
	e.a, err = nm.Dial(e.ctx(), e.agent.Corbaloc(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.a.Close() })
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// receiver creates a proxy for target and returns it and its receiver.
func (e *env) receiver(target *giop.IOR, recipient nm.Target, props ...nm.Property) (*nm.Proxy, *nm.Object) {
	e.t.Helper()
	p, err := e.a.CreateRequestProxy(e.ctx(), target, "", recipient, props...)
	if err != nil {
		e.t.Fatalf("create_request_proxy: %v", err)
	}
	r, err := p.Receiver(e.ctx())
	if err != nil {
		e.t.Fatalf("the_receiver: %v", err)
	}
	return p, r
}

// send makes a call on a typed receiver that must return prematurely, and
// returns its poller.
func (e *env) send(rcv *nm.Object, cur *nm.Current, op string, args ...any) *nm.Object {
	e.t.Helper()
	if _, err := rcv.Invoke(e.ctx(), cur, op, args...); err != nil && !errors.Is(err, nm.ErrReplyNotAvailable) {
		e.t.Fatalf("%s on the receiver: %v", op, err)
	}
	if !cur.ReplyNotAvailable() || cur.Poller() == nil {
		e.t.Fatalf("%s: not a premature return with a poller (rna %v)", op, cur.ReplyNotAvailable())
	}
	return cur.Poller()
}

// eventually retries f until it returns nil, for 10 s.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sysExc returns the system exception in err, or fails.
func sysExc(t *testing.T, err error, name string, minor uint32) *giop.SystemException {
	t.Helper()
	var x *giop.SystemException
	if !errors.As(err, &x) || x.Name != name || x.Minor != minor {
		t.Fatalf("error %v; want %s minor %#x", err, name, minor)
	}
	return x
}

func servedLines(l *lines) []string {
	var out []string
	for _, s := range strings.Split(l.String(), "\n") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
