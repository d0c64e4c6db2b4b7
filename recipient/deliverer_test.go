package recipient_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/recipient"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func fast(cfg recipient.Config) recipient.Config {
	cfg.InitialBackoff, cfg.MaxBackoff = time.Millisecond, 4*time.Millisecond
	return cfg
}

// TestDeliver_InOrderPerRecipient: with one callback at a time per
// recipient, callbacks to it follow the order they were enqueued in
// (reply arrival order).
func TestDeliver_InOrderPerRecipient(t *testing.T) {
	d := recipient.New(fast(recipient.Config{PerRecipient: 1}))
	defer d.Close()
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		d.Enqueue(recipient.Job{Recipient: "r", Deliver: func(context.Context) error {
			defer wg.Done()
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			return nil
		}})
	}
	wg.Wait()
	for i, v := range got {
		if v != i {
			t.Fatalf("delivery order %v", got)
		}
	}
}

// TestDeliver_StalledRecipientDelaysNoOne: 1,000 callbacks to 100
// recipients, one of which never answers: all the others are delivered.
func TestDeliver_StalledRecipientDelaysNoOne(t *testing.T) {
	d := recipient.New(fast(recipient.Config{RetryBudget: time.Hour}))
	defer d.Close()
	stall := make(chan struct{})
	defer close(stall)
	var delivered atomic.Int32
	for i := range 1000 {
		r := fmt.Sprintf("r%d", i%100)
		d.Enqueue(recipient.Job{Recipient: r, Deliver: func(ctx context.Context) error {
			if r == "r0" {
				select {
				case <-stall:
				case <-ctx.Done():
				}
				return errors.New("stalled")
			}
			delivered.Add(1)
			return nil
		}})
	}
	deadline := time.Now().Add(30 * time.Second)
	for delivered.Load() < 990 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of 990 callbacks delivered while one recipient stalls", delivered.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestDeliver_RecipientDownThenUp: failures are retried, the callback is
// delivered once the recipient is back, exactly once.
func TestDeliver_RecipientDownThenUp(t *testing.T) {
	d := recipient.New(fast(recipient.Config{RetryBudget: time.Minute}))
	defer d.Close()
	var attempts, successes atomic.Int32
	done := make(chan struct{})
	d.Enqueue(recipient.Job{Recipient: "r", Deliver: func(context.Context) error {
		if attempts.Add(1) < 5 {
			return errors.New("down")
		}
		successes.Add(1)
		close(done)
		return nil
	}})
	<-done
	// The record is cleared after Deliver returns, so done can be seen
	// first; wait for the clearing rather than race it.
	deadline := time.Now().Add(10 * time.Second)
	for len(d.Failures()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("failure record kept after success: %+v", d.Failures())
		}
		time.Sleep(time.Millisecond)
	}
	if successes.Load() != 1 {
		t.Fatalf("delivered %d times", successes.Load())
	}
}

// TestDeliver_GiveUpIsRecorded: a recipient that never comes back is given
// up after the budget, GiveUp is told, and the failure stays visible.
func TestDeliver_GiveUpIsRecorded(t *testing.T) {
	gaveUp := make(chan error, 1)
	d := recipient.New(fast(recipient.Config{RetryBudget: 20 * time.Millisecond,
		GiveUp: func(j recipient.Job, err error) { gaveUp <- err }}))
	defer d.Close()
	d.Enqueue(recipient.Job{Recipient: "gone", Deliver: func(context.Context) error { return errors.New("connection refused") }})
	if err := <-gaveUp; err == nil {
		t.Fatal("no error given up")
	}
	f := d.Failures()
	if len(f) != 1 || f[0].Recipient != "gone" || f[0].GivenUp != 1 || f[0].Attempts == 0 || f[0].LastError != "connection refused" {
		t.Fatalf("failures = %+v", f)
	}
}

// TestDeliver_ConcurrentPerRecipient: up to PerRecipient callbacks to one
// recipient run at once, so one slow callback does not hold back the
// others; and no more than that.
func TestDeliver_ConcurrentPerRecipient(t *testing.T) {
	d := recipient.New(fast(recipient.Config{PerRecipient: 4}))
	defer d.Close()
	var running, most atomic.Int32
	entered := make(chan struct{}, 8)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		d.Enqueue(recipient.Job{Recipient: "r", Deliver: func(context.Context) error {
			defer wg.Done()
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			entered <- struct{}{}
			<-release
			running.Add(-1)
			return nil
		}})
	}
	for range 4 {
		<-entered // four run at once, none finished
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 4 {
		t.Fatalf("at most %d callbacks ran at once, want 4", m)
	}
}

// TestDeliver_MaxInFlight: the callbacks running at once are bounded in
// all, over every recipient; the others wait their turn and are all
// delivered.
func TestDeliver_MaxInFlight(t *testing.T) {
	d := recipient.New(fast(recipient.Config{PerRecipient: 4, MaxInFlight: 3}))
	defer d.Close()
	var running, most atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		d.Enqueue(recipient.Job{Recipient: fmt.Sprint("r", i%10), Deliver: func(context.Context) error {
			defer wg.Done()
			n := running.Add(1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			<-release
			running.Add(-1)
			return nil
		}})
	}
	for running.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if m := most.Load(); m != 3 {
		t.Fatalf("at most %d callbacks ran at once, want the limit of 3", m)
	}
}
