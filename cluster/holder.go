package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Holder is what the ownership key says of the agent holding it: its name,
// for operators, and the GIOP addresses it serves on, where a standby
// forwards the calls it gets (docs/cluster.md, "Standbys forward").
type Holder struct {
	// Name is the holder's Config.Name.
	Name string `json:"name"`
	// GIOP are the holder's Config.Addrs: host:port, the first preferred.
	GIOP []string `json:"giop,omitempty"`
	// Lease is the holder's etcd lease, as the key's metadata says (not
	// in its value): what Follower.Depose revokes.
	Lease int64 `json:"-"`
}

// maxHolderValue bounds the ownership key's value a reader decodes: a
// name and a few addresses. A larger value is not an agent's.
const maxHolderValue = 4 << 10

// DecodeHolder reads an ownership key's value. A value that is not this
// release's JSON (a bare name, as written before the addresses were
// added, or anything else) is taken as a name with no address: a standby
// then holds calls rather than forward them somewhere unknown.
func DecodeHolder(v []byte) Holder {
	var h Holder
	if len(v) > maxHolderValue || json.Unmarshal(v, &h) != nil || h.Name == "" {
		if len(v) > maxHolderValue {
			v = v[:maxHolderValue]
		}
		return Holder{Name: string(v)}
	}
	return h
}

// holderOf is the holder a key-value says, its lease included.
func holderOf(kv *mvccpb.KeyValue) Holder {
	h := DecodeHolder(kv.Value)
	h.Lease = kv.Lease
	return h
}

func (h Holder) encode() string {
	b, _ := json.Marshal(h) // two strings: cannot fail
	return string(b)
}

// Follower follows who holds an ownership key, for a standby that
// forwards calls to the owner: the holder as etcd last said, kept up to
// date by a watch. Safe for concurrent use.
type Follower struct {
	cli *clientv3.Client
	key string
	log zerolog.Logger

	mu      sync.Mutex    // guards holder, held and changed
	holder  Holder        // the key's holder, while held
	held    bool          // whether the key exists
	changed chan struct{} // closed, and replaced, at every change of holder or held

	cancel context.CancelFunc
	done   chan struct{} // closed when the follow goroutine ends
	stop   sync.Once
}

// Follow starts following key. Close stops it.
func Follow(cli *clientv3.Client, key string, log zerolog.Logger) *Follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Follower{cli: cli, key: key, log: log, changed: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
	go f.follow(ctx)
	return f
}

// Holder returns the key's holder, and false while nobody holds it (or
// before etcd first answered).
func (f *Follower) Holder() (Holder, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.holder, f.held
}

// Changed returns a channel closed at the next change of the holder: wait
// on it, then call Holder again.
func (f *Follower) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// Depose revokes h's lease, which deletes the ownership key at once: for
// a standby sure that h is dead (its address refuses connections), so
// that the store need not wait out the lease. It is safe whatever h's
// state: every write of h's is fenced by that lease (docs/cluster.md,
// "The ownership protocol"), so an h still alive writes nothing more and
// stops, as after a partition. A lease is never reused, so a holder that
// took over meanwhile keeps its own.
func (f *Follower) Depose(ctx context.Context, h Holder) error {
	if h.Lease == 0 {
		return ErrNoLease
	}
	if _, err := f.cli.Revoke(ctx, clientv3.LeaseID(h.Lease)); err != nil {
		return fmt.Errorf("cluster: revoke %s's lease: %w", h.Name, err)
	}
	f.log.Warn().Str("owner", h.Name).Strs("giop", h.GIOP).
		Msg("cluster: the owner's address refuses connections: its lease revoked, so that a standby takes over now")
	return nil
}

// LeaseLeft is how long h's lease has left, in etcd's whole seconds, and
// the TTL it was granted: a live holder renews it every third of that, a
// dead one lets it run down (Depose's evidence). A lease already ended
// has nothing left.
func (f *Follower) LeaseLeft(ctx context.Context, h Holder) (left, granted time.Duration, err error) {
	if h.Lease == 0 {
		return 0, 0, ErrNoLease
	}
	resp, err := f.cli.TimeToLive(ctx, clientv3.LeaseID(h.Lease))
	if err != nil {
		return 0, 0, fmt.Errorf("cluster: %s's lease: %w", h.Name, err)
	}
	return time.Duration(max(resp.TTL, 0)) * time.Second, time.Duration(resp.GrantedTTL) * time.Second, nil
}

// Close stops following. It is idempotent.
func (f *Follower) Close() {
	f.stop.Do(func() {
		f.cancel()
		<-f.done
	})
}

func (f *Follower) set(h Holder, held bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if held == f.held && h.Name == f.holder.Name && h.Lease == f.holder.Lease && equalAddrs(h.GIOP, f.holder.GIOP) {
		return
	}
	f.holder, f.held = h, held
	close(f.changed)
	f.changed = make(chan struct{})
}

func equalAddrs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// followRetry is the pause before the follower reads the key again after
// etcd failed it: short, since a standby holds calls meanwhile.
const followRetry = 250 * time.Millisecond

// follow reads the key, then watches it from the revision read; a watch
// that fails (a member gone, the revision compacted) starts over with a
// read, so a change is never missed for long.
func (f *Follower) follow(ctx context.Context) {
	defer close(f.done)
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := f.cli.Get(rctx, f.key)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				f.log.Debug().Err(err).Str("key", f.key).Msg("cluster: reading who owns the store")
			}
			sleep(ctx, followRetry)
			continue
		}
		if len(resp.Kvs) == 0 {
			f.set(Holder{}, false)
		} else {
			f.set(holderOf(resp.Kvs[0]), true)
		}
		f.watch(ctx, resp.Header.Revision+1)
		sleep(ctx, followRetry)
	}
}

func (f *Follower) watch(ctx context.Context, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for wr := range f.cli.Watch(wctx, f.key, clientv3.WithRev(rev)) {
		if wr.Err() != nil {
			return
		}
		for _, ev := range wr.Events {
			if ev.Type == mvccpb.DELETE {
				f.set(Holder{}, false)
			} else {
				f.set(holderOf(ev.Kv), true)
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
