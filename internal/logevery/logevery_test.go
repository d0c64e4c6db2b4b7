package logevery

import (
	"testing"
	"time"
)

// TestLimiter_OneLineASecondWithTheCount: a burst is one line, the next
// line a second later says how many went unlogged in between.
func TestLimiter_OneLineASecondWithTheCount(t *testing.T) {
	var l Limiter
	t0 := time.Unix(1000, 0)
	if n, ok := l.Note(t0); !ok || n != 1 {
		t.Fatalf("first event: %d, %v; want logged, 1", n, ok)
	}
	for i := range 99 {
		if _, ok := l.Note(t0.Add(time.Duration(i) * time.Millisecond)); ok {
			t.Fatalf("event %d within the second was logged", i+2)
		}
	}
	if n, ok := l.Note(t0.Add(time.Second)); !ok || n != 100 {
		t.Fatalf("a second later: %d, %v; want logged, 100 (99 unlogged and this one)", n, ok)
	}
}
