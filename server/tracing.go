package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/upstream"
)

// Spans of the entry points (see internal/tracing). With tracing off
// s.tracer is nil: the interceptors start no span, the HTTP handler is not
// wrapped, and the inner layers' tracing.Start find no recording span.
//
// One call is one trace, whichever port it came in on:
//
//	gRPC:  hlgate.v1.ContactsService/GetContact (server) → upstream spans
//	REST:  GET /v1/locations/{location_id}/contacts/{contact_id} (server)
//	         → hlgate.v1.ContactsService/GetContact (internal: the gateway
//	           calls the handler in process) → upstream spans
//
// The caller's W3C traceparent (gRPC metadata or HTTP header) is the parent
// of the first span. REST event streams reach the gRPC port over loopback;
// their context goes along in the loopback call's metadata, to this
// process only.

// Attribute keys of hlgate's own span attributes.
const (
	attrTransport   = attribute.Key("hlgate.transport")
	attrErrorReason = attribute.Key("hlgate.error.reason")
)

// metadataCarrier reads and writes gRPC metadata for a propagator.
type metadataCarrier metadata.MD

func (c metadataCarrier) Get(key string) string {
	if v := metadata.MD(c).Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c metadataCarrier) Set(key, value string) { metadata.MD(c).Set(key, value) }

func (c metadataCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

var _ propagation.TextMapCarrier = metadataCarrier{}

// startRPC starts the span of one RPC: a child of the span already in ctx
// (a REST call's HTTP span), else of the caller's trace context in the
// incoming metadata. It returns a nil span when tracing is off.
func (s *Server) startRPC(ctx context.Context, method string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, nil
	}
	if !trace.SpanContextFromContext(ctx).IsValid() {
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			ctx = s.prop.Extract(ctx, metadataCarrier(md))
		}
	}
	service, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	kind, transport := trace.SpanKindServer, "grpc"
	if _, inProcess := grpc.ServerTransportStreamFromContext(ctx).(*inProcessStream); inProcess {
		// The REST call's HTTP span is the server span; this one is the
		// handler it runs in process.
		kind, transport = trace.SpanKindInternal, "in-process"
	}
	return s.tracer.Start(ctx, service+"/"+name, trace.WithSpanKind(kind), trace.WithAttributes(
		attribute.String("rpc.system", "grpc"),
		attribute.String("rpc.service", service),
		attribute.String("rpc.method", name),
		attrTransport.String(transport),
	))
}

// endRPC ends an RPC's span with its outcome. Only errors that are the
// server's (not the caller's: INVALID_ARGUMENT, NOT_FOUND, …) mark the span
// as failed, as OpenTelemetry's gRPC conventions say.
func endRPC(span trace.Span, err error, subject string, call *upstream.CallInfo) {
	if span == nil {
		return
	}
	defer span.End()
	st := status.Convert(err)
	span.SetAttributes(attribute.Int("rpc.grpc.status_code", int(st.Code())))
	if subject != "" {
		span.SetAttributes(tracing.AttrSubject.String(subject))
	}
	if call != nil && call.Sends > 0 {
		span.SetAttributes(tracing.AttrUpstreamSends.Int(call.Sends))
	}
	if err == nil {
		return
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			span.SetAttributes(attrErrorReason.String(info.GetReason()))
		}
	}
	switch st.Code() {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		span.SetStatus(otelcodes.Error, st.Message())
	}
}

// traceStream gives a streaming RPC its span; every message sent (an event
// delivered to a subscriber) is an event of it.
func (s *Server) traceStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, span := s.startRPC(ss.Context(), info.FullMethod)
	if span == nil {
		return handler(srv, ss)
	}
	err := handler(srv, &tracedStream{ServerStream: ss, ctx: ctx, span: span})
	endRPC(span, err, "", nil)
	return err
}

type tracedStream struct {
	grpc.ServerStream
	ctx  context.Context
	span trace.Span
	sent int
}

func (t *tracedStream) Context() context.Context { return t.ctx }

func (t *tracedStream) SendMsg(m any) error {
	err := t.ServerStream.SendMsg(m)
	t.sent++
	t.span.AddEvent("message sent", trace.WithAttributes(attribute.Int("rpc.message.id", t.sent)))
	return err
}

// injectStream is GatewayConn's stream interceptor: a REST event stream's
// trace context goes to the gRPC port (this process) in the metadata.
func (s *Server) injectStream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if s.tracer != nil && trace.SpanContextFromContext(ctx).IsValid() {
		md, _ := metadata.FromOutgoingContext(ctx)
		md = md.Copy()
		s.prop.Inject(ctx, metadataCarrier(md))
		ctx = metadata.NewOutgoingContext(ctx, md)
	}
	return streamer(ctx, desc, cc, method, opts...)
}

// routeName carries a REST call's span name from the gateway, which knows
// the route's template, out to the HTTP span, which is named when the call
// is over.
type routeName struct{ name string }

type routeNameKey struct{}

// traceHTTP gives every HTTP request but health and metrics its server span,
// from the caller's traceparent when it sends one. It returns h itself when
// tracing is off.
func (s *Server) traceHTTP(h http.Handler) http.Handler {
	if s.tracer == nil {
		return h
	}
	traced := otelhttp.NewHandler(h, "hlgate",
		otelhttp.WithTracerProvider(s.cfg.Tracing.TracerProvider()),
		otelhttp.WithPropagators(s.prop),
		// hlgate's metrics are Prometheus's (/metrics).
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithFilter(func(r *http.Request) bool {
			switch r.URL.Path {
			case "/healthz", "/readyz", "/metrics":
				return false
			}
			return true
		}),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if rn, _ := r.Context().Value(routeNameKey{}).(*routeName); rn != nil && rn.name != "" {
				return rn.name
			}
			switch p := r.Pattern; {
			case p == "":
				return r.Method
			case strings.Contains(p, " "):
				return p // "POST /webhooks/highlevel"
			default:
				return r.Method + " " + p
			}
		}),
	)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		traced.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeNameKey{}, &routeName{})))
	})
}

// gatewayTracing is the gateway's option that names REST spans; it does
// nothing with tracing off (an annotator, even one adding nothing, costs
// the gateway a metadata map per call).
func (s *Server) gatewayTracing() runtime.ServeMuxOption {
	if s.tracer == nil {
		return func(*runtime.ServeMux) {}
	}
	return runtime.WithMetadata(nameRESTSpan)
}

// nameRESTSpan is a gateway metadata annotator that adds no metadata: it
// names the REST call's HTTP span after the route's template
// ("GET /v1/locations/{location_id}/contacts/{contact_id}"), which only the
// gateway knows.
func nameRESTSpan(ctx context.Context, r *http.Request) metadata.MD {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return nil
	}
	pattern, ok := runtime.HTTPPathPattern(ctx)
	if !ok {
		return nil
	}
	span.SetAttributes(attribute.String("http.route", pattern))
	if rn, _ := ctx.Value(routeNameKey{}).(*routeName); rn != nil {
		rn.name = r.Method + " " + pattern
	}
	return nil
}
