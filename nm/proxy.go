package nm

import (
	"context"
	"errors"
	"time"

	"github.com/requestagent/requestagent/giop"
)

// Proxy is a request proxy (RequestProxy): a polling group bound to one
// target, whose typed receiver delegates calls to it. It is safe for
// concurrent use.
type Proxy struct {
	agent  *Agent
	ref    *giop.IOR
	repoID string
}

// IOR returns the proxy's reference.
func (p *Proxy) IOR() *giop.IOR { return p.ref }

// Receiver returns the typed receiver (the_receiver): an object with the
// target's interface on which every call is delegated to the target as a
// two-phase invocation. After Destroy it fails with an error matching
// ErrProxyDestroyed.
func (p *Proxy) Receiver(ctx context.Context) (*Object, error) {
	const what = "the_receiver"
	resp, err := p.agent.call(ctx, p.ref, "_get_the_receiver", nil)
	if err != nil {
		return nil, wrapGone(what, err, ErrProxyDestroyed)
	}
	ref := resp.Result.IOR()
	if err := resp.Result.Err(); err != nil {
		return nil, wrap(what, err)
	}
	return p.agent.object(ref, p.repoID).as(roleReceiver), nil
}

// Properties returns the proxy's properties: the agent's defaults with the
// ones given to CreateRequestProxy applied.
func (p *Proxy) Properties(ctx context.Context) ([]Property, error) {
	props, err := p.agent.properties(ctx, p.ref, "properties")
	return props, p.gone(err)
}

// gone makes OBJECT_NOT_EXIST from the proxy match ErrProxyDestroyed.
func (p *Proxy) gone(err error) error {
	var c *callError
	if errors.As(err, &c) && c.gone == nil {
		c.gone = ErrProxyDestroyed.(*sentinel)
	}
	return err
}

// Poll returns the tags (Current.RequestTag) of the proxy's requests whose
// replies are ready, with Agent.Poll's timeout and unmask rules. A proxy
// without live requests gives an error matching ErrPollingGroupIsEmpty.
func (p *Proxy) Poll(ctx context.Context, timeout time.Duration, unmask bool) ([][]byte, error) {
	tags, err := p.agent.poll(ctx, p.ref, nil, timeout, unmask)
	return tags, p.gone(err)
}

// DestroyRequest trashes the proxy's request with the given tag; an error
// matching ErrRequestNotExist if there is none.
func (p *Proxy) DestroyRequest(ctx context.Context, tag []byte) error {
	_, err := p.agent.call(ctx, p.ref, "destroy_request", func(e *giop.Encoder) error {
		e.WriteOctets(tag)
		return nil
	})
	return wrapGone("destroy_request", err, ErrProxyDestroyed)
}

// Destroy destroys the proxy. With destroyRequests its requests go too;
// without, the proxy is "to be destroyed": Receiver, Properties and
// Destroy fail (ErrProxyDestroyed) while Poll and DestroyRequest work
// until its last request is trashed.
func (p *Proxy) Destroy(ctx context.Context, destroyRequests bool) error {
	_, err := p.agent.call(ctx, p.ref, "destroy", func(e *giop.Encoder) error {
		e.WriteBool(destroyRequests)
		return nil
	})
	return wrapGone("destroy", err, ErrProxyDestroyed)
}

// Request is a request object from Agent.CreateRequest: an Object with the
// target's interface whose first call sends the request and whose later
// calls with the same operation pull the reply, like a poller.
type Request struct {
	*Object
	// Group and Tag are the polling group and request tag it was created
	// with.
	Group string
	Tag   []byte
}

// Destroy trashes the request (Agent.DestroyRequest).
func (r *Request) Destroy(ctx context.Context) error {
	return r.agent.DestroyRequest(ctx, r)
}
