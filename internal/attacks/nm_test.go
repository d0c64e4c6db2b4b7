package attacks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// The NM protocol as a client speaks it (agent/env_test.go does the same
// against an agent in-process), and the targets the attacks use.

const stockID = "IDL:StockManager:1.0"

// prop is a NameValuePair for create_request_proxy.
type prop struct {
	name string
	val  giop.Any
}

func boolProp(name string, v bool) prop { return prop{name, giop.Any{Type: giop.TCBoolean, Value: v}} }

func writeProps(enc *giop.Encoder, props []prop) {
	enc.WriteULong(uint32(len(props)))
	for _, p := range props {
		enc.WriteString(p.name)
		if err := enc.WriteAny(p.val); err != nil {
			panic(err)
		}
	}
}

func callCtx(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// createProxy calls RequestAgentEx::create_request_proxy.
func createProxy(c *giop.Client, agentRef, target *giop.IOR, props ...prop) (*giop.IOR, error) {
	ctx, cancel := callCtx(20 * time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, agentRef, &giop.Invocation{Operation: "create_request_proxy",
		Args: func(enc *giop.Encoder) {
			enc.WriteIOR(target)
			enc.WriteString("")
			enc.WriteIOR(nil)
			writeProps(enc, props)
		}})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

// receiverOf returns a proxy's typed receiver.
func receiverOf(c *giop.Client, proxy *giop.IOR) (*giop.IOR, error) {
	ctx, cancel := callCtx(20 * time.Second)
	defer cancel()
	resp, err := c.Invoke(ctx, proxy, &giop.Invocation{Operation: "_get_the_receiver"})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

// proxyAndReceiver makes a proxy on target and returns it with its
// receiver; a failure fails t.
func proxyAndReceiver(t *testing.T, c *giop.Client, agentRef, target *giop.IOR, props ...prop) (proxy, rcv *giop.IOR) {
	t.Helper()
	proxy, err := createProxy(c, agentRef, target, props...)
	if err != nil {
		t.Fatalf("create_request_proxy: %v", err)
	}
	rcv, err = receiverOf(c, proxy)
	if err != nil {
		t.Fatalf("the_receiver: %v", err)
	}
	return proxy, rcv
}

// createRequest calls RequestAgent::create_request and returns the
// request object.
func createRequest(c *giop.Client, agentRef, target *giop.IOR, group, tag string, cookie []byte, timeout time.Duration) (*giop.IOR, error) {
	ctx, cancel := callCtx(timeout)
	defer cancel()
	resp, err := c.Invoke(ctx, agentRef, &giop.Invocation{Operation: "create_request", Args: func(enc *giop.Encoder) {
		enc.WriteIOR(target)
		enc.WriteString(stockID)
		enc.WriteIOR(nil)
		enc.WriteOctets(cookie)
		enc.WriteString(group)
		enc.WriteOctets([]byte(tag))
		enc.WriteULong(0)
	}})
	if err != nil {
		return nil, err
	}
	ref := resp.Result.IOR()
	return ref, resp.Result.Err()
}

func reqInfoCtx(tag, cookie string, wait uint32) giop.ServiceContextList {
	c := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: nmproto.ReqInfo{
		RequestTag: []byte(tag), Cookie: []byte(cookie), WaitTimeout: wait}}
	return giop.ServiceContextList{c.Encode()}
}

func waitCtx(wait uint32) giop.ServiceContextList {
	c := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: wait}
	return giop.ServiceContextList{c.Encode()}
}

func addStockArgs(sym string, quote float64) func(*giop.Encoder) {
	return func(enc *giop.Encoder) { enc.WriteString(sym); enc.WriteDouble(quote) }
}

// result is what an NM-aware client sees after one call.
type result struct {
	resp        *giop.Response
	err         error // a failure of the call itself, or the exception replied
	sys         *giop.SystemException
	poller      *giop.IOR // from a ThePoller context
	replierName bool      // the exception is the real result
}

// nmCall invokes op on ref and interprets the reply as an NM-aware
// client's Current would.
func nmCall(c *giop.Client, ref *giop.IOR, op string, ctxs giop.ServiceContextList, args func(*giop.Encoder), timeout time.Duration) result {
	ctx, cancel := callCtx(timeout)
	defer cancel()
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: op, Args: args, Contexts: ctxs, RawReply: true})
	r := result{resp: resp, err: err}
	if err != nil {
		errors.As(err, &r.sys)
		return r
	}
	if nc, ok, _ := nmproto.Find(resp.Header.ServiceContexts); ok {
		switch nc.Kind {
		case nmproto.KindThePoller:
			if !nc.ThePoller.IsNil() {
				r.poller = nc.ThePoller
			}
		case nmproto.KindReplierName:
			r.replierName = true
		}
	}
	switch resp.Header.Status {
	case giop.ReplyNoException:
	case giop.ReplySystemException:
		r.sys = resp.Result.SystemException()
		if r.sys == nil {
			r.err = fmt.Errorf("undecodable system exception")
		} else {
			r.err = r.sys
		}
	case giop.ReplyUserException:
		r.err = &giop.UserException{RepoID: resp.Result.String()}
	default:
		r.err = fmt.Errorf("reply status %v", resp.Header.Status)
	}
	return r
}

// matureErr is nil when the call returned its real, normal result.
func (r result) matureErr() error {
	if r.err != nil {
		return r.err
	}
	if r.poller != nil {
		return errors.New("premature return (no real result)")
	}
	return nil
}

// kind is a short description of a result: "poller", "ok", or the
// exception.
func (r result) kind() string {
	switch {
	case r.poller != nil && r.err != nil && r.sys != nil && r.sys.Minor == nmproto.ReplyNotAvailable:
		return "acknowledged (poller)"
	case r.poller != nil:
		return "acknowledged (poller)"
	case r.err == nil:
		return "normal reply"
	}
	return shortErr(r.err)
}

var minorNames = map[uint32]string{
	nmproto.ReplyNotAvailable: "REPLY_NOT_AVAILABLE", nmproto.DuplicatedRequestTag: "DUPLICATED_REQUEST_TAG",
	nmproto.RequestTrashed: "REQUEST_TRASHED", nmproto.ProxyDestroyed: "PROXY_DESTROYED",
	nmproto.QueueFull: "QUEUE_FULL", nmproto.TargetUnreachable: "TARGET_UNREACHABLE",
	nmproto.TargetConnectionLost: "TARGET_CONNECTION_LOST", nmproto.TooManyForwards: "TOO_MANY_FORWARDS",
	nmproto.StoreFailed: "STORE_FAILED", nmproto.StoreFull: "STORE_FULL", nmproto.SelfDelegation: "SELF_DELEGATION",
	nmproto.FieldTooLarge: "FIELD_TOO_LARGE", nmproto.TooManyRequests: "TOO_MANY_REQUESTS",
	nmproto.TooManyWaiting: "TOO_MANY_WAITING", nmproto.AgentShuttingDown: "AGENT_SHUTTING_DOWN",
	nmproto.TargetNotAllowed: "TARGET_NOT_ALLOWED",
}

func sysName(x *giop.SystemException) string {
	if x == nil {
		return "?"
	}
	if n, ok := minorNames[x.Minor]; ok {
		return x.Name + "/" + n
	}
	return x.Name
}

// pollTags calls poll on a proxy (or, with group, on the agent).
func pollTags(c *giop.Client, obj *giop.IOR, group *string, timeout uint32, unmask bool, within time.Duration) ([]string, error) {
	ctx, cancel := callCtx(within)
	defer cancel()
	resp, err := c.Invoke(ctx, obj, &giop.Invocation{Operation: "poll", Args: func(enc *giop.Encoder) {
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
	if n > 1<<24 {
		return nil, fmt.Errorf("poll returned %d tags", n)
	}
	tags := []string{}
	for range n {
		tags = append(tags, string(resp.Result.Octets()))
	}
	return tags, resp.Result.Err()
}

// nonExistent calls _non_existent: true when the object is gone.
func nonExistent(c *giop.Client, ref *giop.IOR, within time.Duration) (bool, error) {
	ctx, cancel := callCtx(within)
	defer cancel()
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "_non_existent"})
	if err != nil {
		return false, err
	}
	gone := resp.Result.Bool()
	return gone, resp.Result.Err()
}

func profileOf(ref *giop.IOR) *giop.IIOPProfile {
	prof, err := ref.IIOP()
	if err != nil {
		panic(err)
	}
	return prof
}

// atKey is a reference to key at ref's address.
func atKey(ref *giop.IOR, typeID string, key []byte) *giop.IOR {
	prof := profileOf(ref)
	return giop.NewIOR(typeID, &giop.IIOPProfile{Version: giop.V1_2, Host: prof.Host, Port: prof.Port, ObjectKey: key})
}

// rawRequest is one GIOP 1.2 Request, little-endian, as bytes.
func rawRequest(id uint32, key []byte, op string, args func(*giop.Encoder)) []byte {
	e := giop.NewEncoder(giop.V1_2, true)
	e.StartRequest(giop.V1_2, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget, ObjectKey: key, Operation: op})
	if args != nil {
		args(e)
	}
	return bytes.Clone(e.FinishMessage())
}

// readMessage reads one GIOP message (header and body) from nc.
func readMessage(nc net.Conn) (*giop.Message, error) {
	hdr := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		return nil, err
	}
	h, err := giop.ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	if h.Size > 64<<20 {
		return nil, fmt.Errorf("message of %d bytes", h.Size)
	}
	buf := make([]byte, giop.HeaderSize+int(h.Size))
	copy(buf, hdr)
	if _, err := io.ReadFull(nc, buf[giop.HeaderSize:]); err != nil {
		return nil, err
	}
	return &giop.Message{Header: h, Buf: buf}, nil
}

// stock is the StockManager target: add_stock(string, double) → boolean.
// It counts its calls.
type stock struct{ calls atomic.Int64 }

func (s *stock) RepositoryID() string { return stockID }
func (s *stock) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	s.calls.Add(1)
	if r.Operation() != "add_stock" {
		return giop.BadOperation(r.Operation())
	}
	_, _ = r.Args.String(), r.Args.Double()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	r.Results().WriteBool(true)
	return nil
}

// server is a GIOP server of the test process on loopback.
type server struct {
	srv *giop.Server
	lns []net.Listener
}

// serve serves servant s under key on n loopback listeners and returns
// the reference at each.
func serve(t *testing.T, key string, s giop.Servant, n int) (*server, []*giop.IOR) {
	t.Helper()
	ad := giop.NewAdapter()
	ad.Register([]byte(key), s)
	cfg := giop.DefaultConfig()
	cfg.MaxConnections = 100_000
	srv := &server{srv: giop.NewServer(cfg, ad)}
	var refs []*giop.IOR
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv.lns = append(srv.lns, ln)
		go srv.srv.Serve(ln)
		refs = append(refs, giop.NewIOR(s.RepositoryID(), &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
			Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte(key),
			Components: []giop.TaggedComponent{giop.DefaultCodeSets.Component()}}))
	}
	t.Cleanup(func() { srv.srv.Close() })
	return srv, refs
}

// startStock serves a StockManager; its reference and the servant.
func startStock(t *testing.T) (*stock, *giop.IOR) {
	t.Helper()
	s := &stock{}
	_, refs := serve(t, "StockManager", s, 1)
	return s, refs[0]
}

// hung is a target that accepts connections, reads everything and never
// answers.
func hung(t *testing.T) *giop.IOR {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")})
}

// forger answers every call as if it were the StockManager, counting.
type forger struct{ calls atomic.Int64 }

func (f *forger) RepositoryID() string { return stockID }
func (f *forger) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	f.calls.Add(1)
	req.Results().WriteBool(true)
	return nil
}

// forwarder answers every call with a LOCATION_FORWARD to where.
type forwarder struct {
	calls atomic.Int64
	where atomic.Pointer[giop.IOR]
}

func (f *forwarder) RepositoryID() string { return stockID }
func (f *forwarder) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	f.calls.Add(1)
	return &giop.ForwardError{IOR: f.where.Load()}
}

// liar runs every request it gets — counting it, in all and by its first
// argument — and then, instead of answering, sends CloseConnection and
// closes (agent/attack_self_test.go).
func liar(t *testing.T) (*giop.IOR, *atomic.Int64, *counts) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ran := new(atomic.Int64)
	bySym := &counts{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				for {
					c.SetReadDeadline(time.Now().Add(time.Minute))
					m, err := readMessage(c)
					if err != nil {
						return
					}
					if m.Type == giop.MsgRequest {
						ran.Add(1)
						if _, d, err := giop.DecodeRequest(m); err == nil {
							bySym.add(d.String())
						}
						c.Write(giop.EncodeHeaderOnly(m.Version, giop.MsgCloseConnection))
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return giop.NewIOR(stockID, &giop.IIOPProfile{Version: giop.V1_2, Host: "127.0.0.1",
		Port: uint16(ln.Addr().(*net.TCPAddr).Port), ObjectKey: []byte("StockManager")}), ran, bySym
}

// most is the largest count.
func (c *counts) most() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := 0
	for _, v := range c.m {
		m = max(m, v)
	}
	return m
}

// dialMany opens n connections to addr, spreading their source addresses
// over 127.0.0.1–127.0.0.16 so that tens of thousands fit in the
// ephemeral ports; it returns those that connected, and why the others
// did not.
func dialMany(addr string, n int) ([]net.Conn, *counts) {
	conns := make([]net.Conn, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	failed := &counts{}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				d := net.Dialer{Timeout: 10 * time.Second,
					LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%16))}}
				c, err := d.Dial("tcp", addr)
				if err != nil {
					msg := err.Error()
					if i := strings.LastIndex(msg, ": "); i >= 0 {
						msg = msg[i+2:]
					}
					failed.add(msg)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	out := conns[:0]
	for _, c := range conns {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, failed
}

// dialed says how many of n connected, and why the others did not.
func dialed(conns []net.Conn, n int, failed *counts) string {
	s := fmt.Sprintf("%s of %s connected", commas(int64(len(conns))), commas(int64(n)))
	if len(conns) < n {
		s += " (" + failed.String() + ")"
	}
	return s
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

// clients returns n GIOP clients, closed at the end of the test.
func clients(t *testing.T, n int) []*giop.Client {
	out := make([]*giop.Client, n)
	for i := range out {
		out[i] = giop.NewClient(nil)
		c := out[i]
		t.Cleanup(func() { c.Close() })
	}
	return out
}

// parallel runs f(i) for i in [0, n) on workers goroutines, and returns
// how long it took.
func parallel(n, workers int, f func(worker, i int)) time.Duration {
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(w, i)
			}
		}()
	}
	wg.Wait()
	return time.Since(start)
}

// counts counts outcomes by name, safely from many goroutines.
type counts struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counts) add(k string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]int{}
	}
	c.m[k]++
	c.mu.Unlock()
}

func (c *counts) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	type kv struct {
		k string
		v int
	}
	var l []kv
	for k, v := range c.m {
		l = append(l, kv{k, v})
	}
	// Biggest first.
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].v > l[i].v || (l[j].v == l[i].v && l[j].k < l[i].k) {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	var b bytes.Buffer
	for i, e := range l {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", commas(int64(e.v)), e.k)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}
