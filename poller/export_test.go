package poller

import (
	"errors"
	"fmt"
)

// Visited returns how many list nodes the registry's polls looked at.
func (r *Registry[V]) Visited() int64 { return r.visited.Load() }

// SetPollChunk makes polls pause every n nodes, until restore is called.
func SetPollChunk(n int) (restore func()) {
	old := pollChunk
	pollChunk = n
	return func() { pollChunk = old }
}

// SetPollHook has f called where a poll pauses between two chunks: with
// the group locked, then unlocked.
func SetPollHook(f func(locked bool)) (restore func()) {
	old := testHookPollChunk
	testHookPollChunk = f
	return func() { testHookPollChunk = old }
}

// CheckInvariants checks every group's member list against its counts,
// its tag map and the map by id; it must be called while nothing else
// uses the registry.
func (r *Registry[V]) CheckInvariants() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	members := 0
	for name, g := range r.groups {
		g.mu.Lock()
		n, nready, bytes, tagged, inReady := 0, 0, 0, 0, g.readyLast != nil
		var prev *entry[V]
		for e := g.first; e != nil; prev, e = e, e.next {
			if e.prev != prev {
				errs = append(errs, fmt.Errorf("group %q: broken back link", name))
			}
			if !e.marker {
				n++
				if e.g != g || r.byID[e.id] != e || e.removed {
					errs = append(errs, fmt.Errorf("group %q: member %x not in the map by id", name, e.id[:2]))
				}
				if e.tag != "" {
					tagged++
					if g.byTag[e.tag] != e {
						errs = append(errs, fmt.Errorf("group %q: tag %q not in the tag map", name, e.tag))
					}
				}
				if want := e.ready && !e.masked; want != inReady {
					errs = append(errs, fmt.Errorf("group %q: tag %q (ready %v masked %v) on the wrong side of the ready part", name, e.tag, e.ready, e.masked))
				} else if want {
					nready++
					bytes += len(e.tag)
				}
			} else if !inReady {
				errs = append(errs, fmt.Errorf("group %q: a marker after the ready part", name))
			}
			if e == g.readyLast {
				inReady = false
			}
		}
		if inReady {
			errs = append(errs, fmt.Errorf("group %q: readyLast not in the list", name))
		}
		if n != g.n || nready != g.nready || bytes != g.readyBytes || tagged != len(g.byTag) || n == 0 {
			errs = append(errs, fmt.Errorf("group %q: %d members (n %d), %d ready (nready %d) with %d tag bytes (%d), %d tagged (map %d)",
				name, n, g.n, nready, g.nready, bytes, g.readyBytes, tagged, len(g.byTag)))
		}
		members += n
		g.mu.Unlock()
	}
	if members != len(r.byID) {
		errs = append(errs, fmt.Errorf("%d members in groups, %d requests by id", members, len(r.byID)))
	}
	return errors.Join(errs...)
}
