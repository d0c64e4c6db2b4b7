package agent

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/timerpool"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

var storageErrNotFound = storage.ErrNotFound

// delegation is a request on its way to its target, in one allocation:
// a relayed request costs as few of them as it can. It is made when the
// request is admitted (its ticket), filled once the request is accepted,
// and run on a delegation goroutine — at once, or once its ticket gets a
// thread (queue.park).
type delegation struct {
	t ticket
	// rec is a snapshot of the request: the live record is the registry's,
	// guarded by a.mu, and the delegation reads its own copy without it.
	rec requestRecord
	// body is the request body; nil while the request waits for a thread
	// (the store has it, and the delegation reads it when it starts).
	body []byte
	h    handoff // used when wait: the caller waits for the reply (WaitReply)
	wait bool
	// reply is the target's reply, built here rather than allocated: it
	// lives about as long as the delegation (relayed or stored, then gone).
	reply replyRecord
}

// startDelegation delegates d.rec, accepted with d's ticket: at once if
// the ticket holds a thread, else when it gets one — without its body,
// which stays in the store meanwhile. With wait, the reply is offered
// first to the caller through the returned handoff.
func (a *Agent) startDelegation(d *delegation, body []byte, wait bool) *handoff {
	var h *handoff
	if wait {
		d.wait = true
		d.h.ready = newReady()
		h = &d.h
	}
	if d.t.immediate {
		d.body = body
		a.launch(d)
		return h
	}
	a.queue.park(&d.t, d)
	return h
}

// resume puts a recovered request that was waiting for a thread back in
// line (its ticket found by a trash, as send's are), whatever the limits
// say: it was acknowledged before the restart.
func (a *Agent) resume(d *delegation, lane string) {
	a.mu.Lock()
	a.queued[d.rec.id] = &d.t
	a.mu.Unlock()
	a.queue.admitRecovered(&d.t, lane)
	a.queue.park(&d.t, d)
}

// launch runs a delegation whose ticket holds a thread, on a tracked
// goroutine. It is the queue's start function too.
func (a *Agent) launch(d *delegation) {
	a.wg.Add(1)
	a.delegations.Go(d)
}

// maxIdleDelegators is how many delegation goroutines are kept waiting
// for work; each keeps its grown stack, a few KiB.
const maxIdleDelegators = 128

func (a *Agent) runDelegation(d *delegation) {
	defer a.wg.Done()
	var h *handoff
	if d.wait {
		h = &d.h
	}
	a.delegate(d, h)
}

// delegate sends an accepted request to its target and stores the reply.
// It runs in its own goroutine, holding a thread of the delegation queue.
// Its moves: Start (a thread from the start) or Dispatch (a thread now),
// then Answer; the answer is offered to whoever waits for it, and Store
// follows if nobody takes it.
//
// h, when set, gets the reply first: the WaitReply caller still waiting.
func (a *Agent) delegate(d *delegation, h *handoff) {
	defer a.queue.done(&d.t)
	rec, body := &d.rec, d.body
	ev := lifecycle.Event{Kind: lifecycle.Start}
	if !d.t.immediate {
		if a.ctx.Err() != nil {
			return // stopping: the request stays stored as queued
		}
		ev.Kind = lifecycle.Dispatch
	}
	// Claim the request: one trashed while it waited (its ticket then
	// released by forget, or about to be) is neither sent nor written
	// again — its records are deleted, and a sending record now would
	// bring it back after a restart as COMM_FAILURE/MAYBE.
	_, tr, next, ok := a.moveLive(rec.id, ev, func(*requestRecord, lifecycle.State) {
		delete(a.queued, rec.id)
	})
	if !ok {
		a.mu.Lock()
		delete(a.queued, rec.id) // trashed while it waited: its place is given back
		a.mu.Unlock()
		return
	}
	rec.state = tr.To // the delegation's own copy follows the live record
	for _, e := range tr.Effects()[next:] {
		switch e.Kind {
		case lifecycle.Write:
			// About to send: after a crash from here on, it may have run.
			if err := a.commit(recordBatch(rec, e.Keys, nil, nil)); err != nil {
				a.storeReply(rec, systemExceptionReply(giop.NewSystemException(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedNo)))
				return
			}
			// A trash during the write, whose deletion that write may
			// have followed: delete it again.
			if !a.live(rec.id) {
				a.deleteTrashed(rec)
				return
			}
			if body == nil {
				var err error
				if body, err = a.store.Get(rec.key(prefixBody)); err != nil {
					a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: a queued request's body cannot be read")
					a.storeReply(rec, systemExceptionReply(giop.NewSystemException(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedNo)))
					return
				}
			}
		case lifecycle.Crash:
			crashAt(e.Point)
		case lifecycle.Send:
			if err := a.mayAct(); err != nil {
				// Another agent may own the store: it finds the request
				// stored as being sent, and makes it COMM_FAILURE/MAYBE.
				a.log.Warn().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: not sent: this agent may no longer own the store")
				return
			}
			a.send(d, rec, body, h)
		}
	}
}

// send is the Send effect: the call to the target, and the Answer move
// with what it answered.
func (a *Agent) send(d *delegation, rec *requestRecord, body []byte, h *handoff) {
	started := time.Now()
	resp, err := a.invokeTarget(rec, body)
	a.metrics.delegated(started)
	if notAllowed(err) {
		a.metrics.policyRefused(refusedAtDelegation)
		a.log.Debug().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: delegation refused by the target policy; not sent")
	}
	var y *replyRecord
	if !rec.oneway {
		if err != nil {
			y = systemExceptionReply(targetFailure(err))
		} else {
			d.reply = replyRecord{status: resp.Header.Status, version: resp.Version(), little: resp.LittleEndian(),
				bodyAlign: int8(resp.BodyAlign()), body: resp.Body()} // the Response owns its buffer: no copy
			y = &d.reply
		}
		a.metrics.reply(replyLabel(y))
	} else if err != nil {
		a.log.Warn().Err(err).Str("operation", rec.operation).Msg("agent: oneway delegation failed")
	}
	_, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Answer}, nil)
	if ok {
		for _, e := range tr.Effects()[next:] {
			if e.Kind != lifecycle.Offer {
				a.carry(rec, []lifecycle.Effect{e}, nil, nil) // a oneway's trash
			}
		}
		if tr.To == lifecycle.Trashed {
			return
		}
	}
	// The WaitReply caller, if it still waits, takes the answer (HandOver
	// leaves it unstored: the caller's Mature follows). One that gave up
	// is storing the request, or forgot it: the reply waits for that, so
	// that its write never precedes the request's.
	if h != nil {
		if h.deliver(y) {
			return
		}
		<-h.decided
	}
	if !ok {
		return // trashed while in flight
	}
	// The offer to a pull waiting on the poller (only handable requests'
	// pullers wait for one), else Store.
	if tr.Has(lifecycle.Offer) && a.offerToPuller(rec.id, y) {
		return
	}
	a.storeReply(rec, y)
}

// deleteTrashed deletes again the records of a request trashed while a
// write of them was on its way, which may have landed after the trash's
// deletion.
func (a *Agent) deleteTrashed(rec *requestRecord) {
	a.deleteRecords(rec, lifecycle.RecordKey|lifecycle.BodyKey, false)
}

// targetLane names a target for the queue's per-target bounds: the
// address its reference calls, with an IP literal in canonical form and a
// name in lower case, so that spellings of one address share one lane.
func targetLane(target *giop.IOR) string {
	prof, err := target.CallProfile()
	if err != nil {
		return ""
	}
	host := strings.Trim(prof.Host, "[]")
	if ip, err := netip.ParseAddr(host); err == nil {
		host = ip.Unmap().WithZone("").String()
	} else {
		host = strings.TrimSuffix(strings.ToLower(host), ".")
	}
	return net.JoinHostPort(host, strconv.Itoa(int(prof.AddressPort())))
}

// replyLabel names a reply's status for metrics.
func replyLabel(y *replyRecord) string {
	switch y.status {
	case giop.ReplyNoException:
		return "normal"
	case giop.ReplyUserException:
		return "user_exception"
	case giop.ReplySystemException:
		return "system_exception"
	}
	return "other"
}

// storeReply is the Store move: it stores a request's reply and makes it
// pollable — or drops it, per ReplyDropping, when it is due to a
// recipient (lifecycle.Store). A reply read by polling is never dropped.
// Every reply the agent stores is written here.
func (a *Agent) storeReply(rec *requestRecord, y *replyRecord) {
	dropped := !rec.recipient.IsNil() && drops(rec.props, y.status)
	var s *storeInFlight
	var w *replyWrite
	var done requestRecord // the record as stored, copied while a.mu is held
	_, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Store, Dropped: dropped},
		func(live *requestRecord, to lifecycle.State) {
			if to != lifecycle.Replied {
				return
			}
			done = *live
			w = &replyWrite{}
			a.writing[rec.id] = w
			live.repliedAt = time.Now().UnixNano()
			if live.life().Handable() {
				// A pull that comes while the reply is written takes it
				// rather than wait for the flush (pull).
				s = &storeInFlight{y: y, stored: make(chan struct{})}
				a.inFlight[rec.id] = s
			}
			if h := a.pullers[rec.id]; h != nil {
				// A caller began waiting after the delegation looked for
				// one: it is told to look again, and takes this reply
				// from inFlight.
				delete(a.pullers, rec.id)
				h.deliver(nil)
			}
		})
	if !ok {
		return // trashed while in flight
	}
	if tr.To == lifecycle.Trashed {
		a.log.Debug().Str("request", a.publicID(rec.id)).Stringer("status", y.status).Msg("agent: reply dropped")
		a.carry(rec, tr.Effects()[next:], nil, nil)
		return
	}
	trashed := false
	for _, e := range tr.Effects()[next:] {
		switch e.Kind {
		case lifecycle.Write:
			if hook := beforeReplyCommit.Load(); hook != nil {
				(*hook)(a, rec.id)
			}
			a.writeReply(recordBatch(&done, e.Keys, nil, y), rec, y, w)
			a.mu.Lock()
			delete(a.writing, rec.id)
			trashed = w.trashed
			a.mu.Unlock()
			if trashed {
				// Trashed while the reply was written: the commit above may
				// have put back what the trash deleted, and nobody may read
				// it.
				a.deleteRecords(rec, lifecycle.AllKeys, false)
			}
		case lifecycle.Crash:
			crashAt(e.Point)
		case lifecycle.Ready:
			if s != nil {
				a.mu.Lock()
				if a.inFlight[rec.id] == s {
					delete(a.inFlight, rec.id)
				}
				a.mu.Unlock()
				close(s.stored)
			}
			if trashed {
				return
			}
			a.groups.SetReady(rec.id)
		default:
			a.carry(rec, []lifecycle.Effect{e}, nil, y) // the call back
		}
	}
}

// writeReply commits a reply's write, retried a few times. A reply that
// cannot be kept on disk stays in memory: the request was acknowledged,
// so it is not lost while the agent runs — the reply stays for its
// poller, its holder or its recipient until it is read or trashed. A
// restart finds the request as last stored, caught mid-delegation, and
// makes it COMM_FAILURE/MAYBE (RELIABILITY.md, crash points).
func (a *Agent) writeReply(b *storage.Batch, rec *requestRecord, y *replyRecord, w *replyWrite) {
	for attempt := 0; ; attempt++ {
		err := a.commit(b)
		if err == nil {
			a.log.Debug().Str("request", a.publicID(rec.id)).Stringer("status", y.status).Msg("agent: reply stored")
			return
		}
		if attempt == 4 {
			a.mu.Lock()
			if !w.trashed {
				// Not the table: a pull may have taken the request out of
				// it for a read that may yet fail and put it back.
				a.unstored[rec.id] = y
			}
			a.mu.Unlock()
			a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Stringer("status", y.status).
				Msg("agent: reply could not be stored; kept in memory until read, and lost with a restart (then COMM_FAILURE/MAYBE)")
			return
		}
		time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
	}
}

// beforeReplyCommit, nil but in tests, runs in storeReply between its check
// that the request is live and the reply's commit: the window a trash may
// land in (export_test.go).
var beforeReplyCommit atomic.Pointer[func(a *Agent, id poller.ID)]

// invokeTarget calls the target with the request's body, relayed
// unchanged when the alignment allows and re-encoded through the IDL
// otherwise. A target that cannot be reached (nothing sent) is retried
// with exponential backoff and jitter for ConnectRetryBudget; a call that
// may have run is never re-sent (docs/native-messaging.md).
func (a *Agent) invokeTarget(rec *requestRecord, body []byte) (*giop.Response, error) {
	inv := &giop.Invocation{
		Operation: rec.operation,
		Oneway:    rec.oneway,
		BigEndian: !rec.little,
		RawReply:  true,
		Timeout:   a.cfg.DelegationTimeout,
		// At most the client's version, so the body keeps its meaning (relay.go).
		BodyVersion: rec.version,
		Encode: func(e *giop.Encoder) error {
			if len(body) == 0 {
				return nil
			}
			if rec.bodyAlign >= 0 && e.AlignBodyTo(int(rec.bodyAlign)) {
				e.WriteRaw(body)
				return nil
			}
			if rec.bodyAlign < 0 {
				return errFragmentedBody
			}
			d := giop.NewBodyDecoder(body, int(rec.bodyAlign), rec.version, rec.little)
			return a.idl.TranscodeArgs(rec.repoID, rec.operation, d, e)
		},
	}
	deadline := time.Now().Add(a.cfg.ConnectRetryBudget)
	backoff := 20 * time.Millisecond
	for {
		resp, err := a.client.Invoke(a.ctx, rec.target, inv)
		if errors.Is(err, giop.ErrCallTimeout) {
			return nil, giop.NewSystemExceptionCause(giop.ExcTimeout, 0, giop.CompletedMaybe,
				fmt.Errorf("agent: the target did not answer within %v", a.cfg.DelegationTimeout))
		}
		if err == nil || !unsent(err) {
			return resp, err
		}
		sleep := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(sleep).After(deadline) {
			return nil, err
		}
		a.log.Debug().Err(err).Dur("retry_in", sleep).Msg("agent: target unreachable; retrying")
		if !timerpool.Sleep(a.ctx, sleep) {
			return nil, err
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// targetFailure turns a failed delegation into the request's result.
func targetFailure(err error) *giop.SystemException {
	var x *giop.SystemException
	if !errors.As(err, &x) {
		// The body could not be encoded for the target.
		return giop.NewSystemExceptionCause(giop.ExcMarshal, nmproto.CannotTranscode, giop.CompletedNo, err)
	}
	switch {
	case x.Name == giop.ExcTransient && x.Completed == giop.CompletedNo:
		return giop.NewSystemExceptionCause(giop.ExcTransient, nmproto.TargetUnreachable, giop.CompletedNo, err)
	case x.Name == giop.ExcTimeout && x.Completed == giop.CompletedMaybe && !errors.Is(err, context.Canceled) &&
		!errors.Is(err, context.DeadlineExceeded):
		return x // the delegation timeout: TIMEOUT, completed MAYBE
	case x.Name == giop.ExcTimeout || errors.Is(err, context.Canceled):
		return giop.NewSystemExceptionCause(giop.ExcCommFailure, nmproto.TargetConnectionLost, giop.CompletedMaybe, err)
	case x.Name == giop.ExcCommFailure:
		return giop.NewSystemExceptionCause(giop.ExcCommFailure, nmproto.TargetConnectionLost, giop.CompletedMaybe, err)
	}
	return x
}

// unsent reports whether a failed call surely did not reach its target
// (TRANSIENT, COMPLETED_NO), so that it may be tried again.
func unsent(err error) bool {
	var x *giop.SystemException
	return errors.As(err, &x) && x.Name == giop.ExcTransient && x.Completed == giop.CompletedNo
}
