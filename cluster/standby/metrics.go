package standby

import "github.com/prometheus/client_golang/prometheus"

// frontMetrics are the front's Prometheus metrics.
type frontMetrics struct {
	forwarded     prometheus.Counter // calls and LocateRequests forwarded at once
	heldForwarded prometheus.Counter // calls held, then forwarded
	heldOut       prometheus.Counter // calls held past Hold: TRANSIENT
	reissued      prometheus.Counter // calls left for the client to reissue at the handover
	deposed       prometheus.Counter // owners whose lease this standby revoked
}

func newFrontMetrics(f *Front, reg prometheus.Registerer) *frontMetrics {
	calls := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "requestagent_standby_calls_total",
		Help: "Calls and LocateRequests a standby answered, by how: forwarded to the owner at once, held then forwarded to the owner, held past the hold (TRANSIENT), left unanswered as this agent took over (CloseConnection: the client sends them again, to this agent).",
	}, []string{"answer"})
	m := &frontMetrics{forwarded: calls.WithLabelValues("forwarded"), heldForwarded: calls.WithLabelValues("held_forwarded"),
		heldOut: calls.WithLabelValues("held_transient"), reissued: calls.WithLabelValues("reissued")}
	held := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "requestagent_standby_held_calls",
		Help: "Calls a standby holds now, waiting for an agent to own the store.",
	}, func() float64 { return float64(f.held.Load()) })
	m.deposed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "requestagent_standby_deposed_total",
		Help: "Owners whose lease this standby revoked, their address having refused connections for over a second: a takeover without waiting out the lease.",
	})
	if reg != nil {
		reg.MustRegister(calls, held, m.deposed)
	}
	return m
}
