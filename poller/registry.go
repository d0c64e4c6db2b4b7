package poller

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/internal/timerpool"
)

// ID identifies a request: 16 random bytes (also part of its object keys).
type ID [16]byte

// Forever is the poll timeout that blocks until a reply is ready.
const Forever time.Duration = -1

// Timeout converts a wire timeout in milliseconds to a Duration: values of
// 2^31 and above (0xFFFFFFFF in particular) mean Forever (docs/native-messaging.md).
func Timeout(ms uint32) time.Duration {
	if ms >= 1<<31 {
		return Forever
	}
	return time.Duration(ms) * time.Millisecond
}

// Registry holds every polling group. It is safe for concurrent use.
//
// It is the index a restart rebuilds for every pending request, so an
// entry is kept small (RELIABILITY.md: a million pending requests): a
// group threads its members on one list through the entries rather than
// keeping a map of its own, and the channels of the rare callers that
// wait on one request live in a side map.
//
// Two kinds of lock, so that no group's work holds up another's (doc.go
// "Cost"): Registry.mu guards the maps — groups by name, requests by id,
// waiters — and the requests' values, and is held for a map operation or
// two, never while waiting for another lock; each group's own mu guards
// its member list, its tags and its members' readiness, and is held for
// at most pollChunk members at a time. A group's lock may be held while
// taking Registry.mu, never the other way round.
//
// Each request may carry a value of type V (the agent keeps its request
// record there), so that one map, not two, finds a request by its id.
type Registry[V any] struct {
	mu      sync.Mutex // guards the four fields below and every entry's val
	groups  map[string]*group[V]
	byID    map[ID]*entry[V]
	waiters map[ID]chan struct{} // closed when the request's reply is ready, or it leaves
	// spare holds emptied small groups for reuse: a proxy whose calls come
	// one at a time empties and refills its group on every call.
	spare []*group[V]

	// visited counts the list nodes polls looked at: what a poll costs,
	// for the tests, which count it rather than time it.
	visited atomic.Int64
}

// Reuse limits: how many empty groups are kept, and the most tagged
// entries a group may have held for its tag map to be worth keeping.
const (
	maxSpareGroups = 64
	maxSpareTags   = 64
)

// Chunks: the most list nodes a poll looks at, and the most requests
// Range calls its function with, in one hold of a lock — some tens of
// microseconds; in between, the lock's other callers get in.
var pollChunk = 1024

const rangeChunk = 1024

// letIn is called between unlocking a lock and locking it again, so that
// the goroutines waiting for it get in: sync.Mutex lets a running
// goroutine take the lock back ahead of a woken waiter, for up to a
// millisecond.
func letIn() { runtime.Gosched() }

// testHookPollChunk, set by tests only, is called where a poll pauses
// between two chunks: first with the group still locked, then unlocked.
var testHookPollChunk func(locked bool)

type group[V any] struct {
	// mu guards every field below but gen and name, and the list links and
	// flags of the group's entries.
	mu sync.Mutex
	// gen counts the group's ends. It changes with both mu and Registry.mu
	// held, so that a caller that found the group under Registry.mu, then
	// locked mu, knows whether it is still the same group (an emptied
	// group is recycled, under another name).
	gen  uint64
	name string // set with Registry.mu held, while the group is unused
	// first heads the member list: first the "ready part", the members
	// whose replies are ready and not yet reported with unmask, in the
	// order they became ready, up to readyLast (nil: none); then every
	// other member. A poll walks the ready part alone, so that it costs
	// O(ready replies), not O(members). A poll that spans several chunks
	// keeps two markers in the ready part.
	first, readyLast *entry[V]
	n                int                  // members
	nready           int                  // members in the ready part
	readyBytes       int                  // the length of their tags, together
	byTag            map[string]*entry[V] // non-empty tags only
	// peak is the most tagged entries the group held, to keep big maps
	// from being recycled.
	peak int
	// changed, when a group poller waits, is closed (and dropped) whenever
	// a reply of the group becomes ready or a request leaves.
	changed chan struct{}
}

// An entry is a live request, or a poll's marker in the member list.
// Adding fields costs memory per request: the five flags fit where the
// struct's alignment left room.
type entry[V any] struct {
	id         ID
	g          *group[V] // set before the entry is published; never changes
	prev, next *entry[V] // the group's member list
	tag        string
	val        V // guarded by Registry.mu; the rest by g.mu
	ready      bool
	masked     bool // reported by a poll with unmask=TRUE
	removed    bool // the request left the registry
	waited     bool // a Wait may have a channel in Registry.waiters
	marker     bool // not a request: a poll's place in the list
}

// NewRegistry returns an empty registry.
func NewRegistry[V any]() *Registry[V] {
	return &Registry[V]{groups: make(map[string]*group[V]), byID: make(map[ID]*entry[V]), waiters: make(map[ID]chan struct{})}
}

// Add records a live request in a group under tag (which may be empty:
// only non-empty tags must be unique among the group's live requests).
func (r *Registry[V]) Add(groupName string, id ID, tag string) error {
	var zero V
	return r.Insert(groupName, id, tag, false, zero)
}

// AddReady is Add for a request whose reply is ready already (one
// recovered after a restart).
func (r *Registry[V]) AddReady(groupName string, id ID, tag string) error {
	var zero V
	return r.Insert(groupName, id, tag, true, zero)
}

// Insert is Add with the request's value, and its readiness, given at
// once. A request inserted ready counts, for the order Poll reports
// replies in, as becoming ready now.
func (r *Registry[V]) Insert(groupName string, id ID, tag string, ready bool, v V) error {
	e := &entry[V]{id: id, tag: tag, val: v}
	for {
		r.mu.Lock()
		g := r.groups[groupName]
		if g == nil {
			g = r.newGroup(groupName)
			r.groups[groupName] = g
		}
		gen := g.gen
		r.mu.Unlock()
		g.mu.Lock()
		if g.gen == gen {
			err := r.insertLocked(g, e, ready)
			g.mu.Unlock()
			return err
		}
		// The group emptied and ended between the two locks: find or
		// make the one that now has the name.
		g.mu.Unlock()
	}
}

// insertLocked links e into g. g.mu must be held.
func (r *Registry[V]) insertLocked(g *group[V], e *entry[V], ready bool) error {
	if e.tag != "" {
		if _, dup := g.byTag[e.tag]; dup {
			return ErrDuplicateTag // so g has a member, and lives on
		}
	}
	e.g = g
	if ready {
		e.ready = true
		g.enterReady(e)
	} else {
		g.linkAfter(g.readyLast, e)
	}
	g.n++
	if e.tag != "" {
		g.byTag[e.tag] = e
		g.peak = max(g.peak, len(g.byTag))
	}
	r.mu.Lock()
	r.byID[e.id] = e
	r.mu.Unlock()
	if ready {
		g.wake()
	}
	return nil
}

// Value returns the value of a live request, or the zero V.
func (r *Registry[V]) Value(id ID) V {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.byID[id]; e != nil {
		return e.val
	}
	var zero V
	return zero
}

// SetValue sets the value of a live request; it reports false (and keeps
// nothing) for an unknown one.
func (r *Registry[V]) SetValue(id ID, v V) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return false
	}
	e.val = v
	return true
}

// Range calls f with every live request and its value until f returns
// false. The registry is locked while f runs: f must not call it. So as
// not to hold every other caller up for the whole walk, Range lets them
// in every rangeChunk requests: as in a range over a map, a request added
// or removed during the call may be seen or not; every other is seen
// once.
func (r *Registry[V]) Range(f func(ID, V) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id, e := range r.byID {
		if !f(id, e.val) {
			return
		}
		if n++; n == rangeChunk {
			n = 0
			r.mu.Unlock()
			letIn()
			r.mu.Lock()
		}
	}
}

// Count returns how many live requests the registry holds.
func (r *Registry[V]) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// TagFree reports whether tag may be used for a new request of the group.
func (r *Registry[V]) TagFree(groupName string, tag []byte) bool {
	if len(tag) == 0 {
		return true
	}
	g := r.lockGroup(groupName)
	if g == nil {
		return true
	}
	_, used := g.byTag[string(tag)]
	g.mu.Unlock()
	return !used
}

// SetReady marks the request's reply as available and wakes its waiters.
func (r *Registry[V]) SetReady(id ID) {
	r.mu.Lock()
	e := r.byID[id]
	r.mu.Unlock()
	if e == nil {
		return
	}
	g := e.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if e.removed || e.ready {
		return // trashed between the two locks, or ready already
	}
	e.ready = true
	g.unlink(e)
	g.enterReady(e)
	if e.waited {
		e.waited = false
		r.mu.Lock()
		if c, ok := r.waiters[id]; ok {
			close(c)
			delete(r.waiters, id)
		}
		r.mu.Unlock()
	}
	g.wake()
}

// lockGroup returns the group with the name, locked, or nil if there is
// none — or if it ended between the two locks, which it did empty.
func (r *Registry[V]) lockGroup(name string) *group[V] {
	r.mu.Lock()
	g := r.groups[name]
	var gen uint64
	if g != nil {
		gen = g.gen
	}
	r.mu.Unlock()
	if g == nil {
		return nil
	}
	g.mu.Lock()
	if g.gen != gen {
		g.mu.Unlock()
		return nil
	}
	return g
}

// newGroup returns an empty group, a spare one if there is. r.mu must be
// held.
func (r *Registry[V]) newGroup(name string) *group[V] {
	if n := len(r.spare); n > 0 {
		g := r.spare[n-1]
		r.spare[n-1] = nil
		r.spare = r.spare[:n-1]
		g.name = name
		return g
	}
	return &group[V]{name: name, byTag: make(map[string]*entry[V])}
}

// endGroup forgets a group whose last member left, keeping it for reuse
// if its tag map is small. g.mu must be held; the polls that paused
// within g find, by its gen, that it ended, and leave its list alone.
func (r *Registry[V]) endGroup(g *group[V]) {
	g.wake()
	g.first, g.readyLast = nil, nil // and the markers of paused polls
	g.nready, g.readyBytes = 0, 0
	r.mu.Lock()
	defer r.mu.Unlock()
	g.gen++
	if r.groups[g.name] == g {
		delete(r.groups, g.name)
	}
	if g.peak <= maxSpareTags && len(r.spare) < maxSpareGroups {
		clear(g.byTag)
		g.peak = 0
		r.spare = append(r.spare, g)
	}
}

// linkAfter puts e in the member list after p, or first if p is nil.
// g.mu must be held, as for every list operation below.
func (g *group[V]) linkAfter(p, e *entry[V]) {
	e.prev = p
	if p == nil {
		e.next = g.first
		g.first = e
	} else {
		e.next = p.next
		p.next = e
	}
	if e.next != nil {
		e.next.prev = e
	}
}

// unlink takes e out of the member list.
func (g *group[V]) unlink(e *entry[V]) {
	if e == g.readyLast {
		g.readyLast = e.prev // the ready part is a prefix: e.prev is in it
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		g.first = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
}

// appendReady puts e (unlinked) last in the ready part.
func (g *group[V]) appendReady(e *entry[V]) {
	g.linkAfter(g.readyLast, e)
	g.readyLast = e
}

// enterReady puts a member (unlinked) last in the ready part.
func (g *group[V]) enterReady(e *entry[V]) {
	g.appendReady(e)
	g.nready++
	g.readyBytes += len(e.tag)
}

// leaveReady counts a member out of the ready part.
func (g *group[V]) leaveReady(e *entry[V]) {
	g.nready--
	g.readyBytes -= len(e.tag)
}

// mask moves e, reported with unmask, from the ready part to just after it.
func (g *group[V]) mask(e *entry[V]) {
	g.unlink(e)
	e.masked = true
	g.leaveReady(e)
	g.linkAfter(g.readyLast, e)
}

// wake wakes the group's pollers, if any.
func (g *group[V]) wake() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// waitChan returns the channel wake closes.
func (g *group[V]) waitChan() chan struct{} {
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// Waiting returns how many requests have a caller waiting in Wait (for
// tests and metrics).
func (r *Registry[V]) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters)
}

// Remove forgets a trashed request. It returns false if it was unknown.
func (r *Registry[V]) Remove(id ID) bool {
	r.mu.Lock()
	e := r.byID[id]
	if e == nil {
		r.mu.Unlock()
		return false
	}
	delete(r.byID, id)
	if c, ok := r.waiters[id]; ok {
		close(c) // its waiter finds it gone
		delete(r.waiters, id)
	}
	r.mu.Unlock()
	g := e.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if e.ready && !e.masked {
		g.leaveReady(e)
	}
	g.unlink(e)
	e.removed = true
	g.n--
	if e.tag != "" && g.byTag[e.tag] == e {
		delete(g.byTag, e.tag)
	}
	g.wake()
	if g.n == 0 {
		r.endGroup(g)
	}
	return true
}

// ByTag returns the id of the group's live request with the tag.
func (r *Registry[V]) ByTag(groupName string, tag []byte) (ID, bool) {
	g := r.lockGroup(groupName)
	if g == nil {
		return ID{}, false
	}
	defer g.mu.Unlock()
	if e := g.byTag[string(tag)]; e != nil {
		return e.id, true
	}
	return ID{}, false
}

// Members returns the ids of the group's live requests, in no particular
// order. It holds the group's lock, not the registry's, for the whole
// walk: the group's other callers wait for it; no one else does.
func (r *Registry[V]) Members(groupName string) []ID {
	g := r.lockGroup(groupName)
	if g == nil {
		return nil
	}
	defer g.mu.Unlock()
	ids := make([]ID, 0, g.n)
	for e := g.first; e != nil; e = e.next {
		if !e.marker {
			ids = append(ids, e.id)
		}
	}
	return ids
}

// Len returns how many live requests the group holds.
func (r *Registry[V]) Len(groupName string) int {
	g := r.lockGroup(groupName)
	if g == nil {
		return 0
	}
	defer g.mu.Unlock()
	return g.n
}

// Poll returns the tags of the group's requests whose replies are ready
// (RequestAgent::poll and RequestProxy::poll), in the order the replies
// became ready (doc.go "Order"): SetReady's order, a request inserted
// ready — a reply recovered after a restart — counting as ready when
// inserted. With unmask, the tags returned are
// masked: no later poll reports them again; without, they are reported
// until their requests are trashed. With nothing to report, Poll waits up
// to timeout (0: not at all; Forever: until something is ready) and then
// returns an empty list. A group with no live request is ErrGroupEmpty.
//
// A poll costs O(tags returned), whatever the group's size. It gathers
// them pollChunk at a time, letting the group's other callers in between
// (other groups never wait for it): a reply that becomes ready meanwhile
// is left for the next poll, a request trashed meanwhile may be reported
// or not, and two polls with unmask at once share the replies, each tag
// going to one of them.
func (r *Registry[V]) Poll(ctx context.Context, groupName string, timeout time.Duration, unmask bool) ([][]byte, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		deadline = t.C
	}
	for {
		g := r.lockGroup(groupName)
		if g == nil {
			return nil, ErrGroupEmpty
		}
		if g.n == 0 { // made by an Insert that has not linked its request yet
			g.mu.Unlock()
			return nil, ErrGroupEmpty
		}
		var changed chan struct{}
		if g.nready > 0 {
			// gather unlocks g.mu.
			if tags := r.gather(g, unmask); len(tags) > 0 || timeout == 0 {
				return tags, nil
			}
			// Others took or trashed them while it paused: wait again.
			continue
		}
		if timeout != 0 {
			changed = g.waitChan()
		}
		g.mu.Unlock()
		if timeout == 0 {
			return nil, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return [][]byte{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// pollPlace holds the two markers a poll that spans several chunks keeps
// in its group's ready part: where it stands, and where the ready part
// ended when it began (what becomes ready later is for the next poll).
type pollPlace[V any] struct{ at, end entry[V] }

// gather returns the tags of g's ready part, masking them with unmask, in
// chunks. g.mu must be held; gather unlocks it.
func (r *Registry[V]) gather(g *group[V], unmask bool) [][]byte {
	gen := g.gen
	// The poll returns at most the ready part as it is now: two
	// allocations, whatever the number of tags.
	tags := make([][]byte, 0, g.nready)
	var (
		buf     = make([]byte, 0, g.readyBytes) // the tags' bytes
		place   *pollPlace[V]
		p       *entry[V] // the next node is p.next, or g.first if p is nil
		visited int64
	)
	for {
		for budget := pollChunk; ; budget-- {
			next := g.first
			if p != nil {
				next = p.next
			}
			if next == nil || place != nil && next == &place.end || !next.marker && (!next.ready || next.masked) {
				// The end of the ready part, or of what it was.
				if place != nil {
					g.unlink(&place.at)
					g.unlink(&place.end)
				}
				g.mu.Unlock()
				r.visited.Add(visited)
				return tags
			}
			if budget == 0 {
				break
			}
			visited++
			if next.marker { // another poll's
				p = next
				continue
			}
			s := len(buf)
			buf = append(buf, next.tag...)
			// Capped: a caller appending to a tag cannot overwrite the next.
			tags = append(tags, buf[s:len(buf):len(buf)])
			if unmask {
				g.mask(next) // p.next is now the node after next
			} else {
				p = next
			}
		}
		// Pause: mark the place, and at the first pause the end.
		if place == nil {
			place = &pollPlace[V]{}
			place.at.marker, place.end.marker = true, true
			g.appendReady(&place.end)
			g.linkAfter(p, &place.at)
		} else if p != &place.at {
			g.unlink(&place.at)
			g.linkAfter(p, &place.at)
		}
		p = &place.at
		hook := testHookPollChunk
		if hook != nil {
			hook(true)
		}
		g.mu.Unlock()
		r.visited.Add(visited)
		visited = 0
		if hook != nil {
			hook(false)
		}
		letIn()
		g.mu.Lock()
		if g.gen != gen {
			// Its last request left meanwhile, and the group ended, its
			// list (with the markers) dropped.
			g.mu.Unlock()
			return tags
		}
	}
}

// Wait waits up to timeout for the request's reply and reports whether it
// is ready. It returns false at once for an unknown request.
func (r *Registry[V]) Wait(ctx context.Context, id ID, timeout time.Duration) bool {
	r.mu.Lock()
	e := r.byID[id]
	r.mu.Unlock()
	if e == nil {
		return false
	}
	g := e.g
	g.mu.Lock()
	if e.removed || e.ready || timeout == 0 {
		ready := e.ready && !e.removed
		g.mu.Unlock()
		return ready
	}
	r.mu.Lock()
	if r.byID[id] != e {
		// Remove has begun: it closed the waiter channels already.
		r.mu.Unlock()
		g.mu.Unlock()
		return false
	}
	readyC, ok := r.waiters[id]
	if !ok {
		readyC = make(chan struct{})
		r.waiters[id] = readyC
	}
	r.mu.Unlock()
	e.waited = true
	g.mu.Unlock()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		deadline = t.C
	}
	select {
	case <-readyC:
		// Closed on readiness, or because the request left.
		return r.isReady(id)
	case <-deadline:
		return false
	case <-ctx.Done():
		return false
	}
}

// isReady reports whether the request is live and its reply ready.
func (r *Registry[V]) isReady(id ID) bool {
	r.mu.Lock()
	e := r.byID[id]
	r.mu.Unlock()
	if e == nil {
		return false
	}
	e.g.mu.Lock()
	defer e.g.mu.Unlock()
	return e.ready && !e.removed
}
