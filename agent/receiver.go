package agent

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/timerpool"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
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
		created:   time.Now().UnixNano(),
		identity:  req.Conn.PeerIdentity(),
	}
	return a.send(ctx, req, rec, info.WaitTimeout, true, proxy.lane)
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

// send accepts a request: it checks it can be relayed, takes a place in
// the delegation queue, stores it durably, starts its delegation and
// answers the client — with the mature reply if WaitReply and it comes in
// time, else with a premature return. Nothing is stored when the request is
// refused (IMP_LIMIT, duplicate tag, …).
//
// lane names the request's target for the queue's per-target bounds.
func (a *Agent) send(ctx context.Context, req *giop.ServerRequest, rec *requestRecord, wait uint32, isNew bool, lane string) error {
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
		if isNew {
			a.dropLive(rec)
		}
	}
	d := new(delegation)
	if err := a.queue.admit(ctx, &d.t, lane); err != nil {
		refuse()
		a.metrics.outcome(outcomeQueueFull)
		a.log.Info().Str("operation", rec.operation).Msg("agent: request refused: delegation queue full")
		return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.QueueFull, giop.CompletedNo, err)
	}
	// A request that gets a thread at once is stored as already being
	// sent: one durable write instead of two, and after a crash it is
	// rightly treated as possibly run.
	rec.state = stateAccepted
	if d.t.immediate {
		rec.state = stateSending
	}
	waitReply := rec.props.WaitReply && wait > 0 && !rec.oneway
	if waitReply && d.t.immediate {
		return a.sendWaiting(ctx, req, rec, body, d, wait, arrived)
	}
	b := requestBatch(rec, body)
	crashPoint(CrashBeforeStore)
	if err := a.commit(b); err != nil {
		a.queue.done(&d.t)
		refuse()
		a.metrics.outcome(storeOutcome(err))
		return storeFailed(err)
	}
	a.mu.Lock()
	a.groups.SetValue(rec.id, rec)
	if !d.t.immediate {
		a.queued[rec.id] = &d.t // found by a trash from the moment it is
	}
	a.mu.Unlock()
	a.log.Debug().Str("request", a.publicID(rec.id)).Str("operation", rec.operation).Str("tag", rec.tag).Msg("agent: request accepted")
	crashPoint(CrashAfterStore)
	a.startDelegation(d, rec, body, false)
	if rec.oneway {
		a.metrics.outcome(outcomeOneway)
		return nil
	}
	a.metrics.outcome(outcomeAccepted)
	a.metrics.accepted(arrived)
	if waitReply {
		// It waits for a thread: it is stored, and the caller waits for
		// its reply as a pull on its poller would, up to wait_timeout.
		return a.awaitResult(ctx, req, rec, wait, rec.suppress)
	}
	return a.premature(req, rec, rec.suppress)
}

// sendWaiting is send for a call that may evolve into a 2PI (WaitReply
// and a wait_timeout): the request is delegated at once, and a reply that
// comes within the wait goes straight to the caller — the request is then
// never written at all. Only when the wait ends without a reply is the
// request stored, and the premature return, the one thing that
// acknowledges it (docs/native-messaging.md), waits for that write. A crash during
// the wait loses nothing acknowledged: the caller sees its connection
// fail, as it would calling the target directly, and nothing is re-sent.
func (a *Agent) sendWaiting(ctx context.Context, req *giop.ServerRequest, rec *requestRecord,
	body []byte, d *delegation, wait uint32, arrived time.Time) error {
	a.mu.Lock()
	a.groups.SetValue(rec.id, rec)
	a.mu.Unlock()
	h := a.startDelegation(d, rec, body, true)

	y, _ := h.await(ctx, poller.Timeout(wait))
	if y != nil {
		// Mature: the request is done, and nothing of it was stored.
		a.forget(rec.id)
		if rec.proxyID != (poller.ID{}) {
			a.maybeReapProxy(rec.proxyID)
		}
		a.metrics.outcome(outcomeMature)
		reply, _ := a.relayReply(req, rec, y, true)
		return reply
	}
	// The delegation goes on: store the request before acknowledging it.
	// The delegation holds its reply until this is decided, so that the
	// reply's write never precedes (and is never undone by) this one.
	crashPoint(CrashBeforeStore)
	err := a.commit(requestBatch(rec, body))
	if err != nil {
		// The request is already on its way to the target, so it may run;
		// but nothing durable acknowledges it, so no poller is given, and
		// its reply will find it gone.
		a.forget(rec.id)
	}
	close(h.decided)
	if err != nil {
		a.metrics.outcome(outcomeStoreFailed)
		return giop.NewSystemExceptionCause(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedMaybe, err)
	}
	crashPoint(CrashAfterStore)
	a.metrics.outcome(outcomeAccepted)
	a.metrics.accepted(arrived)
	a.log.Debug().Str("request", a.publicID(rec.id)).Str("operation", rec.operation).Msg("agent: request evolved into a 2PI")
	return a.premature(req, rec, rec.suppress)
}

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

// requestBatch is the write that stores an accepted request.
func requestBatch(rec *requestRecord, body []byte) *storage.Batch {
	b := new(storage.Batch)
	qKey, bKey, _ := rec.keys()
	b.Set(qKey, rec.encode())
	b.Set(bKey, body)
	return b
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

// readStored answers with the stored reply of a request, and trashes the
// request unless RequestManualTrash keeps it (then polling is idempotent).
//
// last says whether this read leaves the request without a reply (it
// trashes it, or the recipient's callback will): the reply then carries
// NMNoMoreReply, for Current::no_more_reply.
func (a *Agent) readStored(req *giop.ServerRequest, rec *requestRecord, last bool) error {
	y, err := a.storedReply(rec)
	if err != nil {
		if errors.Is(err, storageErrNotFound) {
			return trashed(req)
		}
		return storeFailed(err)
	}
	reply, ok := a.relayReply(req, rec, y, last)
	if ok && !rec.props.ManualTrash {
		// Read means trashed — once the reply has reached the socket, from
		// where the kernel delivers it even if the agent dies. A reply lost
		// before that leaves the request pollable: nothing acknowledged is
		// lost. The price is the window between that write and the
		// deletion's commit: a crash there lets the client read the result
		// once more after the restart (at-least-once reads).
		// The request leaves memory now, so no poll after this read sees
		// it, and is put back if the reply never reaches the socket.
		read := a.forget(rec.id)
		req.AfterReply(func(written bool) {
			if read == nil {
				return
			}
			a.goTracked(func() {
				if !written {
					a.restore(read)
					return
				}
				crashPoint(CrashBeforeTrash)
				a.trashRecords(read, true, true)
				crashPoint(CrashAfterTrash)
			})
		})
	}
	return reply
}

// storedReply reads a request's reply from the store — or from memory,
// where finish keeps one it could not write (Agent.unstored).
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
// after (two). Only a request whose reply nothing else needs qualifies:
// no recipient to call back, no RequestManualTrash (reads that do not
// trash); and only one caller at a time. It returns nil
// when the reply must be waited for the usual way.
func (a *Agent) awaitReply(rec *requestRecord) *handoff {
	if !handable(rec) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.groups.Value(rec.id)
	if r == nil || (r.state != stateAccepted && r.state != stateSending) || a.pullers[rec.id] != nil {
		return nil
	}
	h := &handoff{ready: newReady()}
	a.pullers[rec.id] = h
	return h
}

// handable reports whether a pull may be handed the request's reply
// without reading it from the store: not when a recipient is to be
// called with it (or its reply dropped), nor when reads do not trash.
func handable(rec *requestRecord) bool {
	return rec.recipient.IsNil() && !rec.props.ManualTrash
}

// storingReply is a reply being written by finish. A pull that comes
// meanwhile takes it (takeStoring) rather than wait for the flush: the
// reply is handed over as if it had come while the pull waited, and its
// request is trashed once stored closes — after the reply's own write,
// which the deletion must follow.
type storingReply struct {
	y      *replyRecord
	stored chan struct{} // closed by finish once the write is done (or failed)
}

// takeStoring takes the reply of a live request that is being written,
// if there is one; only one caller gets it.
func (a *Agent) takeStoring(id poller.ID) *storingReply {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.storing[id]
	if s == nil || a.groups.Value(id) == nil {
		return nil
	}
	delete(a.storing, id)
	return s
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

// handToPuller gives a delegation's reply to the caller waiting for it on
// the poller, if there is one still waiting.
func (a *Agent) handToPuller(id poller.ID, y *replyRecord) bool {
	a.mu.Lock()
	h := a.pullers[id]
	delete(a.pullers, id)
	a.mu.Unlock()
	return h != nil && h.deliver(y)
}

// readHanded answers a pull with the reply handed over by the
// delegation (stored nil), or taken while finish writes it (stored closes
// when that write is done), and trashes the request once the reply has
// reached the socket. Should it not get there (or not be relayable), the
// reply is stored and the request is pollable again: nothing is lost. A
// crash before the trash is stored leaves the request as it was stored
// before its reply — caught mid-delegation, so its result after the
// restart is COMM_FAILURE/MAYBE (RELIABILITY.md) — or, once a reply taken
// while written is on disk, with that reply; only a caller that polls
// again after reading the real result can see either.
func (a *Agent) readHanded(req *giop.ServerRequest, rec *requestRecord, y *replyRecord, stored <-chan struct{}) error {
	a.metrics.handed.Inc() // before the reply goes out: whoever sees it sees the count
	read := a.forget(rec.id)
	if read == nil {
		return trashed(req) // destroyed while the reply was on its way
	}
	// after runs once the reply is on the socket (written) or not; a
	// reply taken while being written is first left to finish writing.
	after := func(written bool) {
		if stored != nil {
			<-stored
		}
		if !written {
			a.restoreReplied(read, y)
			return
		}
		crashPoint(CrashBeforeTrash)
		a.trashRecords(read, stored != nil, true)
		crashPoint(CrashAfterTrash)
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

// restoreReplied puts back a request whose handed-over reply did not
// reach its caller, and stores that reply: it is pollable again.
func (a *Agent) restoreReplied(r *requestRecord, y *replyRecord) {
	a.mu.Lock()
	a.reinsert(r, false)
	a.mu.Unlock()
	a.finish(r, y)
	a.log.Debug().Str("request", a.publicID(r.id)).Msg("agent: handed-over reply not delivered; the request stays pollable")
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
	r := a.groups.Value(s.id)
	var rec requestRecord
	if r != nil {
		rec = *r
	}
	first := r != nil && !s.poller && r.state == stateCreated
	if first {
		// Claim the first call, so a concurrent one pulls instead.
		r.state = stateAccepted
	}
	a.mu.Unlock()
	if r == nil {
		return trashed(req)
	}
	info, err := reqInfo(req)
	if err != nil {
		return err
	}
	if first {
		rec.suppress = info.Suppress
		err := a.send(ctx, req, &rec, info.WaitTimeout, false, targetLane(rec.target))
		var x *giop.SystemException
		if errors.As(err, &x) && x.Completed == giop.CompletedNo && x.Minor != nmproto.ReplyNotAvailable {
			// Refused: the request object may be invoked again.
			a.mu.Lock()
			if r := a.groups.Value(s.id); r != nil && r.state == stateAccepted {
				r.state = stateCreated
			}
			a.mu.Unlock()
		}
		return err
	}
	return a.pull(ctx, req, &rec)
}

// pull serves a call on a poller: the real result once it is there, else,
// after waiting up to the client's wait_timeout, a premature return.
// Another operation than the request's is a polling failure.
func (a *Agent) pull(ctx context.Context, req *giop.ServerRequest, rec *requestRecord) error {
	if req.Operation() != rec.operation {
		return giop.NewSystemExceptionCause(giop.ExcBadOperation, nmproto.WrongOperation, giop.CompletedNo,
			errors.New("the poller's request is "+rec.operation))
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
				return a.readHanded(req, rec, y, nil)
			}
			if !told {
				wait = 0 // waited already; the reply may have been stored meanwhile
			}
			// Told: the reply is being stored, or the request is gone.
		}
		// A reply being written is taken now rather than after its flush.
		if s := a.takeStoring(rec.id); s != nil {
			return a.readHanded(req, rec, s.y, s.stored)
		}
	}
	if !a.groups.Wait(ctx, rec.id, poller.Timeout(wait)) {
		a.mu.Lock()
		live := a.groups.Value(rec.id) != nil
		a.mu.Unlock()
		if !live {
			return trashed(req)
		}
		return a.premature(req, rec, suppress)
	}
	return a.readStored(req, rec, !rec.props.ManualTrash)
}
