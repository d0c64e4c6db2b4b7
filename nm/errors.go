package nm

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Repository ids of the NativeMessaging user exceptions.
const (
	DuplicatedRequestTagID = nmproto.DuplicatedRequestTagID
	PollingGroupIsEmptyID  = nmproto.PollingGroupIsEmptyID
	RequestNotExistID      = nmproto.RequestNotExistID
	InvalidPropertyID      = nmproto.InvalidPropertyID
)

// Sentinel errors. Every error an nm call returns for an exception also
// unwraps to the exception itself: errors.As to a *giop.SystemException
// (name, minor code, completion status) or to a *UserException (repository
// id, members). The sentinels below match the Native Messaging conditions
// with errors.Is, by exception and minor code.
var (
	// ErrReplyNotAvailable matches an RNA exception: NO_RESPONSE with minor
	// code REPLY_NOT_AVAILABLE, the premature return of unsuppressed mode.
	ErrReplyNotAvailable = sysSentinel("nm: reply not available", giop.ExcNoResponse, nmproto.ReplyNotAvailable)

	// ErrRequestTrashed matches OBJECT_NOT_EXIST/REQUEST_TRASHED: the
	// poller or request object of a request that has been trashed (its
	// reply read, or destroyed). On a poller or request object it matches
	// OBJECT_NOT_EXIST with any standard minor code too, which is what the
	// agent answers once it has forgotten the request.
	ErrRequestTrashed = sysSentinel("nm: request trashed", giop.ExcObjectNotExist, nmproto.RequestTrashed)

	// ErrProxyDestroyed matches OBJECT_NOT_EXIST/PROXY_DESTROYED: the proxy
	// is destroyed, or "to be destroyed" after Destroy(ctx, false). On a
	// proxy or typed receiver it matches OBJECT_NOT_EXIST with any standard
	// minor code too (a proxy destroyed for good).
	ErrProxyDestroyed = sysSentinel("nm: request proxy destroyed", giop.ExcObjectNotExist, nmproto.ProxyDestroyed)

	// ErrReplyHolderExpired matches OBJECT_NOT_EXIST/REPLY_HOLDER_EXPIRED:
	// a reply holder used after its reply_available call returned. On a
	// holder it matches OBJECT_NOT_EXIST with any standard minor code too.
	ErrReplyHolderExpired = sysSentinel("nm: reply holder expired", giop.ExcObjectNotExist, nmproto.ReplyHolderExpired)

	// ErrWrongOperation matches BAD_OPERATION/OPERATION_MISMATCH: a poller
	// or reply holder called with another operation than its request's.
	ErrWrongOperation = sysSentinel("nm: operation does not match the request", giop.ExcBadOperation, nmproto.WrongOperation)

	// ErrNilTarget matches BAD_PARAM/NIL_TARGET: a nil target, refused by
	// this package before anything is sent or by the agent.
	ErrNilTarget = sysSentinel("nm: nil target", giop.ExcBadParam, nmproto.NilTarget)

	// ErrDuplicatedRequestTag matches a request tag already used by a live
	// request of the same polling group: the DuplicatedRequestTag user
	// exception of create_request, or BAD_INV_ORDER/DUPLICATED_REQUEST_TAG
	// on a typed receiver.
	ErrDuplicatedRequestTag = bothSentinel("nm: duplicated request tag", giop.ExcBadInvOrder, nmproto.DuplicatedRequestTag, DuplicatedRequestTagID)

	// ErrPollingGroupIsEmpty matches the PollingGroupIsEmpty user exception:
	// the polling group (or proxy) holds no live request.
	ErrPollingGroupIsEmpty = userSentinel("nm: polling group is empty", PollingGroupIsEmptyID)

	// ErrRequestNotExist matches the RequestNotExist user exception of
	// destroy_request.
	ErrRequestNotExist = userSentinel("nm: request does not exist", RequestNotExistID)

	// ErrInvalidProperty matches a property the agent refuses: the
	// InvalidProperty user exception of create_request_proxy, or
	// BAD_PARAM/BAD_PROPERTY from create_request. A property value of a Go
	// type this package cannot send matches it too.
	ErrInvalidProperty = bothSentinel("nm: invalid property", giop.ExcBadParam, nmproto.BadProperty, InvalidPropertyID)

	// ErrQueueFull matches IMP_LIMIT/QUEUE_FULL: the agent's delegation
	// queue stayed full, and nothing was stored.
	ErrQueueFull = sysSentinel("nm: agent queue full", giop.ExcImpLimit, nmproto.QueueFull)

	// ErrNoIDL means the IDL of an object's interface is not loaded (see
	// WithIDLFiles, WithIDLSource and WithRepository), so its operations
	// cannot be marshalled. Nothing was sent.
	ErrNoIDL = errors.New("nm: interface IDL not loaded")

	// ErrUnknownOperation means the interface's IDL has no such operation
	// or attribute accessor. Nothing was sent.
	ErrUnknownOperation = errors.New("nm: unknown operation")

	// ErrNotAgent means Dial reached an object that is not a
	// NativeMessaging::RequestAgent.
	ErrNotAgent = errors.New("nm: not a request agent")

	// ErrBadReference means a reference could not be used: a string that is
	// neither a stringified IOR nor a corbaloc URL, or a value of a Go type
	// that is no reference. The error also wraps the giop parse error.
	ErrBadReference = errors.New("nm: bad object reference")

	// ErrClosed means the Agent or Recipient was closed.
	ErrClosed = errors.New("nm: closed")

	// ErrNoPushedContext is Current.PopContext without a PushContext.
	ErrNoPushedContext = errors.New("nm: no pushed Current context to pop")
)

func sysSentinel(msg, name string, minor uint32) error {
	return &sentinel{msg: msg, sys: name, minor: minor}
}

func userSentinel(msg, id string) error { return &sentinel{msg: msg, user: id} }

func bothSentinel(msg, name string, minor uint32, id string) error {
	return &sentinel{msg: msg, sys: name, minor: minor, user: id}
}

// sentinel matches exceptions by system exception name and minor code,
// or by user exception repository id.
type sentinel struct {
	msg   string
	sys   string
	minor uint32
	user  string
}

func (s *sentinel) Error() string { return s.msg }

// matches reports whether err is the exception s stands for.
func (s *sentinel) matches(err error) bool {
	var x *giop.SystemException
	if s.sys != "" && errors.As(err, &x) && x.Name == s.sys && x.Minor == s.minor {
		return true
	}
	var u *UserException
	return s.user != "" && errors.As(err, &u) && u.RepoID == s.user
}

// callError is the error of one call: it names what failed and wraps the
// exception or cause, and matches the sentinels above.
type callError struct {
	what string
	err  error
	// gone is what OBJECT_NOT_EXIST means for the object called, whatever
	// its minor code: the agent answers the standard minor, not its own,
	// for an object it no longer knows (a trashed request's poller, an
	// expired holder, a proxy destroyed for good).
	gone *sentinel
}

func (e *callError) Error() string { return "nm: " + e.what + ": " + e.err.Error() }
func (e *callError) Unwrap() error { return e.err }

// Is matches the sentinels of this package by the wrapped exception.
func (e *callError) Is(target error) bool {
	s, ok := target.(*sentinel)
	if !ok {
		return false
	}
	if s.matches(e.err) {
		return true
	}
	var x *giop.SystemException
	return s == e.gone && errors.As(e.err, &x) && x.Name == giop.ExcObjectNotExist && !isNMMinor(x.Minor)
}

// isNMMinor reports whether minor is one of the agent's own minor codes.
func isNMMinor(minor uint32) bool { return minor&0xFFFFF000 == nmproto.VMCID }

// wrap returns err as the error of what, or nil.
func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return &callError{what: what, err: err}
}

// wrapGone is wrap for a call on an object for which OBJECT_NOT_EXIST
// means gone.
func wrapGone(what string, err error, gone error) error {
	if err == nil {
		return nil
	}
	return &callError{what: what, err: err, gone: gone.(*sentinel)}
}

// raise returns a system exception raised by this package before anything
// was sent (completed NO), with a cause for errors.Is and logs.
func raise(what, name string, minor uint32, cause error) error {
	return wrap(what, giop.NewSystemExceptionCause(name, minor, giop.CompletedNo, cause))
}

// UserException is an IDL user exception raised by a target or by the
// agent, with its members decoded through the loaded IDL. Get it with
// errors.As; errors.Is matches another *UserException with the same
// repository id, and the sentinels of this package.
type UserException struct {
	// RepoID is the exception's repository id, such as
	// "IDL:NativeMessaging/InvalidProperty:1.0".
	RepoID string
	// Name is its scoped name ("NativeMessaging::InvalidProperty"), empty
	// when its IDL is not loaded.
	Name string
	// Members are the exception's members by name, as Go values (see the
	// idl package); nil when its IDL is not loaded.
	Members map[string]any
}

// Error names the exception and its members.
func (u *UserException) Error() string {
	var b strings.Builder
	b.WriteString("user exception ")
	b.WriteString(u.RepoID)
	if u.Name == "" {
		b.WriteString(" (IDL not loaded)")
		return b.String()
	}
	if len(u.Members) > 0 {
		names := make([]string, 0, len(u.Members))
		for k := range u.Members {
			names = append(names, k)
		}
		sort.Strings(names)
		b.WriteString(" {")
		for i, k := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s: %v", k, u.Members[k])
		}
		b.WriteString("}")
	}
	return b.String()
}

// Is matches a *UserException with the same repository id, or a sentinel
// of this package that stands for this exception.
func (u *UserException) Is(target error) bool {
	switch t := target.(type) {
	case *UserException:
		return t.RepoID == u.RepoID
	case *sentinel:
		return t.user != "" && t.user == u.RepoID
	}
	return false
}
