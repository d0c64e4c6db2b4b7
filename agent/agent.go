package agent

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/logevery"
	"github.com/requestagent/requestagent/internal/workerpool"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/recipient"
	"github.com/requestagent/requestagent/storage"
)

// Repository ids of the agent's own objects (idl/NativeMessaging.idl).
const (
	RequestAgentID   = nmproto.RequestAgentID
	RequestAgentExID = nmproto.RequestAgentExID
	RequestProxyID   = nmproto.RequestProxyID
	ReplyRecipientID = nmproto.ReplyRecipientID
)

// Agent is the Native Messaging request agent: the RequestAgent servant,
// request proxies, typed receivers, pollers and delegation to targets.
type Agent struct {
	cfg    Config
	log    zerolog.Logger
	store  Store
	pub    ids                              // public ids for operators (publicid.go)
	repo   nmproto.RepoIDs                  // NativeMessaging's repository ids, as configured
	groups *poller.Registry[*requestRecord] // also the live requests by id
	queue  *queue
	client *giop.Client
	idl    IDL

	adapter *giop.Adapter
	server  *giop.Server
	ln      net.Listener
	own     *ownAddrs // the listener's addresses (self.go)
	policy  *targetPolicy
	// tlsLn is the TLS listen point, ownTLS its addresses, tls the files
	// loaded for it (tls.go); nil without TLS.
	tlsLn  net.Listener
	ownTLS *ownAddrs
	tls    *tlsFiles
	// identityRefusals spaces the log lines of calls refused for another
	// TLS identity (refuseOther).
	identityRefusals logevery.Limiter
	addrs            published // the addresses in its references (publish.go)
	port             uint16    // the port it listens on

	// ctx ends when the agent stops for good; delegations watch it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // delegations and the serve loop
	// delegations runs delegations on reused goroutines (see
	// startDelegation); a delegation is in wg while it runs.
	delegations *workerpool.Pool[*delegation]
	// tracked runs goTracked's functions (a deletion after each read, …)
	// on reused goroutines: a fresh one grew its stack in every commit it
	// waited for. A function is in wg while it runs.
	tracked *workerpool.Pool[func()]
	// bg tracks background chores (retention) that run until the agent
	// stops, apart from wg so that graceful shutdown does not wait on them.
	bg sync.WaitGroup

	deliverer *recipient.Deliverer
	metrics   *metrics
	index     index   // memory of live requests (limits.go)
	waiting   waiting // calls blocked waiting (limits.go)
	// spaceWarned is when a refusal for lack of disk space was last
	// logged (UnixNano; admitSpace).
	spaceWarned atomic.Int64
	// ready is set once state is recovered and the agent serves.
	ready atomic.Bool
	// failed is closed, with failure set, when the agent cannot go on
	// serving (its GIOP listener stopped); see Failed.
	failed   chan struct{}
	failure  atomic.Pointer[error]
	failOnce sync.Once

	// mu guards the maps below and the fields of the live request records
	// (found through groups, whose own lock is taken inside mu, never
	// the other way round): looking a request up and changing or
	// forgetting it happen under mu as one step.
	mu      sync.Mutex
	proxies map[poller.ID]*proxyRecord
	// receivers maps a typed receiver's id to its proxy.
	receivers map[poller.ID]*proxyRecord
	// holders maps a live reply holder to its request; holdersRead holds
	// the ones the recipient called, which reached it (callRecipient).
	holders     map[poller.ID]poller.ID
	holdersRead map[poller.ID]struct{}
	// pullers holds the callers waiting on a poller for a reply that is
	// not there yet, to be handed it as it arrives (see pull).
	pullers map[poller.ID]*handoff
	// inFlight holds the replies being written (storeReply), for a pull that
	// comes meanwhile to take (takeInFlight).
	inFlight map[poller.ID]*storeInFlight
	// writing holds the requests whose replies storeReply is committing, so
	// that a trash meanwhile is undone after the commit, which would
	// otherwise write the trashed request back (see trash).
	writing map[poller.ID]*replyWrite
	// bindings holds the bound recipients by recipientKey (binding.go);
	// reqBindings those of bound requests made by create_request (a
	// proxy's requests use the proxy's).
	bindings    map[string][]*binding
	reqBindings map[poller.ID]*binding
	// givenUp holds the requests whose callbacks were given up, to be
	// tried again when their recipient is handed over again.
	givenUp map[poller.ID]struct{}
	// maybeCalled holds the requests recovered with a marked callback
	// (lifecycle.MaybeCalled): their recipient may have been called, so
	// only an operator calls it again (RetryCallbacks), never a recipient
	// handed over again.
	maybeCalled map[poller.ID]struct{}
	// queued holds the tickets of stored requests waiting for a
	// delegation thread, from their store (or recovery) until their
	// delegation claims them (delegate): a trash gives the place back at
	// once (forget), rather than leave a ticket that would later start
	// the delegation of a request that is gone.
	queued map[poller.ID]*ticket
	// reading holds the requests a pull has taken out of the table while
	// its reply goes out (lifecycle.Reading), so that another pull
	// meanwhile is not told that the request is gone: the read may yet
	// fail and put it back (Agent.written). That pull waits for the read
	// to end if its caller waits (awaitRead), else is told to pull again.
	reading map[poller.ID]*requestRecord
	// readEnds holds, for a request in reading that a pull waits on
	// (awaitRead), the channel closed when that read ends: trashed, or
	// put back (endReadLocked).
	readEnds map[poller.ID]chan struct{}
	// unstored holds the replies storeReply could not write, for reads to
	// find (storedReply) until the request's records are deleted.
	unstored map[poller.ID]*replyRecord

	noIDLOnce sync.Map // repository ids whose missing IDL was logged

	closeOnce sync.Once
}

// Start opens the store, listens and serves.
func Start(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	gcfg := *cfg.GIOP
	gcfg.Logger = cfg.Logger
	scfg := cfg.Store
	if scfg.Dir == "" {
		scfg.InMemory = true
	}
	scfg.Logger = cfg.Logger
	var store Store = cfg.Backend
	if store == nil {
		st, err := storage.Open(scfg)
		if err != nil {
			return nil, err
		}
		store = st
	}
	repoIDs, _ := nmproto.NewRepoIDs(cfg.RepositoryIDPrefix, cfg.InvalidPropertyScope) // checked by Validate
	policy, _ := cfg.TargetPolicy.compile()                                            // checked by Validate
	pub, err := loadIDs(store)
	if err != nil {
		store.Close()
		return nil, err
	}
	// The TLS files, for a TLS listen point, or for calls out over TLS
	// alone (the agent then dials TLS to targets that offer it).
	var tf *tlsFiles
	if cfg.TLS.Enabled() || cfg.TLS.OutboundCAFile != "" || cfg.TLS.OutboundCertFile != "" {
		tf = &tlsFiles{cfg: cfg.TLS}
		st, err := tf.load()
		if err != nil {
			store.Close()
			return nil, err
		}
		tf.cur.Store(st)
	}
	var tlsLn net.Listener
	if cfg.TLS.Enabled() {
		if tlsLn, err = net.Listen("tcp", cfg.TLS.Listen); err != nil {
			store.Close()
			return nil, fmt.Errorf("agent: listen for TLS on %s: %w", cfg.TLS.Listen, err)
		}
	}
	var ln net.Listener
	if cfg.TLS.Only {
		// No plain listen point: the TLS one stands in for it where the
		// agent needs its own address (published host, self-dial guard).
		ln = tlsLn
	} else if ln = cfg.Listener; ln == nil {
		ln, err = net.Listen("tcp", cfg.Listen)
	}
	if err != nil {
		if tlsLn != nil {
			tlsLn.Close()
		}
		store.Close()
		return nil, fmt.Errorf("agent: listen on %s: %w", cfg.Listen, err)
	}
	closeListeners := func() {
		ln.Close()
		if tlsLn != nil && tlsLn != ln {
			tlsLn.Close()
		}
	}
	addr := ln.Addr().(*net.TCPAddr)
	pubAddrs, err := publishedAddrs(cfg.Host, addr)
	if err != nil {
		closeListeners()
		store.Close()
		return nil, err
	}
	if cfg.TLS.Only {
		pubAddrs.port = 0 // as omniORB with only giop:ssl (giop/SPEC.md)
	}
	a := &Agent{
		cfg:         cfg,
		log:         cfg.Logger,
		store:       store,
		pub:         pub,
		repo:        repoIDs,
		groups:      poller.NewRegistry[*requestRecord](),
		client:      giop.NewClient(&gcfg),
		idl:         cfg.IDL,
		adapter:     giop.NewAdapter(),
		ln:          ln,
		own:         newOwnAddrs(ln),
		policy:      policy,
		tlsLn:       tlsLn,
		tls:         tf,
		addrs:       pubAddrs,
		port:        uint16(addr.Port),
		proxies:     make(map[poller.ID]*proxyRecord),
		receivers:   make(map[poller.ID]*proxyRecord),
		holders:     make(map[poller.ID]poller.ID),
		holdersRead: make(map[poller.ID]struct{}),
		maybeCalled: make(map[poller.ID]struct{}),
		pullers:     make(map[poller.ID]*handoff),
		inFlight:    make(map[poller.ID]*storeInFlight),
		reading:     make(map[poller.ID]*requestRecord),
		readEnds:    make(map[poller.ID]chan struct{}),
		writing:     make(map[poller.ID]*replyWrite),
		bindings:    make(map[string][]*binding),
		reqBindings: make(map[poller.ID]*binding),
		givenUp:     make(map[poller.ID]struct{}),
		queued:      make(map[poller.ID]*ticket),
		unstored:    make(map[poller.ID]*replyRecord),
		failed:      make(chan struct{}),
	}
	a.deliverer = recipient.New(recipient.Config{RetryBudget: cfg.RecipientRetryBudget,
		PerRecipient: cfg.CallbacksPerRecipient, MaxInFlight: cfg.MaxCallbacks,
		GiveUp: a.recipientGaveUp, Logger: cfg.Logger})
	threads := limit(cfg.MaxThreads, DefaultMaxThreads, 0)
	queued := limit(cfg.MaxQueueSize, DefaultMaxQueueSize, 0)
	a.queue = newQueue(threads, queued, limit(cfg.MaxThreadsPerTarget, DefaultMaxThreadsPerTarget, threads),
		limit(cfg.MaxQueuePerTarget, DefaultMaxQueuePerTarget, queued), cfg.BlockingTimeout, a.launch)
	a.client.SetGuard(a.guard)
	if tlsLn != nil {
		a.ownTLS = newOwnAddrs(tlsLn)
		stamp := tf.stampNow()
		tf.stamp.Store(&stamp)
		tf.reload = func() { _ = a.ReloadTLS() } // logged there
	}
	if tf != nil {
		a.client.SetTLS(tf.cur.Load().outbound)
	}
	a.metrics = newMetrics(a)
	a.delegations = workerpool.New(a.runDelegation, maxIdleDelegators)
	a.tracked = workerpool.New(a.runTracked, maxIdleTracked)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	if err := a.recoverState(); err != nil {
		closeListeners()
		a.cancel()
		a.client.Close()
		a.wg.Wait()
		a.delegations.Close()
		a.tracked.Close()
		store.Close()
		return nil, fmt.Errorf("agent: recovering state from the store: %w", err)
	}
	if a.groups.Count() >= freeAfterRecovery {
		// Recovery decodes every record once and keeps a small part:
		// hand the rest back to the system now rather than carry it until
		// the runtime gets round to it.
		debug.FreeOSMemory()
	}
	a.adapter.Register([]byte(AgentKey), &agentServant{a})
	a.adapter.Locator = a.locate
	a.adapter.Missing = missing
	var handler giop.Handler = a.adapter
	if cfg.TLS.BindIdentity {
		handler = identityHandler{a: a, h: a.adapter}
	}
	if cfg.Owned != nil {
		handler = ownedHandler{owned: cfg.Owned, h: handler}
	}
	a.server = giop.NewServer(&gcfg, handler)
	if !cfg.TLS.Only {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.server.Serve(ln); !errors.Is(err, giop.ErrServerClosed) {
				// Temporary accept errors (no file descriptors left, …) are
				// retried inside Serve: this listener is gone for good.
				a.fail(fmt.Errorf("agent: the GIOP listener on %s stopped: %w", ln.Addr(), err))
			}
		}()
	}
	if tlsLn != nil {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := a.server.ServeTLS(tlsLn, tf.listenerConfig()); !errors.Is(err, giop.ErrServerClosed) {
				a.fail(fmt.Errorf("agent: the TLS listener on %s stopped: %w", tlsLn.Addr(), err))
			}
		}()
	}
	if cfg.ReplyRetention > 0 || cfg.createdRetention() > 0 {
		a.bg.Add(1)
		go func() { defer a.bg.Done(); a.retain() }()
	}
	a.ready.Store(true)
	a.logLimits()
	a.logPolicy()
	a.logTLS()
	if a.addrs.loopbackOnly {
		a.log.Warn().Str("published", a.addrs.String()).
			Msg("agent: listening on every interface but publishing only loopback addresses: references reach nobody on another machine (--host)")
	}
	a.log.Info().Str("listen", ln.Addr().String()).Str("published", a.addrs.String()).Str("corbaloc", a.Corbaloc()).
		Msg("agent: serving")
	return a, nil
}

// fail records that the agent cannot go on serving: it is no longer
// ready nor healthy, and Failed's channel closes, so that the process
// exits (non-zero) rather than linger with green health checks.
func (a *Agent) fail(err error) {
	a.failOnce.Do(func() {
		a.failure.Store(&err)
		a.ready.Store(false)
		a.log.Error().Err(err).Msg("agent: cannot go on serving")
		close(a.failed)
	})
}

// Failed returns a channel closed when the agent cannot go on serving
// (its GIOP listener stopped); Healthy then says why.
func (a *Agent) Failed() <-chan struct{} { return a.failed }

// Healthy returns why the agent cannot serve, or nil.
func (a *Agent) Healthy() error {
	if p := a.failure.Load(); p != nil {
		return *p
	}
	return nil
}

// Port returns the port the agent listens on.
func (a *Agent) Port() int { return int(a.port) }

// Corbaloc returns the agent's corbaloc URL.
func (a *Agent) Corbaloc() string {
	return a.addrs.corbaloc(AgentKey)
}

// IOR returns the agent's object reference.
func (a *Agent) IOR() *giop.IOR {
	return a.ior(a.repo.RequestAgentEx, []byte(AgentKey), giop.DefaultCodeSets.Component())
}

// ior builds a reference to one of the agent's objects.
func (a *Agent) ior(typeID string, key []byte, comps ...giop.TaggedComponent) *giop.IOR {
	all := append([]giop.TaggedComponent{giop.ORBTypeComponent(giop.ORBTypeRequestAgent)}, comps...)
	all = append(all, a.addrs.components()...)
	if c, ok := a.sslComponent(); ok {
		all = append(all, c)
	}
	return giop.NewIOR(typeID, &giop.IIOPProfile{Version: giop.V1_2, Host: a.addrs.host, Port: a.addrs.port, ObjectKey: key, Components: all})
}

// targetIOR builds a reference that stands for a target — a typed
// receiver, a poller or a request object. It has the target's type and
// advertises, as its only code sets, the ones the agent will use towards
// the target, so client and target end up on the same code sets and string
// data relays unchanged. For a target that advertises none, it advertises
// none either: the client then behaves as towards the target itself.
func (a *Agent) targetIOR(kind byte, id poller.ID, repoID string, target *giop.IOR) *giop.IOR {
	typeID := repoID
	if typeID == "*" {
		typeID = giop.CORBAObjectID
	}
	ref := nmproto.RefTypedReceiver
	if kind == keyPoller || kind == keyHolder {
		ref = nmproto.RefPoller
	}
	comps := []giop.TaggedComponent{nmproto.RefComponent(ref)}
	if prof, err := target.CallProfile(); err == nil {
		if info, ok := prof.CodeSets(); ok {
			cs := giop.ChooseCodeSets(info)
			comps = append(comps, giop.CodeSetComponentInfo{
				ForChar:  giop.CodeSetComponent{Native: cs.Char},
				ForWChar: giop.CodeSetComponent{Native: cs.WChar},
			}.Component())
		}
	}
	return a.ior(typeID, objectKey(kind, id), comps...)
}

// locate finds the servant for one of the agent's dynamic objects.
func (a *Agent) locate(key []byte) giop.Servant {
	kind, id, ok := parseKey(key)
	if !ok {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch kind {
	case keyProxy:
		if p := a.proxies[id]; p != nil {
			return &proxyServant{a: a, id: id}
		}
	case keyReceiver:
		if p := a.receivers[id]; p != nil {
			if p.receiver == nil {
				p.receiver = &receiverServant{a: a, id: p.id, repoID: p.repoID}
			}
			return p.receiver
		}
	case keyRequest, keyPoller:
		// A request made by create_request is reached by its request
		// object, one sent through a proxy by its poller: never the other
		// way, so a key names exactly one object.
		if r := a.requestLocked(id); r != nil && (kind == keyRequest) == (r.proxyID == poller.ID{}) {
			return &requestServant{a: a, id: id, repoID: r.repoID, poller: kind == keyPoller}
		}
	case keyHolder:
		if rid, ok := a.holders[id]; ok {
			if r := a.groups.Value(rid); r != nil {
				return &holderServant{a: a, holder: id, repoID: r.repoID}
			}
		}
	}
	return nil
}

// proxy returns a copy of a live proxy's record, to read without the lock.
func (a *Agent) proxy(id poller.ID) (proxyRecord, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.proxies[id]
	if p == nil {
		return proxyRecord{}, false
	}
	return *p, true
}

// missing names why one of the agent's keys finds nothing: its request was
// trashed, its holder's callback returned, its proxy was destroyed. A key
// the agent never made reads the same; the object does not exist either way.
// A trashed request's reply says it has no reply any more (NMNoMoreReply).
func missing(req *giop.ServerRequest) *giop.SystemException {
	kind, _, ok := parseKey(req.ObjectKey())
	if !ok {
		return nil
	}
	minor := uint32(0)
	switch kind {
	case keyRequest, keyPoller:
		req.SetReplyContexts(lastContexts)
		return errTrashed
	case keyHolder:
		minor = nmproto.ReplyHolderExpired
	case keyProxy, keyReceiver:
		minor = nmproto.ProxyDestroyed
	default:
		return nil
	}
	return giop.NewSystemException(giop.ExcObjectNotExist, minor, giop.CompletedNo)
}

// isA answers _is_a for objects standing for a target: "*" matches every
// id (docs/native-messaging.md).
func isA(repoID, asked string) bool {
	return repoID == "*" || asked == repoID || asked == giop.CORBAObjectID
}

// Shutdown stops the agent gracefully: stop accepting, let requests in
// progress and delegations finish until ctx ends, then close connections
// and, last, the store, which everything before may still write to
// (docs/deploying.md, sections 3 and 4). It is idempotent.
func (a *Agent) Shutdown(ctx context.Context) error {
	var err error
	a.closeOnce.Do(func() {
		// Queued requests stay queued: stored, and delegated at the next
		// start, as a shutdown promises (docs/deploying.md).
		a.queue.stop()
		a.ready.Store(false)
		err = a.server.Shutdown(ctx)
		done := make(chan struct{})
		go func() { a.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			// Delegations still running are abandoned: their requests stay
			// stored as sending and become COMM_FAILURE/MAYBE on restart.
			a.cancel()
			<-done
		}
		a.cancel()
		a.delegations.Close()
		a.tracked.Close()
		a.bg.Wait()
		// Callbacks not delivered yet are re-armed from the store on start.
		a.deliverer.Close()
		a.client.Close()
		if cerr := a.store.Close(); cerr != nil && err == nil {
			err = cerr
		}
	})
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	return err
}

// Close stops the agent at once.
func (a *Agent) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return a.Shutdown(ctx)
}

// goTracked runs f on a goroutine of the agent's, tracked in wg.
func (a *Agent) goTracked(f func()) {
	a.wg.Add(1)
	a.tracked.Go(f)
}

func (a *Agent) runTracked(f func()) {
	defer a.wg.Done()
	f()
}

// maxIdleTracked is how many goroutines for goTracked are kept waiting
// for work.
const maxIdleTracked = 128

// commit writes a batch durably; the agent acknowledges nothing before.
func (a *Agent) commit(b *storage.Batch) error {
	return a.store.CommitWithin(b, commitTimeout)
}

// commitJoining is commit for a batch that joins the next group commit
// rather than starting one.
func (a *Agent) commitJoining(b *storage.Batch) error {
	return a.store.CommitJoining(b, commitTimeout)
}

// commitTimeout bounds a commit, so that a stalled disk fails requests
// (PERSIST_STORE) rather than hanging them.
const commitTimeout = 30 * time.Second

// trash is the Trash move (destroy_request, a proxy's destroy(TRUE),
// requestagent trash, a retention): the request leaves memory, its
// records are deleted, and its proxy goes if that was waiting for its
// last request ("to be destroyed"). It reports false for a request that
// is not live (unknown, or being read).
func (a *Agent) trash(id poller.ID) bool {
	r, tr, next, ok := a.moveLive(id, lifecycle.Event{Kind: lifecycle.Trash}, nil)
	if !ok {
		return false
	}
	a.carry(r, tr.Effects()[next:], nil, nil) // deletes only: no write to fail
	return true
}

// replyWrite is a reply storeReply is committing; a.mu guards trashed, set
// when the request is trashed meanwhile. Only trash sets it, not every
// forget: a pull takes a request out of memory for the length of a read,
// and puts it back if the read fails, so absence alone does not mean
// trashed.
type replyWrite struct{ trashed bool }

// forget removes a request from memory: no poller, group or tag finds it
// any more, and a request waiting for a delegation thread leaves the
// queue. It returns the request, or nil if it was unknown.
func (a *Agent) forget(id poller.ID) *requestRecord {
	a.mu.Lock()
	r := a.forgetLocked(id)
	t := a.queued[id]
	delete(a.queued, id)
	a.mu.Unlock()
	if t != nil {
		// Outside a.mu: the place may go to the next waiter, whose
		// delegation starts.
		a.queue.done(t)
	}
	return r
}

// forgetLocked is forget's part under a.mu.
func (a *Agent) forgetLocked(id poller.ID) *requestRecord {
	r := a.groups.Value(id)
	if r != nil && a.groups.Remove(id) {
		a.untrack(r)
	}
	if b := a.reqBindings[id]; b != nil {
		a.release(b)
		delete(a.reqBindings, id)
	}
	delete(a.givenUp, id)
	delete(a.maybeCalled, id)
	if h := a.pullers[id]; h != nil {
		// A caller waiting for its reply is told it is gone.
		delete(a.pullers, id)
		h.deliver(nil)
	}
	return r
}

// requestLocked finds a request by id: in the table of live requests, or
// out of it while a pull reads its reply (a.reading) — there still, since
// that read may fail and put it back. a.mu must be held.
func (a *Agent) requestLocked(id poller.ID) *requestRecord {
	if r := a.groups.Value(id); r != nil {
		return r
	}
	return a.reading[id]
}

// restoreLocked puts a request (back) in the table of live requests —
// the Restore effect: a read whose reply did not reach the client, or a
// record found at start — in its group under its tag, ready for polls or
// not; or untagged if another live request has taken the tag
// meanwhile: being reachable by its poller matters more than the tag. It
// reports whether the tag had to go. a.mu must be held, except during
// recovery.
func (a *Agent) restoreLocked(r *requestRecord, ready bool) (untagged bool) {
	defer a.track(r)
	a.endReadLocked(r.id)
	if err := a.groups.Insert(r.group, r.id, r.tag, ready, r); err != nil {
		a.groups.Insert(r.group, r.id, "", ready, r)
		return true
	}
	return false
}

// maybeReapProxy is the ProxyReap move: it deletes a "to be destroyed"
// proxy whose last request is gone, out of memory first — a crash before
// the deletion leaves it to be destroyed, and recovery reaps it.
func (a *Agent) maybeReapProxy(pid poller.ID) {
	a.mu.Lock()
	p := a.proxies[pid]
	if p == nil {
		a.mu.Unlock()
		return
	}
	_, tr, err := lifecycle.StepProxy(p.state(), lifecycle.ProxyEvent{Kind: lifecycle.ProxyReap, Empty: a.groups.Len(proxyGroup(pid)) == 0})
	if err != nil {
		a.mu.Unlock()
		return
	}
	effs := tr.Effects()
	i := 0
	for ; i < len(effs) && effs[i].Kind == lifecycle.Forget; i++ {
		delete(a.proxies, pid)
		delete(a.receivers, p.receiverID)
		a.release(p.binding)
	}
	a.mu.Unlock()
	for _, e := range effs[i:] {
		if e.Kind == lifecycle.Delete {
			var b storage.Batch
			b.Delete(proxyKey(pid))
			if err := a.commit(&b); err != nil {
				a.log.Error().Err(err).Msg("agent: proxy deletion not stored")
			}
		}
	}
	a.log.Debug().Str("proxy", a.publicID(pid)).Msg("agent: proxy destroyed")
}

// retain trashes requests whose reply has waited unread longer than
// ReplyRetention, and requests made by create_request and never invoked
// for CreatedRetention.
func (a *Agent) retain() {
	shortest := a.cfg.ReplyRetention
	if c := a.cfg.createdRetention(); c > 0 && (shortest == 0 || c < shortest) {
		shortest = c
	}
	every := min(max(shortest/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		}
		a.expire(time.Now())
	}
}

// expire trashes what the retentions say has expired at now. It walks
// the store's index of requests, which is in creation order, and stops at
// the first request too young for either retention — so it costs what
// expires, not what lives — taking the agent's lock per chunk of records.
func (a *Agent) expire(now time.Time) {
	replied := a.cfg.ReplyRetention
	created := a.cfg.createdRetention()
	var oldest time.Duration // no request created after now-oldest can expire
	for _, d := range []time.Duration{replied, created} {
		if d > 0 && (oldest == 0 || d < oldest) {
			oldest = d
		}
	}
	if oldest == 0 {
		return
	}
	keep := lifecycle.Retention{Reply: int64(replied), Created: int64(created)}
	at := now.UnixNano()
	stopAt := now.Add(-oldest).UnixNano()
	var keys [][]byte
	var old []poller.ID
	var why []string
	check := func() {
		a.mu.Lock()
		for _, k := range keys {
			r := a.groups.Value(idOfRequestKey(k))
			if r == nil {
				continue
			}
			if expired, reason := lifecycle.Expired(r.life(), at, keep); expired {
				old, why = append(old, r.id), append(why, reason)
			}
		}
		a.mu.Unlock()
		keys = keys[:0]
	}
	a.store.ScanKeysFrom(prefixRequest, nil, func(k []byte) (bool, error) {
		if len(k) == requestKeyLen && int64(binary.BigEndian.Uint64(k[len(prefixRequest):])) > stopAt {
			return false, nil
		}
		keys = append(keys, k)
		if len(keys) == 256 {
			check()
		}
		return true, nil
	})
	check()
	// The Expire move judges each again as it trashes it: the walk's
	// decision is older, and a request object invoked since is not
	// expired any more.
	for i, id := range old {
		if r, tr, next, ok := a.moveLive(id, lifecycle.Event{Kind: lifecycle.Expire, Now: at, Keep: keep}, nil); ok {
			a.carry(r, tr.Effects()[next:], nil, nil)
			a.log.Info().Str("request", a.publicID(id)).Msg("agent: " + why[i])
		}
	}
}

// InjectStoreFault makes every write to the store fail with err until it
// is called with nil — for fault drills and tests: the agent must refuse
// new work it cannot keep, and take it again when the fault clears. A
// no-op on a Backend that offers no such drill.
func (a *Agent) InjectStoreFault(err error) {
	if f, ok := a.store.(faultInjector); ok {
		f.InjectFault(err)
	}
}

// StoreStats returns the store's counters: group commits, their batches
// and entries, and the committer's busy time.
func (a *Agent) StoreStats() storage.Stats { return a.store.Stats() }

// InjectStoreStall holds every write to the store until release is closed
// (nil: no more stalls) — for drills and tests of a slow disk; a no-op on
// a Backend that offers none.
func (a *Agent) InjectStoreStall(release <-chan struct{}) {
	if f, ok := a.store.(stallInjector); ok {
		f.InjectStall(release)
	}
}

// Polling-group names: a proxy is one group; create_request names others.
func proxyGroup(id poller.ID) string { return "p:" + string(id[:]) }
func namedGroup(name string) string  { return "g:" + name }

// callerGroup is the polling group a create_request or poll of the caller
// on conn names. With BindIdentity groups belong to TLS identities too:
// "g:" + identity + NUL + name, so that another identity can neither
// read a group's tags nor unmask its replies (docs/deploying.md).
func (a *Agent) callerGroup(conn *giop.Conn, name string) string {
	if !a.cfg.TLS.BindIdentity {
		return namedGroup(name)
	}
	return namedGroup(conn.PeerIdentity() + "\x00" + name)
}

// groupName is the name a client gave a create_request group, without
// the identity callerGroup put before it.
func groupName(group string) string {
	name := strings.TrimPrefix(group, "g:")
	if i := strings.IndexByte(name, 0); i >= 0 {
		return name[i+1:]
	}
	return name
}

// Reference returns the IOR and corbaloc of the agent that would listen on
// listen and advertise host (as Start computes them), without starting it.
func Reference(listen, host string) (ior, corbaloc string, err error) {
	if listen == "" {
		listen = ":" + strconv.Itoa(DefaultPort)
	}
	h, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", "", err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", "", fmt.Errorf("port %q: a fixed port is needed for a stable reference", p)
	}
	addr := &net.TCPAddr{IP: net.IPv6unspecified, Port: port}
	if h != "" {
		ip, err := netip.ParseAddr(h)
		if err != nil {
			return "", "", fmt.Errorf("listen %q: an IP address, or none for every interface", listen)
		}
		addr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))
	}
	pub, err := publishedAddrs(host, addr)
	if err != nil {
		return "", "", err
	}
	a := &Agent{addrs: pub, port: uint16(port), repo: nmproto.DefaultRepoIDs}
	return a.IOR().String(), a.Corbaloc(), nil
}
