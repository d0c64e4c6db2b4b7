package giop

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

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

	mu        sync.Mutex // guards the fields below
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
}

// NewServer returns a server that serves requests with h. A nil cfg means
// DefaultConfig(); zero fields take their defaults.
func NewServer(cfg *Config, h Handler) *Server {
	return &Server{
		cfg:       cfg.withDefaults(),
		handler:   h,
		workers:   workerpool.New(serveRequest, maxIdleServers),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*Conn]struct{}),
	}
}

// maxIdleServers is how many request goroutines a server keeps waiting
// for requests; each keeps its grown stack, a few KiB.
const maxIdleServers = 256

func serveRequest(req *ServerRequest) { req.Conn.serve(req) }

// Serve accepts connections on ln until the server shuts down, then
// returns ErrServerClosed. Temporary accept errors back off and retry.
func (s *Server) Serve(ln net.Listener) error {
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

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.cfg.Logger.Warn().Err(err).Dur("retry_in", backoff).Msg("giop: accept failed")
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.accept(nc)
	}
}

func (s *Server) accept(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := newConn(nc, s.cfg, s.handler, true)
	c.workers = s.workers
	c.onClose = s.forget
	c.onProtocolError = func() { s.protocolErrors.Add(1) }
	s.accepted.Add(1)
	s.mu.Lock()
	if s.shuttingDown.Load() {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if len(s.conns) >= s.cfg.MaxConnections {
		s.mu.Unlock()
		s.refused.Add(1)
		s.cfg.Logger.Warn().Int("limit", s.cfg.MaxConnections).Str("peer", nc.RemoteAddr().String()).
			Msg("giop: connection refused: too many connections")
		nc.Close()
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
	// (bad framing, oversized or malformed messages).
	ProtocolErrors uint64
	// Refused counts connections closed at once for MaxConnections.
	Refused uint64
}

// Stats returns the server's counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	open := len(s.conns)
	s.mu.Unlock()
	return ServerStats{Accepted: s.accepted.Load(), Open: uint64(open), ProtocolErrors: s.protocolErrors.Load(),
		Refused: s.refused.Load()}
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
	s.shuttingDown.Store(true)
	lns := s.listeners
	s.listeners = make(map[net.Listener]struct{})
	s.mu.Unlock()
	for ln := range lns {
		ln.Close()
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
