package nm

import (
	"math"
	"time"

	"github.com/requestagent/requestagent/nmproto"
)

// WaitForever, as a wait timeout or a poll timeout, waits until the reply
// is ready (0xFFFFFFFF ms on the wire). Any duration of 2^31 ms or more
// means the same.
const WaitForever time.Duration = math.MaxInt64

// Current is Native Messaging's Current (docs/native-messaging.md) as an explicit Go value
// rather than per-thread state: it carries the request tag, cookie, wait
// timeout and suppress mode into calls, and reports after each call on a
// typed receiver, request object, poller or reply holder whether the reply
// was available, the poller of a premature return, and whether an
// exception came from the delegated request.
//
// Pass the same Current to a sequence of calls; set its fields between
// them. A Current is not safe for concurrent use: give each goroutine its
// own. The zero value is ready to use, in suppressed mode. Calls on other
// objects (the agent, a proxy, a target called directly) neither read nor
// change it, as the C++ and Java Currents behave.
type Current struct {
	// RequestTag tags the request within its polling group (a proxy);
	// Proxy.Poll and Agent.Poll report it once the reply is ready.
	// Tags are unique among the live requests of a group. Sent with
	// calls on typed receivers and request objects.
	RequestTag []byte
	// Cookie travels with the request and is handed to the reply
	// recipient's reply_available unchanged.
	Cookie []byte
	// WaitTimeout is how long the agent may block the call: on a typed
	// receiver of a WaitReply proxy, for the mature result before
	// evolving into a two-phase invocation; on a poller, for the reply
	// before a premature return. 0 never waits; WaitForever waits until
	// the reply is ready. It travels in whole milliseconds, rounded up.
	// The context's deadline still bounds the call as a whole.
	WaitTimeout time.Duration

	unsuppressed bool

	rna         bool
	poller      *Object
	replierName string
	hasReplier  bool
	noMore      bool

	// pushed holds the contexts PushContext saved, innermost last.
	pushed []Current
}

// SetSuppressMode chooses how a premature return looks. Suppressed (the
// default, true) is a normal return with zero return and out values, and
// Invoke returns a nil error; unsuppressed (false) is an RNA exception,
// NO_RESPONSE/REPLY_NOT_AVAILABLE, which Invoke returns as an error matching
// ErrReplyNotAvailable. Either way ReplyNotAvailable reports true.
//
// When the agent cannot suppress (it does not have the interface's IDL)
// and answers with an RNA exception anyway, a suppressed-mode call still
// returns zero values and a nil error: this package builds them from its
// own IDL, which it needs for the call in any case.
func (c *Current) SetSuppressMode(on bool) { c.unsuppressed = !on }

// SuppressMode reports whether premature returns are suppressed.
func (c *Current) SuppressMode() bool { return !c.unsuppressed }

// ReplyNotAvailable reports, after a call on a typed receiver, request
// object, poller or reply holder, whether the call did not return the
// delegated request's result (Native Messaging's reply_not_available):
//
//   - after a normal return: true for a premature return (the two-phase
//     invocation was initiated, or its reply is not there yet), false for
//     the real result;
//   - after an error: true when the error is a failure between client and
//     agent (an RNA exception, a polling failure such as ErrWrongOperation
//     or ErrRequestTrashed, a lost connection, a deadline), false when the
//     exception is the real result of the delegated request.
func (c *Current) ReplyNotAvailable() bool { return c.rna }

// Poller returns the poller of the last premature return from a typed
// receiver or a poller: an object with the target's interface on which
// the same operation pulls the result. It is nil when the last call
// returned no poller (a mature return, a failure, or a proxy with a reply
// recipient and ReplyDropping).
func (c *Current) Poller() *Object { return c.poller }

// ReplierName reports whether the last call's exception was the real
// result of the delegated request, and the replier's name the agent sent
// with it (empty; reserved for extension by Native Messaging).
func (c *Current) ReplierName() (name string, ok bool) { return c.replierName, c.hasReplier }

// NoMoreReply reports whether, after the last call on a poller, request
// object, reply holder or WaitReply receiver, the request has no reply any
// more (Native Messaging's no_more_reply): the call returned its real result and
// the agent trashed it, or it was trashed already (ErrRequestTrashed).
// After a premature return, or a read of a RequestManualTrash request,
// it is false: polling again gives a reply.
func (c *Current) NoMoreReply() bool { return c.noMore }

// PushContext saves the Current's settings (tag, cookie, wait timeout,
// suppress mode) and results, for PopContext to restore — so that code
// nested inside a sequence of calls (a callback, a library) can use the
// Current without disturbing the calls around it. The settings stay as
// they were; change them as the nested calls need.
func (c *Current) PushContext() {
	saved := *c
	saved.pushed = nil
	c.pushed = append(c.pushed, saved)
}

// PopContext restores what the latest PushContext saved. Without one it
// is ErrNoPushedContext (BAD_INV_ORDER, as a pop without a push is in the
// C++ runtime), and the Current is unchanged.
func (c *Current) PopContext() error {
	n := len(c.pushed)
	if n == 0 {
		return ErrNoPushedContext
	}
	pushed := c.pushed[:n-1]
	*c = c.pushed[n-1]
	c.pushed = pushed
	return nil
}

// reset clears the results before a call: a call that gets no reply at all
// leaves reply_not_available true and no poller.
func (c *Current) reset() {
	c.rna, c.poller, c.replierName, c.hasReplier, c.noMore = true, nil, "", false, false
}

// millis converts a timeout to the wire's milliseconds: 0 for none,
// rounded up, nmproto.WaitForever from 2^31 ms on.
func millis(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	if ms >= 1<<31 {
		return nmproto.WaitForever
	}
	return uint32(ms)
}
