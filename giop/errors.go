package giop

import "errors"

// Sentinel errors of the giop package. Errors returned by decoders and
// connections wrap one of these, so callers test them with errors.Is.
var (
	// ErrMarshal means CDR data could not be decoded: a length past the
	// end, a missing terminator, an invalid boolean. On a request it becomes
	// a MARSHAL system exception; in a message header, a MessageError.
	ErrMarshal = errors.New("giop: marshal error")

	// ErrProtocol means a message broke the GIOP framing rules: bad magic,
	// unsupported version, unknown message type, a fragment out of place.
	// The connection answers with MessageError and closes.
	ErrProtocol = errors.New("giop: protocol error")

	// ErrMessageTooLarge means a message (or a reassembled fragment chain)
	// is larger than the configured limit.
	ErrMessageTooLarge = errors.New("giop: message too large")

	// ErrLimit means a per-message, per-connection or per-server limit
	// other than the message size was exceeded (fragment count, service
	// contexts, bytes in reassembly, a server's MaxBufferedBytes).
	ErrLimit = errors.New("giop: limit exceeded")

	// ErrConnClosed means the connection is closed or closing.
	ErrConnClosed = errors.New("giop: connection closed")

	// ErrServerClosed is returned by Server.Serve after Shutdown or Close.
	ErrServerClosed = errors.New("giop: server closed")

	// ErrReissue, returned by a Handler, sends no reply: the request was
	// not run, and the CloseConnection of the server's Shutdown, which
	// must follow, tells the client to send it again on a new connection
	// (§15.5.2). A cluster standby answers so the calls it held while it
	// became the owner, for the agent to serve them on the listener it
	// takes over (cluster/standby).
	ErrReissue = errors.New("giop: not run; reissue after CloseConnection")

	// ErrBadIOR means a stringified or encoded IOR could not be parsed.
	ErrBadIOR = errors.New("giop: bad IOR")

	// ErrBadCorbaloc means a corbaloc URL could not be parsed.
	ErrBadCorbaloc = errors.New("giop: bad corbaloc URL")

	// ErrNoProfile means an object reference has no IIOP profile to call.
	ErrNoProfile = errors.New("giop: no usable IIOP profile")

	// ErrForwardLoop means LOCATION_FORWARD replies went past the hop limit.
	ErrForwardLoop = errors.New("giop: too many LOCATION_FORWARD hops")

	// ErrCallTimeout is the cause of the TIMEOUT a call gets when its
	// Invocation.Timeout passes.
	ErrCallTimeout = errors.New("giop: no reply within the call's timeout")

	// ErrBadConfig means a Config field is out of range; the message names it.
	ErrBadConfig = errors.New("giop: invalid configuration")

	// ErrTLSHandshake is the cause of the TRANSIENT a call gets when the
	// TLS handshake with its target fails: the target's certificate does
	// not verify against the trust store, or the target refuses ours
	// (giop/SPEC.md, "IIOP over TLS").
	ErrTLSHandshake = errors.New("giop: TLS handshake failed")
)
