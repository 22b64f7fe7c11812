// Package webhooks receives HighLevel's webhooks: it proves each one is
// HighLevel's (an Ed25519 signature over the raw body, or the legacy RSA one
// when configured), refuses replays outside a time window, stores each
// webhookId once in a durable stream per app and only then answers 2xx.
//
// HighLevel resends a webhook only when the answer is 429 (reference facts
// §9), so every refusal that must not be retried (bad signature, stale
// timestamp) is another 4xx, and every failure to store is a 429.
package webhooks

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hlgate/hlgate/internal/tracing"
)

// TokenDeleter deletes the stored token of a subject (a location or company
// id); *tokenstore.Manager and tokenstore's stores provide it. It must be
// idempotent: deleting a subject that has no token succeeds.
type TokenDeleter interface {
	Delete(ctx context.Context, subject string) error
}

// Defaults of Config.
const (
	DefaultReplayWindow = 5 * time.Minute
	DefaultFutureSkew   = time.Minute
	DefaultMaxBodyBytes = 1 << 20
	// DefaultStoreTimeout leaves HighLevel's 5 s answer deadline room for
	// the network.
	DefaultStoreTimeout = 3 * time.Second
	DefaultRetryAfter   = time.Minute
)

// Lifecycle event types (AppInstall.md, AppUninstall.md).
const (
	TypeInstall   = "INSTALL"
	TypeUninstall = "UNINSTALL"
)

// maxWebhookIDBytes bounds the id that becomes part of a Redis key.
const maxWebhookIDBytes = 256

// Config wires a Receiver.
type Config struct {
	// AppID is the marketplace app's id (the client id before its first
	// "-"); it names the stream, and events whose body names another app
	// are refused.
	AppID string
	// Verifier checks signatures; required.
	Verifier *Verifier
	// Store keeps events; required.
	Store Store
	// Tokens deletes a location's (or company's) token on UNINSTALL;
	// required.
	Tokens TokenDeleter
	// Installs records the install of an INSTALL event (install.go); nil:
	// INSTALL events are stored and delivered, no token is minted for them.
	Installs Installer
	// ReplayWindow: a body timestamp older than this is refused.
	ReplayWindow time.Duration
	// FutureSkew: a body timestamp further ahead of the clock than this is
	// refused.
	FutureSkew time.Duration
	// MaxBodyBytes: a larger body is refused with 413.
	MaxBodyBytes int64
	// StoreTimeout bounds storing the event and the token deletion of an
	// UNINSTALL, so the answer comes within HighLevel's deadline.
	StoreTimeout time.Duration
	// RetryAfter is sent with 429 when the event could not be stored.
	RetryAfter time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Metrics; unregistered ones when nil.
	Metrics *Metrics
}

// Receiver is the http.Handler of POST /webhooks/highlevel.
type Receiver struct {
	cfg Config
	m   *Metrics
	log *slog.Logger
}

var _ http.Handler = (*Receiver)(nil)

// NewReceiver checks cfg, fills its defaults and returns a Receiver.
func NewReceiver(cfg Config) (*Receiver, error) {
	var missing []string
	if cfg.AppID == "" {
		missing = append(missing, "AppID")
	}
	if cfg.Verifier == nil {
		missing = append(missing, "Verifier")
	}
	if cfg.Store == nil {
		missing = append(missing, "Store")
	}
	if cfg.Tokens == nil {
		missing = append(missing, "Tokens")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("webhooks: %s required", strings.Join(missing, ", "))
	}
	cfg.AppID = appPrefix(cfg.AppID)
	setDefault(&cfg.ReplayWindow, DefaultReplayWindow)
	setDefault(&cfg.FutureSkew, DefaultFutureSkew)
	setDefault(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&cfg.StoreTimeout, DefaultStoreTimeout)
	setDefault(&cfg.RetryAfter, DefaultRetryAfter)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	return &Receiver{cfg: cfg, m: cfg.Metrics, log: cfg.Logger}, nil
}

func setDefault[T int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// appPrefix is an app id without what follows its first "-": HighLevel's
// client ids are "<appId>-<suffix>" (reference facts §2).
func appPrefix(id string) string {
	app, _, _ := strings.Cut(id, "-")
	return app
}

// envelope is what the receiver reads of a body: the fields every event
// carries (WebhookAuthentication.md: timestamp and webhookId; each event
// document: type and locationId) and the lifecycle events' appId and
// companyId.
type envelope struct {
	Type       string          `json:"type"`
	LocationID string          `json:"locationId"`
	CompanyID  string          `json:"companyId"`
	AppID      string          `json:"appId"`
	WebhookID  string          `json:"webhookId"`
	Timestamp  json.RawMessage `json:"timestamp"`
}

// ServeHTTP verifies, checks the replay rules, stores, and answers.
//
// Under a recording span (the HTTP server's, with tracing on) the webhook
// gets a span "webhook receive" with children "webhook verify" and
// "webhook store" (and "webhook uninstall" / "webhook install").
func (rv *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rv.m.received.Inc()
	ctx, span := tracing.Start(r.Context(), "webhook receive")
	defer span.End()
	if span.IsRecording() {
		r = r.WithContext(ctx)
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rv.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			rv.reject(w, r, http.StatusRequestEntityTooLarge, ReasonTooLarge, fmt.Sprintf("body larger than %d bytes", rv.cfg.MaxBodyBytes), "")
			return
		}
		rv.reject(w, r, http.StatusBadRequest, ReasonUnreadable, "cannot read the body", "")
		return
	}

	// The signature first, over the bytes as received: nothing of an
	// unverified body is parsed, and nothing is re-serialized.
	_, vspan := tracing.Start(r.Context(), "webhook verify")
	err = rv.cfg.Verifier.Verify(r.Header, body)
	endSpan(vspan, err)
	if err != nil {
		reason := ReasonBadSignature
		var ve *VerifyError
		if errors.As(err, &ve) {
			reason = ve.Reason
		}
		rv.reject(w, r, http.StatusUnauthorized, reason, err.Error(), "")
		return
	}

	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		rv.reject(w, r, http.StatusBadRequest, ReasonMalformedBody, "body is not a JSON object", "")
		return
	}
	if env.WebhookID == "" || len(env.WebhookID) > maxWebhookIDBytes {
		rv.reject(w, r, http.StatusBadRequest, ReasonMissingWebhookID, "webhookId is missing or too long", "")
		return
	}
	if env.AppID != "" && appPrefix(env.AppID) != rv.cfg.AppID {
		// Every app's webhooks are signed with the same HighLevel key, so
		// a valid signature does not make an event ours: another app's
		// UNINSTALL must not delete our token.
		rv.reject(w, r, http.StatusForbidden, ReasonOtherApp, "event of another app", env.WebhookID)
		return
	}
	ts, err := parseTimestamp(env.Timestamp)
	if err != nil {
		rv.reject(w, r, http.StatusBadRequest, ReasonBadTimestamp, err.Error(), env.WebhookID)
		return
	}
	now := rv.cfg.Now()
	// Outside the window the answer is a 4xx other than 429, which
	// HighLevel does not resend: a replayed body is not worth a retry.
	if age := now.Sub(ts); age > rv.cfg.ReplayWindow {
		rv.reject(w, r, http.StatusBadRequest, ReasonStale, fmt.Sprintf("timestamp is %s old, more than %s", age.Round(time.Second), rv.cfg.ReplayWindow), env.WebhookID)
		return
	}
	if ahead := ts.Sub(now); ahead > rv.cfg.FutureSkew {
		rv.reject(w, r, http.StatusBadRequest, ReasonFuture, fmt.Sprintf("timestamp is %s ahead of this clock, more than %s", ahead.Round(time.Second), rv.cfg.FutureSkew), env.WebhookID)
		return
	}

	ev := Event{
		AppID: rv.cfg.AppID, Type: env.Type, LocationID: env.LocationID, CompanyID: env.CompanyID,
		WebhookID: env.WebhookID, Body: body, ReceiveTime: now,
	}
	ctx, cancel := context.WithTimeout(r.Context(), rv.cfg.StoreTimeout)
	defer cancel()
	sctx, sspan := tracing.Start(ctx, "webhook store")
	id, stored, err := rv.cfg.Store.Append(sctx, ev)
	endSpan(sspan, err)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("hlgate.webhook.id", ev.WebhookID), attribute.String("hlgate.webhook.type", ev.Type),
			attribute.String("hlgate.subject", cmp.Or(ev.LocationID, ev.CompanyID)))
		if err == nil {
			span.SetAttributes(attribute.String("hlgate.webhook.stream_id", id), attribute.Bool("hlgate.webhook.duplicate", !stored))
		}
	}
	if err != nil {
		rv.m.storeFailures.Inc()
		rv.log.ErrorContext(ctx, "webhooks: cannot store the event; answering 429 so HighLevel resends it",
			"webhook_id", ev.WebhookID, "type", ev.Type, "location", ev.LocationID, "err", err)
		rv.tooManyRequests(w, "event not stored; retry")
		return
	}
	if stored {
		rv.m.stored.Inc()
	} else {
		rv.m.duplicates.Inc()
	}

	if ev.Type == TypeUninstall {
		// Run for a duplicate too: HighLevel resends only after a 429 or a
		// lost answer, so the first delivery's deletion may not have
		// happened. Deleting is idempotent.
		uctx, uspan := tracing.Start(ctx, "webhook uninstall")
		err := rv.uninstall(uctx, ev)
		endSpan(uspan, err)
		if err != nil {
			rv.m.tokenDeletions.WithLabelValues("error").Inc()
			rv.log.ErrorContext(ctx, "webhooks: UNINSTALL stored but the token was not deleted; answering 429 so HighLevel resends it",
				"webhook_id", ev.WebhookID, "location", ev.LocationID, "company", ev.CompanyID, "err", err)
			rv.tooManyRequests(w, "event stored, token not yet deleted; retry")
			return
		}
		rv.m.tokenDeletions.WithLabelValues("ok").Inc()
	}
	if ev.Type == TypeInstall && rv.cfg.Installs != nil {
		// For a duplicate too, as for UNINSTALL: installing is idempotent.
		ictx, ispan := tracing.Start(ctx, "webhook install")
		err := rv.cfg.Installs.Install(ictx, ev.CompanyID, ev.LocationID)
		endSpan(ispan, err)
		switch {
		case errors.Is(err, ErrInstallPending):
			// Stored, so not lost: the install worker records it once the
			// code exchange has stored the token it needs.
			rv.m.installs.WithLabelValues(installPending).Inc()
			rv.log.InfoContext(ctx, "webhooks: INSTALL stored before its token; the install worker records it later",
				"webhook_id", ev.WebhookID, "location", ev.LocationID, "company", ev.CompanyID)
		case err != nil:
			rv.m.installs.WithLabelValues(installError).Inc()
			rv.log.ErrorContext(ctx, "webhooks: INSTALL stored but its tokens were not minted; answering 429 so HighLevel resends it",
				"webhook_id", ev.WebhookID, "location", ev.LocationID, "company", ev.CompanyID, "err", err)
			rv.tooManyRequests(w, "event stored, install not yet recorded; retry")
			return
		default:
			rv.m.installs.WithLabelValues(installOK).Inc()
		}
	}

	rv.log.InfoContext(ctx, "webhooks: received", "webhook_id", ev.WebhookID, "type", ev.Type,
		"location", ev.LocationID, "stream_id", id, "duplicate", !stored)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "duplicate": !stored})
}

// uninstall deletes the token of the location the app was uninstalled
// from, or of the company for an agency-level uninstall (AppUninstall.md:
// that form has companyId and no locationId).
func (rv *Receiver) uninstall(ctx context.Context, ev Event) error {
	subject := ev.LocationID
	if subject == "" {
		subject = ev.CompanyID
	}
	if subject == "" {
		rv.log.WarnContext(ctx, "webhooks: UNINSTALL names neither a location nor a company; no token deleted", "webhook_id", ev.WebhookID)
		return nil
	}
	if err := rv.cfg.Tokens.Delete(ctx, subject); err != nil {
		return fmt.Errorf("delete token of %s: %w", subject, err)
	}
	rv.log.InfoContext(ctx, "webhooks: UNINSTALL deleted the token", "subject", subject, "webhook_id", ev.WebhookID)
	return nil
}

// parseTimestamp reads the body's `timestamp`: an RFC 3339 string
// ("2025-01-28T14:35:00Z" in WebhookAuthentication.md,
// "2025-02-10T08:26:05.961Z" in RecordCreate.md).
func parseTimestamp(raw json.RawMessage) (time.Time, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, errors.New("timestamp is missing")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, errors.New("timestamp is not a string")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q is not RFC 3339", s)
	}
	return t, nil
}

func (rv *Receiver) reject(w http.ResponseWriter, r *http.Request, code int, reason, msg, webhookID string) {
	rv.m.rejected.WithLabelValues(reason).Inc()
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(attribute.String("hlgate.webhook.refused", reason))
		span.SetStatus(codes.Error, msg)
	}
	rv.log.WarnContext(r.Context(), "webhooks: refused", "reason", reason, "status", code, "webhook_id", webhookID, "detail", msg)
	http.Error(w, msg, code)
}

// endSpan ends a step's span, failed when err is set.
func endSpan(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (rv *Receiver) tooManyRequests(w http.ResponseWriter, msg string) {
	secs := int64((rv.cfg.RetryAfter + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	http.Error(w, msg, http.StatusTooManyRequests)
}
