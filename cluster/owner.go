package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/requestagent/requestagent/internal/configerr"
)

// Config says what an Owner owns and how long a silence lasts.
type Config struct {
	// Key is the ownership key: whoever's lease holds it owns the prefix
	// it guards. Required; put it outside the agent's own keys (the agent
	// writes one-letter prefixes, agent/SPEC.md), e.g. "<prefix>cluster/owner".
	Key string
	// Name is this agent's name, the key's value, for operators and for
	// the standby's log line. Required.
	Name string
	// Addrs are the GIOP addresses (host:port) this agent serves on, the
	// first preferred: the key's value names them, and a standby
	// forwards the calls it gets there. Optional: without them standbys
	// hold calls until they own.
	Addrs []string
	// Members is the key prefix under which every agent, standby or
	// owner, registers its name and addresses for as long as its lease
	// lives, for "requestagent cluster status". Optional: empty registers
	// nothing.
	Members string
	// TTL is the lease's time to live, in whole seconds: how long after
	// an owner stops renewing it a standby may take over. Default 5 s
	// (DefaultTTL), at least 2 s (etcd's election timeout is 1 s: a
	// shorter lease could expire across a leader change).
	TTL time.Duration
	// Logger is where the standby's waiting and the loss are said.
	Logger zerolog.Logger
}

// DefaultTTL is Config.TTL's default: a failover takes two thirds to all
// of it, and an owner gives its ownership up after two thirds of it
// without an answer from etcd, which an etcd leader election (1 to 2 s)
// must not reach. Measured (docs/cluster.md, "The lease"): at 2 s most
// leader losses cost a failover, at 3 s a few, at 5 s none.
const DefaultTTL = 5 * time.Second

// Validate checks the configuration.
func (c *Config) Validate() error {
	switch {
	case c.Key == "":
		return configerr.Quoted(ErrBadConfig, "Key", c.Key, "required")
	case c.Name == "":
		return configerr.Quoted(ErrBadConfig, "Name", c.Name, "required")
	case c.TTL != 0 && (c.TTL < 2*time.Second || c.TTL%time.Second != 0):
		return configerr.New(ErrBadConfig, "TTL", c.TTL, "whole seconds, at least 2 s")
	}
	return nil
}

// Owner is this agent's ownership of a key prefix: the ownership key held
// under a lease it keeps alive.
type Owner struct {
	cli   *clientv3.Client
	key   string
	lease clientv3.LeaseID
	ttl   time.Duration
	log   zerolog.Logger

	// renewed is when etcd last answered a keep-alive (monotonic
	// nanoseconds since start), for Held.
	renewed  atomic.Int64
	owning   atomic.Bool // the key is taken: no longer a standby's lease
	start    time.Time
	lost     chan struct{} // closed once the ownership ended
	lostOnce sync.Once
	stop     context.CancelFunc // ends the keep-alives
	wg       sync.WaitGroup     // the keep-alive watcher
	release  sync.Once
}

// Acquire takes the ownership of cfg.Key for this agent: at once if
// nobody holds it, else once its holder's lease ends — a standby, until
// then, or until ctx ends, which alone ends the wait (ctx's error). Its
// lease is kept alive from the start, so a long wait costs nothing.
//
// A standby outlives etcd's faults: each step is bounded by the TTL, and
// one that fails — etcd unreachable, without quorum, out of space — or a
// standby lease etcd stopped renewing is tried again, with a fresh lease,
// after RetryPause, and logged as a warning (the first failure, then at
// most every RetryLogEvery). A standby owns nothing, so nothing is at
// stake while it retries; an owner's lost lease is Lost, and final.
func Acquire(ctx context.Context, cli *clientv3.Client, cfg Config) (*Owner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	var logged time.Time
	for attempt := 1; ; attempt++ {
		o, err := acquire(ctx, cli, cfg)
		if err == nil {
			if attempt > 1 {
				cfg.Logger.Info().Int("failures", attempt-1).Msg("cluster: etcd answers again")
			}
			return o, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if now := time.Now(); now.Sub(logged) >= RetryLogEvery {
			logged = now
			cfg.Logger.Warn().Err(err).Int("failures", attempt).Strs("etcd", cli.Endpoints()).
				Msg("cluster: standby: cannot reach the ownership through etcd (unreachable, without quorum, or full?); trying again")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(RetryPause):
		}
	}
}

// A standby's retries (Acquire).
const (
	// RetryPause is the pause between a failed attempt and the next.
	RetryPause = time.Second
	// RetryLogEvery spaces the warnings of a long etcd outage.
	RetryLogEvery = 30 * time.Second
)

// acquire is one attempt of Acquire, each call to etcd bounded by the
// TTL: it returns the ownership, or the first failure, its lease revoked.
func acquire(ctx context.Context, cli *clientv3.Client, cfg Config) (*Owner, error) {
	bounded := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, cfg.TTL) }
	gctx, cancel := bounded()
	grant, err := cli.Grant(gctx, int64(cfg.TTL/time.Second))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cluster: lease: %w", err)
	}
	kctx, stop := context.WithCancel(context.Background())
	alive, err := cli.KeepAlive(kctx, grant.ID)
	if err != nil {
		stop()
		return nil, fmt.Errorf("cluster: keep the lease alive: %w", err)
	}
	o := &Owner{cli: cli, key: cfg.Key, lease: grant.ID, ttl: cfg.TTL, log: cfg.Logger,
		lost: make(chan struct{}), stop: stop, start: time.Now()}
	o.wg.Add(1)
	go o.watch(alive)
	me := Holder{Name: cfg.Name, GIOP: cfg.Addrs}.encode()
	if cfg.Members != "" {
		pctx, cancel := bounded()
		_, err := cli.Put(pctx, cfg.Members+cfg.Name, me, clientv3.WithLease(grant.ID))
		cancel()
		if err != nil {
			o.Release(context.Background())
			return nil, fmt.Errorf("cluster: register in %s: %w", cfg.Members, err)
		}
	}
	waited := false
	for {
		tctx, cancel := bounded()
		resp, err := cli.Txn(tctx).
			If(clientv3.Compare(clientv3.CreateRevision(cfg.Key), "=", 0)).
			Then(clientv3.OpPut(cfg.Key, me, clientv3.WithLease(grant.ID))).
			Else(clientv3.OpGet(cfg.Key)).Commit()
		cancel()
		if err != nil {
			// Taken or not, the lease goes: a take that landed unseen
			// is released with it, or expires within the TTL.
			o.Release(context.Background())
			return nil, fmt.Errorf("cluster: take %s: %w", cfg.Key, err)
		}
		if resp.Succeeded {
			break
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			continue // gone between the compare and the read: try again
		}
		if !waited {
			waited = true
			o.log.Info().Str("owner", DecodeHolder(kvs[0].Value).Name).Str("key", cfg.Key).
				Msg("cluster: standby: another agent owns the store; waiting for its lease to end")
		}
		if err := o.waitDeleted(ctx, kvs[0].ModRevision); err != nil {
			o.Release(context.Background())
			if errors.Is(err, ErrLost) {
				return nil, errStandbyLease
			}
			return nil, err
		}
	}
	o.renewed.Store(int64(time.Since(o.start))) // the lease was renewed by the take's own transaction
	o.owning.Store(true)
	o.log.Info().Str("key", cfg.Key).Str("name", cfg.Name).Dur("ttl", cfg.TTL).Msg("cluster: this agent owns the store")
	return o, nil
}

// waitDeleted waits until the key, as of revision rev, is deleted (its
// holder's lease ended), or the ownership was lost, or ctx ended. A watch
// that fails (the revision compacted away, a member gone) returns nil:
// the caller looks again.
func (o *Owner) waitDeleted(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := o.cli.Watch(wctx, o.key, clientv3.WithRev(rev+1))
	for {
		select {
		case <-o.lost:
			return ErrLost
		case <-ctx.Done():
			return ctx.Err()
		case wr, ok := <-w:
			if !ok || wr.Err() != nil {
				return nil
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE {
					return nil
				}
			}
		}
	}
}

// watch reads the keep-alive responses; the ownership is lost when they
// end (the lease expired or was revoked) or when none came for two thirds
// of the TTL: the lease expires on etcd no sooner than TTL after the last
// renewal it answered, so stopping then leaves a third of the TTL for the
// owner to stop acting before a standby may start.
func (o *Owner) watch(alive <-chan *clientv3.LeaseKeepAliveResponse) {
	defer o.wg.Done()
	defer o.markLost()
	silence := o.ttl * 2 / 3
	t := time.NewTimer(silence)
	defer t.Stop()
	for {
		select {
		case resp, ok := <-alive:
			if !ok || resp == nil || resp.TTL <= 0 {
				return
			}
			o.renewed.Store(int64(time.Since(o.start)))
			t.Reset(silence)
		case <-t.C:
			if o.owning.Load() {
				o.log.Error().Dur("silence", silence).Msg("cluster: etcd has not renewed the lease; ownership lost")
			} else {
				o.log.Warn().Dur("silence", silence).Msg("cluster: standby: etcd has not renewed this standby's lease; taking a new one")
			}
			return
		}
	}
}

func (o *Owner) markLost() { o.lostOnce.Do(func() { close(o.lost) }) }

// Fence is the compare that conditions a write on this ownership: the
// ownership key is still held by this owner's lease (for
// etcdstore.Config.Fence).
func (o *Owner) Fence() []clientv3.Cmp {
	return []clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(o.key), "=", o.lease)}
}

// Held reports, at once, whether this agent may still act as the owner:
// the ownership is not lost, and etcd answered a keep-alive less than two
// thirds of the TTL ago. It reads the monotonic clock, which runs on while
// a process is stopped: an owner woken from a SIGSTOP past its lease knows
// it at its first question, before its watchdog has run (ErrLost then).
func (o *Owner) Held() error {
	select {
	case <-o.lost:
		return ErrLost
	default:
	}
	if time.Since(o.start)-time.Duration(o.renewed.Load()) > o.ttl*2/3 {
		return ErrLost
	}
	return nil
}

// Lost is closed once the ownership ended: the owner must stop acting —
// delegating, relaying, calling back — at once, since a standby may take
// over.
func (o *Owner) Lost() <-chan struct{} { return o.lost }

// Release gives the ownership up: the lease is revoked, which deletes the
// key, and a standby takes over at once rather than after the TTL. It
// stops the keep-alives, and may be called more than once.
func (o *Owner) Release(ctx context.Context) error {
	var err error
	o.release.Do(func() {
		o.stop()
		o.wg.Wait()
		o.markLost()
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, rerr := o.cli.Revoke(rctx, o.lease); rerr != nil {
			err = fmt.Errorf("cluster: revoke the lease (it ends by itself within %v): %w", o.ttl, rerr)
		}
	})
	return err
}

// Members lists the agents registered under prefix (Config.Members),
// standbys and owner alike, by name.
func Members(ctx context.Context, cli *clientv3.Client, prefix string) ([]Holder, error) {
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend),
		clientv3.WithLimit(maxMembersListed))
	if err != nil {
		return nil, err
	}
	out := make([]Holder, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, DecodeHolder(kv.Value))
	}
	return out, nil
}

// maxMembersListed bounds Members: a cluster of agents is a handful.
const maxMembersListed = 1000
