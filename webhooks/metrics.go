package webhooks

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the receiver does with each request. Labels are
// bounded: reasons are a fixed set, never ids or event types.
type Metrics struct {
	received       prometheus.Counter
	rejected       *prometheus.CounterVec
	duplicates     prometheus.Counter
	stored         prometheus.Counter
	storeFailures  prometheus.Counter
	tokenDeletions *prometheus.CounterVec
	installs       *prometheus.CounterVec
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
		installs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hlgate_webhooks_installs_total",
			Help: "INSTALL events recorded, by result: ok; pending (its token is not stored yet: answered 2xx, the install worker retries); error (answered 429 so HighLevel resends it); retry and gave_up (the install worker's later attempts).",
		}, []string{"result"}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.tokenDeletions.WithLabelValues("ok")
	m.tokenDeletions.WithLabelValues("error")
	for _, r := range []string{installOK, installPending, installError, installRetry, installGaveUp} {
		m.installs.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.received, m.rejected, m.duplicates, m.stored, m.storeFailures, m.tokenDeletions, m.installs)
	}
	return m
}

// DeliveryMetrics count what subscriptions get, by subscription. The label
// is bounded: a subscription name is chosen by the operator's callers, and
// an app has at most DeliveryConfig.MaxSubscriptions of them.
type DeliveryMetrics struct {
	delivered   *prometheus.CounterVec
	redelivered *prometheus.CounterVec
	acked       *prometheus.CounterVec
	filtered    *prometheus.CounterVec
	expired     *prometheus.CounterVec
	backlog     *backlogCollector
}

// NewDeliveryMetrics creates the delivery metrics and registers them on
// reg (nil: not registered, for tests that read them directly).
func NewDeliveryMetrics(reg prometheus.Registerer) *DeliveryMetrics {
	vec := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"subscription"})
	}
	m := &DeliveryMetrics{
		delivered:   vec("hlgate_events_delivered_total", "Events sent to a stream of the subscription for the first time."),
		redelivered: vec("hlgate_events_redelivered_total", "Events sent again because their ack deadline passed unacknowledged."),
		acked:       vec("hlgate_events_acked_total", "Events acknowledged (acks of ids already acknowledged are not counted)."),
		filtered:    vec("hlgate_events_filtered_total", "Events read for the subscription that its definition (types, locations) does not match; acknowledged without being sent."),
		expired:     vec("hlgate_events_expired_total", "Unacknowledged events trimmed from the stream (HLGATE_WEBHOOK_STREAM_MAX_AGE, _MAX_LEN) before they could be sent again; lost to the subscription."),
		backlog:     newBacklogCollector(),
	}
	if reg != nil {
		reg.MustRegister(m.delivered, m.redelivered, m.acked, m.filtered, m.expired, m.backlog)
	}
	return m
}

func (m *DeliveryMetrics) watch(d *Delivery)   { m.backlog.set(d) }
func (m *DeliveryMetrics) unwatch(d *Delivery) { m.backlog.unset(d) }

// backlogCollector reads the subscriptions' backlogs from the store at
// scrape time, so every replica reports the shared state (the same values
// on each: read them with max, not sum).
type backlogCollector struct {
	unacked, oldest *prometheus.Desc
	failed          prometheus.Gauge

	mu sync.Mutex
	d  *Delivery
}

func newBacklogCollector() *backlogCollector {
	return &backlogCollector{
		unacked: prometheus.NewDesc("hlgate_events_unacked",
			"Events delivered to the subscription and not yet acknowledged.", []string{"subscription"}, nil),
		oldest: prometheus.NewDesc("hlgate_events_oldest_unacked_age_seconds",
			"Age of the subscription's oldest event not yet acknowledged, delivered or not (0: none).", []string{"subscription"}, nil),
		failed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hlgate_events_backlog_read_failed",
			Help: "1 when the last scrape could not read the subscriptions' backlogs from the event store."}),
	}
}

func (c *backlogCollector) set(d *Delivery) { c.mu.Lock(); c.d = d; c.mu.Unlock() }

func (c *backlogCollector) unset(d *Delivery) {
	c.mu.Lock()
	if c.d == d {
		c.d = nil
	}
	c.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (c *backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.unacked
	ch <- c.oldest
	c.failed.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *backlogCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	d := c.d
	c.mu.Unlock()
	if d != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		bl, err := d.g.backlogs(ctx)
		cancel()
		if err != nil {
			c.failed.Set(1)
			d.log.Warn("webhooks: cannot read the subscriptions' backlogs for the metrics", "err", err)
		} else {
			c.failed.Set(0)
			for _, b := range bl {
				ch <- prometheus.MustNewConstMetric(c.unacked, prometheus.GaugeValue, float64(b.Unacked), b.Subscription)
				ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, b.OldestUnacked.Seconds(), b.Subscription)
			}
		}
	}
	c.failed.Collect(ch)
}
