package agent

import (
	"context"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

// proxyServant is a RequestProxy.
type proxyServant struct {
	a  *Agent
	id poller.ID
}

func (s *proxyServant) RepositoryID() string { return s.a.repo.RequestProxy }

// IsA answers for RequestProxy with or without the configured prefix.
func (s *proxyServant) IsA(id string) bool {
	return s.a.repo.Is(s.a.repo.RequestProxy, id) || id == giop.CORBAObjectID
}

func proxyGone() error {
	return giop.NewSystemException(giop.ExcObjectNotExist, nmproto.ProxyDestroyed, giop.CompletedNo)
}

func (s *proxyServant) Invoke(ctx context.Context, req *giop.ServerRequest) error {
	a := s.a
	snapshot, ok := a.proxy(s.id)
	if !ok {
		return proxyGone()
	}
	// After destroy(false) the proxy is "to be destroyed": the_receiver,
	// properties and destroy raise OBJECT_NOT_EXIST, poll and
	// destroy_request go on working until every request is trashed.
	switch op := req.Operation(); op {
	case "the_receiver", "_get_the_receiver":
		if snapshot.toBeDestroyed {
			return proxyGone()
		}
		req.Results().WriteIOR(a.targetIOR(keyReceiver, snapshot.receiverID, snapshot.repoID, snapshot.target))
		return nil
	case "properties", "_get_properties":
		if snapshot.toBeDestroyed {
			return proxyGone()
		}
		return nmproto.WriteProperties(req.Results(), snapshot.props.List())
	case "poll":
		timeout := req.Args.ULong()
		unmask := req.Args.Bool()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		return a.poll(ctx, req, proxyGroup(s.id), timeout, unmask)
	case "destroy_request":
		tag := req.Args.BoundedOctets(nmproto.MaxTagLen, "request tag")
		if err := req.ArgsErr(); err != nil {
			return err
		}
		id, ok := a.groups.ByTag(proxyGroup(s.id), tag)
		if !ok || !a.trash(id) {
			return userException(a.repo.RequestNotExist)
		}
		return nil
	case "destroy":
		destroyRequests := req.Args.Bool()
		if err := req.ArgsErr(); err != nil {
			return err
		}
		if snapshot.toBeDestroyed {
			return proxyGone()
		}
		return a.destroyProxy(s.id, destroyRequests)
	default:
		return giop.BadOperation(op)
	}
}

// destroyProxy serves RequestProxy::destroy: with destroyRequests every
// request goes and the proxy with them; without, the proxy waits, "to be
// destroyed", until its requests are trashed one by one.
func (a *Agent) destroyProxy(id poller.ID, destroyRequests bool) error {
	if destroyRequests {
		for _, rid := range a.groups.Members(proxyGroup(id)) {
			a.trash(rid)
		}
	}
	a.mu.Lock()
	p := a.proxies[id]
	if p == nil {
		a.mu.Unlock()
		return proxyGone()
	}
	next, tr, err := lifecycle.StepProxy(p.state(), lifecycle.ProxyEvent{Kind: lifecycle.ProxyDestroy})
	if err != nil {
		// To be destroyed already (an operator's destroy of a proxy its
		// client destroyed): its requests went above, and it goes with
		// its last one.
		a.mu.Unlock()
		a.maybeReapProxy(id)
		return nil
	}
	p.toBeDestroyed = next == lifecycle.ProxyDying
	rec := p.encode()
	a.mu.Unlock()
	for _, e := range tr.Effects() {
		if e.Kind == lifecycle.Write {
			var b storage.Batch
			b.Set(proxyKey(id), rec)
			if err := a.commit(&b); err != nil {
				return storeFailed(err)
			}
		}
	}
	a.maybeReapProxy(id)
	return nil
}
