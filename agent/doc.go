// Package agent is the Native Messaging request agent (docs/native-messaging.md):
// the RequestAgent servant at key "RequestAgent", request proxies, typed
// receivers, request objects, pollers, reply holders, and the delegation of
// requests to their targets through a bounded queue.
//
// A call on a typed receiver (or the first call on a request object) is a
// request to delegate. The agent gives it a place in the delegation queue,
// stores it, starts its delegation — at once if it got a thread, else when
// one frees — and answers with a premature return carrying the poller in
// the NMService context: a normal reply with zero values in suppressed mode,
// NO_RESPONSE/REPLY_NOT_AVAILABLE otherwise. The delegation relays the body
// unchanged where GIOP allows and re-encodes it through the target's IDL
// where it does not. A WaitReply call with a thread at once is delegated
// first and stored only if its wait ends without the reply; a reply within
// the wait goes to the caller and nothing of the request is ever stored.
//
// A reply is stored for reading through the poller or pulling through a
// reply holder by the recipient (callbacks, see package recipient), and
// kept until it is read (unless RequestManualTrash keeps it), trashed or
// expired (ReplyRetention) — or dropped at once (ReplyDropping). Two replies
// are not stored: one a pull is already waiting for is handed to it, and
// one the store refuses is kept in memory until read, and lost with a
// restart (its request then COMM_FAILURE/COMPLETED_MAYBE).
//
// Guarantees, and the choices behind them:
//
//   - Acknowledged means durable: a premature return is sent only after the
//     request is committed (group commit in package storage).
//   - A request that may have run is never sent again: one caught in its
//     delegation by a crash becomes COMM_FAILURE/COMPLETED_MAYBE.
//   - Reads are at-least-once: a read request is deleted once its reply is
//     on the socket; a crash between the two lets it be read once more,
//     rather than lose a reply that never arrived.
//   - Object keys carry 128 random bits and name exactly one object.
//   - The agent calls only where it may: never itself, and only inside the
//     operator's target policy, judged at resolved addresses before every
//     dial (docs/deploying.md).
//
// Every move of a request or a proxy is decided by the lifecycle core,
// package agent/lifecycle: a pure function from an event to the next
// state and the effects to carry out. This package is its shell: the
// servants, delegations and callbacks turn what happens into events, step
// the core on the live record and carry out the effects in their order.
//
// Locks: a.mu guards the maps of Agent and the fields of the live request
// and proxy records; a request's move (its step, its new state, its crash
// points up to its Forget) is one critical section of it, taken in
// Agent.moveLive. The table of live requests (poller.Registry) has its own
// lock, taken inside a.mu, never the other way round.
//
// Files:
//
//   - move.go: the shell's half of the lifecycle: moveLive, carry, the
//     writes and deletions of a request's records
//   - agent.go: state, IORs, lookup, trash, retention, shutdown
//   - config.go, errors.go: Config, its defaults and checks; sentinel errors
//   - servant_agent.go, servant_proxy.go: the RequestAgent and RequestProxy
//     servants
//   - receiver.go: accepting, premature and mature replies, request objects
//     and pollers
//   - delegate.go, queue.go: delegation, and its bounded queue
//   - relay.go: bodies across GIOP versions
//   - callback.go, binding.go: callbacks through reply holders; recipients
//     bound to a client's connection
//   - recover.go, records.go, stored.go: recovery at start; the live
//     records and their keys; the records as stored, with their versions
//     (SPEC.md)
//   - store.go: Store, what the agent asks of its store (storage's Badger
//     store by default; Config.Backend another)
//   - keys.go, publicid.go, pollerref.go: object keys; operators' public
//     ids; the NMService context that carries a poller
//   - publish.go, tls.go: the addresses in references; IIOP over TLS and
//     client identity
//   - properties.go, idl.go, idl_repository.go: proxy properties; what the
//     agent needs of target interfaces, and the idl package's repository
//     as that
//   - self.go, policy.go: where the agent may call
//   - limits.go, metrics.go, inspect.go: the bounds; Prometheus metrics;
//     operators' listings and actions
//   - crashpoint.go: the crash points of crash drills
//
// docs/architecture.md follows one request through these files, model by
// model, and draws the request's states (lifecycle.State) with the crash
// points between its effects.
package agent
