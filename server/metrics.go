package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/grpc/codes"

	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
)

// Metrics are hlgate's Prometheus metrics. Label sets are bounded: methods,
// codes, products and statuses, never location or contact ids.
type Metrics struct {
	Registry *prometheus.Registry

	rpcs          *prometheus.CounterVec
	rpcLatency    *prometheus.HistogramVec
	upstreamCalls *prometheus.CounterVec
	upstreamLat   *prometheus.HistogramVec
	quotaWait     prometheus.Histogram
	unmapped      *prometheus.CounterVec

	// The series of every call, found once per label set and kept:
	// WithLabelValues checks, hashes and looks up its labels under a lock
	// on each use, and each RPC used it four times. The label sets stay
	// bounded, so the caches do too.
	rpcSeries      sync.Map // rpcLabels → prometheus.Counter
	latencySeries  sync.Map // method → prometheus.Observer
	upstreamSeries sync.Map // upstreamLabels → *upstreamSeries
}

type rpcLabels struct {
	method string
	code   codes.Code
}

type upstreamLabels struct {
	product upstream.Product
	status  int
}

type upstreamSeries struct {
	calls   prometheus.Counter
	latency prometheus.Observer
}

// kept is the series of labels in cache, found by find the first time.
func kept[K comparable, V any](cache *sync.Map, labels K, find func() V) V {
	if v, ok := cache.Load(labels); ok {
		return v.(V)
	}
	v, _ := cache.LoadOrStore(labels, find())
	return v.(V)
}

// observeRPC counts an RPC and its latency.
func (m *Metrics) observeRPC(method string, code codes.Code, d time.Duration) {
	kept(&m.rpcSeries, rpcLabels{method, code}, func() prometheus.Counter {
		return m.rpcs.WithLabelValues(method, code.String())
	}).Inc()
	kept(&m.latencySeries, method, func() prometheus.Observer {
		return m.rpcLatency.WithLabelValues(method)
	}).Observe(d.Seconds())
}

// NewMetrics registers hlgate's metrics (and the Go and process collectors)
// on a new registry.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		rpcs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_rpcs_total",
			Help: "RPCs handled, by full method and gRPC code (REST calls are counted here too: the gateway calls the same RPCs).",
		}, []string{"method", "code"}),
		rpcLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hlgate_rpc_duration_seconds",
			Help:    "RPC latency, by full method.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"method"}),
		upstreamCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_upstream_requests_total",
			Help: "Requests sent to HighLevel, by product and HTTP status (0 = no response).",
		}, []string{"product", "status"}),
		upstreamLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hlgate_upstream_request_duration_seconds",
			Help:    "Latency of requests sent to HighLevel, by product.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"product"}),
		quotaWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hlgate_quota_wait_seconds",
			Help:    "Time RPCs waited for quota slots before their upstream requests.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		unmapped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_upstream_unmapped_keys_total",
			Help: "Keys of HighLevel's answers that decoded into no field of their own, by operation and kind (undeclared: no field; mismatch: a value of another type; coerced: converted without loss) and whether they were kept (in the resource's unmapped field) or lost. Each one is a declaration the overlay or the proto still lacks.",
		}, []string{"operation", "kind", "kept"}),
	}
	reg.MustRegister(m.rpcs, m.rpcLatency, m.upstreamCalls, m.upstreamLat, m.quotaWait, m.unmapped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// OnUpstreamResponse is the upstream chain's OnResponse hook.
func (m *Metrics) OnUpstreamResponse(p upstream.Product, status int, d time.Duration) {
	series := kept(&m.upstreamSeries, upstreamLabels{p, status}, func() *upstreamSeries {
		return &upstreamSeries{
			calls:   m.upstreamCalls.WithLabelValues(string(p), strconv.Itoa(status)),
			latency: m.upstreamLat.WithLabelValues(string(p)),
		}
	})
	series.calls.Inc()
	series.latency.Observe(d.Seconds())
}

// TokenMetrics exports the token manager's events; it implements
// tokenstore.Metrics.
type TokenMetrics struct {
	refreshes     *prometheus.CounterVec
	persistFailed prometheus.Counter
	unpersisted   prometheus.Gauge
	dropped       *prometheus.CounterVec
	needsReauth   prometheus.Counter
}

// Tokens registers and returns the token metrics.
func (m *Metrics) Tokens() *TokenMetrics {
	t := &TokenMetrics{
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_token_refreshes_total",
			Help: "Token refresh attempts by outcome: refreshed, adopted (another replica had refreshed), invalid_grant (the subject was marked needs_reauth), error, wait_timeout.",
		}, []string{"outcome"}),
		persistFailed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_token_persist_failures_total",
			Help: "Failed writes of a refreshed token pair to the shared store (the pair is kept in memory and the write retried).",
		}),
		unpersisted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlgate_token_unpersisted_subjects",
			Help: "Subjects whose newest token pair exists only in this replica's memory, waiting for the store.",
		}),
		needsReauth: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_token_needs_reauth_total",
			Help: "Subjects marked needs_reauth because HighLevel refused their refresh token; each must install the app again.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_token_pairs_dropped_total",
			Help: "Refreshed pairs given up, by reason; any of these means a subject needs re-authorization.",
		}, []string{"reason"}),
	}
	m.Registry.MustRegister(t.refreshes, t.persistFailed, t.unpersisted, t.dropped, t.needsReauth)
	return t
}

// RefreshOutcome counts one refresh attempt.
func (t *TokenMetrics) RefreshOutcome(outcome string) {
	t.refreshes.WithLabelValues(outcome).Inc()
	if outcome == tokenstore.OutcomeInvalidGrant {
		t.needsReauth.Inc()
	}
}

// PersistFailed counts a failed write of a refreshed pair.
func (t *TokenMetrics) PersistFailed() { t.persistFailed.Inc() }

// Unpersisted reports the subjects waiting for their pair to be stored.
func (t *TokenMetrics) Unpersisted(n int) { t.unpersisted.Set(float64(n)) }

// PairDropped counts a refreshed pair given up.
func (t *TokenMetrics) PairDropped(reason string) { t.dropped.WithLabelValues(reason).Inc() }

var _ tokenstore.Metrics = (*TokenMetrics)(nil)
