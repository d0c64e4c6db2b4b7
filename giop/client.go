package giop

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/internal/timerpool"
)

// Client makes calls on CORBA objects. It keeps one multiplexed connection
// per endpoint, negotiates code sets once per connection and follows
// LOCATION_FORWARD up to Config.MaxForwardHops. It always connects to the
// address a reference names: a call over a connection a bidirectional
// client opened is made explicitly, with Conn.Invoke, by a caller that
// knows that client handed the reference over (Conn.AnnouncedFor). A
// Client is safe for concurrent use.
type Client struct {
	cfg    *Config
	dialer net.Dialer
	wg     sync.WaitGroup // the sweeper of idle connections
	quit   chan struct{}  // closed by Close

	mu sync.Mutex // guards the fields below
	// offer, if set, is announced in BI_DIR_IIOP on our GIOP 1.2
	// connections, and handler serves the calls that come back over them.
	offer     []ListenPoint
	handler   Handler
	guard     Guard
	endpoints map[epKey]*endpoint
	hosts     map[string]resolution // resolved host names (dial.go)
	sweeping  bool                  // the sweeper runs
	closed    bool
	// tls, if set, is the configuration of TLS connections (tls.go);
	// tlsLogged the addresses whose handshake failure was logged.
	tls       *tls.Config
	tlsLogged map[netip.AddrPort]struct{}
	// tlsFailures counts failed outbound TLS handshakes.
	tlsFailures atomic.Uint64
}

// NewClient returns a client. A nil cfg means DefaultConfig().
func NewClient(cfg *Config) *Client {
	return &Client{cfg: cfg.withDefaults(), endpoints: make(map[epKey]*endpoint),
		hosts: make(map[string]resolution), quit: make(chan struct{}),
		tlsLogged: make(map[netip.AddrPort]struct{})}
}

// OfferBiDir makes the client offer bidirectional GIOP on its GIOP 1.2
// connections: it announces the listen points and serves the requests the
// server sends back with h. Call it before the first call.
func (c *Client) OfferBiDir(h Handler, listenPoints []ListenPoint) {
	c.mu.Lock()
	c.handler, c.offer = h, listenPoints
	c.mu.Unlock()
}

// Invocation describes one call.
type Invocation struct {
	Operation string
	// Args writes the in and inout arguments; nil for none.
	Args func(e *Encoder)
	// Encode, if set, is used instead of Args; an error from it aborts the
	// call before anything is sent and is returned as is. The encoder is
	// positioned at the body, so e.Len()%8 is the body's alignment.
	Encode func(e *Encoder) error
	// BigEndian sends the request big-endian (default little-endian), so a
	// body received big-endian can be relayed without re-marshalling.
	BigEndian bool
	// RawReply makes Invoke return the Response for every reply status
	// (user and system exceptions included) with a nil error, for callers
	// that store or relay replies. Failures of the call itself (connect,
	// lost connection, deadline) are still errors.
	RawReply bool
	// Oneway sends the request without waiting for (or getting) a reply.
	Oneway bool
	// Contexts are extra service contexts for the request.
	Contexts ServiceContextList
	// BodyVersion, when set (major 1), is the GIOP version the body that
	// Encode relays was encoded in (SPEC.md, "Relaying bodies across GIOP
	// versions"). The call then goes at the lower of it and the profile's
	// version, over a connection of its own for that version, so that the
	// body's strings mean at the target what they meant to its sender; a
	// 1.2 body going at 1.1 uses one that negotiates no wchar code set,
	// since 1.1 encodes wide characters otherwise (§15.3.1.6): a target
	// meeting one raises rather than misreads it.
	BodyVersion Version
	// Timeout, if positive, bounds the wait for each reply (each hop of a
	// LOCATION_FORWARD): when it passes, a CancelRequest is sent and the
	// call fails with TIMEOUT, completed MAYBE, wrapping ErrCallTimeout.
	// It costs less than a context with a deadline on every call.
	Timeout time.Duration
}

// Response is the reply to a call.
type Response struct {
	Header *ReplyHeader
	// Result is positioned at the return value (after a normal reply) or at
	// the members (after a user exception).
	Result *Decoder
	// Conn is the connection the reply came on.
	Conn *Conn

	msg       Message // a copy of the reader's, so no allocation of its own
	bodyStart int
	// hdr and dec hold what Header and Result point to, so that a reply
	// costs one allocation besides its message.
	hdr ReplyHeader
	dec Decoder
	// ctxBuf holds the reply's service contexts when there are few (a
	// Native Messaging reply has one), so they need no allocation either.
	ctxBuf [2]ServiceContext
}

// Version returns the GIOP version of the reply.
func (r *Response) Version() Version { return r.msg.Version }

// LittleEndian reports the reply's byte order.
func (r *Response) LittleEndian() bool { return r.msg.LittleEndian }

// Body returns the reply body exactly as received (return value and out
// parameters, or an exception), for storing and relaying. It aliases the
// message buffer, which belongs to this Response.
func (r *Response) Body() []byte { return r.msg.Buf[r.bodyStart:] }

// BodyAlign returns the body's offset modulo 8 within its message: a body
// can be relayed unchanged only into a message where it lands at the same
// offset. It is -1 when the body cannot be relayed as one piece: a GIOP
// 1.1 reply whose fragments restart alignment at other offsets modulo 8
// than where their data lies once reassembled (Message.relayAlign).
func (r *Response) BodyAlign() int { return r.msg.relayAlign(r.bodyStart) }

// Invoke calls an operation on the object ref and waits for the reply.
//
// Errors: a *SystemException raised by the target (or by this client:
// TRANSIENT completed NO when nothing could be sent, COMM_FAILURE completed
// MAYBE when the connection died after sending, TIMEOUT when ctx ended); a
// *UserException raised by the target, with its Body ready to decode. For
// user exceptions the Response is returned too.
func (c *Client) Invoke(ctx context.Context, ref *IOR, inv *Invocation) (*Response, error) {
	target := ref
	for hops := 0; ; hops++ {
		prof, err := target.CallProfile()
		if err != nil {
			return nil, &SystemException{Name: ExcInvObjref, Completed: CompletedNo, cause: err}
		}
		resp, err := c.invokeProfile(ctx, prof, inv)
		if err != nil || inv.Oneway {
			return resp, err
		}
		switch resp.Header.Status {
		case ReplyLocationForward, ReplyLocationForwardPerm:
			fwd := resp.Result.IOR()
			if err := resp.Result.Err(); err != nil {
				return nil, &SystemException{Name: ExcMarshal, Completed: CompletedNo, cause: err}
			}
			if hops >= c.cfg.MaxForwardHops {
				return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo, cause: ErrForwardLoop}
			}
			target = fwd
			continue
		case ReplyNeedsAddressingMode:
			// We always send KeyAddr, the one form every server takes.
			return nil, &SystemException{Name: ExcNoImplement, Completed: CompletedNo,
				cause: errors.New("giop: server wants an addressing mode other than KeyAddr")}
		}
		if inv.RawReply {
			return resp, nil
		}
		return resp, resultError(resp)
	}
}

// resultError turns an exceptional reply into the error Invoke returns.
func resultError(resp *Response) error {
	switch resp.Header.Status {
	case ReplySystemException:
		x := resp.Result.SystemException()
		if err := resp.Result.Err(); err != nil {
			return &SystemException{Name: ExcMarshal, Completed: CompletedMaybe, cause: err}
		}
		return x
	case ReplyUserException:
		id := resp.Result.BoundedString(maxRepoIDLen, "exception repository id")
		if err := resp.Result.Err(); err != nil {
			return &SystemException{Name: ExcMarshal, Completed: CompletedMaybe, cause: err}
		}
		return &UserException{RepoID: id, Body: resp.Result}
	}
	return nil
}

// invokeProfile sends inv to one IIOP profile. A connection the server
// closed in an orderly way (CloseConnection) before answering is retried
// once on a new connection, since the server promises it did not run the
// request (§15.5.2) — once only: a server that takes a request and closes
// again may well have run it, so the retry's failure is COMM_FAILURE,
// completed MAYBE, whatever it is, and the caller does not send it a third
// time. A connection this client closed as idle just as the call picked it
// carried nothing, and the call simply takes another.
func (c *Client) invokeProfile(ctx context.Context, prof *IIOPProfile, inv *Invocation) (*Response, error) {
	resent := false
	for {
		conn, v, err := c.connFor(ctx, prof, inv.BodyVersion)
		if err == nil {
			var resp *Response
			resp, err = conn.invoke(ctx, v, prof, inv)
			switch {
			case err == nil:
				return resp, nil
			case errors.Is(err, errIdleClosed):
				continue
			case errors.Is(err, errPeerClosed) && !resent:
				resent = true
				continue
			}
		}
		if resent {
			var x *SystemException
			if errors.As(err, &x) && x.Completed == CompletedNo {
				err = &SystemException{Name: ExcCommFailure, Completed: CompletedMaybe,
					cause: fmt.Errorf("giop: the request was sent once before the server closed the connection, and re-sending it failed: %w", err)}
			}
		}
		return nil, err
	}
}

// Close closes every connection the client opened and waits for their
// goroutines. Calls in progress fail. It is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.closed {
		close(c.quit)
	}
	c.closed = true
	eps := c.endpoints
	c.endpoints = make(map[epKey]*endpoint)
	c.mu.Unlock()
	for _, ep := range eps {
		ep.mu.Lock()
		if conn := ep.conn.Load(); conn != nil {
			conn.Close()
		}
		ep.mu.Unlock()
	}
	c.wg.Wait()
	return nil
}

// Invoke calls an operation on the object with the given key over this
// connection, whichever side opened it: the explicit binding of a callback
// to the connection its recipient registered through (Ice's fixed proxies,
// SPEC.md). GIOP 1.2 is used.
func (c *Conn) Invoke(ctx context.Context, key []byte, inv *Invocation) (*Response, error) {
	resp, err := c.invoke(ctx, V1_2, &IIOPProfile{Version: V1_2, ObjectKey: key}, inv)
	if err != nil || inv.Oneway {
		return resp, err
	}
	return resp, resultError(resp)
}

// invoke sends one request and waits for its reply.
func (c *Conn) invoke(ctx context.Context, v Version, prof *IIOPProfile, inv *Invocation) (*Response, error) {
	flags := ResponseTarget
	if inv.Oneway {
		flags = ResponseNone
	}
	cl := getCall()
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		putCall(cl)
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo, cause: err}
	}
	id := c.nextID
	c.nextID += 2
	if !inv.Oneway {
		c.pending[id] = cl
	}
	ctxs := c.connContexts(v, prof, inv.Contexts)
	c.mu.Unlock()

	e := getEncoder()
	e.little = !inv.BigEndian
	e.StartRequest(v, &RequestHeader{RequestID: id, ResponseFlags: flags,
		ObjectKey: prof.ObjectKey, Operation: inv.Operation, ServiceContexts: ctxs})
	switch {
	case inv.Encode != nil:
		if err := inv.Encode(e); err != nil {
			putEncoder(e)
			c.forgetCall(id)
			return nil, err
		}
	case inv.Args != nil:
		inv.Args(e)
	}
	f := frameOf(e)
	f.sent = &cl.sent
	if err := c.queue(f); err != nil {
		c.forgetCall(id)
		return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo, cause: err}
	}
	if inv.Oneway {
		return nil, nil
	}
	var expired <-chan time.Time
	if inv.Timeout > 0 {
		t := timerpool.Get(inv.Timeout)
		defer timerpool.Put(t)
		expired = t.C
	}
	select {
	case r := <-cl.ch:
		// The reply was the call's only send; once the writer has also
		// marked it sent, nothing refers to it any more.
		sent := cl.sent.Load()
		if sent {
			putCall(cl)
		}
		if r == nil {
			err := c.Err()
			if errors.Is(err, errPeerClosed) || !sent {
				return nil, &SystemException{Name: ExcTransient, Completed: CompletedNo, cause: err}
			}
			return nil, &SystemException{Name: ExcCommFailure, Completed: CompletedMaybe, cause: err}
		}
		return r, nil
	case <-ctx.Done():
		c.cancelCall(v, id)
		return nil, &SystemException{Name: ExcTimeout, Completed: CompletedMaybe, cause: ctx.Err()}
	case <-expired:
		c.cancelCall(v, id)
		return nil, &SystemException{Name: ExcTimeout, Completed: CompletedMaybe, cause: ErrCallTimeout}
	}
}

// callPool recycles calls and their channels: two allocations per call
// otherwise.
var callPool = sync.Pool{New: func() any { return &call{ch: make(chan *Response, 1)} }}

func getCall() *call {
	cl := callPool.Get().(*call)
	cl.sent.Store(false)
	return cl
}

// putCall recycles a call whose channel is empty and that no sender or
// writer will touch again.
func putCall(cl *call) { callPool.Put(cl) }

// cancelCall gives up a call: its reply, should it come, is dropped, and
// the server is told with a CancelRequest, which is advisory (§15.4.4) but
// lets it stop work.
func (c *Conn) cancelCall(v Version, id uint32) {
	c.forgetCall(id)
	ce := getEncoder()
	c.queue(&outFrame{buf: ce.EncodeCancelRequest(v, id), enc: ce})
}

func (c *Conn) forgetCall(id uint32) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// connContexts adds the once-per-connection contexts to a request's own:
// CodeSets on the first GIOP ≥ 1.1 request to an object whose IOR
// advertises code sets (as omniORB does, SPEC.md), and our
// BI_DIR_IIOP offer on the first GIOP 1.2 request. c.mu must be held.
func (c *Conn) connContexts(v Version, prof *IIOPProfile, extra ServiceContextList) ServiceContextList {
	if c.accepted {
		return extra
	}
	var out ServiceContextList
	if c.codeSets == nil && v.Minor >= 1 {
		if info, ok := prof.CodeSets(); ok {
			cs := ChooseCodeSets(info)
			if c.narrow {
				cs.WChar = 0
			}
			c.codeSets = &cs
			out = append(out, cs.ServiceContext())
		}
	}
	if len(c.offer) > 0 && !c.bidirOffered && v.Minor >= 2 {
		c.bidirOffered = true
		out = append(out, BiDirContext(c.offer))
	}
	if out == nil {
		return extra
	}
	return append(out, extra...)
}

// ChooseCodeSets picks transmission code sets from a server's
// CodeSetComponentInfo. UTF-8 is taken whenever the server offers it,
// natively or as a conversion set — omniORB offers it as a conversion of
// its native ISO-8859-1 — because Go strings are UTF-8 and the agent then
// relays string data between UTF-8 clients and targets unchanged. Otherwise
// the rule is omniORB's: the native set if we support it, else the first
// supported conversion set, else UTF-8/UTF-16 (SPEC.md).
func ChooseCodeSets(info CodeSetComponentInfo) CodeSetContext {
	pick := func(c CodeSetComponent, preferred uint32, supported []uint32) uint32 {
		all := append([]uint32{c.Native}, c.Conversion...)
		for _, cs := range all {
			if cs == preferred {
				return cs
			}
		}
		for _, cs := range all {
			for _, s := range supported {
				if cs == s {
					return cs
				}
			}
		}
		return preferred
	}
	return CodeSetContext{
		Char:  pick(info.ForChar, CodeSetUTF8, []uint32{CodeSetISO8859_1}),
		WChar: pick(info.ForWChar, CodeSetUTF16, nil),
	}
}
