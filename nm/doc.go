// Package nm is the Go client library of requestagent, for NM-aware
// clients of a Native Messaging request agent (docs/native-messaging.md):
// two-phase invocations (2PI) on ordinary IDL operations, with the
// operation's own name and arguments — no sendc_ variants.
//
// Dial the agent by corbaloc or IOR with the IDL of the target interfaces,
// then use one of Native Messaging's models:
//
//   - Polling-pulling: Agent.CreateRequestProxy, Proxy.Receiver, and calls
//     on the typed receiver with Object.Invoke. Each returns at once (a
//     premature return) and leaves a poller on the Current; the same
//     operation on the poller returns the target's result (ExampleProxy_polling).
//   - Group polling: tag requests with Current.RequestTag, then Proxy.Poll
//     (or Agent.Poll for a named group) reports the tags whose replies are
//     ready, until ErrPollingGroupIsEmpty (ExampleAgent_groupPolling).
//   - Request objects: Agent.CreateRequest; the first call sends, later
//     calls pull (ExampleAgent_CreateRequest).
//   - Callbacks: HostRecipient hosts a ReplyRecipient; the agent calls it
//     with a reply holder from which the recipient pulls the result inside
//     the callback (ExampleHostRecipient, ExampleOverBiDir).
//   - Evolving into a 2PI: a WaitReply proxy and a Current.WaitTimeout; the
//     call returns the mature result if it comes in time (ExampleCurrent_waitReply).
//
// # Dynamic invocation
//
// Object.Invoke takes an operation name and Go values, and returns a
// Result with the return value and the out and inout parameters as Go
// values; the mapping of IDL types to Go values is the idl package's.
// Load the IDL with WithIDLFiles, WithIDLSource (for go:embed) or
// WithRepository. An object's interface is its IOR's type id unless named
// with Object.WithRepoID.
//
// # Current
//
// Native Messaging's Current is per thread in C++ and Java; here it is an
// explicit *Current passed to each call. Its fields go with calls on typed
// receivers and request objects (request tag, cookie, wait timeout,
// suppress mode) and on pollers and reply holders (wait timeout); after a
// call it reports ReplyNotAvailable, Poller and ReplierName, read from the
// agent's NMService context as Native Messaging prescribes:
//
//   - a normal return with a poller context is premature (reply not
//     available), without one it is the real result;
//   - an exception with a replier-name context is the real result of the
//     delegated request; without one it is a failure between client and
//     agent (reply not available).
//
// Which context a call carries is decided by the TAG_NM_REF component of
// the object's IOR, as the C++ runtime in clients/cpp decides it
// (docs/nm-wire.md).
//
// # Errors
//
// A CORBA system exception comes back as an error that errors.As turns
// into a *giop.SystemException (name, minor code, completion status); a
// user exception as a *UserException with its members decoded through the
// IDL. The sentinels in errors.go match the Native Messaging conditions
// with errors.Is: ErrReplyNotAvailable (an RNA exception, in unsuppressed
// mode), ErrWrongOperation (a poller called with another operation),
// ErrRequestTrashed (a poller whose request is gone), ErrNilTarget,
// ErrPollingGroupIsEmpty, and so on. Misuse that needs no round trip — a
// nil target, an interface whose IDL is not loaded (ErrNoIDL), an unknown
// operation, arguments that do not fit — fails before anything is sent.
// A context.Context that ends fails the call with TIMEOUT, which matches
// ctx.Err() with errors.Is.
//
// # Reply recipients: two ways to be called back
//
// HostRecipient serves a Go function as a NativeMessaging::ReplyRecipient:
//
//   - ListenOn (the default, "127.0.0.1:0"): on a GIOP server in this
//     process. The recipient's IOR names the listening address, and the
//     agent opens a connection to it.
//   - OverBiDir: no listening socket, for a client behind a firewall or
//     NAT. The recipient opens its own connection to the agent and offers
//     bidirectional GIOP on it, announcing a listen point whose address is
//     a random name under .invalid; the agent delivers reply_available
//     over that connection and never dials the name.
//
// Either way the function pulls the result from the reply holder by
// calling the request's operation on it (a nested call into the agent),
// and the holder expires when the function returns.
//
// Files: agent.go (Dial, the RequestAgent operations), proxy.go (Proxy,
// Request), object.go (Object, Invoke, Result), current.go, property.go,
// recipient.go, ref.go (references), errors.go.
package nm
