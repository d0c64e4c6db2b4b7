package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/requestagent/requestagent/internal/timerpool"
	"github.com/requestagent/requestagent/storage"
)

// Store is the agent's durable store on an etcd v3 cluster. Safe for
// concurrent use; its method set is agent.Store's.
type Store struct {
	cli    *clientv3.Client
	cfg    Config
	log    zerolog.Logger
	prefix string // cfg.KeyPrefix
	// budget is the bytes of mutations one transaction may hold:
	// MaxRequestBytes less RequestHeadroom.
	budget int

	commitCh chan *pending // bounded by MaxPending
	quitCh   chan struct{} // closed by Close: the committer drains and exits
	wg       sync.WaitGroup
	closeMu  sync.RWMutex // held for reading while enqueueing or starting a goroutine; Close takes it
	closed   bool         // guarded by closeMu

	commits, groups atomic.Int64 // batches committed, transactions used
	entries, busy   atomic.Int64 // mutations committed; nanoseconds in committed transactions
	joining         atomic.Int64 // batches the committer holds (Stats.Joining)
	noSpace         atomic.Int64 // batches etcd refused for its quota (Stats.NoSpace)
	admitRefused    atomic.Int64 // Admit's refusals (Stats.AdmitRefused)

	size    sizeCache // the database size and the NOSPACE alarm (space.go)
	metrics *storeMetrics
}

// Stats are the store's counters: storage.Stats, so that the agent's
// metrics read them as Badger's. Commits/Groups is the group commit's
// gain; Busy/Groups the mean transaction's round trip.
func (s *Store) Stats() storage.Stats {
	return storage.Stats{Commits: s.commits.Load(), Groups: s.groups.Load(), Entries: s.entries.Load(),
		Busy: time.Duration(s.busy.Load()), Joining: s.joining.Load(),
		NoSpace: s.noSpace.Load(), AdmitRefused: s.admitRefused.Load()}
}

// pending is a batch waiting for the committer.
type pending struct {
	b          *storage.Batch
	ops, bytes int        // b.Len(); its estimated size in the request (cost)
	joining    bool       // CommitJoining: join a group rather than start one
	done       chan error // buffered 1: the committer never blocks on a caller gone
}

// Open connects to the cluster and starts the committer. It fails if no
// endpoint answers within DialTimeout.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.withDefaults()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: cfg.DialTimeout,
		// A member accepts a request of up to --max-request-bytes plus
		// 512 KiB of gRPC framing; the client's own default limit is 2 MiB.
		MaxCallSendMsgSize: cfg.MaxRequestBytes + 512<<10,
		Logger:             zap.New(zapCore{log: cfg.Logger}),
	})
	if err != nil {
		return nil, fmt.Errorf("etcdstore: connect to %v: %w", cfg.Endpoints, err)
	}
	s := &Store{
		cli:      cli,
		cfg:      cfg,
		log:      cfg.Logger,
		prefix:   cfg.KeyPrefix,
		budget:   cfg.MaxRequestBytes - RequestHeadroom,
		commitCh: make(chan *pending, cfg.MaxPending),
		quitCh:   make(chan struct{}),
		metrics:  newStoreMetrics(cfg.Registerer),
	}
	// The first measurement is made here, in full: it proves the cluster
	// answers, and Admit then never judges on nothing.
	if err := s.measure(cfg.DialTimeout); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcdstore: open %v: %w", cfg.Endpoints, err)
	}
	s.wg.Add(1)
	go func() { defer s.wg.Done(); s.commitLoop() }()
	return s, nil
}

// key is k under KeyPrefix.
func (s *Store) key(k []byte) string { return s.prefix + string(k) }

// cost is what b's mutations take of a transaction's request bytes.
func (s *Store) cost(b *storage.Batch) int {
	n := 0
	b.Each(func(key, val []byte, _ bool) { n += len(s.prefix) + len(key) + len(val) + OpOverhead })
	return n
}

// CommitWithin commits b in the next group and returns once its
// transaction committed on a quorum of the cluster, or fails within
// timeout (context.DeadlineExceeded: the batch may still commit). A batch
// too big for one transaction is refused whole (storage.ErrBatchTooLarge):
// splitting it would break its atomicity.
func (s *Store) CommitWithin(b *storage.Batch, timeout time.Duration) error {
	return s.commit(b, timeout, false)
}

// CommitJoining is CommitWithin for a batch nobody waits for: it starts
// no transaction of its own, but joins the next group another batch
// starts — or, if none comes within JoinDelay, is committed alone. It
// still returns only once committed.
func (s *Store) CommitJoining(b *storage.Batch, timeout time.Duration) error {
	return s.commit(b, timeout, true)
}

func (s *Store) commit(b *storage.Batch, timeout time.Duration, joining bool) error {
	if b.Len() == 0 {
		return nil
	}
	p := &pending{b: b, ops: b.Len(), bytes: s.cost(b), joining: joining, done: make(chan error, 1)}
	if p.ops > s.cfg.MaxTxnOps || p.bytes > s.budget {
		return fmt.Errorf("%w: %d mutations and about %d bytes, and one etcd transaction holds at most %d (MaxTxnOps, "+
			"--max-txn-ops) and %d bytes (MaxRequestBytes, --max-request-bytes, less %d of headroom)",
			storage.ErrBatchTooLarge, p.ops, p.bytes, s.cfg.MaxTxnOps, s.cfg.MaxRequestBytes, RequestHeadroom)
	}
	t := timerpool.Get(timeout)
	defer timerpool.Put(t)
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return storage.ErrClosed
	}
	select {
	case s.commitCh <- p:
		s.closeMu.RUnlock()
	case <-t.C:
		s.closeMu.RUnlock()
		return fmt.Errorf("etcdstore: %d batches wait for the committer already (MaxPending): %w",
			cap(s.commitCh), context.DeadlineExceeded)
	}
	select {
	case err := <-p.done:
		return err
	case <-t.C:
		return context.DeadlineExceeded
	}
}

// commitLoop is the only writer, so that groups commit in the order
// their batches came: one transaction in flight at a time. While it is in
// flight the next batches queue, and the next group takes them all, up
// to the transaction's limits — the round trip to a quorum is what a
// group amortises. Joining batches (CommitJoining) are held until a batch
// that starts a group comes, and go first in its transaction, or are
// committed alone once the oldest has waited JoinDelay.
func (s *Store) commitLoop() {
	var group, held []*pending
	heldOps, heldBytes := 0, 0
	join := time.NewTimer(time.Hour)
	join.Stop()
	defer join.Stop()
	var joinC <-chan time.Time // join.C while batches are held
	takeHeld := func() {
		group = append(group[:0], held...)
		join.Stop()
		joinC = nil
		clear(held)
		held = held[:0]
		heldOps, heldBytes = 0, 0
		s.joining.Store(0)
	}
	fits := func(ops, bytes int, p *pending) bool {
		return ops+p.ops <= s.cfg.MaxTxnOps && bytes+p.bytes <= s.budget
	}
	// drain adds to the group every batch queued, committing the group
	// whenever the next does not fit, and commits what is left; ops and
	// bytes are what the group holds already.
	drain := func(ops, bytes int) {
		for {
			select {
			case p := <-s.commitCh:
				if !fits(ops, bytes, p) {
					s.commitGroup(group)
					group, ops, bytes = group[:0], 0, 0
				}
				group = append(group, p)
				ops += p.ops
				bytes += p.bytes
			default:
				s.commitGroup(group)
				return
			}
		}
	}
	for {
		var first *pending
		select {
		case first = <-s.commitCh:
			if first.joining {
				if !fits(heldOps, heldBytes, first) {
					takeHeld()
					s.commitGroup(group)
				}
				if len(held) == 0 {
					join.Reset(s.cfg.JoinDelay)
					joinC = join.C
				}
				held = append(held, first)
				heldOps += first.ops
				heldBytes += first.bytes
				s.joining.Store(int64(len(held)))
				continue
			}
		case <-joinC:
			takeHeld()
			s.commitGroup(group)
			continue
		case <-s.quitCh:
			// Close stopped new enqueues: commit what is held and what
			// is queued, then exit.
			ops, bytes := heldOps, heldBytes
			takeHeld()
			drain(ops, bytes)
			return
		}
		ops, bytes := heldOps, heldBytes
		if !fits(ops, bytes, first) {
			takeHeld()
			s.commitGroup(group)
			ops, bytes = 0, 0
		}
		takeHeld()
		group = append(group, first)
		drain(ops+first.ops, bytes+first.bytes)
	}
}

// commitGroup commits the batches in one transaction, conditioned on the
// fence, and answers each. group is cleared for reuse.
func (s *Store) commitGroup(group []*pending) {
	if len(group) == 0 {
		return
	}
	defer clear(group)
	err := s.txn(group)
	if errors.Is(err, errTooBig) && len(group) > 1 {
		// The estimate was short (a fence's compares larger than the
		// headroom): halves, so that no batch fails for its neighbours.
		half := len(group) / 2
		s.commitGroup(group[:half])
		s.commitGroup(group[half:])
		return
	}
	if err != nil {
		s.log.Error().Err(err).Int("batches", len(group)).Msg("etcdstore: group commit failed")
	}
	for _, p := range group {
		// Refused groups too: a refusal whose outcome is unknown may
		// have landed, and the next measurement corrects the rest.
		s.size.wrote(p.bytes)
		p.done <- err
	}
}

// errTooBig is txn's "etcd refused the transaction's size".
var errTooBig = errors.New("etcdstore: transaction too big")

// txn commits the group's mutations in one etcd transaction. etcd refuses
// a transaction that puts a key twice, or puts and deletes it, so each key
// gets only its last mutation: applying the group's batches in order comes
// to that.
func (s *Store) txn(group []*pending) error {
	started, entries := time.Now(), 0
	last := make(map[string]int, group[0].ops*len(group))
	var ops []clientv3.Op
	for _, p := range group {
		entries += p.ops
		p.b.Each(func(key, val []byte, del bool) {
			k := s.key(key)
			op := clientv3.OpPut(k, string(val))
			if del {
				op = clientv3.OpDelete(k)
			}
			if i, ok := last[k]; ok {
				ops[i] = op
				return
			}
			last[k] = len(ops)
			ops = append(ops, op)
		})
	}
	var cmps []clientv3.Cmp
	if s.cfg.Fence != nil {
		cmps = s.cfg.Fence()
	}
	resp, err := s.send(cmps, ops)
	switch {
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrRequestTooLarge):
		if len(group) > 1 {
			return errTooBig
		}
		return fmt.Errorf("etcdstore: commit: %w: etcd refused it: %w (%d mutations, %d fence compares)",
			storage.ErrBatchTooLarge, err, len(ops), len(cmps))
	case errors.Is(err, rpctypes.ErrNoSpace):
		s.noSpace.Add(int64(len(group)))
		s.size.alarmed()
		return fmt.Errorf("etcdstore: commit: %w: etcd's database reached its quota (--quota-backend-bytes) and its "+
			"NOSPACE alarm is raised: compact and defragment it, then disarm the alarm (etcdctl alarm disarm): %w",
			storage.ErrNoSpace, err)
	case err != nil:
		// Unavailable, or the deadline: the transaction may or may not
		// have committed, and the agent acknowledges neither.
		return fmt.Errorf("etcdstore: commit: %w", err)
	case !resp.Succeeded:
		return ErrFenced
	}
	// Commits first: a reader of Groups then Commits never sees more
	// transactions than batches.
	s.entries.Add(int64(entries))
	s.busy.Add(int64(time.Since(started)))
	s.commits.Add(int64(len(group)))
	s.groups.Add(1)
	return nil
}

// send commits the transaction, sending it again while its outcome is
// unknown (an attempt past AttemptTimeout, no leader, a member gone) and
// CommitTimeout lasts. Sending it again is safe: the committer is the only
// writer of its keys and sends nothing else meanwhile, so a second copy
// writes what the first did, and the fence's compares still hold or
// fail the copy. A proposal lost with its leader is not answered until
// etcd's own request timeout (7 s at the defaults); the next attempt goes
// to the new leader instead.
func (s *Store) send(cmps []clientv3.Cmp, ops []clientv3.Op) (*clientv3.TxnResponse, error) {
	deadline := time.Now().Add(s.cfg.CommitTimeout)
	for {
		left := time.Until(deadline)
		ctx, cancel := context.WithTimeout(context.Background(), min(left, s.cfg.AttemptTimeout))
		sent := time.Now()
		resp, err := s.cli.Txn(ctx).If(cmps...).Then(ops...).Commit()
		cancel()
		switch {
		case err == nil && resp.Succeeded:
			s.metrics.attempt("committed", sent)
		case err == nil:
			s.metrics.attempt("fenced", sent)
		case retriable(err):
			s.metrics.attempt("unknown", sent)
		default:
			s.metrics.attempt("failed", sent)
		}
		if err == nil || !retriable(err) || time.Until(deadline) < retryPause {
			return resp, err
		}
		s.log.Warn().Err(err).Msg("etcdstore: commit's outcome unknown: sending it again")
		time.Sleep(retryPause)
	}
}

// retryPause is the pause before a transaction is sent again: a member
// gone answers at once, and the client needs a moment to move on.
const retryPause = 50 * time.Millisecond

// retriable reports whether err leaves the transaction's outcome unknown
// or says it was not applied for want of a leader or a member: sending
// it again may commit it.
func retriable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, rpctypes.ErrLeaderChanged), errors.Is(err, rpctypes.ErrNoLeader),
		errors.Is(err, rpctypes.ErrTimeout), errors.Is(err, rpctypes.ErrTimeoutDueToLeaderFail),
		errors.Is(err, rpctypes.ErrTimeoutDueToConnectionLost), errors.Is(err, rpctypes.ErrStopped):
		return true
	}
	return status.Code(err) == codes.Unavailable
}

// Close commits what is queued, waits for the store's goroutines and
// closes the client. It is idempotent; the agent closes its store last.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	s.closeMu.Unlock()
	close(s.quitCh)
	s.wg.Wait()
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("etcdstore: close: %w", err)
	}
	return nil
}

// isClosed reports whether Close was called.
func (s *Store) isClosed() bool {
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	return s.closed
}
