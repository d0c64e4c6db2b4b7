package agent

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// recoverState rebuilds the in-memory indexes from the store when the agent
// starts (RELIABILITY.md): proxies and polling groups come back, unread
// replies stay pollable under the same object keys, requests accepted but
// not yet sent are delegated now, and requests caught mid-delegation —
// which may have run — get COMM_FAILURE/COMPLETED_MAYBE as their result
// instead of being sent again. Only metadata is read; bodies stay on disk
// until a resumed request needs its own.
func (a *Agent) recoverState() error {
	var resume, unknown, callbacks []*requestRecord
	// A move whose rest waits until every record is back (a oneway caught
	// mid-delegation, trashed): its request and where its effects resume.
	type rest struct {
		r    *requestRecord
		tr   lifecycle.Transition
		next int
	}
	var rests []rest
	replied := 0
	err := a.store.Scan(prefixProxy, func(k, v []byte) error {
		p, err := decodeProxy(v)
		if err != nil {
			return a.recordError(err, k, len(prefixProxy))
		}
		a.proxies[p.id] = p
		a.receivers[p.receiverID] = p
		if p.bound {
			p.binding = a.restoreBinding(p.recipient)
		}
		return nil
	})
	if err != nil {
		return err
	}
	proxyOf := func(id poller.ID) *proxyRecord { return a.proxies[id] }
	now := time.Now().UnixNano() // retention counts from the restart
	err = a.store.Scan(prefixRequest, func(k, v []byte) error {
		// The proxy's references and strings are shared: memory holds one
		// copy per proxy, not one per request (RELIABILITY.md: indexes, not
		// bodies).
		r, err := decodeRequest(v, proxyOf)
		if err != nil {
			return a.recordError(err, k, len(k)-len(poller.ID{}))
		}
		r.legacyKeys = len(k) == legacyRequestKeyLen
		var want [requestKeyLen]byte
		if !bytes.Equal(k, r.appendKey(want[:0], prefixRequest)) {
			// Its body, reply and trash would be looked for elsewhere.
			return fmt.Errorf("%w: request record under key %x", ErrCorruptRecord, k)
		}
		if r.proxyID == (poller.ID{}) {
			r.group = intern(r.group)
		}
		r.operation = intern(r.operation)
		if r.bound && r.proxyID == (poller.ID{}) {
			if b := a.restoreBinding(r.recipient); b != nil {
				a.reqBindings[r.id] = b
			}
		}
		if r.state == lifecycle.Replied {
			replied++
		}
		if r.state == lifecycle.Replied || r.state == lifecycle.Calling || r.state == lifecycle.Delivered {
			r.repliedAt = now
		}
		tr, err := lifecycle.Step(r.life(), lifecycle.Event{Kind: lifecycle.Recover})
		if err != nil {
			return fmt.Errorf("%w: request record under key %x in state %d", ErrCorruptRecord, k, r.state)
		}
		r.state = tr.To
		for i, e := range tr.Effects() {
			switch e.Kind {
			case lifecycle.Restore:
				if a.restoreLocked(r, e.Ready) {
					// Cannot happen for records the agent wrote.
					a.log.Warn().Str("request", a.publicID(r.id)).Msg("agent: recovered request's tag clashes; added untagged")
				}
			case lifecycle.Delegate:
				resume = append(resume, r) // stored as queued: delegated in turn
			case lifecycle.MaybeRun:
				unknown = append(unknown, r)
			case lifecycle.CallBack:
				callbacks = append(callbacks, r) // pending callbacks are retried
			case lifecycle.MaybeCalled:
				// Marked: the recipient may have been called. Not again, but
				// by an operator (RetryCallbacks); the reply stays pollable.
				a.maybeCalled[r.id] = struct{}{}
			default:
				rests = append(rests, rest{r, tr, i})
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range callbacks {
		a.enqueueCallback(r) // pending callbacks are retried
	}
	for _, m := range rests {
		a.carry(m.r, m.tr.Effects()[m.next:], nil, nil)
	}
	for _, r := range unknown {
		// It may have run: COMM_FAILURE/MAYBE is its result, stored.
		a.storeReply(r, systemExceptionReply(giop.NewSystemException(giop.ExcCommFailure, nmproto.TargetConnectionLost, giop.CompletedMaybe)))
	}
	for _, r := range resume {
		// Acknowledged requests are never refused for queue room. Their
		// bodies stay in the store until each one's delegation starts.
		d := &delegation{rec: *r}
		lane := ""
		if p := a.proxies[r.proxyID]; p != nil {
			lane = p.lane
		} else {
			lane = targetLane(r.target)
		}
		a.resume(d, lane)
	}
	for id, p := range a.proxies {
		if p.toBeDestroyed {
			a.maybeReapProxy(id)
		}
	}
	if n := len(a.maybeCalled); n > 0 {
		a.log.Warn().Int("callbacks", n).
			Msg("agent: callbacks marked before the restart or takeover may have been made, and are not made again; their replies are kept for polling (requestagent recipients retry calls them again)")
	}
	a.log.Info().Int("proxies", len(a.proxies)).Int("requests", a.groups.Count()).
		Int("resumed", len(resume)).Int("maybe_run", len(unknown)+len(rests)).Int("replies", replied).
		Int("maybe_called_back", len(a.maybeCalled)).Msg("agent: state recovered")
	return nil
}

// recordError names the record whose decoding failed with err by the
// public id the admin listing gives its proxy or request (the key holds
// the secret id, at idAt, which is not for logs).
func (a *Agent) recordError(err error, key []byte, idAt int) error {
	var id poller.ID
	if idAt < 0 || idAt+len(id) > len(key) {
		return fmt.Errorf("%w (under a key of %d bytes)", err, len(key))
	}
	copy(id[:], key[idAt:])
	return fmt.Errorf("%w (the record of %s)", err, a.publicID(id))
}

// freeAfterRecovery is how many recovered requests make returning the
// recovery's garbage to the system worth a full collection.
const freeAfterRecovery = 100_000

// interned holds one copy of the group names and operation names that many
// recovered requests repeat.
var interned = struct {
	sync.Mutex
	m map[string]string
}{m: make(map[string]string)}

func intern(s string) string {
	interned.Lock()
	defer interned.Unlock()
	if v, ok := interned.m[s]; ok {
		return v
	}
	if len(interned.m) < 1<<16 {
		interned.m[s] = s
	}
	return s
}
