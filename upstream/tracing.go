package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/limiter"
)

// The spans of one call through the chain, under the span of the RPC that
// made it (internal/tracing.Start: a call whose context carries no
// recording span, as with tracing off, starts none and pays nothing):
//
//	HighLevel <operationId>         hlgate.operation_id, hlgate.subject,
//	│                               http.response.status_code,
//	│                               hlgate.upstream.sends/retries,
//	│                               hlgate.quota.decision
//	├─ token                        reading the subject's access token
//	├─ quota wait                   the limiter's Wait; hlgate.quota.decision
//	├─ token                        the read again after the wait
//	├─ GET                          one send (client); http.request.resend_count
//	└─ …                            retries, a forced refresh ("token refresh")
//
// The spans stay in this process: the request sent to HighLevel carries no
// trace header (nothing here injects one, and the chain's Doer is a plain
// http.Client).

// Attribute keys of the chain's spans.
const (
	attrOperation = attribute.Key("hlgate.operation_id")
	attrRetries   = attribute.Key("hlgate.upstream.retries")
	attrDecision  = attribute.Key("hlgate.quota.decision")
	attrReread    = attribute.Key("hlgate.token.reread")
)

// callTrace records one call's spans; a nil *callTrace records nothing.
type callTrace struct {
	span     trace.Span
	sends    int
	status   int
	decision string
}

// startCall starts the span of a call, when the caller's is recording.
func startCall(ctx context.Context, req *http.Request, subject string) (context.Context, *callTrace) {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	name := "HighLevel " + req.Method + " " + string(ProductOf(req.URL.Path))
	op := OperationOf(ctx)
	if op != nil && op.ID != "" {
		name = "HighLevel " + op.ID
	}
	ctx, span := tracing.Start(ctx, name)
	span.SetAttributes(tracing.AttrSubject.String(subject))
	if op != nil && op.ID != "" {
		span.SetAttributes(attrOperation.String(op.ID))
	}
	return ctx, &callTrace{span: span}
}

// end ends the call's span with its outcome.
func (t *callTrace) end(err error) {
	if t == nil {
		return
	}
	attrs := []attribute.KeyValue{tracing.AttrUpstreamSends.Int(t.sends), attrRetries.Int(max(t.sends-1, 0))}
	if t.status != 0 {
		attrs = append(attrs, attribute.Int("http.response.status_code", t.status))
	}
	if t.decision != "" {
		attrs = append(attrs, attrDecision.String(t.decision))
	}
	t.span.SetAttributes(attrs...)
	if err != nil {
		t.span.SetStatus(codes.Error, err.Error())
	}
	t.span.End()
}

// noEnd is the end of a span not started.
func noEnd(error) {}

// child starts a child span of the call; its end takes the step's error.
func (t *callTrace) child(ctx context.Context, name string) (context.Context, func(error)) {
	if t == nil {
		return ctx, noEnd
	}
	ctx, span := tracing.Start(ctx, name)
	return ctx, func(err error) { endWith(span, err) }
}

// token starts the span of a token read; reread marks the read after the
// quota wait.
func (t *callTrace) token(ctx context.Context, reread bool) (context.Context, func(error)) {
	ctx, end := t.child(ctx, "token")
	if t != nil && reread {
		trace.SpanFromContext(ctx).SetAttributes(attrReread.Bool(true))
	}
	return ctx, end
}

// quota starts the span of a quota wait; its end records the decision.
func (t *callTrace) quota(ctx context.Context) (context.Context, func(error)) {
	if t == nil {
		return ctx, noEnd
	}
	ctx, span := tracing.Start(ctx, "quota wait")
	return ctx, func(err error) {
		t.decision = "granted"
		var le *limiter.Error
		switch {
		case errors.As(err, &le):
			t.decision = string(le.Reason)
		case err != nil:
			t.decision = "error"
		}
		span.SetAttributes(attrDecision.String(t.decision))
		endWith(span, err)
	}
}

// event adds an event to the call's span.
func (t *callTrace) event(name string, attrs ...attribute.KeyValue) {
	if t != nil {
		t.span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}

// send starts the span of one send of out; its end takes the answer (nil
// when none arrived) and the transport's error.
func (t *callTrace) send(ctx context.Context, out *http.Request) func(resp *http.Response, err error) {
	if t == nil {
		return noSend
	}
	_, span := tracing.StartClient(ctx, out.Method)
	u := url.URL{Scheme: out.URL.Scheme, Host: out.URL.Host, Path: out.URL.Path} // no query: it may hold what the caller searched for
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", out.Method),
		attribute.String("url.full", u.String()),
		attribute.String("server.address", out.URL.Hostname()),
	}
	if p, err := strconv.Atoi(out.URL.Port()); err == nil {
		attrs = append(attrs, attribute.Int("server.port", p))
	}
	if t.sends > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", t.sends))
	}
	span.SetAttributes(attrs...)
	t.sends++
	return func(resp *http.Response, err error) {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.status = status
		if status != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		switch {
		case err != nil:
			span.SetAttributes(attribute.String("error.type", "transport"))
			span.SetStatus(codes.Error, err.Error())
		case status >= 400:
			span.SetAttributes(attribute.String("error.type", strconv.Itoa(status)))
			span.SetStatus(codes.Error, "")
		}
		span.End()
	}
}

func noSend(*http.Response, error) {}

func endWith(span trace.Span, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
