package failover_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/peers"
)

const echoID = "IDL:Demo/Echo:1.0"

var echoKey = []byte("Echo")

// node is one Go GIOP server with a Demo::Echo servant on a fixed loopback
// port, which can be killed (listener and connections closed at once) and
// started again on the same port. Its servant answers echoString with
// "NAME:TAG", unless behave says otherwise.
type node struct {
	t    *testing.T
	name string
	port int

	mu      sync.Mutex
	behave  func(n int, req *giop.ServerRequest) error // n counts echoString arrivals from 1
	arrived []time.Time                                // echoString arrivals
	locates int
	srv     *giop.Server
	served  chan error
}

// newNode starts a node on a free loopback port.
func newNode(t *testing.T, name string) *node {
	t.Helper()
	return newNodeOn(t, name, 0)
}

// newNodeOn starts a node on port (0: a free one).
func newNodeOn(t *testing.T, name string, port int) *node {
	t.Helper()
	n := &node{t: t, name: name, port: port}
	n.start()
	t.Cleanup(n.kill)
	return n
}

// start serves on n.port (a free one the first time).
func (n *node) start() {
	n.t.Helper()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", n.port))
	if err != nil {
		n.t.Fatal(err)
	}
	n.port = ln.Addr().(*net.TCPAddr).Port
	a := giop.NewAdapter()
	a.Register(echoKey, (*echoServant)(n))
	srv := giop.NewServer(nil, &countingHandler{Adapter: a, n: n})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	n.mu.Lock()
	n.srv, n.served = srv, served
	n.mu.Unlock()
}

// kill closes the listener and every connection at once, as a crashed
// process's kernel would (no CloseConnection).
func (n *node) kill() {
	n.mu.Lock()
	srv, served := n.srv, n.served
	n.srv = nil
	n.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	if err := <-served; !errors.Is(err, giop.ErrServerClosed) {
		n.t.Errorf("%s: Serve returned %v", n.name, err)
	}
}

// shutdown closes the node gracefully: CloseConnection on every
// connection, then the close.
func (n *node) shutdown() {
	n.mu.Lock()
	srv, served := n.srv, n.served
	n.srv = nil
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	if err := <-served; !errors.Is(err, giop.ErrServerClosed) {
		n.t.Errorf("%s: Serve returned %v", n.name, err)
	}
}

func (n *node) setBehave(f func(int, *giop.ServerRequest) error) {
	n.mu.Lock()
	n.behave = f
	n.mu.Unlock()
}

// calls returns how many echoString requests have arrived.
func (n *node) calls() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.arrived)
}

// gaps returns the intervals between successive echoString arrivals.
func (n *node) gaps() []time.Duration {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(n.arrived); i++ {
		out = append(out, n.arrived[i].Sub(n.arrived[i-1]).Round(time.Millisecond))
	}
	return out
}

// ior is the reference to n's Echo object, with alternate addresses.
func (n *node) ior(alternates ...int) *giop.IOR { return echoIOR(n.port, alternates...) }

// echoIOR builds an IIOP 1.2 reference to Echo at 127.0.0.1:port with one
// TAG_ALTERNATE_IIOP_ADDRESS component per alternate port, in order.
func echoIOR(port int, alternates ...int) *giop.IOR {
	comps := []giop.TaggedComponent{
		giop.ORBTypeComponent(giop.ORBTypeRequestAgent),
		giop.DefaultCodeSets.Component(),
	}
	for _, p := range alternates {
		comps = append(comps, giop.AlternateAddress{Host: "127.0.0.1", Port: uint16(p)}.Component())
	}
	return giop.NewIOR(echoID, &giop.IIOPProfile{
		Version: giop.V1_2, Host: "127.0.0.1", Port: uint16(port), ObjectKey: echoKey, Components: comps,
	})
}

// countingHandler counts LocateRequests on top of the Adapter.
type countingHandler struct {
	*giop.Adapter
	n *node
}

func (h *countingHandler) Locate(key []byte) bool {
	h.n.mu.Lock()
	h.n.locates++
	h.n.mu.Unlock()
	return h.Adapter.Locate(key)
}

type echoServant node

func (s *echoServant) RepositoryID() string { return echoID }

func (s *echoServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	if req.Operation() != "echoString" {
		return giop.BadOperation(req.Operation())
	}
	tag := req.Args.String()
	if err := req.ArgsErr(); err != nil {
		return err
	}
	s.mu.Lock()
	s.arrived = append(s.arrived, time.Now())
	count, behave := len(s.arrived), s.behave
	s.mu.Unlock()
	if behave != nil {
		if err := behave(count, req); err != nil {
			return err
		}
	}
	req.Results().WriteString(s.name + ":" + tag)
	return nil
}

// dropConnection closes the request's connection without a reply, as a
// server that dies with the request in hand, and waits for the close.
func dropConnection(req *giop.ServerRequest) error {
	go req.Conn.Close()
	<-req.Context().Done()
	return req.Context().Err()
}

// rawListener accepts on a loopback port and, per connection, either resets
// it at once (reset) or reads and never answers.
type rawListener struct {
	ln    net.Listener
	port  int
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newRawListener(t *testing.T, reset bool) *rawListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawListener{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if reset {
				c.(*net.TCPConn).SetLinger(0)
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
			r.wg.Add(1)
			go func() { defer r.wg.Done(); io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(r.close)
	return r
}

// accepted returns how many connections it holds open.
func (r *rawListener) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// close stops accepting and closes every connection.
func (r *rawListener) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
	r.mu.Unlock()
	r.wg.Wait()
}

// client is a running failover_client.
type client struct {
	t *testing.T
	p *peers.Process
}

// callTimeout bounds a call only so that a hung test fails rather than
// hangs; no assertion depends on it.
const callTimeout = 90 * time.Second

// startClient runs failover_client on ref with the -ORB options given.
func startClient(t *testing.T, ref *giop.IOR, orbArgs ...string) *client {
	t.Helper()
	p := peers.StartInteractive(t, peers.Dir(t), "failover_client", append(orbArgs, ref.String())...)
	if l := p.Line(t, 30*time.Second); l != "READY" {
		t.Fatalf("failover_client: %q, want READY\n%s", l, p.Output())
	}
	return &client{t: t, p: p}
}

// result is one CALL line.
type result struct {
	tag       string
	ok        bool
	result    string // NAME:TAG of the node that answered, when ok
	exc       string
	minor     uint32
	completed int
	ms        float64
	line      string
}

func (r result) String() string { return r.line }

// served names the node that answered.
func (r result) served() string {
	name, _, _ := strings.Cut(r.result, ":")
	return name
}

// send starts a call without waiting for its line (see read).
func (c *client) send(tag string) { c.t.Helper(); c.p.Send(c.t, "call "+tag) }

// read reads the next CALL line.
func (c *client) read() result {
	c.t.Helper()
	line := c.p.Line(c.t, callTimeout)
	f := peers.Fields(line)
	if !strings.HasPrefix(line, "CALL ") || f["ok"] == "" {
		c.t.Fatalf("failover_client printed %q", line)
	}
	r := result{tag: f["tag"], ok: f["ok"] == "1", result: f["result"], exc: f["exc"], line: line}
	if m, err := strconv.ParseUint(strings.TrimPrefix(f["minor"], "0x"), 16, 32); err == nil {
		r.minor = uint32(m)
	}
	r.completed, _ = strconv.Atoi(f["completed"])
	r.ms, _ = strconv.ParseFloat(f["ms"], 64)
	c.t.Logf("%s", line)
	return r
}

// call makes one call and returns its outcome.
func (c *client) call(tag string) result {
	c.t.Helper()
	c.send(tag)
	return c.read()
}

// silent reports whether the client printed nothing for d (a call still
// blocked), and otherwise returns what it printed.
func (c *client) silent(d time.Duration) (string, bool) {
	l, ok := c.p.LineWithin(d)
	return l, !ok
}

// Minor codes of omniORB 4.2 (omniORB4/minorCode.h), OMNIORBMinorCode(n) =
// 0x41540000|n.
const (
	minorFailedOnForwarded uint32 = 0x41540001 // TRANSIENT_FailedOnForwarded
	minorConnectFailed     uint32 = 0x41540002 // TRANSIENT_ConnectFailed
	minorCallTimedout      uint32 = 0x41540008 // TRANSIENT_CallTimedout (raised as TIMEOUT)
	minorWaitingForReply   uint32 = 0x41540007 // COMM_FAILURE_WaitingForReply
)
