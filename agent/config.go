package agent

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/storage"
)

// DefaultPort is where the agent listens unless told otherwise (docs/admin.md).
const DefaultPort = 5555

// AgentKey is the object key of the RequestAgent, so that
// corbaloc:iiop:1.2@HOST:5555/RequestAgent reaches it.
const AgentKey = "RequestAgent"

// Config configures the agent. Zero fields take their defaults.
type Config struct {
	// Listen is the TCP address to serve GIOP on. Default ":5555".
	Listen string
	// Listener, when set, is served instead of listening on Listen: a
	// socket already open, as a cluster standby's front gives on when it
	// takes over (cluster/standby), so that the clients connecting
	// meanwhile wait in its backlog. The agent closes it.
	Listener net.Listener
	// Host is the host name or address advertised in IORs. Default: the
	// listening address's host, or "localhost" when it listens on all
	// interfaces. Keep it stable: IORs handed out must stay valid.
	Host string
	// Store configures the durable store. Default: in memory (nothing
	// survives a restart) — the command line sets a data directory.
	Store storage.Config
	// Backend, when set, is the store the agent uses instead of opening
	// Store's (which is then ignored): another backend than Badger, or one
	// a test builds. The agent closes it.
	Backend Store
	// Owned, when set, is asked before the agent serves a call, sends a
	// request to its target or calls a recipient back: nil while the agent
	// may act, an error once it may not (cluster mode: its ownership of
	// the store is not known to be held, cluster.Owner.Held). A call is
	// then refused TRANSIENT completed NO, and nothing is sent or called
	// back: another agent may own the store already.
	Owned func() error
	// Metrics, when set, are served with the agent's own on its metrics
	// handler (MetricsHandler): the cluster's, which outlive the agent
	// started when this one came to own the store.
	Metrics prometheus.Gatherer
	// GIOP holds the connection limits, for clients and targets alike.
	// Default giop.DefaultConfig().
	GIOP *giop.Config
	// IDL knows target interfaces (suppressed mode, transcoding). Default:
	// none, so suppressed mode falls back to unsuppressed.
	IDL IDL
	// Defaults are the proxy properties that create_request_proxy starts
	// from, and that RequestAgentEx::properties returns.
	Defaults Properties
	// MaxThreads bounds the delegations running at once, in all. Zero
	// takes the default (256); negative is unlimited (VisiBroker's
	// maxThreads=0, which the command line maps here).
	MaxThreads int
	// MaxQueueSize bounds the requests waiting for a delegation thread, in
	// all. Zero takes the default (10,000); negative is unlimited. A waiting
	// request holds its record in memory (its body stays in the store).
	MaxQueueSize int
	// MaxThreadsPerTarget and MaxQueuePerTarget are the same bounds for
	// the requests to one target address, so that a target that hangs
	// holds at most that share of the agent's threads and queue. Zero
	// takes the defaults, 64 and 2,500 (never above MaxThreads and
	// MaxQueueSize); negative is unlimited.
	MaxThreadsPerTarget int
	MaxQueuePerTarget   int
	// BlockingTimeout is how long a new request may wait for queue room
	// before IMP_LIMIT; 0 is no wait.
	BlockingTimeout time.Duration
	// DelegationTimeout bounds one delegation once the request is sent: a
	// target that hangs does not hold a delegation thread for ever. The
	// result is then TIMEOUT, completed MAYBE. Default 10 minutes.
	DelegationTimeout time.Duration
	// ConnectRetryBudget is how long the agent keeps retrying a target it
	// cannot connect to (nothing sent) before the result is TRANSIENT.
	// Default 30s.
	ConnectRetryBudget time.Duration
	// RecipientRetryBudget is how long a callback to an unreachable or
	// failing recipient is retried before the reply is left for polling.
	// Default 60s.
	RecipientRetryBudget time.Duration
	// CallbackTimeout bounds one reply_available call. Default 60s.
	CallbackTimeout time.Duration
	// CallbacksPerRecipient is how many reply_available calls to one
	// recipient run at once; they start in the order the replies became
	// available, and with more than one a slow callback does not hold back
	// the others (1: strictly one after the other). MaxCallbacks bounds
	// the calls running at once in all. Zero takes the defaults
	// (recipient.DefaultPerRecipient, recipient.DefaultMaxInFlight).
	CallbacksPerRecipient, MaxCallbacks int
	// MaxStoreBytes bounds the store's size on disk: over it, new requests
	// and proxies get IMP_LIMIT (minor STORE_FULL) and nothing stored is
	// dropped. Zero takes the default (DefaultMaxStoreBytes); negative is
	// no limit.
	MaxStoreBytes int64
	// MaxReferenceBytes bounds each target and recipient reference a
	// proxy or request is made with; MaxCookieBytes and MaxTagBytes its
	// cookie and tag (at most nmproto.MaxCookieLen and MaxTagLen, what
	// the wire takes). Over a limit: IMP_LIMIT/FIELD_TOO_LARGE. Zero takes
	// the defaults (limits.go).
	MaxReferenceBytes, MaxCookieBytes, MaxTagBytes int
	// MaxIndexBytes bounds the memory all live requests hold (records,
	// indexes, tags, cookies; never bodies): over it new requests get
	// IMP_LIMIT/TOO_MANY_REQUESTS. Zero takes the default
	// (DefaultMaxIndexBytes); negative is no limit.
	MaxIndexBytes int64
	// MaxWaiting bounds the calls blocked waiting at once — polls with a
	// timeout, pulls with a wait_timeout: more get IMP_LIMIT/
	// TOO_MANY_WAITING. Zero takes the default (DefaultMaxWaiting).
	MaxWaiting int
	// ReplyRetention is how long an unread reply is kept before its request
	// is trashed. 0 keeps it for ever (the default).
	ReplyRetention time.Duration
	// CreatedRetention is how long a request made by create_request may
	// stay uninvoked before it is trashed. Zero takes the default (one
	// day); negative keeps it for ever.
	CreatedRetention time.Duration
	// RepositoryIDPrefix is the #pragma prefix of the NativeMessaging IDL
	// the agent's clients were compiled with ("" for none, as in our
	// NativeMessaging.idl); InvalidPropertyScope is where that IDL declares
	// InvalidProperty: nmproto.ScopeModule (ours, the default) or
	// nmproto.ScopeRequestAgentEx. The agent hands out references and
	// raises exceptions with these ids, and answers _is_a with and without
	// the prefix (docs/migrating.md).
	RepositoryIDPrefix   string
	InvalidPropertyScope string
	// TargetPolicy is where the agent may call for its clients: targets,
	// recipients and LOCATION_FORWARD hops (docs/deploying.md). Default:
	// no rules, every address but the agent's own.
	TargetPolicy TargetPolicy
	// TLS configures IIOP over TLS and client identities (tls.go).
	TLS TLSConfig
	// Logger receives the agent's events. Default: discard.
	Logger zerolog.Logger
}

// Defaults of Config fields.
const (
	DefaultConnectRetryBudget  = 30 * time.Second
	DefaultDelegationTimeout   = 10 * time.Minute
	DefaultMaxThreads          = 256
	DefaultMaxQueueSize        = 10_000
	DefaultMaxThreadsPerTarget = 64
	DefaultMaxQueuePerTarget   = 2_500
	DefaultCreatedRetention    = 24 * time.Hour
)

// limits are the size limits of a request's fields, defaults applied.
type fieldLimits struct{ reference, cookie, tag int }

func (c *Config) limits() fieldLimits {
	or := func(v, def int) int {
		if v == 0 {
			return def
		}
		return v
	}
	return fieldLimits{or(c.MaxReferenceBytes, DefaultMaxReferenceBytes), or(c.MaxCookieBytes, DefaultMaxCookieBytes),
		or(c.MaxTagBytes, DefaultMaxTagBytes)}
}

// bound64 is a limit with its default: zero takes def, negative is none
// (the largest value).
func bound64(v, def int64) int64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 1<<63 - 1
	}
	return v
}

func (c *Config) maxIndex() int64 { return bound64(c.MaxIndexBytes, DefaultMaxIndexBytes) }

// maxStore is MaxStoreBytes with its default; 0 is no limit.
func (c *Config) maxStore() int64 {
	if c.MaxStoreBytes < 0 {
		return 0
	}
	return bound64(c.MaxStoreBytes, DefaultMaxStoreBytes)
}

func (c *Config) maxWaiting() int {
	if c.MaxWaiting == 0 {
		return DefaultMaxWaiting
	}
	return c.MaxWaiting
}

// createdRetention is CreatedRetention with its default; 0 is for ever.
func (c *Config) createdRetention() time.Duration {
	switch {
	case c.CreatedRetention < 0:
		return 0
	case c.CreatedRetention == 0:
		return DefaultCreatedRetention
	}
	return c.CreatedRetention
}

// limit turns a configured bound into the queue's terms: zero takes def
// (capped at the overall bound all, when all is bounded), negative is
// unlimited (0 in the queue).
func limit(v, def, all int) int {
	switch {
	case v < 0:
		return 0
	case v == 0:
		if all > 0 && all < def {
			return all
		}
		return def
	}
	return v
}

// withDefaults fills the zero fields that have defaults.
func (c *Config) withDefaults() {
	if c.Listen == "" {
		c.Listen = ":" + strconv.Itoa(DefaultPort)
	}
	if c.GIOP == nil {
		c.GIOP = giop.DefaultConfig()
	}
	if c.IDL == nil {
		c.IDL = noIDL{}
	}
	if c.ConnectRetryBudget == 0 {
		c.ConnectRetryBudget = DefaultConnectRetryBudget
	}
	if c.CallbackTimeout == 0 {
		c.CallbackTimeout = DefaultCallbackTimeout
	}
	if c.DelegationTimeout == 0 {
		c.DelegationTimeout = DefaultDelegationTimeout
	}
}

// Validate reports the first invalid field; errors wrap ErrBadConfig and
// name the field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error { return configerr.New(ErrBadConfig, field, v, why) }
	if err := c.TLS.validate(); err != nil {
		return err
	}
	if c.Listen != "" {
		_, port, err := net.SplitHostPort(c.Listen)
		if err != nil {
			return bad("Listen", c.Listen, err.Error())
		}
		if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return bad("Listen", c.Listen, "bad port")
		}
	}
	if c.Host != "" {
		// The listening port stands in for a host without one.
		if _, err := publishedAddrs(c.Host, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}); err != nil {
			return err
		}
	}
	switch {
	case c.BlockingTimeout < 0:
		return bad("BlockingTimeout", c.BlockingTimeout, "must not be negative")
	case c.MaxReferenceBytes < 0:
		return bad("MaxReferenceBytes", c.MaxReferenceBytes, "must not be negative")
	case c.MaxCookieBytes < 0 || c.MaxCookieBytes > nmproto.MaxCookieLen:
		return bad("MaxCookieBytes", c.MaxCookieBytes, fmt.Sprintf("must be between 0 and %d", nmproto.MaxCookieLen))
	case c.MaxTagBytes < 0 || c.MaxTagBytes > nmproto.MaxTagLen:
		return bad("MaxTagBytes", c.MaxTagBytes, fmt.Sprintf("must be between 0 and %d", nmproto.MaxTagLen))
	case c.MaxWaiting < 0:
		return bad("MaxWaiting", c.MaxWaiting, "must not be negative")
	case c.ReplyRetention < 0:
		return bad("ReplyRetention", c.ReplyRetention, "must not be negative")
	case c.RecipientRetryBudget < 0:
		return bad("RecipientRetryBudget", c.RecipientRetryBudget, "must not be negative")
	case c.CallbacksPerRecipient < 0:
		return bad("CallbacksPerRecipient", c.CallbacksPerRecipient, "must not be negative")
	case c.MaxCallbacks < 0:
		return bad("MaxCallbacks", c.MaxCallbacks, "must not be negative")
	case c.CallbackTimeout < 0:
		return bad("CallbackTimeout", c.CallbackTimeout, "must not be negative")
	case c.DelegationTimeout < 0:
		return bad("DelegationTimeout", c.DelegationTimeout, "must not be negative")
	case c.ConnectRetryBudget < 0:
		return bad("ConnectRetryBudget", c.ConnectRetryBudget, "must not be negative")
	}
	if err := c.Defaults.Check(); err != nil {
		pe := err.(*nmproto.PropertyError)
		v, _ := c.Defaults.Get(pe.Name)
		return bad("Defaults."+pe.Name, v, pe.Why)
	}
	if _, err := nmproto.NewRepoIDs(c.RepositoryIDPrefix, ""); err != nil {
		return bad("RepositoryIDPrefix", c.RepositoryIDPrefix, err.Error())
	}
	if _, err := nmproto.NewRepoIDs(c.RepositoryIDPrefix, c.InvalidPropertyScope); err != nil {
		return bad("InvalidPropertyScope", c.InvalidPropertyScope, err.Error())
	}
	if _, err := c.TargetPolicy.compile(); err != nil {
		return err
	}
	if c.GIOP != nil {
		if err := c.GIOP.Validate(); err != nil {
			return err
		}
	}
	if c.Store.Dir != "" {
		if err := c.Store.Validate(); err != nil {
			return err
		}
	}
	return nil
}
