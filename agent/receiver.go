package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/timerpool"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
)

// receiverServant is a proxy's typed receiver: every call on it, whatever
// the operation, is a request to delegate to the proxy's target.
type receiverServant struct {
	a      *Agent
	id     poller.ID // the proxy's
	repoID string
}

func (s *receiverServant) RepositoryID() string { return s.repoID }
func (s *receiverServant) IsA(id string) bool   { return isA(s.repoID, id) }

func (s *receiverServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	a := s.a
	proxy, ok := a.proxy(s.id)
	if !ok || proxy.toBeDestroyed {
		return proxyGone()
	}
	info, err := reqInfo(req)
	if err != nil {
		return err
	}
	if err := a.checkFields(nil, nil, string(info.Cookie), string(info.RequestTag)); err != nil {
		a.metrics.outcome(outcomeTooLarge)
		return err
	}
	rec := &requestRecord{
		id:        newID(),
		proxyID:   s.id,
		group:     proxy.group,
		tag:       string(info.RequestTag),
		cookie:    string(info.Cookie),
		target:    proxy.target,
		repoID:    proxy.repoID,
		recipient: proxy.recipient,
		bound:     proxy.bound,
		props:     proxy.props,
		suppress:  info.Suppress,
		state:     lifecycle.New,
		created:   time.Now().UnixNano(),
		identity:  req.Conn.PeerIdentity(),
	}
	return a.accept(ctx, req, rec, info.WaitTimeout, true, proxy.lane)
}

// reqInfo returns the NMService req_info of a request to a typed receiver.
// A request without the context (a plain ORB client) gets unsuppressed
// behaviour: it must never mistake a dummy value for a result (docs/native-messaging.md).
func reqInfo(req *giop.ServerRequest) (nmproto.ReqInfo, error) {
	c, ok, err := nmproto.Lookup(req.Header.ServiceContexts)
	if err != nil {
		return nmproto.ReqInfo{}, giop.NewSystemExceptionCause(giop.ExcBadParam, nmproto.BadContext, giop.CompletedNo, err)
	}
	if !ok || c.Kind != nmproto.KindReqInfo {
		return nmproto.ReqInfo{}, nil
	}
	return c.ReqInfo, nil
}

// accept is the Accept move of a request: it checks it can be relayed, takes a place in
// the delegation queue, stores it durably, starts its delegation and
// answers the client — with the mature reply if WaitReply and it comes in
// time, else with a premature return. Nothing is stored when the request is
// refused (IMP_LIMIT, duplicate tag, …).
//
// lane names the request's target for the queue's per-target bounds.
func (a *Agent) accept(ctx context.Context, req *giop.ServerRequest, rec *requestRecord, wait uint32, isNew bool, lane string) error {
	arrived := time.Now()
	rec.operation = req.Operation()
	rec.oneway = !req.ResponseExpected()
	rec.version, rec.little = req.Version, req.LittleEndian
	body := req.Body()
	rec.bodyAlign = int8(req.BodyAlign())
	if err := a.checkRelay(rec, body); err != nil {
		a.metrics.outcome(outcomeUntranscoding)
		return err
	}
	if err := a.admitStore(len(body)); err != nil {
		return err
	}
	if isNew {
		if err := a.addLive(rec); err != nil {
			if err == errDuplicateTag {
				a.metrics.outcome(outcomeDuplicateTag)
			}
			return err
		}
	}
	refuse := func() {
		// The Refuse move: a new request leaves the table (dropLive
		// undoes addLive); a request object may be invoked again, which
		// its servant sees to on the live record.
		if tr, err := lifecycle.Step(rec.life(), lifecycle.Event{Kind: lifecycle.Refuse}); err == nil {
			rec.state = tr.To
			if tr.Has(lifecycle.Forget) {
				a.dropLive(rec)
				if rec.proxyID != (poller.ID{}) {
					a.maybeReapProxy(rec.proxyID) // destroyed while this call waited
				}
			}
		}
	}
	d := new(delegation)
	if err := a.queue.admit(ctx, &d.t, lane); err != nil {
		refuse()
		a.metrics.outcome(outcomeQueueFull)
		a.log.Info().Str("operation", rec.operation).Msg("agent: request refused: delegation queue full")
		return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.QueueFull, giop.CompletedNo, err)
	}
	waitReply := rec.props.WaitReply && wait > 0 && !rec.oneway
	tr, err := lifecycle.Step(rec.life(), lifecycle.Event{Kind: lifecycle.Accept, Thread: d.t.immediate, WaitReply: waitReply})
	if err != nil {
		// Neither new nor claimed: a bug, never a client's doing.
		a.queue.done(&d.t)
		refuse()
		return giop.NewSystemExceptionCause(giop.ExcInternal, 0, giop.CompletedNo, err)
	}
	rec.state = tr.To // not yet published: nobody else reads it
	// The delegation's own copy, taken while rec is still this call's:
	// once published, the live record's state is a.mu's.
	d.rec = *rec
	if tr.To == lifecycle.Unstored {
		return a.acceptWaiting(ctx, req, rec, body, d, &tr, wait, arrived)
	}
	for _, e := range tr.Effects() {
		switch e.Kind {
		case lifecycle.Write:
			if err := a.commit(recordBatch(rec, e.Keys, body, nil)); err != nil {
				a.queue.done(&d.t)
				refuse()
				a.metrics.outcome(storeOutcome(err))
				return a.writeRefused(rec, e.Keys, err)
			}
		case lifecycle.Publish:
			a.mu.Lock()
			if err := a.publishLocked(rec); err != nil {
				a.mu.Unlock()
				// Stored a moment ago for a request that may no longer be:
				// the write is undone, and nothing was sent.
				a.deleteRecords(rec, lifecycle.RecordKey|lifecycle.BodyKey, false)
				a.queue.done(&d.t)
				refuse()
				return err
			}
			if !d.t.immediate {
				a.queued[rec.id] = &d.t // found by a trash from the moment it is
			}
			a.mu.Unlock()
			a.log.Debug().Str("request", a.publicID(rec.id)).Str("operation", rec.operation).Str("tag", rec.tag).Msg("agent: request accepted")
		case lifecycle.Delegate:
			a.startDelegation(d, body, false)
		case lifecycle.Ack:
			a.metrics.outcome(outcomeAccepted)
			a.metrics.accepted(arrived)
			return a.premature(req, rec, rec.suppress)
		case lifecycle.Await:
			// It waits for a thread: it is stored, and the caller waits for
			// its reply as a pull on its poller would, up to wait_timeout.
			a.metrics.outcome(outcomeAccepted)
			a.metrics.accepted(arrived)
			return a.awaitResult(ctx, req, rec, wait, rec.suppress)
		case lifecycle.Crash:
			crashAt(e.Point)
		}
	}
	a.metrics.outcome(outcomeOneway) // acknowledged by nothing
	return nil
}

// acceptWaiting is send for a call that may evolve into a 2PI (WaitReply
// and a wait_timeout): the request is delegated at once, and a reply that
// comes within the wait goes straight to the caller — the request is then
// never written at all. Only when the wait ends without a reply is the
// request stored, and the premature return, the one thing that
// acknowledges it (docs/native-messaging.md), waits for that write. A crash during
// the wait loses nothing acknowledged: the caller sees its connection
// fail, as it would calling the target directly, and nothing is re-sent.
// accepted is the Accept move that made it unstored.
func (a *Agent) acceptWaiting(ctx context.Context, req *giop.ServerRequest, rec *requestRecord,
	body []byte, d *delegation, accepted *lifecycle.Transition, wait uint32, arrived time.Time) error {
	var h *handoff
	for _, e := range accepted.Effects() {
		switch e.Kind {
		case lifecycle.Publish:
			a.mu.Lock()
			err := a.publishLocked(rec)
			a.mu.Unlock()
			if err != nil {
				a.queue.done(&d.t)
				a.dropLive(rec)
				a.maybeReapProxy(rec.proxyID)
				return err
			}
		case lifecycle.Delegate:
			h = a.startDelegation(d, body, true)
		}
	}

	y, _ := h.await(ctx, poller.Timeout(wait))
	if y != nil {
		// Mature: the request is done, and nothing of it was stored. (One
		// trashed during the wait is gone already; its caller still gets
		// the reply it waited for.)
		a.metrics.outcome(outcomeMature)
		_, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Mature}, nil)
		if !ok {
			reply, _ := a.relayReply(req, rec, y, true)
			return reply
		}
		for _, e := range tr.Effects()[next:] {
			if e.Kind == lifecycle.Relay {
				reply, _ := a.relayReply(req, rec, y, e.Last)
				return reply
			}
			a.carry(rec, []lifecycle.Effect{e}, nil, nil)
		}
	}
	// The wait ended first. The delegation goes on: the request is stored
	// before it is acknowledged. The delegation holds its reply until this
	// is decided, so that the reply's write never precedes (and is never
	// undone by) this one.
	if hook := beforeEvolve.Load(); hook != nil {
		(*hook)(a, rec.id)
	}
	_, tr, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Evolve}, nil)
	if !ok {
		// Trashed during the wait: nothing is written for it, and the call
		// it may have been is over.
		close(h.decided)
		return giop.NewSystemException(giop.ExcObjectNotExist, nmproto.RequestTrashed, giop.CompletedMaybe)
	}
	for _, e := range tr.Effects()[next:] {
		switch e.Kind {
		case lifecycle.Crash:
			crashAt(e.Point)
		case lifecycle.Write:
			a.mu.Lock()
			b := recordBatch(rec, e.Keys, body, nil) // rec is live: its fields are a.mu's
			a.mu.Unlock()
			err := a.commit(b)
			if err == nil && !a.live(rec.id) {
				// Trashed between the move and its write, which may have
				// put back what the trash deleted: deleted again, and the
				// call it may have been is over.
				a.deleteTrashed(rec)
				close(h.decided)
				return giop.NewSystemException(giop.ExcObjectNotExist, nmproto.RequestTrashed, giop.CompletedMaybe)
			}
			if err != nil {
				// The request is already on its way to the target, so it may
				// run; but nothing durable acknowledges it, so no poller is
				// given, and its reply will find it gone.
				if _, refused, next, ok := a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Refuse}, nil); ok {
					a.carry(rec, refused.Effects()[next:], nil, nil)
				}
			}
			close(h.decided)
			if err != nil {
				a.metrics.outcome(outcomeStoreFailed)
				return giop.NewSystemExceptionCause(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedMaybe, err)
			}
		case lifecycle.Ack:
			a.metrics.outcome(outcomeAccepted)
			a.metrics.accepted(arrived)
			a.log.Debug().Str("request", a.publicID(rec.id)).Str("operation", rec.operation).Msg("agent: request evolved into a 2PI")
			return a.premature(req, rec, rec.suppress)
		}
	}
	return a.premature(req, rec, rec.suppress) // not reached: Evolve acknowledges
}

// beforeWritten, nil but in tests, runs before a read's Written move: the
// window in which its request is out of the table (export_test.go).
var beforeWritten atomic.Pointer[func()]

// beforeEvolve, nil but in tests, runs in acceptWaiting once the wait
// ended and before the Evolve move: the window a trash may land in
// (export_test.go).
var beforeEvolve atomic.Pointer[func(a *Agent, id poller.ID)]

// handoff passes a reply from a delegation to the caller waiting for it
// (WaitReply), unless the caller gave up first; exactly one side wins.
type handoff struct {
	state atomic.Int32 // 0 waiting, 1 delivered, 2 gave up
	// y is the delivery, written once before the token is sent on ready
	// (buffered 1). Exactly one token is ever sent, and await takes it,
	// so once await returns the channel is empty and unused: it goes back
	// to readyPool, and a handoff costs no allocation for it.
	y     *replyRecord
	ready chan struct{}
	// decided is closed once a caller that gave up has stored the request
	// (or failed to, and forgotten it); the delegation waits for it before
	// storing the reply.
	decided chan struct{}
}

// deliver hands y over if the caller still waits.
func (h *handoff) deliver(y *replyRecord) bool {
	if !h.state.CompareAndSwap(0, 1) {
		return false
	}
	h.y = y
	h.ready <- struct{}{}
	return true
}

// readyPool recycles handoffs' ready channels.
var readyPool = sync.Pool{New: func() any { return make(chan struct{}, 1) }}

// newReady returns an empty ready channel for a handoff.
func newReady() chan struct{} { return readyPool.Get().(chan struct{}) }

// await waits up to timeout (or Forever) for a delivery and returns it;
// delivered is false when the caller gave up first. A delivery may be nil
// (a puller told its reply is not coming this way).
func (h *handoff) await(ctx context.Context, timeout time.Duration) (y *replyRecord, delivered bool) {
	defer h.recycle()
	var expired <-chan time.Time
	if timeout != poller.Forever {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		expired = t.C
	}
	select {
	case <-h.ready:
		return h.y, true
	case <-expired:
	case <-ctx.Done():
	}
	if h.giveUp() {
		return nil, false
	}
	<-h.ready // it came just as the wait ended
	return h.y, true
}

// recycle returns the ready channel once await is done with it: its token
// was taken, or the caller gave up first and none will ever be sent.
func (h *handoff) recycle() {
	readyPool.Put(h.ready)
	h.ready = nil
}

// giveUp reports whether the caller gave up before a delivery. Only then
// is decided made: the delegation reads it after losing the race, which
// the compare-and-swap orders after this write.
func (h *handoff) giveUp() bool {
	h.decided = make(chan struct{})
	if h.state.CompareAndSwap(0, 2) {
		return true
	}
	h.decided = nil
	return false
}

// checkRelay makes sure the body can reach the target: unchanged when it
// can land at the offset modulo 8 it was encoded at (relay.go: the
// request goes at the lower of the client's and the profile's GIOP
// version, and a 1.0/1.1 header gets a padding context when need be),
// else re-encoded through the target's IDL. A request that cannot be
// relayed either way is refused now rather than corrupted later.
func (a *Agent) checkRelay(rec *requestRecord, body []byte) error {
	if len(body) == 0 || bodyRelayable(rec) {
		return nil
	}
	cause := errors.New("the body must be re-encoded for the target and its IDL is not loaded")
	if rec.bodyAlign >= 0 {
		v := giop.V1_2
		if prof, err := rec.target.CallProfile(); err == nil {
			v = relayVersion(rec.version, prof.Version)
		}
		scratch := giop.NewEncoder(v, true)
		d := giop.NewBodyDecoder(body, int(rec.bodyAlign), rec.version, rec.little)
		if err := a.idl.TranscodeArgs(rec.repoID, rec.operation, d, scratch); err == nil {
			return nil
		}
	} else {
		cause = errFragmentedBody
	}
	return giop.NewSystemExceptionCause(giop.ExcMarshal, nmproto.CannotTranscode, giop.CompletedNo, cause)
}

// premature answers a request whose reply is not there (yet): in
// suppressed mode a normal reply with zero values, else NO_RESPONSE with
// minor REPLY_NOT_AVAILABLE — both carrying the poller in NMService.
func (a *Agent) premature(req *giop.ServerRequest, rec *requestRecord, suppress bool) error {
	switch {
	case rec.props.ReplyDropping != 0 && !rec.recipient.IsNil():
		// No poller with a recipient and reply dropping: its replies may
		// be dropped, never kept for polling (docs/native-messaging.md,
		// ReplyDropping).
		req.SetReplyContexts(giop.ServiceContextList{encodePollerContext(nil)})
	case rec.proxyID == (poller.ID{}):
		req.SetReplyContexts(giop.ServiceContextList{a.pollerContext(keyRequest, rec)})
	default:
		req.SetReplyContexts(giop.ServiceContextList{a.pollerContext(keyPoller, rec)})
	}
	if suppress {
		err := a.idl.ZeroResults(rec.repoID, rec.operation, req.Results())
		if err == nil {
			return nil
		}
		if _, logged := a.noIDLOnce.LoadOrStore(rec.repoID, true); !logged {
			a.log.Warn().Err(err).Str("repo_id", rec.repoID).
				Msg("agent: suppressed mode needs the interface's IDL (--idl); answering unsuppressed")
		}
	}
	return errReplyNotAvailable
}

// errReplyNotAvailable is the unsuppressed premature return
// (docs/native-messaging.md, "A call's outcomes"), one value for all:
// nothing changes an exception once made.
var errReplyNotAvailable = giop.NewSystemException(giop.ExcNoResponse, nmproto.ReplyNotAvailable, giop.CompletedNo)

// pullMove answers a call asking for rec's reply (a pull, after any wait;
// a reply holder's call) by the Pull move: OBJECT_NOT_EXIST if the request
// is gone, BAD_OPERATION for another operation than its own, a premature
// return while its reply is not ready, else the stored reply. A read
// trashes the request unless RequestManualTrash keeps it (then polling is
// idempotent) or the call is on a reply holder (the callback's return
// trashes it): the request leaves memory at once, so no poll after this
// read sees it, and it is trashed once the reply has reached the socket,
// from where the kernel delivers it even if the agent dies. A reply lost
// before that puts it back: nothing acknowledged is lost. The price is
// the window between that write and the deletion's commit: a crash there
// lets the client read the result once more after the restart
// (at-least-once reads).
//
// rec is the caller's copy of the request; ev carries the Pull's facts.
func (a *Agent) pullMove(req *giop.ServerRequest, rec *requestRecord, ev lifecycle.Event, suppress bool) error {
	ev.Kind = lifecycle.Pull
	read, tr, next, ok := a.moveLive(rec.id, ev, nil)
	if !ok {
		// Out of the table: being read by another pull (Reading), or gone.
		gone := lifecycle.Request{State: lifecycle.Trashed}
		a.mu.Lock()
		if r := a.reading[rec.id]; r != nil {
			gone = r.life()
		}
		a.mu.Unlock()
		tr, _ = lifecycle.Step(gone, ev)
		next = 0
	}
	for _, e := range tr.Effects()[next:] {
		switch e.Kind {
		case lifecycle.Gone:
			return trashed(req)
		case lifecycle.WrongOp:
			return giop.NewSystemExceptionCause(giop.ExcBadOperation, nmproto.WrongOperation, giop.CompletedNo,
				errors.New("the request's operation is "+rec.operation))
		case lifecycle.Premature:
			return a.premature(req, rec, suppress)
		case lifecycle.Relay:
			if tr.To != lifecycle.Reading {
				return a.relayStored(req, rec, e.Last)
			}
			return a.readStored(req, rec, read, e.Last)
		}
	}
	return trashed(req) // not reached: every Pull answers
}

// relayStored answers with the stored reply of a request the read leaves
// as it is.
func (a *Agent) relayStored(req *giop.ServerRequest, rec *requestRecord, last bool) error {
	y, err := a.storedReply(rec)
	if err != nil {
		if errors.Is(err, storageErrNotFound) {
			return trashed(req)
		}
		return storeFailed(err)
	}
	reply, _ := a.relayReply(req, rec, y, last)
	return reply
}

// readStored answers with the stored reply of read, a request the Pull
// took out of memory (Reading), and carries out the Written move once
// the reply is on the socket, or not.
func (a *Agent) readStored(req *giop.ServerRequest, rec, read *requestRecord, last bool) error {
	y, err := a.storedReply(rec)
	if err != nil {
		a.written(read, false, true, nil)
		if errors.Is(err, storageErrNotFound) {
			return trashed(req)
		}
		return storeFailed(err)
	}
	reply, ok := a.relayReply(req, rec, y, last)
	if !ok {
		a.written(read, false, true, nil) // cannot be relayed: pollable again
		return reply
	}
	req.AfterReply(func(written bool) {
		a.goTracked(func() { a.written(read, written, true, nil) })
	})
	return reply
}

// written is the Written move of read, a request out of memory while its
// reply went to a caller: trashed once the reply reached the socket, else
// put back — and, a reply handed over from memory (replyStored false, y
// that reply), stored, so that it is pollable again.
func (a *Agent) written(read *requestRecord, written, replyStored bool, y *replyRecord) {
	if hook := beforeWritten.Load(); hook != nil {
		(*hook)()
	}
	a.mu.Lock()
	tr, ok := a.stepLocked(read, lifecycle.Event{Kind: lifecycle.Written, Written: written, ReplyStored: replyStored})
	if ok && tr.To == lifecycle.Trashed {
		a.endReadLocked(read.id) // a Restore takes it out of reading with it
	}
	a.mu.Unlock()
	if !ok {
		return
	}
	a.carry(read, tr.Effects(), nil, nil)
	switch {
	case tr.To == lifecycle.Sending:
		a.storeReply(read, y) // Store follows
		a.log.Debug().Str("request", a.publicID(read.id)).Msg("agent: handed-over reply not delivered; the request stays pollable")
	case tr.To != lifecycle.Trashed:
		a.log.Debug().Str("request", a.publicID(read.id)).Msg("agent: reply not delivered; the request stays pollable")
	}
}

// storedReply reads a request's reply from the store — or from memory,
// where storeReply keeps one it could not write (Agent.unstored).
func (a *Agent) storedReply(rec *requestRecord) (*replyRecord, error) {
	raw, err := a.store.Get(rec.key(prefixReply))
	if err != nil {
		a.mu.Lock()
		y := a.unstored[rec.id]
		a.mu.Unlock()
		if y != nil {
			// A copy: relayReply sets its raw field, and the holder of a
			// request kept by RequestManualTrash may read it again at once.
			c := *y
			return &c, nil
		}
		return nil, err
	}
	return decodeReply(raw)
}

// relayReply returns the stored reply as the handler's answer — the body
// unchanged when it can land at the offset modulo 8 it was encoded at (in
// a 1.0/1.1 reply, with a padding context) and its strings mean the same
// to this client, re-encoded otherwise — and whether the client gets the
// real result (else a relay failure). An exceptional reply carries
// ReplierName: the exception is the delegated request's real result, not
// the agent's.
//
// last adds NMNoMoreReply: after this reply the request has none.
func (a *Agent) relayReply(req *giop.ServerRequest, rec *requestRecord, y *replyRecord, last bool) (reply error, ok bool) {
	// Before the alignment check: the contexts are part of the header.
	switch {
	case y.status != giop.ReplyNoException && last:
		req.SetReplyContexts(replierLastContexts)
	case y.status != giop.ReplyNoException:
		req.SetReplyContexts(replierContexts)
	case last:
		req.SetReplyContexts(lastContexts)
	}
	// Read by a client at the version its request was sent at, the reply
	// means what it meant to the target (relay.go); a system exception is
	// a repository id and two numbers, no strings whose code sets matter.
	chars, wide := true, true
	if y.status != giop.ReplySystemException && req.Version != rec.version {
		w, r := replyRules(rec, y, req.Version)
		chars, wide = sameChars(w, r), sameWide(w, r)
	}
	if len(y.body) == 0 || (chars && wide && y.bodyAlign >= 0 && req.ReplyBodyFits(int(y.bodyAlign))) {
		y.raw = giop.RawReply{Status: y.status, Body: y.body, LittleEndian: y.little, Align: int(y.bodyAlign)}
		return &y.raw, true
	}
	if !chars {
		// The IDL re-encodes values, not code sets: nothing can relay it.
		return giop.NewSystemExceptionCause(giop.ExcCodesetIncompatible, nmproto.CannotTranscode, giop.CompletedNo,
			errors.New("the reply's strings are in another code set than this client reads (GIOP "+
				y.version.String()+" reply read at "+req.Version.String()+")")), false
	}
	if y.bodyAlign >= 0 {
		d := giop.NewBodyDecoder(y.body, int(y.bodyAlign), y.version, y.little)
		switch y.status {
		case giop.ReplySystemException:
			if x := d.SystemException(); d.Err() == nil {
				return x, true
			}
		case giop.ReplyNoException:
			if err := a.idl.TranscodeReply(rec.repoID, rec.operation, y.status, d, req.Results()); err == nil {
				return nil, true
			}
		}
	}
	return giop.NewSystemExceptionCause(giop.ExcMarshal, nmproto.CannotTranscode, giop.CompletedNo,
		errors.New("the reply must be re-encoded for the client and its IDL is not loaded")), false
}

// The reply contexts of mature returns, made once (a reply only reads
// them): ReplierName on an exception that is the real result, and
// NMNoMoreReply when the request has no reply after this one.
var (
	replierContexts     = giop.ServiceContextList{(&nmproto.Context{Kind: nmproto.KindReplierName}).Encode()}
	lastContexts        = giop.ServiceContextList{nmproto.NoMoreReplyContext}
	replierLastContexts = append(replierContexts[:1:1], nmproto.NoMoreReplyContext)
)

// errTrashed is a trashed request's OBJECT_NOT_EXIST.
var errTrashed = giop.NewSystemException(giop.ExcObjectNotExist, nmproto.RequestTrashed, giop.CompletedNo)

// trashed answers a call on a poller or request object whose request is
// gone: OBJECT_NOT_EXIST/REQUEST_TRASHED, and no reply any more.
func trashed(req *giop.ServerRequest) error {
	req.SetReplyContexts(lastContexts)
	return errTrashed
}

// awaitReply registers a caller about to wait on a poller for a reply that
// is not there yet, so that the delegation hands it the reply as it
// arrives — relayed at once, and never written: the request is then
// trashed with one write instead of storing the reply and deleting it
// after (two). Only a request whose reply nothing else needs qualifies
// (lifecycle.Request.Handable), one on its way (queued or sending), and
// only one caller at a time. It returns nil when the reply must be waited
// for the usual way.
func (a *Agent) awaitReply(rec *requestRecord) *handoff {
	// Only the facts that never change: rec may be the live record, whose
	// state is a.mu's.
	if !(lifecycle.Request{Recipient: !rec.recipient.IsNil(), ManualTrash: rec.props.ManualTrash}).Handable() {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.groups.Value(rec.id)
	if r == nil || (r.state != lifecycle.Queued && r.state != lifecycle.Sending) || a.pullers[rec.id] != nil {
		return nil
	}
	h := &handoff{ready: newReady()}
	a.pullers[rec.id] = h
	return h
}

// storeInFlight is a reply being written by storeReply (a Store move in
// flight). A pull that comes
// meanwhile takes it (takeInFlight) rather than wait for the flush: the
// reply is handed over as if it had come while the pull waited, and its
// request is trashed once stored closes — after the reply's own write,
// which the deletion must follow.
type storeInFlight struct {
	y      *replyRecord
	stored chan struct{} // closed by storeReply once the write is done (or failed)
}

// takeInFlight is the Take of a reply being written, if the live request
// has one: the request leaves memory for this read (Reading; the Take's
// Forget, under a.mu with the step), and only one caller gets it.
func (a *Agent) takeInFlight(id poller.ID) (*storeInFlight, *requestRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, r := a.inFlight[id], a.groups.Value(id)
	if s == nil || r == nil {
		return nil, nil
	}
	if _, ok := a.stepLocked(r, lifecycle.Event{Kind: lifecycle.Take}); !ok {
		return nil, nil
	}
	delete(a.inFlight, id)
	a.forgetLocked(id) // no ticket: its delegation is done
	a.reading[id] = r
	return s, r
}

// waitPuller waits up to timeout for the reply to be handed over, and
// returns it; or nil and told when it is not coming this way (the reply
// is being stored, or the request was trashed); or nil when the wait ran
// out.
func (a *Agent) waitPuller(ctx context.Context, id poller.ID, h *handoff, timeout time.Duration) (y *replyRecord, told bool) {
	y, told = h.await(ctx, timeout)
	if !told {
		a.mu.Lock()
		if a.pullers[id] == h {
			delete(a.pullers, id)
		}
		a.mu.Unlock()
	}
	return y, told && y == nil
}

// offerToPuller offers a delegation's reply to the caller waiting for it
// on the poller, if there is one still waiting; taken, it is the HandOver
// move (the request is handed over, and that caller's Take follows). Under
// a.mu, so that the Take finds the move made: deliver never blocks.
func (a *Agent) offerToPuller(id poller.ID, y *replyRecord) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	h := a.pullers[id]
	delete(a.pullers, id)
	if h == nil || !h.deliver(y) {
		return false
	}
	if r := a.groups.Value(id); r != nil {
		a.stepLocked(r, lifecycle.Event{Kind: lifecycle.HandOver})
	}
	return true
}

// readHanded answers a pull with the reply handed over by the delegation
// (stored nil; the Take of the handed request here), or taken while
// storeReply writes it (read already taken by takeInFlight; stored closes when
// that write is done), and trashes the request once the reply has reached
// the socket (Written). Should it not get there (or not be relayable),
// the reply is stored and the request is pollable again: nothing is lost.
// A crash before the trash is stored leaves the request as it was stored
// before its reply — caught mid-delegation, so its result after the
// restart is COMM_FAILURE/MAYBE (RELIABILITY.md) — or, once a reply taken
// while written is on disk, with that reply; only a caller that polls
// again after reading the real result can see either.
func (a *Agent) readHanded(req *giop.ServerRequest, rec, read *requestRecord, y *replyRecord, stored <-chan struct{}) error {
	a.metrics.handed.Inc() // before the reply goes out: whoever sees it sees the count
	if read == nil {
		var ok bool
		if read, _, _, ok = a.moveLive(rec.id, lifecycle.Event{Kind: lifecycle.Take}, nil); !ok {
			return trashed(req) // destroyed while the reply was on its way
		}
	}
	// after runs once the reply is on the socket (written) or not; a
	// reply taken while being written is first left to storeReply to write.
	after := func(written bool) {
		if stored != nil {
			<-stored
		}
		a.written(read, written, stored != nil, y)
	}
	reply, ok := a.relayReply(req, rec, y, true)
	if !ok {
		a.goTracked(func() { after(false) })
		return reply
	}
	req.AfterReply(func(written bool) {
		a.goTracked(func() { after(written) })
	})
	return reply
}

// requestServant is a request object (from create_request) or a poller.
// A request object's first call sends the request; every later call, and
// every call on a poller, pulls the reply.
type requestServant struct {
	a      *Agent
	id     poller.ID
	repoID string
	poller bool
}

func (s *requestServant) RepositoryID() string { return s.repoID }
func (s *requestServant) IsA(id string) bool   { return isA(s.repoID, id) }

func (s *requestServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	a := s.a
	a.mu.Lock()
	r := a.requestLocked(s.id)
	var rec requestRecord
	first := false
	if r != nil {
		if !s.poller {
			// The Claim of the first call, so a concurrent one pulls
			// instead.
			_, first = a.stepLocked(r, lifecycle.Event{Kind: lifecycle.Claim})
		}
		rec = *r
	}
	a.mu.Unlock()
	if r == nil {
		return trashed(req)
	}
	info, err := reqInfo(req)
	if first && err != nil {
		a.unclaim(s.id)
	}
	if err != nil {
		return err
	}
	if first {
		rec.suppress = info.Suppress
		err := a.accept(ctx, req, &rec, info.WaitTimeout, false, targetLane(rec.target))
		var x *giop.SystemException
		if errors.As(err, &x) && x.Completed == giop.CompletedNo && x.Minor != nmproto.ReplyNotAvailable {
			a.unclaim(s.id)
		}
		return err
	}
	return a.pull(ctx, req, &rec)
}

// unclaim is the Refuse of a request object's first call: still claimed
// (not accepted), it may be invoked again.
func (a *Agent) unclaim(id poller.ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r := a.groups.Value(id); r != nil && r.state == lifecycle.Claimed {
		a.stepLocked(r, lifecycle.Event{Kind: lifecycle.Refuse})
	}
}

// pull serves a call on a poller: the real result once it is there, else,
// after waiting up to the client's wait_timeout, a premature return.
// Another operation than the request's is a polling failure.
func (a *Agent) pull(ctx context.Context, req *giop.ServerRequest, rec *requestRecord) error {
	if req.Operation() != rec.operation {
		return a.pullMove(req, rec, lifecycle.Event{WrongOperation: true}, false)
	}
	var wait uint32
	suppress := false
	c, ok, err := nmproto.Lookup(req.Header.ServiceContexts)
	if err != nil {
		return giop.NewSystemExceptionCause(giop.ExcBadParam, nmproto.BadContext, giop.CompletedNo, err)
	}
	if ok {
		switch c.Kind {
		case nmproto.KindWaitTimeout:
			wait, suppress = c.WaitTimeout, rec.suppress
		case nmproto.KindReqInfo:
			wait, suppress = c.ReqInfo.WaitTimeout, c.ReqInfo.Suppress
		}
	}
	return a.awaitResult(ctx, req, rec, wait, suppress)
}

// awaitResult answers a call waiting for rec's reply (a pull, or a
// WaitReply call that had to wait for a thread): the real result once it
// is there, else a premature return after waiting up to wait ms.
func (a *Agent) awaitResult(ctx context.Context, req *giop.ServerRequest, rec *requestRecord, wait uint32, suppress bool) error {
	if wait != 0 {
		done, err := a.startWaiting()
		if err != nil {
			return err
		}
		defer done()
		if h := a.awaitReply(rec); h != nil {
			y, told := a.waitPuller(ctx, rec.id, h, poller.Timeout(wait))
			if y != nil {
				return a.readHanded(req, rec, nil, y, nil)
			}
			if !told {
				wait = 0 // waited already; the reply may have been stored meanwhile
			}
			// Told: the reply is being stored, or the request is gone.
		}
		// A reply being written is taken now rather than after its flush.
		if s, read := a.takeInFlight(rec.id); s != nil {
			return a.readHanded(req, rec, read, s.y, s.stored)
		}
	}
	if wait != 0 {
		a.awaitRead(ctx, rec.id, poller.Timeout(wait))
	}
	ready := a.groups.Wait(ctx, rec.id, poller.Timeout(wait))
	return a.pullMove(req, rec, lifecycle.Event{Ready: ready}, suppress)
}

// awaitRead waits, up to timeout, while another pull reads the request's
// reply (lifecycle.Reading): a caller willing to wait then learns how that
// read ended — the request trashed, so OBJECT_NOT_EXIST with NMNoMoreReply,
// or put back with its reply — rather than getting a premature return for
// a reply that was there all along. The read ends as soon as its reply is
// written to the socket (Agent.written), so the wait is short.
func (a *Agent) awaitRead(ctx context.Context, id poller.ID, timeout time.Duration) {
	a.mu.Lock()
	if a.reading[id] == nil {
		a.mu.Unlock()
		return
	}
	ended := a.readEnds[id]
	if ended == nil {
		ended = make(chan struct{})
		a.readEnds[id] = ended
	}
	a.mu.Unlock()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := timerpool.Get(timeout)
		defer timerpool.Put(t)
		deadline = t.C
	}
	select {
	case <-ended:
	case <-deadline:
	case <-ctx.Done():
	}
}

// endReadLocked takes a request out of reading, its read ended, and wakes
// the pulls waiting on that (awaitRead). a.mu must be held, except during
// recovery.
func (a *Agent) endReadLocked(id poller.ID) {
	delete(a.reading, id)
	if ended := a.readEnds[id]; ended != nil {
		delete(a.readEnds, id)
		close(ended)
	}
}
