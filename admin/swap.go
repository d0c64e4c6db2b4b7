package admin

import (
	"net/http"
	"sync/atomic"

	"github.com/requestagent/requestagent/agent"
	"github.com/requestagent/requestagent/recipient"
)

// Swap is an Agent that stands for another, replaced while the admin
// interface serves: a cluster standby's, until it owns the store and its
// agent starts (docs/cluster.md). /readyz is then false, with the
// standby's reason, and /metrics serves the standby's.
type Swap struct {
	cur atomic.Pointer[Agent]
}

// NewSwap stands for a.
func NewSwap(a Agent) *Swap {
	s := &Swap{}
	s.Set(a)
	return s
}

// Set makes a the Agent the admin interface serves.
func (s *Swap) Set(a Agent) { s.cur.Store(&a) }

func (s *Swap) get() Agent { return *s.cur.Load() }

// Ready is the current Agent's.
func (s *Swap) Ready() bool { return s.get().Ready() }

// NotReady is the current Agent's reason, if it gives one.
func (s *Swap) NotReady() string {
	if nr, ok := s.get().(interface{ NotReady() string }); ok {
		return nr.NotReady()
	}
	return "recovering, shutting down, or the GIOP listener stopped"
}

// Healthy is the current Agent's, if it says.
func (s *Swap) Healthy() error {
	if h, ok := s.get().(interface{ Healthy() error }); ok {
		return h.Healthy()
	}
	return nil
}

// MetricsHandler is the current Agent's.
func (s *Swap) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.get().MetricsHandler().ServeHTTP(w, r) })
}

// ListRequests is the current Agent's.
func (s *Swap) ListRequests(f agent.RequestFilter, after string, limit int) (agent.RequestPage, error) {
	return s.get().ListRequests(f, after, limit)
}

// Request is the current Agent's.
func (s *Swap) Request(id string) (agent.RequestDetail, error) { return s.get().Request(id) }

// Trash is the current Agent's.
func (s *Swap) Trash(id string) error { return s.get().Trash(id) }

// ListProxies is the current Agent's.
func (s *Swap) ListProxies(after string, limit int) (agent.ProxyPage, error) {
	return s.get().ListProxies(after, limit)
}

// DestroyProxy is the current Agent's.
func (s *Swap) DestroyProxy(id string) error { return s.get().DestroyProxy(id) }

// RecipientFailures is the current Agent's.
func (s *Swap) RecipientFailures() []recipient.Failure { return s.get().RecipientFailures() }

// RetryCallbacks is the current Agent's.
func (s *Swap) RetryCallbacks(address string) int { return s.get().RetryCallbacks(address) }

// Standby is the Agent of a cluster standby, which serves nothing of its
// own: not ready, with Reason's reason; its Metrics; and ErrStandby for
// everything else.
type Standby struct {
	// Reason says why the standby is not ready (who owns).
	Reason func() string
	// Metrics serves the standby's metrics.
	Metrics http.Handler
}

// Ready is false.
func (s Standby) Ready() bool { return false }

// NotReady is Reason's.
func (s Standby) NotReady() string { return s.Reason() }

// MetricsHandler serves Metrics.
func (s Standby) MetricsHandler() http.Handler { return s.Metrics }

// ListRequests is ErrStandby.
func (s Standby) ListRequests(agent.RequestFilter, string, int) (agent.RequestPage, error) {
	return agent.RequestPage{}, ErrStandby
}

// Request is ErrStandby.
func (s Standby) Request(string) (agent.RequestDetail, error) {
	return agent.RequestDetail{}, ErrStandby
}

// Trash is ErrStandby.
func (s Standby) Trash(string) error { return ErrStandby }

// ListProxies is ErrStandby.
func (s Standby) ListProxies(string, int) (agent.ProxyPage, error) {
	return agent.ProxyPage{}, ErrStandby
}

// DestroyProxy is ErrStandby.
func (s Standby) DestroyProxy(string) error { return ErrStandby }

// RecipientFailures is none.
func (s Standby) RecipientFailures() []recipient.Failure { return nil }

// RetryCallbacks retries none.
func (s Standby) RetryCallbacks(string) int { return 0 }
