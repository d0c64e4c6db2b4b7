package lifecycle

// State is where a request is in its life. The first five are stored in
// the request's record (agent/SPEC.md: their byte values are the record's
// state octet and never change), and so is Calling, as replied with the
// record's callback mark; the others are moments only memory knows, which
// a restart never finds.
type State uint8

const (
	// Created: made by create_request, not invoked yet. Stored.
	Created State = iota
	// Queued: stored and acknowledged, waiting for a delegation thread.
	// Stored (the record's "accepted").
	Queued
	// Sending: on its way to the target; after a crash it may have run, so
	// it becomes COMM_FAILURE/COMPLETED_MAYBE rather than being re-sent.
	// Stored.
	Sending
	// Replied: the reply is stored (or, the store refusing it, kept in
	// memory) and pollable. Stored.
	Replied
	// Delivered: the recipient was called back with the reply, and
	// RequestManualTrash keeps the request. Stored.
	Delivered

	// New: a call on a typed receiver, admitted to the table of live
	// requests (its tag taken) and not yet accepted.
	New
	// Claimed: a request object's first call is accepting it; a second
	// call meanwhile pulls instead.
	Claimed
	// Unstored: a WaitReply call waiting for its reply, delegated and not
	// stored.
	Unstored
	// Reading: a pull is reading the reply — stored, or handed over from
	// memory; the request is out of the table until the reply reaches
	// the socket (then trashed) or fails to (then restored).
	Reading
	// Handed: the reply was handed from memory to a waiting pull, never
	// stored; that pull takes it next.
	Handed
	// Trashed: gone from memory and store. The end.
	Trashed

	// Calling: replied, and a callback attempt is marked in the store
	// (an owner in a cluster marks each one before it calls: the fencing
	// of docs/cluster.md): the recipient may have been called
	// back, so a restart or a takeover does not call it again (Recover's
	// MaybeCalled). Stored: its record holds the state octet of replied
	// and the callback mark (agent/SPEC.md), so that an agent that knows
	// no mark reads it as replied.
	Calling
)

// Stored reports whether the state is one a request's record holds.
func (s State) Stored() bool { return s <= Delivered || s == Calling }

// replied reports whether the request's reply is stored and there to
// read: by polls, pulls and a reply holder.
func (s State) replied() bool { return s == Replied || s == Calling || s == Delivered }

var stateNames = [...]string{
	Created: "created", Queued: "queued", Sending: "sending", Replied: "replied", Delivered: "delivered",
	New: "new", Claimed: "claimed", Unstored: "unstored", Reading: "reading", Handed: "handed", Trashed: "trashed",
	Calling: "calling",
}

// String is the state's name, as the state diagram and the tests write it.
func (s State) String() string { return name(stateNames[:], s, "state") }

// name is v's name in names, or kind(v) for a value without one.
func name[T ~uint8](names []string, v T, kind string) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return kind + "(" + itoa(int(v)) + ")"
}

// itoa is strconv.Itoa for the few names here, which keeps this package's
// imports to errors alone.
func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}
