package lifecycle

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/cockroachdb/datadriven"
)

// sim carries out one request's effects against a model of the store,
// the table of live requests, the target and the client — what the shell
// does with real ones — so that scenarios, crashes and restarts replay
// with no network and no store. Each scenario file's commands:
//
//	new [oneway] [object] [recipient] [manual-trash] [fenced]
//	                                                    a request, state New;
//	                                                    fenced: the agent runs
//	                                                    owned by a cluster, and
//	                                                    its attempts are marked
//	step <event> [fact ...]                             one event; prints the move
//	crash                                               memory lost, the store kept
//	restart                                             Recover for the stored record
//	show                                                the model
//	run <path> [crash=<point>]                          a whole path, with a crash
//
// run's paths: 2pi (a thread at once), queued (no thread at once),
// wait-reply (a WaitReply call whose wait ends first), mature (its reply
// comes in time), handed (a pull waits as the reply comes), callback (a
// recipient is called back; with fenced, each attempt marked). After the
// crash — for an owner in a cluster, a takeover — run restarts, carries the
// recovered request on and pulls it as the client would, and prints what
// the client saw, what the target ran and what the store holds.
type sim struct {
	r Request
	// The store: which records exist, the state the record says, and the
	// reply the reply record holds.
	keys        Keys
	storedState State
	storedReply string
	// Memory: whether the table holds it, whether its reply is ready, the
	// reply in hand (from the target, or COMM_FAILURE/MAYBE).
	inTable bool
	ready   bool
	reply   string
	// The world outside.
	ran       int      // times the target ran it
	calls     int      // times the recipient was called back
	client    []string // what the client saw, in order
	crashed   bool     // stopped at a crash point
	crashAt   Point    // the point to stop at
	points    []string // crash points passed, in order
	offerTake bool     // a caller or pull waits and takes an Offer
	// writeFails: the next Write fails, and the shell refuses the
	// request (the store full or failing) — or, a callback's mark (a
	// fence failed: the owner deposed), does not call back.
	writeFails bool
	// fenced: the agent runs owned by a cluster; its callback attempts
	// are Event.Fenced.
	fenced bool
	// maybeCalled: recovery kept a marked callback as possibly made,
	// for an operator, rather than call back again.
	maybeCalled bool
	// pending events the effects imply (the shell's goroutines): run's
	// driver takes them in order.
	next []Event
}

// newSim makes a request with the facts named.
func newSim(d *datadriven.TestData) *sim {
	s := &sim{r: Request{State: New}}
	for _, a := range d.CmdArgs {
		switch a.Key {
		case "oneway":
			s.r.Oneway = true
		case "object":
			s.r.Object = true
		case "recipient":
			s.r.Recipient = true
		case "manual-trash":
			s.r.ManualTrash = true
		case "fenced":
			s.fenced = true
		default:
			d.Fatalf(nil, "new: unknown fact %q", a.Key)
		}
	}
	return s
}

// event reads "step <event> [fact ...]".
func parseEvent(d *datadriven.TestData, args []datadriven.CmdArg) Event {
	if len(args) == 0 {
		d.Fatalf(nil, "%s: no event", d.Cmd)
	}
	k, ok := EventKindByName(args[0].Key)
	if !ok {
		d.Fatalf(nil, "unknown event %q", args[0].Key)
	}
	ev := Event{Kind: k}
	for _, a := range args[1:] {
		switch a.Key {
		case "thread":
			ev.Thread = true
		case "wait-reply":
			ev.WaitReply = true
		case "dropped":
			ev.Dropped = true
		case "wrong-op":
			ev.WrongOperation = true
		case "holder":
			ev.Holder = true
		case "written":
			ev.Written = true
		case "reply-stored":
			ev.ReplyStored = true
		case "ready":
			ev.Ready = true
		case "fenced":
			ev.Fenced = true
		case "expired":
			// Long past any retention of a nanosecond.
			ev.Now, ev.Keep = 1<<62, Retention{Reply: 1, Created: 1}
		default:
			d.Fatalf(nil, "unknown fact %q", a.Key)
		}
	}
	return ev
}

// step applies one event and returns the move as the scenario files
// print it.
func (s *sim) step(ev Event) string {
	if ev.Kind == Pull && s.ready {
		ev.Ready = true // the model knows whether the reply is ready
	}
	from := s.r.State
	t, err := Step(s.r, ev)
	if err != nil {
		return fmt.Sprintf("%s: %s: not applicable", from, ev.Kind)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s --%s--> %s\n", from, ev.Kind, t.To)
	s.r.State = t.To
	if ev.Kind == Refuse {
		s.client = append(s.client, "2PI initiation failure")
	}
	for _, e := range t.Effects() {
		fmt.Fprintf(&b, "  %s\n", e)
		if e.Kind == Write && s.writeFails {
			// The shell stops at a failed write and refuses the request:
			// nothing after it is carried out. A callback's failed mark
			// stops its attempt: nobody is called, and the deliverer tries
			// again later (the shell's error).
			s.writeFails = false
			b.WriteString("  WRITE FAILED\n")
			if ev.Kind != Attempt {
				b.WriteString(s.step(Event{Kind: Refuse}))
			}
			break
		}
		if !s.apply(e) {
			b.WriteString("  CRASHED\n")
			break
		}
	}
	return b.String()
}

// apply carries out one effect on the model; false at the crash point.
func (s *sim) apply(e Effect) bool {
	switch e.Kind {
	case Crash:
		s.points = append(s.points, e.Point.String())
		if e.Point == s.crashAt {
			s.crash()
			return false
		}
	case Write:
		s.keys |= e.Keys
		if e.Keys&RecordKey != 0 {
			s.storedState = s.r.State
		}
		if e.Keys&ReplyKey != 0 {
			s.storedReply = s.reply
		}
	case Delete:
		s.keys &^= e.Keys
		if e.Keys&ReplyKey != 0 {
			s.storedReply = ""
		}
	case Publish:
		s.inTable, s.ready = true, false
	case Restore:
		s.inTable, s.ready = true, e.Ready
	case Forget:
		s.inTable, s.ready = false, false
	case Ready:
		s.ready = true
	case Delegate:
		if s.r.State == Queued {
			s.next = append(s.next, Event{Kind: Dispatch})
		} else {
			s.next = append(s.next, Event{Kind: Start})
		}
	case Send:
		s.ran++
		s.reply = "result"
		s.next = append(s.next, Event{Kind: Answer})
	case Ack:
		s.client = append(s.client, "2PI initiated")
	case Await:
		s.client = append(s.client, "waits")
	case Offer:
		if s.offerTake {
			s.next = append(s.next, Event{Kind: HandOver})
		} else {
			s.next = append(s.next, Event{Kind: Store})
		}
	case Relay:
		s.client = append(s.client, "2PI completed: "+s.replyInHand())
	case Premature:
		s.client = append(s.client, "reply not available")
	case Gone:
		s.client = append(s.client, "polling-pulling failure: OBJECT_NOT_EXIST")
	case WrongOp:
		s.client = append(s.client, "polling-pulling failure: BAD_OPERATION")
	case MaybeRun:
		s.reply = "COMM_FAILURE/MAYBE"
		s.next = append(s.next, Event{Kind: Store})
	case CallBack:
		s.next = append(s.next, Event{Kind: Attempt, Fenced: s.fenced})
	case MaybeCalled:
		s.maybeCalled = true
	case Hold:
		s.calls++
		s.client = append(s.client, "called back: "+s.replyInHand())
		s.next = append(s.next, Event{Kind: CalledBack})
	case Reap:
	}
	return true
}

// replyInHand is the reply a relay gives: the one in memory, or else the
// stored one.
func (s *sim) replyInHand() string {
	if s.reply != "" {
		return s.reply
	}
	return s.storedReply
}

// crash loses memory and keeps the store.
func (s *sim) crash() {
	s.crashed = true
	s.inTable, s.ready, s.reply, s.next = false, false, "", nil
	s.r.State = Trashed // nothing in memory
}

// restart reads the stored record back, as recovery does.
func (s *sim) restart() string {
	s.crashed, s.crashAt = false, 0
	if s.keys&RecordKey == 0 {
		return "nothing stored\n"
	}
	s.r.State = s.storedState
	s.reply = s.storedReply
	return s.step(Event{Kind: Recover})
}

// drain takes the pending events the effects implied, in order, and
// applies them until there are none or a crash. With none left, a client
// that holds a poller and pull says so polls once; its read's reply
// reaches the socket.
func (s *sim) drain(out *strings.Builder, pull bool) {
	for i := 0; i < 32 && !s.crashed; i++ {
		if len(s.next) == 0 {
			if !pull || s.r.Recipient || !s.saw("2PI initiated") {
				return
			}
			pull = false
			s.next = append(s.next, Event{Kind: Pull})
		}
		ev := s.next[0]
		s.next = s.next[1:]
		out.WriteString(s.step(ev))
		// The shell's turns: a WaitReply caller that took its reply
		// matures; a pull that took its reply reads it; a read's reply
		// reaches the socket.
		switch {
		case s.crashed:
		case (ev.Kind == Answer || ev.Kind == Written) && s.r.State == Sending && !slices.ContainsFunc(s.next, func(e Event) bool { return e.Kind == HandOver || e.Kind == Store }):
			// Nobody was offered the answer (or the read failed): Store.
			s.next = append(s.next, Event{Kind: Store})
		case ev.Kind == HandOver && s.r.State == Unstored:
			s.next = append(s.next, Event{Kind: Mature})
		case ev.Kind == HandOver && s.r.State == Handed:
			s.next = append(s.next, Event{Kind: Take})
		case ev.Kind == Pull && s.r.State == Reading:
			s.next = append(s.next, Event{Kind: Written, Written: true, ReplyStored: true})
		case ev.Kind == Take:
			s.next = append(s.next, Event{Kind: Written, Written: true, ReplyStored: s.keys&ReplyKey != 0})
		}
	}
}

// saw reports whether the client saw an outcome starting with prefix.
func (s *sim) saw(prefix string) bool {
	for _, c := range s.client {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

// run drives a whole path, crashing at crashAt, then restarts and carries
// the recovered request on: a client holding a poller polls again.
func (s *sim) run(d *datadriven.TestData) string {
	if len(d.CmdArgs) == 0 {
		d.Fatalf(nil, "run: no path")
	}
	path := d.CmdArgs[0].Key
	for _, a := range d.CmdArgs[1:] {
		if a.Key != "crash" || len(a.Vals) != 1 {
			d.Fatalf(nil, "run: unknown argument %q", a.Key)
		}
		for _, p := range Points() {
			if p.String() == a.Vals[0] {
				s.crashAt = p
			}
		}
		if s.crashAt == 0 {
			d.Fatalf(nil, "run: unknown crash point %q", a.Vals[0])
		}
	}
	var out strings.Builder
	accept := Event{Kind: Accept, Thread: true}
	switch path {
	case "2pi", "callback":
	case "queued":
		accept.Thread = false
	case "wait-reply":
		accept.WaitReply = true
	case "mature":
		accept.WaitReply, s.offerTake = true, true
	case "handed":
		s.offerTake = true
	default:
		d.Fatalf(nil, "run: unknown path %q", path)
	}
	if path == "wait-reply" {
		// The wait ends before the target is called: the caller evolves
		// the request, and the delegation goes on.
		out.WriteString(s.step(accept))
		s.next = nil
		if !s.crashed {
			out.WriteString(s.step(Event{Kind: Evolve}))
			if !s.crashed {
				s.next = append(s.next, Event{Kind: Start})
			}
		}
	} else {
		s.next = []Event{accept}
	}
	s.drain(&out, !s.saw("2PI completed"))
	if s.crashed {
		s.offerTake = false
		out.WriteString("-- restart --\n")
		out.WriteString(s.restart())
		s.drain(&out, true)
	}
	return out.String() + s.summary()
}

// summary is the model's outcome: the crash points passed, what the
// client saw, the target's runs and the store's records.
func (s *sim) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "points: %s\n", strings.Join(s.points, " · "))
	fmt.Fprintf(&b, "client: %s\n", strings.Join(s.client, "; "))
	fmt.Fprintf(&b, "ran: %d", s.ran)
	if s.r.Recipient {
		fmt.Fprintf(&b, ", called back: %d", s.calls)
		if s.maybeCalled {
			b.WriteString(", kept as maybe called back")
		}
	}
	b.WriteString("\n")
	b.WriteString(s.show())
	return b.String()
}

// show prints the model's memory and store.
func (s *sim) show() string {
	stored := "nothing"
	if s.keys != 0 {
		stored = s.keys.String()
		if s.keys&RecordKey != 0 {
			stored += " (" + s.storedState.String() + ")"
		}
		if s.keys&ReplyKey != 0 {
			stored += " reply=" + s.storedReply
		}
	}
	mem := "nothing"
	if s.inTable {
		mem = s.r.State.String()
		if s.ready {
			mem += " ready"
		}
	}
	return fmt.Sprintf("memory: %s\nstore: %s\n", mem, stored)
}

// runScenario is the datadriven interpreter of the scenario files.
func runScenario(s **sim, d *datadriven.TestData) string {
	if d.Cmd != "new" && *s == nil {
		d.Fatalf(nil, "%s before new", d.Cmd)
	}
	switch d.Cmd {
	case "new":
		*s = newSim(d)
		return "ok"
	case "step":
		args, fails := d.CmdArgs, false
		if i := slices.IndexFunc(args, func(a datadriven.CmdArg) bool { return a.Key == "write-fails" }); i >= 0 {
			args, fails = slices.Delete(slices.Clone(args), i, i+1), true
		}
		(*s).writeFails = fails
		return (*s).step(parseEvent(d, args))
	case "crash":
		(*s).crash()
		return (*s).show()
	case "restart":
		return (*s).restart()
	case "show":
		return (*s).summary()
	case "run":
		return (*s).run(d)
	}
	d.Fatalf(nil, "unknown command %q", d.Cmd)
	return ""
}

// keysOf lists the events for the invariants' walk, in a stable order.
func allEvents() []Event {
	var evs []Event
	for k := range eventNames {
		for facts := 0; facts < 1<<9; facts++ {
			evs = append(evs, Event{Kind: EventKind(k),
				Thread: facts&1 != 0, WaitReply: facts&2 != 0, Dropped: facts&4 != 0,
				WrongOperation: facts&8 != 0, Holder: facts&16 != 0, Written: facts&32 != 0, ReplyStored: facts&64 != 0,
				Ready: facts&128 != 0, Fenced: facts&256 != 0})
		}
	}
	for i := range evs {
		if evs[i].Kind == Expire && evs[i].Thread {
			evs[i].Now, evs[i].Keep = 1<<62, Retention{Reply: 1, Created: 1} // half of them expired
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Kind < evs[j].Kind })
	return evs
}
