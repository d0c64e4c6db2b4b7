package giop_test

import (
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/rawgiop"
)

// Server-wide limits (giop/SPEC.md "Limits"): the bytes of messages being
// reassembled on one connection, the bytes of incoming messages over all
// connections (MaxBufferedBytes) and the requests served at once over all
// connections (MaxServerInFlight). Legal traffic runs into them; whoever
// asks for more than is left is refused — MessageError and close for
// bytes, TRANSIENT for requests — and nobody else.

// limitsServer starts a server with hostileConfig changed by tune, and a
// well-behaved client that has been served once.
func limitsServer(t *testing.T, tune func(*giop.Config), extra map[string]giop.Servant) *hostile {
	t.Helper()
	cfg := hostileConfig()
	tune(cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, ref, _ := testServer(t, cfg, extra)
	prof, err := ref.IIOP()
	if err != nil {
		t.Fatal(err)
	}
	h := &hostile{t: t, srv: srv, addr: net.JoinHostPort(prof.Host, strconv.Itoa(int(prof.Port)))}
	h.good = dialRaw(t, h.addr)
	h.good.echo(1, "before")
	return h
}

// blobChain is echoBlob(blob) over GIOP 1.2 split in two: a first
// message of cut bytes with MORE_FRAGMENTS, and the last Fragment.
func blobChain(id uint32, n, cut int) (first, last []byte) {
	parts := giop.FragmentMessage(blobRequest(id, blob(n)), cut)
	return parts[0], parts[1]
}

// waitBuffered waits until the server holds at least n bytes of incoming
// messages.
func (h *hostile) waitBuffered(n uint64) {
	h.t.Helper()
	deadline := time.Now().Add(ioBound)
	for h.srv.Stats().BufferedBytes < n {
		if time.Now().After(deadline) {
			h.t.Fatalf("server holds %d bytes, want at least %d", h.srv.Stats().BufferedBytes, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBufferedEmpty waits until the server holds no incoming message.
func (h *hostile) waitBufferedEmpty() {
	h.t.Helper()
	deadline := time.Now().Add(ioBound)
	for h.srv.Stats().BufferedBytes != 0 {
		if time.Now().After(deadline) {
			h.t.Fatalf("server still holds %d bytes", h.srv.Stats().BufferedBytes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectBlobs reads the replies to echoBlob calls of n bytes with the
// given ids, in any order: requests are served concurrently.
func (c *rawClient) expectBlobs(n int, ids ...uint32) {
	c.t.Helper()
	want := map[uint32]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for range ids {
		m, err := c.next()
		if err != nil || m.Type != giop.MsgReply {
			c.t.Fatalf("waiting for echoBlob replies: %v %v", m, err)
		}
		rh, d, err := giop.DecodeReply(m)
		if err != nil || !want[rh.RequestID] {
			c.t.Fatalf("reply %+v, %v; want one of %v", rh, err, want)
		}
		delete(want, rh.RequestID)
		if got := d.OctetsNoCopy(); rh.Status != giop.ReplyNoException || !bytes.Equal(got, blob(n)) {
			c.t.Fatalf("echoBlob reply %v with %d bytes (%v), want the %d sent", rh.Status, len(got), d.Err(), n)
		}
	}
}

// TestHostile_ReassemblyBytesPerConnection: one connection may hold at
// most MaxReassemblyBytes of fragmented messages in progress, fewer than
// MaxPendingFragmented chains of the largest size allow; the chain that
// would go past it gets MessageError and closes only its connection.
// Chains within the limit are reassembled and answered.
func TestHostile_ReassemblyBytesPerConnection(t *testing.T) {
	h := limitsServer(t, func(c *giop.Config) { c.MaxReassemblyBytes = 128 << 10 }, nil)
	// Two chains of 60,000 bytes so far fit within 128 KiB.
	ok := dialRaw(t, h.addr)
	a1, a2 := blobChain(11, 60000, 60000)
	b1, b2 := blobChain(13, 60000, 60000)
	ok.mustWrite(a1, b1, a2, b2)
	ok.expectBlobs(60000, 11, 13)

	bad := dialRaw(t, h.addr)
	c1, _ := blobChain(15, 60000, 60000)
	d1, _ := blobChain(17, 60000, 60000)
	e1, _ := blobChain(19, 60000, 60000)
	bad.write(c1, d1, e1) // 180,000 bytes in progress: the third is too many
	bad.expectMessageErrorThenClose()
	h.good.echo(3, "after")
	ok.echo(21, "the connection within the limit is still up")
	h.waitBufferedEmpty()
}

// TestHostile_ServerByteBudget: connections that each stay within their
// own limits still share MaxBufferedBytes. Two hold 120,000 bytes of
// fragment chains each; a third whose chain needs more than is left gets
// MessageError and closes; the two complete their chains and are
// answered, the well-behaved client is served throughout, and the bytes
// are given back once the connections are gone.
func TestHostile_ServerByteBudget(t *testing.T) {
	h := limitsServer(t, func(c *giop.Config) {
		c.MaxReassemblyBytes = 128 << 10
		c.MaxBufferedBytes = 256 << 10
	}, nil)
	type holder struct {
		c     *rawClient
		lasts [][]byte
		ids   []uint32
	}
	var holders []*holder
	for i := range 2 {
		ho := &holder{c: dialRaw(t, h.addr)}
		for j := range 2 {
			id := uint32(100 + 10*i + 2*j)
			first, last := blobChain(id, 60000, 60000)
			ho.c.mustWrite(first)
			ho.lasts, ho.ids = append(ho.lasts, last), append(ho.ids, id)
		}
		holders = append(holders, ho)
	}
	h.waitBuffered(4 * 60000)
	h.good.echo(3, "with 240,000 bytes held")

	over := dialRaw(t, h.addr)
	first, _ := blobChain(201, 60000, 60000)
	over.write(first)
	over.expectMessageErrorThenClose()
	if st := h.srv.Stats(); st.OverBudget != 1 {
		t.Fatalf("stats %+v, want one connection over the budget", st)
	}

	h.good.echo(5, "after the refusal")
	for _, ho := range holders {
		ho.c.mustWrite(ho.lasts...)
		ho.c.expectBlobs(60000, ho.ids...)
	}
	for _, ho := range holders {
		ho.c.nc.Close()
	}
	h.waitBufferedEmpty()
	h.good.echo(7, "after")
}

// TestHostile_SpentByteBudgetStillReadsSmallMessages: one peer holds
// the whole of MaxBufferedBytes with a message it never finishes; a
// connection's first 16 KiB are its own, so the well-behaved client and
// a newly connected one are still read and answered instead of being
// closed for a budget someone else spent. The holder's own connection,
// which asked for the budget, is the one bounded by it.
func TestHostile_SpentByteBudgetStillReadsSmallMessages(t *testing.T) {
	const body = 64 << 10
	h := limitsServer(t, func(c *giop.Config) {
		c.MessageTimeout = time.Minute
		c.MaxBufferedBytes = giop.HeaderSize + body
	}, nil)
	holder := dialRaw(t, h.addr)
	holder.mustWrite(append(rawgiop.Header(1, 2, 1, giop.MsgRequest, body), make([]byte, body-1)...))
	h.waitBuffered(giop.HeaderSize + body)
	h.good.echo(3, "while the budget is spent")
	fresh := dialRaw(t, h.addr)
	fresh.echo(5, "a new connection too")
	if st := h.srv.Stats(); st.OverBudget != 0 {
		t.Fatalf("stats %+v: a connection was closed for the budget", st)
	}
	holder.nc.Close()
	h.waitBufferedEmpty()
	h.good.echo(7, "after")
}

// TestHostile_IncompleteChainsGiveBackTheirBytes: chains a peer never
// finishes are given back when its connection closes, whether it closes
// or the fragment timeout closes it.
func TestHostile_IncompleteChainsGiveBackTheirBytes(t *testing.T) {
	h := limitsServer(t, func(c *giop.Config) { c.FragmentTimeout = 300 * time.Millisecond }, nil)
	quits, stalls := dialRaw(t, h.addr), dialRaw(t, h.addr)
	a, _ := blobChain(5, 60000, 60000)
	b, _ := blobChain(7, 60000, 60000)
	quits.mustWrite(a)
	stalls.mustWrite(b)
	h.waitBuffered(2 * 60000)
	quits.nc.Close()
	stalls.expectMessageErrorThenClose() // FragmentTimeout
	h.waitBufferedEmpty()
	h.good.echo(3, "after")
}

// gate is a servant whose operations block until the test opens the gate,
// counting those in progress.
type gate struct {
	open    chan struct{}
	entered atomic.Int64
}

func (g *gate) RepositoryID() string { return "IDL:Demo/Gate:1.0" }

func (g *gate) Invoke(ctx context.Context, r *giop.ServerRequest) error {
	g.entered.Add(1)
	select {
	case <-g.open:
	case <-ctx.Done():
	}
	r.Results().WriteString("opened")
	return nil
}

func (g *gate) waitEntered(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(ioBound)
	for g.entered.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in the gate, want %d", g.entered.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func gateRequest(id uint32) []byte {
	return buildRequest(giop.V1_2, true, &giop.RequestHeader{RequestID: id, ResponseFlags: giop.ResponseTarget,
		ObjectKey: []byte("Gate"), Operation: "wait"}, nil)
}

// expectTransient reads the reply to id, which must be TRANSIENT
// completed NO.
func (c *rawClient) expectTransient(id uint32) {
	c.t.Helper()
	rh, d := c.reply(id)
	x := d.SystemException()
	if rh.Status != giop.ReplySystemException || x == nil || x.Name != giop.ExcTransient || x.Completed != giop.CompletedNo {
		c.t.Fatalf("reply to %d: %v %v, want TRANSIENT completed NO", id, rh.Status, x)
	}
}

// TestHostile_ServerInFlightCap: requests served at once are bounded over
// all connections (MaxServerInFlight 4), not only per connection
// (MaxInFlight 6), but a connection's first two requests in progress are
// always served. The attacker fills the server's budget with waiting
// calls and its own two places; a second attacker gets its two places
// and TRANSIENT completed NO for the rest, without closing any
// connection; an unrelated client's call is still answered at once. Once
// the blocked requests are answered, everyone is served again.
func TestHostile_ServerInFlightCap(t *testing.T) {
	g := &gate{open: make(chan struct{})}
	h := limitsServer(t, func(c *giop.Config) {
		c.MaxInFlight = 6
		c.MaxServerInFlight = 4
	}, map[string]giop.Servant{"Gate": g})
	a, b := dialRaw(t, h.addr), dialRaw(t, h.addr)
	a.mustWrite(gateRequest(1), gateRequest(3), gateRequest(5), gateRequest(7), gateRequest(9), gateRequest(11), gateRequest(13))
	g.waitEntered(t, 6)
	a.expectTransient(13) // over its own MaxInFlight
	b.mustWrite(gateRequest(1), gateRequest(3), gateRequest(5))
	g.waitEntered(t, 8)
	b.expectTransient(5) // the server's budget is spent
	h.good.echo(3, "while full")
	// The echo's request may not have counted itself out yet.
	h.waitStats("8 requests served and 2 refused", func(st giop.ServerStats) bool { return st.Serving == 8 && st.Busy == 2 })
	close(g.open)
	for _, c := range []*rawClient{a, a, a, a, a, a, b, b} {
		m, err := c.next()
		if err != nil || m.Type != giop.MsgReply {
			t.Fatalf("reply from the gate: %v, %v", m, err)
		}
	}
	h.good.echo(5, "after")
	b.echo(7, "after")
	// A reply can reach the client before its request's goroutine has
	// counted itself out, so the count is awaited rather than read once.
	h.waitStats("nothing served once all are answered", func(st giop.ServerStats) bool { return st.Serving == 0 })
}

// TestHostile_HeadersCostLittle: connections that send a header
// announcing a large body and then only a byte of it (slowloris) hold a
// few KiB each, not a read chunk of 64 KiB: the body buffer grows with
// what has arrived. 500 of them are measured with runtime.MemStats (the
// clients' ends, which are plain sockets, included).
func TestHostile_HeadersCostLittle(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 sockets")
	}
	const n = 500
	h := limitsServer(t, func(c *giop.Config) { c.MessageTimeout = time.Minute }, nil)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	conns := dialMany(t, h.addr, n)
	msg := append(rawgiop.Header(1, 2, 1, giop.MsgRequest, 60000), 0)
	for _, nc := range conns {
		if _, err := nc.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(ioBound)
	for h.srv.Stats().Open < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open, want %d", h.srv.Stats().Open, n+1)
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.good.echo(3, "among them")
	time.Sleep(100 * time.Millisecond) // for the last readers to reach their body
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	perConn := (int64(after.HeapInuse+after.StackInuse) - int64(before.HeapInuse+before.StackInuse)) / n
	t.Logf("%d connections with a header and one byte of body: about %.1f KiB each; %d bytes of bodies held",
		n, float64(perConn)/1024, h.srv.Stats().BufferedBytes)
	if perConn > 32<<10 {
		t.Fatalf("a connection that sent 13 bytes costs %d KiB", perConn>>10)
	}
}
