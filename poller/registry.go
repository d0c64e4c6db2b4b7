package poller

import (
	"context"
	"sync"
	"time"
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
type Registry struct {
	mu     sync.Mutex // guards groups, spare and everything reachable from them
	groups map[string]*group
	byID   map[ID]*entry
	// spare holds emptied small groups for reuse: a proxy whose calls come
	// one at a time empties and refills its group on every call.
	spare []*group
}

// Reuse limits: how many empty groups are kept, and the largest group
// (in entries) whose maps are worth keeping.
const (
	maxSpareGroups  = 64
	maxSpareEntries = 64
)

type group struct {
	name    string
	entries map[ID]*entry
	byTag   map[string]*entry // non-empty tags only
	// peak is the most entries the group held, to keep big maps from
	// being recycled.
	peak int
	// changed, when a group poller waits, is closed (and dropped) whenever
	// a reply of the group becomes ready or a request leaves.
	changed chan struct{}
}

type entry struct {
	id     ID
	g      *group
	tag    []byte
	ready  bool
	masked bool // reported by a poll with unmask=TRUE
	// readyC is closed when the reply is ready. It is made only when
	// someone waits: most entries never need one, and a million pending
	// requests should not cost a million channels.
	readyC chan struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{groups: make(map[string]*group), byID: make(map[ID]*entry)}
}

// Add records a live request in a group under tag (which may be empty:
// only non-empty tags must be unique among the group's live requests).
func (r *Registry) Add(groupName string, id ID, tag []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupName]
	if g == nil {
		g = r.newGroup(groupName)
		r.groups[groupName] = g
	}
	if len(tag) > 0 {
		if _, dup := g.byTag[string(tag)]; dup {
			return ErrDuplicateTag
		}
	}
	e := &entry{id: id, g: g}
	if len(tag) > 0 {
		e.tag = append([]byte(nil), tag...)
	}
	g.entries[id] = e
	g.peak = max(g.peak, len(g.entries))
	if len(tag) > 0 {
		g.byTag[string(tag)] = e
	}
	r.byID[id] = e
	return nil
}

// TagFree reports whether tag may be used for a new request of the group.
func (r *Registry) TagFree(groupName string, tag []byte) bool {
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
func (r *Registry) SetReady(id ID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil || e.ready {
		return
	}
	e.ready = true
	if e.readyC != nil {
		close(e.readyC)
	}
	e.g.wake()
}

// newGroup returns an empty group, a spare one if there is. r.mu must be held.
func (r *Registry) newGroup(name string) *group {
	if n := len(r.spare); n > 0 {
		g := r.spare[n-1]
		r.spare[n-1] = nil
		r.spare = r.spare[:n-1]
		g.name = name
		return g
	}
	return &group{name: name, entries: make(map[ID]*entry), byTag: make(map[string]*entry)}
}

// dropGroup forgets an empty group, keeping it for reuse if it is small.
// r.mu must be held.
func (r *Registry) dropGroup(g *group) {
	delete(r.groups, g.name)
	if g.peak <= maxSpareEntries && len(r.spare) < maxSpareGroups {
		clear(g.byTag)
		*g = group{entries: g.entries, byTag: g.byTag}
		r.spare = append(r.spare, g)
	}
}

// wake wakes the group's pollers, if any.
func (g *group) wake() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}

// waitChan returns the channel wake closes. r.mu must be held.
func (g *group) waitChan() chan struct{} {
	if g.changed == nil {
		g.changed = make(chan struct{})
	}
	return g.changed
}

// Remove forgets a trashed request. It returns false if it was unknown.
func (r *Registry) Remove(id ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.byID[id]
	if e == nil {
		return false
	}
	delete(r.byID, id)
	g := e.g
	delete(g.entries, id)
	if len(e.tag) > 0 && g.byTag[string(e.tag)] == e {
		delete(g.byTag, string(e.tag))
	}
	g.wake()
	if len(g.entries) == 0 {
		r.dropGroup(g)
	}
	return true
}

// ByTag returns the id of the group's live request with the tag.
func (r *Registry) ByTag(groupName string, tag []byte) (ID, bool) {
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
func (r *Registry) Members(groupName string) []ID {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[groupName]
	if g == nil {
		return nil
	}
	ids := make([]ID, 0, len(g.entries))
	for id := range g.entries {
		ids = append(ids, id)
	}
	return ids
}

// Len returns how many live requests the group holds.
func (r *Registry) Len(groupName string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.groups[groupName]; g != nil {
		return len(g.entries)
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
func (r *Registry) Poll(ctx context.Context, groupName string, timeout time.Duration, unmask bool) ([][]byte, error) {
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		r.mu.Lock()
		g := r.groups[groupName]
		if g == nil || len(g.entries) == 0 {
			r.mu.Unlock()
			return nil, ErrGroupEmpty
		}
		var tags [][]byte
		for _, e := range g.entries {
			if e.ready && !e.masked {
				tags = append(tags, append([]byte(nil), e.tag...))
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
func (r *Registry) Wait(ctx context.Context, id ID, timeout time.Duration) bool {
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
	if e.readyC == nil {
		e.readyC = make(chan struct{})
	}
	readyC := e.readyC
	r.mu.Unlock()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	select {
	case <-readyC:
		return true
	case <-deadline:
		return false
	case <-ctx.Done():
		return false
	}
}
