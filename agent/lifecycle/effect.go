package lifecycle

// EffectKind names what the shell does.
type EffectKind uint8

const (
	// Crash: a crash point (Effect.Point), between durable steps.
	Crash EffectKind = iota
	// Write: commit the request's records named by Effect.Keys as its
	// state now is, durably and at once; later effects wait for it.
	Write
	// Delete: delete the records named by Effect.Keys in one commit —
	// joining the next group commit, with Effect.Joining.
	Delete
	// Publish: make the request findable in the table of live requests
	// (its poller, group and tag find it).
	Publish
	// Forget: take it out of the table: nothing finds it any more, and a
	// request waiting for a thread leaves the line.
	Forget
	// Restore: put it (back) in the table; ready for polls with
	// Effect.Ready.
	Restore
	// Ready: its reply is there for polls and waiting pulls.
	Ready
	// Delegate: start its delegation — on a thread now, or in line.
	Delegate
	// Send: the delegation calls the target.
	Send
	// Ack: the premature return that acknowledges a 2PI, with its poller.
	Ack
	// Await: the caller waits for the reply as a pull would (a WaitReply
	// call that had no thread at once).
	Await
	// Offer: offer the answer to the caller or pull waiting for it; the
	// shell reports HandOver if it was taken, else Store.
	Offer
	// Relay: the reply to the caller (Effect.Last: with NMNoMoreReply).
	Relay
	// Premature: a pull's "reply not available" return.
	Premature
	// Gone: OBJECT_NOT_EXIST/REQUEST_TRASHED to the caller.
	Gone
	// WrongOp: BAD_OPERATION to the caller: not the request's operation.
	WrongOp
	// MaybeRun: make COMM_FAILURE/COMPLETED_MAYBE the request's result
	// and Store it.
	MaybeRun
	// CallBack: queue the callback to its recipient.
	CallBack
	// Hold: make a reply holder and call the recipient with it.
	Hold
	// Reap: delete its proxy if that is to be destroyed and this was its
	// last request.
	Reap
	// MaybeCalled: the recipient may have been called back already — a
	// marked attempt found at recovery — so it is not called again: the
	// shell keeps the callback as given up, the reply pollable, for an
	// operator to try again (requestagent recipients retry) knowing it may
	// be a second call.
	MaybeCalled
)

var effectNames = [...]string{
	Crash: "crash", Write: "write", Delete: "delete", Publish: "publish", Forget: "forget", Restore: "restore",
	Ready: "ready", Delegate: "delegate", Send: "send", Ack: "ack", Await: "await", Offer: "offer",
	Relay: "relay", Premature: "premature", Gone: "gone", WrongOp: "wrong-op", MaybeRun: "maybe-run",
	CallBack: "call-back", Hold: "hold", Reap: "reap", MaybeCalled: "maybe-called",
}

// String is the effect's name, as the tests write it.
func (k EffectKind) String() string { return name(effectNames[:], k, "effect") }

// Keys names a request's records (agent/SPEC.md).
type Keys uint8

const (
	// RecordKey is the request's record, q/.
	RecordKey Keys = 1 << iota
	// BodyKey is its body, b/.
	BodyKey
	// ReplyKey is its reply, y/.
	ReplyKey
	// ProxyKey is a proxy's record, p/ (proxy effects only).
	ProxyKey
)

// AllKeys are a request's three records.
const AllKeys = RecordKey | BodyKey | ReplyKey

// String lists the records by their prefixes: "q b y".
func (k Keys) String() string {
	s := ""
	for i, n := range [...]string{"q", "b", "y", "p"} {
		if k&(1<<i) != 0 {
			if s != "" {
				s += " "
			}
			s += n
		}
	}
	return s
}

// Point is a crash point: a moment between durable steps where a crash
// drill stops the process (agent/crashpoint.go).
type Point uint8

const (
	// BeforeStore: accepted, not yet committed.
	BeforeStore Point = iota + 1
	// AfterStore: committed, premature return not yet sent.
	AfterStore
	// BeforeSend: about to send to the target.
	BeforeSend
	// AfterSend: the target answered, reply not yet stored.
	AfterSend
	// AfterReply: reply stored, not yet read.
	AfterReply
	// BeforeTrash: reply read, deletion not yet committed.
	BeforeTrash
	// AfterTrash: deletion committed.
	AfterTrash
	// AfterCallback: reply_available returned, delivery not yet recorded.
	AfterCallback
	// BeforeCallback: a callback attempt marked (Event.Fenced), the
	// recipient not yet called.
	BeforeCallback
)

var pointNames = [...]string{
	BeforeStore: "before-store", AfterStore: "after-store", BeforeSend: "before-send", AfterSend: "after-send",
	AfterReply: "after-reply", BeforeTrash: "before-trash", AfterTrash: "after-trash", AfterCallback: "after-callback",
	BeforeCallback: "before-callback",
}

// String is the point's name, as REQUESTAGENT_CRASH_AT takes it.
func (p Point) String() string { return name(pointNames[:], p, "point") }

// Points lists every crash point, in the order a plain 2PI meets them
// (and a callback: before-callback only when marked, Event.Fenced).
func Points() []Point {
	return []Point{BeforeStore, AfterStore, BeforeSend, AfterSend, AfterReply, BeforeTrash, AfterTrash, BeforeCallback, AfterCallback}
}

// Effect is one thing for the shell to do.
type Effect struct {
	Kind EffectKind
	// Point is a Crash's crash point.
	Point Point
	// Keys are the records a Write or Delete names.
	Keys Keys
	// Joining: the Delete joins the next group commit rather than start
	// one (nobody waits for it).
	Joining bool
	// Last: the Relay's reply is the request's last (NMNoMoreReply).
	Last bool
	// Ready: the Restore puts it back with its reply ready for polls.
	Ready bool
}

// String writes the effect as the tests do: "write q b", "crash
// after-store", "relay last".
func (e Effect) String() string {
	s := e.Kind.String()
	switch e.Kind {
	case Crash:
		s += " " + e.Point.String()
	case Write, Delete:
		s += " " + e.Keys.String()
		if e.Joining {
			s += " joining"
		}
	case Relay:
		if e.Last {
			s += " last"
		}
	case Restore:
		if e.Ready {
			s += " ready"
		}
	}
	return s
}

// maxEffects bounds a transition's effects; Transition keeps them in an
// array so that a step allocates nothing.
const maxEffects = 8

// Transition is a step's result: the request's next state and what to
// do, in order.
type Transition struct {
	// To is the request's state after the step.
	To State
	n  uint8
	e  [maxEffects]Effect
}

// Effects returns the transition's effects, in the order the shell
// carries them out.
func (t *Transition) Effects() []Effect { return t.e[:t.n] }

// Has reports whether the transition has an effect of that kind.
func (t *Transition) Has(k EffectKind) bool {
	for _, e := range t.e[:t.n] {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// add appends effects; more than maxEffects is a bug in this package.
func (t *Transition) add(es ...Effect) {
	for _, e := range es {
		if int(t.n) == maxEffects {
			panic("lifecycle: too many effects")
		}
		t.e[t.n] = e
		t.n++
	}
}

// The effects the transitions are made of.
func crash(p Point) Effect  { return Effect{Kind: Crash, Point: p} }
func write(k Keys) Effect   { return Effect{Kind: Write, Keys: k} }
func del(k Keys) Effect     { return Effect{Kind: Delete, Keys: k} }
func joining(k Keys) Effect { return Effect{Kind: Delete, Keys: k, Joining: true} }
func do(k EffectKind) Effect {
	return Effect{Kind: k}
}
func relay(last bool) Effect    { return Effect{Kind: Relay, Last: last} }
func restore(ready bool) Effect { return Effect{Kind: Restore, Ready: ready} }
