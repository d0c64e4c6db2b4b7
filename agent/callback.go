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
// returns how many: for operators, once a recipient is back.
func (a *Agent) RetryCallbacks(address string) int {
	n := a.retryGivenUp(func(r *requestRecord) bool {
		label := recipientLabel(r.recipient)
		return address == "" || label == address || strings.HasPrefix(label, address+"/")
	})
	if n > 0 {
		a.log.Info().Int("callbacks", n).Str("recipients", address).Msg("agent: given-up callbacks tried again, by an operator")
	}
	return n
}

// retryGivenUp queues again the given-up callbacks of the requests that
// match, and returns how many.
func (a *Agent) retryGivenUp(match func(*requestRecord) bool) int {
	var again []*requestRecord
	a.mu.Lock()
	for id := range a.givenUp {
		r := a.groups.Value(id)
		if r == nil {
			delete(a.givenUp, id)
			continue
		}
		if match(r) {
			delete(a.givenUp, id)
			again = append(again, r)
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
func (a *Agent) callRecipient(ctx context.Context, id poller.ID) error {
	if err := a.mayAct(); err != nil {
		return err // retried by the deliverer; another agent may own the store
	}
	a.mu.Lock()
	r := a.groups.Value(id)
	var rec requestRecord
	if r != nil {
		rec = *r
	}
	var via *giop.Conn
	if r != nil && r.bound {
		if b := a.bindingOf(r); b != nil && b.live() {
			via = b.conn
		}
	}
	holder := newID()
	hold := false
	if r != nil {
		// The Attempt: a holder, for a reply still there to deliver.
		_, err := lifecycle.Step(r.life(), lifecycle.Event{Kind: lifecycle.Attempt})
		if hold = err == nil; hold {
			a.holders[holder] = id
		}
	}
	a.mu.Unlock()
	if !hold {
		return nil // trashed (read by polling, destroyed) or delivered: nothing to do
	}
	if rec.bound && via == nil {
		a.mu.Lock()
		delete(a.holders, holder)
		a.mu.Unlock()
		a.metrics.callback("recipient_away")
		return giop.NewSystemExceptionCause(giop.ExcTransient, 0, giop.CompletedNo, errRecipientAway)
	}
	defer func() {
		a.mu.Lock()
		delete(a.holders, holder)
		a.mu.Unlock()
	}()
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
		return err
	}
	a.metrics.callback("delivered")
	a.log.Debug().Str("request", a.publicID(id)).Msg("agent: reply delivered to its recipient")
	a.calledBack(&rec)
	return nil
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
	for _, e := range tr.Effects()[next:] {
		if e.Kind != lifecycle.Write {
			a.carry(r, []lifecycle.Effect{e}, nil, nil)
			continue
		}
		var b storage.Batch
		b.Set(r.key(prefixRequest), enc)
		if err := a.commit(&b); err != nil {
			a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: delivery not recorded; the callback may be repeated after a restart")
		} else if !a.live(rec.id) {
			// Trashed between the move and this write, which may have put
			// its record back: deleted again.
			a.deleteRecords(r, lifecycle.AllKeys, false)
		}
	}
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
