package poller

import (
	"context"
	"sync"
	"time"

	"github.com/requestagent/requestagent/internal/timerpool"
)

// ID identifies a request: 16 random bytes (also part of its object keys).
type ID [16]byte

// Forever is the poll timeout that blocks until a reply is ready.
const Forever time.Duration = -1

// Timeout converts a wire timeout in milliseconds to a Duration: values of
// 2^31 and above (0xFFFFFFFF in particular) mean Forever (PRODUCT.md §3).
func Timeout(ms uint32) time.Duration {
	if ms >= 1<<31 {
		return Forever
	}
	return time.Duration(ms) * time.Millisecond
}

// Registry holds every polling group. It is safe for concurrent use.
//
// It is the index a restart rebuilds for every pending request, so an
// entry is kept small (PRODUCT.md §6: a million pending requests): a
// group threads its members on a list through the entries rather than
// keeping a map of its own, and the channels of the rare callers that
// wait on one request live in a side map.
//
// Each request may carry a value of type V (the agent keeps its request
// record there), so that one map, not two, finds a request by its id.
type Registry[V any] struct {
	mu      sync.Mutex // guards everything below and everything reachable from it
	groups  map[string]*group[V]
	byID    map[ID]*entry[V]
	waiters map[ID]chan struct{} // closed when the request's reply is ready
	// spare holds emptied small groups for reuse: a proxy whose calls come
	// one at a time empties and refills its group on every call.
	spare []*group[V]
}

// Reuse limits: how many empty groups are kept, and the most tagged
// entries a group may have held for its tag map to be worth keeping.
const (
	maxSpareGroups = 64
	maxSpareTags   = 64
)

type group[V any] struct {
	name  string
	first *entry[V] // the members, newest first
	n     int
	byTag map[string]*entry[V] // non-empty tags only
	// peak is the most tagged entries the group held, to keep big maps
	// from being recycled.
	peak int
	// changed, when a group poller waits, is closed (and dropped) whenever
	// a reply of the group becomes ready or a request leaves.
	changed chan struct{}
}

type entry[V any] struct {
	id         ID
	g          *group[V]
	prev, next *entry[V] // the group's member list
	tag        string
	val        V
	ready      bool
	masked     bool // reported by a poll with unmask=TRUE
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

// Insert is Add with the request's value, and its readiness, given at once.
func (r *Registry[V]) Insert(groupName string, id ID, tag string, ready bool, v V) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupName]
	if g == nil {
		g = r.newGroup(groupName)
		r.groups[groupName] = g
	}
	if tag != "" {
		if _, dup := g.byTag[tag]; dup {
			if g.n == 0 {
				r.dropGroup(g)
			}
			return ErrDuplicateTag
		}
	}
	e := &entry[V]{id: id, g: g, tag: tag, val: v, ready: ready, next: g.first}
	if g.first != nil {
		g.first.prev = e
	}
	g.first = e
	g.n++
	if tag != "" {
		g.byTag[tag] = e
		g.peak = max(g.peak, len(g.byTag))
	}
	r.byID[id] = e
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
// false. The registry is locked meanwhile: f must not call it.
func (r *Registry[V]) Range(f func(ID, V) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range r.byID {
		if !f(id, e.val) {
			return
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
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupName]
	if g == nil {
		return true
	}
	_, used := g.byTag[string(tag)]
	return !used
}

// SetReady marks the request's reply as available and wakes its waiters.
func (r *Registry[V]) SetReady(id ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil || e.ready {
		return
	}
	e.ready = true
	if c, ok := r.waiters[id]; ok {
		close(c)
		delete(r.waiters, id)
	}
	e.g.wake()
}

// newGroup returns an empty group, a spare one if there is. r.mu must be held.
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

// dropGroup forgets an empty group, keeping it for reuse if its tag map
// is small. r.mu must be held.
func (r *Registry[V]) dropGroup(g *group[V]) {
	delete(r.groups, g.name)
	g.wake()
	if g.peak <= maxSpareTags && len(r.spare) < maxSpareGroups {
		clear(g.byTag)
		*g = group[V]{byTag: g.byTag}
		r.spare = append(r.spare, g)
	}
}

// wake wakes the group's pollers, if any.
func (g *group[V]) wake() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// waitChan returns the channel wake closes. r.mu must be held.
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
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return false
	}
	delete(r.byID, id)
	if c, ok := r.waiters[id]; ok {
		close(c) // its waiter finds it gone
		delete(r.waiters, id)
	}
	g := e.g
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		g.first = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	}
	g.n--
	if e.tag != "" && g.byTag[e.tag] == e {
		delete(g.byTag, e.tag)
	}
	g.wake()
	if g.n == 0 {
		r.dropGroup(g)
	}
	return true
}

// ByTag returns the id of the group's live request with the tag.
func (r *Registry[V]) ByTag(groupName string, tag []byte) (ID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[groupName]; g != nil {
		if e := g.byTag[string(tag)]; e != nil {
			return e.id, true
		}
	}
	return ID{}, false
}

// Members returns the ids of the group's live requests.
func (r *Registry[V]) Members(groupName string) []ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupName]
	if g == nil {
		return nil
	}
	ids := make([]ID, 0, g.n)
	for e := g.first; e != nil; e = e.next {
		ids = append(ids, e.id)
	}
	return ids
}

// Len returns how many live requests the group holds.
func (r *Registry[V]) Len(groupName string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[groupName]; g != nil {
		return g.n
	}
	return 0
}

// Poll returns the tags of the group's requests whose replies are ready
// (RequestAgent::poll and RequestProxy::poll). With unmask, the tags
// returned are masked: no later poll reports them again; without, they are
// reported until their requests are trashed. With nothing to report, Poll
// waits up to timeout (0: not at all; Forever: until something is ready)
// and then returns an empty list. A group with no live request is
// ErrGroupEmpty.
func (r *Registry[V]) Poll(ctx context.Context, groupName string, timeout time.Duration, unmask bool) ([][]byte, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		deadline = t.C
	}
	for {
		r.mu.Lock()
		g := r.groups[groupName]
		if g == nil || g.n == 0 {
			r.mu.Unlock()
			return nil, ErrGroupEmpty
		}
		var tags [][]byte
		for e := g.first; e != nil; e = e.next {
			if e.ready && !e.masked {
				tags = append(tags, []byte(e.tag))
				if unmask {
					e.masked = true
				}
			}
		}
		var changed chan struct{}
		if len(tags) == 0 && timeout != 0 {
			changed = g.waitChan()
		}
		r.mu.Unlock()
		if len(tags) > 0 || timeout == 0 {
			return tags, nil
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

// Wait waits up to timeout for the request's reply and reports whether it
// is ready. It returns false at once for an unknown request.
func (r *Registry[V]) Wait(ctx context.Context, id ID, timeout time.Duration) bool {
	r.mu.Lock()
	e := r.byID[id]
	if e == nil {
		r.mu.Unlock()
		return false
	}
	if e.ready {
		r.mu.Unlock()
		return true
	}
	if timeout == 0 {
		r.mu.Unlock()
		return false
	}
	readyC, ok := r.waiters[id]
	if !ok {
		readyC = make(chan struct{})
		r.waiters[id] = readyC
	}
	r.mu.Unlock()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		deadline = t.C
	}
	select {
	case <-readyC:
		// Closed on readiness, or because the request left.
		r.mu.Lock()
		defer r.mu.Unlock()
		e := r.byID[id]
		return e != nil && e.ready
	case <-deadline:
		return false
	case <-ctx.Done():
		return false
	}
}
