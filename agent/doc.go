// Package agent is the Native Messaging request agent (docs/native-messaging.md):
// the RequestAgent servant at key "RequestAgent", request proxies, typed
// receivers, request objects, pollers, reply holders, and the delegation of
// requests to their targets through a bounded queue.
//
// A call on a typed receiver (or the first call on a request object) is a
// request to delegate. The agent stores it, answers with a premature return
// carrying the poller in the NMService context — a normal reply with zero
// values in suppressed mode, NO_RESPONSE/REPLY_NOT_AVAILABLE otherwise — and
// delegates it, relaying the body unchanged where GIOP allows and re-encoding
// it through the target's IDL where it does not. The reply is stored until it
// is read through the poller, pulled through a reply holder by the recipient
// (callbacks, see package recipient), or dropped (ReplyDropping).
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
// Files: agent.go (state, IORs, lookup, trash, shutdown), servant_agent.go,
// servant_proxy.go, receiver.go (accepting, premature and mature replies,
// request objects and pollers), delegate.go, queue.go, callback.go,
// recover.go, records.go (the store's keys and the live records; SPEC.md),
// stored.go (the records as stored, each kind with its version, and their
// codec), properties.go, idl.go, self.go and policy.go (where the agent may
// call). docs/architecture.md
// follows one request through these files, model by model, and draws the
// request's states (records.go) with the crash points between them.
package agent
