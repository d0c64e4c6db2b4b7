package etcdstore

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are the store's etcd round trips, for Config.Registerer.
type storeMetrics struct {
	// txn is each transaction attempt's round trip, by its result:
	// committed, fenced (a compare failed), unknown (sent again: no
	// leader, a member gone, the attempt's deadline), failed.
	txn *prometheus.HistogramVec
	// reads is each read's round trip (a Get, a page of a scan).
	reads prometheus.Histogram
}

// roundTripBuckets span a loopback commit (about a millisecond) to an
// election (seconds).
var roundTripBuckets = []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}

func newStoreMetrics(reg prometheus.Registerer) *storeMetrics {
	m := &storeMetrics{
		txn: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "requestagent_etcd_txn_seconds",
			Help:    "Round trip of each etcd transaction attempt (one group commit), by result: committed, fenced (this agent no longer owns the store), unknown (sent again), failed.",
			Buckets: roundTripBuckets,
		}, []string{"result"}),
		reads: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "requestagent_etcd_read_seconds",
			Help:    "Round trip of each etcd read: a Get, a page of a scan.",
			Buckets: roundTripBuckets,
		}),
	}
	if reg != nil {
		reg.MustRegister(m.txn, m.reads)
	}
	return m
}

func (m *storeMetrics) attempt(result string, since time.Time) {
	m.txn.WithLabelValues(result).Observe(time.Since(since).Seconds())
}

func (m *storeMetrics) read(since time.Time) { m.reads.Observe(time.Since(since).Seconds()) }
