package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/giop"
)

// DefaultPort is where the agent listens unless told otherwise (PRODUCT.md §7).
const DefaultPort = 5555

// AgentKey is the object key of the RequestAgent, so that
// corbaloc:iiop:1.2@HOST:5555/RequestAgent reaches it.
const AgentKey = "RequestAgent"

// Config configures a Service.
type Config struct {
	// Listen is the TCP address to listen on. Default ":5555".
	Listen string
	// Host is the host name or address advertised in IORs. Default: the
	// listening address's host, or "localhost" when it listens on all
	// interfaces.
	Host string
	// GIOP holds the connection limits. Default giop.DefaultConfig().
	GIOP *giop.Config
	// Logger receives the service's events. Default: discard.
	Logger zerolog.Logger
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if c.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Listen); err != nil {
			return fmt.Errorf("%w: listen=%q: %v", ErrBadConfig, c.Listen, err)
		} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("%w: listen=%q: bad port", ErrBadConfig, c.Listen)
		}
	}
	if c.GIOP != nil {
		if err := c.GIOP.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Service owns the agent's GIOP endpoint: its listener, server and object
// adapter.
type Service struct {
	cfg     Config
	log     zerolog.Logger
	adapter *giop.Adapter
	server  *giop.Server
	ln      net.Listener
	host    string
	port    int

	wg       sync.WaitGroup
	serveErr error
}

// Start validates cfg, listens and starts serving.
func Start(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = ":" + strconv.Itoa(DefaultPort)
	}
	gcfg := cfg.GIOP
	if gcfg == nil {
		gcfg = giop.DefaultConfig()
	}
	gcfg.Logger = cfg.Logger
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s: %w", cfg.Listen, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := cfg.Host
	if host == "" {
		host = addr.IP.String()
		if addr.IP.IsUnspecified() {
			host = "localhost"
		}
	}
	s := &Service{cfg: cfg, log: cfg.Logger, adapter: giop.NewAdapter(), ln: ln, host: host, port: addr.Port}
	s.server = giop.NewServer(gcfg, s.adapter)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.server.Serve(ln); !errors.Is(err, giop.ErrServerClosed) {
			s.serveErr = err
			s.log.Error().Err(err).Msg("agent: GIOP server stopped")
		}
	}()
	s.log.Info().Str("listen", ln.Addr().String()).Str("corbaloc", s.Corbaloc()).Msg("agent: serving")
	return s, nil
}

// Port returns the port the service listens on.
func (s *Service) Port() int { return s.port }

// Corbaloc returns the agent's corbaloc URL.
func (s *Service) Corbaloc() string {
	return (&giop.Corbaloc{Addresses: []giop.CorbalocAddress{{Version: giop.V1_2, Host: s.host, Port: uint16(s.port)}},
		Key: []byte(AgentKey)}).String()
}

// Adapter returns the object adapter the service dispatches with.
func (s *Service) Adapter() *giop.Adapter { return s.adapter }

// Shutdown stops accepting, lets requests in progress finish until ctx
// ends, closes connections with CloseConnection, and waits. Idempotent.
func (s *Service) Shutdown(ctx context.Context) error {
	err := s.server.Shutdown(ctx)
	s.wg.Wait()
	return err
}
