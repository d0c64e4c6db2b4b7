package etcdstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/requestagent/requestagent/storage"
)

// sizeCache is the last measurement of the cluster's database: the
// largest member's size (etcd's quota is per member, and one member at
// its quota raises the alarm for all) and whether the NOSPACE alarm is
// raised. Admit reads it and never waits for the network: a stale
// measurement starts a new one in the background.
type sizeCache struct {
	bytes atomic.Int64
	// written is what groups committed (or may have: a commit whose
	// outcome is unknown) since the measurement in bytes began: without
	// it, writers faster than SizeEvery pass the floor between two
	// measurements and drive etcd into its alarm.
	written   atomic.Int64
	alarm     atomic.Bool
	at        atomic.Int64 // unix nanoseconds of the measurement
	measuring atomic.Bool  // a background measurement is running
}

// alarmed notes a commit refused for the quota: Admit refuses at once,
// until a measurement finds the alarm disarmed.
func (c *sizeCache) alarmed() { c.alarm.Store(true) }

// measure asks every member for its database size, at once, and the
// cluster for its alarms, within timeout. A member that does not answer
// is left out; it is an error only if none does.
func (s *Store) measure(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// What is written from here on may or may not be in the sizes the
	// members answer: it stays counted, which errs on the safe side.
	written := s.size.written.Load()
	var (
		mu      sync.Mutex
		largest int64
		answers int
		lastErr error
		wg      sync.WaitGroup
	)
	for _, ep := range s.cfg.Endpoints {
		wg.Go(func() {
			st, err := s.cli.Status(ctx, ep)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
				return
			}
			answers++
			largest = max(largest, st.DbSize)
		})
	}
	wg.Wait()
	if answers == 0 {
		return fmt.Errorf("no member answered: %w", lastErr)
	}
	alarms, err := s.cli.AlarmList(ctx)
	if err != nil {
		return err
	}
	alarm := false
	for _, a := range alarms.Alarms {
		alarm = alarm || a.Alarm == pb.AlarmType_NOSPACE
	}
	s.size.bytes.Store(largest)
	s.size.written.Add(-written)
	s.size.alarm.Store(alarm)
	s.size.at.Store(time.Now().UnixNano())
	return nil
}

// current returns the cached size, with what was written since it was
// measured, and the alarm, first starting a new measurement in the
// background if the cached one is older than SizeEvery.
func (s *Store) current() (bytes int64, alarm bool) {
	c := &s.size
	if time.Now().UnixNano()-c.at.Load() > int64(s.cfg.SizeEvery) && c.measuring.CompareAndSwap(false, true) {
		s.closeMu.RLock()
		if !s.closed {
			s.wg.Go(func() {
				defer c.measuring.Store(false)
				if err := s.measure(s.cfg.ReadTimeout); err != nil {
					s.log.Warn().Err(err).Msg("etcdstore: cannot measure the database size: Admit uses the last measurement")
				}
			})
		} else {
			c.measuring.Store(false)
		}
		s.closeMu.RUnlock()
	}
	return c.bytes.Load() + c.written.Load(), c.alarm.Load()
}

// wrote counts n bytes a group committed, or may have, towards the
// size until the next measurement.
func (c *sizeCache) wrote(n int) { c.written.Add(int64(n)) }

// Admit is nil when the cluster takes new work that will write about n
// bytes: the NOSPACE alarm is not raised, and the largest member's
// database stays below QuotaBytes less AdmitReserve (the Admit floor).
// Otherwise storage.ErrNoSpace. The size is measured at most every
// SizeEvery; what the store committed since counts as grown by as much.
func (s *Store) Admit(n int) error {
	if s.isClosed() {
		return storage.ErrClosed
	}
	size, alarm := s.current()
	floor := s.cfg.QuotaBytes - s.cfg.AdmitReserve
	switch {
	case alarm:
		s.admitRefused.Add(1)
		return fmt.Errorf("%w: etcd's NOSPACE alarm is raised (--quota-backend-bytes %d): compact and defragment it, "+
			"then disarm the alarm", storage.ErrNoSpace, s.cfg.QuotaBytes)
	case size+int64(n) > floor:
		s.admitRefused.Add(1)
		return fmt.Errorf("%w: etcd's database takes %d bytes, and new work stops at %d (QuotaBytes %d less AdmitReserve %d): "+
			"compact and defragment etcd, or raise its quota", storage.ErrNoSpace, size, floor, s.cfg.QuotaBytes, s.cfg.AdmitReserve)
	}
	return nil
}

// DiskBytes is the largest member's database size, as last measured:
// what the agent's MaxStoreBytes is held against.
func (s *Store) DiskBytes() int64 {
	size, _ := s.current()
	return size
}
