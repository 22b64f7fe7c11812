package webhooks

import "github.com/prometheus/client_golang/prometheus"

// Metrics count what the receiver does with each request. Labels are
// bounded: reasons are a fixed set, never ids or event types.
type Metrics struct {
	received       prometheus.Counter
	rejected       *prometheus.CounterVec
	duplicates     prometheus.Counter
	stored         prometheus.Counter
	storeFailures  prometheus.Counter
	tokenDeletions *prometheus.CounterVec
}

// NewMetrics creates the receiver's metrics and registers them on reg (nil:
// not registered, for tests that read them directly).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_webhooks_received_total",
			Help: "Requests to POST /webhooks/highlevel, whatever became of them.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_webhooks_rejected_total",
			Help: "Webhook requests refused and not stored, by reason (signature, size, body, replay window, other app). HighLevel does not resend these.",
		}, []string{"reason"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_webhooks_duplicates_total",
			Help: "Verified webhooks whose webhookId was already stored; answered 2xx, not stored again.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_webhooks_stored_total",
			Help: "Verified webhooks stored in the event stream.",
		}),
		storeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlgate_webhooks_store_failures_total",
			Help: "Verified webhooks that could not be stored (answered 429 so HighLevel resends them).",
		}),
		tokenDeletions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_webhooks_uninstall_token_deletions_total",
			Help: "Token deletions for UNINSTALL events, by result (ok, error; an error is answered 429 so HighLevel resends the event).",
		}, []string{"result"}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.tokenDeletions.WithLabelValues("ok")
	m.tokenDeletions.WithLabelValues("error")
	if reg != nil {
		reg.MustRegister(m.received, m.rejected, m.duplicates, m.stored, m.storeFailures, m.tokenDeletions)
	}
	return m
}
