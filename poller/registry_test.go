package poller_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// PollingGroupIsEmpty (docs/native-messaging.md), also once its last request is trashed.
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
// are independent (Native Messaging: DUPLICATED_REQUEST_TAG).
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

// TestTimeout: 0xFFFFFFFF and every value ≥ 2^31 mean forever (docs/native-messaging.md).
func TestTimeout(t *testing.T) {
	for ms, want := range map[uint32]time.Duration{0: 0, 250: 250 * time.Millisecond, 1<<31 - 1: (1<<31 - 1) * time.Millisecond, 1 << 31: poller.Forever, 0xFFFFFFFF: poller.Forever} {
		if got := poller.Timeout(ms); got != want {
			t.Errorf("Timeout(%d) = %v, want %v", ms, got, want)
		}
	}
}

// TestGroupReuse: an emptied group is recycled for the next new one; the
// recycled group carries nothing over — no tag, no member, no readiness,
// no masking — and its old name is empty (docs/native-messaging.md: tags are unique
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

func list(tags [][]byte) string {
	s := make([]string, len(tags))
	for i, t := range tags {
		s[i] = string(t)
	}
	return fmt.Sprint(s)
}

// TestPoll_ReadyOrder: tags come back in the order the replies became
// ready (doc.go "Order"), not the order the requests were sent in; a reply
// recovered ready counts from its insertion, so recovered replies come in
// recovery order.
func TestPoll_ReadyOrder(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	for n := range 4 {
		r.Add("g", id(byte(n)), fmt.Sprintf("t%d", n))
	}
	// Replies at 300, 100, 200 and 0 ms after sending.
	for _, n := range []byte{3, 1, 2, 0} {
		r.SetReady(id(n))
	}
	for range 2 {
		if tags, _ := r.Poll(ctx, "g", 0, false); list(tags) != "[t3 t1 t2 t0]" {
			t.Fatalf("unmask=false: %s, want [t3 t1 t2 t0]", list(tags))
		}
	}
	if tags, _ := r.Poll(ctx, "g", 0, true); list(tags) != "[t3 t1 t2 t0]" {
		t.Fatalf("unmask=true: %s, want [t3 t1 t2 t0]", list(tags))
	}

	// Recovery: ready at insertion, in insertion order; then live replies.
	r = poller.NewRegistry[int]()
	r.AddReady("h", id(10), "r0")
	r.Add("h", id(11), "p0")
	r.AddReady("h", id(12), "r1")
	r.Insert("h", id(13), "r2", true, 0)
	r.Add("h", id(14), "p1")
	r.SetReady(id(14))
	r.SetReady(id(11))
	if tags, _ := r.Poll(ctx, "h", 0, false); list(tags) != "[r0 r1 r2 p1 p0]" {
		t.Fatalf("recovered then live: %s, want [r0 r1 r2 p1 p0]", list(tags))
	}
	// Trashing one and masking none keeps the others' order.
	r.Remove(id(12))
	if tags, _ := r.Poll(ctx, "h", 0, true); list(tags) != "[r0 r2 p1 p0]" {
		t.Fatalf("after trashing r1: %s", list(tags))
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestPoll_CostIsReadyReplies: a poll looks at the ready replies it
// returns, not at the group's members — counted, not timed (a poll of a
// 200k-member group looked at all 200k under the registry's one lock).
func TestPoll_CostIsReadyReplies(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[*int]()
	const members = 200_000
	fill(t, r, "g", members, 0)
	r.SetReady(nid(members / 2))
	cost := func(unmask bool) (int, int64) {
		before := r.Visited()
		tags, err := r.Poll(ctx, "g", 0, unmask)
		if err != nil {
			t.Fatal(err)
		}
		return len(tags), r.Visited() - before
	}
	if n, v := cost(false); n != 1 || v != 1 {
		t.Fatalf("1 ready of %d: %d tags, %d nodes looked at; want 1, 1", members, n, v)
	}
	if n, v := cost(true); n != 1 || v != 1 {
		t.Fatalf("1 ready of %d, unmask: %d tags, %d nodes looked at; want 1, 1", members, n, v)
	}
	if n, v := cost(false); n != 0 || v != 0 {
		t.Fatalf("none ready of %d: %d tags, %d nodes looked at; want 0, 0", members, n, v)
	}
	const ready = 3000 // several chunks
	for k := range ready {
		r.SetReady(nid(k * 61))
	}
	if n, v := cost(false); n != ready || v != ready {
		t.Fatalf("%d ready of %d: %d tags, %d nodes looked at", ready, members, n, v)
	}
	if n, v := cost(true); n != ready || v != ready {
		t.Fatalf("%d ready of %d, unmask: %d tags, %d nodes looked at", ready, members, n, v)
	}
	if n, v := cost(true); n != 0 || v != 0 {
		t.Fatalf("all masked: %d tags, %d nodes looked at", n, v)
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// blockedFor is how long the isolation tests let an operation that should
// not wait at all take before calling it blocked: a hang detector, not a
// timing assertion.
const blockedFor = 20 * time.Second

// TestPoll_OtherGroupsNotBlocked: while a poll over many ready replies is
// under way — stopped, holding its group's lock — every operation on
// another group completes; and while it pauses between two chunks, its own
// group's callers get in, and what they do does not confuse it.
func TestPoll_OtherGroupsNotBlocked(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[*int]()
	const ready = 5000 // several chunks
	fill(t, r, "big", ready+2, 0)
	for n := range ready {
		r.SetReady(nid(n))
	}
	r.Add("other", id(1), "o1")
	r.Add("other", id(2), "o2")

	// The test holds the poll at its first two pauses only.
	pauses := make(chan bool)
	resume := make(chan struct{})
	held := 0
	defer poller.SetPollHook(func(locked bool) {
		if held++; held <= 2 {
			select {
			case pauses <- locked:
				<-resume
			case <-resume: // closed: the test gave up
			}
		}
	})()
	polled := make(chan [][]byte)
	go func() {
		tags, err := r.Poll(ctx, "big", 0, true)
		if err != nil {
			t.Error(err)
		}
		polled <- tags
	}()

	// Paused with its group locked: another group's work completes.
	if !<-pauses {
		t.Fatal("the first pause was not with the group locked")
	}
	done := make(chan string, 1)
	go func() {
		var fails []string
		check := func(ok bool, what string) {
			if !ok {
				fails = append(fails, what)
			}
		}
		check(r.Add("other", id(3), "o3") == nil, "Add")
		r.SetReady(id(1))
		tags, err := r.Poll(ctx, "other", 0, true)
		check(err == nil && list(tags) == "[o1]", "Poll")
		check(r.Wait(ctx, id(1), 0), "Wait")
		got, ok := r.ByTag("other", []byte("o2"))
		check(ok && got == id(2), "ByTag")
		check(!r.TagFree("other", []byte("o3")), "TagFree")
		check(len(r.Members("other")) == 3 && r.Len("other") == 3, "Members, Len")
		check(r.Remove(id(2)), "Remove")
		check(r.Count() == ready+2+2 && r.SetValue(id(3), nil) && r.Value(id(3)) == nil, "Count, Values")
		done <- fmt.Sprint(fails)
	}()
	select {
	case fails := <-done:
		if fails != "[]" {
			t.Errorf("other group: %s failed", fails)
		}
	case <-time.After(blockedFor):
		t.Error("another group's operations waited for the poll")
		close(resume) // let everything finish
		<-done
		<-polled
		return
	}
	resume <- struct{}{}

	// Paused unlocked: the group's own callers get in.
	if <-pauses {
		t.Fatal("the second pause was with the group locked")
	}
	go func() {
		r.SetReady(nid(ready))   // after the poll began: for the next poll
		r.Remove(nid(ready - 1)) // not reached yet: not reported
		r.Add("big", id(9), "late")
		done <- "ok"
	}()
	select {
	case <-done:
	case <-time.After(blockedFor):
		t.Error("the group's own callers waited for the whole poll")
	}
	close(resume)
	tags := <-polled
	if len(tags) != ready-1 || string(tags[0]) != "t0" || string(tags[len(tags)-1]) != fmt.Sprintf("t%d", ready-2) {
		t.Fatalf("poll: %d tags, want t0…t%d", len(tags), ready-2)
	}
	for i, tag := range tags {
		if string(tag) != fmt.Sprintf("t%d", i) {
			t.Fatalf("tag %d is %s: not in ready order", i, tag)
		}
	}
	poller.SetPollHook(nil)
	if tags, _ := r.Poll(ctx, "big", 0, true); list(tags) != fmt.Sprintf("[t%d]", ready) {
		t.Fatalf("next poll: %s", list(tags))
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestPoll_ConcurrentChunks: pollers with and without unmask, a sender
// marking replies ready in order and a caller trashing requests, all at
// once, with polls pausing every few nodes: no tag is reported twice with
// unmask, none is lost, and every poll lists its tags in ready order.
func TestPoll_ConcurrentChunks(t *testing.T) {
	defer poller.SetPollChunk(7)()
	ctx := context.Background()
	r := poller.NewRegistry[*int]()
	const n = 20_000
	fill(t, r, "g", n, 0)
	r.Add("g", id(1), "keep") // never ready: the group never empties

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	reported := make(map[int]int) // by unmask polls
	removed := make(map[int]bool)
	var disorders atomic.Int32 // reported: the first few
	inOrder := func(who string, tags [][]byte) []int {
		ks := make([]int, len(tags))
		for i, tag := range tags {
			k, err := strconv.Atoi(strings.TrimPrefix(string(tag), "t"))
			if err != nil {
				t.Errorf("%s: tag %q", who, tag)
			}
			if ks[i] = k; i > 0 && k <= ks[i-1] && disorders.Add(1) <= 3 {
				t.Errorf("%s: t%d after t%d: not in ready order", who, k, ks[i-1])
			}
		}
		return ks
	}
	poll := func(unmask bool) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			tags, err := r.Poll(ctx, "g", 0, unmask)
			if err != nil {
				t.Error(err)
				return
			}
			ks := inOrder(fmt.Sprintf("poll(unmask=%v)", unmask), tags)
			if unmask {
				mu.Lock()
				for _, k := range ks {
					reported[k]++
				}
				mu.Unlock()
			}
		}
	}
	wg.Add(4)
	go poll(true)
	go poll(true)
	go poll(true)
	go poll(false)
	var senders sync.WaitGroup
	senders.Add(2)
	go func() {
		defer senders.Done()
		for k := range n {
			r.SetReady(nid(k))
		}
	}()
	go func() {
		defer senders.Done()
		for k := 5; k < n; k += 10 {
			if r.Remove(nid(k)) {
				mu.Lock()
				removed[k] = true
				mu.Unlock()
			}
		}
	}()
	senders.Wait()
	close(stop)
	wg.Wait()
	tags, err := r.Poll(ctx, "g", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range inOrder("last poll", tags) {
		reported[k]++
	}
	twice, lost := 0, 0
	for k := range n {
		switch c := reported[k]; {
		case c > 1:
			if twice++; twice <= 3 {
				t.Errorf("t%d reported %d times with unmask", k, c)
			}
		case c == 0 && !removed[k]:
			if lost++; lost <= 3 {
				t.Errorf("t%d lost: ready, never trashed, never reported", k)
			}
		}
	}
	if twice+lost > 0 {
		t.Errorf("%d tags reported twice, %d lost", twice, lost)
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestPoll_Interleaved: polls pause every three nodes, and at each pause
// the test does random work on the registry — new requests, ready
// replies, trashed requests (down to empty groups, which are recycled),
// other polls — and checks each poll against a model: a poll reports,
// in ready order, the replies ready when it began, minus those trashed or
// taken by an unmask poll meanwhile; what becomes ready meanwhile is for
// the next poll; unmask reports a tag once.
func TestPoll_Interleaved(t *testing.T) {
	defer poller.SetPollChunk(3)()
	ctx := context.Background()
	type req struct {
		group, tag string
		id         poller.ID
		seq        int // when its reply became ready; 0: pending
		masked     bool
	}
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		r := poller.NewRegistry[int]()
		live := map[string]*req{} // by tag
		next, seq := 0, 0
		groups := []string{"g", "h"}
		readyOf := func(group string) []*req { // ready, unmasked, in ready order
			var out []*req
			for _, q := range live {
				if q.group == group && q.seq > 0 && !q.masked {
					out = append(out, q)
				}
			}
			sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
			return out
		}
		pick := func(ok func(*req) bool) *req {
			var c []*req
			for _, q := range live {
				if ok(q) {
					c = append(c, q)
				}
			}
			if len(c) == 0 {
				return nil
			}
			sort.Slice(c, func(i, j int) bool { return c[i].tag < c[j].tag })
			return c[rng.IntN(len(c))]
		}
		var removedNow, maskedNow map[string]bool // during the outer poll
		var outerS map[string]bool                // what the outer unmask poll may take
		// check runs one poll and checks it against the model: S, what was
		// ready when it began; allowedMissing, what others may take or
		// trash meanwhile.
		var doPoll func(depth int)
		depth := 0
		doPoll = func(d int) {
			group := groups[rng.IntN(2)]
			unmask := rng.IntN(2) == 0
			S := readyOf(group)
			if d == 0 {
				removedNow, maskedNow, outerS = map[string]bool{}, map[string]bool{}, map[string]bool{}
				if unmask {
					for _, q := range S {
						outerS[q.tag] = true
					}
				}
			}
			depth = d + 1
			tags, err := r.Poll(ctx, group, 0, unmask)
			depth = d
			if err != nil && !errors.Is(err, poller.ErrGroupEmpty) {
				t.Fatalf("seed %d: %v", seed, err)
			}
			got := map[string]bool{}
			i := 0
			for _, tag := range tags {
				got[string(tag)] = true
				for i < len(S) && S[i].tag != string(tag) {
					q := S[i]
					if d == 0 && !removedNow[q.tag] && !maskedNow[q.tag] || d > 0 && !outerS[q.tag] {
						t.Fatalf("seed %d: poll(%s, unmask=%v) = %s: %s missing", seed, group, unmask, list(tags), q.tag)
					}
					i++
				}
				if i == len(S) {
					t.Fatalf("seed %d: poll(%s, unmask=%v) = %s: %s not ready at the start, or out of order (ready then: %d)", seed, group, unmask, list(tags), tag, len(S))
				}
				i++
				if d == 0 && unmask && maskedNow[string(tag)] {
					t.Fatalf("seed %d: %s reported twice with unmask", seed, tag)
				}
			}
			for ; i < len(S); i++ {
				if q := S[i]; d == 0 && !removedNow[q.tag] && !maskedNow[q.tag] || d > 0 && !outerS[q.tag] {
					t.Fatalf("seed %d: poll(%s, unmask=%v) = %s: %s missing at the end", seed, group, unmask, list(tags), q.tag)
				}
			}
			if unmask {
				for tag := range got {
					if q := live[tag]; q != nil {
						q.masked = true
					}
					if d > 0 {
						maskedNow[tag] = true
					}
				}
			}
		}
		op := func() {
			switch k := rng.IntN(20); {
			case k < 8: // a new request, pending or recovered ready
				q := &req{group: groups[rng.IntN(2)], tag: fmt.Sprintf("t%d", next), id: nid(next)}
				next++
				ready := rng.IntN(4) == 0
				if ready {
					seq++
					q.seq = seq
				}
				if err := r.Insert(q.group, q.id, q.tag, ready, 0); err != nil {
					t.Fatal(err)
				}
				live[q.tag] = q
			case k < 13:
				if q := pick(func(q *req) bool { return q.seq == 0 }); q != nil {
					seq++
					q.seq = seq
					r.SetReady(q.id)
				}
			case k < 16:
				if q := pick(func(*req) bool { return true }); q != nil {
					r.Remove(q.id)
					delete(live, q.tag)
					if removedNow != nil {
						removedNow[q.tag] = true
					}
				}
			case k < 19:
				if depth == 1 {
					doPoll(1)
				}
			default: // now and then, trash a whole group: it ends
				if rng.IntN(4) == 0 {
					group := groups[rng.IntN(2)]
					for tag, q := range live {
						if q.group == group {
							r.Remove(q.id)
							delete(live, tag)
							if removedNow != nil {
								removedNow[tag] = true
							}
						}
					}
				}
			}
		}
		restore := poller.SetPollHook(func(locked bool) {
			if !locked && depth == 1 {
				for range rng.IntN(4) {
					op()
				}
			}
		})
		for range 400 {
			for range rng.IntN(12) {
				op()
			}
			doPoll(0)
			removedNow, maskedNow, outerS = nil, nil, nil
			if err := r.CheckInvariants(); err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
		}
		restore()
		for _, g := range groups {
			want := readyOf(g)
			tags, _ := r.Poll(ctx, g, 0, true)
			if len(tags) != len(want) {
				t.Fatalf("seed %d: last poll of %s: %s, want %d tags", seed, g, list(tags), len(want))
			}
			for i, q := range want {
				if string(tags[i]) != q.tag {
					t.Fatalf("seed %d: last poll of %s: %s, want %s at %d", seed, g, list(tags), q.tag, i)
				}
			}
		}
	}
}

// TestGroupChurn_Concurrent: callers sharing a group that empties and
// ends on nearly every call (a proxy whose calls come one at a time), its
// struct recycled, while another polls it: each finds its own request, no
// request is lost, and nothing is left behind.
func TestGroupChurn_Concurrent(t *testing.T) {
	ctx := context.Background()
	r := poller.NewRegistry[int]()
	var wg sync.WaitGroup
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.Poll(ctx, "p", 0, false)
			r.Members("p")
		}
	}()
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				rid := nid(w*1_000_000 + i)
				tag := fmt.Sprintf("w%d", w)
				if err := r.Add("p", rid, tag); err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				r.SetReady(rid)
				if !r.Wait(ctx, rid, 0) {
					t.Errorf("worker %d: not ready", w)
				}
				if got, ok := r.ByTag("p", []byte(tag)); !ok || got != rid {
					t.Errorf("worker %d: ByTag found %v, %v", w, got, ok)
				}
				if !r.Remove(rid) {
					t.Errorf("worker %d: request lost", w)
				}
				r.Add(fmt.Sprintf("q%d", i%3), rid, "x") // other groups, reusing spare ones
				r.Remove(rid)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-stopped
	if r.Count() != 0 || r.Len("p") != 0 || r.Waiting() != 0 {
		t.Fatalf("left behind: %d requests, %d in p, %d waiters", r.Count(), r.Len("p"), r.Waiting())
	}
	if err := r.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestRange_Chunks: Range lets other callers in every so many requests,
// yet sees once each request that lives throughout, and stops when asked.
func TestRange_Chunks(t *testing.T) {
	r := poller.NewRegistry[int]()
	const n = 5000
	for k := range n {
		r.Insert("g", nid(k), "", false, k)
	}
	seen := make([]int, n)
	added := make(chan struct{})
	calls := 0
	r.Range(func(i poller.ID, v int) bool {
		if calls++; calls == 1 {
			// Work of others while Range is under way: it may be seen or not.
			go func() {
				defer close(added)
				for k := n; k < n+100; k++ {
					r.Insert("h", nid(k), "", false, k)
				}
			}()
		}
		if v < n {
			seen[v]++
		}
		return true
	})
	<-added
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("request %d seen %d times", k, c)
		}
	}
	calls = 0
	r.Range(func(poller.ID, int) bool { calls++; return calls < 2000 })
	if calls != 2000 {
		t.Fatalf("Range went on after false: %d calls", calls)
	}
}
