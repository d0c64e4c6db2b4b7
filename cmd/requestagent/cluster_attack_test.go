package main

// Attacks on a real standby (docs/cluster.md, "Standbys forward"): the
// ownership key is the test's own, written under a lease of its own, so
// that the agent stays a standby for as long as the test says — whatever
// the key holds — and becomes the owner when the test revokes the lease.

import (
	"context"
	binenc "encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/peers"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// ownerKey is the ownership key of the default --cluster-prefix.
const ownerKey = "requestagent/cluster/owner"

// intruder holds the ownership key under a lease of its own, as another
// agent would, and writes into it what the test says.
type intruder struct {
	t     *testing.T
	cli   *clientv3.Client
	lease clientv3.LeaseID
}

// takeOwnership writes value into the ownership key under a new lease
// long enough for the test, before any agent starts.
func takeOwnership(t *testing.T, c *etcdtest.Cluster, value string) *intruder {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := cli.Grant(ctx, 120)
	if err != nil {
		t.Fatal(err)
	}
	in := &intruder{t: t, cli: cli, lease: l.ID}
	in.write(value)
	return in
}

// write puts value into the key, under the intruder's lease.
func (in *intruder) write(value string) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := in.cli.Put(ctx, ownerKey, value, clientv3.WithLease(in.lease)); err != nil {
		in.t.Fatal(err)
	}
}

// leave revokes the lease: the key goes, and a standby takes it.
func (in *intruder) leave() {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := in.cli.Revoke(ctx, in.lease); err != nil {
		in.t.Fatal(err)
	}
}

// startStandby starts the binary in cluster mode on port with a 2 s
// lease and the extra flags, and waits until its /readyz says it is a
// standby. With env set, the binary is started through the test binary
// re-run with it (limitEnv: a small fd limit, faults_test.go).
func startStandby(t *testing.T, c *etcdtest.Cluster, port int, env []string, extra ...string) *agentProc {
	t.Helper()
	p := &agentProc{port: port, adminAddr: fmt.Sprintf("127.0.0.1:%d", peers.FreePort(t)), stderr: &syncBuffer{}}
	args := append([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--host", fmt.Sprintf("127.0.0.1:%d", port),
		"--admin", p.adminAddr, "--data-dir", t.TempDir(),
		"--cluster", strings.Join(c.Endpoints(), ","), "--cluster-lease", "2s", "--cluster-name", fmt.Sprint("agent-", port)}, extra...)
	bin := binary(t)
	if len(env) > 0 {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		args = append([]string{bin}, args...)
		bin = self
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
		if t.Failed() {
			t.Logf("standby on %d, stderr:\n%s", p.port, p.stderr)
		}
	})
	waitStandby(t, p)
	return p
}

// waitStandby waits until p's /readyz says it is a standby.
func waitStandby(t *testing.T, p *agentProc) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := httpGet(t, "http://"+p.adminAddr+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "standby") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never a standby: /readyz %d %q\n%s", code, body, p.stderr)
		}
	}
}

// agentKey is the agent's own object key, as corbaloc names it.
var agentKey = []byte("RequestAgent")

// rawCall is a GIOP request for _non_existent on the agent's key.
func rawCall(v giop.Version, little bool, id uint32) []byte {
	e := giop.NewEncoder(v, little)
	e.StartRequest(v, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget, ObjectKey: agentKey, Operation: "_non_existent"})
	return append([]byte(nil), e.FinishMessage()...)
}

// readGIOP reads one message from nc, its body at most 64 KiB.
func readGIOP(nc net.Conn) (*giop.Message, error) {
	hdr := make([]byte, giop.HeaderSize)
	if _, err := io.ReadFull(nc, hdr); err != nil {
		return nil, err
	}
	h, err := giop.ParseHeader(hdr)
	if err != nil {
		return nil, err
	}
	if h.Size > 64<<10 {
		return nil, fmt.Errorf("a %v of %d bytes", h.Type, h.Size)
	}
	buf := append(hdr, make([]byte, h.Size)...)
	if _, err := io.ReadFull(nc, buf[giop.HeaderSize:]); err != nil {
		return nil, err
	}
	return &giop.Message{Header: h, Buf: buf}, nil
}

// answer is what a reply to one raw call says.
func answer(m *giop.Message) (uint32, string) {
	h, d, err := giop.DecodeReply(m)
	if err != nil {
		return 0, "undecodable: " + err.Error()
	}
	switch h.Status {
	case giop.ReplySystemException:
		return h.RequestID, d.SystemException().Error()
	case giop.ReplyLocationForward:
		ior := d.IOR()
		if p, err := ior.IIOP(); err == nil {
			return h.RequestID, fmt.Sprintf("forward to %s:%d", p.Host, p.Port)
		}
		return h.RequestID, "forward, undecodable"
	}
	return h.RequestID, h.Status.String()
}

// oneCall sends one raw call on a new connection to port and returns its
// answer.
func oneCall(t *testing.T, port int, v giop.Version, little bool) string {
	t.Helper()
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(rawCall(v, little, 5)); err != nil {
		t.Fatal(err)
	}
	m, err := readGIOP(nc)
	if err != nil {
		return "no answer: " + err.Error()
	}
	if m.Type != giop.MsgReply {
		return m.Type.String()
	}
	_, a := answer(m)
	return a
}

// fakeOwner serves the agent's key on a port of its own: an owner as the
// front forwards to it.
func fakeOwner(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ad := giop.NewAdapter()
	ad.Register(agentKey, &stock{})
	srv := giop.NewServer(nil, ad)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServe_ClusterStandbyUnderAttack: a real standby, its ownership key
// written by someone else. Malformed GIOP is answered MessageError and
// its connection closed; while the key names no address — junk, a value
// far past what an agent writes, an address that is the standby's own,
// a port that accepts and never answers — calls are held and answered
// TRANSIENT completed NO past --cluster-hold at every GIOP version and
// byte order, never forwarded; a key naming a live owner has them
// forwarded there; when the key's lease is revoked the standby owns and
// answers them itself. It stays up throughout.
func TestServe_ClusterStandbyUnderAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("a real standby on a real etcd")
	}
	c := etcdtest.New(t, nil)
	in := takeOwnership(t, c, "\x00\xffnot an agent's value")
	port := peers.FreePort(t)
	b := startStandby(t, c, port, nil, "--cluster-hold", "500ms")
	transient := giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo).Error()

	short := rawCall(giop.V1_2, false, 1)
	binenc.BigEndian.PutUint32(short[8:], 6)
	for name, bytes := range map[string][]byte{
		"bad magic":               append([]byte("GIOX\x01\x02\x00\x00"), 0, 0, 0, 0),
		"version 1.7":             rawgiop.Header(1, 7, 0, giop.MsgRequest, 0),
		"a giant declared size":   rawgiop.Header(1, 2, 1, giop.MsgRequest, 0xFFFFFFF0),
		"a fragment out of place": append(rawgiop.Header(1, 2, 0, giop.MsgFragment, 4), 0, 0, 0, 1),
		"a request cut short":     short[:giop.HeaderSize+6],
		"a key past the limit":    giop.NewEncoder(giop.V1_1, false).EncodeLocateRequest(giop.V1_1, 1, make([]byte, 4<<10+1)),
	} {
		nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		nc.Write(bytes)
		m, err := readGIOP(nc)
		if err != nil || m.Type != giop.MsgMessageError {
			t.Errorf("%s: %v %v, want MessageError", name, m, err)
		} else if _, err := readGIOP(nc); err == nil {
			t.Errorf("%s: the connection stays open after MessageError", name)
		}
		nc.Close()
	}

	holds := func(what string) {
		t.Helper()
		for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
			for _, little := range []bool{false, true} {
				if got := oneCall(t, port, v, little); got != transient {
					t.Fatalf("%s: a GIOP %s call (little endian %v): %s, want %s past the hold", what, v, little, got, transient)
				}
			}
			nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				t.Fatal(err)
			}
			st, _, to, err := rawgiop.LocateForward(nc, v, 1, agentKey)
			nc.Close()
			if err != nil || st != giop.ObjectHere {
				t.Fatalf("%s: a GIOP %s LocateRequest: status %d to %v, %v; want OBJECT_HERE", what, v, st, to, err)
			}
		}
	}
	holds("junk in the key")
	in.write(strings.Repeat("x", 512<<10))
	time.Sleep(200 * time.Millisecond) // the standby's watch sees it; whatever the delay, the next check holds
	holds("a value of 512 KiB")
	if _, body := httpGet(t, "http://"+b.adminAddr+"/readyz"); len(body) > 8<<10 {
		t.Errorf("/readyz with a huge value in the key: %d bytes", len(body))
	}
	in.write(fmt.Sprintf(`{"name":"intruder","giop":["127.0.0.1:%d"]}`, port))
	time.Sleep(200 * time.Millisecond)
	holds("the standby's own address")
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close() // never accepted: the kernel completes the connects into its backlog
	in.write(fmt.Sprintf(`{"name":"intruder","giop":["%s"]}`, hole.Addr()))
	time.Sleep(200 * time.Millisecond)
	holds("a port that accepts and never answers")

	owner := fakeOwner(t)
	in.write(fmt.Sprintf(`{"name":"other","giop":["127.0.0.1:%d"]}`, owner))
	want := fmt.Sprintf("forward to 127.0.0.1:%d", owner)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := oneCall(t, port, giop.V1_2, false)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a call with a live owner named: %s, want %s", got, want)
		}
	}
	for _, v := range []giop.Version{giop.V1_0, giop.V1_1, giop.V1_2} {
		for _, little := range []bool{false, true} {
			if got := oneCall(t, port, v, little); got != want {
				t.Fatalf("a GIOP %s call (little endian %v): %s, want %s", v, little, got, want)
			}
		}
	}
	in.leave()
	waitReady(t, b)
	if got := oneCall(t, port, giop.V1_2, true); got != giop.ReplyNoException.String() {
		t.Fatalf("a call once the standby owns: %s, want its own answer", got)
	}
}

// floodConn is a connection that sent raw calls, and what came back on
// it: TRANSIENT completed NO refusals, other answers, and whether
// CloseConnection came.
type floodConn struct {
	nc       net.Conn
	refused  map[uint32]bool
	answered map[uint32]string
	closed   bool // CloseConnection
	err      error
}

// flood sends calls raw calls at once on a new connection to port.
func flood(t *testing.T, port, calls int) *floodConn {
	t.Helper()
	nc, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var out []byte
	for i := 1; i <= calls; i++ {
		out = append(out, rawCall(giop.V1_2, i%2 == 0, uint32(i))...)
	}
	if _, err := nc.Write(out); err != nil {
		t.Fatal(err)
	}
	return &floodConn{nc: nc, refused: map[uint32]bool{}, answered: map[uint32]string{}}
}

// read reads what comes back, until the connection ends.
func (f *floodConn) read(transient string, mu *sync.Mutex) {
	f.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		m, err := readGIOP(f.nc)
		if err != nil {
			f.err = err
			return
		}
		mu.Lock()
		switch {
		case f.closed:
			f.answered[0] = m.Type.String() + " after CloseConnection"
		case m.Type == giop.MsgCloseConnection:
			f.closed = true
		case m.Type == giop.MsgReply:
			id, a := answer(m)
			if a == transient {
				f.refused[id] = true
			} else {
				f.answered[id] = a
			}
		default:
			f.answered[0] = m.Type.String()
		}
		mu.Unlock()
	}
}

// TestServe_ClusterStandbyFloodWhileNobodyAnswers: while the key names an
// owner with no address, 20 connections send 1,000 calls each and a
// 21st, as fast as it can, one call after another. The standby holds what
// its GIOP budget allows (16,384, and 2 reserved on each connection) and
// refuses the rest TRANSIENT completed NO at once; another client's single
// call is held, not refused; the standby's memory stays bounded and its
// /readyz answers. When the key's lease is revoked the standby owns:
// every connection gets CloseConnection with none of its held calls
// answered, and every call not answered, sent again, is answered by the
// new owner. Nothing is answered twice, nothing lost.
func TestServe_ClusterStandbyFloodWhileNobodyAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("a real standby on a real etcd")
	}
	const conns, calls = 20, 1000
	c := etcdtest.New(t, nil)
	in := takeOwnership(t, c, `{"name":"silent"}`)
	port := peers.FreePort(t)
	b := startStandby(t, c, port, nil, "--cluster-hold", "1m")
	transient := giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo).Error()
	rssBefore := rss(t, b.cmd.Process.Pid)

	var mu sync.Mutex
	var readers sync.WaitGroup
	var floods []*floodConn
	for range conns {
		f := flood(t, port, calls)
		floods = append(floods, f)
		readers.Add(1)
		go func() { defer readers.Done(); f.read(transient, &mu) }()
	}
	// The fast sender: one connection, calls one after another as fast
	// as it can write, until the standby closes it.
	fast, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	fastConn := &floodConn{nc: fast, refused: map[uint32]bool{}, answered: map[uint32]string{}}
	var fastSent sync.WaitGroup
	fastN := 0
	fastSent.Add(1)
	go func() {
		defer fastSent.Done()
		for id := uint32(1); ; id++ {
			if id%100 == 0 {
				// As fast as it can, short of taking both cores from
				// the standby: about 100,000 calls a second at most.
				time.Sleep(time.Millisecond)
			}
			fast.SetWriteDeadline(time.Now().Add(60 * time.Second))
			if _, err := fast.Write(rawCall(giop.V1_2, id%2 == 1, id)); err != nil {
				return
			}
			mu.Lock()
			fastN = int(id)
			mu.Unlock()
		}
	}()
	readers.Add(1)
	go func() { defer readers.Done(); fastConn.read(transient, &mu) }()

	refusedAll := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, f := range floods {
			n += len(f.refused)
		}
		return n
	}
	held := func() float64 { return metric(t, b.adminAddr, "requestagent_standby_held_calls") }
	// The flood's refusals come at once; its held calls wait.
	for deadline := time.Now().Add(60 * time.Second); refusedAll()+int(held()) < conns*calls; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the flood: %d refused and %v held of %d", refusedAll(), held(), conns*calls)
		}
	}
	const budget = giop.DefaultMaxServerInFlight
	if h := held(); h > budget+2*(conns+2) || h < budget {
		t.Fatalf("%v calls held, want the budget (%d) and the connections' reserved places", h, budget)
	}
	if code, _ := httpGet(t, "http://"+b.adminAddr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the flood: %d", code)
	}
	// Another client's one call is held on its connection's reserved
	// places, and answered by the new owner once it owns.
	other := newClient(t, port)
	otherDone := make(chan error, 1)
	before := held()
	go func() {
		resp, err := other.invoke(other.agent, "_non_existent", nil, nil)
		if err == nil && resp.Header.Status != giop.ReplyNoException {
			err = fmt.Errorf("status %v", resp.Header.Status)
		}
		otherDone <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); held() <= before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("another client's call was not held")
		}
	}
	grown := rss(t, b.cmd.Process.Pid) - rssBefore
	t.Logf("%v calls held, %d refused TRANSIENT; the standby's RSS grew by %d MiB", held(), refusedAll(), grown>>20)
	if grown > 512<<20 {
		t.Errorf("the standby's RSS grew by %d MiB for %v held calls", grown>>20, held())
	}

	in.leave()
	waitReady(t, b)
	if err := <-otherDone; err != nil {
		t.Fatalf("another client's call, held through the takeover: %v", err)
	}
	readers.Wait()
	fastSent.Wait()
	again := newClient(t, port)
	resend := func(what string, f *floodConn, n int) {
		t.Helper()
		if !f.closed {
			t.Fatalf("%s: no CloseConnection (%v)", what, f.err)
		}
		if len(f.answered) != 0 {
			t.Fatalf("%s: answered %v before the takeover, while nobody answered", what, f.answered)
		}
		for id := 1; id <= n; id++ {
			// Every call, refused or left unanswered, is the client's to
			// send again; the new owner answers it.
			resp, err := again.invoke(again.agent, "_non_existent", nil, nil)
			if err != nil || resp.Header.Status != giop.ReplyNoException {
				t.Fatalf("%s: call %d sent again: %v %v", what, id, err, resp)
			}
		}
	}
	resend("a flooding connection", floods[0], calls)
	mu.Lock()
	n := fastN
	mu.Unlock()
	resend("the fast sender", fastConn, min(n, 2000))
	t.Logf("the fast sender sent %d calls before CloseConnection, %d refused TRANSIENT", n, len(fastConn.refused))
}

// rss is a process's resident set, in bytes, from /proc.
func rss(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestServe_ClusterStandbyKilledWhileHolding: a standby SIGKILLed while
// it holds calls. Each client's call fails at once with its connection
// (COMM_FAILURE completed MAYBE, as omniORB says of a connection lost
// after its request went out), none hangs; started again on the same
// port and etcd, the standby holds calls again and owns once the key's
// lease is revoked.
func TestServe_ClusterStandbyKilledWhileHolding(t *testing.T) {
	if testing.Short() {
		t.Skip("a real standby on a real etcd")
	}
	c := etcdtest.New(t, nil)
	in := takeOwnership(t, c, `{"name":"silent"}`)
	port := peers.FreePort(t)
	b := startStandby(t, c, port, nil, "--cluster-hold", "1m")
	const n = 5
	errs := make(chan error, n)
	for range n {
		cl := newClient(t, port)
		go func() {
			_, err := cl.invoke(cl.agent, "_non_existent", nil, nil)
			errs <- err
		}()
	}
	for deadline := time.Now().Add(30 * time.Second); metric(t, b.adminAddr, "requestagent_standby_held_calls") < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the calls were never held")
		}
	}
	b.cmd.Process.Signal(syscall.SIGKILL)
	for range n {
		err := <-errs
		var x *giop.SystemException
		if !errors.As(err, &x) || x.Name != giop.ExcCommFailure || x.Completed != giop.CompletedMaybe {
			t.Fatalf("a held call when the standby was killed: %v, want COMM_FAILURE completed MAYBE", err)
		}
	}
	b.cmd.Wait()
	b2 := startStandby(t, c, port, nil, "--cluster-hold", "1m")
	held := make(chan error, 1)
	cl := newClient(t, port)
	go func() {
		resp, err := cl.invoke(cl.agent, "_non_existent", nil, nil)
		if err == nil && resp.Header.Status != giop.ReplyNoException {
			err = fmt.Errorf("status %v", resp.Header.Status)
		}
		held <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); metric(t, b2.adminAddr, "requestagent_standby_held_calls") < 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the restarted standby does not hold the call")
		}
	}
	in.leave()
	waitReady(t, b2)
	if err := <-held; err != nil {
		t.Fatalf("the call held by the restarted standby: %v, want the new owner's answer", err)
	}
}

// TestServe_ClusterStandbyOutOfFiles: a standby run with a limit of 64
// open files gets 100 idle connections and runs out of them; it does not
// stop, and once they close it holds a new client's call, answers it
// TRANSIENT past the hold, and, the key's lease revoked, owns the store
// (new connections to etcd, a listener handed over) and serves.
func TestServe_ClusterStandbyOutOfFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("a real standby on a real etcd")
	}
	c := etcdtest.New(t, nil)
	in := takeOwnership(t, c, `{"name":"silent"}`)
	port := peers.FreePort(t)
	b := startStandby(t, c, port, []string{limitEnv + "=64"}, "--cluster-hold", "1s")
	var idle []net.Conn
	for range 100 {
		nc, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			break
		}
		idle = append(idle, nc)
	}
	time.Sleep(500 * time.Millisecond) // the accept loop runs into the limit
	for _, nc := range idle {
		nc.Close()
	}
	transient := giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo).Error()
	var got string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got = oneCall(t, port, giop.V1_2, false); got == transient {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a call after the fds came back: %s, want %s past the hold", got, transient)
		}
	}
	if !strings.Contains(b.stderr.String(), "too many open files") {
		t.Fatalf("the standby never ran out of files (%d connections made):\n%s", len(idle), b.stderr)
	}
	if b.cmd.ProcessState != nil {
		t.Fatal("the standby stopped")
	}
	// Out of files again as it takes over: the handover's CloseConnection
	// to the front's connections gives their files back for the store's.
	idle = idle[:0]
	for range 100 {
		nc, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err != nil {
			break
		}
		idle = append(idle, nc)
	}
	time.Sleep(500 * time.Millisecond)
	in.leave()
	// Its admin interface may be out of files too: asked with a timeout.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if code, _ := httpGet(t, "http://"+b.adminAddr+"/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby never owned while out of files:\n%s", b.stderr)
		}
	}
	for _, nc := range idle {
		nc.Close()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if got = oneCall(t, port, giop.V1_2, false); got == giop.ReplyNoException.String() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a call once the standby owns: %s", got)
		}
	}
}
