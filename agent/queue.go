package agent

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errQueueFull means the delegation queue stayed full for blockingTimeout.
var errQueueFull = errors.New("agent: delegation queue full")

// queue bounds delegations (docs/limits.md, "Delegation queue"): at most
// maxThreads run at once and at most maxQueue wait for a thread, in all;
// and per target — per lane, one for each target address — at most
// perThreads run and perQueue wait, so that one hung target cannot take
// the agent's whole budget. A new request waits up to blockingTimeout for
// room before it is refused; admission happens before a request is
// stored, so a refused request leaves nothing behind. A limit of 0 is
// unlimited.
//
// A waiting request holds no goroutine and no body: its delegation is
// parked on its ticket (park) once stored, and started by the queue when
// a thread frees — the longest-waiting request of the next lane in turn,
// so lanes share freed threads round robin.
type queue struct {
	maxThreads, maxQueue int
	perThreads, perQueue int
	blocking             time.Duration
	// start runs a delegation whose ticket got a thread (never under mu).
	start func(*delegation)

	mu      sync.Mutex // guards the fields below and every ticket's and lane's
	running int
	waiting int
	lanes   map[string]*lane
	// turn holds the lanes that have waiters and a free slot of their own,
	// in the order they take freed threads.
	turn []*lane
	// room is closed (and replaced) when a place frees while blocked > 0
	// requests wait for one in admit.
	room    chan struct{}
	blocked int
	// stopped: the agent is shutting down, and no waiting request gets a
	// thread any more. They stay stored as queued and are delegated at the
	// next start (docs/deploying.md), rather than sent now and cut off by
	// the end of the grace period as COMM_FAILURE/MAYBE.
	stopped bool
}

// lane is one target's share of the queue.
type lane struct {
	key     string
	running int
	waiters []*ticket // oldest first
	inTurn  bool
}

// ticketState is where an admitted request is in the queue.
type ticketState uint8

const (
	ticketRunning ticketState = iota // holds a thread
	ticketWaiting                    // in its lane's waiters
	ticketDone                       // released, or left the queue
)

// ticket is an admitted request's place: a thread, or a place in line.
// It lives in the request's delegation; queue.mu guards its fields.
type ticket struct {
	lane  *lane
	state ticketState
	// immediate: the ticket got a thread at admission.
	immediate bool
	// parked is the delegation to start when a waiting ticket gets a
	// thread; nil until park.
	parked *delegation
	// granted: a thread came before park; park starts at once.
	granted bool
}

func newQueue(maxThreads, maxQueue, perThreads, perQueue int, blocking time.Duration, start func(*delegation)) *queue {
	return &queue{maxThreads: maxThreads, maxQueue: maxQueue, perThreads: perThreads, perQueue: perQueue,
		blocking: blocking, start: start, lanes: make(map[string]*lane), room: make(chan struct{})}
}

// under reports whether n is below limit (0: unlimited).
func under(n, limit int) bool { return limit == 0 || n < limit }

// laneFor returns the lane of a target, making it. q.mu must be held.
func (q *queue) laneFor(key string) *lane {
	l := q.lanes[key]
	if l == nil {
		q.pruneLanes()
		l = &lane{key: key}
		q.lanes[key] = l
	}
	return l
}

// maxLanes is how many lanes are kept before idle ones are forgotten:
// a lane is kept while idle so that a target's next request finds it.
const maxLanes = 1024

// pruneLanes forgets the idle lanes once there are more than maxLanes.
// q.mu must be held.
func (q *queue) pruneLanes() {
	if len(q.lanes) <= maxLanes {
		return
	}
	for k, l := range q.lanes {
		if l.running == 0 && len(l.waiters) == 0 && !l.inTurn {
			delete(q.lanes, k)
		}
	}
}

// admit gives t a thread or a place in line for target key, waiting up
// to the blocking timeout for room; errQueueFull when there is none.
func (q *queue) admit(ctx context.Context, t *ticket, key string) error {
	var deadline <-chan time.Time
	for {
		q.mu.Lock()
		l := q.laneFor(key)
		switch {
		case under(q.running, q.maxThreads) && under(l.running, q.perThreads):
			q.running++
			l.running++
			*t = ticket{lane: l, state: ticketRunning, immediate: true}
			q.mu.Unlock()
			return nil
		case under(q.waiting, q.maxQueue) && under(len(l.waiters), q.perQueue):
			*t = ticket{lane: l, state: ticketWaiting}
			q.enqueue(t)
			q.mu.Unlock()
			return nil
		}
		if q.blocking <= 0 {
			q.mu.Unlock()
			return errQueueFull
		}
		room := q.room
		q.blocked++
		q.mu.Unlock()
		if deadline == nil {
			timer := time.NewTimer(q.blocking)
			defer timer.Stop()
			deadline = timer.C
		}
		var err error
		select {
		case <-room:
		case <-deadline:
			err = errQueueFull
		case <-ctx.Done():
			err = ctx.Err()
		}
		q.mu.Lock()
		q.blocked--
		q.mu.Unlock()
		if err != nil {
			return err
		}
	}
}

// admitRecovered puts a recovered request in line whatever the limits
// say: it was acknowledged before the restart and cannot be refused now.
func (q *queue) admitRecovered(t *ticket, key string) {
	q.mu.Lock()
	*t = ticket{lane: q.laneFor(key), state: ticketWaiting}
	q.enqueue(t)
	grants := q.dispatch(nil)
	q.mu.Unlock()
	q.launch(grants)
}

// enqueue adds a waiting ticket to its lane. q.mu must be held.
func (q *queue) enqueue(t *ticket) {
	l := t.lane
	l.waiters = append(l.waiters, t)
	q.waiting++
	q.offerTurn(l)
}

// offerTurn puts a lane in line for freed threads if it has waiters and
// a free slot of its own. q.mu must be held.
func (q *queue) offerTurn(l *lane) {
	if !l.inTurn && len(l.waiters) > 0 && under(l.running, q.perThreads) {
		l.inTurn = true
		q.turn = append(q.turn, l)
	}
}

// dispatch gives free threads to waiters, lane by lane in turn, and
// returns the delegations to start (appended to out). q.mu must be held.
func (q *queue) dispatch(out []*delegation) []*delegation {
	for !q.stopped && len(q.turn) > 0 && under(q.running, q.maxThreads) {
		l := q.turn[0]
		q.turn[0] = nil
		q.turn = q.turn[1:]
		l.inTurn = false
		if len(l.waiters) == 0 || !under(l.running, q.perThreads) {
			continue
		}
		t := l.waiters[0]
		l.waiters[0] = nil
		l.waiters = l.waiters[1:]
		q.waiting--
		q.running++
		l.running++
		t.state = ticketRunning
		if t.parked != nil {
			out = append(out, t.parked)
		} else {
			t.granted = true
		}
		q.offerTurn(l)
	}
	if len(q.turn) == 0 {
		q.turn = nil // let the backing array go
	}
	return out
}

// launch starts delegations that got threads, outside q.mu.
func (q *queue) launch(ds []*delegation) {
	for _, d := range ds {
		q.start(d)
	}
}

// park hands a waiting ticket its delegation, to be started when the
// ticket gets a thread — at once if it already has one.
func (q *queue) park(t *ticket, d *delegation) {
	q.mu.Lock()
	if t.state == ticketRunning && (t.granted || t.immediate) {
		q.mu.Unlock()
		q.start(d)
		return
	}
	t.parked = d
	q.mu.Unlock()
}

// done releases the ticket: its thread goes to the next waiter, or its
// place in line is given up. It is idempotent.
func (q *queue) done(t *ticket) {
	q.mu.Lock()
	l := t.lane
	switch t.state {
	case ticketDone:
		q.mu.Unlock()
		return
	case ticketWaiting:
		for i, w := range l.waiters {
			if w == t {
				l.waiters = append(l.waiters[:i], l.waiters[i+1:]...)
				q.waiting--
				break
			}
		}
	case ticketRunning:
		q.running--
		l.running--
		q.offerTurn(l)
	}
	t.state = ticketDone
	t.parked = nil
	grants := q.dispatch(nil)
	if q.blocked > 0 {
		// A place freed: tell the requests blocked in admit.
		close(q.room)
		q.room = make(chan struct{})
	}
	q.mu.Unlock()
	q.launch(grants)
}

// stop gives no more threads to waiting requests. Delegations running
// go on; a request that holds a thread already (admitted with one before
// the stop) still starts.
func (q *queue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}

// depth returns how many delegations run and how many wait.
func (q *queue) depth() (running, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, q.waiting
}
