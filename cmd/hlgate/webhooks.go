package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/webhooks"
)

// webhookSettings configure POST /webhooks/highlevel.
type webhookSettings struct {
	Disabled             bool
	PublicKey, LegacyRSA string
	ReplayWindow         time.Duration
	FutureSkew           time.Duration
	StoreTimeout         time.Duration
	StreamMaxLen         int64
	StreamMaxAge         time.Duration
	// EventsService: delivering the stored events to subscriptions.
	MaxSubscriptions   int
	EventsPollInterval time.Duration
}

func webhookFlags(s *settings, w *webhookSettings) {
	s.Bool(&w.Disabled, "webhooks-disabled", "HLGATE_WEBHOOKS_DISABLED", false, "true = no webhook receiver (POST /webhooks/highlevel is not served)")
	s.String(&w.PublicKey, "webhook-public-key", "HLGATE_WEBHOOK_PUBLIC_KEY", "", "HighLevel's Ed25519 webhook public key (X-GHL-Signature), PEM or base64 of the SPKI DER; empty = the key HighLevel's Webhook Integration Guide publishes (webhooks.HighLevelPublicKey)")
	s.String(&w.LegacyRSA, "webhook-legacy-rsa-key", "HLGATE_WEBHOOK_LEGACY_RSA_KEY", "", "HighLevel's legacy RSA webhook public key (X-WH-Signature), PEM or base64 DER; empty = the legacy header is not accepted")
	s.Duration(&w.ReplayWindow, "webhook-replay-window", "HLGATE_WEBHOOK_REPLAY_WINDOW", webhooks.DefaultReplayWindow, "webhooks whose body timestamp is older than this are refused (400, not resent by HighLevel)")
	s.Duration(&w.FutureSkew, "webhook-future-skew", "HLGATE_WEBHOOK_FUTURE_SKEW", webhooks.DefaultFutureSkew, "webhooks whose body timestamp is further ahead of this clock than this are refused")
	s.Duration(&w.StoreTimeout, "webhook-store-timeout", "HLGATE_WEBHOOK_STORE_TIMEOUT", webhooks.DefaultStoreTimeout, "longest time to store a webhook before answering 429 (HighLevel wants an answer within 5s)")
	s.Int64(&w.StreamMaxLen, "webhook-stream-max-len", "HLGATE_WEBHOOK_STREAM_MAX_LEN", webhooks.DefaultStoreConfig.MaxLen, "most events kept in the app's event stream; older ones are trimmed")
	s.Duration(&w.StreamMaxAge, "webhook-stream-max-age", "HLGATE_WEBHOOK_STREAM_MAX_AGE", webhooks.DefaultStoreConfig.MaxAge, "events older than this are trimmed from the event stream")
	s.Int(&w.MaxSubscriptions, "events-max-subscriptions", "HLGATE_EVENTS_MAX_SUBSCRIPTIONS", webhooks.DefaultMaxSubscriptions, "most EventsService subscriptions of the app; each keeps state as long as the event stream and names a metric series")
	s.Duration(&w.EventsPollInterval, "events-poll-interval", "HLGATE_EVENTS_POLL_INTERVAL", webhooks.DefaultPollInterval, "how often a waiting event stream looks for events whose ack deadline passed; redelivery comes within the deadline plus this")
}

// check lists what is wrong with the settings, parsing the keys so a bad
// one stops the start rather than every webhook.
func (w webhookSettings) check() []string {
	if w.Disabled {
		return nil
	}
	var problems []string
	if _, err := webhooks.ParseEd25519PublicKey(w.publicKey()); err != nil {
		problems = append(problems, fmt.Sprintf("HLGATE_WEBHOOK_PUBLIC_KEY: %v", err))
	}
	if w.LegacyRSA != "" {
		if _, err := webhooks.ParseRSAPublicKey(w.LegacyRSA); err != nil {
			problems = append(problems, fmt.Sprintf("HLGATE_WEBHOOK_LEGACY_RSA_KEY: %v", err))
		}
	}
	if w.ReplayWindow <= 0 || w.FutureSkew <= 0 || w.StoreTimeout <= 0 || w.StreamMaxLen <= 0 || w.StreamMaxAge <= 0 {
		problems = append(problems, "HLGATE_WEBHOOK_REPLAY_WINDOW, HLGATE_WEBHOOK_FUTURE_SKEW, HLGATE_WEBHOOK_STORE_TIMEOUT, HLGATE_WEBHOOK_STREAM_MAX_LEN and HLGATE_WEBHOOK_STREAM_MAX_AGE must be positive")
	}
	if w.MaxSubscriptions <= 0 || w.EventsPollInterval <= 0 {
		problems = append(problems, "HLGATE_EVENTS_MAX_SUBSCRIPTIONS and HLGATE_EVENTS_POLL_INTERVAL must be positive")
	}
	if w.StreamMaxAge > 0 && w.StreamMaxAge < w.ReplayWindow {
		problems = append(problems, "HLGATE_WEBHOOK_STREAM_MAX_AGE must be at least HLGATE_WEBHOOK_REPLAY_WINDOW")
	}
	return problems
}

// dedupeTTL is how long a webhook id is remembered: well past the replay
// window and skew, so a copy that still passes the timestamp check always
// finds its original.
func (w webhookSettings) dedupeTTL() time.Duration {
	return max(time.Hour, 2*(w.ReplayWindow+w.FutureSkew))
}

// webhookTokens is what the receiver needs of the token manager: deleting
// a location's token on UNINSTALL and recording an INSTALL.
type webhookTokens interface {
	webhooks.TokenDeleter
	webhooks.InstallTokens
}

// publicKey is the Ed25519 key webhooks are checked with: the one set, or
// HighLevel's published key.
func (w webhookSettings) publicKey() string {
	if w.PublicKey == "" {
		return webhooks.HighLevelPublicKey
	}
	return w.PublicKey
}

// webhookReceiver builds the receiver and the delivery of what it stores
// (EventsService), over one store: on Redis when rdb is set and in memory
// otherwise, and starts the install worker (webhooks.RunInstalls), which
// stops when the delivery closes. Both are nil when the receiver is
// disabled. The caller closes the delivery.
func webhookReceiver(w webhookSettings, appID string, rdb redis.UniversalClient, tokens webhookTokens, reg prometheus.Registerer, log *slog.Logger) (http.Handler, *webhooks.Delivery, error) {
	if w.Disabled {
		log.Warn("the webhook receiver is off (HLGATE_WEBHOOKS_DISABLED): HighLevel's events are not received, and EventsService has none")
		return nil, nil, nil
	}
	if w.PublicKey == "" {
		log.Info("webhooks are checked with HighLevel's published Ed25519 key; set HLGATE_WEBHOOK_PUBLIC_KEY to use another", "key", webhooks.HighLevelPublicKey)
	}
	ed, err := webhooks.ParseEd25519PublicKey(w.publicKey())
	if err != nil {
		return nil, nil, fmt.Errorf("HLGATE_WEBHOOK_PUBLIC_KEY: %w", err)
	}
	var legacy *rsa.PublicKey
	if w.LegacyRSA != "" {
		k, err := webhooks.ParseRSAPublicKey(w.LegacyRSA)
		if err != nil {
			return nil, nil, fmt.Errorf("HLGATE_WEBHOOK_LEGACY_RSA_KEY: %w", err)
		}
		legacy = k
	}
	v, err := webhooks.NewVerifier(ed, legacy)
	if err != nil {
		return nil, nil, err
	}
	scfg := webhooks.StoreConfig{MaxLen: w.StreamMaxLen, MaxAge: w.StreamMaxAge, DedupeTTL: w.dedupeTTL()}
	dcfg := webhooks.DeliveryConfig{
		MaxSubscriptions: w.MaxSubscriptions, PollInterval: w.EventsPollInterval,
		Logger: log, Metrics: webhooks.NewDeliveryMetrics(reg),
	}
	var (
		store    webhooks.Store
		delivery *webhooks.Delivery
	)
	if rdb != nil {
		rs, err := webhooks.NewRedisStore(rdb, scfg)
		if err != nil {
			return nil, nil, err
		}
		if delivery, err = webhooks.NewRedisDelivery(rs, appID, dcfg); err != nil {
			return nil, nil, err
		}
		store = rs
	} else {
		ms, err := webhooks.NewMemoryStore(scfg, nil)
		if err != nil {
			return nil, nil, err
		}
		if delivery, err = webhooks.NewMemoryDelivery(ms, appID, nil, dcfg); err != nil {
			return nil, nil, err
		}
		store = ms
	}
	installer := &webhooks.TokenInstaller{Tokens: tokens, Logger: log}
	metrics := webhooks.NewMetrics(reg)
	rv, err := webhooks.NewReceiver(webhooks.Config{
		AppID: appID, Verifier: v, Store: store, Tokens: tokens, Installs: installer,
		ReplayWindow: w.ReplayWindow, FutureSkew: w.FutureSkew, StoreTimeout: w.StoreTimeout,
		Logger: log, Metrics: metrics,
	})
	if err != nil {
		delivery.Close()
		return nil, nil, err
	}
	go func() {
		// Ends with ErrClosed when the delivery closes; the context only
		// carries no deadline into the installs it records.
		err := webhooks.RunInstalls(context.Background(), delivery, installer, webhooks.InstallWorkerConfig{Logger: log, Metrics: metrics})
		if err != nil {
			log.Error("the install worker stopped: INSTALL events that raced their code exchange are not retried", "err", err)
		}
	}()
	log.Info("webhook receiver and EventsService on", "path", "/webhooks/highlevel", "store", map[bool]string{true: "redis", false: "memory"}[rdb != nil], "legacy_rsa", legacy != nil)
	return rv, delivery, nil
}
