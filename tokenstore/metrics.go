package tokenstore

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Refresh outcomes reported to Metrics.RefreshOutcome. The set is fixed so it
// can be a bounded Prometheus label.
const (
	OutcomeRefreshed    = "refreshed"     // this replica spent the refresh token and got a new pair
	OutcomeAdopted      = "adopted"       // another replica had refreshed; the stored pair was used
	OutcomeInvalidGrant = "invalid_grant" // upstream rejected the stored refresh token; subject marked needs_reauth
	OutcomeError        = "error"         // the grant call or the store failed; nothing was spent
	OutcomeWaitTimeout  = "wait_timeout"  // another replica held the lock longer than the wait patience
)

// Loss reasons reported to Metrics.PairDropped.
const (
	DropSuperseded = "superseded" // a newer record (a new install or import) replaced the one refreshed
	DropShutdown   = "shutdown"   // the process stopped before the new pair could be written
)

// Metrics receives the manager's events; the server wires it to Prometheus
// (hlgate_token_*). Implementations must be safe for concurrent use.
type Metrics interface {
	// RefreshOutcome counts one refresh attempt by outcome (Outcome*).
	RefreshOutcome(outcome string)
	// PersistFailed counts failed writes of a refreshed pair; the pair is kept
	// in memory, served, and the write retried.
	PersistFailed()
	// Unpersisted reports how many subjects currently hold a refreshed pair
	// that exists only in this process's memory.
	Unpersisted(n int)
	// PairDropped counts refreshed pairs given up (Drop*). DropShutdown means
	// a refresh token was lost: that subject will need re-authorization.
	PairDropped(reason string)
}

type noMetrics struct{}

func (noMetrics) RefreshOutcome(string) {}
func (noMetrics) PersistFailed()        {}
func (noMetrics) Unpersisted(int)       {}
func (noMetrics) PairDropped(string)    {}

// Counters is a Metrics that only counts, for tests and for callers that
// read the numbers themselves.
type Counters struct {
	Refreshed, Adopted, InvalidGrant, Errors, WaitTimeouts atomic.Int64
	PersistFailures                                        atomic.Int64
	UnpersistedNow                                         atomic.Int64
	Superseded, ShutdownLost                               atomic.Int64
}

var _ Metrics = (*Counters)(nil)

// RefreshOutcome implements Metrics.
func (c *Counters) RefreshOutcome(outcome string) {
	switch outcome {
	case OutcomeRefreshed:
		c.Refreshed.Add(1)
	case OutcomeAdopted:
		c.Adopted.Add(1)
	case OutcomeInvalidGrant:
		c.InvalidGrant.Add(1)
	case OutcomeError:
		c.Errors.Add(1)
	case OutcomeWaitTimeout:
		c.WaitTimeouts.Add(1)
	}
}

// PersistFailed implements Metrics.
func (c *Counters) PersistFailed() { c.PersistFailures.Add(1) }

// Unpersisted implements Metrics.
func (c *Counters) Unpersisted(n int) { c.UnpersistedNow.Store(int64(n)) }

// PairDropped implements Metrics.
func (c *Counters) PairDropped(reason string) {
	switch reason {
	case DropSuperseded:
		c.Superseded.Add(1)
	case DropShutdown:
		c.ShutdownLost.Add(1)
	}
}

// PrometheusMetrics is a Metrics that exports hlgate_token_* series.
type PrometheusMetrics struct {
	refresh     *prometheus.CounterVec
	persistFail prometheus.Counter
	unpersisted prometheus.Gauge
	dropped     *prometheus.CounterVec
}

var _ Metrics = (*PrometheusMetrics)(nil)

// NewPrometheusMetrics registers the token metrics with reg:
//
//	hlgate_token_refresh_total{outcome}          refresh attempts by outcome
//	hlgate_token_persist_failures_total          failed writes of a refreshed pair (kept and retried)
//	hlgate_token_unpersisted_pairs               refreshed pairs held only in this process's memory
//	hlgate_token_pairs_dropped_total{reason}     pairs given up; reason="shutdown" is a lost refresh token
//
// Alert on hlgate_token_unpersisted_pairs > 0 for more than a minute and on
// any increase of hlgate_token_pairs_dropped_total{reason="shutdown"}.
func NewPrometheusMetrics(reg prometheus.Registerer) (*PrometheusMetrics, error) {
	p := &PrometheusMetrics{
		refresh: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_token_refresh_total", Help: "Token refresh attempts by outcome.",
		}, []string{"outcome"}),
		persistFail: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_token_persist_failures_total", Help: "Failed writes of a refreshed token pair; the pair is kept in memory and the write retried.",
		}),
		unpersisted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlgate_token_unpersisted_pairs", Help: "Refreshed token pairs that exist only in this process's memory.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_token_pairs_dropped_total", Help: "Refreshed token pairs given up, by reason; shutdown means a refresh token was lost.",
		}, []string{"reason"}),
	}
	for _, c := range []prometheus.Collector{p.refresh, p.persistFail, p.unpersisted, p.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register token metrics: %w", err)
		}
	}
	for _, o := range []string{OutcomeRefreshed, OutcomeAdopted, OutcomeInvalidGrant, OutcomeError, OutcomeWaitTimeout} {
		p.refresh.WithLabelValues(o)
	}
	for _, r := range []string{DropSuperseded, DropShutdown} {
		p.dropped.WithLabelValues(r)
	}
	return p, nil
}

// RefreshOutcome implements Metrics.
func (p *PrometheusMetrics) RefreshOutcome(outcome string) { p.refresh.WithLabelValues(outcome).Inc() }

// PersistFailed implements Metrics.
func (p *PrometheusMetrics) PersistFailed() { p.persistFail.Inc() }

// Unpersisted implements Metrics.
func (p *PrometheusMetrics) Unpersisted(n int) { p.unpersisted.Set(float64(n)) }

// PairDropped implements Metrics.
func (p *PrometheusMetrics) PairDropped(reason string) { p.dropped.WithLabelValues(reason).Inc() }
