package lifecycle

import (
	"go/build"
	"slices"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestScenarios replays testdata/*.txt: seed 003's outcome table
// (outcomes.txt), RELIABILITY.md's crash-point table (crashpoints.txt),
// the moves of the state diagram (moves.txt), and a cluster's marked
// callbacks (callbacks.txt: RELIABILITY.md, "Callbacks in a cluster"),
// with no network and no store. Run with -rewrite after a deliberate change, and read the diff.
func TestScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		var s *sim
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return runScenario(&s, d)
		})
	})
}

// everyRequest lists a request in every state with every combination of
// its facts.
func everyRequest() []Request {
	var rs []Request
	for st := Created; int(st) < len(stateNames); st++ {
		for f := 0; f < 1<<4; f++ {
			rs = append(rs, Request{State: st, Oneway: f&1 != 0, Object: f&2 != 0, Recipient: f&4 != 0, ManualTrash: f&8 != 0})
		}
	}
	return rs
}

// TestEffects_Invariants checks the promises that must hold for every
// transition, whatever the state, facts and event: they are properties
// of the effect lists, so no scenario can miss one.
func TestEffects_Invariants(t *testing.T) {
	order := map[Point]int{}
	for i, p := range Points() {
		order[p] = i
	}
	applicable := 0
	for _, r := range everyRequest() {
		for _, ev := range allEvents() {
			tr, err := Step(r, ev)
			if err != nil {
				if err != ErrNotApplicable || tr.To != r.State || len(tr.Effects()) != 0 {
					t.Fatalf("%+v %+v: a refused event changed something: %v %v %v", r, ev, err, tr.To, tr.Effects())
				}
				continue
			}
			applicable++
			es := tr.Effects()
			where := func(k EffectKind) int {
				return slices.IndexFunc(es, func(e Effect) bool { return e.Kind == k })
			}
			// Stored before acknowledged: the premature return that
			// acknowledges a 2PI follows the commit of its record and body.
			if i := where(Ack); i >= 0 {
				w := slices.IndexFunc(es, func(e Effect) bool { return e.Kind == Write && e.Keys&(RecordKey|BodyKey) == RecordKey|BodyKey })
				if w < 0 || w > i {
					t.Errorf("%v on %v: ack before the request is stored: %v", ev.Kind, r.State, es)
				}
			}
			// A request that may have run is never sent again: recovery
			// delegates only what was stored as queued.
			if ev.Kind == Recover && r.State != Queued && (tr.Has(Delegate) || tr.Has(Send)) {
				t.Errorf("recover of %v sends it again: %v", r.State, es)
			}
			// Only a send marks the target run, and it comes after its
			// crash point, which comes after any write in the move.
			if i := where(Send); i >= 0 {
				if i == 0 || es[i-1] != crash(BeforeSend) {
					t.Errorf("%v on %v: send without before-send just before it: %v", ev.Kind, r.State, es)
				}
			}
			// A read's deletion follows its reply reaching the socket: no
			// move both relays a stored reply and deletes it.
			if tr.Has(Relay) && tr.Has(Delete) {
				t.Errorf("%v on %v: relays and deletes in one move: %v", ev.Kind, r.State, es)
			}
			// Nothing is written for a request being trashed: a write
			// there would bring it back after a restart.
			if tr.To == Trashed && tr.Has(Write) {
				t.Errorf("%v on %v: writes while trashing: %v", ev.Kind, r.State, es)
			}
			// A move out of the table forgets the request; one into it
			// from outside publishes or restores it.
			if r.State.live() && !tr.To.live() && !tr.Has(Forget) {
				t.Errorf("%v on %v → %v: leaves the table without forget: %v", ev.Kind, r.State, tr.To, es)
			}
			if !r.State.live() && r.State != New && tr.To.live() && !tr.Has(Restore) && !tr.Has(Publish) {
				t.Errorf("%v on %v → %v: enters the table without restore: %v", ev.Kind, r.State, tr.To, es)
			}
			// Crash points keep the order of RELIABILITY.md's table, and a
			// write of a reply is followed by after-reply.
			last := -1
			for i, e := range es {
				if e.Kind == Crash {
					if order[e.Point] < last {
						t.Errorf("%v on %v: crash points out of order: %v", ev.Kind, r.State, es)
					}
					last = order[e.Point]
				}
				if e.Kind == Write && e.Keys&ReplyKey != 0 && (i+1 == len(es) || es[i+1] != crash(AfterReply)) {
					t.Errorf("%v on %v: reply written without after-reply: %v", ev.Kind, r.State, es)
				}
			}
			// A callback of an owner in a cluster is made only after its
			// fenced mark is written: the write of the record saying
			// calling comes first in the move that holds the reply for
			// the recipient, so a deposed owner, whose write is refused,
			// calls nobody.
			if i := where(Hold); i >= 0 && ev.Fenced {
				w := slices.IndexFunc(es, func(e Effect) bool { return e.Kind == Write && e.Keys&RecordKey != 0 })
				if w < 0 || w > i || tr.To != Calling {
					t.Errorf("%v on %v: a fenced callback without its mark written first: %v → %v", ev.Kind, r.State, es, tr.To)
				}
			}
			// A marked callback is never made again by recovery: the
			// recipient may have been called; and nothing but a fenced
			// attempt marks one.
			if ev.Kind == Recover && r.State == Calling && (tr.Has(CallBack) || tr.Has(Hold) || !tr.Has(MaybeCalled)) {
				t.Errorf("recover of a marked callback calls back again: %v", es)
			}
			if tr.To == Calling && r.State != Calling && !(ev.Kind == Attempt && ev.Fenced) {
				t.Errorf("%v on %v: marks a callback without a fenced attempt: %v", ev.Kind, r.State, es)
			}
			// A stored state is what a record may say; memory's moments
			// are never written.
			if tr.Has(Write) && where(Write) >= 0 && !tr.To.Stored() && tr.To != Replied {
				t.Errorf("%v on %v: writes a record in the memory-only state %v", ev.Kind, r.State, tr.To)
			}
		}
	}
	if applicable < 100 {
		t.Fatalf("only %d applicable transitions: the walk is not walking", applicable)
	}
}

// TestStep_NoAllocation: the core is on every request's path, and a
// step costs no allocation.
func TestStep_NoAllocation(t *testing.T) {
	r := Request{State: New}
	n := testing.AllocsPerRun(100, func() {
		tr, _ := Step(r, Event{Kind: Accept, Thread: true})
		for _, e := range tr.Effects() {
			_ = e
		}
	})
	if n != 0 {
		t.Fatalf("a step allocates %v times", n)
	}
}

// TestProxy walks a proxy's moves.
func TestProxy(t *testing.T) {
	s, tr, err := StepProxy(ProxyNew, ProxyEvent{Kind: ProxyCreate})
	if err != nil || s != ProxyLive || len(tr.Effects()) != 2 || tr.Effects()[0] != write(ProxyKey) {
		t.Fatalf("create: %v %v %v", s, tr.Effects(), err)
	}
	if _, _, err := StepProxy(ProxyLive, ProxyEvent{Kind: ProxyReap, Empty: true}); err != ErrNotApplicable {
		t.Fatalf("a live proxy was reaped: %v", err)
	}
	s, _, err = StepProxy(ProxyLive, ProxyEvent{Kind: ProxyDestroy})
	if err != nil || s != ProxyDying {
		t.Fatalf("destroy: %v %v", s, err)
	}
	if _, _, err := StepProxy(ProxyDying, ProxyEvent{Kind: ProxyReap}); err != ErrNotApplicable {
		t.Fatalf("a dying proxy with requests was reaped: %v", err)
	}
	s, tr, err = StepProxy(ProxyDying, ProxyEvent{Kind: ProxyReap, Empty: true})
	if err != nil || s != ProxyGone || tr.Effects()[0].Kind != Forget || tr.Effects()[1] != del(ProxyKey) {
		t.Fatalf("reap: %v %v %v", s, tr.Effects(), err)
	}
	if _, _, err := StepProxy(ProxyGone, ProxyEvent{Kind: ProxyDestroy}); err != ErrNotApplicable {
		t.Fatalf("a gone proxy was destroyed: %v", err)
	}
}

// TestExpired: the retentions, with time as an input.
func TestExpired(t *testing.T) {
	keep := Retention{Reply: 100, Created: 1000}
	for _, c := range []struct {
		r    Request
		now  int64
		want bool
	}{
		{Request{State: Replied, RepliedAt: 50}, 151, true},
		{Request{State: Replied, RepliedAt: 50}, 150, false},
		{Request{State: Delivered, RepliedAt: 50}, 151, true},
		{Request{State: Sending, RepliedAt: 0}, 1 << 40, false},
		{Request{State: Created, Created: 0}, 1001, true},
		{Request{State: Created, Created: 0}, 1000, false},
		{Request{State: Queued, Created: 0}, 1 << 40, false},
	} {
		if got, why := Expired(c.r, c.now, keep); got != c.want || got == (why == "") {
			t.Errorf("Expired(%v at %d) = %v %q, want %v", c.r.State, c.now, got, why, c.want)
		}
	}
	if got, _ := Expired(Request{State: Replied}, 1<<40, Retention{}); got {
		t.Error("no retention expired a reply")
	}
}

// TestPure: the core imports nothing that does I/O, waits or locks —
// no sockets, timers, goroutine tools, files or store; only errors.
func TestPure(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Imports, []string{"errors"}) {
		t.Fatalf("the lifecycle core imports %v; it may import only errors", p.Imports)
	}
}
