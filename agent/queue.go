package agent

import (
	"context"
	"errors"
	"sync"
	"time"
)

// errQueueFull means the delegation queue stayed full for blockingTimeout.
var errQueueFull = errors.New("agent: delegation queue full")

// queue bounds delegations (PRODUCT.md §3 "Queue limits"): at most
// maxThreads run at once (0: unlimited), at most maxQueueSize wait for a
// thread (0: unlimited; only with maxThreads > 0), and a new request waits
// up to blockingTimeout for room before it is refused. Admission happens
// before a request is stored, so a refused request leaves nothing behind.
// Waiting requests get threads in arrival order.
type queue struct {
	maxThreads, maxQueue int
	blocking             time.Duration

	mu      sync.Mutex // guards the fields below
	running int
	waiters []*ticket
	// room is closed (and replaced) when a waiter leaves the queue.
	room chan struct{}
	// now is the ticket of every request that gets a thread at once;
	// tickets are not changed once issued, so one is shared rather than
	// one allocated per request.
	now *ticket
}

// ticket is an admitted request's place: a thread, or a place in line.
type ticket struct {
	q     *queue
	ready chan struct{} // closed when the ticket holds a thread
	// immediate is set when the ticket got a thread at admission.
	immediate bool
}

// closedReady is the ready channel of every ticket that gets a thread at
// once: one shared closed channel rather than one made per request.
var closedReady = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func newQueue(maxThreads, maxQueue int, blocking time.Duration) *queue {
	q := &queue{maxThreads: maxThreads, maxQueue: maxQueue, blocking: blocking, room: make(chan struct{})}
	q.now = &ticket{q: q, ready: closedReady, immediate: true}
	return q
}

// admit returns a ticket, or errQueueFull after waiting up to the blocking
// timeout for room.
func (q *queue) admit(ctx context.Context) (*ticket, error) {
	var deadline <-chan time.Time
	for {
		q.mu.Lock()
		switch {
		case q.maxThreads == 0 || q.running < q.maxThreads:
			q.running++
			q.mu.Unlock()
			return q.now, nil
		case q.maxQueue == 0 || len(q.waiters) < q.maxQueue:
			t := &ticket{q: q, ready: make(chan struct{})}
			q.waiters = append(q.waiters, t)
			q.mu.Unlock()
			return t, nil
		}
		room := q.room
		q.mu.Unlock()
		if q.blocking <= 0 {
			return nil, errQueueFull
		}
		if deadline == nil {
			timer := time.NewTimer(q.blocking)
			defer timer.Stop()
			deadline = timer.C
		}
		select {
		case <-room:
		case <-deadline:
			return nil, errQueueFull
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// wait blocks until the ticket holds a thread.
func (t *ticket) wait(ctx context.Context) error {
	select {
	case <-t.ready:
		return nil
	case <-ctx.Done():
		t.q.leave(t)
		return ctx.Err()
	}
}

// leave removes a ticket that gave up waiting; if it got a thread in the
// meantime, the thread is passed on.
func (q *queue) leave(t *ticket) {
	q.mu.Lock()
	for i, w := range q.waiters {
		if w == t {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.wakeRoom()
			q.mu.Unlock()
			return
		}
	}
	q.mu.Unlock()
	t.done()
}

// done releases the ticket's thread: the next waiter gets it.
func (t *ticket) done() {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.waiters) > 0 {
		next := q.waiters[0]
		q.waiters = q.waiters[1:]
		close(next.ready)
		q.wakeRoom()
		return
	}
	q.running--
}

// wakeRoom tells requests blocked in admit that a place freed. q.mu held.
func (q *queue) wakeRoom() {
	close(q.room)
	q.room = make(chan struct{})
}

// depth returns how many delegations run and how many wait.
func (q *queue) depth() (running, waiting int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running, len(q.waiters)
}
