package lifecycle

// EventKind names what happened to a request.
type EventKind uint8

const (
	// Create: create_request made a request object (New → Created).
	Create EventKind = iota
	// Claim: the first call on a request object (Created → Claimed).
	Claim
	// Accept: a request to delegate, with a place in the delegation queue
	// (Event.Thread: a thread at once) and, for a WaitReply call with a
	// wait timeout, Event.WaitReply.
	Accept
	// Refuse: the request is turned away before it was acknowledged — no
	// room in the queue, or the write that would store it failed.
	Refuse
	// Evolve: a WaitReply call's wait ended without the reply; the
	// request becomes a 2PI.
	Evolve
	// Mature: a WaitReply call's reply came within its wait.
	Mature
	// Start: a delegation that had its thread from the start begins.
	Start
	// Dispatch: a queued request got a delegation thread.
	Dispatch
	// Answer: the target answered (or the agent made the request's
	// result a system exception: unreachable, connection lost). Store
	// follows, unless the answer is offered and taken (HandOver).
	Answer
	// HandOver: the waiting caller (WaitReply) or pull took the answer
	// offered to it.
	HandOver
	// Store: the answer is to be stored — nobody took it, or it could not
	// be offered — or, with Event.Dropped, dropped for the recipient.
	Store
	// Pull: a call on the poller, request object or reply holder asking
	// for the reply, after any wait (Event.WrongOperation, Event.Holder).
	Pull
	// Take: the pull that was handed the reply, or that takes one being
	// written, reads it.
	Take
	// Written: the reply a read (or take) relayed reached the socket, or
	// did not (Event.Written).
	Written
	// Attempt: a callback to the recipient is about to be made
	// (Event.Fenced: marked first).
	Attempt
	// CalledBack: reply_available returned.
	CalledBack
	// Trash: destroy_request, a proxy's destroy(TRUE), or requestagent
	// trash.
	Trash
	// Expire: a retention's trash (Event.Now, Event.Keep): it applies only
	// while the request is expired at that time, so a request object
	// invoked since the retention looked is not trashed.
	Expire
	// Recover: the request's record was found in the store at start.
	Recover
	// Missed: a marked callback attempt surely did not reach its
	// recipient (refused TRANSIENT completed NO, its holder never
	// called): its mark comes off, so that a restart or a takeover calls
	// back again.
	Missed
)

var eventNames = [...]string{
	Create: "create", Claim: "claim", Accept: "accept", Refuse: "refuse", Evolve: "evolve", Mature: "mature",
	Start: "start", Dispatch: "dispatch", Answer: "answer", HandOver: "hand-over", Store: "store",
	Pull: "pull", Take: "take", Written: "written", Attempt: "attempt", CalledBack: "called-back",
	Trash: "trash", Expire: "expire", Recover: "recover", Missed: "missed",
}

// String is the event's name, as the tests write it.
func (k EventKind) String() string { return name(eventNames[:], k, "event") }

// EventKindByName returns the event of that name.
func EventKindByName(name string) (EventKind, bool) {
	for k, n := range eventNames {
		if n == name {
			return EventKind(k), true
		}
	}
	return 0, false
}

// Event is one thing that happened to a request, with the facts its
// move depends on; a fact not named by the event's kind is ignored.
type Event struct {
	Kind EventKind
	// Thread (Accept): a delegation thread at once, rather than a place
	// in line.
	Thread bool
	// WaitReply (Accept): the proxy has WaitReply and the call a non-zero
	// wait timeout.
	WaitReply bool
	// Dropped (Store): ReplyDropping filters this reply out for the
	// recipient.
	Dropped bool
	// Ready (Pull): the reply is ready for polls — its Ready carried out.
	Ready bool
	// WrongOperation (Pull): the call names another operation than the
	// request's.
	WrongOperation bool
	// Holder (Pull): the call is on a reply holder, in a callback.
	Holder bool
	// Written (Written): the reply reached the socket.
	Written bool
	// Now and Keep (Expire): the time, in Unix nanoseconds, and the
	// retentions the request is judged by (Expired).
	Now  int64
	Keep Retention
	// ReplyStored (Written): the reply read has its record — read from
	// the store, or taken while being written — which goes with the
	// trash; a reply handed over from memory has none.
	ReplyStored bool
	// Fenced (Attempt): the agent runs owned by a cluster, its store's
	// every write conditioned on its lease (docs/cluster.md): the attempt
	// is marked in the store before the call, so that a deposed owner,
	// whose mark is refused, does not call back, and the new owner knows
	// the recipient may have been called. A single node (no cluster) does
	// not mark: a write per callback would cost it, and nobody else may
	// call its recipients (RELIABILITY.md, "Callbacks in a cluster").
	Fenced bool
}
