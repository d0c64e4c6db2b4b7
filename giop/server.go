package giop

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/requestagent/requestagent/internal/logevery"
	"github.com/requestagent/requestagent/internal/workerpool"
)

// Server accepts GIOP connections and serves their requests with a Handler.
//
// A listen point a client announces in BI_DIR_IIOP stays a property of that
// one connection (Conn.AnnouncedFor): the server keeps no table of
// announced addresses, so announcing an address never redirects calls that
// anyone else makes to it, and the announcement ends with the connection
// (giop/SPEC.md, "Bidirectional GIOP").
type Server struct {
	cfg     *Config
	handler Handler

	shuttingDown atomic.Bool
	wg           sync.WaitGroup // accept loops and connection goroutines
	// workers serve the requests of every connection on reused
	// goroutines, whose stacks have already grown to what handlers need.
	workers *workerpool.Pool[*ServerRequest]

	accepted, protocolErrors, refused atomic.Uint64
	// acceptErrors counts accept errors retried (see Serve).
	acceptErrors atomic.Uint64
	// limits are the budgets every connection of the server shares.
	limits *serverLimits
	// done is closed when the server starts shutting down, to cut short
	// an accept loop's back-off.
	done chan struct{}

	mu        sync.Mutex // guards the fields below
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	// handshaking holds the connections of TLS listen points still in
	// their handshake (tls.go): they count against MaxConnections.
	handshaking map[net.Conn]struct{}
	// tlsFailures counts TLS handshakes that failed or timed out.
	tlsFailures atomic.Uint64

	// refusedLogs space the warn lines of connections refused at a limit,
	// one Limiter for each of the three lines roomFor writes, and
	// handshakeLog those of failed TLS handshakes: a peer can trigger
	// either at will, thousands a second, so each is logged once a second
	// at most with the count since its last line (internal/logevery).
	// Refused and tlsFailures count every one.
	refusedLogs  [3]logevery.Limiter
	handshakeLog logevery.Limiter
}

// NewServer returns a server that serves requests with h. A nil cfg means
// DefaultConfig(); zero fields take their defaults.
func NewServer(cfg *Config, h Handler) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:         cfg,
		handler:     h,
		limits:      newServerLimits(cfg),
		done:        make(chan struct{}),
		workers:     workerpool.New(serveRequest, maxIdleServers),
		listeners:   make(map[net.Listener]struct{}),
		conns:       make(map[*Conn]struct{}),
		handshaking: make(map[net.Conn]struct{}),
	}
}

// maxIdleServers is how many request goroutines a server keeps waiting
// for requests; each keeps its grown stack, a few KiB.
const maxIdleServers = 256

func serveRequest(req *ServerRequest) { req.Conn.serve(req) }

// serverLimits are the bounds a server's connections share
// (giop/SPEC.md "Limits"); dialled connections have none.
type serverLimits struct {
	// bytes is MaxBufferedBytes: memory of incoming messages.
	bytes *budget
	// serving is MaxServerInFlight: requests being served, besides
	// those on a connection's reserved places, which reserved counts.
	serving  *budget
	reserved atomic.Int64
	// busy counts requests refused with TRANSIENT for MaxInFlight or
	// MaxServerInFlight.
	busy atomic.Uint64
	// queued is MaxQueuedBytes: memory of messages queued for writing.
	queued *budget
	// slowReaders counts connections closed for wanting more of queued,
	// or of their own part of it, than was left.
	slowReaders atomic.Uint64
}

func newServerLimits(cfg *Config) *serverLimits {
	return &serverLimits{bytes: newBudget(cfg.MaxBufferedBytes), serving: newBudget(cfg.MaxServerInFlight),
		queued: newBudget(cfg.MaxQueuedBytes)}
}

// Back-off of an accept loop after an error that passes, as net/http's.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// Serve accepts connections on ln until the server shuts down, then
// returns ErrServerClosed.
//
// An accept error that passes — out of file descriptors (EMFILE, ENFILE),
// buffers or memory (ENOBUFS, ENOMEM), a connection that died before it
// was accepted (ECONNABORTED and the network errors accept(2) says to
// retry), EINTR, EAGAIN, a timeout — is retried after a back-off of 5 ms
// doubling to 1 s, and counted in ServerStats.AcceptErrors; a burst of them
// is logged once when it starts and once when accepting works again. Any
// other error is permanent: Serve closes ln and returns that error. So a
// return other than ErrServerClosed always means that ln is closed and no
// connection will be accepted on it again (ServerStats.Listeners counts
// the listeners still served); connections already open are still served.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, nil) }

// serve is Serve, and ServeTLS with the TLS configuration tc.
func (s *Server) serve(ln net.Listener, tc *tls.Config) error {
	s.mu.Lock()
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()

	var (
		backoff time.Duration
		burst   int // accept errors since the last connection accepted
	)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return ErrServerClosed
			}
			if !temporaryAcceptError(err) {
				s.dropListener(ln)
				s.cfg.Logger.Error().Err(err).Str("addr", ln.Addr().String()).
					Msg("giop: accept failed for good; listener closed")
				return err
			}
			s.acceptErrors.Add(1)
			if burst == 0 {
				s.cfg.Logger.Warn().Err(err).Str("addr", ln.Addr().String()).
					Msg("giop: accept failing; retrying with back-off")
			}
			burst++
			backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done: // the next Accept fails on the closed listener
				t.Stop()
			}
			continue
		}
		if burst > 0 {
			s.cfg.Logger.Info().Int("errors", burst).Str("addr", ln.Addr().String()).
				Msg("giop: accepting again")
			burst = 0
		}
		backoff = 0
		if tc != nil {
			s.acceptTLS(nc, tc)
			continue
		}
		s.accept(nc)
	}
}

// retriedAcceptErrnos are the accept errors that pass: resources that
// other connections will give back, and what accept(2) tells servers to
// treat as EAGAIN (a network error pending on the new connection).
var retriedAcceptErrnos = []syscall.Errno{
	syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
	syscall.ECONNABORTED, syscall.EINTR, syscall.EAGAIN,
	syscall.EPROTO, syscall.ENETDOWN, syscall.ENOPROTOOPT, syscall.EHOSTDOWN,
	syscall.EHOSTUNREACH, syscall.EOPNOTSUPP, syscall.ENETUNREACH,
}

// temporaryAcceptError reports whether an accept error may pass.
func temporaryAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range retriedAcceptErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// dropListener closes a listener that failed and forgets it.
func (s *Server) dropListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	ln.Close()
}

func (s *Server) accept(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := newConn(nc, s.cfg, s.handler, true)
	c.workers = s.workers
	c.useLimits(s.limits)
	c.onClose = s.forget
	c.onProtocolError = func() { s.protocolErrors.Add(1) }
	s.accepted.Add(1)
	s.mu.Lock()
	if !s.roomFor(nc, false) {
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.cfg.Logger.Debug().Str("peer", nc.RemoteAddr().String()).Msg("giop: connection accepted")
	c.start()
}

func (s *Server) forget(c *Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// ServerStats are counters for operators.
type ServerStats struct {
	// Accepted counts connections accepted; Open those open now.
	Accepted, Open uint64
	// ProtocolErrors counts connections closed after a MessageError
	// (bad framing, oversized or malformed messages, a limit exceeded).
	ProtocolErrors uint64
	// Refused counts connections closed at once for MaxConnections.
	Refused uint64
	// Listeners is how many listeners Serve is accepting on now: one that
	// failed for good is no longer counted (see Serve).
	Listeners uint64
	// AcceptErrors counts accept errors that were retried after a
	// back-off (see Serve): a count that keeps rising means the process
	// is out of file descriptors or memory.
	AcceptErrors uint64
	// Serving is how many requests are being served now, over all
	// connections (bounded by MaxServerInFlight plus the two places each
	// connection always has).
	Serving uint64
	// Busy counts requests refused with TRANSIENT because MaxInFlight or
	// MaxServerInFlight was reached.
	Busy uint64
	// BufferedBytes is the memory of incoming messages held now (bounded
	// by MaxBufferedBytes); OverBudget counts connections closed because
	// they needed more of it than was left.
	BufferedBytes, OverBudget uint64
	// QueuedBytes is the memory of messages queued for writing now, not
	// yet written to their sockets (bounded by MaxQueuedBytes plus 16 KiB
	// per connection); SlowReaders counts connections closed because
	// their next message would have gone past that bound or their own
	// (giop/SPEC.md "Limits"): peers that do not read their replies.
	QueuedBytes, SlowReaders uint64
	// Handshaking is how many connections of TLS listen points are in
	// their handshake now; TLSHandshakeFailures counts those whose
	// handshake failed or timed out (ServeTLS).
	Handshaking, TLSHandshakeFailures uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	open, listeners, hs := len(s.conns), len(s.listeners), len(s.handshaking)
	s.mu.Unlock()
	l := s.limits
	return ServerStats{Accepted: s.accepted.Load(), Open: uint64(open), ProtocolErrors: s.protocolErrors.Load(),
		Refused: s.refused.Load(), Listeners: uint64(listeners), AcceptErrors: s.acceptErrors.Load(),
		Serving: l.serving.inUse() + uint64(max(l.reserved.Load(), 0)), Busy: l.busy.Load(),
		BufferedBytes: l.bytes.inUse(), OverBudget: l.bytes.refused.Load(),
		QueuedBytes: l.queued.inUse(), SlowReaders: l.slowReaders.Load(),
		Handshaking: uint64(hs), TLSHandshakeFailures: s.tlsFailures.Load()}
}

// Conns returns the connections currently open.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// Shutdown stops accepting, lets requests in progress finish until ctx
// ends, sends CloseConnection on every connection and closes it. It is
// idempotent and waits for every goroutine the server started.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	var wg sync.WaitGroup
	for _, c := range s.Conns() {
		wg.Add(1)
		go func() { defer wg.Done(); c.shutdown(ctx) }()
	}
	wg.Wait()
	s.wg.Wait()
	s.workers.Close()
	return ctx.Err()
}

// Close stops accepting and closes every connection at once. It is
// idempotent and waits for every goroutine the server started.
func (s *Server) Close() error {
	s.stop()
	for _, c := range s.Conns() {
		c.Close()
	}
	s.wg.Wait()
	// Handlers still running saw their contexts cancelled with their
	// connections; this waits for them.
	s.workers.Close()
	return nil
}

func (s *Server) stop() {
	s.mu.Lock()
	if !s.shuttingDown.Load() {
		close(s.done)
	}
	s.shuttingDown.Store(true)
	lns := s.listeners
	s.listeners = make(map[net.Listener]struct{})
	var hs []net.Conn
	for nc := range s.handshaking {
		hs = append(hs, nc)
	}
	s.mu.Unlock()
	for ln := range lns {
		ln.Close()
	}
	// A handshake in progress fails on its closed socket.
	for _, nc := range hs {
		nc.Close()
	}
}

// Addrs returns the addresses the server is listening on.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []net.Addr
	for ln := range s.listeners {
		out = append(out, ln.Addr())
	}
	return out
}

// roomFor reports whether a new connection may be taken, s.mu held;
// handshake says it is about to do its TLS handshake (tls.go). When not — the server
// is shutting down, MaxConnections are open or in their handshake, or a
// TLS one would pass the handshakes' half of them — it unlocks s.mu,
// counts a refusal at a limit, logs it (once a second at most for each
// kind of refusal, with the count since the last line), and closes nc.
func (s *Server) roomFor(nc net.Conn, handshake bool) bool {
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	what, limit, kind := "connection", s.cfg.MaxConnections, 0
	if handshake {
		what, kind = "TLS connection", 1
	}
	why := ""
	switch {
	case len(s.conns)+len(s.handshaking) >= limit:
		why = "too many connections"
	// Handshakes take at most half the places: peers that open TLS
	// connections and never finish them must not lock out everyone else,
	// the plain port's clients too, for the handshake deadline.
	case handshake && len(s.handshaking) >= max(1, limit/2):
		why, limit, kind = "too many handshakes in progress", max(1, limit/2), 2
	default:
		return true
	}
	s.mu.Unlock()
	s.refused.Add(1)
	if n, ok := s.refusedLogs[kind].Note(time.Now()); ok {
		s.cfg.Logger.Warn().Int("limit", limit).Str("peer", nc.RemoteAddr().String()).
			Uint64(logevery.Field, n).Msg("giop: " + what + " refused: " + why)
	}
	nc.Close()
	return false
}
