package poller_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/requestagent/requestagent/poller"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func id(n byte) poller.ID { return poller.ID{n} }

func sorted(tags [][]byte) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = string(t)
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}

// TestPoll_EmptyGroup: a group with no live request raises
// PollingGroupIsEmpty (PRODUCT.md §3), also once its last request is trashed.
func TestPoll_EmptyGroup(t *testing.T) {
	r := poller.NewRegistry[int]()
	if _, err := r.Poll(context.Background(), "g", 0, true); !errors.Is(err, poller.ErrGroupEmpty) {
		t.Fatalf("poll of unknown group: %v", err)
	}
	r.Add("g", id(1), "a")
	r.Remove(id(1))
	if _, err := r.Poll(context.Background(), "g", 0, true); !errors.Is(err, poller.ErrGroupEmpty) {
		t.Fatalf("poll after last trash: %v", err)
	}
}

// TestAdd_DuplicateTag: tags are unique among live requests of a group;
// a trashed request frees its tag; empty tags never clash; other groups
// are independent (seed 003: DUPLICATED_REQUEST_TAG).
func TestAdd_DuplicateTag(t *testing.T) {
	r := poller.NewRegistry[int]()
	if err := r.Add("g", id(1), "0"); err != nil {
		t.Fatal(err)
	}
	if err := r.Add("g", id(2), "0"); !errors.Is(err, poller.ErrDuplicateTag) {
		t.Fatalf("duplicate tag: %v", err)
	}
	if r.TagFree("g", []byte("0")) || !r.TagFree("g", []byte("1")) || !r.TagFree("h", []byte("0")) {
		t.Fatal("TagFree disagrees with Add")
	}
	if err := r.Add("h", id(3), "0"); err != nil {
		t.Fatalf("same tag in another group: %v", err)
	}
	for n := byte(4); n < 7; n++ {
		if err := r.Add("g", id(n), ""); err != nil {
			t.Fatalf("untagged request: %v", err)
		}
	}
	r.Remove(id(1))
	if err := r.Add("g", id(7), "0"); err != nil {
		t.Fatalf("tag of a trashed request: %v", err)
	}
}

// TestPoll_Unmask: unmask=TRUE reports a ready tag once; unmask=FALSE
// reports it on every poll until the request is trashed.
func TestPoll_Unmask(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	r.Add("g", id(1), "a")
	r.Add("g", id(2), "b")
	r.Add("g", id(3), "c")
	if tags, _ := r.Poll(ctx, "g", 0, false); len(tags) != 0 {
		t.Fatalf("nothing ready yet, got %s", sorted(tags))
	}
	r.SetReady(id(1))
	r.SetReady(id(2))
	for range 2 {
		if tags, _ := r.Poll(ctx, "g", 0, false); sorted(tags) != "[a b]" {
			t.Fatalf("unmask=false: %s", sorted(tags))
		}
	}
	if tags, _ := r.Poll(ctx, "g", 0, true); sorted(tags) != "[a b]" {
		t.Fatalf("unmask=true first: %s", sorted(tags))
	}
	if tags, _ := r.Poll(ctx, "g", 0, true); len(tags) != 0 {
		t.Fatalf("unmask=true again: %s", sorted(tags))
	}
	r.SetReady(id(3))
	if tags, _ := r.Poll(ctx, "g", 0, false); sorted(tags) != "[c]" {
		t.Fatalf("after masking a, b: %s", sorted(tags))
	}
}

// TestPoll_BlocksUntilReady: a positive or infinite timeout waits for a
// reply; a timeout that passes returns an empty list, not an error.
func TestPoll_BlocksUntilReady(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	r.Add("g", id(1), "a")
	done := make(chan string)
	go func() {
		tags, err := r.Poll(ctx, "g", poller.Forever, true)
		done <- fmt.Sprintf("%s %v", sorted(tags), err)
	}()
	select {
	case got := <-done:
		t.Fatalf("Forever poll returned before any reply: %s", got)
	case <-time.After(20 * time.Millisecond):
	}
	r.SetReady(id(1))
	if got := <-done; got != "[a] <nil>" {
		t.Fatalf("blocked poll: %s", got)
	}
	r.Add("g", id(2), "b")
	if tags, err := r.Poll(ctx, "g", time.Millisecond, true); err != nil || tags == nil || len(tags) != 0 {
		t.Fatalf("timed-out poll = %v, %v; want an empty list", tags, err)
	}
}

// TestWait: waiting on one request's reply (the poller with wait_timeout).
func TestWait(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	r.Add("g", id(1), "")
	if r.Wait(ctx, id(1), 0) {
		t.Fatal("ready before SetReady")
	}
	go func() { time.Sleep(5 * time.Millisecond); r.SetReady(id(1)) }()
	if !r.Wait(ctx, id(1), poller.Forever) {
		t.Fatal("Wait(Forever) returned false")
	}
	if r.Wait(ctx, id(9), poller.Forever) {
		t.Fatal("unknown request reported ready")
	}
}

// TestTimeout: 0xFFFFFFFF and every value ≥ 2^31 mean forever (PRODUCT.md §3).
func TestTimeout(t *testing.T) {
	for ms, want := range map[uint32]time.Duration{0: 0, 250: 250 * time.Millisecond, 1<<31 - 1: (1<<31 - 1) * time.Millisecond, 1 << 31: poller.Forever, 0xFFFFFFFF: poller.Forever} {
		if got := poller.Timeout(ms); got != want {
			t.Errorf("Timeout(%d) = %v, want %v", ms, got, want)
		}
	}
}

// TestGroupReuse: an emptied group is recycled for the next new one; the
// recycled group carries nothing over — no tag, no member, no readiness,
// no masking — and its old name is empty (PRODUCT.md §3: tags are unique
// among live requests only).
func TestGroupReuse(t *testing.T) {
	r := poller.NewRegistry[int]()
	ctx := context.Background()
	for round := range 3 {
		old, next := fmt.Sprintf("g%d", round), fmt.Sprintf("g%d", round+1)
		r.Add(old, id(1), "a")
		r.SetReady(id(1))
		if tags, _ := r.Poll(ctx, old, 0, true); sorted(tags) != "[a]" {
			t.Fatalf("round %d: poll = %v", round, sorted(tags))
		}
		r.Remove(id(1))
		if err := r.Add(next, id(2), "a"); err != nil {
			t.Fatalf("round %d: tag of the emptied group still taken: %v", round, err)
		}
		if tags, err := r.Poll(ctx, next, 0, false); err != nil || len(tags) != 0 {
			t.Fatalf("round %d: new group reports %v, %v before any reply", round, sorted(tags), err)
		}
		r.SetReady(id(2))
		if tags, _ := r.Poll(ctx, next, 0, true); sorted(tags) != "[a]" {
			t.Fatalf("round %d: masking carried over: %v", round, sorted(tags))
		}
		if _, err := r.Poll(ctx, old, 0, false); !errors.Is(err, poller.ErrGroupEmpty) {
			t.Fatalf("round %d: old group after reuse: %v", round, err)
		}
		if got := r.Members(next); len(got) != 1 || got[0] != id(2) {
			t.Fatalf("round %d: members %v", round, got)
		}
		r.Remove(id(2))
	}
}

// TestWait_RequestLeaves: a caller waiting on a request that is trashed
// meanwhile is told at once (not ready), instead of waiting out its
// timeout; waiters leave nothing behind.
func TestWait_RequestLeaves(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	r.Add("g", id(1), "")
	got := make(chan bool)
	go func() { got <- r.Wait(ctx, id(1), poller.Forever) }()
	for deadline := time.Now().Add(20 * time.Second); r.Waiting() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("Wait never registered")
		}
		time.Sleep(time.Millisecond)
	}
	r.Remove(id(1))
	if <-got {
		t.Fatal("a trashed request was reported ready")
	}
	r.Add("g", id(2), "")
	if r.Wait(ctx, id(2), time.Millisecond) {
		t.Fatal("ready before SetReady")
	}
	r.SetReady(id(2))
	if n := r.Waiting(); n != 0 {
		t.Fatalf("%d waiter channels left", n)
	}
}

// TestAddReady: a recovered request is pollable at once; a clashing tag
// leaves no empty group behind.
func TestAddReady(t *testing.T) {
	r := poller.NewRegistry[int]()
	if err := r.AddReady("g", id(1), "a"); err != nil {
		t.Fatal(err)
	}
	if tags, err := r.Poll(context.Background(), "g", 0, false); err != nil || sorted(tags) != "[a]" {
		t.Fatalf("poll = %v, %v", sorted(tags), err)
	}
	if !r.Wait(context.Background(), id(1), 0) {
		t.Fatal("AddReady request not ready")
	}
	if err := r.AddReady("g", id(2), "a"); !errors.Is(err, poller.ErrDuplicateTag) {
		t.Fatalf("clashing tag: %v", err)
	}
	r.Remove(id(1))
	if _, err := r.Poll(context.Background(), "g", 0, false); !errors.Is(err, poller.ErrGroupEmpty) {
		t.Fatalf("group after the clash and the trash: %v", err)
	}
}

// TestValues: a request's value is found by its id while it lives, and
// gone with it; SetValue keeps nothing for an unknown request.
func TestValues(t *testing.T) {
	r := poller.NewRegistry[string]()
	if err := r.Insert("g", id(1), "a", true, "one"); err != nil {
		t.Fatal(err)
	}
	r.Add("g", id(2), "")
	if !r.SetValue(id(2), "two") || r.SetValue(id(9), "nine") {
		t.Fatal("SetValue: want true for a live request, false for an unknown one")
	}
	if r.Value(id(1)) != "one" || r.Value(id(2)) != "two" || r.Value(id(9)) != "" || r.Count() != 2 {
		t.Fatalf("values %q %q %q, count %d", r.Value(id(1)), r.Value(id(2)), r.Value(id(9)), r.Count())
	}
	seen := map[poller.ID]string{}
	r.Range(func(i poller.ID, v string) bool { seen[i] = v; return true })
	if len(seen) != 2 || seen[id(1)] != "one" || seen[id(2)] != "two" {
		t.Fatalf("Range saw %v", seen)
	}
	r.Remove(id(1))
	if r.Value(id(1)) != "" || r.Count() != 1 {
		t.Fatal("a removed request's value is still found")
	}
}
