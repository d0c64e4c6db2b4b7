package agent

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestQueue_Limits: maxThreads run, maxQueueSize wait, the next is refused
// (IMP_LIMIT in the agent) when blockingTimeout is 0; threads pass to
// waiters in arrival order.
func TestQueue_Limits(t *testing.T) {
	ctx := context.Background()
	q := newQueue(2, 1, 0)
	a, _ := q.admit(ctx)
	b, _ := q.admit(ctx)
	c, err := q.admit(ctx)
	if err != nil || !a.immediate || !b.immediate || c.immediate {
		t.Fatalf("admit: a=%v b=%v c=%v err=%v", a.immediate, b.immediate, c.immediate, err)
	}
	if _, err := q.admit(ctx); !errors.Is(err, errQueueFull) {
		t.Fatalf("fourth admit with 2 threads + 1 queue: %v", err)
	}
	a.done()
	if err := c.wait(ctx); err != nil {
		t.Fatalf("waiter did not get the freed thread: %v", err)
	}
	if r, w := q.depth(); r != 2 || w != 0 {
		t.Fatalf("depth = %d running, %d waiting", r, w)
	}
}

// TestQueue_BlockingTimeout: with blockingTimeout a request waits for room
// and gets in when a place frees within it.
func TestQueue_BlockingTimeout(t *testing.T) {
	ctx := context.Background()
	q := newQueue(1, 1, time.Minute)
	a, _ := q.admit(ctx)
	b, _ := q.admit(ctx) // queued
	got := make(chan error, 1)
	go func() {
		_, err := q.admit(ctx)
		got <- err
	}()
	a.done() // b takes the thread, the queue has room again
	if err := <-got; err != nil {
		t.Fatalf("blocked admit: %v", err)
	}
	b.wait(ctx)
	qq := newQueue(1, 1, time.Millisecond)
	qq.admit(ctx)
	qq.admit(ctx)
	if _, err := qq.admit(ctx); !errors.Is(err, errQueueFull) {
		t.Fatalf("admit after blocking timeout: %v", err)
	}
}

// TestQueue_Unlimited: maxThreads 0 admits everything at once.
func TestQueue_Unlimited(t *testing.T) {
	q := newQueue(0, 5, 0)
	for range 100 {
		if tk, err := q.admit(context.Background()); err != nil || !tk.immediate {
			t.Fatalf("unlimited admit: %v", err)
		}
	}
}
