package agent

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testQueue is a queue whose started delegations are recorded in order,
// by the index a test gave them (their rec.bodyAlign field).
type testQueue struct {
	*queue
	started []int
}

func newTestQueue(threads, queued, perThreads, perQueued int, blocking time.Duration) *testQueue {
	tq := &testQueue{}
	tq.queue = newQueue(threads, queued, perThreads, perQueued, blocking, func(d *delegation) {
		tq.started = append(tq.started, int(d.rec.bodyAlign))
	})
	return tq
}

// admitN admits a delegation numbered n for target and parks it if it
// has to wait; it returns the delegation, or nil when refused.
func (tq *testQueue) admitN(t *testing.T, n int, target string) *delegation {
	t.Helper()
	d := &delegation{}
	d.rec.bodyAlign = int8(n)
	if err := tq.admit(context.Background(), &d.t, target); err != nil {
		if !errors.Is(err, errQueueFull) {
			t.Fatalf("admit %d: %v", n, err)
		}
		return nil
	}
	if !d.t.immediate {
		tq.park(&d.t, d)
	}
	return d
}

// TestQueue_Limits: maxThreads run, maxQueueSize wait, the next is refused
// (IMP_LIMIT in the agent) when blockingTimeout is 0; threads pass to
// waiters in arrival order, without a goroutine waiting for each.
func TestQueue_Limits(t *testing.T) {
	q := newTestQueue(2, 2, 0, 0, 0)
	a := q.admitN(t, 1, "t")
	b := q.admitN(t, 2, "t")
	c := q.admitN(t, 3, "t")
	d := q.admitN(t, 4, "t")
	if a == nil || b == nil || c == nil || d == nil || !a.t.immediate || !b.t.immediate || c.t.immediate || d.t.immediate {
		t.Fatal("two immediate and two waiting expected")
	}
	if q.admitN(t, 5, "t") != nil {
		t.Fatal("fifth admit with 2 threads + 2 queue places")
	}
	q.done(&a.t)
	q.done(&b.t)
	if got := q.started; len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("started %v, want [3 4] in arrival order", got)
	}
	if r, w := q.depth(); r != 2 || w != 0 {
		t.Fatalf("depth = %d running, %d waiting", r, w)
	}
	q.done(&a.t) // idempotent
	if r, _ := q.depth(); r != 2 {
		t.Fatalf("a second done changed the count: %d running", r)
	}
}

// TestQueue_PerTarget: one target holds at most its share of threads and
// queue places; another target's requests still run, and freed threads
// go to the lanes in turn.
func TestQueue_PerTarget(t *testing.T) {
	q := newTestQueue(3, 10, 2, 2, 0)
	h1, h2 := q.admitN(t, 1, "hung"), q.admitN(t, 2, "hung")
	w3, w4 := q.admitN(t, 3, "hung"), q.admitN(t, 4, "hung")
	if q.admitN(t, 5, "hung") != nil {
		t.Fatal("a third waiter for one target past its queue share")
	}
	if !h1.t.immediate || !h2.t.immediate || w3.t.immediate || w4.t.immediate {
		t.Fatal("the hung target's two threads, then two waiters")
	}
	ok := q.admitN(t, 6, "other")
	if ok == nil || !ok.t.immediate {
		t.Fatal("another target's request must get the thread the hung one cannot have")
	}
	queued := q.admitN(t, 7, "other")
	if queued == nil || queued.t.immediate {
		t.Fatal("with every thread busy another target's request waits")
	}
	// The other target's thread frees: its own waiter takes it (the hung
	// target is at its share).
	q.done(&ok.t)
	if len(q.started) != 1 || q.started[0] != 7 {
		t.Fatalf("started %v, want [7]", q.started)
	}
	q.done(&h1.t)
	if len(q.started) != 2 || q.started[1] != 3 {
		t.Fatalf("started %v, want the hung target's first waiter next", q.started)
	}
}

// TestQueue_GrantedBeforeParked: a waiting ticket that gets a thread
// before its delegation is parked starts when it is parked.
func TestQueue_GrantedBeforeParked(t *testing.T) {
	q := newTestQueue(1, 1, 0, 0, 0)
	a := q.admitN(t, 1, "t")
	d := &delegation{}
	d.rec.bodyAlign = 2
	if err := q.admit(context.Background(), &d.t, "t"); err != nil || d.t.immediate {
		t.Fatalf("second admit: %v immediate=%v", err, d.t.immediate)
	}
	q.done(&a.t)
	if len(q.started) != 0 {
		t.Fatal("started before it was parked")
	}
	q.park(&d.t, d)
	if len(q.started) != 1 || q.started[0] != 2 {
		t.Fatalf("started %v, want [2]", q.started)
	}
}

// TestQueue_LeaveWhileWaiting: a waiter that gives its place up (its
// request was not stored after all) frees it.
func TestQueue_LeaveWhileWaiting(t *testing.T) {
	q := newTestQueue(1, 1, 0, 0, 0)
	a := q.admitN(t, 1, "t")
	d := &delegation{}
	if err := q.admit(context.Background(), &d.t, "t"); err != nil {
		t.Fatal(err)
	}
	q.done(&d.t)
	if _, w := q.depth(); w != 0 {
		t.Fatalf("%d waiting after leaving", w)
	}
	if q.admitN(t, 3, "t") == nil {
		t.Fatal("the freed queue place is not reused")
	}
	q.done(&a.t)
	if len(q.started) != 1 || q.started[0] != 3 {
		t.Fatalf("started %v, want [3]", q.started)
	}
}

// TestQueue_BlockingTimeout: with blockingTimeout a request waits for room
// and gets in when a place frees within it.
func TestQueue_BlockingTimeout(t *testing.T) {
	q := newTestQueue(1, 1, 0, 0, time.Minute)
	a := q.admitN(t, 1, "t")
	q.admitN(t, 2, "t") // queued
	got := make(chan error, 1)
	go func() {
		var d delegation
		got <- q.admit(context.Background(), &d.t, "t")
	}()
	for {
		q.mu.Lock()
		blocked := q.blocked
		q.mu.Unlock()
		if blocked == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	q.done(&a.t) // 2 takes the thread, the queue has room again
	if err := <-got; err != nil {
		t.Fatalf("blocked admit: %v", err)
	}
	qq := newTestQueue(1, 1, 0, 0, time.Millisecond)
	qq.admitN(t, 1, "t")
	qq.admitN(t, 2, "t")
	var d delegation
	if err := qq.admit(context.Background(), &d.t, "t"); !errors.Is(err, errQueueFull) {
		t.Fatalf("admit after blocking timeout: %v", err)
	}
}

// TestQueue_Unlimited: no bounds admits everything at once.
func TestQueue_Unlimited(t *testing.T) {
	q := newTestQueue(0, 0, 0, 0, 0)
	for i := range 100 {
		if d := q.admitN(t, i, "t"); d == nil || !d.t.immediate {
			t.Fatal("unlimited admit did not run at once")
		}
	}
}

// TestQueue_Recovered: recovered requests are queued whatever the limits.
func TestQueue_Recovered(t *testing.T) {
	q := newTestQueue(1, 1, 0, 0, 0)
	a := q.admitN(t, 1, "t")
	q.admitN(t, 2, "t")
	for i := 3; i <= 5; i++ {
		d := &delegation{}
		d.rec.bodyAlign = int8(i)
		q.admitRecovered(&d.t, "t")
		q.park(&d.t, d)
	}
	if _, w := q.depth(); w != 4 {
		t.Fatalf("%d waiting, want 4 (the limit does not refuse recovered requests)", w)
	}
	q.done(&a.t)
	if len(q.started) != 1 || q.started[0] != 2 {
		t.Fatalf("started %v, want [2]", q.started)
	}
}

// TestLimit: configured bounds in the queue's terms.
func TestLimit(t *testing.T) {
	for _, c := range []struct{ v, def, all, want int }{
		{0, 64, 0, 64}, {0, 64, 256, 64}, {0, 64, 4, 4}, {-1, 64, 4, 0}, {10, 64, 4, 10},
	} {
		if got := limit(c.v, c.def, c.all); got != c.want {
			t.Errorf("limit(%d, %d, %d) = %d, want %d", c.v, c.def, c.all, got, c.want)
		}
	}
}
