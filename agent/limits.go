package agent

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
	"github.com/requestagent/requestagent/poller"
	"github.com/requestagent/requestagent/storage"
)

// The bounds on what a client can make the agent hold (docs/limits.md):
// the size of each field a request carries, the memory of all live
// requests, the store's size, and the calls blocked waiting. Running
// into one answers IMP_LIMIT, completed NO, before anything is stored,
// and never drops what was acknowledged.

// Defaults of the limits in Config.
const (
	// DefaultMaxReferenceBytes bounds a target's or recipient's reference:
	// a reference with one IIOP profile and a few components is a few
	// hundred bytes; an ORB that lists many addresses, some kilobytes.
	DefaultMaxReferenceBytes = 8 << 10
	// DefaultMaxCookieBytes and DefaultMaxTagBytes bound a request's
	// cookie and tag, which stay in memory while the request lives.
	DefaultMaxCookieBytes = 4 << 10
	DefaultMaxTagBytes    = 256
	// DefaultMaxIndexBytes bounds the memory live requests take in all:
	// about 400 bytes each plus their tags, cookies and (for requests
	// made by create_request) their own references — a million typical
	// requests fit in half of it.
	DefaultMaxIndexBytes = 1 << 30
	// DefaultMaxStoreBytes bounds the store's size on disk.
	DefaultMaxStoreBytes = 8 << 30
	// DefaultMaxWaiting bounds the calls blocked waiting at once, in all
	// (polls with a timeout, pulls with a wait_timeout): each holds a
	// goroutine and its request, about 10 KiB.
	DefaultMaxWaiting = 4096
)

// requestBaseBytes is what a live request holds besides its variable
// fields: its record, its registry entry and its map slots.
const requestBaseBytes = 400

// queuedBytes is what a request waiting in the delegation queue holds
// besides its live record: the delegation prepared for it (a copy of the
// record, its ticket) and its place in its lane. Measured with a heap
// profile of 20,000 queued requests.
const queuedBytes = 600

// footprint is what a live request counts against MaxIndexBytes. It
// depends only on fields that do not change, so that adding and removing
// a request count the same.
func footprint(rec *requestRecord) int64 {
	n := requestBaseBytes + len(rec.tag) + len(rec.cookie)
	if rec.proxyID == (poller.ID{}) {
		// Its own group name, interface and references (a proxy's
		// requests share the proxy's).
		n += len(rec.group) + len(rec.repoID) + rec.target.Size() + rec.recipient.Size()
	}
	return int64(n)
}

// index counts the memory live requests take.
type index struct{ bytes atomic.Int64 }

func (a *Agent) track(rec *requestRecord)   { a.index.bytes.Add(footprint(rec)) }
func (a *Agent) untrack(rec *requestRecord) { a.index.bytes.Add(-footprint(rec)) }

// addLive makes a new request live in its group under its tag, if the
// memory budget has room: IMP_LIMIT/TOO_MANY_REQUESTS, or BAD_INV_ORDER/
// DUPLICATED_REQUEST_TAG (the caller turns that into the user exception
// where the IDL says so), and nothing added, when not.
func (a *Agent) addLive(rec *requestRecord) error {
	if fp, held := footprint(rec), a.liveBytes(); held+fp > a.cfg.maxIndex() {
		a.metrics.outcome(outcomeTooMany)
		a.log.Warn().Int64("index_bytes", held).Int64("limit", a.cfg.maxIndex()).
			Msg("agent: request refused: the live requests fill the memory budget (MaxIndexBytes)")
		return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.TooManyRequests, giop.CompletedNo,
			fmt.Errorf("the live requests hold %d bytes of the %d allowed", held, a.cfg.maxIndex()))
	}
	if err := a.groups.Add(rec.group, rec.id, rec.tag); err != nil {
		return errDuplicateTag
	}
	a.track(rec)
	return nil
}

// liveBytes is the memory the live requests hold, as MaxIndexBytes
// counts it: their records, and for those waiting in the delegation
// queue what the wait holds.
func (a *Agent) liveBytes() int64 {
	_, waiting := a.queue.depth()
	return a.index.bytes.Load() + int64(waiting)*queuedBytes
}

// dropLive undoes addLive for a request refused before it was stored.
func (a *Agent) dropLive(rec *requestRecord) {
	if a.groups.Remove(rec.id) {
		a.untrack(rec)
	}
}

// errDuplicateTag is addLive's duplicate tag.
var errDuplicateTag = giop.NewSystemException(giop.ExcBadInvOrder, nmproto.DuplicatedRequestTag, giop.CompletedNo)

// tooLarge is the refusal of a field over its limit.
func tooLarge(what string, n, limit int, setting string) error {
	return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.FieldTooLarge, giop.CompletedNo,
		fmt.Errorf("the %s takes %d bytes, over the limit of %d (%s)", what, n, limit, setting))
}

// checkFields applies the size limits to a new proxy's or request's
// references, cookie and tag.
func (a *Agent) checkFields(target, recipient *giop.IOR, cookie, tag string) error {
	lim := a.cfg.limits()
	switch {
	case target.Size() > lim.reference:
		return tooLarge("target reference", target.Size(), lim.reference, "MaxReferenceBytes")
	case recipient.Size() > lim.reference:
		return tooLarge("recipient reference", recipient.Size(), lim.reference, "MaxReferenceBytes")
	case len(cookie) > lim.cookie:
		return tooLarge("cookie", len(cookie), lim.cookie, "MaxCookieBytes")
	case len(tag) > lim.tag:
		return tooLarge("request tag", len(tag), lim.tag, "MaxTagBytes")
	}
	return nil
}

// admitStore refuses new work the store has no room for: over
// MaxStoreBytes, or (storage.Store.Admit) when the data directory's
// filesystem is down to its reserve. Reads, pulls and trash go on.
func (a *Agent) admitStore(n int) error {
	if limit := a.cfg.maxStore(); limit > 0 {
		if used := a.store.DiskBytes(); used >= limit {
			a.metrics.outcome(outcomeStoreFull)
			a.log.Warn().Int64("store_bytes", used).Int64("limit", limit).Msg("agent: new work refused: the store is at MaxStoreBytes")
			return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.StoreFull, giop.CompletedNo,
				fmt.Errorf("the store uses %d bytes of the %d allowed", used, limit))
		}
	}
	return a.admitSpace(n)
}

// waiting counts the calls blocked waiting (polls and pulls).
type waiting struct{ n atomic.Int64 }

// startWaiting takes a place among the calls allowed to block, or
// refuses with IMP_LIMIT/TOO_MANY_WAITING; done gives it back.
func (a *Agent) startWaiting() (done func(), err error) {
	limit := int64(a.cfg.maxWaiting())
	if a.waiting.n.Add(1) > limit {
		a.waiting.n.Add(-1)
		a.metrics.outcome(outcomeTooManyWaiting)
		return nil, giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.TooManyWaiting, giop.CompletedNo,
			fmt.Errorf("%d calls are waiting already (MaxWaiting)", limit))
	}
	return a.stopWaiting, nil
}

func (a *Agent) stopWaiting() { a.waiting.n.Add(-1) }

// admitSpace refuses new work when the store is down to its reserve (the
// data directory's filesystem's storage.Config.DiskReserve, or etcd's
// quota less etcdstore.Config.AdmitReserve): what is
// already accepted keeps the room between the reserve and the floor for
// its replies, state changes and trash.
func (a *Agent) admitSpace(n int) error {
	err := a.store.Admit(n)
	if err == nil {
		return nil
	}
	a.metrics.outcome(outcomeStoreFull)
	if now, last := time.Now().UnixNano(), a.spaceWarned.Load(); errors.Is(err, storage.ErrNoSpace) &&
		now-last > int64(time.Minute) && a.spaceWarned.CompareAndSwap(last, now) {
		// Once a minute at most: a full disk refuses every request. The
		// error says which store and what to do: the data directory's
		// filesystem (--store-reserve), or etcd's quota in cluster mode.
		a.log.Warn().Err(err).Msg("agent: new work refused until the store has room")
	}
	return giop.NewSystemExceptionCause(giop.ExcImpLimit, nmproto.StoreFull, giop.CompletedNo, err)
}

// logLimits says at start which bounds are in force (0: none).
func (a *Agent) logLimits() {
	q, lim := a.queue, a.cfg.limits()
	a.log.Info().Int("max_threads", q.maxThreads).Int("max_queue_size", q.maxQueue).
		Int("max_threads_per_target", q.perThreads).Int("max_queue_per_target", q.perQueue).
		Dur("blocking_timeout", q.blocking).Dur("delegation_timeout", a.cfg.DelegationTimeout).
		Int64("max_store_bytes", a.cfg.maxStore()).Int64("max_index_bytes", a.cfg.maxIndex()).
		Int("max_waiting", a.cfg.maxWaiting()).Int("max_reference_bytes", lim.reference).
		Int("max_cookie_bytes", lim.cookie).Int("max_tag_bytes", lim.tag).
		Int("max_connections", orDefault(a.cfg.GIOP.MaxConnections, giop.DefaultMaxConnections)).
		Int("max_message_size", orDefault(a.cfg.GIOP.MaxMessageSize, giop.DefaultMaxMessageSize)).
		Bool("durable", a.cfg.Store.Durable && a.cfg.Store.Dir != "").
		Msg("agent: limits (0 is none)")
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}
