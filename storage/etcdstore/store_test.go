package etcdstore_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/requestagent/requestagent/internal/configerr"
	"github.com/requestagent/requestagent/internal/etcdtest"
	"github.com/requestagent/requestagent/internal/memstore"
	"github.com/requestagent/requestagent/storage"
	"github.com/requestagent/requestagent/storage/etcdstore"
)

const timeout = 10 * time.Second

// open opens a store on c with cfg's other fields, closed on cleanup.
func open(t *testing.T, c *etcdtest.Cluster, cfg etcdstore.Config) *etcdstore.Store {
	t.Helper()
	if cfg.Endpoints == nil {
		cfg.Endpoints = c.Endpoints()
	}
	s, err := etcdstore.Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func batch(kv ...string) *storage.Batch {
	b := &storage.Batch{}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "<del>" {
			b.Delete([]byte(kv[i]))
		} else {
			b.Set([]byte(kv[i]), []byte(kv[i+1]))
		}
	}
	return b
}

// backend is the part of agent.Store the comparison drives.
type backend interface {
	CommitWithin(b *storage.Batch, timeout time.Duration) error
	CommitJoining(b *storage.Batch, timeout time.Duration) error
	Get(key []byte) ([]byte, error)
	Scan(prefix []byte, fn func(key, val []byte) error) error
	ScanKeysFrom(prefix, from []byte, fn func(key []byte) (bool, error)) error
}

// step is one operation of the comparison, and what it observed.
type step struct {
	name string
	do   func(s backend) string
}

func commitStep(kv ...string) step {
	return step{"commit " + strings.Join(kv, " "), func(s backend) string {
		return fmt.Sprint(s.CommitWithin(batch(kv...), timeout))
	}}
}

func joinStep(kv ...string) step {
	return step{"join " + strings.Join(kv, " "), func(s backend) string {
		return fmt.Sprint(s.CommitJoining(batch(kv...), timeout))
	}}
}

func getStep(key string) step {
	return step{"get " + key, func(s backend) string {
		v, err := s.Get([]byte(key))
		return fmt.Sprintf("%q %v", v, errors.Is(err, storage.ErrNotFound))
	}}
}

func scanStep(prefix string) step {
	return step{"scan " + prefix, func(s backend) string {
		var out []string
		err := s.Scan([]byte(prefix), func(k, v []byte) error { out = append(out, string(k)+"="+string(v)); return nil })
		return fmt.Sprint(out, err)
	}}
}

func keysStep(prefix, from string, limit int) step {
	return step{fmt.Sprintf("keys %s from %q limit %d", prefix, from, limit), func(s backend) string {
		var f []byte
		if from != "" {
			f = []byte(from)
		}
		var out []string
		err := s.ScanKeysFrom([]byte(prefix), f, func(k []byte) (bool, error) {
			out = append(out, string(k))
			return len(out) < limit, nil
		})
		return fmt.Sprint(out, err)
	}}
}

// TestStore_SameAsMemstore runs one sequence of commits and reads on
// internal/memstore and on etcd (with pages of 3 keys, so that scans
// cross pages) and wants every observation the same: the agent sees no
// difference between the backends.
func TestStore_SameAsMemstore(t *testing.T) {
	c := etcdtest.New(t, nil)
	etcd := open(t, c, etcdstore.Config{Endpoints: c.Endpoints(), PageSize: 3})
	mem := memstore.New()
	var many []string
	for i := range 10 {
		many = append(many, fmt.Sprintf("p/%02d", i), fmt.Sprint(i))
	}
	steps := []step{
		getStep("a"),
		commitStep("a", "1", "b", "2"),
		getStep("a"), getStep("b"), getStep("c"),
		commitStep("a", "3", "c", ""), // an overwrite and an empty value
		getStep("a"), getStep("c"),
		commitStep("b", "<del>", "zz", "<del>"), // a delete, and one of a key never set
		getStep("b"), scanStep(""),
		commitStep("d", "x", "d", "<del>"), // set then deleted in one batch
		commitStep("e", "<del>", "e", "y"), // deleted then set in one batch
		getStep("d"), getStep("e"),
		commitStep(many...),
		scanStep("p/"), scanStep("p/0"), scanStep("q"),
		keysStep("p/", "", 100), keysStep("p/", "p/04", 100), keysStep("p/", "p/045", 2),
		keysStep("p/", "p/09", 100), keysStep("p/", "p/99", 100), keysStep("", "", 4),
		joinStep("p/03", "<del>", "p/04", "<del>"),
		keysStep("p/", "p/02", 3),
		commitStep("k\xff", "high", "k\x00", "low"),
		scanStep("k"), getStep("k\xff"),
		scanStep(""),
	}
	for i, st := range steps {
		want, got := st.do(mem), st.do(etcd)
		if got != want {
			t.Errorf("step %d, %s: etcd %s, memstore %s", i, st.name, got, want)
		}
	}
	if st := etcd.Stats(); st.Commits != 8 || st.Entries != 24 {
		t.Errorf("stats %+v, want 8 commits of 24 entries", st)
	}
}

// TestStore_KeyPrefix checks that every key is written under KeyPrefix,
// and that stores of two prefixes on one cluster do not see each other.
func TestStore_KeyPrefix(t *testing.T) {
	c := etcdtest.New(t, nil)
	a := open(t, c, etcdstore.Config{KeyPrefix: "agents/a/"})
	b := open(t, c, etcdstore.Config{KeyPrefix: "agents/b/"})
	if err := a.CommitWithin(batch("k", "from a"), timeout); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get([]byte("k")); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("b sees a's key: %v", err)
	}
	cli := client(t, c)
	resp, err := cli.Get(t.Context(), "", clientv3.WithPrefix())
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Key) != "agents/a/k" {
		t.Fatalf("etcd holds %v (%v), want agents/a/k alone", resp.Kvs, err)
	}
	def := open(t, c, etcdstore.Config{})
	if err := def.CommitWithin(batch("k", "v"), timeout); err != nil {
		t.Fatal(err)
	}
	if resp, err := cli.Get(t.Context(), etcdstore.DefaultKeyPrefix+"k"); err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("the default prefix: %v %v", resp, err)
	}
}

func client(t *testing.T, c *etcdtest.Cluster) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// TestStore_GroupCommit commits from 64 goroutines at once and wants
// fewer transactions than batches: the committer groups what queues while
// a transaction is in flight.
func TestStore_GroupCommit(t *testing.T) {
	c := etcdtest.New(t, nil)
	s := open(t, c, etcdstore.Config{})
	const writers, each = 64, 20
	var wg sync.WaitGroup
	var failed atomic.Int64
	var waited atomic.Int64
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				t0 := time.Now()
				key := fmt.Sprintf("g/%02d/%02d", w, i)
				if err := s.CommitWithin(batch(key, "v", key+"/meta", "m"), timeout); err != nil {
					failed.Add(1)
					t.Error(err)
				}
				waited.Add(int64(time.Since(t0)))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := s.Stats()
	if st.Commits != writers*each || failed.Load() != 0 {
		t.Fatalf("%d commits, %d failed, want %d", st.Commits, failed.Load(), writers*each)
	}
	if st.Groups >= st.Commits {
		t.Fatalf("%d groups for %d commits: nothing was grouped", st.Groups, st.Commits)
	}
	n := 0
	if err := s.ScanKeysFrom([]byte("g/"), nil, func([]byte) (bool, error) { n++; return true, nil }); err != nil || n != 2*writers*each {
		t.Fatalf("scan found %d keys (%v), want %d", n, err, 2*writers*each)
	}
	t.Logf("%d commits in %d groups (%.1f a group) in %v: %.0f commits/s; mean txn %v, mean caller wait %v",
		st.Commits, st.Groups, float64(st.Commits)/float64(st.Groups), elapsed.Round(time.Millisecond),
		float64(st.Commits)/elapsed.Seconds(), (st.Busy / time.Duration(st.Groups)).Round(time.Microsecond),
		(time.Duration(waited.Load()) / time.Duration(st.Commits)).Round(time.Microsecond))

	// One writer alone: each commit is one transaction, one quorum round trip.
	before := s.Stats()
	t0 := time.Now()
	const alone = 50
	for i := range alone {
		if err := s.CommitWithin(batch(fmt.Sprintf("one/%d", i), "v"), timeout); err != nil {
			t.Fatal(err)
		}
	}
	after := s.Stats()
	t.Logf("one writer: %d commits in %d groups, %v a commit", after.Commits-before.Commits, after.Groups-before.Groups,
		(time.Since(t0) / alone).Round(time.Microsecond))
}

// TestStore_TxnLimits checks the transaction's limits: a batch of
// MaxTxnOps+1 mutations, or of more bytes than a request holds, is
// refused whole (nothing of it written); many small batches are split
// across groups, none over MaxTxnOps; a key set in one batch and deleted
// in the next of the same group (which etcd refuses in one transaction)
// commits.
func TestStore_TxnLimits(t *testing.T) {
	c := etcdtest.New(t, nil)
	s := open(t, c, etcdstore.Config{})
	big := &storage.Batch{}
	for i := range etcdstore.DefaultMaxTxnOps + 1 {
		big.Set(fmt.Appendf(nil, "big/%03d", i), []byte("v"))
	}
	if err := s.CommitWithin(big, timeout); !errors.Is(err, storage.ErrBatchTooLarge) {
		t.Fatalf("a batch of MaxTxnOps+1: %v, want ErrBatchTooLarge", err)
	}
	fat := batch("fat", strings.Repeat("x", etcdstore.DefaultMaxRequestBytes))
	if err := s.CommitWithin(fat, timeout); !errors.Is(err, storage.ErrBatchTooLarge) {
		t.Fatalf("a batch of MaxRequestBytes: %v, want ErrBatchTooLarge", err)
	}
	if err := s.ScanKeysFrom(nil, nil, func(k []byte) (bool, error) { return false, fmt.Errorf("found %q", k) }); err != nil {
		t.Fatalf("a refused batch was written: %v", err)
	}
	// The largest batch allowed commits.
	full := &storage.Batch{}
	for i := range etcdstore.DefaultMaxTxnOps {
		full.Set(fmt.Appendf(nil, "full/%03d", i), []byte("v"))
	}
	if err := s.CommitWithin(full, timeout); err != nil {
		t.Fatalf("a batch of MaxTxnOps: %v", err)
	}

	// 600 batches of 3 mutations, all queued at once: at least 15 groups.
	before := s.Stats()
	const batches = 600
	var wg sync.WaitGroup
	for i := range batches {
		wg.Go(func() {
			k := fmt.Sprintf("small/%03d", i)
			if err := s.CommitWithin(batch(k+"/a", "1", k+"/b", "2", k+"/c", "3"), timeout); err != nil {
				t.Error(err)
			}
		})
	}
	// Values of 100 KiB: at most 14 fit a request of 1.5 MiB less the headroom.
	for i := range 40 {
		wg.Go(func() {
			if err := s.CommitWithin(batch(fmt.Sprintf("wide/%02d", i), strings.Repeat("w", 100<<10)), timeout); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	after := s.Stats()
	commits, groups := after.Commits-before.Commits, after.Groups-before.Groups
	// 1840 mutations take at least 15 transactions of 128; the members
	// run etcd's default limits, so a group over either would have failed.
	if commits != batches+40 || groups < (batches*3+40+etcdstore.DefaultMaxTxnOps-1)/etcdstore.DefaultMaxTxnOps {
		t.Fatalf("%d commits in %d groups", commits, groups)
	}
	t.Logf("%d small and wide batches in %d groups", commits, groups)

	// Set, then deleted and set again by batches of one group.
	var wg2 sync.WaitGroup
	for i := range 20 {
		wg2.Go(func() {
			v := "<del>"
			if i%2 == 0 {
				v = fmt.Sprint(i)
			}
			if err := s.CommitJoining(batch("same", v), timeout); err != nil {
				t.Error(err)
			}
		})
	}
	wg2.Wait()
	if err := s.CommitWithin(batch("same", "last"), timeout); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get([]byte("same")); err != nil || string(v) != "last" {
		t.Fatalf("same: %q %v", v, err)
	}
}

// TestStore_Fence conditions every transaction on a key held by a lease,
// as the ownership protocol will (docs/cluster.md): while the lease lives
// commits go through; once it is revoked the next commit fails with
// ErrFenced and nothing of its group is written.
func TestStore_Fence(t *testing.T) {
	c := etcdtest.New(t, nil)
	cli := client(t, c)
	lease, err := cli.Grant(t.Context(), 30)
	if err != nil {
		t.Fatal(err)
	}
	const owner = "owners/shard-0"
	if _, err := cli.Put(t.Context(), owner, "agent-1", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	fence := func() []clientv3.Cmp {
		return []clientv3.Cmp{clientv3.Compare(clientv3.LeaseValue(owner), "=", lease.ID)}
	}
	reg := prometheus.NewRegistry()
	s := open(t, c, etcdstore.Config{Fence: fence, Registerer: reg})
	if err := s.CommitWithin(batch("k1", "v1"), timeout); err != nil {
		t.Fatalf("commit while owning: %v", err)
	}
	if _, err := cli.Revoke(t.Context(), lease.ID); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := s.CommitWithin(batch(fmt.Sprintf("k%d", i+2), "v"), timeout); !errors.Is(err, etcdstore.ErrFenced) {
				t.Errorf("commit %d after the lease was revoked: %v, want ErrFenced", i, err)
			}
		})
	}
	wg.Wait()
	if err := s.CommitJoining(batch("k1", "<del>"), timeout); !errors.Is(err, etcdstore.ErrFenced) {
		t.Fatalf("a joining commit after the lease was revoked: %v, want ErrFenced", err)
	}
	var keys []string
	s.ScanKeysFrom([]byte("k"), nil, func(k []byte) (bool, error) { keys = append(keys, string(k)); return true, nil })
	if !slices.Equal(keys, []string{"k1"}) {
		t.Fatalf("after the fence failed the store holds %v, want [k1]", keys)
	}
	// The round trips are counted by result.
	got := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetValue()
			}
			got[name] = m.GetHistogram().GetSampleCount()
		}
	}
	if got["requestagent_etcd_txn_seconds/committed"] < 1 || got["requestagent_etcd_txn_seconds/fenced"] < 1 ||
		got["requestagent_etcd_read_seconds"] < 1 {
		t.Errorf("round trips counted %v, want committed, fenced and read ones", got)
	}
}

// TestStore_MemberLoss stops one member under a stream of commits — a
// follower, then, on another cluster, the leader — and wants every
// commit acknowledged before, during and after readable from the
// survivors, and commits to go on.
func TestStore_MemberLoss(t *testing.T) {
	for _, which := range []string{"follower", "leader"} {
		t.Run(which, func(t *testing.T) {
			c := etcdtest.New(t, nil)
			s := open(t, c, etcdstore.Config{})
			var (
				mu     sync.Mutex
				acked  []string
				failed int
				stop   = make(chan struct{})
				wg     sync.WaitGroup
			)
			for w := range 8 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						k := fmt.Sprintf("w%d/%05d", w, i)
						err := s.CommitWithin(batch(k, "v"), timeout)
						mu.Lock()
						if err == nil {
							acked = append(acked, k)
						} else {
							failed++
						}
						mu.Unlock()
					}
				})
			}
			count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
			waitFor := func(n int) {
				deadline := time.Now().Add(20 * time.Second)
				for count() < n {
					if time.Now().After(deadline) {
						t.Fatalf("only %d commits acknowledged, want %d", count(), n)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			waitFor(200)
			leader := c.Leader()
			victim := (leader + 1) % 3
			if which == "leader" {
				victim = leader
			}
			atStop := count()
			stopping := time.Now()
			c.Stop(victim) // embed's Close takes about a second
			stopped, during := time.Now(), count()-atStop
			waitFor(count() + 200)
			resumed := time.Since(stopped)
			close(stop)
			wg.Wait()
			st := s.Stats()
			t.Logf("stopped the %s (m%d) after %d commits, in %v (%d acknowledged meanwhile); 200 more within %v after; "+
				"%d acknowledged, %d failed; %d groups", which, victim, atStop, stopped.Sub(stopping).Round(time.Millisecond),
				during, resumed.Round(time.Millisecond), len(acked), failed, st.Groups)

			// Read back from the survivors alone.
			r := open(t, c, etcdstore.Config{Endpoints: c.Endpoints()})
			for _, k := range acked {
				if _, err := r.Get([]byte(k)); err != nil {
					t.Fatalf("acknowledged %s lost: %v", k, err)
				}
			}
		})
	}
}

// TestStore_Close checks that Close is idempotent, that every method
// answers storage.ErrClosed after it, and that a batch queued before it
// commits.
func TestStore_Close(t *testing.T) {
	c := etcdtest.New(t, nil)
	s := open(t, c, etcdstore.Config{})
	joined := make(chan error, 1)
	go func() { joined <- s.CommitJoining(batch("late", "v"), timeout) }()
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-joined; err != nil && !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("a batch queued before Close: %v", err)
	}
	for name, err := range map[string]error{
		"CommitWithin":  s.CommitWithin(batch("k", "v"), timeout),
		"CommitJoining": s.CommitJoining(batch("k", "v"), timeout),
		"Get":           func() error { _, err := s.Get([]byte("k")); return err }(),
		"Scan":          s.Scan(nil, func(k, v []byte) error { return nil }),
		"ScanKeysFrom":  s.ScanKeysFrom(nil, nil, func([]byte) (bool, error) { return true, nil }),
		"Admit":         s.Admit(1),
	} {
		if !errors.Is(err, storage.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestStore_Admit checks the Admit floor: new work is refused once the
// database would grow past QuotaBytes less AdmitReserve, and DiskBytes
// is the database's size.
func TestStore_Admit(t *testing.T) {
	c := etcdtest.New(t, nil)
	s := open(t, c, etcdstore.Config{QuotaBytes: 64 << 20, AdmitReserve: 16 << 20})
	used := s.DiskBytes()
	if used <= 0 {
		t.Fatalf("DiskBytes %d", used)
	}
	if err := s.Admit(1 << 20); err != nil {
		t.Fatalf("Admit 1 MiB of a 48 MiB floor: %v", err)
	}
	if err := s.Admit(48<<20 - int(used) + 1); !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Admit past the floor: %v, want ErrNoSpace", err)
	}
	if st := s.Stats(); st.AdmitRefused != 1 {
		t.Fatalf("AdmitRefused %d", st.AdmitRefused)
	}
}

// TestStore_AdmitCountsWhatWasWritten: writers faster than the size
// measurement. With SizeEvery an hour, no measurement follows Open's, so
// only what the store counts of its own commits can hold the floor.
// Before, Admit compared the floor against the size measured before the
// writes, and let a cluster be filled to its NOSPACE alarm within one
// SizeEvery.
func TestStore_AdmitCountsWhatWasWritten(t *testing.T) {
	c := etcdtest.New(t, nil)
	s := open(t, c, etcdstore.Config{QuotaBytes: 16 << 20, AdmitReserve: 4 << 20, SizeEvery: time.Hour})
	const floor = 12 << 20
	used := s.DiskBytes()
	val := strings.Repeat("x", 512<<10)
	admitted := -1
	for i := range 64 { // 32 MiB, well past the floor
		if err := s.Admit(len(val)); err != nil {
			if !errors.Is(err, storage.ErrNoSpace) {
				t.Fatal(err)
			}
			admitted = i
			break
		}
		if err := s.CommitWithin(batch(fmt.Sprintf("fill/%03d", i), val), timeout); err != nil {
			t.Fatal(err)
		}
	}
	// Up to the floor, and no further: within one value of it.
	room := (floor - int(used)) / len(val)
	if admitted < 0 || admitted > room || admitted < room-1 {
		t.Fatalf("from %d bytes, Admit took %d writes of 512 KiB before refusing (-1: never), want %d or %d below the 12 MiB floor",
			used, admitted, room-1, room)
	}
	if got := s.DiskBytes(); got < used+int64(admitted*len(val)) {
		t.Fatalf("DiskBytes %d after writing %d bytes on %d", got, admitted*len(val), used)
	}
}

// TestStore_NoSpace fills a cluster whose quota is tiny until etcd
// raises its NOSPACE alarm, and wants the commit etcd refuses to fail
// with storage.ErrNoSpace and Admit to refuse after it.
func TestStore_NoSpace(t *testing.T) {
	c := etcdtest.New(t, func(cfg *embed.Config) { cfg.QuotaBackendBytes = 1 << 20 })
	s := open(t, c, etcdstore.Config{QuotaBytes: 1 << 20, AdmitReserve: 1})
	val := strings.Repeat("x", 64<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = s.CommitWithin(batch(fmt.Sprintf("fill/%03d", i), val), timeout)
	}
	if !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("filling a 1 MiB quota: %v, want ErrNoSpace", err)
	}
	if err := s.Admit(1); !errors.Is(err, storage.ErrNoSpace) {
		t.Fatalf("Admit after NOSPACE: %v", err)
	}
	if st := s.Stats(); st.NoSpace == 0 {
		t.Fatalf("NoSpace %d", st.NoSpace)
	}
}

// TestConfig_Validate names the field in error.
func TestConfig_Validate(t *testing.T) {
	for _, tc := range []struct {
		cfg   etcdstore.Config
		field string
	}{
		{etcdstore.Config{}, "Endpoints"},
		{etcdstore.Config{Endpoints: []string{"x"}, MaxTxnOps: -1}, "MaxTxnOps"},
		{etcdstore.Config{Endpoints: []string{"x"}, MaxRequestBytes: 1000}, "MaxRequestBytes"},
		{etcdstore.Config{Endpoints: []string{"x"}, QuotaBytes: 1 << 20, AdmitReserve: 1 << 20}, "AdmitReserve"},
		{etcdstore.Config{Endpoints: []string{"x"}, CommitTimeout: -1}, "CommitTimeout"},
		{etcdstore.Config{Endpoints: []string{"x"}, PageSize: -1}, "PageSize"},
		{etcdstore.Config{Endpoints: []string{"x"}}, ""},
	} {
		err := tc.cfg.Validate()
		var f *configerr.Field
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.field != "" && (!errors.As(err, &f) || f.Name != tc.field || !errors.Is(err, storage.ErrBadConfig)):
			t.Errorf("%+v: %v, want a field error on %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := etcdstore.Open(etcdstore.Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 200 * time.Millisecond}); err == nil {
		t.Fatal("Open with nothing listening succeeded")
	}
}
