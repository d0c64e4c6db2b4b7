package admin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/recipient"
)

// DefaultListen is where the admin listener serves unless told otherwise.
const DefaultListen = "127.0.0.1:5556"

// TokenFileName is the token file's name in the agent's data directory,
// where the agent makes one unless told of another.
const TokenFileName = "admin.token"

// Agent is what the admin listener serves: the agent's operator view.
// *agent.Agent implements it.
type Agent interface {
	Ready() bool
	MetricsHandler() http.Handler
	ListRequests(f agent.RequestFilter, after string, limit int) (agent.RequestPage, error)
	Request(id string) (agent.RequestDetail, error)
	Trash(id string) error
	ListProxies(after string, limit int) (agent.ProxyPage, error)
	DestroyProxy(id string) error
	RecipientFailures() []recipient.Failure
	RetryCallbacks(address string) int
}

// Config configures the admin listener.
type Config struct {
	// Listen is the TCP address to serve on; a loopback one unless Public.
	// Default 127.0.0.1:5556.
	Listen string
	// Public lets Listen be any address, so that a Prometheus on another
	// host can scrape /metrics. /metrics, /healthz and /readyz then answer
	// any client, and the Host check (against DNS rebinding in a local
	// browser) is off; /v1 and /debug still need the token.
	Public bool
	// TokenFile holds the bearer token every /v1 and /debug call must
	// present (Authorization: Bearer TOKEN). Start makes the file, with a
	// random token, if it does not exist. Required.
	TokenFile string
	// Pprof serves Go's profiler at /debug/pprof/. Default off.
	Pprof bool
	// MaxConnections bounds the admin connections open at once; more wait
	// in the listen backlog. Zero takes DefaultMaxConnections.
	MaxConnections int
	// Logger receives the listener's events.
	Logger zerolog.Logger
}

// Validate refuses addresses that are not loopback (unless Public), and
// a missing token file name.
func (c *Config) Validate() error {
	addr := c.Listen
	if addr == "" {
		addr = DefaultListen
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("admin: listen %q: %v", addr, err)
	}
	if c.TokenFile == "" {
		return fmt.Errorf("%w: no token file", ErrBadConfig)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("%w: MaxConnections %d is negative", ErrBadConfig, c.MaxConnections)
	}
	if c.Public || host == "localhost" {
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
func Start(cfg Config, a Agent) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	token, err := LoadOrCreateToken(cfg.TokenFile)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(cfg.TokenFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// Whoever reads the file may trash requests and destroy proxies.
		cfg.Logger.Warn().Str("token_file", cfg.TokenFile).Str("mode", fi.Mode().Perm().String()).
			Msg("admin: the token file is readable by others than its owner: chmod 600 it")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", cfg.Listen, err)
	}
	maxConns := cfg.MaxConnections
	if maxConns == 0 {
		maxConns = DefaultMaxConnections
	}
	ln = newLimitListener(ln, maxConns)
	hosts := HostNames(ln.Addr().String())
	if cfg.Public {
		hosts = nil // reachable by any name; the token guards /v1 and /debug
	}
	h := Handler(a, HandlerConfig{Token: token, Pprof: cfg.Pprof, Hosts: hosts})
	s := &Server{ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}}
	go s.srv.Serve(ln)
	ev := cfg.Logger.Info()
	if cfg.Public {
		ev = cfg.Logger.Warn()
	}
	ev.Str("admin", "http://"+ln.Addr().String()).Str("token_file", cfg.TokenFile).Bool("public", cfg.Public).
		Msg("admin: serving /metrics /healthz /readyz, and /v1 with the token")
	return s, nil
}

// Addr returns the address the listener serves on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Shutdown stops the listener, letting requests in progress finish.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// LoadOrCreateToken reads the token in path, or — if there is no such
// file — writes a new random one there, readable by its owner only.
func LoadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return "", fmt.Errorf("%w: %s holds %d characters, fewer than 16", ErrBadToken, path, len(tok))
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return LoadOrCreateToken(path) // made meanwhile
		}
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	if _, err := f.WriteString(tok + "\n"); err != nil {
		f.Close()
		return "", fmt.Errorf("admin: token file: %w", err)
	}
	return tok, f.Close()
}

// HostNames returns the names a request to the listener at addr may give
// in its Host header: the address as it is, and its port under the
// loopback names.
func HostNames(addr string) []string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{addr}
	}
	return []string{addr, net.JoinHostPort("localhost", port), net.JoinHostPort("127.0.0.1", port),
		net.JoinHostPort("::1", port)}
}

// RetryResult is the answer of POST /v1/recipients/retry.
type RetryResult struct {
	// Retried is how many given-up callbacks were queued again.
	Retried int `json:"retried"`
}

// HandlerConfig configures Handler.
type HandlerConfig struct {
	// Token is what /v1 and /debug calls must present as a bearer token.
	Token string
	// Pprof serves /debug/pprof.
	Pprof bool
	// Hosts are the accepted Host headers (HostNames); empty accepts any,
	// for tests without a listener.
	Hosts []string
}

// Handler returns the admin interface of a; tests use it without a
// listener.
//
// Every request's Host must name the listener, and a request from a
// browser page (Origin) must come from it too: a page that a DNS
// rebinding points at 127.0.0.1 gets 403 before anything is read. /v1
// and /debug need the bearer token; nothing changes state on GET.
func Handler(a Agent, cfg HandlerConfig) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if h, ok := a.(interface{ Healthy() error }); ok {
			if err := h.Healthy(); err != nil {
				http.Error(w, "unhealthy: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if !a.Ready() {
			why := "recovering, shutting down, or the GIOP listener stopped"
			if nr, ok := a.(interface{ NotReady() string }); ok {
				why = nr.NotReady()
			}
			http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", a.MetricsHandler())

	// Listings run one at a time: each takes CPU and memory in
	// proportion to its page, and the agent's clients come first. A
	// listing waits for the one before it, or for its client to leave.
	listing := make(chan struct{}, 1)
	oneAtATime := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			select {
			case listing <- struct{}{}:
				defer func() { <-listing }()
				h(w, r)
			case <-r.Context().Done():
			}
		}
	}

	api := http.NewServeMux()
	api.HandleFunc("GET /v1/proxies", oneAtATime(func(w http.ResponseWriter, r *http.Request) {
		limit, err := limitParam(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		page, err := a.ListProxies(r.URL.Query().Get("after"), limit)
		reply(w, page, err)
	}))
	api.HandleFunc("DELETE /v1/proxies/{id}", func(w http.ResponseWriter, r *http.Request) {
		done(w, a.DestroyProxy(r.PathValue("id")))
	})
	api.HandleFunc("GET /v1/requests", oneAtATime(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		f := agent.RequestFilter{State: q.Get("state"), Proxy: q.Get("proxy"), Group: q.Get("group")}
		if s := q.Get("older_than"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, fmt.Errorf("older_than: %v", err))
				return
			}
			f.OlderThan = d
		}
		limit, err := limitParam(r)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		page, err := a.ListRequests(f, q.Get("after"), limit)
		reply(w, page, err)
	}))
	api.HandleFunc("GET /v1/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, err := a.Request(r.PathValue("id"))
		reply(w, d, err)
	})
	api.HandleFunc("DELETE /v1/requests/{id}", func(w http.ResponseWriter, r *http.Request) {
		done(w, a.Trash(r.PathValue("id")))
	})
	api.HandleFunc("GET /v1/recipients/failing", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, a.RecipientFailures())
	})
	api.HandleFunc("POST /v1/recipients/retry", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, RetryResult{Retried: a.RetryCallbacks(r.URL.Query().Get("recipient"))})
	})
	if cfg.Pprof {
		api.HandleFunc("/debug/pprof/", pprof.Index)
		api.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		api.HandleFunc("/debug/pprof/profile", pprof.Profile)
		api.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		api.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	authorized := withToken(cfg.Token, api)
	mux.Handle("/v1/", authorized)
	mux.Handle("/debug/", authorized)
	return withHostCheck(cfg.Hosts, mux)
}

// withToken lets through only requests with the bearer token.
func withToken(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The scheme is case-insensitive (RFC 7235 §2.1); the token is not.
		scheme, got, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if token == "" || !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="requestagent"`)
			writeError(w, http.StatusUnauthorized, errors.New("admin: this needs the admin token (Authorization: Bearer, from the agent's token file)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// withHostCheck refuses requests whose Host, or Origin when a browser
// sends one, is not one of the listener's own names.
func withHostCheck(hosts []string, next http.Handler) http.Handler {
	if len(hosts) == 0 {
		return next
	}
	ok := func(h string) bool {
		for _, x := range hosts {
			if strings.EqualFold(h, x) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ok(r.Host) {
			writeError(w, http.StatusForbidden, fmt.Errorf("admin: Host %q is not this listener", r.Host))
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !ok(u.Host) {
				writeError(w, http.StatusForbidden, fmt.Errorf("admin: Origin %q is not this listener", o))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitParam reads a listing's limit: absent is the default page; a
// count from 1 to agent.MaxPageSize is taken; anything else is an error
// rather than a silent default.
func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > agent.MaxPageSize {
		return 0, fmt.Errorf("%w: limit %q: want a count from 1 to %d", agent.ErrBadArgument, v, agent.MaxPageSize)
	}
	return n, nil
}

func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, v)
}

func done(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func statusOf(err error) int {
	if errors.Is(err, agent.ErrUnknown) {
		return http.StatusNotFound
	}
	if errors.Is(err, agent.ErrBadArgument) {
		return http.StatusBadRequest
	}
	if errors.Is(err, ErrStandby) {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
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

func writeError(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(apiError{Error: err.Error()})
}
