package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
	"github.com/hlgate/hlgate/webhooks"
)

// ErrorDomain is the ErrorInfo domain of every error hlgate returns.
const ErrorDomain = "hlgate"

// Reasons carried in google.rpc.ErrorInfo. Callers branch on these, so they
// are part of the API (documented in proto/hlgate/v1).
const (
	ReasonInvalidArgument       = "INVALID_ARGUMENT"
	ReasonUpstreamRejected      = "UPSTREAM_REJECTED_REQUEST"
	ReasonLocationNotInstalled  = "LOCATION_NOT_INSTALLED"
	ReasonLocationReauth        = "LOCATION_REAUTH_REQUIRED"
	ReasonCodeRejected          = "AUTHORIZATION_CODE_REJECTED"
	ReasonScopeMissing          = "UPSTREAM_SCOPE_MISSING"
	ReasonNotFound              = "NOT_FOUND"
	ReasonRateLimited           = "RATE_LIMITED"
	ReasonDailyQuotaExhausted   = "DAILY_QUOTA_EXHAUSTED"
	ReasonUpstreamUnavailable   = "UPSTREAM_UNAVAILABLE"
	ReasonQuotaUnavailable      = "QUOTA_STORE_UNAVAILABLE"
	ReasonTokenStoreUnavailable = "TOKEN_STORE_UNAVAILABLE"
	ReasonDeadlineExceeded      = "DEADLINE_EXCEEDED"
	ReasonUnauthenticated       = "UNAUTHENTICATED"
	ReasonPermissionDenied      = "PERMISSION_DENIED"
	ReasonUpstreamError         = "UPSTREAM_ERROR"
	ReasonInternal              = "INTERNAL"
	// The gateway's and the transport's own errors.
	ReasonRouteNotFound    = "ROUTE_NOT_FOUND"
	ReasonMethodNotAllowed = "METHOD_NOT_ALLOWED"
	ReasonUnimplemented    = "UNIMPLEMENTED"
	ReasonCancelled        = "CANCELLED"
	ReasonResponseTooLarge = "RESPONSE_TOO_LARGE"
	// EventsService's (hlgate/v1/events_service.proto).
	ReasonSubscriptionMismatch = "SUBSCRIPTION_MISMATCH"
	ReasonSubscriptionLimit    = "SUBSCRIPTION_LIMIT"
	ReasonEventsUnavailable    = "EVENTS_STORE_UNAVAILABLE"
	ReasonEventsDisabled       = "EVENTS_DISABLED"
)

// toStatus maps any error of a handler to the gRPC status a caller sees. It
// is the one place where errors become codes; internal details (tokens,
// Redis addresses, upstream paths) never reach the caller.
func toStatus(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err // already a status (validation, auth)
	}
	meta := map[string]string{}

	var ue *upstream.Error
	var le *limiter.Error
	var mismatch *webhooks.MismatchError
	switch {
	case errors.As(err, &mismatch):
		return withDetails(codes.FailedPrecondition, mismatch.Error()+": use the same definition, or another subscription name", ReasonSubscriptionMismatch, 0, meta)
	case errors.Is(err, webhooks.ErrNoSubscription):
		return withDetails(codes.NotFound, "no such subscription: a StreamEvents call creates it", ReasonNotFound, 0, meta)
	case errors.Is(err, webhooks.ErrSubscriptionLimit):
		return withDetails(codes.ResourceExhausted, "the app has as many subscriptions as this server allows; reuse one", ReasonSubscriptionLimit, 0, meta)
	case errors.Is(err, webhooks.ErrClosed):
		return withDetails(codes.Unavailable, "the server is stopping; reconnect", ReasonEventsUnavailable, time.Second, meta)
	case errors.Is(err, webhooks.ErrUnavailable) && ctx.Err() == nil:
		logFrom(ctx).Warn("event store unavailable", "err", err)
		return withDetails(codes.Unavailable, "event store unavailable; retry later", ReasonEventsUnavailable, time.Second, meta)

	case errors.As(err, &le):
		switch le.Reason {
		case limiter.DailyQuotaExhausted:
			return withDetails(codes.ResourceExhausted, "daily quota of HighLevel requests for this location is exhausted", ReasonDailyQuotaExhausted, le.RetryAfter, meta)
		case limiter.RateLimited:
			return withDetails(codes.ResourceExhausted, "HighLevel rate limit: no quota slot within the call's deadline", ReasonRateLimited, le.RetryAfter, meta)
		default:
			logFrom(ctx).Warn("quota store unavailable", "err", err)
			return withDetails(codes.Unavailable, "quota store unavailable; retry later", ReasonQuotaUnavailable, retryOr(le.RetryAfter, time.Second), meta)
		}

	case errors.Is(err, tokenstore.ErrNotInstalled):
		return withDetails(codes.FailedPrecondition, "location is not installed: install the app or import a token", ReasonLocationNotInstalled, 0, meta)
	case errors.Is(err, tokenstore.ErrReauthRequired):
		return withDetails(codes.FailedPrecondition, "location must be re-authorized: install the app again, or import a new Private Integration Token", ReasonLocationReauth, 0, meta)
	case errors.Is(err, tokenstore.ErrNotRefreshable):
		// A Private Integration Token HighLevel rejected: it cannot be
		// refreshed, only replaced.
		return withDetails(codes.FailedPrecondition, "HighLevel rejected the location's Private Integration Token: import a new one (TokensService.ImportToken)", ReasonLocationReauth, 0, meta)
	case errors.Is(err, tokenstore.ErrInvalidGrant):
		// Only a code exchange gets here: a refresh's invalid_grant becomes
		// ErrReauthRequired in the token store.
		return withDetails(codes.FailedPrecondition, "HighLevel refused the authorization code: it is invalid, expired or already used; start the install again for a new code", ReasonCodeRejected, 0, meta)
	case errors.Is(err, tokenstore.ErrSubjectMismatch):
		// Nothing was stored: the code was for another location than the
		// caller named (and its key may use).
		return withDetails(codes.PermissionDenied, "the authorization code was issued for another location or company than subject_id names; nothing was stored", ReasonPermissionDenied, 0, meta)
	case errors.Is(err, upstream.ErrRequestTooLarge):
		return withDetails(codes.InvalidArgument, "the request is too large for HighLevel: send fewer or smaller values", ReasonInvalidArgument, 0, meta)
	case errors.Is(err, tokenstore.ErrStoreUnavailable) && ctx.Err() == nil:
		logFrom(ctx).Warn("token store unavailable", "err", err)
		return withDetails(codes.Unavailable, "token store unavailable; retry later", ReasonTokenStoreUnavailable, time.Second, meta)
	case errors.Is(err, tokenstore.ErrRefreshPending):
		return withDetails(codes.Unavailable, "the location's token is being refreshed; retry shortly", ReasonTokenStoreUnavailable, time.Second, meta)

	case errors.As(err, &ue):
		if ue.TraceID != "" {
			meta["upstream_trace_id"] = ue.TraceID
		}
		if ue.Status != 0 {
			meta["upstream_status"] = strconv.Itoa(ue.Status)
		}
		switch {
		case ue.Status == 0:
			if errors.Is(err, context.DeadlineExceeded) {
				return withDetails(codes.DeadlineExceeded, "deadline exceeded waiting for HighLevel", ReasonDeadlineExceeded, 0, meta)
			}
			return withDetails(codes.Unavailable, "HighLevel could not be reached", ReasonUpstreamUnavailable, retryOr(ue.RetryAfter, time.Second), meta)
		case ue.Status == http.StatusBadRequest && strings.HasSuffix(strings.ToLower(strings.TrimSpace(ue.Message)), "not found"):
			// Payments answer 400 "Order not found" / "Transaction not found"
			// for an unknown id (api/openapi.yaml, GetOrder): to a caller
			// that is a missing resource, not a bad request.
			return withDetails(codes.NotFound, "not found", ReasonNotFound, 0, meta)
		case ue.Status == http.StatusBadRequest || ue.Status == http.StatusUnprocessableEntity:
			return withDetails(codes.InvalidArgument, "HighLevel rejected the request: "+ue.Message, ReasonUpstreamRejected, 0, meta)
		case ue.Status == http.StatusUnauthorized && strings.Contains(strings.ToLower(ue.Message), "scope"):
			// HighLevel answers a missing scope with 401 "The token is not
			// authorized for this scope." (reference facts, pitfall 6).
			return withDetails(codes.PermissionDenied, "the installed app lacks the scope this call needs", ReasonScopeMissing, 0, meta)
		case ue.Status == http.StatusUnauthorized:
			// The chain already forced one refresh and retried: the install
			// itself is no longer accepted.
			return withDetails(codes.FailedPrecondition, "HighLevel rejected the location's token after a refresh; re-authorize the location", ReasonLocationReauth, 0, meta)
		case ue.Status == http.StatusForbidden:
			return withDetails(codes.PermissionDenied, "HighLevel denied access: the installed app lacks the scope or location", ReasonScopeMissing, 0, meta)
		case ue.Status == http.StatusNotFound:
			return withDetails(codes.NotFound, "not found", ReasonNotFound, 0, meta)
		case ue.Status == http.StatusTooManyRequests:
			return withDetails(codes.ResourceExhausted, "HighLevel rate limit reached", ReasonRateLimited, retryOr(ue.RetryAfter, time.Second), meta)
		case ue.Status >= 500:
			return withDetails(codes.Unavailable, "HighLevel is unavailable", ReasonUpstreamUnavailable, retryOr(ue.RetryAfter, time.Second), meta)
		default:
			return withDetails(codes.FailedPrecondition, "HighLevel answered "+strconv.Itoa(ue.Status)+": "+ue.Message, ReasonUpstreamError, 0, meta)
		}

	case errors.Is(err, context.DeadlineExceeded):
		return withDetails(codes.DeadlineExceeded, "deadline exceeded", ReasonDeadlineExceeded, 0, meta)
	case errors.Is(err, context.Canceled):
		return withDetails(codes.Canceled, "call cancelled", ReasonCancelled, 0, meta)
	}
	logFrom(ctx).Error("internal error", "err", err)
	return withDetails(codes.Internal, "internal error", ReasonInternal, 0, meta)
}

func retryOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// withDetails builds a status with ErrorInfo and, when retry > 0, RetryInfo.
func withDetails(code codes.Code, msg, reason string, retry time.Duration, meta map[string]string) error {
	st := status.New(code, msg)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: meta}}
	if retry > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retry)})
	}
	if st2, err := st.WithDetails(details...); err == nil {
		st = st2
	}
	return st.Err()
}

// statusError builds a status with ErrorInfo for errors raised by hlgate
// itself (auth, validation).
func statusError(code codes.Code, msg, reason string) error {
	return withDetails(code, msg, reason, 0, nil)
}

// invalid returns INVALID_ARGUMENT with a google.rpc.BadRequest naming each
// field, and ErrorInfo.
func invalid(violations ...*errdetails.BadRequest_FieldViolation) error {
	st := status.New(codes.InvalidArgument, invalidText(violations))
	if st2, err := st.WithDetails(
		&errdetails.BadRequest{FieldViolations: violations},
		&errdetails.ErrorInfo{Reason: ReasonInvalidArgument, Domain: ErrorDomain},
	); err == nil {
		st = st2
	}
	return st.Err()
}

// retryDelay returns the RetryInfo delay of a status error, if any; the HTTP
// gateway turns it into Retry-After.
func retryDelay(st *status.Status) (time.Duration, bool) {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

func logFrom(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

type loggerKey struct{}
