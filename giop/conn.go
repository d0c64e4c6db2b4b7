package giop

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/internal/workerpool"
	"github.com/rs/zerolog"
)

// Conn is one GIOP connection, accepted or dialled. It has exactly one
// reader goroutine, which reads messages and never blocks on a handler, and
// one writer goroutine, which owns writes to the socket.
//
// Both directions are multiplexed: the peer's requests are dispatched to the
// Conn's handler, each in its own goroutine (so a call nested inside another
// — a bidirectional callback — can never starve for a worker, docs/callbacks.md), and
// our own requests wait for their replies by request id. A dialled
// connection numbers its requests 2, 4, 6, …; an accepted one uses odd ids
// for calls back to its client (§15.8, SPEC.md).
type Conn struct {
	nc       net.Conn
	cfg      *Config
	log      zerolog.Logger
	handler  Handler // serves the peer's requests; nil refuses them
	accepted bool    // we accepted this connection (we are its server)
	// identity is the TLS peer's identity (tls.go), fixed once the
	// handshake is done, before the connection starts.
	identity string
	frames   *frameReader
	// joinWrites is set when nc cannot write a vector in one system call
	// (TLS: net.Buffers.WriteTo would make each message a record and a
	// write of its own): the writer copies a batch into one buffer
	// first. Immutable.
	joinWrites bool
	// ops interns the peer's operation names; only the reader uses it.
	ops map[string]string

	writeCh chan *outFrame
	// writeDeadline is the socket's write deadline; only the writer uses it.
	writeDeadline time.Time
	doneCh        chan struct{} // closed when the connection is closed
	wg            sync.WaitGroup
	// peerVer is the GIOP version of the peer's latest message (major<<8 |
	// minor), so MessageError and CloseConnection go out in a version the
	// peer reads. Zero until a message arrives.
	peerVer atomic.Uint32

	// workers, if set, runs the peer's requests; else each gets a new
	// goroutine.
	workers *workerpool.Pool[*ServerRequest]
	// limits, set on a server's connections before they start, are the
	// budgets shared with the server's other connections; nil on dialled
	// ones.
	limits *serverLimits
	// queued is the connection's part of the server's MaxQueuedBytes:
	// every message queued for the writer takes its bytes from it, and
	// the writer gives them back once written (giop/SPEC.md "Limits").
	// Nil on dialled connections.
	queued *share
	// slow is set once the connection is closed for queued bytes, so it
	// is counted and logged once.
	slow atomic.Bool
	// writing is when the writer's current write started (Unix
	// nanoseconds), 0 between writes: a write that has not returned for
	// the stall time (writerStalled) means the peer is not reading.
	writing atomic.Int64

	// onClose is called once, after the connection is closed.
	onClose func(*Conn)
	// onProtocolError, if set, is called when the peer broke the protocol.
	onProtocolError func()

	mu sync.Mutex // guards the fields below
	// pending holds our outstanding requests by request id.
	pending map[uint32]*call
	// nextID is the id of our next request.
	nextID uint32
	// serving holds the peer's requests being served, by request id.
	serving map[uint32]*ServerRequest
	// draining is set by shutdown: new requests are not dispatched, and
	// drained is closed when the last request being served finishes.
	draining bool
	drained  chan struct{}
	// codeSets is what the peer's CodeSets context chose (server side) or
	// what we sent (client side); nil until negotiated.
	codeSets *CodeSetContext
	// listenPoints are what the peer announced in BI_DIR_IIOP.
	listenPoints []ListenPoint
	// offer lists the listen points we announce (client side); immutable.
	offer []ListenPoint
	// bidirOffered is set when we have sent our BI_DIR_IIOP context (client side).
	bidirOffered bool
	// narrow is set on a dialled connection that negotiates no wchar code
	// set (Invocation.BodyVersion); immutable.
	narrow bool
	// closeErr is why the connection closed.
	closeErr error
	closed   bool
}

// frameOf returns e's finished message as a frame for the writer. The
// frame lives in e and goes back to the pool with it: whoever recycles
// the encoder reads the frame's fields first (see release).
func frameOf(e *Encoder) *outFrame {
	f := &e.frame
	*f = outFrame{buf: e.FinishMessage(), enc: e}
	return f
}

// release tells a frame's owner whether it was written and recycles its
// encoder — last, since the frame may live inside it.
func (f *outFrame) release(written bool) {
	enc, done, after := f.enc, f.written, f.after
	written = written && !f.unwanted
	if enc != nil {
		enc.frame = outFrame{}
		putEncoder(enc)
	}
	if done != nil {
		close(done)
	}
	if after != nil {
		after(written)
	}
}

// outFrame is one encoded message queued for the writer.
type outFrame struct {
	buf     []byte
	enc     *Encoder      // returned to the pool once written; may be nil
	sent    *atomic.Bool  // set once the bytes are on the socket; may be nil
	written chan struct{} // closed once the write was attempted; may be nil
	// after, if set, is told whether the bytes reached the socket; frames
	// abandoned by a closing connection are told false.
	after func(written bool)
	// unwanted is set on a reply the peer cancelled: after is told false
	// even once it is written, since the peer drops it.
	unwanted bool
}

// call is one of our requests waiting for its reply.
type call struct {
	// ch is buffered 1: the reply as the reader decoded it (so it is
	// decoded once), or nil when the connection died.
	ch   chan *Response
	sent atomic.Bool
}

// readBufferSize is each connection's read buffer, which an idle
// connection keeps: room for a header and a typical small message, or a
// few pipelined ones, in one read; larger bodies are read straight into
// their own buffers (frame.go).
const readBufferSize = 4 << 10

var encoderPool = sync.Pool{New: func() any { return NewEncoder(V1_2, true) }}

// getEncoder returns a pooled little-endian encoder. Little-endian is the
// byte order of x86 and of what omniORB sends there, so neither side swaps.
func getEncoder() *Encoder {
	e := encoderPool.Get().(*Encoder)
	e.Reset(V1_2, true)
	return e
}

func putEncoder(e *Encoder) {
	if cap(e.buf) > 1<<20 {
		return // do not keep huge buffers alive
	}
	encoderPool.Put(e)
}

func newConn(nc net.Conn, cfg *Config, h Handler, accepted bool) *Conn {
	return newConnOffering(nc, cfg, h, accepted, nil)
}

func newConnOffering(nc net.Conn, cfg *Config, h Handler, accepted bool, offer []ListenPoint) *Conn {
	c := &Conn{
		nc:       nc,
		cfg:      cfg,
		log:      cfg.Logger.With().Str("peer", nc.RemoteAddr().String()).Logger(),
		handler:  h,
		accepted: accepted,
		writeCh:  make(chan *outFrame, 64),
		doneCh:   make(chan struct{}),
		pending:  make(map[uint32]*call),
		serving:  make(map[uint32]*ServerRequest),
		nextID:   2,
		offer:    offer,
		identity: connIdentity(nc),
	}
	_, c.joinWrites = nc.(*tls.Conn)
	if accepted {
		c.nextID = 1
	}
	// Buffered, so a small message costs one read rather than two (header,
	// then body); deadlines still apply to nc underneath.
	c.frames = newFrameReader(bufio.NewReaderSize(nc, readBufferSize), nc, cfg)
	return c
}

// useLimits makes the connection share a server's budgets. It is called
// before start.
func (c *Conn) useLimits(l *serverLimits) {
	c.limits = l
	c.frames.useBudget(newShare(l.bytes))
	c.queued = newQueuedShare(l.queued, c.cfg.MaxMessageSize)
}

// start launches the reader and writer goroutines.
func (c *Conn) start() {
	c.wg.Add(2)
	go func() { defer c.wg.Done(); c.readLoop() }()
	go func() { defer c.wg.Done(); c.writeLoop() }()
}

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Done returns a channel closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.doneCh }

// Err returns why the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

// CodeSets returns the code sets negotiated on the connection, if any.
func (c *Conn) CodeSets() (CodeSetContext, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.codeSets == nil {
		return CodeSetContext{}, false
	}
	return *c.codeSets, true
}

// ListenPoints returns the listen points the peer announced for
// bidirectional use (empty unless it offered BI_DIR_IIOP on GIOP 1.2).
func (c *Conn) ListenPoints() []ListenPoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]ListenPoint(nil), c.listenPoints...)
}

// AnnouncedFor reports whether the peer announced, in BI_DIR_IIOP on this
// connection, one of the addresses of ref's IIOP profile (its own or an
// alternate one). Only then may a call to ref go over this connection
// (§15.8): the peer said it serves that address here. Announcing proves
// nothing about owning the address, so this is the only question a
// listen point answers — a caller asks it about references that the same
// peer handed over, never about others (giop/SPEC.md).
func (c *Conn) AnnouncedFor(ref *IOR) bool {
	prof, err := ref.IIOP()
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.listenPoints) == 0 {
		return false
	}
	found := false
	if ssl, ok := prof.SSL(); ok {
		// omniORB announces its TLS endpoint's port for a reference that
		// publishes it only in TAG_SSL_SEC_TRANS (giop/SPEC.md).
		for _, lp := range c.listenPoints {
			if lp.Port == ssl.Port && SameHost(lp.Host, prof.Host) {
				return true
			}
		}
	}
	prof.eachAddress(func(a AlternateAddress) bool {
		for _, lp := range c.listenPoints {
			if lp.Port == a.Port && SameHost(lp.Host, a.Host) {
				found = true
			}
		}
		return !found
	})
	return found
}

// SameHost reports whether two host names from the wire name the same
// host as written: IP literals compare as addresses (so ::ffff:127.0.0.1
// is 127.0.0.1, and 127.000.000.001 is not an address at all), names
// compare without case. It resolves nothing.
func SameHost(a, b string) bool {
	if a == b {
		return true
	}
	pa, errA := netip.ParseAddr(strings.Trim(a, "[]"))
	pb, errB := netip.ParseAddr(strings.Trim(b, "[]"))
	if errA == nil && errB == nil {
		return pa.Unmap() == pb.Unmap()
	}
	return errA != nil && errB != nil && strings.EqualFold(a, b)
}

// readLoop is the connection's only reader. It returns when the connection
// fails or closes; protocol errors are answered with MessageError first.
func (c *Conn) readLoop() {
	var err error
	defer func() {
		if r := recover(); r != nil {
			// A bug, not input: decoders return errors. Keep the process up.
			c.log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).Msg("giop: reader panic")
			err = fmt.Errorf("giop: reader panic: %v", r)
		}
		c.frames.close()
		c.close(err)
	}()
	for {
		var m Message
		err = c.frames.read(&m)
		if v := c.frames.lastVersion; v.Supported() {
			c.peerVer.Store(uint32(v.Major)<<8 | uint32(v.Minor))
		}
		if err != nil {
			if isProtocolErr(err) {
				c.log.Warn().Err(err).Msg("giop: closing connection after protocol error")
				c.sendMessageError()
			}
			return
		}
		err = c.handleMessage(&m)
		// A request being served took m's share of the byte budget with
		// it; whatever else m holds is done with.
		c.frames.release(&m)
		if err != nil {
			if isProtocolErr(err) {
				c.log.Warn().Err(err).Str("type", m.Type.String()).Msg("giop: closing connection after protocol error")
				c.sendMessageError()
			}
			return
		}
	}
}

// isProtocolErr reports whether err is the peer's fault, deserving a
// MessageError, as opposed to an I/O failure.
func isProtocolErr(err error) bool {
	return errors.Is(err, ErrProtocol) || errors.Is(err, ErrMarshal) ||
		errors.Is(err, ErrMessageTooLarge) || errors.Is(err, ErrLimit)
}

// errPeerClosed marks an orderly CloseConnection from the peer.
var errPeerClosed = fmt.Errorf("%w: peer sent CloseConnection", ErrConnClosed)

// handleMessage acts on one complete message. It never blocks on a
// handler; an error closes the connection.
func (c *Conn) handleMessage(m *Message) error {
	switch m.Type {
	case MsgRequest:
		return c.handleRequest(m)
	case MsgReply:
		r := &Response{Conn: c, msg: *m}
		if err := decodeReplyInto(&r.msg, &r.hdr, &r.dec, r.ctxBuf[:]); err != nil {
			return err
		}
		r.Header, r.Result, r.bodyStart = &r.hdr, &r.dec, r.dec.Pos()
		c.deliver(r.hdr.RequestID, r)
	case MsgLocateRequest:
		return c.handleLocateRequest(m)
	case MsgLocateReply:
		// We send no LocateRequest yet, so no call waits for one.
		h, _, err := DecodeLocateReply(m)
		if err != nil {
			return err
		}
		c.deliver(h.RequestID, nil)
	case MsgCancelRequest:
		id, err := DecodeCancelRequest(m)
		if err != nil {
			return err
		}
		c.mu.Lock()
		req := c.serving[id]
		c.mu.Unlock()
		if req != nil {
			req.ctx.cancelByPeer()
		}
	case MsgCloseConnection:
		return errPeerClosed
	case MsgMessageError:
		return fmt.Errorf("%w: peer sent MessageError", ErrConnClosed)
	default:
		return fmt.Errorf("%w: unexpected %s", ErrProtocol, m.Type)
	}
	return nil
}

// deliver hands a reply to the call waiting for it. A reply nobody waits
// for (its caller gave up) is dropped.
func (c *Conn) deliver(id uint32, r *Response) {
	c.mu.Lock()
	cl := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if cl == nil || r == nil {
		c.log.Debug().Uint32("request_id", id).Msg("giop: reply for no waiting call dropped")
		return
	}
	cl.ch <- r
}

// handleRequest dispatches a request. Once it is dispatched, the request
// owns what the message holds of the byte budget, and in is cleared of it.
func (c *Conn) handleRequest(in *Message) error {
	req := &ServerRequest{Version: in.Version, LittleEndian: in.LittleEndian, Conn: c, msg: *in}
	m := &req.msg // the reader's copy is reused for the next message
	h := &req.hdr
	if c.ops == nil {
		c.ops = make(map[string]string)
	}
	if err := decodeRequestInto(m, h, &req.args, c.ops, req.ctxBuf[:]); err != nil {
		return err
	}
	req.Header, req.Args = h, &req.args
	c.noteContexts(m.Version, h.ServiceContexts)
	c.mu.Lock()
	draining := c.draining
	c.mu.Unlock()
	if draining {
		// The request is not processed, and the CloseConnection we send
		// once the others are answered tells the client it may safely
		// reissue it (§15.5.2).
		return nil
	}
	if h.ResponseFlags == ResponseServer {
		// SYNC_WITH_SERVER: acknowledge receipt before running it.
		c.sendReply(m.Version, &ReplyHeader{RequestID: h.RequestID, Status: ReplyNoException}, nil)
	}
	respond := h.ResponseFlags == ResponseTarget
	if c.handler == nil {
		if respond {
			c.sendSystemException(m.Version, h.RequestID, NewSystemException(ExcObjectNotExist, MinorObjectNotExistNoObject, CompletedNo))
		}
		return nil
	}
	req.respond = respond
	c.mu.Lock()
	if c.draining {
		c.mu.Unlock()
		return nil
	}
	// The first reservedInFlight requests in progress on a connection
	// are served even when the server's budget is spent, so that peers
	// that flood it with calls that wait (polls, pulls) cannot make an
	// unrelated client's single call TRANSIENT. MaxConnections bounds
	// what this adds to MaxServerInFlight.
	req.reserved = len(c.serving) < reservedInFlight && len(c.serving) < c.cfg.MaxInFlight
	if !req.reserved && (len(c.serving) >= c.cfg.MaxInFlight || !c.takeServing()) {
		c.mu.Unlock()
		if c.limits != nil {
			c.limits.busy.Add(1)
		}
		if respond {
			c.sendSystemException(m.Version, h.RequestID, NewSystemException(ExcTransient, 0, CompletedNo))
		}
		return nil
	}
	// A client may reuse an id only after its reply, so a clash is harmless
	// to overwrite: the older request can then no longer be cancelled.
	c.serving[h.RequestID] = req
	c.mu.Unlock()
	if req.reserved && c.limits != nil {
		c.limits.reserved.Add(1)
	}
	in.held = 0 // the request gives it back when served

	if c.workers != nil {
		c.workers.Go(req)
	} else {
		go c.serve(req)
	}
	return nil
}

// reservedInFlight is how many requests in progress a connection is
// always allowed, beyond the server's MaxServerInFlight (giop/SPEC.md
// "Limits").
const reservedInFlight = 2

// takeServing takes a place among the server's requests being served.
func (c *Conn) takeServing() bool {
	return c.limits == nil || c.limits.serving.take(1)
}

// serve runs one request's handler and sends its reply.
func (c *Conn) serve(req *ServerRequest) {
	defer func() {
		if l := c.limits; l != nil {
			if req.reserved {
				l.reserved.Add(-1)
			} else {
				l.serving.give(1)
			}
			c.frames.budget.give(int(req.msg.held))
			req.msg.held = 0
		}
		c.mu.Lock()
		if c.serving[req.Header.RequestID] == req {
			delete(c.serving, req.Header.RequestID)
		}
		if c.draining && len(c.serving) == 0 && c.drained != nil {
			close(c.drained)
			c.drained = nil
		}
		c.mu.Unlock()
		req.ctx.cancel()
	}()
	defer func() {
		if r := recover(); r != nil {
			c.log.Error().Interface("panic", r).Bytes("stack", debug.Stack()).
				Str("operation", req.Header.Operation).Msg("giop: handler panic")
			req.finish(NewSystemException(ExcUnknown, 0, CompletedMaybe))
		}
	}()
	req.finish(c.handler.ServeGIOP(&req.ctx, req))
}

func (c *Conn) handleLocateRequest(m *Message) error {
	h, err := DecodeLocateRequest(m)
	if err != nil {
		return err
	}
	here, refused := false, (*SystemException)(nil)
	if lf, ok := c.handler.(LocateForwarder); ok {
		if to := lf.LocateForward(h.ObjectKey); to != nil {
			e := getEncoder()
			e.StartLocateReply(m.Version, h.RequestID, ObjectForward)
			e.WriteIOR(to) // the body, unaligned (§15.4.6.2)
			c.queue(frameOf(e))
			return nil
		}
	}
	if cl, ok := c.handler.(ConnLocator); ok {
		here, refused = cl.LocateConn(c, h.ObjectKey)
	} else if c.handler != nil {
		here = c.handler.Locate(h.ObjectKey)
	}
	status := UnknownObject
	switch {
	case refused != nil && m.Version.Minor >= 2:
		status = LocSystemException
	case refused != nil:
		// GIOP 1.0 and 1.1 cannot carry the exception: the least a
		// refused peer can learn is that there is no such object.
	case here:
		status = ObjectHere
	}
	e := getEncoder()
	e.StartLocateReply(m.Version, h.RequestID, status)
	if status == LocSystemException {
		e.WriteSystemException(refused) // the body, unaligned (§15.4.6.2)
	}
	c.queue(frameOf(e))
	return nil
}

// noteContexts records the connection-level contexts a request carries:
// the code sets (first one wins, as in omniORB) and, on GIOP 1.2 with
// bidirectional use accepted, listen points, which add to earlier ones
// (§15.8.1).
func (c *Conn) noteContexts(v Version, l ServiceContextList) {
	for _, sc := range l {
		switch sc.ID {
		case ServiceCodeSets:
			cs, err := ParseCodeSetContext(sc.Data)
			if err != nil {
				c.log.Debug().Err(err).Msg("giop: unreadable CodeSets context ignored")
				continue
			}
			c.mu.Lock()
			if c.codeSets == nil {
				c.codeSets = &cs
			}
			c.mu.Unlock()
		case ServiceBiDirIIOP:
			if !c.accepted || !c.cfg.AcceptBiDir || v.Minor < 2 {
				continue
			}
			pts, err := ParseBiDirContext(sc.Data)
			if err != nil {
				c.log.Debug().Err(err).Msg("giop: unreadable BI_DIR_IIOP context ignored")
				continue
			}
			c.addListenPoints(pts)
		}
	}
}

func (c *Conn) addListenPoints(pts []ListenPoint) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pts {
		known := false
		for _, q := range c.listenPoints {
			known = known || q == p
		}
		if !known && len(c.listenPoints) < maxListenPoints {
			c.listenPoints = append(c.listenPoints, p)
			c.log.Debug().Stringer("listen_point", p).Msg("giop: bidirectional listen point announced")
		}
	}
}

func (c *Conn) sendReply(v Version, h *ReplyHeader, body []byte) {
	e := getEncoder()
	e.StartReply(v, h)
	e.WriteRaw(body)
	c.queue(frameOf(e))
}

func (c *Conn) sendSystemException(v Version, id uint32, x *SystemException) {
	e := getEncoder()
	e.StartReply(v, &ReplyHeader{RequestID: id, Status: ReplySystemException})
	e.WriteSystemException(x)
	c.queue(frameOf(e))
}

// sendMessageError writes a MessageError directly, bypassing the writer
// (which may be stuck), with a short deadline; the connection closes next.
func (c *Conn) sendMessageError() {
	if c.onProtocolError != nil {
		c.onProtocolError()
	}
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	c.nc.Write(EncodeHeaderOnly(c.replyVersion(), MsgMessageError))
}

// replyVersion is the GIOP version for connection-level messages: the
// peer's latest, so an older ORB can read them, else our highest (§15.4.1).
func (c *Conn) replyVersion() Version {
	if v := c.peerVer.Load(); v != 0 {
		return Version{uint8(v >> 8), uint8(v)}
	}
	return V1_2
}

// queue hands a frame to the writer. It fails when the connection is
// closed, in which case the frame's encoder is recycled here, and when the
// frame's bytes do not fit MaxQueuedBytes, or the connection's own bound
// while its writer is stuck: then the peer is not reading what it asked
// for, and rather than hold more of its replies the connection closes
// (giop/SPEC.md "Limits").
func (c *Conn) queue(f *outFrame) error {
	n := len(f.buf)
	// Past its own limit a connection whose writer keeps up — a client
	// that pipelines many large calls and reads at full speed — takes
	// from the server's budget alone; only one whose writer is stuck in a
	// write is a peer that does not read.
	if !c.queued.take(n) && (c.writerStalled() || !c.queued.takeBeyondOwn(n)) {
		f.release(false)
		c.closeSlowReader(n)
		return ErrConnClosed
	}
	select {
	case c.writeCh <- f:
		// The connection may have closed as the frame went in, after the
		// writer stopped taking frames: whoever sees that gives back what
		// is left, so no frame's bytes stay taken.
		select {
		case <-c.doneCh:
			c.dropQueued()
		default:
		}
		return nil
	case <-c.doneCh:
		c.queued.give(n)
		f.release(false)
		return ErrConnClosed
	}
}

// maxStall is how long a write may go on, at most, before the peer
// counts as not reading: long enough for a large message on a slow link.
// A shorter WriteTimeout makes it a sixth of that.
const maxStall = 5 * time.Second

// writerStalled reports whether the writer has been in one write for
// longer than the stall time.
func (c *Conn) writerStalled() bool {
	started := c.writing.Load()
	if started == 0 {
		return false
	}
	stall := maxStall
	if t := c.cfg.WriteTimeout / 6; t > 0 && t < stall {
		stall = t
	}
	return time.Since(time.Unix(0, started)) > stall
}

// errSlowReader is why a connection whose peer does not read its replies
// closed.
var errSlowReader = fmt.Errorf("%w: the peer does not read its replies (MaxQueuedBytes)", ErrLimit)

// closeSlowReader closes the connection because a message of n bytes did
// not fit what it may queue; the first such message counts and logs it.
func (c *Conn) closeSlowReader(n int) {
	if c.slow.CompareAndSwap(false, true) {
		if c.limits != nil {
			c.limits.slowReaders.Add(1)
		}
		c.log.Warn().Int("message_bytes", n).Int64("queued_bytes", c.queued.held.Load()).
			Uint64("server_queued_bytes", c.queued.server.inUse()).
			Msg("giop: closing connection: the peer does not read its replies")
	}
	c.close(errSlowReader)
}

// dropQueued gives back and releases, unwritten, the frames left in the
// write queue of a closed connection.
func (c *Conn) dropQueued() {
	for {
		select {
		case f := <-c.writeCh:
			c.queued.give(len(f.buf))
			f.release(false)
		default:
			return
		}
	}
}

// maxBatchBytes is the most bytes the writer gathers into one write,
// unless a single message is larger.
const maxBatchBytes = 64 << 10

// writeLoop is the connection's only writer. It gathers whatever frames are
// queued into one vectored write, so a burst of replies costs one syscall.
func (c *Conn) writeLoop() {
	var (
		batch []*outFrame
		bufs  net.Buffers
		// wb is what WriteTo consumes; bufs keeps its capacity.
		wb net.Buffers
	)
	// carry is a frame taken from the queue that did not fit the batch
	// before it; it starts the next one.
	var carry *outFrame
	// The writer stops only once the connection is closed; frames still
	// queued then are given back here, or by whoever queues after this.
	defer func() {
		if carry != nil {
			c.queued.give(len(carry.buf))
			carry.release(false)
		}
		c.dropQueued()
	}()
	for {
		if carry != nil {
			batch, carry = append(batch[:0], carry), nil
		} else {
			select {
			case f := <-c.writeCh:
				batch = append(batch[:0], f)
			case <-c.doneCh:
				return
			}
		}
		// A write is a system call that costs more than the frame: give
		// goroutines that are about to queue frames one chance to join
		// this write (at low load nobody is waiting and it returns at once).
		// A batch stops at maxBatchBytes, beyond which a system call more
		// costs little against copying the bytes, so that large messages
		// are given back (MaxQueuedBytes) each as soon as it is written
		// rather than once a whole batch of them is.
		queued := len(batch[0].buf)
		yielded := false
	gather:
		for len(batch) < 64 && queued < maxBatchBytes {
			select {
			case f := <-c.writeCh:
				if queued+len(f.buf) > maxBatchBytes {
					carry = f
					break gather
				}
				batch = append(batch, f)
				queued += len(f.buf)
			default:
				if yielded {
					break gather
				}
				yielded = true
				runtime.Gosched()
			}
		}
		bufs = bufs[:0]
		for _, f := range batch {
			bufs = append(bufs, f.buf)
			// Marked before the write: once it starts, bytes may reach the
			// peer — and the peer may answer and close before WriteTo
			// returns — so a request is "maybe run" from here on.
			if f.sent != nil {
				f.sent.Store(true)
			}
		}
		now := time.Now()
		c.armWriteDeadline(now)
		c.writing.Store(now.UnixNano())
		var err error
		if c.joinWrites && len(bufs) > 1 {
			err = writeJoined(c.nc, bufs)
		} else {
			wb = bufs
			_, err = wb.WriteTo(c.nc)
		}
		c.writing.Store(0)
		// The written messages are given back and dropped at once: bufs
		// would otherwise keep the last batch's buffers alive.
		c.queued.give(queued)
		clear(bufs)
		for _, f := range batch {
			f.release(err == nil)
		}
		clear(batch)
		if err != nil {
			c.close(fmt.Errorf("giop: write: %w", err))
			return
		}
	}
}

// joinBuffers holds the buffers writeJoined copies batches into, each of
// maxBatchBytes: a batch of several frames is never larger (writeLoop), so
// they do not grow, and they are held only for the length of a write.
var joinBuffers = sync.Pool{New: func() any { b := make([]byte, 0, maxBatchBytes); return &b }}

// writeJoined writes bufs, at most maxBatchBytes in all, with one Write:
// over TLS one record (or as few as its size needs) and one system call
// for a whole batch, where a Write per message costs a record, a seal and
// a system call each.
func writeJoined(w io.Writer, bufs net.Buffers) error {
	bp := joinBuffers.Get().(*[]byte)
	b := (*bp)[:0]
	for _, x := range bufs {
		b = append(b, x...)
	}
	_, err := w.Write(b)
	*bp = b[:0]
	joinBuffers.Put(bp)
	return err
}

// armWriteDeadline keeps the write deadline between WriteTimeout and 1.5 ×
// WriteTimeout ahead, renewing it only when less than WriteTimeout is
// left: setting a deadline updates a runtime timer under a lock, which
// once per write was a measurable share of a relayed call. A write that
// is stuck therefore fails after at least WriteTimeout, as before, and at
// most half as long again. Only the writer calls it, with the time its
// write starts.
func (c *Conn) armWriteDeadline(now time.Time) {
	if c.writeDeadline.Sub(now) >= c.cfg.WriteTimeout {
		return
	}
	c.writeDeadline = now.Add(c.cfg.WriteTimeout + c.cfg.WriteTimeout/2)
	c.nc.SetWriteDeadline(c.writeDeadline)
}

// close shuts the connection down once, failing every waiting call.
func (c *Conn) close(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closeLocked(err)
}

// closeLocked is close for a caller that holds c.mu and has checked the
// connection is open; it releases c.mu.
func (c *Conn) closeLocked(err error) {
	c.closed = true
	if err == nil {
		err = ErrConnClosed
	}
	c.closeErr = err
	pending := c.pending
	c.pending = make(map[uint32]*call)
	for _, req := range c.serving {
		req.ctx.cancel()
	}
	c.mu.Unlock()
	close(c.doneCh)
	c.nc.Close()
	for _, cl := range pending {
		cl.ch <- nil
	}
	c.log.Debug().Err(err).Msg("giop: connection closed")
	if c.onClose != nil {
		c.onClose(c)
	}
}

// Close closes the connection at once, without CloseConnection, and waits
// for its goroutines. Calls in progress fail with COMM_FAILURE.
func (c *Conn) Close() error {
	c.close(ErrConnClosed)
	c.wg.Wait()
	return nil
}

// shutdown closes the connection gracefully: no new requests are
// dispatched, requests in progress finish (until ctx ends), then
// CloseConnection is sent — only once all replies are out, as §15.5.2
// requires — and the connection closes.
func (c *Conn) shutdown(ctx context.Context) {
	c.mu.Lock()
	c.draining = true
	drained := make(chan struct{})
	if len(c.serving) == 0 {
		close(drained)
	} else {
		c.drained = drained
	}
	c.mu.Unlock()
	select {
	case <-drained:
	case <-ctx.Done():
	case <-c.doneCh:
	}
	// Queued replies go out before CloseConnection because the writer
	// takes frames in order.
	f := &outFrame{buf: EncodeHeaderOnly(c.replyVersion(), MsgCloseConnection), written: make(chan struct{})}
	if c.queue(f) == nil {
		select {
		case <-f.written:
			c.linger(ctx)
		case <-c.doneCh:
		case <-ctx.Done():
		}
	}
	c.close(fmt.Errorf("%w: shut down", ErrConnClosed))
	c.wg.Wait()
}

// lingerTimeout bounds how long a connection shut down waits for its
// peer to close once CloseConnection is out.
const lingerTimeout = time.Second

// linger half-closes the connection after CloseConnection and waits,
// while the reader reads on and drops what comes, until the peer closes
// its end (an ORB does on CloseConnection), or lingerTimeout or ctx ends.
// Closing at once with the peer's pipelined requests unread in the socket
// would make the kernel answer with a reset, which discards what this
// end wrote and the peer had not yet received: the CloseConnection that
// tells it to send those requests again (§15.5.2), and the replies
// before it.
func (c *Conn) linger(ctx context.Context) {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	t := time.NewTimer(lingerTimeout)
	defer t.Stop()
	select {
	case <-c.doneCh:
	case <-t.C:
	case <-ctx.Done():
	}
}
