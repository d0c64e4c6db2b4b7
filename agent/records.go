package agent

import (
	"encoding/binary"
	"time"

	"github.com/requestagent/requestagent/agent/lifecycle"
	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/poller"
)

// The store's schema, field by field in SPEC.md. This file has its keys
// and the live records, the structs the agent works with; stored.go has
// the records as they are written, each kind with its own version.
//
//	p/<proxy id>               proxyRecord
//	q/<created><request id>    requestRecord: everything but the body
//	                           (small, so a restart rebuilds indexes
//	                           without reading bodies)
//	b/<created><request id>    the request body, as received
//	y/<created><request id>    replyRecord: the reply status and body, as
//	                           received
//
// <created> is the request's creation time, Unix nanoseconds as 8 octets
// big-endian. It puts a new request's entries next to the newest ones in
// Badger's memtable skiplist: an insert then walks nodes that are still in
// the CPU cache, where a random id alone costs a cache miss at nearly every
// level. The skiplist's CPU fell by 60% with it, a durable 2PI's by 10%
// (BENCHMARKS.md, fourth pass). The ids stay random: they are what clients
// hold, and the store's keys are never shown. Stores written before keys
// carried the time (prefix and id only) are still read: a recovered
// request remembers the form of its keys (requestRecord.legacyKeys).
//
// A trashed request's q/, b/ and y/ go in one batch.

var (
	prefixProxy   = []byte("p/")
	prefixRequest = []byte("q/")
	prefixBody    = []byte("b/")
	prefixReply   = []byte("y/")
)

// Lengths of a request's keys, and of the keys of stores written before
// they carried the creation time.
const (
	requestKeyLen       = 2 + 8 + len(poller.ID{})
	legacyRequestKeyLen = 2 + len(poller.ID{})
)

// proxyKey is a proxy record's key.
func proxyKey(id poller.ID) []byte {
	return append(append(make([]byte, 0, len(prefixProxy)+len(id)), prefixProxy...), id[:]...)
}

// key returns one of the request's keys: prefix is prefixRequest,
// prefixBody or prefixReply.
func (r *requestRecord) key(prefix []byte) []byte {
	return r.appendKey(make([]byte, 0, requestKeyLen), prefix)
}

func (r *requestRecord) appendKey(buf, prefix []byte) []byte {
	buf = append(buf, prefix...)
	if !r.legacyKeys {
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.created))
	}
	return append(buf, r.id[:]...)
}

// keys returns the request's three keys — its record, body and reply — in
// one allocation, for the batches that name two or three of them.
func (r *requestRecord) keys() (request, body, reply []byte) {
	buf := make([]byte, 0, 3*requestKeyLen)
	buf = r.appendKey(buf, prefixRequest)
	q := len(buf)
	buf = r.appendKey(buf, prefixBody)
	b := len(buf)
	buf = r.appendKey(buf, prefixReply)
	return buf[:q:q], buf[q:b:b], buf[b:len(buf):len(buf)]
}

// proxyRecord is a live proxy: what its record stores (storedProxy,
// stored.go) and what memory alone keeps.
type proxyRecord struct {
	id poller.ID
	// group is proxyGroup(id), made once: every request of the proxy
	// names it (memory only).
	group string
	// receiver is the proxy's typed receiver servant, made on its first
	// call and reused for every later one (memory only; a.mu guards it).
	receiver *receiverServant
	// pollerCtx is the template of its pollers' references (memory
	// only, made on first use; a.mu guards it). See pollerContext.
	pollerCtx *ctxTemplate
	// receiverID is the random part of the typed receiver's key, apart
	// from the proxy's own id so that holding the receiver does not give
	// the proxy. Proxies stored before it existed have their own id here.
	receiverID    poller.ID
	target        *giop.IOR
	repoID        string
	recipient     *giop.IOR
	props         Properties
	toBeDestroyed bool
	created       time.Time
	// bound: the recipient is called back over the connection that
	// handed it over, never dialled (binding.go).
	bound bool
	// binding is that connection's binding (memory only; a.mu guards it).
	binding *binding
	// identity is the TLS identity of the client that created the proxy
	// ("" over plain IIOP or without a client certificate; tls.go).
	identity string
	// lane is targetLane(target), made once (memory only).
	lane string
}

// requestRecord is a request's metadata, live: what its record stores
// (storedRequest, stored.go) and what memory alone keeps; the body is
// stored apart. One
// is kept in memory per live request, so it is kept small (RELIABILITY.md:
// a million pending requests): times as Unix nanoseconds, tag and cookie
// as strings, nothing that only a call in progress needs.
type requestRecord struct {
	id      poller.ID
	proxyID poller.ID // zero for requests made by create_request
	group   string
	tag     string
	cookie  string
	// target, repoID, recipient and props are the request's own for
	// create_request, copies of the proxy's otherwise.
	target    *giop.IOR
	repoID    string
	recipient *giop.IOR
	props     Properties
	// bound: the recipient is called back over the connection that handed
	// it over, never dialled (binding.go). (It sits in the padding after
	// props: a million records stay in their allocation size class.)
	bound     bool
	operation string
	oneway    bool
	suppress  bool
	state     lifecycle.State
	// How the body was encoded: GIOP version, byte order, and its offset
	// modulo 8 in the message it came in.
	version   giop.Version
	little    bool
	bodyAlign int8
	// legacyKeys: the request was stored before keys carried the
	// creation time, and its keys are prefix and id only. (Here it takes
	// the padding before created: a million records stay in their
	// allocation size class.)
	legacyKeys bool
	created    int64 // Unix nanoseconds; also in the store's keys

	// repliedAt is when the reply was stored (or recovered), in Unix
	// nanoseconds, for ReplyRetention; memory only.
	repliedAt int64
	// identity is the TLS identity of the client that made the request
	// (tls.go); "" over plain IIOP.
	identity string
}

// state is where the live proxy is in its life (lifecycle.ProxyState):
// its record keeps it as toBeDestroyed.
func (p *proxyRecord) state() lifecycle.ProxyState {
	if p.toBeDestroyed {
		return lifecycle.ProxyDying
	}
	return lifecycle.ProxyLive
}

// life is what the lifecycle core knows of the request, for a step
// (lifecycle.Step); the shell keeps the state the step returns.
func (r *requestRecord) life() lifecycle.Request {
	return lifecycle.Request{State: r.state, Oneway: r.oneway, Object: r.proxyID == (poller.ID{}),
		Recipient: !r.recipient.IsNil(), ManualTrash: r.props.ManualTrash, Created: r.created, RepliedAt: r.repliedAt}
}

// replyRecord is a reply, live: what the target answered, or the system
// exception the agent made the result (target unreachable, connection
// lost), as stored (storedReply, stored.go), and its relayed form.
type replyRecord struct {
	status    giop.ReplyStatus
	version   giop.Version
	little    bool
	bodyAlign int8
	body      []byte
	// raw is the reply as relayReply returns it, kept here so that
	// relaying costs no allocation; a replyRecord goes to one caller.
	raw giop.RawReply
}

// systemExceptionReply makes the stored reply for a failure the agent
// reports as the request's result.
func systemExceptionReply(x *giop.SystemException) *replyRecord {
	e := giop.NewEncoder(giop.V1_2, true)
	e.WriteSystemException(x)
	return &replyRecord{status: giop.ReplySystemException, version: giop.V1_2, little: true, body: e.Bytes()}
}
