package nm

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/idl"
	"github.com/requestagent/requestagent/nmproto"
)

// Repository ids of the agent's interfaces (idl/NativeMessaging.idl).
const (
	RequestAgentID   = nmproto.RequestAgentID
	RequestAgentExID = nmproto.RequestAgentExID
	RequestProxyID   = nmproto.RequestProxyID
	ReplyRecipientID = nmproto.ReplyRecipientID
)

// Agent is a connection to a request agent: the RequestAgentEx object,
// and the IDL through which calls on typed receivers, request objects,
// pollers and reply holders are marshalled. It is safe for concurrent use.
type Agent struct {
	ref    *giop.IOR
	client *giop.Client
	cfg    *giop.Config
	repo   *idl.Repository

	closeOnce sync.Once
}

// Option configures Dial.
type Option func(*options)

type options struct {
	repo    *idl.Repository
	idlOpts *idl.Options
	loads   []func(r *idl.Repository, o *idl.Options) error
	giop    *giop.Config
}

// WithRepository makes calls use r for the IDL of target interfaces. IDL
// given with WithIDLFiles and WithIDLSource is loaded into r. Do not load
// more into r while the Agent is in use.
func WithRepository(r *idl.Repository) Option { return func(o *options) { o.repo = r } }

// WithIDLFiles loads IDL files, or every *.idl file of a directory, for the
// target interfaces (as the agent's --idl flag does).
func WithIDLFiles(paths ...string) Option {
	return func(o *options) {
		for _, p := range paths {
			o.loads = append(o.loads, func(r *idl.Repository, opts *idl.Options) error {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					return r.LoadDir(p, opts)
				}
				return r.LoadFile(p, opts)
			})
		}
	}
}

// WithIDLSource loads IDL held in memory, such as a go:embed string; name
// appears in error messages.
func WithIDLSource(name string, src []byte) Option {
	return func(o *options) {
		o.loads = append(o.loads, func(r *idl.Repository, opts *idl.Options) error {
			return r.LoadSource(name, src, opts)
		})
	}
}

// WithIDLOptions sets the include paths and defines used by WithIDLFiles
// and WithIDLSource.
func WithIDLOptions(opts *idl.Options) Option { return func(o *options) { o.idlOpts = opts } }

// WithGIOPConfig sets the limits and timeouts of the connections to the
// agent (default giop.DefaultConfig()).
func WithGIOPConfig(cfg *giop.Config) Option { return func(o *options) { o.giop = cfg } }

// Dial connects to the request agent named by ref — a stringified IOR or a
// corbaloc URL such as corbaloc:iiop:1.2@127.0.0.1:5555/RequestAgent — and
// checks, with ctx, that it is one (_is_a). The target interfaces' IDL is
// loaded from the options.
func Dial(ctx context.Context, ref string, opts ...Option) (*Agent, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ior, err := ParseRef(ref)
	if err != nil {
		return nil, wrap("dial", err)
	}
	if ior.IsNil() {
		return nil, wrap("dial", fmt.Errorf("%w: nil agent reference", ErrBadReference))
	}
	repo := o.repo
	if repo == nil {
		repo = idl.NewRepository()
	}
	for _, load := range o.loads {
		if err := load(repo, o.idlOpts); err != nil {
			return nil, wrap("dial: loading IDL", err)
		}
	}
	cfg := o.giop
	if cfg == nil {
		cfg = giop.DefaultConfig()
	} else if err := cfg.Validate(); err != nil {
		return nil, wrap("dial", err)
	}
	a := &Agent{ref: ior, client: giop.NewClient(cfg), cfg: cfg, repo: repo}
	ok, err := isA(ctx, a.client, ior, RequestAgentID)
	if err != nil {
		a.client.Close()
		return nil, wrap("dial "+ref, err)
	}
	if !ok {
		a.client.Close()
		return nil, wrap("dial "+ref, ErrNotAgent)
	}
	return a, nil
}

// ParseRef parses a stringified IOR ("IOR:…") or a corbaloc URL. A
// corbaloc reference has no type id, as in omniORB; name the interface
// with Object.WithRepoID or a repository id argument.
func ParseRef(s string) (*giop.IOR, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) >= 4 && strings.EqualFold(s[:4], "IOR:"):
		ior, err := giop.ParseIOR(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadReference, err)
		}
		return ior, nil
	case len(s) >= 9 && strings.EqualFold(s[:9], "corbaloc:"):
		loc, err := giop.ParseCorbaloc(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadReference, err)
		}
		return loc.IOR(""), nil
	}
	return nil, fmt.Errorf("%w: %q is neither an IOR nor a corbaloc URL", ErrBadReference, s)
}

// isA calls _is_a on ref.
func isA(ctx context.Context, c *giop.Client, ref *giop.IOR, id string) (bool, error) {
	resp, err := c.Invoke(ctx, ref, &giop.Invocation{Operation: "_is_a",
		Args: func(e *giop.Encoder) { e.WriteString(id) }})
	if err != nil {
		return false, err
	}
	ok := resp.Result.Bool()
	return ok, resp.Result.Err()
}

// IOR returns the agent's reference.
func (a *Agent) IOR() *giop.IOR { return a.ref }

// Repository returns the IDL repository calls are marshalled with.
func (a *Agent) Repository() *idl.Repository { return a.repo }

// Close closes the connections to the agent. Calls in progress fail;
// objects of this Agent cannot be called afterwards. It is idempotent.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() { a.client.Close() })
	return nil
}

// Object returns a handle for calling ref (see Target) dynamically with
// the interface repoID, or, when repoID is empty, the type id of its IOR.
// Whether calls carry the Current is decided by the reference's TAG_NM_REF
// component, as the C++ and Java clients decide: typed receivers and
// request objects get req_info, pollers and reply holders wait_timeout,
// and other objects (a target called directly) nothing.
func (a *Agent) Object(ref Target, repoID string) (*Object, error) {
	ior, err := resolveTarget("object", ref)
	if err != nil {
		return nil, err
	}
	return a.object(ior, repoID), nil
}

// CreateRequestProxy creates a request proxy — a polling group bound to
// target — whose typed receiver (Proxy.Receiver) has the target's
// interface: repoID, or when empty the type id of the target's IOR.
// recipient, if not nil, is the ReplyRecipient the agent calls back when a
// reply is ready (see HostRecipient). A nil target fails with an error
// matching ErrNilTarget; a property the agent refuses with one matching
// ErrInvalidProperty (a *UserException naming it).
func (a *Agent) CreateRequestProxy(ctx context.Context, target Target, repoID string, recipient Target, props ...Property) (*Proxy, error) {
	const what = "create_request_proxy"
	t, rcp, err := targetAndRecipient(what, target, recipient)
	if err != nil {
		return nil, err
	}
	resp, err := a.callHanding(ctx, recipient, "create_request_proxy", func(e *giop.Encoder) error {
		e.WriteIOR(t)
		e.WriteString(repoID)
		e.WriteIOR(rcp)
		return writeProperties(e, props)
	})
	if err != nil {
		return nil, wrap(what, err)
	}
	ref := resp.Result.IOR()
	if err := resp.Result.Err(); err != nil {
		return nil, wrap(what, err)
	}
	if repoID == "" {
		repoID = t.TypeID
	}
	return &Proxy{agent: a, ref: ref, repoID: repoID}, nil
}

// Proxy returns a handle for an existing request proxy, such as one whose
// IOR was stored. repoID names the target interface for its receiver (""
// takes the receiver IOR's type id).
func (a *Agent) Proxy(ref Target, repoID string) (*Proxy, error) {
	ior, err := resolveTarget("proxy", ref)
	if err != nil {
		return nil, err
	}
	return &Proxy{agent: a, ref: ior, repoID: repoID}, nil
}

// RequestDesc describes a request for CreateRequest (the IDL's
// RequestDesc, members in the same order).
type RequestDesc struct {
	// Target is the object the request goes to (see Target); required.
	Target Target
	// RepositoryID is its interface; "" takes the target IOR's type id,
	// "*" makes the request object answer _is_a true for every id.
	RepositoryID string
	// ReplyRecipient, if not nil, is called back when the reply is ready.
	ReplyRecipient Target
	// Cookie is handed to the recipient's reply_available unchanged.
	Cookie []byte
	// PollingGroup is the group Agent.Poll reports the request in.
	PollingGroup string
	// RequestTag identifies the request in its group; unique among the
	// group's live requests.
	RequestTag []byte
	// Properties: only RequestManualTrash applies to requests.
	Properties []Property
}

// CreateRequest creates a request object (the older model of Native Messaging): an
// object with the target's interface whose first call sends the request
// and whose later calls with the same operation pull its reply.
func (a *Agent) CreateRequest(ctx context.Context, d RequestDesc) (*Request, error) {
	const what = "create_request"
	t, rcp, err := targetAndRecipient(what, d.Target, d.ReplyRecipient)
	if err != nil {
		return nil, err
	}
	resp, err := a.callHanding(ctx, d.ReplyRecipient, "create_request", func(e *giop.Encoder) error {
		e.WriteIOR(t)
		e.WriteString(d.RepositoryID)
		e.WriteIOR(rcp)
		e.WriteOctets(d.Cookie)
		e.WriteString(d.PollingGroup)
		e.WriteOctets(d.RequestTag)
		return writeProperties(e, d.Properties)
	})
	if err != nil {
		return nil, wrap(what, err)
	}
	ref := resp.Result.IOR()
	if err := resp.Result.Err(); err != nil {
		return nil, wrap(what, err)
	}
	repoID := d.RepositoryID
	if repoID == "" || repoID == "*" {
		repoID = t.TypeID
	}
	return &Request{Object: a.object(ref, repoID).as(roleRequest), Group: d.PollingGroup, Tag: append([]byte(nil), d.RequestTag...)}, nil
}

// Poll returns the tags of the requests of a polling group (see
// RequestDesc.PollingGroup) whose replies are ready. timeout 0 never
// blocks; a positive one blocks up to it (in whole milliseconds) for a
// first reply; WaitForever blocks until one is ready. unmask reports each
// ready tag once; without it a tag is reported until its request is
// trashed. An empty group gives an error matching ErrPollingGroupIsEmpty.
func (a *Agent) Poll(ctx context.Context, group string, timeout time.Duration, unmask bool) ([][]byte, error) {
	return a.poll(ctx, a.ref, &group, timeout, unmask)
}

// DestroyRequest trashes a request: req is a *Request, or a poller (an
// *Object or its IOR), as Native Messaging destroys pollers. A request that does
// not exist (any more) gives an error matching ErrRequestNotExist.
func (a *Agent) DestroyRequest(ctx context.Context, req Target) error {
	const what = "destroy_request"
	ior, err := resolve(req)
	if err != nil {
		return wrap(what, err)
	}
	_, err = a.call(ctx, a.ref, "destroy_request", func(e *giop.Encoder) error {
		e.WriteIOR(ior)
		return nil
	})
	return wrap(what, err)
}

// Properties returns the agent's default proxy properties.
func (a *Agent) Properties(ctx context.Context) ([]Property, error) {
	return a.properties(ctx, a.ref, "properties")
}

// poll calls poll on the agent (group set) or on a proxy.
func (a *Agent) poll(ctx context.Context, obj *giop.IOR, group *string, timeout time.Duration, unmask bool) ([][]byte, error) {
	resp, err := a.call(ctx, obj, "poll", func(e *giop.Encoder) error {
		if group != nil {
			e.WriteString(*group)
		}
		e.WriteULong(millis(timeout))
		e.WriteBool(unmask)
		return nil
	})
	if err != nil {
		return nil, wrap("poll", err)
	}
	d := resp.Result
	n := d.SeqLen(4)
	tags := make([][]byte, 0, n)
	for range n {
		tags = append(tags, d.Octets())
	}
	if err := d.Err(); err != nil {
		return nil, wrap("poll", err)
	}
	return tags, nil
}

// properties calls an operation returning a PropertySeq.
func (a *Agent) properties(ctx context.Context, obj *giop.IOR, op string) ([]Property, error) {
	resp, err := a.call(ctx, obj, op, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	props := readProperties(resp.Result)
	if err := resp.Result.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return props, nil
}

// callHanding is call on the agent object for an operation that hands a
// recipient over. A Recipient hosted OverBiDir is reached only over its own
// bidirectional connection, and the agent binds a recipient to the
// connection that handed it over and announces its address — so the call
// goes over that connection.
func (a *Agent) callHanding(ctx context.Context, recipient Target, op string, args func(*giop.Encoder) error) (*giop.Response, error) {
	r, ok := recipient.(*Recipient)
	if !ok || r == nil || r.bidir == nil {
		return a.call(ctx, a.ref, op, args)
	}
	conn, err := r.connection(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := conn.Invoke(ctx, a.key(), &giop.Invocation{Operation: op, Encode: args})
	if ux, ok := err.(*giop.UserException); ok {
		return nil, a.userException(ux.RepoID, ux.Body, nil)
	}
	return resp, err
}

// key returns the agent object's key.
func (a *Agent) key() []byte {
	if prof, err := a.ref.IIOP(); err == nil {
		return prof.ObjectKey
	}
	return nil
}

// call makes a call on one of the agent's own objects (no Current) and
// turns a user exception into a *UserException decoded through the
// NativeMessaging IDL.
func (a *Agent) call(ctx context.Context, obj *giop.IOR, op string, args func(*giop.Encoder) error) (*giop.Response, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inv := &giop.Invocation{Operation: op, Encode: args}
	if args == nil {
		inv.Encode = func(*giop.Encoder) error { return nil }
	}
	resp, err := a.client.Invoke(ctx, obj, inv)
	if ux, ok := err.(*giop.UserException); ok {
		return nil, a.userException(ux.RepoID, ux.Body, nil)
	}
	return resp, err
}

// targetAndRecipient resolves the target (which must not be nil) and the
// recipient (which may be) of a proxy or request.
// resolveTarget is resolve for a reference that must not be nil; errors
// name what was being done.
func resolveTarget(what string, t Target) (*giop.IOR, error) {
	ior, err := resolve(t)
	if err != nil {
		return nil, wrap(what, err)
	}
	if ior.IsNil() {
		return nil, nilTarget(what)
	}
	return ior, nil
}

func targetAndRecipient(what string, target, recipient Target) (*giop.IOR, *giop.IOR, error) {
	t, err := resolveTarget(what, target)
	if err != nil {
		return nil, nil, err
	}
	r, err := resolve(recipient)
	if err != nil {
		return nil, nil, wrap(what+": recipient", err)
	}
	return t, r, nil
}
