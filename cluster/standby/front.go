package standby

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/cluster"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
)

// Owners is who holds the store's ownership, as a cluster.Follower says.
type Owners interface {
	// Holder returns the holder, and false while nobody holds it.
	Holder() (cluster.Holder, bool)
	// Changed is closed at the next change of holder.
	Changed() <-chan struct{}
}

// Deposer is what deposes a dead owner: cluster.Follower.
type Deposer interface {
	// LeaseLeft is how long h's lease has left, and its granted TTL.
	LeaseLeft(ctx context.Context, h cluster.Holder) (left, granted time.Duration, err error)
	// Depose revokes h's lease.
	Depose(ctx context.Context, h cluster.Holder) error
}

// Config configures a Front.
type Config struct {
	// Owners says who owns the store. Required.
	Owners Owners
	// Self is this agent's cluster name: a holder of that name is this
	// agent, about to serve, never forwarded to. Required.
	Self string
	// Addrs are this agent's own GIOP addresses, host:port, as it
	// advertises them (optional): an owner's address that is one of them,
	// or the front's listen address, is never forwarded to, whatever name
	// the ownership key gives with it — a forward to this front would send
	// the client round in a loop.
	Addrs []string
	// Hold bounds how long a call waits while no agent owns the store
	// (a takeover); past it the call is answered TRANSIENT completed NO.
	// Default DefaultHold.
	Hold time.Duration
	// GIOP bounds the front's connections and requests as the agent's
	// are bounded (nil: giop's defaults).
	GIOP *giop.Config
	// Deposer, when set, revokes the lease of an owner that is dead —
	// its address refuses connections and its lease is not being
	// renewed (watchOwner) — so that a standby takes over at once rather
	// than after the lease (cluster.Follower). Nil: a dead owner's lease
	// is waited out.
	Deposer Deposer
	// Registerer takes the front's metrics (nil: none).
	Registerer prometheus.Registerer
	// Logger is where forwards and held calls are said.
	Logger zerolog.Logger
}

// DefaultHold is Config.Hold's default: past the default lease (5 s,
// cluster.DefaultTTL), within which a standby takes over an owner that
// died, with room for its recovery.
const DefaultHold = 15 * time.Second

// MaxHold bounds Config.Hold: each held call keeps a request of the
// front's budget.
const MaxHold = 5 * time.Minute

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Owners == nil:
		return configerr.New(ErrBadConfig, "Owners", nil, "required")
	case c.Self == "":
		return configerr.Quoted(ErrBadConfig, "Self", c.Self, "required")
	case c.Hold < 0 || c.Hold > MaxHold:
		return configerr.New(ErrBadConfig, "Hold", c.Hold, "between 0 and "+MaxHold.String())
	}
	if _, err := ParseAddrs(c.Addrs); err != nil {
		return configerr.New(ErrBadConfig, "Addrs", c.Addrs, "host:port addresses")
	}
	return nil
}

// ParseAddrs reads host:port addresses, as a holder names them.
func ParseAddrs(addrs []string) ([]giop.AlternateAddress, error) {
	out := make([]giop.AlternateAddress, 0, len(addrs))
	for _, a := range addrs {
		host, p, err := net.SplitHostPort(a)
		if err != nil {
			return nil, err
		}
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 || host == "" {
			return nil, errors.New("not a host:port")
		}
		out = append(out, giop.AlternateAddress{Host: host, Port: uint16(port)})
	}
	return out, nil
}

// Front is a standby's GIOP listener: it forwards every call to the owner
// and holds calls while nobody owns (docs/cluster.md, "Standbys forward").
type Front struct {
	cfg Config
	srv *giop.Server
	ln  *keptListener

	handover chan struct{} // closed by Handover or Close: held calls go to this agent
	once     sync.Once
	stopped  chan struct{} // closed when Serve returned
	given    atomic.Bool   // Handover gave the listener on: Close leaves it

	wg      sync.WaitGroup          // the owner's watcher
	self    []giop.AlternateAddress // Config.Addrs
	held    atomic.Int64            // calls waiting now
	metrics *frontMetrics
	live    *liveness // whether the owner answers
}

// Start serves ln as a standby front. Handover stops it and gives ln
// back, open, for the agent to serve once this one owns; Close stops it
// and closes ln.
func Start(cfg Config, ln net.Listener) (*Front, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Hold == 0 {
		cfg.Hold = DefaultHold
	}
	f := &Front{cfg: cfg, live: newLiveness(), ln: &keptListener{Listener: ln}, handover: make(chan struct{}),
		stopped: make(chan struct{})}
	f.self, _ = ParseAddrs(cfg.Addrs) // checked by Validate
	f.metrics = newFrontMetrics(f, cfg.Registerer)
	f.srv = giop.NewServer(cfg.GIOP, f)
	f.wg.Add(1)
	go func() { defer f.wg.Done(); f.watchOwner() }()
	go func() {
		defer close(f.stopped)
		f.srv.Serve(f.ln) // ErrServerClosed, or a listener failed for good (logged by giop)
	}()
	cfg.Logger.Info().Str("listen", ln.Addr().String()).Dur("hold", cfg.Hold).
		Msg("standby: serving as a front: calls are forwarded to the owner, or held while nobody owns")
	return f, nil
}

// Ready is false: a standby serves nothing of its own (admin's /readyz).
func (f *Front) Ready() bool { return false }

// NotReady says why /readyz is false: who owns, if anyone.
func (f *Front) NotReady() string {
	if h, ok := f.cfg.Owners.Holder(); ok {
		return "standby: " + h.Name + " owns the store; calls here are forwarded to it"
	}
	// The holder is read from etcd: none known is a takeover, or an etcd
	// this standby cannot reach (Acquire logs that), told apart only in
	// the log.
	return "standby: no owner known (a takeover, or etcd unreachable: see the log): calls here are held"
}

// Handover stops the front for this agent to serve ln: the calls it holds,
// and any that come meanwhile, get no reply, every connection is closed
// with CloseConnection, which has the client send them again on a new
// connection (§15.5.2), and ln is returned still open, so that those
// connections wait in its backlog for the agent rather than being refused.
func (f *Front) Handover(ctx context.Context) (net.Listener, error) {
	f.once.Do(func() { close(f.handover) })
	err := f.srv.Shutdown(ctx)
	<-f.stopped
	f.wg.Wait()
	if rerr := f.ln.reopen(); rerr != nil {
		return nil, rerr
	}
	f.given.Store(true)
	return f.ln.Listener, err
}

// Close stops the front and closes its listener, unless Handover gave it
// on. It is idempotent.
func (f *Front) Close() error {
	f.once.Do(func() { close(f.handover) })
	f.srv.Close()
	<-f.stopped
	f.wg.Wait()
	if f.given.Load() {
		return nil
	}
	err := f.ln.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Locate answers yes for every key: the call that follows is forwarded to
// the owner, which answers for the object, or held.
func (f *Front) Locate([]byte) bool { return true }

// LocateForward forwards a LocateRequest to the owner, when one is known.
func (f *Front) LocateForward(key []byte) *giop.IOR {
	if to := f.ownerAddrs(); to != nil && f.live.answers(addrString(to[0]), false) {
		f.metrics.forwarded.Inc()
		return agent.ForwardIOR(key, to)
	}
	return nil
}

// ownerAddrs is the owner's addresses, or nil while nobody (or this agent)
// owns or the owner named none.
func (f *Front) ownerAddrs() []giop.AlternateAddress {
	return f.addrsOf(f.cfg.Owners.Holder())
}

// addrsOf is ownerAddrs for a holder already read (held false: nobody),
// for a caller that acts on the holder too and must not read another.
func (f *Front) addrsOf(h cluster.Holder, ok bool) []giop.AlternateAddress {
	if !ok || h.Name == f.cfg.Self {
		return nil
	}
	to, err := ParseAddrs(h.GIOP)
	if err != nil {
		return nil
	}
	out := to[:0]
	for _, a := range to {
		if !f.isSelf(a) {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// isSelf reports whether a is this front's own address: its listener's,
// or one of Config.Addrs.
func (f *Front) isSelf(a giop.AlternateAddress) bool {
	if la, ok := f.ln.Addr().(*net.TCPAddr); ok && int(a.Port) == la.Port {
		if giop.SameHost(a.Host, la.IP.String()) {
			return true
		}
		// Listening on every address, the front is this host's loopback
		// at its port too.
		if ip := net.ParseIP(a.Host); la.IP.IsUnspecified() && ip != nil && ip.IsLoopback() {
			return true
		}
	}
	for _, s := range f.self {
		if a.Port == s.Port && giop.SameHost(a.Host, s.Host) {
			return true
		}
	}
	return false
}

// addrString is a as host:port.
func addrString(a giop.AlternateAddress) string {
	return net.JoinHostPort(a.Host, strconv.Itoa(int(a.Port)))
}

// ServeGIOP forwards the call to the owner, holding it until one is
// known and answers, for up to Hold.
func (f *Front) ServeGIOP(ctx context.Context, req *giop.ServerRequest) error {
	t := time.NewTimer(f.cfg.Hold)
	defer t.Stop()
	counted := false
	defer func() {
		if counted {
			f.held.Add(-1)
		}
	}()
	for {
		changed := f.cfg.Owners.Changed()
		to := f.ownerAddrs()
		if to != nil && f.live.answers(addrString(to[0]), true) {
			if counted {
				f.metrics.heldForwarded.Inc()
			} else {
				f.metrics.forwarded.Inc()
			}
			return &giop.ForwardError{IOR: agent.ForwardIOR(req.ObjectKey(), to)}
		}
		if !counted {
			counted = true
			f.held.Add(1)
		}
		var recheck <-chan time.Time
		if to != nil {
			// An owner named but not answering (dead, its lease not yet
			// over): ask again soon.
			recheck = time.After(probeEvery)
		}
		select {
		case <-changed:
		case <-recheck:
		case <-f.handover:
			// This agent owns now: the call is not answered here, and the
			// CloseConnection of Handover's shutdown has the client send
			// it again, to the listener this agent then serves.
			f.metrics.reissued.Inc()
			return giop.ErrReissue
		case <-t.C:
			f.metrics.heldOut.Inc()
			f.cfg.Logger.Warn().Dur("hold", f.cfg.Hold).Str("operation", req.Operation()).
				Msg("standby: no agent came to own the store within the hold: the call is answered TRANSIENT")
			return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
		case <-ctx.Done():
			// The client cancelled the call, or its connection closed:
			// nobody reads the answer, but what a reply says must hold
			// — the call never ran — where a handler's error would be
			// UNKNOWN completed MAYBE, and a warning in the log for
			// every call a client abandons.
			return giop.NewSystemException(giop.ExcTransient, 0, giop.CompletedNo)
		}
	}
}

// keptListener is the front's listener as its GIOP server sees it: Close
// stops Accept without closing the socket, which Handover gives on.
type keptListener struct {
	net.Listener
	mu     sync.Mutex // guards closed
	closed bool
}

// deadliner is a listener whose Accept a deadline ends (*net.TCPListener).
type deadliner interface{ SetDeadline(time.Time) error }

func (l *keptListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		if c != nil {
			// Accepted as the front stopped, too late for its server to
			// shut it down: the client retries elsewhere.
			c.Close()
		}
		return nil, net.ErrClosed
	}
	return c, err
}

// Close ends Accept: through a deadline in the past where the listener
// has one, else by closing it (then Handover has no listener to give on).
func (l *keptListener) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	if d, ok := l.Listener.(deadliner); ok {
		return d.SetDeadline(time.Unix(1, 0))
	}
	return l.Listener.Close()
}

// reopen clears the deadline Close set, for the agent's server.
func (l *keptListener) reopen() error {
	if d, ok := l.Listener.(deadliner); ok {
		return d.SetDeadline(time.Time{})
	}
	return ErrNotHandedOver
}

// refusedToDepose is how many probes in a row, probeEvery apart, must find
// the owner's address refusing connections before it may be deposed: half
// a second at least of nobody listening there, which a live agent never shows — it
// listens from its start, as a standby, to its exit. A paused or
// partitioned owner is not refused (the kernel still accepts for a
// stopped process; a partition drops or times out), and waits out its
// lease as before.
const refusedToDepose = 3

// renewalSlack is how late past a third of its TTL a live owner's
// keep-alive may renew its lease and still count as renewing.
const renewalSlack = 250 * time.Millisecond

// watchOwner probes the owner's first address every probeEvery, keeping
// what the calls' forwards read (liveness), and deposes an owner that is
// dead: its address has refused connections refusedToDepose times in a
// row, and its lease was not renewed over a third of its TTL (and a
// quarter of a second, for the owner's keep-alive to be late) since the
// first refusal. etcd's whole seconds cannot make a dead lease look
// renewed: the time left is rounded down.
// The second test keeps an owner that lives, but whose address refuses
// this standby (a firewall's REJECT, forged resets), from being deposed:
// it renews its lease every third of the TTL.
func (f *Front) watchOwner() {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	var (
		lease    int64 // the owner the count is of
		refused  int
		since    time.Time     // the first refusal of the run
		leftThen time.Duration // the lease's time left at since
		deposed  int64         // the lease last revoked, so each is revoked once
		warned   int64         // the lease last said to be renewed while refused
	)
	for {
		select {
		case <-f.handover:
			return
		case <-t.C:
		}
		// One read: the address probed and the lease deposed are one
		// holder's, though the key may change between two reads.
		h, ok := f.cfg.Owners.Holder()
		to := f.addrsOf(h, ok)
		if to == nil || h.Lease == 0 {
			refused = 0
			continue
		}
		if h.Lease != lease {
			lease, refused = h.Lease, 0
		}
		if err := f.live.probe(addrString(to[0])); !errors.Is(err, syscall.ECONNREFUSED) {
			refused = 0
			continue
		}
		refused++
		d := f.cfg.Deposer
		if d == nil || deposed == h.Lease {
			continue
		}
		if refused == 1 {
			since = time.Now()
			if leftThen, _, _ = f.leaseLeft(d, h); leftThen == 0 {
				refused = 0 // not known: start again at the next probe
			}
			continue
		}
		left, granted, err := f.leaseLeft(d, h)
		elapsed := time.Since(since)
		if refused < refusedToDepose || err != nil || elapsed < granted/3+renewalSlack {
			continue
		}
		if left+elapsed > leftThen+time.Second {
			// Renewed since the first refusal: alive, only not to us.
			if warned != h.Lease {
				warned = h.Lease
				f.cfg.Logger.Warn().Str("owner", h.Name).Strs("giop", h.GIOP).
					Msg("standby: the owner's address refuses this agent's connections, but the owner renews its lease: not deposed; check --advertise and the firewalls between the agents")
			}
			refused = 0
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = d.Depose(ctx, h)
		cancel()
		if err != nil {
			f.cfg.Logger.Warn().Err(err).Str("owner", h.Name).Msg("standby: the owner is dead, but its lease could not be revoked; waiting it out")
			continue
		}
		deposed = h.Lease
		f.metrics.deposed.Inc()
	}
}

// leaseLeft asks d, within a bound.
func (f *Front) leaseLeft(d Deposer, h cluster.Holder) (left, granted time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return d.LeaseLeft(ctx, h)
}
