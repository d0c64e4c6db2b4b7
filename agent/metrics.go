package agent

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// Request outcomes counted by requestagent_requests_total: what became of
// a call on a typed receiver or request object.
const (
	outcomeAccepted       = "accepted"           // stored and answered with a premature return
	outcomeMature         = "mature"             // WaitReply: answered with the real result in time
	outcomeQueueFull      = "queue_full"         // IMP_LIMIT, nothing stored
	outcomeDuplicateTag   = "duplicate_tag"      // BAD_INV_ORDER/DUPLICATED_REQUEST_TAG
	outcomeStoreFailed    = "store_failed"       // PERSIST_STORE, not acknowledged
	outcomeUntranscoding  = "cannot_relay"       // MARSHAL/CANNOT_TRANSCODE
	outcomeOneway         = "oneway"             // stored and delegated as oneway
	outcomeStoreFull      = "store_full"         // IMP_LIMIT/STORE_FULL, nothing stored: MaxStoreBytes, the disk's reserve, or a commit the disk guard refused
	outcomeTooMany        = "too_many_requests"  // IMP_LIMIT/TOO_MANY_REQUESTS: the memory budget
	outcomeTooManyWaiting = "too_many_waiting"   // IMP_LIMIT/TOO_MANY_WAITING: a poll or pull refused
	outcomeTooLarge       = "too_large"          // IMP_LIMIT/FIELD_TOO_LARGE, nothing stored
	outcomeSelf           = "self_delegation"    // NO_PERMISSION/SELF_DELEGATION
	outcomeNotAllowed     = "target_not_allowed" // NO_PERMISSION/TARGET_NOT_ALLOWED, nothing stored
)

// Where the target policy refused a call, the label of
// requestagent_target_policy_refusals_total (docs/deploying.md).
const (
	refusedAtCreate     = "create"     // a proxy or request, not stored
	refusedAtDelegation = "delegation" // a stored request's call or one of its forwards, not sent
	refusedAtCallback   = "callback"   // a reply_available call, not sent
)

// metrics are the agent's Prometheus metrics, in a registry of its own so
// that several agents can live in one process (tests).
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	replies     *prometheus.CounterVec
	callbacks   *prometheus.CounterVec
	acceptTime  prometheus.Histogram
	delegations prometheus.Histogram
	handed      prometheus.Counter
	refusals    *prometheus.CounterVec
	// otherIdentity counts calls refused for coming from another TLS
	// identity than the object's (BindIdentity).
	otherIdentity prometheus.Counter
}

func newMetrics(a *Agent) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "requestagent_requests_total",
		Help: "Calls on typed receivers and request objects, by outcome.",
	}, []string{"outcome"})
	m.replies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "requestagent_replies_total",
		Help: "Replies of delegated requests, by status (dropped ones included).",
	}, []string{"status"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "requestagent_callbacks_total",
		Help: "reply_available calls to recipients, by result (delivered, failed_attempt, recipient_away, not_marked: its mark refused in a cluster, given_up).",
	}, []string{"result"})
	m.handed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "requestagent_replies_handed_total",
		Help: "Replies handed straight to a waiting pull, never stored.",
	})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "requestagent_target_policy_refusals_total",
		Help: "Proxies, requests, delegations and callbacks refused for an address outside the target policy (--allow-target, --deny-target), by where.",
	}, []string{"at"})
	for _, at := range []string{refusedAtCreate, refusedAtDelegation, refusedAtCallback} {
		m.refusals.WithLabelValues(at) // shown at 0 before the first refusal
	}
	m.otherIdentity = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "requestagent_identity_refusals_total",
		Help: "Calls refused NO_PERMISSION because the object is bound to another TLS identity (--bind-identity): a reference used by someone it was not given to.",
	})
	buckets := prometheus.ExponentialBuckets(50e-6, 2, 16) // 50µs … 1.6s
	m.acceptTime = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "requestagent_accept_seconds",
		Help:    "From a request's arrival to its premature return (includes the durable commit).",
		Buckets: buckets,
	})
	m.delegations = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "requestagent_delegation_seconds",
		Help:    "Round trips to targets, retries included.",
		Buckets: buckets,
	})
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(m.requests, m.replies, m.callbacks, m.acceptTime, m.delegations, m.handed, m.refusals, m.otherIdentity,
		gauge("requestagent_delegations_in_flight", "Delegations running now.", func() float64 {
			r, _ := a.queue.depth()
			return float64(r)
		}),
		gauge("requestagent_queue_depth", "Requests waiting for a delegation thread.", func() float64 {
			_, w := a.queue.depth()
			return float64(w)
		}),
		gauge("requestagent_live_requests", "Requests not trashed yet.", func() float64 {
			a.mu.Lock()
			defer a.mu.Unlock()
			return float64(a.groups.Count())
		}),
		gauge("requestagent_index_bytes", "Memory the live requests hold (records, indexes, tags, cookies, queued delegations), against MaxIndexBytes.", func() float64 {
			return float64(a.liveBytes())
		}),
		gauge("requestagent_calls_waiting", "Polls and pulls blocked waiting now, against MaxWaiting.", func() float64 {
			return float64(a.waiting.n.Load())
		}),
		gauge("requestagent_pulls_waiting", "Pulls on pollers waiting for a reply that is on its way (handed over as it arrives).", func() float64 {
			a.mu.Lock()
			defer a.mu.Unlock()
			return float64(len(a.pullers))
		}),
		gauge("requestagent_proxies", "Request proxies.", func() float64 {
			a.mu.Lock()
			defer a.mu.Unlock()
			return float64(len(a.proxies))
		}),
		gauge("requestagent_callbacks_pending", "Callbacks waiting or being delivered.", func() float64 {
			return float64(a.deliverer.Pending())
		}),
		gauge("requestagent_recipients_failing", "Recipients whose callbacks are failing or were given up.", func() float64 {
			return float64(len(a.deliverer.Failures()))
		}),
		gauge("requestagent_store_bytes", "Disk space the store's directory uses.", func() float64 {
			return float64(a.store.DiskBytes())
		}),
		gauge("requestagent_store_disk_free_bytes", "Free space on the data directory's filesystem, as last measured.", func() float64 {
			return float64(a.store.Stats().DiskFree)
		}),
		gauge("requestagent_store_disk_floor_bytes", "Free space below which nothing is written.", func() float64 {
			return float64(a.store.Stats().DiskFloor)
		}),
		gauge("requestagent_store_disk_reserve_bytes", "Free space above the floor kept for work already accepted (--store-reserve).", func() float64 {
			return float64(a.store.Stats().DiskReserve)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_store_no_space_total",
			Help: "Writes refused because free space was below the floor."},
			func() float64 { return float64(a.store.Stats().NoSpace) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_store_commits_total",
			Help: "Batches written to the store (a request accepted, a reply stored, a request trashed, ...)."},
			func() float64 { return float64(a.store.Stats().Commits) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_store_flushes_total",
			Help: "Store transactions those batches took, each one flush when durable: commits ÷ flushes is the group commit's gain."},
			func() float64 { return float64(a.store.Stats().Groups) }),
		gauge("requestagent_store_commits_joining", "Batches nobody waits for (deletions after reads) held to join the next flush.", func() float64 {
			return float64(a.store.Stats().Joining)
		}),
		gauge("requestagent_giop_connections", "Inbound GIOP connections open.", func() float64 {
			return float64(a.server.Stats().Open)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_connections_accepted_total",
			Help: "Inbound GIOP connections accepted."}, func() float64 { return float64(a.server.Stats().Accepted) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_connections_refused_total",
			Help: "Inbound connections closed at once for the connection limit."}, func() float64 { return float64(a.server.Stats().Refused) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_accept_errors_total",
			Help: "Accept errors retried after a back-off (no file descriptors left, ...)."},
			func() float64 { return float64(a.server.Stats().AcceptErrors) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_over_budget_total",
			Help: "Connections closed for wanting more of the bytes budget (MaxBufferedBytes) than was left."},
			func() float64 { return float64(a.server.Stats().OverBudget) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_slow_readers_total",
			Help: "Connections closed for not reading their replies: more queued for writing than MaxQueuedBytes or the connection's part allows."},
			func() float64 { return float64(a.server.Stats().SlowReaders) }),
		gauge("requestagent_giop_queued_bytes", "Bytes of replies queued for writing, not yet written to their sockets.", func() float64 {
			return float64(a.server.Stats().QueuedBytes)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_busy_total",
			Help: "Requests answered TRANSIENT because too many were being served (per connection or in all)."},
			func() float64 { return float64(a.server.Stats().Busy) }),
		gauge("requestagent_giop_buffered_bytes", "Bytes of incoming messages held (being read, reassembled or served).", func() float64 {
			return float64(a.server.Stats().BufferedBytes)
		}),
		gauge("requestagent_giop_outbound_connections", "Connections the agent holds to targets and recipients.", func() float64 {
			return float64(a.client.Stats().Open)
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "requestagent_giop_protocol_errors_total",
			Help: "Connections closed with MessageError (bad framing, oversized or malformed messages)."},
			func() float64 { return float64(a.server.Stats().ProtocolErrors) }),
		tlsFailures("inbound", func() uint64 { return a.server.Stats().TLSHandshakeFailures }),
		tlsFailures("outbound", func() uint64 { return a.client.Stats().TLSHandshakeFailures }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func (m *metrics) outcome(o string)          { m.requests.WithLabelValues(o).Inc() }
func (m *metrics) accepted(since time.Time)  { m.acceptTime.Observe(time.Since(since).Seconds()) }
func (m *metrics) delegated(since time.Time) { m.delegations.Observe(time.Since(since).Seconds()) }
func (m *metrics) reply(status string)       { m.replies.WithLabelValues(status).Inc() }
func (m *metrics) callback(result string)    { m.callbacks.WithLabelValues(result).Inc() }
func (m *metrics) policyRefused(at string)   { m.refusals.WithLabelValues(at).Inc() }

// notAllowed reports whether err is the target policy's refusal.
func notAllowed(err error) bool {
	if err == nil {
		return false // before x, which escapes: a delegation that succeeds allocates nothing here
	}
	var x *giop.SystemException
	return errors.As(err, &x) && x.Name == giop.ExcNoPermission && x.Minor == nmproto.TargetNotAllowed
}

// MetricsHandler serves the agent's metrics in the Prometheus format.
func (a *Agent) MetricsHandler() http.Handler {
	if a.cfg.Metrics != nil {
		return promhttp.HandlerFor(prometheus.Gatherers{a.metrics.reg, a.cfg.Metrics}, promhttp.HandlerOpts{})
	}
	return promhttp.HandlerFor(a.metrics.reg, promhttp.HandlerOpts{})
}
