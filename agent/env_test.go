package agent_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const stockID = "IDL:StockManager:1.0"

// stockManager is the seed's StockManager target in Go (for unit tests;
// the omniORB one proves interop). add_stock can be held at a gate to play
// a slow target; remove_stock raises a user exception for unknown symbols.
type stockManager struct {
	mu     sync.Mutex
	stocks map[string]float64
	gate   chan struct{} // when set, add_stock waits for it
	calls  atomic.Int32
	// entered is signalled when add_stock starts, for tests that act mid-call.
	entered chan string
}

func newStockManager() *stockManager {
	return &stockManager{stocks: map[string]float64{}, entered: make(chan string, 64)}
}

func (s *stockManager) RepositoryID() string { return stockID }

// hold makes add_stock wait until the returned release is called.
func (s *stockManager) hold() (release func()) {
	gate := make(chan struct{})
	s.mu.Lock()
	s.gate = gate
	s.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

func (s *stockManager) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	s.calls.Add(1)
	switch r.Operation() {
	case "add_stock":
		sym, quote := r.Args.String(), r.Args.Double()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		select {
		case s.entered <- sym:
		default:
		}
		s.mu.Lock()
		gate := s.gate
		s.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		s.mu.Lock()
		_, had := s.stocks[sym]
		s.stocks[sym] = quote
		s.mu.Unlock()
		r.Results().WriteBool(!had)
	case "find_closest_symbol":
		sym := r.Args.String()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		best, n := "", -1
		s.mu.Lock()
		for k := range s.stocks {
			if p := commonPrefix(k, sym); p > n || (p == n && k < best) {
				best, n = k, p
			}
		}
		s.mu.Unlock()
		e := r.Results()
		e.WriteBool(n > 0)
		if n > 0 {
			sym = best
		}
		e.WriteString(sym)
	case "remove_stock":
		sym := r.Args.String()
		if err := r.ArgsErr(); err != nil {
			return err
		}
		s.mu.Lock()
		_, had := s.stocks[sym]
		delete(s.stocks, sym)
		s.mu.Unlock()
		if !had {
			return &giop.UserException{RepoID: "IDL:StockManager/NotFound:1.0", Members: func(e *giop.Encoder) { e.WriteString(sym) }}
		}
	case "crash":
		return giop.NewSystemException(giop.ExcNoPermission, 42, giop.CompletedYes)
	default:
		return giop.BadOperation(r.Operation())
	}
	return nil
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// env is an agent, a StockManager target and a client.
type env struct {
	t        *testing.T
	agent    *agent.Agent
	client   *giop.Client
	agentRef *giop.IOR
	sm       *stockManager
	target   *giop.IOR
	targetLn net.Listener
	tsrv     *giop.Server
}

func newEnv(t *testing.T, cfg agent.Config) *env {
	t.Helper()
	e := &env{t: t, sm: newStockManager()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.targetLn = ln
	ad := giop.NewAdapter()
	ad.Register([]byte("StockManager"), e.sm)
	e.tsrv = giop.NewServer(nil, ad)
	go e.tsrv.Serve(ln)
	t.Cleanup(func() { e.tsrv.Close() })
	e.target = giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager"),
		Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}})

	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.ConnectRetryBudget == 0 {
		cfg.ConnectRetryBudget = 200 * time.Millisecond
	}
	a, err := agent.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = a
	t.Cleanup(func() { a.Close() })
	e.agentRef = a.IOR()
	e.client = giop.NewClient(nil)
	t.Cleanup(func() { e.client.Close() })
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// prop is a NameValuePair for create_request_proxy.
type prop struct {
	name string
	val  giop.Any
}

func boolProp(name string, v bool) prop { return prop{name, giop.Any{Type: giop.TCBoolean, Value: v}} }
func octetProp(name string, v byte) prop {
	return prop{name, giop.Any{Type: giop.TCOctet, Value: v}}
}

func writeProps(enc *giop.Encoder, props []prop) {
	enc.WriteULong(uint32(len(props)))
	for _, p := range props {
		enc.WriteString(p.name)
		if err := enc.WriteAny(p.val); err != nil {
			panic(err)
		}
	}
}

// createProxy calls RequestAgentEx::create_request_proxy.
func (e *env) createProxy(target *giop.IOR, repoID string, recipient *giop.IOR, props ...prop) (*giop.IOR, error) {
	resp, err := e.client.Invoke(e.ctx(), e.agentRef, &giop.Invocation{Operation: "create_request_proxy",
		Args: func(enc *giop.Encoder) {
			enc.WriteIOR(target)
			enc.WriteString(repoID)
			enc.WriteIOR(recipient)
			writeProps(enc, props)
		}})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

// proxyAndReceiver makes a request proxy on the agent at agentRef through
// client c and returns it with its typed receiver; any failure fails tb.
// For tests and benchmarks that drive an agent without an env.
func proxyAndReceiver(tb testing.TB, c *giop.Client, agentRef, target, recipient *giop.IOR, props ...prop) (proxy, rcv *giop.IOR) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, agentRef, &giop.Invocation{Operation: "create_request_proxy", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(target)
		enc.WriteString("")
		enc.WriteIOR(recipient)
		writeProps(enc, props)
	}})
	if err == nil {
		proxy = resp.Result.IOR()
		err = resp.Result.Err()
	}
	if err != nil {
		tb.Fatalf("create_request_proxy: %v", err)
	}
	resp, err = c.Invoke(ctx, proxy, &giop.Invocation{Operation: "_get_the_receiver"})
	if err == nil {
		rcv = resp.Result.IOR()
		err = resp.Result.Err()
	}
	if err != nil {
		tb.Fatalf("the_receiver: %v", err)
	}
	return proxy, rcv
}

func (e *env) mustProxy(props ...prop) *giop.IOR {
	e.t.Helper()
	p, err := e.createProxy(e.target, "", nil, props...)
	if err != nil {
		e.t.Fatalf("create_request_proxy: %v", err)
	}
	return p
}

// getRef calls an operation returning an object reference.
func (e *env) getRef(obj *giop.IOR, op string) (*giop.IOR, error) {
	resp, err := e.client.Invoke(e.ctx(), obj, &giop.Invocation{Operation: op})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

func (e *env) receiver(proxy *giop.IOR) *giop.IOR {
	e.t.Helper()
	r, err := e.getRef(proxy, "_get_the_receiver")
	if err != nil {
		e.t.Fatalf("the_receiver: %v", err)
	}
	return r
}

// result is what an NM-aware client sees after one call: the reply (or
// error), and what the NMService context said.
type result struct {
	resp   *giop.Response
	err    error
	poller *giop.IOR // the_poller; nil if no ThePoller context
	// rna is Current::reply_not_available as an NM-aware client computes it.
	rna         bool
	replierName bool
}

func reqInfoCtx(tag, cookie string, wait uint32, suppress bool) giop.ServiceContextList {
	c := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{
		RequestTag: []byte(tag), Cookie: []byte(cookie), WaitTimeout: wait, Suppress: suppress}}
	return giop.ServiceContextList{c.Encode()}
}

func waitCtx(wait uint32) giop.ServiceContextList {
	c := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: wait}
	return giop.ServiceContextList{c.Encode()}
}

// call invokes op on ref with args and contexts and interprets the reply
// as an NM-aware client's Current would.
func (e *env) call(ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder)) result {
	e.t.Helper()
	// RawReply gives us the reply contexts of exceptions too.
	resp, err := e.client.Invoke(e.ctx(), ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
	r := result{resp: resp, err: err}
	if err != nil {
		r.rna = true // a failure between client and agent
		return r
	}
	c, ok, cerr := nmproto.Find(resp.Header.ServiceContexts)
	if cerr != nil {
		e.t.Fatalf("bad NMService context: %v", cerr)
	}
	if ok && c.Kind == nmproto.KindThePoller {
		r.poller = c.ThePoller
		if r.poller.IsNil() {
			r.poller = &giop.IOR{}
		}
	}
	r.replierName = ok && c.Kind == nmproto.KindReplierName
	switch resp.Header.Status {
	case giop.ReplyNoException:
		r.rna = r.poller != nil
	default:
		// An exception is the real result only with ReplierName.
		r.rna = !r.replierName
		r.err = exceptionOf(resp)
	}
	return r
}

func exceptionOf(resp *giop.Response) error {
	switch resp.Header.Status {
	case giop.ReplySystemException:
		x := resp.Result.SystemException()
		if x == nil {
			return resp.Result.Err()
		}
		return x
	case giop.ReplyUserException:
		return &giop.UserException{RepoID: resp.Result.String(), Body: resp.Result}
	}
	return errors.New("unexpected status " + resp.Header.Status.String())
}

func addStockArgs(sym string, quote float64) func(*giop.Encoder) {
	return func(enc *giop.Encoder) { enc.WriteString(sym); enc.WriteDouble(quote) }
}

func stringArg(s string) func(*giop.Encoder) { return func(enc *giop.Encoder) { enc.WriteString(s) } }

func isSys(err error, name string, minor uint32) bool {
	var x *giop.SystemException
	return errors.As(err, &x) && x.Name == name && (minor == 0 || x.Minor == minor)
}

func isUser(err error, id string) bool {
	var u *giop.UserException
	return errors.As(err, &u) && u.RepoID == id
}

// pollTags calls poll on a proxy (or, with group, on the agent).
func (e *env) pollTags(obj *giop.IOR, group *string, timeout uint32, unmask bool) ([]string, error) {
	resp, err := e.client.Invoke(e.ctx(), obj, &giop.Invocation{Operation: "poll", Args: func(enc *giop.Encoder) {
		if group != nil {
			enc.WriteString(*group)
		}
		enc.WriteULong(timeout)
		enc.WriteBool(unmask)
	}})
	if err != nil {
		return nil, err
	}
	n := resp.Result.ULong()
	tags := []string{}
	for range n {
		tags = append(tags, string(resp.Result.Octets()))
	}
	return tags, resp.Result.Err()
}

func joined(tags []string) string { return strings.Join(tags, ",") }
