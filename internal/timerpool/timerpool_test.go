package timerpool

import (
	"context"
	"testing"
	"time"
)

// TestRecycledTimerDoesNotFireEarly: a timer put back after it fired, its
// value unread, must not deliver that stale value to its next user.
func TestRecycledTimerDoesNotFireEarly(t *testing.T) {
	for range 100 {
		tm := Get(time.Nanosecond)
		time.Sleep(time.Millisecond) // fired; nobody reads it
		Put(tm)
		tm = Get(time.Hour)
		select {
		case <-tm.C:
			t.Fatal("a recycled timer delivered its previous expiry")
		default:
		}
		Put(tm)
	}
}

// TestFires: a recycled timer fires after its new duration.
func TestFires(t *testing.T) {
	Put(Get(time.Hour))
	tm := Get(time.Millisecond)
	defer Put(tm)
	<-tm.C
}

// TestSleep: Sleep sleeps the whole wait unless its context ends, and
// says which happened.
func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("an uncancelled sleep reported cancelled")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("a cancelled sleep reported slept")
	}
}
