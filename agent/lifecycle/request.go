package lifecycle

// Request is what the core knows of one request: its state and the facts
// that decide its moves. The shell builds it from its live record for
// each step (agent's requestRecord.life) and keeps the state it returns.
type Request struct {
	State State
	// Oneway: no reply is expected.
	Oneway bool
	// Object: made by create_request (a request object, not a proxy's).
	Object bool
	// Recipient: a recipient is called back with the reply.
	Recipient bool
	// ManualTrash: RequestManualTrash — reads do not trash.
	ManualTrash bool
	// Created and RepliedAt are Unix nanoseconds: when the request was
	// made, and when its reply was stored or recovered (Expired).
	Created, RepliedAt int64
}

// Handable reports whether the request's reply may go to a waiting pull
// from memory, never read from the store: not when a recipient is to be
// called with it (or its reply dropped), nor when reads do not trash.
func (r Request) Handable() bool { return !r.Recipient && !r.ManualTrash }

// live reports whether the request is in the table of live requests,
// where a trash finds it.
func (s State) live() bool {
	switch s {
	case Created, Claimed, Queued, Sending, Unstored, Handed, Replied, Calling, Delivered:
		return true
	}
	return false
}

// Step is a request's move on an event: the state it goes to and the
// effects to carry out, in order; ErrNotApplicable when the event does
// not apply to its state (the shell then does nothing).
func Step(r Request, ev Event) (Transition, error) {
	t := Transition{To: r.State}
	s := r.State
	switch ev.Kind {
	case Create:
		if s != New {
			break
		}
		t.To = Created
		t.add(write(RecordKey), do(Publish))
		return t, nil

	case Claim:
		if s != Created {
			break
		}
		t.To = Claimed
		return t, nil

	case Accept:
		if s != New && s != Claimed {
			break
		}
		if ev.WaitReply && ev.Thread && !r.Oneway {
			// Delegated first, stored only if the wait ends first.
			t.To = Unstored
			t.add(do(Publish), do(Delegate))
			return t, nil
		}
		// A request that gets a thread at once is stored as already being
		// sent: one durable write instead of two, and after a crash it is
		// rightly treated as possibly run.
		t.To = Queued
		if ev.Thread {
			t.To = Sending
		}
		t.add(crash(BeforeStore), write(RecordKey|BodyKey), do(Publish), crash(AfterStore), do(Delegate))
		switch {
		case r.Oneway:
		case ev.WaitReply:
			t.add(do(Await))
		default:
			t.add(do(Ack))
		}
		return t, nil

	case Refuse:
		switch s {
		case New, Claimed, Queued, Sending, Unstored:
		default:
			return t, ErrNotApplicable
		}
		if r.Object {
			// A request object may be invoked again.
			t.To = Created
			return t, nil
		}
		t.To = Trashed
		t.add(do(Forget))
		return t, nil

	case Evolve:
		if s != Unstored {
			break
		}
		t.To = Sending
		t.add(crash(BeforeStore), write(RecordKey|BodyKey), crash(AfterStore), do(Ack))
		return t, nil

	case Mature:
		if s != Unstored {
			break
		}
		t.To = Trashed
		t.add(do(Forget), do(Reap), relay(true))
		return t, nil

	case Start:
		if s != Sending && s != Unstored {
			break
		}
		t.add(crash(BeforeSend), do(Send))
		return t, nil

	case Dispatch:
		if s != Queued {
			break
		}
		// About to send: after a crash from here on, it may have run.
		t.To = Sending
		t.add(write(RecordKey), crash(BeforeSend), do(Send))
		return t, nil

	case Answer:
		if s != Sending && s != Unstored {
			break
		}
		t.add(crash(AfterSend))
		switch {
		case r.Oneway:
			t.To = Trashed
			t.add(do(Forget), del(AllKeys), do(Reap))
		case s == Unstored || r.Handable():
			t.add(do(Offer))
		}
		// Else, as when nobody takes the offer, Store follows.
		return t, nil

	case HandOver:
		switch s {
		case Unstored:
			return t, nil // the WaitReply caller has it: Mature follows
		case Sending:
			t.To = Handed
			return t, nil
		}

	case Store:
		if s != Sending {
			break
		}
		if ev.Dropped && r.Recipient {
			// ReplyDropping filters what is sent to the recipient
			// (docs/native-messaging.md): a dropped reply is neither
			// delivered nor kept (no poller was handed out for it), and
			// its request is trashed.
			t.To = Trashed
			t.add(do(Forget), del(AllKeys), do(Reap))
			return t, nil
		}
		t.To = Replied
		t.add(write(ReplyKey|RecordKey), crash(AfterReply), do(Ready))
		if r.Recipient {
			t.add(do(CallBack))
		}
		return t, nil

	case Pull:
		switch {
		case !s.live() && s != Reading:
			t.add(do(Gone))
		case ev.WrongOperation:
			t.add(do(WrongOp))
		case !s.replied() || !ev.Ready:
			// Not there yet; memory says replied while the reply's write
			// is on its way, and the reply is ready once it is done. A
			// reply another pull is reading is not there either: it is
			// trashed once on that pull's socket, back if it fails to get
			// there, and this caller's next pull finds which (a caller
			// that waits is held by the shell until that read ends).
			t.add(do(Premature))
		case ev.Holder:
			// A callback's read never trashes: the call back's return does.
			t.add(relay(!r.ManualTrash))
		case r.ManualTrash:
			t.add(relay(false)) // polling is idempotent
		default:
			// Read means trashed, once the reply is on the socket; until
			// then the request is out of the table, so no poll sees it.
			t.To = Reading
			t.add(do(Forget), relay(true))
		}
		return t, nil

	case Take:
		if s != Handed && (s != Replied || !r.Handable()) {
			break
		}
		t.To = Reading
		t.add(do(Forget), relay(true))
		return t, nil

	case Written:
		if s != Reading {
			break
		}
		switch {
		case !ev.Written && ev.ReplyStored:
			// Not delivered: pollable again, as if never read.
			t.To = Replied
			t.add(restore(true))
			return t, nil
		case !ev.Written:
			// A handed reply not delivered: back as it was stored, and
			// Store follows — pollable again once the reply is written.
			t.To = Sending
			t.add(restore(false))
			return t, nil
		}
		keys := RecordKey | BodyKey
		if ev.ReplyStored {
			keys |= ReplyKey
		}
		t.To = Trashed
		t.add(crash(BeforeTrash), joining(keys), crash(AfterTrash), do(Reap))
		return t, nil

	case Attempt:
		if s != Replied && s != Calling || !r.Recipient {
			break
		}
		if ev.Fenced {
			// Marked before every attempt, in the fenced store: a deposed
			// owner's mark is refused before anything leaves it (the shell
			// stops at the failed write), and the owner after it finds the
			// mark and does not call again (Recover). A retry marks again,
			// since only a write is checked against the lease.
			t.To = Calling
			t.add(write(RecordKey), crash(BeforeCallback), do(Hold))
			return t, nil
		}
		t.add(do(Hold))
		return t, nil

	case Missed:
		if s != Calling {
			break
		}
		// Surely not delivered: back to a callback due, so that a restart
		// or a takeover calls back rather than keep it as possibly made.
		t.To = Replied
		t.add(write(RecordKey))
		return t, nil

	case CalledBack:
		if s != Replied && s != Calling {
			break
		}
		if r.ManualTrash {
			// Marked delivered, so a restart does not call back again.
			t.To = Delivered
			t.add(crash(AfterCallback), write(RecordKey))
			return t, nil
		}
		t.To = Trashed
		t.add(crash(AfterCallback), do(Forget), del(AllKeys), do(Reap))
		return t, nil

	case Trash, Expire:
		if !s.live() {
			break
		}
		if expired, _ := Expired(r, ev.Now, ev.Keep); ev.Kind == Expire && !expired {
			break
		}
		t.To = Trashed
		t.add(do(Forget), del(AllKeys), do(Reap))
		return t, nil

	case Recover:
		switch s {
		case Created:
			t.add(restore(false))
		case Queued:
			// Acknowledged, never refused for room: delegated in turn.
			t.add(restore(false), do(Delegate))
		case Sending:
			// It may have run: its result is COMM_FAILURE/MAYBE, never a
			// second call.
			t.add(restore(false))
			if r.Oneway {
				t.To = Trashed
				t.add(do(Forget), del(AllKeys), do(Reap))
			} else {
				t.add(do(MaybeRun))
			}
		case Replied:
			t.add(restore(true))
			if r.Recipient {
				t.add(do(CallBack))
			}
		case Calling:
			// A marked attempt: the recipient may have been called (the
			// owner before may even be calling it now, paused past its
			// lease), so it is not called again — the request's "may have
			// run" for callbacks. The reply stays pollable.
			t.add(restore(true), do(MaybeCalled))
		case Delivered:
			t.add(restore(true))
		default:
			return t, ErrNotApplicable
		}
		return t, nil
	}
	return Transition{To: s}, ErrNotApplicable
}
