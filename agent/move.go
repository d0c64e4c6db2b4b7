package agent

import (
	"context"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

// The shell's half of the lifecycle: every move of a request is decided by
// lifecycle.Step, and carried out here and at the servants, delegations and
// callbacks that feed it events. A site steps the request, keeps the state
// the step returns (under a.mu once the request is live), and carries out
// the effects in their order: the ones only it can (the premature return,
// the relay of a reply, the start of its delegation) itself, the rest
// through carry.

// stepLocked is the one place the state of a live request changes: the
// core's step on it, and the state it returns kept. a.mu must be held.
// Live means in the table, or out of it while a pull reads its reply
// (a.reading). (A request not yet published is its site's alone, which
// steps it the same way.) ok is false when the event does not apply.
func (a *Agent) stepLocked(r *requestRecord, ev lifecycle.Event) (tr lifecycle.Transition, ok bool) {
	tr, err := lifecycle.Step(r.life(), ev)
	if err != nil {
		return tr, false
	}
	r.state = tr.To
	return tr, true
}

// moveLive steps the live request id on ev under a.mu and keeps its new
// state; the transition's leading crash points and its Forget are carried
// out under that same lock, so nothing finds the request between its move
// and its leaving the table — in particular not storeReply, which would
// otherwise write back a request being trashed. A move to Trashed marks a
// reply being written meanwhile (replyWrite), whose commit may land after
// the deletion. It returns the request, the transition and the index of
// the first effect left to carry out; ok is false when the request is not
// live or the event does not apply to it. locked, if set, runs under the
// lock right after the step with the new state, for a site's own
// bookkeeping of the move.
func (a *Agent) moveLive(id poller.ID, ev lifecycle.Event, locked func(r *requestRecord, to lifecycle.State)) (
	r *requestRecord, tr lifecycle.Transition, next int, ok bool) {
	a.mu.Lock()
	r = a.groups.Value(id)
	if r == nil {
		a.mu.Unlock()
		return nil, tr, 0, false
	}
	if tr, ok = a.stepLocked(r, ev); !ok {
		a.mu.Unlock()
		return r, tr, 0, false
	}
	if locked != nil {
		locked(r, tr.To)
	}
	var t *ticket
	effs := tr.Effects()
	for ; next < len(effs); next++ {
		e := effs[next]
		if e.Kind == lifecycle.Crash {
			crashAt(e.Point)
			continue
		}
		if e.Kind != lifecycle.Forget {
			break
		}
		a.forgetLocked(id)
		t = a.queued[id]
		delete(a.queued, id)
		if tr.To == lifecycle.Reading {
			a.reading[id] = r // out of the table, not gone: see pullMove
		}
	}
	if tr.To == lifecycle.Trashed {
		if w := a.writing[id]; w != nil {
			w.trashed = true
		}
	}
	a.mu.Unlock()
	if t != nil {
		// Outside a.mu: the place may go to the next waiter, whose
		// delegation starts.
		a.queue.done(t)
	}
	return r, tr, next, true
}

// publishLocked is the Publish effect: the request findable in the table
// of live requests — unless, while it was accepted, its proxy was
// destroyed (destroy(TRUE) while the call waited for room in the queue)
// or, a request object, it was trashed (its claimed record gone): then it
// is not published, and the error is the caller's answer; the caller
// undoes what it did. a.mu must be held.
func (a *Agent) publishLocked(r *requestRecord) error {
	if r.proxyID != (poller.ID{}) {
		if p := a.proxies[r.proxyID]; p == nil || p.toBeDestroyed {
			return proxyGone()
		}
	}
	if !a.groups.SetValue(r.id, r) {
		return errTrashed
	}
	return nil
}

// live reports whether the request is in the table of live requests: a
// write made after a move let go of a.mu checks it, since a trash in
// between may have deleted first what the write then put back.
func (a *Agent) live(id poller.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.groups.Value(id) != nil
}

// carry carries out effects for r, in order: those every site carries
// out the same way. A write writes r's records as r says (body and y for
// the body and reply records); a failed one stops the effects and is
// returned, for the caller to make its move (Refuse, or a log line).
// Site effects (Ack, Relay, Delegate, …) are the caller's, and reaching one
// here is a bug.
func (a *Agent) carry(r *requestRecord, effs []lifecycle.Effect, body []byte, y *replyRecord) error {
	for _, e := range effs {
		switch e.Kind {
		case lifecycle.Crash:
			crashAt(e.Point)
		case lifecycle.Write:
			if err := a.commit(recordBatch(r, e.Keys, body, y)); err != nil {
				return err
			}
		case lifecycle.Delete:
			a.deleteRecords(r, e.Keys, e.Joining)
		case lifecycle.Forget:
			a.forget(r.id)
		case lifecycle.Restore:
			a.mu.Lock()
			a.restoreLocked(r, e.Ready)
			a.mu.Unlock()
		case lifecycle.Ready:
			a.groups.SetReady(r.id)
		case lifecycle.CallBack:
			a.enqueueCallback(r)
		case lifecycle.Reap:
			if r.proxyID != (poller.ID{}) {
				a.maybeReapProxy(r.proxyID)
			}
		default:
			panic("agent: effect " + e.String() + " is its site's to carry out")
		}
	}
	return nil
}

// recordBatch is the write of r's records named by keys: the request's
// record as r says, its body, its reply y.
func recordBatch(r *requestRecord, keys lifecycle.Keys, body []byte, y *replyRecord) *storage.Batch {
	b := new(storage.Batch)
	qKey, bKey, yKey := r.keys()
	if keys&lifecycle.ReplyKey != 0 {
		b.Set(yKey, y.encode())
	}
	if keys&lifecycle.RecordKey != 0 {
		b.Set(qKey, r.encode())
	}
	if keys&lifecycle.BodyKey != 0 {
		b.Set(bKey, body)
	}
	return b
}

// deleteRecords deletes r's records named by keys in one commit — joining
// the next group commit, rather than starting a flush of its own, when
// nobody waits for it (the trash after a read: the client's next request
// does not wait behind it; storage.Store.CommitJoining).
func (a *Agent) deleteRecords(r *requestRecord, keys lifecycle.Keys, joining bool) {
	var b storage.Batch
	qKey, bKey, yKey := r.keys()
	if keys&lifecycle.RecordKey != 0 {
		b.Delete(qKey)
	}
	if keys&lifecycle.BodyKey != 0 {
		b.Delete(bKey)
	}
	if keys&lifecycle.ReplyKey != 0 {
		b.Delete(yKey)
		a.mu.Lock()
		delete(a.unstored, r.id)
		a.mu.Unlock()
	}
	commit := a.commit
	if joining {
		commit = a.commitJoining
	}
	if err := commit(&b); err != nil {
		a.log.Error().Err(err).Str("request", a.publicID(r.id)).Msg("agent: trash not stored; the request may reappear after a restart")
	}
	a.log.Debug().Str("request", a.publicID(r.id)).Msg("agent: request trashed")
}

// ownedHandler refuses every call while Config.Owned says the agent may
// not act: TRANSIENT, completed NO — nothing of it was done — which a
// client meets for the moment before a deposed owner stops.
type ownedHandler struct {
	owned func() error
	h     giop.Handler
}

func (h ownedHandler) Locate(key []byte) bool { return h.owned() == nil && h.h.Locate(key) }

func (h ownedHandler) ServeGIOP(ctx context.Context, req *giop.ServerRequest) error {
	if err := h.owned(); err != nil {
		return giop.NewSystemExceptionCause(giop.ExcTransient, 0, giop.CompletedNo, err)
	}
	return h.h.ServeGIOP(ctx, req)
}

// mayAct reports whether the agent may act on the store's requests now
// (Config.Owned): before a send to a target and a call back.
func (a *Agent) mayAct() error {
	if a.cfg.Owned == nil {
		return nil
	}
	return a.cfg.Owned()
}
