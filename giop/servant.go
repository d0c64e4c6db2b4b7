package giop

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Handler serves the requests that arrive on connections. Each request runs
// in its own goroutine, so a handler may block, including on a nested call
// back to the same client.
type Handler interface {
	// ServeGIOP serves one request. It writes results to req.Results() and
	// returns nil, or returns an error: a *SystemException or a
	// *UserException becomes that exception's reply, a *ForwardError a
	// LOCATION_FORWARD, and any other error UNKNOWN (completed MAYBE).
	ServeGIOP(ctx context.Context, req *ServerRequest) error

	// Locate reports whether an object with this key lives here; it answers
	// LocateRequest messages, which omniORB sends before a first call.
	Locate(key []byte) bool
}

// ConnLocator is implemented by a Handler whose answer to a LocateRequest
// depends on the connection it came on — its peer's TLS identity — as its
// answer to a call on the object does: Locate alone would tell a peer
// that a call refuses whether the object exists. When the server's
// Handler has it, a LocateRequest is answered by LocateConn, not Locate.
type ConnLocator interface {
	// LocateConn reports whether an object with this key lives here for
	// the peer of c. A non-nil exception refuses that peer: the
	// LocateReply is LOC_SYSTEM_EXCEPTION with it on GIOP 1.2, and
	// UNKNOWN_OBJECT on 1.0 and 1.1, which have no such status
	// (SPEC.md, "Requests and replies").
	LocateConn(c *Conn, key []byte) (bool, *SystemException)
}

// LocateForwarder is implemented by a Handler that answers for objects
// living elsewhere: a cluster standby that forwards every call to the
// owner (docs/cluster.md). When the server's Handler has it, a
// LocateRequest it answers with a reference gets OBJECT_FORWARD with that
// reference (§15.4.6.1), as its calls get LOCATION_FORWARD, rather than
// UNKNOWN_OBJECT, which an ORB takes for OBJECT_NOT_EXIST.
type LocateForwarder interface {
	// LocateForward returns where the object with this key lives, or nil
	// to answer the LocateRequest as the Handler's Locate would. It runs
	// on the connection's reader, so it must not block.
	LocateForward(key []byte) *IOR
}

// ServerRequest is a request being served.
type ServerRequest struct {
	// Header is the decoded request header.
	Header *RequestHeader
	// Version and LittleEndian describe the request's encoding; the reply
	// uses the same version.
	Version      Version
	LittleEndian bool
	// Args is positioned at the first in/inout argument.
	Args *Decoder
	// Conn is the connection the request arrived on (for bidirectional
	// callbacks and the negotiated code sets).
	Conn *Conn

	ctx       requestContext
	msg       Message // a copy of the reader's, so no allocation of its own
	respond   bool
	reserved  bool // served on the connection's reserved places, not the server's budget
	after     func(written bool)
	replyCtxs ServiceContextList
	results   *Encoder
	bodyStart int

	// hdr and args hold what Header and Args point to: a request costs
	// one allocation besides its message.
	hdr  RequestHeader
	args Decoder
	// ctxBuf holds the header's service contexts when they are few.
	ctxBuf [4]ServiceContext
}

// requestContext is a served request's context, cancelled when the peer
// cancels the request (CancelRequest), the connection closes, or the
// handler returns. It lives in its ServerRequest: context.WithCancel costs
// three allocations per request, this one (Done's channel) and only if
// Done is called.
type requestContext struct {
	mu   sync.Mutex // guards done, err and byPeer
	done chan struct{}
	err  error
	// byPeer is set when the peer's CancelRequest ended the context: the
	// client then no longer expects the reply (CORBA 3.0 §15.4.4), so a
	// reply sent anyway is one it drops.
	byPeer bool
}

// Deadline reports none: a request is bounded by its connection and by
// the handler's own timeouts.
func (c *requestContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Value carries nothing.
func (c *requestContext) Value(any) any { return nil }

// Done is closed when the request is cancelled; the channel is made on
// the first call.
func (c *requestContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		}
	}
	return c.done
}

// Err is context.Canceled once the request is cancelled, else nil.
func (c *requestContext) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// String names the context in fmt output, as the context package's do.
func (c *requestContext) String() string { return "giop.requestContext" }

// cancel ends the context; later calls do nothing.
func (c *requestContext) cancel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	c.err = context.Canceled
	if c.done != nil {
		close(c.done)
	}
}

// cancelByPeer ends the context for the peer's CancelRequest.
func (c *requestContext) cancelByPeer() {
	c.mu.Lock()
	if c.err == nil {
		c.byPeer = true
	}
	c.mu.Unlock()
	c.cancel()
}

// cancelledByPeer reports whether the peer's CancelRequest ended the
// context.
func (c *requestContext) cancelledByPeer() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPeer
}

// Operation returns the operation name.
func (r *ServerRequest) Operation() string { return r.Header.Operation }

// ObjectKey returns the target object's key.
func (r *ServerRequest) ObjectKey() []byte { return r.Header.ObjectKey }

// ResponseExpected reports whether the client waits for a reply.
func (r *ServerRequest) ResponseExpected() bool { return r.respond }

// Context returns the request's context, cancelled by a CancelRequest or
// when the connection closes.
func (r *ServerRequest) Context() context.Context { return &r.ctx }

// Body returns the request body: the marshalled arguments exactly as
// received, for pass-through. In GIOP 1.2 it starts 8-aligned, so it can be
// re-sent as the body of another 1.2 message unchanged.
func (r *ServerRequest) Body() []byte {
	if r.bodyStart == 0 {
		r.bodyStart = r.Args.Pos()
	}
	return r.msg.Buf[r.bodyStart:]
}

// AfterReply registers f to learn whether the reply reached the socket
// (once written there, the kernel delivers it even if this process dies).
// The agent deletes a read request only then, so a reply lost with the
// connection leaves its request pollable. A reply to a request the peer
// cancelled (CancelRequest) before the handler returned counts as not
// written: the peer has stopped waiting for it and drops it (CORBA 3.0
// §15.4.4). f runs on the connection's writer goroutine and must not
// block; it is not called for a oneway.
func (r *ServerRequest) AfterReply(f func(written bool)) { r.after = f }

// SetReplyContexts sets the service contexts of the reply. It must be
// called before Results.
func (r *ServerRequest) SetReplyContexts(l ServiceContextList) { r.replyCtxs = l }

// Results returns the encoder for a normal reply's body: the return value,
// then out and inout parameters in order.
func (r *ServerRequest) Results() *Encoder {
	if r.results == nil {
		r.Body() // pin the body start before the handler reads on
		r.results = getEncoder()
		r.results.little = r.LittleEndian
		r.results.StartReply(r.Version, &ReplyHeader{RequestID: r.Header.RequestID, Status: ReplyNoException, ServiceContexts: r.replyCtxs})
	}
	return r.results
}

// ArgsErr returns a MARSHAL system exception (completed NO) if the
// arguments could not be decoded, else nil.
func (r *ServerRequest) ArgsErr() error {
	if err := r.Args.Err(); err != nil {
		return &SystemException{Name: ExcMarshal, Completed: CompletedNo, cause: err}
	}
	return nil
}

// frame is the reply in e as a frame for the writer, with the request's
// AfterReply callback.
func (r *ServerRequest) frame(e *Encoder) *outFrame {
	f := frameOf(e)
	f.after = r.after
	if r.after != nil && r.ctx.cancelledByPeer() {
		f.unwanted = true
	}
	return f
}

// finish sends the reply for the handler's outcome (nothing for a oneway).
func (r *ServerRequest) finish(err error) {
	defer func() {
		if r.results != nil {
			putEncoder(r.results) // unless handed to the writer below
		}
	}()
	if !r.respond {
		return
	}
	if err == ErrReissue {
		// No reply: the Shutdown that follows says CloseConnection.
		if r.after != nil {
			r.after(false)
		}
		return
	}
	c := r.Conn
	if err == nil {
		e := r.Results()
		r.results = nil
		c.queue(r.frame(e))
		return
	}
	h := &ReplyHeader{RequestID: r.Header.RequestID, ServiceContexts: r.replyCtxs}
	raw, sys, user, fwd := replyKind(err)
	switch {
	case raw != nil:
		e := getEncoder()
		e.little = raw.LittleEndian
		h.Status = raw.Status
		e.StartReply(r.Version, h)
		if len(raw.Body) > 0 {
			e.AlignBodyTo(raw.Align)
		}
		e.WriteRaw(raw.Body)
		c.queue(r.frame(e))
		return
	case sys != nil:
	case user != nil:
		e := getEncoder()
		e.little = r.LittleEndian
		h.Status = ReplyUserException
		e.StartReply(r.Version, h)
		e.WriteString(user.RepoID)
		if user.Members != nil {
			user.Members(e)
		}
		c.queue(r.frame(e))
		return
	case fwd != nil:
		e := getEncoder()
		e.little = r.LittleEndian
		h.Status = ReplyLocationForward
		if fwd.Permanent && r.Version.Minor >= 2 {
			h.Status = ReplyLocationForwardPerm
		}
		e.StartReply(r.Version, h)
		e.WriteIOR(fwd.IOR)
		c.queue(r.frame(e))
		return
	default:
		c.log.Warn().Err(err).Str("operation", r.Header.Operation).Msg("giop: handler failed; replying UNKNOWN")
		sys = NewSystemException(ExcUnknown, 0, CompletedMaybe)
	}
	e := getEncoder()
	e.little = r.LittleEndian
	h.Status = ReplySystemException
	e.StartReply(r.Version, h)
	e.WriteSystemException(sys)
	c.queue(r.frame(e))
}

// replyKind sorts a handler's error into the reply it becomes. The types
// a handler returns as they are are told apart without errors.As, whose
// targets escape to the heap: that is an allocation per reply.
func replyKind(err error) (*RawReply, *SystemException, *UserException, *ForwardError) {
	switch x := err.(type) {
	case *RawReply:
		return x, nil, nil, nil
	case *SystemException:
		return nil, x, nil, nil
	case *UserException:
		return nil, nil, x, nil
	case *ForwardError:
		return nil, nil, nil, x
	}
	return wrappedReplyKind(err)
}

// wrappedReplyKind is replyKind for wrapped errors.
func wrappedReplyKind(err error) (raw *RawReply, sys *SystemException, user *UserException, fwd *ForwardError) {
	switch {
	case errors.As(err, &raw):
		return raw, nil, nil, nil
	case errors.As(err, &sys):
		return nil, sys, nil, nil
	case errors.As(err, &user):
		return nil, nil, user, nil
	case errors.As(err, &fwd):
		return nil, nil, nil, fwd
	}
	return nil, nil, nil, nil
}

// UserException is an IDL-defined exception. A handler returns one to
// raise it; a client call returns one when the target raised it.
type UserException struct {
	RepoID string
	// Members encodes the exception's members, in declaration order
	// (server side).
	Members func(e *Encoder)
	// Body decodes the members (client side).
	Body *Decoder
}

// Error names the exception.
func (u *UserException) Error() string { return "user exception " + u.RepoID }

// RawReply is a handler's answer given as an already-encoded body, relayed
// without re-marshalling: a stored reply of a delegated request. The reply
// goes out in the body's byte order (GIOP lets a reply differ from its
// request; omniORB accepts it), with the body at offset Align modulo 8 —
// a GIOP 1.0/1.1 header gets a padding context for it if need be. The
// caller must check with ReplyBodyFits that it can.
type RawReply struct {
	Status       ReplyStatus
	Body         []byte
	LittleEndian bool
	// Align is the offset modulo 8 at which Body was encoded in its own
	// message.
	Align int
}

// Error describes the raw reply (it travels as an error value only to
// reach the connection).
func (r *RawReply) Error() string { return "giop: raw reply " + r.Status.String() }

// ReplyBodyAlign returns the offset modulo 8 at which a reply body to this
// request starts, given the reply contexts set so far: 0 in GIOP 1.2, and
// whatever the header length makes it in 1.0 and 1.1.
func (r *ServerRequest) ReplyBodyAlign() int {
	if r.Version.Minor >= 2 {
		return 0
	}
	e := getEncoder()
	defer putEncoder(e)
	e.StartReply(r.Version, &ReplyHeader{RequestID: r.Header.RequestID, ServiceContexts: r.replyCtxs})
	return e.Len() % 8
}

// ReplyBodyFits reports whether a reply body encoded at offset align
// modulo 8 can go out unchanged in the reply to this request (a RawReply
// with that Align), given the reply contexts set so far: in GIOP 1.2 at 0
// only; in 1.0 and 1.1 at 0 or 4, which a padding context in the header
// makes up (Encoder.AlignBodyTo).
func (r *ServerRequest) ReplyBodyFits(align int) bool {
	e := getEncoder()
	defer putEncoder(e)
	e.StartReply(r.Version, &ReplyHeader{RequestID: r.Header.RequestID, ServiceContexts: r.replyCtxs})
	return e.AlignBodyTo(align)
}

// BodyAlign returns the request body's offset modulo 8 in its message, or
// -1 when the body cannot be relayed unchanged as one piece: a GIOP 1.1
// request whose fragments restart alignment at other offsets modulo 8 than
// where their data lies once reassembled (Message.relayAlign).
func (r *ServerRequest) BodyAlign() int {
	r.Body()
	return r.msg.relayAlign(r.bodyStart)
}

// ForwardError asks the client to retry at another object (LOCATION_FORWARD).
type ForwardError struct {
	IOR       *IOR
	Permanent bool
}

// Error describes the forward.
func (f *ForwardError) Error() string { return "giop: location forward" }

// Servant implements one CORBA object. The Adapter answers the standard
// operations (_is_a, _non_existent, _interface, _repository_id) for it.
type Servant interface {
	// RepositoryID is the id of the servant's most derived interface.
	RepositoryID() string
	// Invoke serves an operation, as Handler.ServeGIOP does.
	Invoke(ctx context.Context, req *ServerRequest) error
}

// IsAer is implemented by servants that answer _is_a themselves, for
// inherited interfaces or for "any id" objects.
type IsAer interface {
	IsA(repoID string) bool
}

// Adapter is an object adapter: a Handler that routes requests to servants
// by object key and answers the standard operations of CORBA::Object.
type Adapter struct {
	mu      sync.RWMutex // guards objects
	objects map[string]Servant

	// Locator, if set, finds servants for keys not registered, such as
	// objects that live in a store. It must be safe for concurrent use.
	Locator func(key []byte) Servant

	// Missing, if set, says what a request to a key with no servant
	// raises, so an application can tell a trashed object from a key it
	// never made (OBJECT_NOT_EXIST with its own minor code); it may set
	// the reply's service contexts. Nil, or a nil result, means
	// OBJECT_NOT_EXIST with the standard minor.
	Missing func(req *ServerRequest) *SystemException
}

// NewAdapter returns an empty adapter.
func NewAdapter() *Adapter { return &Adapter{objects: make(map[string]Servant)} }

// Register makes s reachable under key, replacing any servant there.
func (a *Adapter) Register(key []byte, s Servant) {
	a.mu.Lock()
	a.objects[string(key)] = s
	a.mu.Unlock()
}

// Unregister removes the servant under key.
func (a *Adapter) Unregister(key []byte) {
	a.mu.Lock()
	delete(a.objects, string(key))
	a.mu.Unlock()
}

// Lookup returns the servant for key, or nil.
func (a *Adapter) Lookup(key []byte) Servant {
	a.mu.RLock()
	s := a.objects[string(key)]
	a.mu.RUnlock()
	if s == nil && a.Locator != nil {
		s = a.Locator(key)
	}
	return s
}

// Locate implements Handler.
func (a *Adapter) Locate(key []byte) bool { return a.Lookup(key) != nil }

// CORBAObjectID is the repository id every interface inherits.
const CORBAObjectID = "IDL:omg.org/CORBA/Object:1.0"

// ServeGIOP implements Handler: unknown keys raise OBJECT_NOT_EXIST (as
// omniORB does, SPEC.md), standard operations are answered
// here, everything else goes to the servant.
func (a *Adapter) ServeGIOP(ctx context.Context, req *ServerRequest) error {
	s := a.Lookup(req.ObjectKey())
	op := req.Operation()
	if s == nil {
		if op == "_non_existent" || op == "_not_existent" {
			req.Results().WriteBool(true)
			return nil
		}
		if a.Missing != nil {
			if x := a.Missing(req); x != nil {
				return x
			}
		}
		return NewSystemException(ExcObjectNotExist, MinorObjectNotExistNoObject, CompletedNo)
	}
	switch op {
	case "_is_a":
		id := req.Args.String()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		var yes bool
		if isa, ok := s.(IsAer); ok {
			yes = isa.IsA(id)
		} else {
			yes = id == s.RepositoryID() || id == CORBAObjectID
		}
		req.Results().WriteBool(yes)
		return nil
	case "_non_existent", "_not_existent":
		req.Results().WriteBool(false)
		return nil
	case "_repository_id":
		req.Results().WriteString(s.RepositoryID())
		return nil
	case "_interface", "_get_interface", "_implementation", "_get_implementation", "_get_interface_def":
		// No Interface Repository: CORBA allows NO_IMPLEMENT (SPEC.md).
		return NewSystemException(ExcNoImplement, 0, CompletedNo)
	case "_component", "_get_component":
		// Not a CORBA component: the nil reference (CORBA 3.0 §4.3.12).
		req.Results().WriteIOR(nil)
		return nil
	case "_domain_managers", "_get_domain_managers":
		// In no policy domain: an empty DomainManagerList.
		req.Results().WriteULong(0)
		return nil
	}
	if IsPseudoOperation(op) {
		return &SystemException{Name: ExcBadOperation, Minor: MinorBadOperationUnknown, Completed: CompletedNo,
			cause: fmt.Errorf("pseudo-operation %q is not served over GIOP", op)}
	}
	return s.Invoke(ctx, req)
}

// IsPseudoOperation reports whether op names an operation of
// CORBA::Object rather than of an IDL interface: IDL identifiers never
// start with an underscore on the wire, so every such name is a
// pseudo-operation except the accessors _get_x and _set_x of an attribute
// x — and x among the names CORBA::Object itself reserves (component,
// interface, domain_managers, policy, ...) is one of its pseudo-attributes.
// A servant never sees one: the Adapter answers them (SPEC.md).
func IsPseudoOperation(op string) bool {
	if !strings.HasPrefix(op, "_") {
		return false
	}
	attr, ok := strings.CutPrefix(op, "_get_")
	if !ok {
		attr, ok = strings.CutPrefix(op, "_set_")
	}
	if !ok {
		return true
	}
	switch attr {
	case "component", "interface", "interface_def", "implementation", "domain_managers", "policy",
		"policy_overrides", "client_policy", "orb":
		return true
	}
	return false
}

// BadOperation returns the BAD_OPERATION exception for an operation the
// servant does not implement.
func BadOperation(op string) error {
	return &SystemException{Name: ExcBadOperation, Minor: MinorBadOperationUnknown,
		Completed: CompletedNo, cause: fmt.Errorf("unknown operation %q", op)}
}
