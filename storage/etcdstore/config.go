package etcdstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/storage"
)

// Config configures a Store. Zero fields take their defaults; the limits
// that mirror an etcd server flag must match the cluster's setting of it
// (doc.go, "etcd's limits").
type Config struct {
	// Endpoints are the etcd members' client URLs ("http://host:2379").
	// Required. Give them all: the client moves to another when one fails.
	Endpoints []string
	// KeyPrefix is put before every key the agent writes, so that agents
	// of different clusters, or other users, can share one etcd. Keys are
	// read back without it: the agent sees its keys as it does on Badger.
	// Default "requestagent/".
	KeyPrefix string
	// DialTimeout bounds connecting to the cluster at Open. Default 5 s.
	DialTimeout time.Duration
	// CommitTimeout bounds a transaction's attempts (AttemptTimeout) to
	// commit on a quorum. Past it the group's callers get an error, and
	// the outcome is unknown: the transaction may still commit. Default
	// 5 s, several election timeouts (etcd's default is 1 s), so that a
	// leader change costs no commit.
	CommitTimeout time.Duration
	// AttemptTimeout bounds one attempt at a transaction within
	// CommitTimeout: past it, or on an error that leaves its outcome
	// unknown (no leader, a member gone), the transaction is sent again
	// (store.go, send). Default 2 s, twice etcd's election timeout: a
	// proposal lost with a dead leader then costs about one election.
	AttemptTimeout time.Duration
	// ReadTimeout bounds one read (a Get, a page of a scan, a size
	// measurement). Default 5 s.
	ReadTimeout time.Duration
	// MaxTxnOps is the cluster's --max-txn-ops: the most operations one
	// transaction may hold. A group holds at most this many mutations, and
	// a batch with more is refused (storage.ErrBatchTooLarge). Default 128,
	// etcd's default.
	MaxTxnOps int
	// MaxRequestBytes is the cluster's --max-request-bytes: the largest
	// request a member accepts. A group is filled up to it less
	// RequestHeadroom (the fence's compares and the request's own framing),
	// counting each mutation as its key, KeyPrefix, value and OpOverhead;
	// a batch that alone exceeds that is refused (storage.ErrBatchTooLarge).
	// Default 1.5 MiB, etcd's default.
	MaxRequestBytes int
	// QuotaBytes is the cluster's --quota-backend-bytes: the database size
	// past which etcd raises its NOSPACE alarm and refuses every write.
	// Default 2 GiB, etcd's default (8 GiB is its suggested maximum).
	QuotaBytes int64
	// AdmitReserve is the room below QuotaBytes that only work already
	// accepted may use: Admit refuses new work once the largest member's
	// database is within AdmitReserve of QuotaBytes (the Admit floor), so
	// that replies, state changes and deletions still commit. Default
	// QuotaBytes/8 (256 MiB of the default quota).
	AdmitReserve int64
	// SizeEvery is how long a measurement of the database size (for Admit
	// and DiskBytes) is used before it is measured again, in the
	// background. Default 1 s.
	SizeEvery time.Duration
	// JoinDelay is how long a batch committed with CommitJoining waits for
	// a group to join before it is committed on its own. Default 10 ms, as
	// storage's.
	JoinDelay time.Duration
	// MaxPending is how many batches may wait for the committer; past it
	// callers wait for room, within their timeout. Default 4096.
	MaxPending int
	// PageSize is how many keys one read of a scan returns: a scan holds
	// at most one page of values in memory. Default 256.
	PageSize int
	// Fence, when set, is called for every transaction; its compares are
	// added to the transaction's If, as they are (full etcd keys, not under
	// KeyPrefix). If one fails, nothing of the group is written and each of
	// its batches fails with ErrFenced. It is how the ownership protocol
	// conditions every write on the owner's lease (docs/cluster.md). It
	// must be fast and safe for concurrent use; at most MaxTxnOps compares.
	Fence func() []clientv3.Cmp
	// Registerer, when set, takes the store's metrics: the round trips
	// of its transactions and reads (metrics.go).
	Registerer prometheus.Registerer
	// Logger receives the store's events and the etcd client's warnings.
	Logger zerolog.Logger
}

// Defaults.
const (
	DefaultKeyPrefix       = "requestagent/"
	DefaultDialTimeout     = 5 * time.Second
	DefaultCommitTimeout   = 5 * time.Second
	DefaultAttemptTimeout  = 2 * time.Second
	DefaultReadTimeout     = 5 * time.Second
	DefaultMaxTxnOps       = 128
	DefaultMaxRequestBytes = 3 << 19 // 1.5 MiB
	DefaultQuotaBytes      = 2 << 30
	DefaultSizeEvery       = time.Second
	DefaultJoinDelay       = 10 * time.Millisecond
	DefaultMaxPending      = 4096
	DefaultPageSize        = 256
)

// RequestHeadroom is what a group leaves of MaxRequestBytes for what is
// not a mutation: the fence's compares, the transaction's framing and the
// header etcd wraps a request in before it checks its size against
// --max-request-bytes (the check is on that raft entry, not on the bytes
// the client sent).
const RequestHeadroom = 64 << 10

// OpOverhead is what a mutation costs beyond its key and value in the
// request: its protobuf tags and lengths (a dozen bytes), rounded up.
const OpOverhead = 32

// DefaultConfig returns the defaults for a cluster at endpoints.
func DefaultConfig(endpoints ...string) Config {
	return Config{Endpoints: endpoints, Logger: zerolog.Nop()}
}

func (c *Config) withDefaults() {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.CommitTimeout == 0 {
		c.CommitTimeout = DefaultCommitTimeout
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.MaxTxnOps == 0 {
		c.MaxTxnOps = DefaultMaxTxnOps
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.QuotaBytes == 0 {
		c.QuotaBytes = DefaultQuotaBytes
	}
	if c.AdmitReserve == 0 {
		c.AdmitReserve = c.QuotaBytes / 8
	}
	if c.SizeEvery == 0 {
		c.SizeEvery = DefaultSizeEvery
	}
	if c.JoinDelay == 0 {
		c.JoinDelay = DefaultJoinDelay
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
}

// Validate reports the first invalid field, as a *configerr.Field
// wrapping storage.ErrBadConfig.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error { return configerr.New(storage.ErrBadConfig, field, v, why) }
	d := *c
	d.withDefaults()
	switch {
	case len(c.Endpoints) == 0:
		return bad("Endpoints", "[]", "at least one etcd endpoint is required")
	case c.DialTimeout < 0:
		return bad("DialTimeout", c.DialTimeout, "must not be negative")
	case c.CommitTimeout < 0:
		return bad("CommitTimeout", c.CommitTimeout, "must not be negative")
	case c.AttemptTimeout < 0:
		return bad("AttemptTimeout", c.AttemptTimeout, "must not be negative")
	case c.ReadTimeout < 0:
		return bad("ReadTimeout", c.ReadTimeout, "must not be negative")
	case c.MaxTxnOps < 0:
		return bad("MaxTxnOps", c.MaxTxnOps, "must not be negative")
	case c.MaxRequestBytes < 0 || d.MaxRequestBytes <= RequestHeadroom:
		return bad("MaxRequestBytes", c.MaxRequestBytes, "must be above the 64 KiB the store keeps for the request's framing")
	case c.QuotaBytes < 0:
		return bad("QuotaBytes", c.QuotaBytes, "must not be negative")
	case c.AdmitReserve < 0 || d.AdmitReserve >= d.QuotaBytes:
		return bad("AdmitReserve", c.AdmitReserve, "must be in [0, QuotaBytes)")
	case c.SizeEvery < 0:
		return bad("SizeEvery", c.SizeEvery, "must not be negative")
	case c.JoinDelay < 0:
		return bad("JoinDelay", c.JoinDelay, "must not be negative")
	case c.MaxPending < 0:
		return bad("MaxPending", c.MaxPending, "must not be negative")
	case c.PageSize < 0:
		return bad("PageSize", c.PageSize, "must not be negative")
	}
	return nil
}
