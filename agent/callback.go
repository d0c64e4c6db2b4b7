package agent

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/recipient"
	"github.com/requestagent/requestagent/storage"
)

// keyHolder is the object key kind of a reply holder: the reference handed
// to ReplyRecipient::reply_available, valid only while that call runs.
const keyHolder = 'H'

// DefaultCallbackTimeout bounds one reply_available call.
const DefaultCallbackTimeout = 60 * time.Second

// enqueueCallback schedules reply_available for a replied request.
func (a *Agent) enqueueCallback(rec *requestRecord) {
	id := rec.id
	a.deliverer.Enqueue(recipient.Job{
		Recipient: recipientLabel(rec.recipient),
		ID:        id,
		Deliver:   func(ctx context.Context) error { return a.callRecipient(ctx, id) },
	})
}

// recipientLabel names a recipient for its queue, operators and logs:
// host:port/object key, the key as text when it is printable, else hex.
func recipientLabel(ref *giop.IOR) string {
	prof, err := ref.IIOP()
	if err != nil {
		return ref.TypeID
	}
	key := string(prof.ObjectKey)
	for _, c := range prof.ObjectKey {
		if c < 0x21 || c > 0x7e {
			key = hex.EncodeToString(prof.ObjectKey)
			break
		}
	}
	return net.JoinHostPort(prof.Host, strconv.Itoa(int(prof.AddressPort()))) + "/" + key
}

// RetryCallbacks tries again the callbacks given up for the recipients at
// address (host:port, or a label RecipientFailures shows; "" for all), and
// returns how many: for operators, once a recipient is back. It tries
// too the callbacks a restart or a takeover found marked, which may have
// been made (lifecycle.MaybeCalled): an operator's call to make, knowing
// the recipient may be called a second time.
func (a *Agent) RetryCallbacks(address string) int {
	n := a.retryGivenUp(func(r *requestRecord) bool {
		label := recipientLabel(r.recipient)
		return address == "" || label == address || strings.HasPrefix(label, address+"/")
	}, true)
	if n > 0 {
		a.log.Info().Int("callbacks", n).Str("recipients", address).Msg("agent: given-up callbacks tried again, by an operator")
	}
	return n
}

// retryGivenUp queues again the given-up callbacks of the requests that
// match — with maybeCalled, those kept as maybe made too — and returns
// how many.
func (a *Agent) retryGivenUp(match func(*requestRecord) bool, maybeCalled bool) int {
	var again []*requestRecord
	a.mu.Lock()
	sets := []map[poller.ID]struct{}{a.givenUp}
	if maybeCalled {
		sets = append(sets, a.maybeCalled)
	}
	for _, set := range sets {
		for id := range set {
			r := a.groups.Value(id)
			if r == nil {
				delete(set, id)
				continue
			}
			if match(r) {
				delete(set, id)
				again = append(again, r)
			}
		}
	}
	a.mu.Unlock()
	for _, r := range again {
		a.enqueueCallback(r)
	}
	return len(again)
}

// callRecipient makes one reply_available call. The recipient pulls the
// result through the holder, a nested call back into the agent that is
// served while this one is outstanding (every request has its own
// goroutine, docs/callbacks.md). The holder dies when the call returns.
//
// Owned by a cluster (Config.Owned), the agent marks each attempt in the
// store before the call (the Attempt move with Event.Fenced): every write
// there is conditioned on the owner's lease, so a deposed owner's mark is
// refused and it calls nobody, and the owner after it finds the mark and
// does not call again (docs/cluster.md, fencing). A single node marks
// nothing: nobody else calls its recipients, and a write per callback
// would cost every callback (RELIABILITY.md, "Callbacks in a cluster").
func (a *Agent) callRecipient(ctx context.Context, id poller.ID) error {
	if err := a.mayAct(); err != nil {
		return err // retried by the deliverer; another agent may own the store
	}
	ev := lifecycle.Event{Kind: lifecycle.Attempt, Fenced: a.cfg.Owned != nil}
	a.mu.Lock()
	r := a.groups.Value(id)
	if r == nil {
		a.mu.Unlock()
		return nil // trashed (read by polling, destroyed): nothing to do
	}
	if _, err := lifecycle.Step(r.life(), ev); err != nil {
		a.mu.Unlock()
		return nil // delivered, or its reply being read: nothing to do
	}
	var via *giop.Conn
	if r.bound {
		if b := a.bindingOf(r); b != nil && b.live() {
			via = b.conn
		}
		if via == nil {
			// Before the mark: nothing would leave, so nothing is marked.
			a.mu.Unlock()
			a.metrics.callback("recipient_away")
			return giop.NewSystemExceptionCause(giop.ExcTransient, 0, giop.CompletedNo, errRecipientAway)
		}
	}
	tr, _ := a.stepLocked(r, ev) // the Attempt, kept: marked, with Event.Fenced
	rec := *r
	holder := newID()
	a.holders[holder] = id
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.holders, holder)
		delete(a.holdersRead, holder)
		a.mu.Unlock()
	}()
	for _, e := range tr.Effects() {
		switch e.Kind {
		case lifecycle.Write:
			if ok, err := a.markCallback(&rec, e.Keys); !ok {
				return err
			}
		case lifecycle.Crash:
			crashAt(e.Point)
		case lifecycle.Hold:
			return a.hold(ctx, &rec, holder, via)
		}
	}
	return nil
}

// markCallback commits the mark of a callback attempt: the request's
// record as calling. ok is false when the recipient is not to be called:
// the write failed — in a cluster, ErrFenced says another agent may own
// the store, and its owner decides the callback — or the request was
// trashed meanwhile, whose deletion the write may have followed (deleted
// again).
func (a *Agent) markCallback(rec *requestRecord, keys lifecycle.Keys) (ok bool, err error) {
	if err := a.commit(recordBatch(rec, keys, nil, nil)); err != nil {
		a.metrics.callback("not_marked")
		a.log.Warn().Err(err).Str("request", a.publicID(rec.id)).
			Msg("agent: not called back: the callback's mark was not stored (this agent may no longer own the store)")
		return false, err
	}
	if !a.present(rec.id) {
		a.deleteRecords(rec, lifecycle.AllKeys, false)
		return false, nil
	}
	return true, nil
}

// present reports whether the request is live: in the table, or out of it
// while a pull reads its reply (a.reading), which may put it back.
func (a *Agent) present(id poller.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.groups.Value(id) != nil || a.reading[id] != nil
}

// hold is the Hold effect: reply_available with a holder of rec's reply,
// over via when the recipient is bound to a connection, and the
// CalledBack move when it returns — or, an attempt that surely never
// reached the recipient, the Missed move.
func (a *Agent) hold(ctx context.Context, rec *requestRecord, holder poller.ID, via *giop.Conn) error {
	ref := a.targetIOR(keyHolder, holder, rec.repoID, rec.target)
	inv := &giop.Invocation{Operation: "reply_available", Args: func(e *giop.Encoder) {
		e.WriteIOR(ref)
		e.WriteString(rec.operation)
		writeOctetString(e, rec.cookie)
	}}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.CallbackTimeout)
	defer cancel()
	var err error
	if via != nil {
		// A bound recipient is called over its client's connection only
		// (binding.go); its address is never dialled.
		prof, perr := rec.recipient.IIOP()
		if perr != nil {
			return perr
		}
		_, err = via.Invoke(cctx, prof.ObjectKey, inv)
	} else {
		_, err = a.client.Invoke(cctx, rec.recipient, inv)
	}
	if err != nil {
		if notAllowed(err) {
			a.metrics.policyRefused(refusedAtCallback)
		}
		a.metrics.callback("failed_attempt")
		a.mu.Lock()
		_, read := a.holdersRead[holder]
		a.mu.Unlock()
		if unsent(err) && !read {
			a.missed(rec)
		}
		return err
	}
	a.metrics.callback("delivered")
	a.log.Debug().Str("request", a.publicID(rec.id)).Msg("agent: reply delivered to its recipient")
	a.calledBack(rec)
	return nil
}

// missed is the Missed move: a marked attempt that surely did not reach
// its recipient (TRANSIENT completed NO, its holder never called) has its
// mark taken off, so that a restart or a takeover calls back again rather
// than keep the callback as maybe made. Without a mark it does nothing.
func (a *Agent) missed(rec *requestRecord) {
	var enc []byte
	r, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Missed}, func(live *requestRecord, _ lifecycle.State) {
		enc = live.encode() // the live record's fields are a.mu's
	})
	if !ok {
		return
	}
	if err := a.writeMoved(r, tr.Effects()[next:], enc, a.present); err != nil {
		a.log.Warn().Err(err).Str("request", a.publicID(rec.id)).
			Msg("agent: a callback's mark not taken off; after a restart or a takeover it is kept as maybe made")
	}
}

// calledBack is the CalledBack move: reply_available returned, and the
// request is trashed — unless RequestManualTrash keeps it: then it is
// marked delivered, so a restart does not call the recipient again.
func (a *Agent) calledBack(rec *requestRecord) {
	var enc []byte
	r, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.CalledBack}, func(live *requestRecord, to lifecycle.State) {
		if to == lifecycle.Delivered {
			enc = live.encode() // the live record's fields are a.mu's
		}
	})
	if !ok {
		return
	}
	if err := a.writeMoved(r, tr.Effects()[next:], enc, a.live); err != nil {
		a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: delivery not recorded; the callback may be repeated after a restart")
	}
}

// writeMoved carries out the effects left of a callback's move: its Write
// is enc, the live record as the move left it. A request that still
// reports false, trashed between the move and this write (which may have
// put its record back), has its records deleted again.
// The effects after a failed write are still carried out, as the move
// has been made in memory; the write's error is returned.
func (a *Agent) writeMoved(r *requestRecord, effs []lifecycle.Effect, enc []byte, still func(poller.ID) bool) error {
	var failed error
	for _, e := range effs {
		if e.Kind != lifecycle.Write {
			a.carry(r, []lifecycle.Effect{e}, nil, nil)
			continue
		}
		var b storage.Batch
		b.Set(r.key(prefixRequest), enc)
		if err := a.commit(&b); err != nil {
			failed = err
		} else if !still(r.id) {
			a.deleteRecords(r, lifecycle.AllKeys, false)
		}
	}
	return failed
}

// recipientGaveUp is told when a callback's retry budget is spent: the
// reply stays stored and pollable, and the failure is on record
// (Agent.RecipientFailures, the log).
func (a *Agent) recipientGaveUp(j recipient.Job, err error) {
	a.metrics.callback("given_up")
	a.mu.Lock()
	if a.groups.Value(j.ID) != nil {
		a.givenUp[j.ID] = struct{}{}
	}
	a.mu.Unlock()
	a.log.Error().Err(err).Str("recipient", j.Recipient).Str("request", a.publicID(j.ID)).
		Msg("agent: callback given up after the retry budget; the reply is kept for polling (requestagent recipients retry)")
}

// RecipientFailures lists the recipients whose callbacks are failing.
func (a *Agent) RecipientFailures() []recipient.Failure { return a.deliverer.Failures() }

// holderServant serves calls on a reply holder: the recipient pulls the
// result with the request's operation, exactly as from a poller.
type holderServant struct {
	a      *Agent
	holder poller.ID
	repoID string
}

func (s *holderServant) RepositoryID() string { return s.repoID }
func (s *holderServant) IsA(id string) bool   { return isA(s.repoID, id) }

func (s *holderServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	a := s.a
	a.mu.Lock()
	id, ok := a.holders[s.holder]
	var rec requestRecord
	if r := a.groups.Value(id); ok && r != nil {
		rec = *r
		// The recipient was reached: an attempt that fails now may have
		// delivered (hold).
		a.holdersRead[s.holder] = struct{}{}
	} else {
		ok = false
	}
	a.mu.Unlock()
	if !ok {
		return giop.NewSystemExceptionCause(giop.ExcObjectNotExist, nmproto.ReplyHolderExpired, giop.CompletedNo,
			errors.New("reply holders are valid only inside reply_available"))
	}
	// Reading through the holder is what delivery completes; the request is
	// trashed when reply_available returns, not by this read — and then
	// it has no reply any more, unless RequestManualTrash keeps it. A
	// holder lives only while its request's reply is ready.
	return a.pullMove(req, &rec, lifecycle.Event{Holder: true, Ready: true, WrongOperation: req.Operation() != rec.operation}, false)
}
