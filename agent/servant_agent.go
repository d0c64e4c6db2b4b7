package agent

import (
	"context"
	"errors"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

func userException(id string) error { return &giop.UserException{RepoID: id} }

// invalidProperty raises InvalidProperty naming the property at fault,
// with the configured repository id.
func (a *Agent) invalidProperty(err error) error {
	var pe *nmproto.PropertyError
	name := ""
	if errors.As(err, &pe) {
		name = pe.Name
	}
	return &giop.UserException{RepoID: a.repo.InvalidProperty, Members: func(e *giop.Encoder) { e.WriteString(name) }}
}

func badParam(minor uint32, why string) error {
	return giop.NewSystemExceptionCause(giop.ExcBadParam, minor, giop.CompletedNo, errors.New(why))
}

// agentServant is the RequestAgentEx object at key "RequestAgent".
type agentServant struct{ a *Agent }

func (s *agentServant) RepositoryID() string { return s.a.repo.RequestAgentEx }

// IsA answers for RequestAgentEx and its base RequestAgent, with or without
// the configured prefix.
func (s *agentServant) IsA(id string) bool {
	r := s.a.repo
	return r.Is(r.RequestAgentEx, id) || r.Is(r.RequestAgent, id) || id == giop.CORBAObjectID
}

func (s *agentServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	a := s.a
	switch req.Operation() {
	case "create_request":
		return a.createRequest(ctx, req)
	case "poll":
		group := req.Args.BoundedString(1024, "polling group")
		timeout := req.Args.ULong()
		unmask := req.Args.Bool()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		return a.poll(ctx, req, a.callerGroup(req.Conn, group), timeout, unmask)
	case "destroy_request":
		ref := req.Args.IOR()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		if err := a.checkOwner(req, ref); err != nil {
			return err
		}
		return a.destroyRequestRef(ref)
	case "create_request_proxy":
		return a.createProxy(ctx, req)
	case "properties", "_get_properties":
		return nmproto.WriteProperties(req.Results(), a.cfg.Defaults.List())
	case nmproto.BindRecipientOp:
		r := req.Args.IOR()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		return a.bindRecipient(req.Conn, r)
	}
	return giop.BadOperation(req.Operation())
}

// poll serves RequestAgent::poll and RequestProxy::poll.
func (a *Agent) poll(ctx context.Context, req *giop.ServerRequest, group string, timeout uint32, unmask bool) error {
	if timeout != 0 {
		done, err := a.startWaiting()
		if err != nil {
			return err
		}
		defer done()
	}
	tags, err := a.groups.Poll(ctx, group, poller.Timeout(timeout), unmask)
	if errors.Is(err, poller.ErrGroupEmpty) {
		return userException(a.repo.PollingGroupIsEmpty)
	}
	if err != nil {
		return giop.NewSystemException(giop.ExcTimeout, 0, giop.CompletedNo)
	}
	e := req.Results()
	e.WriteULong(uint32(len(tags)))
	for _, t := range tags {
		e.WriteOctets(t)
	}
	return nil
}

// destroyRequestRef serves RequestAgent::destroy_request(Request): the
// reference may be a request object or a poller (Native Messaging destroys pollers).
func (a *Agent) destroyRequestRef(ref *giop.IOR) error {
	prof, err := ref.IIOP()
	if err != nil {
		return userException(a.repo.RequestNotExist)
	}
	kind, id, ok := parseKey(prof.ObjectKey)
	if !ok || (kind != keyRequest && kind != keyPoller) || a.locate(prof.ObjectKey) == nil || !a.trash(id) {
		return userException(a.repo.RequestNotExist)
	}
	return nil
}

// createRequest serves RequestAgent::create_request(RequestDesc).
func (a *Agent) createRequest(ctx context.Context, req *giop.ServerRequest) error {
	d := req.Args
	rec := &requestRecord{id: newID(), created: time.Now().UnixNano(), identity: req.Conn.PeerIdentity()}
	rec.target = d.IOR()
	rec.repoID = d.BoundedString(1024, "repository id")
	rec.recipient = d.IOR()
	rec.cookie = string(d.BoundedOctets(nmproto.MaxCookieLen, "cookie"))
	groupName := d.BoundedString(1024, "polling group")
	rec.tag = string(d.BoundedOctets(nmproto.MaxTagLen, "request tag"))
	props := nmproto.ReadProperties(d)
	if err := req.ArgsErr(); err != nil {
		return err
	}
	repoID, err := checkTarget(rec.target, rec.repoID)
	if err != nil {
		return err
	}
	rec.repoID = repoID
	if err := a.checkFields(rec.target, rec.recipient, rec.cookie, rec.tag); err != nil {
		a.metrics.outcome(outcomeTooLarge)
		return err
	}
	rec.bound = bindsRecipient(req.Conn, rec.recipient, false)
	if err := a.checkAllowed(ctx, rec.target, rec.recipient, rec.bound); err != nil {
		return err
	}
	if err := a.admitStore(rec.target.Size() + rec.recipient.Size() + len(rec.cookie)); err != nil {
		return err
	}
	rec.props, err = a.cfg.Defaults.Only(nmproto.ScopeRequest).Apply(props, nmproto.ScopeRequest)
	if err != nil {
		return badParam(nmproto.BadProperty, err.Error())
	}
	rec.group = a.callerGroup(req.Conn, groupName)
	rec.state = lifecycle.New
	if err := a.addLive(rec); err != nil {
		if err == errDuplicateTag {
			return userException(a.repo.DuplicatedRequestTag)
		}
		return err
	}
	tr, _ := lifecycle.Step(rec.life(), lifecycle.Event{Kind: lifecycle.Create})
	rec.state = tr.To // not yet published: nobody else reads it
	var rebound []*binding
	for _, e := range tr.Effects() {
		switch e.Kind {
		case lifecycle.Write:
			if err := a.commit(recordBatch(rec, e.Keys, nil, nil)); err != nil {
				a.dropLive(rec) // the Refuse of a request never stored
				return a.writeRefused(rec, e.Keys, err)
			}
		case lifecycle.Publish:
			a.mu.Lock()
			a.groups.SetValue(rec.id, rec)
			if rec.bound {
				a.reqBindings[rec.id], rebound = a.bind(req.Conn, rec.recipient)
			}
			a.mu.Unlock()
		}
	}
	a.rearm(rebound)
	a.log.Debug().Str("request", a.publicID(rec.id)).Str("group", groupName).Str("repo_id", rec.repoID).Msg("agent: request created")
	req.Results().WriteIOR(a.targetIOR(keyRequest, rec.id, rec.repoID, rec.target))
	return nil
}

// checkTarget applies the RequestDesc rules (docs/native-messaging.md): a nil target
// is BAD_PARAM; an empty repository id is taken from the target's IOR, and
// empty there too is BAD_PARAM.
func checkTarget(target *giop.IOR, repoID string) (string, error) {
	if target.IsNil() {
		return "", badParam(nmproto.NilTarget, "nil target")
	}
	if _, err := target.IIOP(); err != nil {
		return "", badParam(nmproto.NilTarget, "target has no IIOP profile")
	}
	if repoID == "" {
		repoID = target.TypeID
	}
	if repoID == "" {
		return "", badParam(nmproto.NoRepositoryID, "no repository id in the request nor in the target's IOR")
	}
	return repoID, nil
}

func storeFailed(err error) error {
	if errors.Is(err, storage.ErrNoSpace) {
		// The disk guard refused it before Badger saw it: nothing was
		// stored, and the client may try again once room is made.
		return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.StoreFull, giop.CompletedNo, err)
	}
	return giop.NewSystemExceptionCause(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedNo, err)
}

// writeRefused is the answer to a call refused because the write that
// would have stored its request failed with err. A write that timed out
// (context.DeadlineExceeded: the store's committer still has it) may yet
// land: a deletion of what it wrote is sent behind it, so that a request
// refused is not found in the store after a restart, and the call is
// answered COMPLETED_MAYBE, since that cannot be promised — etcd, unlike
// Badger's one committer, does not order a timed-out transaction before
// the next (docs/cluster.md).
func (a *Agent) writeRefused(rec *requestRecord, keys lifecycle.Keys, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return storeFailed(err)
	}
	a.deleteRecords(rec, keys, false)
	a.log.Warn().Err(err).Str("request", a.publicID(rec.id)).
		Msg("agent: request refused: its write timed out and may yet land; deleted again behind it")
	return giop.NewSystemExceptionCause(giop.ExcPersistStore, nmproto.StoreFailed, giop.CompletedMaybe, err)
}

// storeOutcome is the outcome a request refused with storeFailed(err) is
// counted under: the one that names what its client got.
func storeOutcome(err error) string {
	if errors.Is(err, storage.ErrNoSpace) {
		return outcomeStoreFull
	}
	return outcomeStoreFailed
}

// createProxy serves RequestAgentEx::create_request_proxy.
func (a *Agent) createProxy(ctx context.Context, req *giop.ServerRequest) error {
	d := req.Args
	p := &proxyRecord{id: newID(), receiverID: newID(), created: time.Now(), identity: req.Conn.PeerIdentity()}
	p.group = proxyGroup(p.id)
	p.target = d.IOR()
	p.lane = targetLane(p.target)
	p.repoID = d.BoundedString(1024, "repository id")
	p.recipient = d.IOR()
	props := nmproto.ReadProperties(d)
	if err := req.ArgsErr(); err != nil {
		return err
	}
	repoID, err := checkTarget(p.target, p.repoID)
	if err != nil {
		return err
	}
	p.repoID = repoID
	if err := a.checkFields(p.target, p.recipient, "", ""); err != nil {
		a.metrics.outcome(outcomeTooLarge)
		return err
	}
	// RecipientOnConnection binds the recipient to this connection: it is
	// called back over it, whatever its IOR says — the explicit binding of
	// Ice's fixed proxies, for a client whose ORB cannot announce listen
	// points — for as long as the connection lasts. It is taken out first,
	// since whether the recipient is bound decides whether the target
	// policy judges it.
	props, bind, err := nmproto.TakeProperty(props, nmproto.PropRecipientOnConnection)
	if err != nil {
		return a.invalidProperty(err)
	}
	p.bound = bindsRecipient(req.Conn, p.recipient, bind.(bool))
	if err := a.checkAllowed(ctx, p.target, p.recipient, p.bound); err != nil {
		return err
	}
	if err := a.admitStore(p.target.Size() + p.recipient.Size()); err != nil {
		return err
	}
	if p.props, err = a.cfg.Defaults.Apply(props, nmproto.ScopeProxy); err != nil {
		a.log.Info().Err(err).Msg("agent: create_request_proxy refused: InvalidProperty")
		return a.invalidProperty(err)
	}
	_, tr, _ := lifecycle.StepProxy(lifecycle.ProxyNew, lifecycle.ProxyEvent{Kind: lifecycle.ProxyCreate})
	var rebound []*binding
	for _, e := range tr.Effects() {
		switch e.Kind {
		case lifecycle.Write: // stored before anything can find it
			var b storage.Batch
			b.Set(proxyKey(p.id), p.encode())
			if err := a.commit(&b); err != nil {
				return storeFailed(err)
			}
		case lifecycle.Publish:
			a.mu.Lock()
			a.proxies[p.id] = p
			a.receivers[p.receiverID] = p
			if p.bound {
				p.binding, rebound = a.bind(req.Conn, p.recipient)
			}
			a.mu.Unlock()
		}
	}
	a.rearm(rebound)
	a.log.Debug().Str("proxy", a.publicID(p.id)).Str("repo_id", p.repoID).Bool("bound", p.bound).Msg("agent: proxy created")
	req.Results().WriteIOR(a.ior(a.repo.RequestProxy, objectKey(keyProxy, p.id)))
	return nil
}
