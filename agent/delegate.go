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

// startDelegation delegates rec, accepted with d's ticket: at once if the
// ticket holds a thread, else when it gets one — without its body, which
// stays in the store meanwhile. With wait, the reply is offered first to
// the caller through the returned handoff.
func (a *Agent) startDelegation(d *delegation, rec *requestRecord, body []byte, wait bool) *handoff {
	d.rec = *rec
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
//
// h, when set, gets the reply first: the WaitReply caller still waiting.
func (a *Agent) delegate(d *delegation, h *handoff) {
	defer a.queue.done(&d.t)
	rec, body := &d.rec, d.body
	if !d.t.immediate {
		if a.ctx.Err() != nil {
			return // stopping: the request stays stored as accepted
		}
		// Claim the request: one trashed while it waited (its ticket then
		// released by forget, or about to be) is neither sent nor written
		// again — its records are deleted, and a stateSending record now
		// would bring it back after a restart as COMM_FAILURE/MAYBE.
		a.mu.Lock()
		delete(a.queued, rec.id)
		live := a.groups.Value(rec.id) != nil
		a.mu.Unlock()
		if !live {
			return
		}
		// About to send: after a crash from here on, it may have run.
		rec.state = stateSending
		var b storage.Batch
		b.Set(rec.key(prefixRequest), rec.encode())
		if err := a.commit(&b); err != nil {
			a.finish(rec, systemExceptionReply(giop.NewSystemException(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedNo)))
			return
		}
		// The live record follows (requestagent requests shows it
		// delegating) — unless a trash came during the write, whose
		// deletion that write may have followed: delete it again.
		a.mu.Lock()
		r := a.groups.Value(rec.id)
		if r != nil {
			r.state = stateSending
		}
		a.mu.Unlock()
		if r == nil {
			a.deleteTrashed(rec)
			return
		}
		if body == nil {
			var err error
			if body, err = a.store.Get(rec.key(prefixBody)); err != nil {
				a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: a queued request's body cannot be read")
				a.finish(rec, systemExceptionReply(giop.NewSystemException(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedNo)))
				return
			}
		}
	}
	started := time.Now()
	crashPoint(CrashBeforeSend)
	resp, err := a.invokeTarget(rec, body)
	crashPoint(CrashAfterSend)
	a.metrics.delegated(started)
	if notAllowed(err) {
		a.metrics.policyRefused(refusedAtDelegation)
		a.log.Debug().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: delegation refused by the target policy; not sent")
	}
	if rec.oneway {
		if err != nil {
			a.log.Warn().Err(err).Str("operation", rec.operation).Msg("agent: oneway delegation failed")
		}
		a.trash(rec.id)
		return
	}
	var y *replyRecord
	if err != nil {
		y = systemExceptionReply(targetFailure(err))
	} else {
		d.reply = replyRecord{status: resp.Header.Status, version: resp.Version(), little: resp.LittleEndian(),
			bodyAlign: int8(resp.BodyAlign()), body: resp.Body()} // the Response owns its buffer: no copy
		y = &d.reply
	}
	a.metrics.reply(replyLabel(y))
	if h != nil {
		if h.deliver(y) {
			return // the caller waiting for it has it
		}
		<-h.decided
	}
	if a.handToPuller(rec.id, y) {
		return
	}
	a.finish(rec, y)
}

// deleteTrashed deletes again the records of a request trashed while a
// write of them was on its way, which may have landed after the trash's
// deletion.
func (a *Agent) deleteTrashed(rec *requestRecord) {
	var b storage.Batch
	qKey, bKey, _ := rec.keys()
	b.Delete(qKey)
	b.Delete(bKey)
	if err := a.commit(&b); err != nil {
		a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Msg("agent: trash not stored; the request may reappear after a restart")
	}
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

// finish stores a request's reply and makes it pollable — or drops it,
// per ReplyDropping, when it is due to a recipient: ReplyDropping filters
// what is sent to the reply recipient (docs/native-messaging.md), so a
// dropped reply is neither delivered nor kept (no poller was handed out
// for it), and its request is trashed. A reply read by polling is never
// dropped.
func (a *Agent) finish(rec *requestRecord, y *replyRecord) {
	if !rec.recipient.IsNil() && drops(rec.props, y.status) {
		a.log.Debug().Str("request", a.publicID(rec.id)).Stringer("status", y.status).Msg("agent: reply dropped")
		a.trash(rec.id)
		return
	}
	var s *storingReply
	w := &replyWrite{}
	a.mu.Lock()
	live := a.groups.Value(rec.id)
	if live != nil {
		a.writing[rec.id] = w
		live.state = stateReplied
		live.repliedAt = time.Now().UnixNano()
		if handable(rec) {
			// A pull that comes while the reply is written takes it
			// rather than wait for the flush (pull).
			s = &storingReply{y: y, stored: make(chan struct{})}
			a.storing[rec.id] = s
		}
	}
	if h := a.pullers[rec.id]; h != nil {
		// A caller began waiting after the delegation looked for one: it
		// is told to look again, and takes this reply from storing.
		delete(a.pullers, rec.id)
		h.deliver(nil)
	}
	a.mu.Unlock()
	if live == nil {
		return // trashed while in flight
	}
	if hook := beforeReplyCommit.Load(); hook != nil {
		(*hook)(a, rec.id)
	}
	done := *rec
	done.state = stateReplied
	var b storage.Batch
	qKey, _, yKey := rec.keys()
	b.Set(yKey, y.encode())
	b.Set(qKey, done.encode())
	for attempt := 0; ; attempt++ {
		err := a.commit(&b)
		if err == nil {
			a.log.Debug().Str("request", a.publicID(rec.id)).Stringer("status", y.status).Msg("agent: reply stored")
			break
		}
		if attempt == 4 {
			// The reply cannot be kept on disk. The request was
			// acknowledged, so it is not lost while the agent runs: the
			// reply stays in memory for its poller, its holder or its
			// recipient, until it is read or trashed. A restart finds
			// the request as last stored, caught mid-delegation, and
			// makes it COMM_FAILURE/MAYBE (RELIABILITY.md, crash points).
			a.mu.Lock()
			if a.groups.Value(rec.id) != nil {
				a.unstored[rec.id] = y
			}
			a.mu.Unlock()
			a.log.Error().Err(err).Str("request", a.publicID(rec.id)).Stringer("status", y.status).
				Msg("agent: reply could not be stored; kept in memory until read, and lost with a restart (then COMM_FAILURE/MAYBE)")
			break
		}
		time.Sleep(time.Duration(50<<attempt) * time.Millisecond)
	}
	a.mu.Lock()
	delete(a.writing, rec.id)
	trashed := w.trashed
	a.mu.Unlock()
	if trashed {
		// Trashed while the reply was written: the commit above may have
		// put back what the trash deleted, and nobody may read it.
		a.trashRecords(rec, true, false)
	}
	crashPoint(CrashAfterReply)
	if s != nil {
		a.mu.Lock()
		if a.storing[rec.id] == s {
			delete(a.storing, rec.id)
		}
		a.mu.Unlock()
		close(s.stored)
	}
	if trashed {
		return
	}
	a.groups.SetReady(rec.id)
	if !rec.recipient.IsNil() {
		a.enqueueCallback(rec)
	}
}

// beforeReplyCommit, nil but in tests, runs in finish between its check
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
