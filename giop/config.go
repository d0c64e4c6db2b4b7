package giop

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/internal/configerr"
)

// Config holds the limits and timeouts of GIOP connections, for servers and
// clients alike. The zero value of a field means its default; start from
// DefaultConfig and call Validate after changing fields.
type Config struct {
	// MaxMessageSize is the largest message body accepted, after fragment
	// reassembly, in bytes. Larger messages are answered with MessageError
	// and the connection closes. Default 2 MiB, like omniORB's
	// giopMaxMsgSize (SPEC.md); at least 8 KiB.
	MaxMessageSize int

	// MaxFragments is the most Fragment messages one message may have, so a
	// flood of empty fragments ends. Default 1024.
	MaxFragments int

	// MaxPendingFragmented is how many GIOP 1.2 messages may be in mid-
	// reassembly on one connection at once. Default 8.
	MaxPendingFragmented int

	// MaxReassemblyBytes bounds the bytes of all messages in mid-
	// reassembly on one connection (GIOP 1.1 and 1.2 together, headers
	// included); beyond it the peer gets MessageError and the connection
	// closes. Default (zero, also in DefaultConfig, so that it follows
	// MaxMessageSize) 4 × MaxMessageSize: 8 MiB. At least MaxMessageSize.
	MaxReassemblyBytes int

	// MaxBufferedBytes bounds, for a server, the memory of incoming
	// messages over all its connections at once: bodies being read,
	// messages being reassembled and requests being served, until their
	// handler returns. A connection whose next read needs more gets
	// MessageError and closes; the others are not touched. Not used by a
	// Client. Default (zero, also in DefaultConfig) 256 MiB — 128 messages
	// of the default largest size — or 4 × MaxMessageSize if that is more.
	// At least MaxMessageSize.
	MaxBufferedBytes int

	// MaxQueuedBytes bounds, for a server, the memory of messages queued
	// for writing over all its connections at once: replies its handlers
	// have finished that the writer has not yet written to the socket.
	// Each connection may also hold 16 KiB of its own beyond it, and, once
	// its writer has been stuck in one write for a sixth of WriteTimeout
	// (at most 5 s), no more than 4 × (MaxMessageSize + 12). A connection
	// whose next message would go past MaxQueuedBytes, or past its own
	// bound while stuck, is closed, as a peer that does not read its
	// replies (ServerStats.SlowReaders); the others are not touched. Not used by a Client. Default (zero, also in DefaultConfig)
	// 256 MiB, or 4 × MaxMessageSize if that is more. At least
	// MaxMessageSize.
	MaxQueuedBytes int

	// MessageTimeout bounds the time between a message's header and the
	// last byte of its body, against peers that send half a message and
	// stall. Default 30s.
	MessageTimeout time.Duration

	// FragmentTimeout bounds the time from the first to the last fragment of
	// a message. Default 60s.
	FragmentTimeout time.Duration

	// WriteTimeout bounds one write to the socket; a peer that does not
	// read is disconnected after it. Default 30s.
	WriteTimeout time.Duration

	// MaxInFlight is the most requests from the peer being served at once on
	// one connection. Beyond it requests get TRANSIENT (completed NO), and
	// the reader keeps reading so that replies to nested calls still flow.
	// Default 1024.
	MaxInFlight int

	// MaxServerInFlight is the most requests a server serves at once over
	// all its connections (a blocked call holds a goroutine, about 6 KiB).
	// Beyond it requests get TRANSIENT (completed NO), as for MaxInFlight.
	// Not used by a Client. Default 16384: one blocked call for each of
	// MaxConnections clients and room besides, at about 100 MiB.
	MaxServerInFlight int

	// MaxConnections is the most inbound connections a server keeps open,
	// those still in their TLS handshake included; beyond it new ones are
	// closed at once. Default 10000 (an idle one
	// costs about 15 KiB: two goroutines and a 4 KiB read buffer).
	MaxConnections int

	// MaxForwardHops is the most LOCATION_FORWARD replies a client call
	// follows. Default 8.
	MaxForwardHops int

	// DialTimeout bounds connecting to a server when the caller's context
	// has no earlier deadline. Default 10s.
	DialTimeout time.Duration

	// MaxOutbound is the most connections a Client keeps open to servers
	// (one per server address); a call that needs another gets TRANSIENT,
	// completed NO, once no idle one can be closed to make room. Default
	// 1024.
	MaxOutbound int

	// IdleTimeout is how long a Client's connection may carry no call
	// before it is closed. Default 2 minutes (omniORB's outgoing scan is
	// 120 s). A Client that offers bidirectional GIOP keeps its
	// connections.
	IdleTimeout time.Duration

	// AcceptBiDir lets a server use an inbound GIOP 1.2 connection for calls
	// to the listen points its client announced in BI_DIR_IIOP (§15.8).
	// Default true (DefaultConfig); the zero Config has it false.
	AcceptBiDir bool

	// TLSHandshakeTimeout bounds a TLS handshake, inbound (ServeTLS) and
	// outbound: a peer that opens TCP and never completes one is closed
	// after it. Default 10s.
	TLSHandshakeTimeout time.Duration

	// ShutdownGrace is how long a server's graceful shutdown waits for
	// requests in progress before closing connections. Default 10s.
	ShutdownGrace time.Duration

	// Logger receives connection events. Default: discard.
	Logger zerolog.Logger
}

// Defaults used by DefaultConfig and for zero fields.
const (
	DefaultMaxMessageSize       = 2 << 20
	DefaultMaxFragments         = 1024
	DefaultMaxPendingFragmented = 8
	DefaultMessageTimeout       = 30 * time.Second
	DefaultFragmentTimeout      = 60 * time.Second
	DefaultWriteTimeout         = 30 * time.Second
	DefaultMaxInFlight          = 1024
	DefaultMaxServerInFlight    = 16384
	DefaultMaxForwardHops       = 8
	DefaultMaxConnections       = 10000
	DefaultDialTimeout          = 10 * time.Second
	DefaultMaxOutbound          = 1024
	DefaultIdleTimeout          = 2 * time.Minute
	DefaultShutdownGrace        = 10 * time.Second
	DefaultTLSHandshakeTimeout  = 10 * time.Second
	minMaxMessageSize           = 8 << 10
)

// Defaults of the byte budgets, which follow MaxMessageSize: a zero field
// means the default, also in DefaultConfig.
const (
	// DefaultMaxReassemblyBytes is MaxReassemblyBytes with the default
	// MaxMessageSize; with another it is 4 × MaxMessageSize.
	DefaultMaxReassemblyBytes = 4 * DefaultMaxMessageSize
	// DefaultMaxBufferedBytes is MaxBufferedBytes unless 4 ×
	// MaxMessageSize is more.
	DefaultMaxBufferedBytes = 256 << 20
	// DefaultMaxQueuedBytes is MaxQueuedBytes unless 4 × MaxMessageSize
	// is more.
	DefaultMaxQueuedBytes = 256 << 20
)

// DefaultConfig returns a Config with every field at its default (the
// budgets that follow MaxMessageSize are left zero, which means theirs).
func DefaultConfig() *Config {
	return &Config{
		MaxMessageSize:       DefaultMaxMessageSize,
		MaxFragments:         DefaultMaxFragments,
		MaxPendingFragmented: DefaultMaxPendingFragmented,
		MessageTimeout:       DefaultMessageTimeout,
		FragmentTimeout:      DefaultFragmentTimeout,
		WriteTimeout:         DefaultWriteTimeout,
		MaxInFlight:          DefaultMaxInFlight,
		MaxServerInFlight:    DefaultMaxServerInFlight,
		MaxForwardHops:       DefaultMaxForwardHops,
		MaxConnections:       DefaultMaxConnections,
		DialTimeout:          DefaultDialTimeout,
		MaxOutbound:          DefaultMaxOutbound,
		IdleTimeout:          DefaultIdleTimeout,
		AcceptBiDir:          true,
		ShutdownGrace:        DefaultShutdownGrace,
		TLSHandshakeTimeout:  DefaultTLSHandshakeTimeout,
		Logger:               zerolog.Nop(),
	}
}

// WithDefaults returns a copy of c (or of the defaults when c is nil)
// with zero fields set to their defaults: the bounds a Server or Client
// made from c applies, for whoever sizes something by them.
func (c *Config) WithDefaults() *Config { return c.withDefaults() }

// withDefaults returns a copy of c (or of the defaults when c is nil) with
// zero fields set to their defaults.
func (c *Config) withDefaults() *Config {
	d := DefaultConfig()
	if c == nil {
		c = d
	}
	out := *c
	setInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	setInt(&out.MaxMessageSize, d.MaxMessageSize)
	setInt(&out.MaxFragments, d.MaxFragments)
	setInt(&out.MaxPendingFragmented, d.MaxPendingFragmented)
	setInt(&out.MaxReassemblyBytes, 4*out.MaxMessageSize)
	setInt(&out.MaxBufferedBytes, max(DefaultMaxBufferedBytes, 4*out.MaxMessageSize))
	setInt(&out.MaxQueuedBytes, max(DefaultMaxQueuedBytes, 4*out.MaxMessageSize))
	setDur(&out.MessageTimeout, d.MessageTimeout)
	setDur(&out.FragmentTimeout, d.FragmentTimeout)
	setDur(&out.WriteTimeout, d.WriteTimeout)
	setInt(&out.MaxInFlight, d.MaxInFlight)
	setInt(&out.MaxServerInFlight, d.MaxServerInFlight)
	setInt(&out.MaxForwardHops, d.MaxForwardHops)
	setInt(&out.MaxConnections, d.MaxConnections)
	setDur(&out.DialTimeout, d.DialTimeout)
	setInt(&out.MaxOutbound, d.MaxOutbound)
	setDur(&out.IdleTimeout, d.IdleTimeout)
	setDur(&out.ShutdownGrace, d.ShutdownGrace)
	setDur(&out.TLSHandshakeTimeout, d.TLSHandshakeTimeout)
	return &out
}

// Validate reports the first field that is out of range. Errors wrap
// ErrBadConfig and name the field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error { return configerr.New(ErrBadConfig, field, v, why) }
	msgSize := c.MaxMessageSize
	if msgSize == 0 {
		msgSize = DefaultMaxMessageSize
	}
	switch {
	case c.MaxMessageSize != 0 && c.MaxMessageSize < minMaxMessageSize:
		return bad("MaxMessageSize", c.MaxMessageSize, "must be at least 8 KiB")
	case c.MaxMessageSize > 1<<30:
		return bad("MaxMessageSize", c.MaxMessageSize, "must be at most 1 GiB")
	case c.MaxFragments < 0:
		return bad("MaxFragments", c.MaxFragments, "must not be negative")
	case c.MaxPendingFragmented < 0:
		return bad("MaxPendingFragmented", c.MaxPendingFragmented, "must not be negative")
	case c.MaxReassemblyBytes != 0 && c.MaxReassemblyBytes < msgSize:
		return bad("MaxReassemblyBytes", c.MaxReassemblyBytes, "must be at least MaxMessageSize")
	case c.MaxBufferedBytes != 0 && c.MaxBufferedBytes < msgSize:
		return bad("MaxBufferedBytes", c.MaxBufferedBytes, "must be at least MaxMessageSize")
	case c.MaxQueuedBytes != 0 && c.MaxQueuedBytes < msgSize:
		return bad("MaxQueuedBytes", c.MaxQueuedBytes, "must be at least MaxMessageSize")
	case c.MessageTimeout < 0:
		return bad("MessageTimeout", c.MessageTimeout, "must not be negative")
	case c.FragmentTimeout < 0:
		return bad("FragmentTimeout", c.FragmentTimeout, "must not be negative")
	case c.WriteTimeout < 0:
		return bad("WriteTimeout", c.WriteTimeout, "must not be negative")
	case c.MaxInFlight < 0:
		return bad("MaxInFlight", c.MaxInFlight, "must not be negative")
	case c.MaxServerInFlight < 0:
		return bad("MaxServerInFlight", c.MaxServerInFlight, "must not be negative")
	case c.MaxConnections < 0:
		return bad("MaxConnections", c.MaxConnections, "must not be negative")
	case c.MaxForwardHops < 0:
		return bad("MaxForwardHops", c.MaxForwardHops, "must not be negative")
	case c.DialTimeout < 0:
		return bad("DialTimeout", c.DialTimeout, "must not be negative")
	case c.MaxOutbound < 0:
		return bad("MaxOutbound", c.MaxOutbound, "must not be negative")
	case c.IdleTimeout < 0:
		return bad("IdleTimeout", c.IdleTimeout, "must not be negative")
	case c.ShutdownGrace < 0:
		return bad("ShutdownGrace", c.ShutdownGrace, "must not be negative")
	}
	return nil
}
