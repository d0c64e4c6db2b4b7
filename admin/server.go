package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/agent"
)

// DefaultListen is where the admin listener serves unless told otherwise.
const DefaultListen = "127.0.0.1:5556"

// ErrNotLoopback means the admin listener was asked to listen beyond loopback.
var ErrNotLoopback = errors.New("admin: the admin listener must be on a loopback address")

// Config configures the admin listener.
type Config struct {
	// Listen is a loopback TCP address. Default 127.0.0.1:5556.
	Listen string
	// Pprof serves Go's profiler at /debug/pprof/. Default off.
	Pprof bool
	// Logger receives the listener's events.
	Logger zerolog.Logger
}

// Validate refuses addresses that are not loopback.
func (c *Config) Validate() error {
	addr := c.Listen
	if addr == "" {
		addr = DefaultListen
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin: listen %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// Server is a running admin listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
}

// Start listens and serves the agent's admin interface.
func Start(cfg Config, a *agent.Agent) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Listen, err)
	}
	s := &Server{ln: ln, srv: &http.Server{Handler: Handler(a, cfg.Pprof), ReadHeaderTimeout: 10 * time.Second}}
	go s.srv.Serve(ln)
	cfg.Logger.Info().Str("admin", "http://"+ln.Addr().String()).Msg("admin: serving /metrics /healthz /readyz /v1")
	return s, nil
}

// Addr returns the address the listener serves on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the listener, letting requests in progress finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Handler returns the admin interface of a; tests use it without a listener.
func Handler(a *agent.Agent, withPprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.Ready() {
			http.Error(w, "not ready: recovering or shutting down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", a.MetricsHandler())
	mux.HandleFunc("GET /v1/proxies", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, a.Proxies()) })
	mux.HandleFunc("GET /v1/requests", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, a.Requests()) })
	mux.HandleFunc("GET /v1/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Request(r.PathValue("id"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, d)
	})
	mux.HandleFunc("DELETE /v1/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		if err := a.Trash(r.PathValue("id")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/recipients/failing", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.RecipientFailures())
	})
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// apiError is the body of an error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	if errors.Is(err, agent.ErrUnknown) {
		code = http.StatusNotFound
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{Error: err.Error()})
}
