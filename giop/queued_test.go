package giop_test

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// Bytes queued for writing (giop/SPEC.md "Limits", MaxQueuedBytes): a
// peer that sends requests and does not read their replies must not make
// the server hold them all. Each connection holds at most 4 ×
// (MaxMessageSize + 12) of them, all connections at most MaxQueuedBytes
// (plus 16 KiB each); the connection whose next reply does not fit is
// closed, its bytes are given back, and everybody else is served.

// bigReply is the size of the result of the Big servant's operation in
// these tests: 4 of its replies fit a connection under hostileConfig's
// 64 KiB MaxMessageSize, 5 do not.
const bigReply = 60000

// bigServant returns blob(n) for a request that carries n: a small
// request with a large reply, as a pull of a stored reply is.
type bigServant struct{}

func (bigServant) RepositoryID() string { return "IDL:Demo/Big:1.0" }

func (bigServant) Invoke(_ context.Context, r *giop.ServerRequest) error {
	n := r.Args.ULong()
	if err := r.ArgsErr(); err != nil {
		return err
	}
	r.Results().WriteOctets(blob(int(n)))
	return nil
}

func bigRequest(id uint32, n int) []byte {
	return buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget,
		ObjectKey: []byte("Big"), Operation: "get"}, func(e *giop.Encoder) { e.WriteULong(uint32(n)) })
}

// queuedConfig is hostileConfig with a write timeout that never fires
// within a test, so that only the bound on queued bytes closes a peer
// that does not read.
func queuedConfig() *giop.Config {
	cfg := hostileConfig()
	// A writer stuck for a sixth of it (500 ms) is stalled; the write
	// deadline itself comes seconds after the tests have seen the close.
	cfg.WriteTimeout = 3 * time.Second
	return cfg
}

// stallTime is longer than a writer of queuedConfig needs to count as
// stalled.
const stallTime = time.Second

// waitStats polls the server's stats until ok holds, for at most ioBound.
func (h *hostile) waitStats(what string, ok func(giop.ServerStats) bool) giop.ServerStats {
	h.t.Helper()
	deadline := time.Now().Add(ioBound)
	for {
		st := h.srv.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: stats %+v after %v", what, st, ioBound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDrained waits until the server holds no queued or incoming bytes
// and serves no request: nothing of the closed connections is left.
func (h *hostile) waitDrained() {
	h.t.Helper()
	h.waitStats("all given back", func(st giop.ServerStats) bool {
		return st.QueuedBytes == 0 && st.BufferedBytes == 0 && st.Serving == 0
	})
}

// pipeListener accepts the server ends of net.Pipe connections. A pipe
// buffers nothing, so what the server queues for a peer that does not
// read is exactly what it holds: no kernel buffer takes some of it.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// pipeServer is limitsServer over pipes; h.addr is empty and h.dial
// connects.
type pipeServer struct {
	*hostile
	ln *pipeListener
}

func newPipeServer(t *testing.T, tune func(*giop.Config)) *pipeServer {
	t.Helper()
	cfg := queuedConfig()
	tune(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a := giop.NewAdapter()
	a.Register(echoKey, newEchoServant())
	a.Register([]byte("Big"), bigServant{})
	srv := giop.NewServer(cfg, a)
	ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	serveUntilCleanup(t, srv, func() error { return srv.Serve(ln) })
	p := &pipeServer{hostile: &hostile{t: t, srv: srv}, ln: ln}
	p.good = p.dial()
	p.good.echo(1, "before")
	return p
}

func (p *pipeServer) dial() *rawClient {
	p.t.Helper()
	client, server := net.Pipe()
	select {
	case p.ln.conns <- server:
	case <-time.After(ioBound):
		p.t.Fatal("server did not accept")
	}
	p.t.Cleanup(func() { client.Close() })
	return &rawClient{t: p.t, nc: client}
}

// TestQueued_PeerThatDoesNotReadIsClosed: a peer asks for large replies
// and reads none. Its connection holds four of them (the writer blocked
// on the first), while a well-behaved client is served; the fifth does
// not fit the connection's 4 × (MaxMessageSize + 12), and the writer has
// been stuck in its write past the stall time, so the server closes that
// connection, counts it once, gives back every byte, and the requests'
// goroutines end. Only the well-behaved client stays.
func TestQueued_PeerThatDoesNotReadIsClosed(t *testing.T) {
	p := newPipeServer(t, func(*giop.Config) {})
	stalled := p.dial()
	for id := uint32(1); id <= 7; id += 2 {
		stalled.mustWrite(bigRequest(id, bigReply))
	}
	p.waitStats("four replies queued", func(st giop.ServerStats) bool { return st.QueuedBytes >= 4*bigReply && st.Serving == 0 })
	p.good.echo(3, "while four replies wait for a reader")
	time.Sleep(stallTime) // the writer is stuck in its write for longer than the stall time
	stalled.mustWrite(bigRequest(9, bigReply))
	st := p.waitStats("the stalled connection closed", func(st giop.ServerStats) bool { return st.Open == 1 })
	if st.SlowReaders != 1 {
		t.Fatalf("stats %+v, want one slow reader", st)
	}
	p.waitDrained()
	p.good.echo(5, "after")
	if st := p.srv.Stats(); st.SlowReaders != 1 || st.ProtocolErrors != 0 || st.OverBudget != 0 {
		t.Fatalf("stats %+v: want only the one slow reader counted", st)
	}
}

// TestQueued_ServerBudgetAcrossConnections: two peers that read nothing
// share MaxQueuedBytes (200,000 bytes, room for three of the replies).
// The first holds three replies, within its own bound; the second's
// first reply does not fit what is left, so the second is closed. The
// well-behaved client's small replies still go out (its first 16 KiB
// are its own). Once the first peer reads its replies it is served on,
// and the budget is all given back.
func TestQueued_ServerBudgetAcrossConnections(t *testing.T) {
	p := newPipeServer(t, func(c *giop.Config) { c.MaxQueuedBytes = 200000 })
	first, second := p.dial(), p.dial()
	first.mustWrite(bigRequest(1, bigReply), bigRequest(3, bigReply), bigRequest(5, bigReply))
	p.waitStats("three replies queued", func(st giop.ServerStats) bool { return st.QueuedBytes >= 3*bigReply && st.Serving == 0 })
	second.mustWrite(bigRequest(1, bigReply))
	st := p.waitStats("the second peer closed", func(st giop.ServerStats) bool { return st.Open == 2 })
	if st.SlowReaders != 1 || st.QueuedBytes < 3*bigReply {
		t.Fatalf("stats %+v, want one slow reader and the first peer's replies still held", st)
	}
	p.good.echo(3, "while the budget is spent")
	first.expectBlobs(bigReply, 1, 3, 5)
	first.echo(7, "after reading")
	p.waitDrained()
	p.good.echo(5, "after")
}

// TestQueued_ManyRequestsNeverRead is the finding over TCP: a peer sends
// request after request for large replies and never reads. Kernel buffers
// take a few MiB; beyond them the connection holds 4 × (MaxMessageSize +
// 12) and is then closed — well before the 1,000 requests it may send,
// whose replies (60 MB) it would otherwise make the server hold. The
// requests' goroutines end, every byte is given back, and a well-behaved
// client is served throughout.
func TestQueued_ManyRequestsNeverRead(t *testing.T) {
	h := limitsServer(t, func(c *giop.Config) { c.WriteTimeout = 3 * time.Second },
		map[string]giop.Servant{"Big": bigServant{}})
	before := runtime.NumGoroutine()
	stalled := dialRaw(t, h.addr)
	stalled.nc.(*net.TCPConn).SetReadBuffer(4 << 10)
	const most = 1000
	sent := 0
	for id := uint32(1); sent < most && h.srv.Stats().SlowReaders == 0; id += 2 {
		if stalled.write(bigRequest(id, bigReply)) != nil {
			break // the server closed it
		}
		sent++
		if sent == 20 {
			h.good.echo(3, "while the stalled peer asks for more")
		}
		if sent > 20 {
			// Paced, so that requests keep coming after the writer has
			// been stuck for its stall time (500 ms here).
			time.Sleep(5 * time.Millisecond)
		}
	}
	h.waitStats("the stalled connection closed", func(st giop.ServerStats) bool { return st.Open == 1 })
	h.waitDrained()
	st := h.srv.Stats()
	if st.SlowReaders != 1 {
		t.Fatalf("stats %+v after %d requests, want one slow reader", st, sent)
	}
	h.good.echo(5, "after")
	// The server's idle workers stay for later requests; no goroutine
	// is left waiting to queue a reply (Serving is 0).
	t.Logf("closed after %d requests; goroutines %d before, %d after", sent, before, runtime.NumGoroutine())
}

// TestQueued_PipelinedReaderIsNotClosed: a client that keeps three
// calls with large replies outstanding — one fewer than a connection may
// queue, for the reply the writer has just written but not yet given
// back — and reads each reply as it comes makes 200 calls (12 MB of
// replies, far more than a connection may hold, and than the server's
// budget of 1 MB here) over a pipe, which buffers nothing, and is never
// closed: what the writer has written is given back at once.
func TestQueued_PipelinedReaderIsNotClosed(t *testing.T) {
	p := newPipeServer(t, func(c *giop.Config) { c.MaxQueuedBytes = 1 << 20 })
	c := p.dial()
	const calls, window = 200, 3
	var reqs [][]byte
	for i := range window {
		reqs = append(reqs, bigRequest(uint32(2*i+1), bigReply))
	}
	c.mustWrite(reqs...)
	for i := window; i < calls+window; i++ {
		m, err := c.next()
		if err != nil || m.Type != giop.MsgReply || m.Size < bigReply {
			t.Fatalf("reply %d: %v %v (stats %+v)", i-window, m, err, p.srv.Stats())
		}
		if i < calls {
			c.mustWrite(bigRequest(uint32(2*i+1), bigReply))
		}
	}
	c.echo(1001, "still open")
	p.waitDrained()
	if st := p.srv.Stats(); st.SlowReaders != 0 {
		t.Fatalf("stats %+v: a client that reads was closed", st)
	}
}

// TestQueued_BurstReadAtFullSpeedIsNotClosed: a client sends 40 calls
// with large replies in one burst over TCP — ten times what a connection
// may hold of its own — and reads them as fast as they come. Its writer
// never stalls, so the replies past the connection's own bound come from
// the server's budget and the client is not taken for one that does not
// read.
func TestQueued_BurstReadAtFullSpeedIsNotClosed(t *testing.T) {
	h := limitsServer(t, func(*giop.Config) {}, map[string]giop.Servant{"Big": bigServant{}})
	c := dialRaw(t, h.addr)
	var reqs [][]byte
	var ids []uint32
	for i := range 40 {
		id := uint32(2*i + 1)
		reqs = append(reqs, bigRequest(id, bigReply))
		ids = append(ids, id)
	}
	c.mustWrite(reqs...)
	c.expectBlobs(bigReply, ids...)
	c.echo(1001, "still open")
	h.waitDrained()
	if st := h.srv.Stats(); st.SlowReaders != 0 {
		t.Fatalf("stats %+v: a client that reads was closed", st)
	}
}
