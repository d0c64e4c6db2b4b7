package nm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nmproto"
)

// Kind is what an object is to Native Messaging, read from the TAG_NM_REF
// component of its IOR; it decides which NMService context its calls carry.
type Kind int

// Object kinds.
const (
	// KindPlain: no TAG_NM_REF — a target called directly, or any other
	// object. Calls carry no context and leave the Current alone.
	KindPlain Kind = iota
	// KindReceiver: a proxy's typed receiver or a request object. Calls
	// carry req_info (tag, cookie, wait timeout, suppress mode).
	KindReceiver
	// KindPoller: a poller or a reply holder. Calls carry the wait timeout.
	KindPoller
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindPlain:
		return "plain object"
	case KindReceiver:
		return "typed receiver"
	case KindPoller:
		return "poller"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Object is a handle on an object with an IDL interface — a typed
// receiver, a request object, a poller, a reply holder, or a target —
// called dynamically: an operation name and Go values, marshalled through
// the IDL the Agent has loaded. It is safe for concurrent use (the Current
// passed to each call is not).
type Object struct {
	agent  *Agent
	ref    *giop.IOR
	repoID string
	kind   Kind
	role   role
}

// role is what this package got an object as, which the IOR cannot tell
// (a typed receiver and a request object look alike, as do a poller and a
// reply holder); it says what OBJECT_NOT_EXIST means on it.
type role uint8

const (
	roleUnknown role = iota
	roleReceiver
	roleRequest
	rolePoller
	roleHolder
)

// gone returns the sentinel OBJECT_NOT_EXIST stands for on the object.
func (o *Object) gone() error {
	switch o.role {
	case roleReceiver:
		return ErrProxyDestroyed
	case roleRequest, rolePoller:
		return ErrRequestTrashed
	case roleHolder:
		return ErrReplyHolderExpired
	}
	return nil
}

// wrap wraps an error of a call on o.
func (o *Object) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	if g := o.gone(); g != nil {
		return wrapGone(what, err, g)
	}
	return wrap(what, err)
}

func (a *Agent) object(ref *giop.IOR, repoID string) *Object {
	if repoID == "" {
		repoID = ref.TypeID
	}
	o := &Object{agent: a, ref: ref, repoID: repoID}
	switch refKind(ref) {
	case nmproto.RefTypedReceiver:
		o.kind = KindReceiver
	case nmproto.RefPoller:
		o.kind, o.role = KindPoller, rolePoller
	}
	return o
}

// as sets the role an object was got as.
func (o *Object) as(r role) *Object {
	o.role = r
	return o
}

// IOR returns the object's reference.
func (o *Object) IOR() *giop.IOR { return o.ref }

// RepoID returns the repository id of the interface calls use.
func (o *Object) RepoID() string { return o.repoID }

// Kind returns what the object is to Native Messaging.
func (o *Object) Kind() Kind { return o.kind }

// WithRepoID returns a handle on the same object that uses interface
// repoID, for references whose type id is missing (corbaloc) or generic
// (a request object created with repository id "*").
func (o *Object) WithRepoID(repoID string) *Object {
	c := *o
	c.repoID = repoID
	return &c
}

// String returns the stringified IOR.
func (o *Object) String() string { return o.ref.String() }

// Result is the outcome of a normal return: the return value (nil for
// void) and the out and inout parameters in declaration order, as Go
// values (see the idl package). After a premature return in suppressed
// mode they are zero values.
type Result struct {
	Return any
	Outs   []any
}

// Invoke calls operation op with args — one Go value per in and inout
// parameter, in declaration order; out parameters take none — and returns
// its result.
//
// On a typed receiver or request object the call sends cur's request tag,
// cookie, wait timeout and suppress mode, and on a poller or reply holder
// its wait timeout; afterwards cur reports ReplyNotAvailable, Poller and
// ReplierName (see Current). cur may be nil for the defaults, when those
// results are not needed. On a poller or holder args may be omitted: zero
// values are sent, since the agent ignores them.
//
// Errors: ErrNoIDL and ErrUnknownOperation (wrapped) when the interface or
// operation is not in the IDL, idl.ErrMismatch for arguments that do not
// fit it, in each case before anything is sent; otherwise an error that
// unwraps to a *giop.SystemException or a *UserException (decoded through
// the IDL) and matches the sentinels of this package, such as
// ErrReplyNotAvailable, ErrWrongOperation and ErrRequestTrashed. When ctx
// ends first the error is TIMEOUT and matches ctx.Err() with errors.Is.
func (o *Object) Invoke(ctx context.Context, cur *Current, op string, args ...any) (*Result, error) {
	if o == nil || o.ref.IsNil() {
		return nil, nilTarget(op)
	}
	def, err := o.operation(op)
	if err != nil {
		return nil, wrap(op, err)
	}
	if o.kind == KindPoller && len(args) == 0 {
		args = zeroArgs(def)
	}
	if cur == nil {
		cur = &Current{}
	}
	inv := &giop.Invocation{Operation: op, RawReply: true, Oneway: def.Oneway,
		Encode: func(e *giop.Encoder) error { return def.MarshalArgs(e, args) }}
	switch o.kind {
	case KindReceiver:
		info := nmproto.ReqInfo{RequestTag: cur.RequestTag, Cookie: cur.Cookie,
			WaitTimeout: millis(cur.WaitTimeout), Suppress: cur.SuppressMode()}
		if len(info.RequestTag) > nmproto.MaxTagLen || len(info.Cookie) > nmproto.MaxCookieLen {
			return nil, raise(op, giop.ExcBadParam, nmproto.BadContext,
				fmt.Errorf("request tag (%d bytes) or cookie (%d bytes) too long: the limits are %d and %d",
					len(info.RequestTag), len(info.Cookie), nmproto.MaxTagLen, nmproto.MaxCookieLen))
		}
		nm := nmproto.Context{Kind: nmproto.KindReqInfo, ReqInfo: info}
		inv.Contexts = giop.ServiceContextList{nm.Encode()}
	case KindPoller:
		nm := nmproto.Context{Kind: nmproto.KindWaitTimeout, WaitTimeout: millis(cur.WaitTimeout)}
		inv.Contexts = giop.ServiceContextList{nm.Encode()}
	}
	if err := ctx.Err(); err != nil {
		return nil, wrap(op, giop.NewSystemExceptionCause(giop.ExcTimeout, 0, giop.CompletedNo, err))
	}
	if o.kind != KindPlain {
		cur.reset()
	}
	resp, err := o.agent.client.Invoke(ctx, o.ref, inv)
	if err != nil {
		var x *giop.SystemException
		if !errors.As(err, &x) {
			// Encode failed: the arguments do not fit the IDL.
			return nil, wrap(op+": arguments", err)
		}
		return nil, o.wrap(op, err)
	}
	if def.Oneway {
		return &Result{}, nil
	}
	return o.reply(op, def, cur, resp)
}

// reply interprets a reply: the result or exception, and, for NM objects,
// what the NMService context says about it.
func (o *Object) reply(op string, def *idl.Operation, cur *Current, resp *giop.Response) (*Result, error) {
	var poller *giop.IOR
	hasPoller, replier := false, false
	replierName := ""
	if o.kind != KindPlain {
		c, ok, err := nmproto.Find(resp.Header.ServiceContexts)
		if err != nil {
			return nil, raise(op, giop.ExcMarshal, nmproto.BadContext, fmt.Errorf("the reply's NMService context: %w", err))
		}
		if ok {
			switch c.Kind {
			case nmproto.KindThePoller:
				hasPoller, poller = true, c.ThePoller
			case nmproto.KindReplierName:
				replier, replierName = true, c.ReplierName
			}
		}
		if hasPoller && !poller.IsNil() {
			// The poller has the interface this call used.
			cur.poller = o.agent.object(poller, o.repoID).as(rolePoller)
		}
		cur.replierName, cur.hasReplier = replierName, replier
		cur.noMore = nmproto.NoMoreReply(resp.Header.ServiceContexts)
	}
	d := resp.Result
	switch resp.Header.Status {
	case giop.ReplyNoException:
		if o.kind != KindPlain {
			cur.rna = hasPoller
		}
		ret, outs, err := def.UnmarshalResults(d)
		if err != nil {
			return nil, raise(op, giop.ExcMarshal, 0, fmt.Errorf("the reply does not fit the IDL: %w", err))
		}
		return &Result{Return: ret, Outs: outs}, nil
	case giop.ReplySystemException:
		x := d.SystemException()
		if err := d.Err(); err != nil {
			return nil, raise(op, giop.ExcMarshal, 0, err)
		}
		if o.kind == KindPlain {
			return nil, o.wrap(op, x)
		}
		cur.rna = !replier
		if x.Name == giop.ExcNoResponse && x.Minor == nmproto.ReplyNotAvailable && cur.SuppressMode() {
			// The agent could not suppress (no IDL there); we can.
			return zeroResult(def), nil
		}
		return nil, o.wrap(op, x)
	case giop.ReplyUserException:
		id := d.BoundedString(1024, "exception repository id")
		if err := d.Err(); err != nil {
			return nil, raise(op, giop.ExcMarshal, 0, err)
		}
		if o.kind != KindPlain {
			cur.rna = !replier
		}
		return nil, wrap(op, o.agent.userException(id, d, def.Raises))
	}
	return nil, raise(op, giop.ExcInternal, 0, fmt.Errorf("unexpected reply status %s", resp.Header.Status))
}

// operation finds op in the object's interface.
func (o *Object) operation(op string) (*idl.Operation, error) {
	iface, ok := o.agent.repo.Interface(o.repoID)
	if !ok {
		if o.repoID == "" {
			return nil, fmt.Errorf("%w: the reference has no type id; name its interface with WithRepoID", ErrNoIDL)
		}
		return nil, fmt.Errorf("%w: no interface %q; load its IDL with WithIDLFiles or WithIDLSource", ErrNoIDL, o.repoID)
	}
	def, ok := iface.Operation(op)
	if !ok {
		return nil, fmt.Errorf("%w: %s has no operation or attribute accessor %q", ErrUnknownOperation, iface.Name, op)
	}
	return def, nil
}

// zeroArgs returns zero values for the in and inout parameters of op.
func zeroArgs(op *idl.Operation) []any {
	var args []any
	for _, p := range op.Params {
		if p.Dir != idl.Out {
			args = append(args, idl.Zero(p.Type))
		}
	}
	return args
}

// zeroResult is the suppressed-mode premature return of op: zero return
// and out values.
func zeroResult(op *idl.Operation) *Result {
	r := &Result{}
	if op.Result != nil && op.Result.Kind != giop.TkVoid {
		r.Return = idl.Zero(op.Result)
	}
	for _, p := range op.Params {
		if p.Dir != idl.In {
			r.Outs = append(r.Outs, idl.Zero(p.Type))
		}
	}
	return r
}

// nmRepository is the NativeMessaging IDL, for the agent's own exceptions.
var nmRepository = sync.OnceValues(idl.NativeMessaging)

// userException decodes the members of user exception id from d, through
// the operation's raises clause, the Agent's IDL or the NativeMessaging
// IDL, whichever knows it.
func (a *Agent) userException(id string, d *giop.Decoder, raises []*idl.Type) *UserException {
	u := &UserException{RepoID: id}
	var t *idl.Type
	for _, r := range raises {
		if r.RepoID == id {
			t = r
		}
	}
	if t == nil {
		t, _ = a.repo.Type(id)
	}
	if t == nil {
		if nm, err := nmRepository(); err == nil {
			// An agent configured with VisiBroker's prefix or scope
			// raises NativeMessaging's exceptions under other ids.
			if c := nmproto.Canonical(id); c != id {
				u.RepoID = c
			}
			t, _ = nm.Type(u.RepoID)
		}
	}
	if t == nil || t.Kind != giop.TkExcept {
		return u
	}
	u.Name = t.Name
	if members, err := idl.UnmarshalExceptionMembers(d, t); err == nil {
		u.Members = members
	}
	return u
}
