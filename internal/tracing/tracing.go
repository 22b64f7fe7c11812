// Package tracing is hlgate's OpenTelemetry setup: the tracer provider the
// entry points (gRPC and REST calls, webhooks) start their spans with, the
// W3C propagator that reads a caller's trace context, and Start, which the
// inner layers (the upstream chain, the webhook receiver) use for their
// child spans without being handed a tracer.
//
// Tracing is off unless the standard OTLP settings name a collector
// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT). Off
// means no exporter, no batch goroutine and nothing dialled; the entry points
// then start no span, and Start finds no recording span in the context, so a
// call pays one interface call per would-be span and allocates nothing.
//
// Trace context is taken from callers only: nothing in hlgate injects it
// into an outgoing request, so HighLevel never sees a traceparent,
// tracestate or baggage header.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"go.opentelemetry.io/otel/attribute"
	"net/url"
	"runtime/debug"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ScopeName names hlgate's instrumentation scope in every exported span.
const ScopeName = "github.com/hlgate/hlgate"

// Attribute keys hlgate's spans share across packages (each package keeps
// the keys only it sets).
const (
	// AttrSubject is the location or company whose token and quota a call
	// spends.
	AttrSubject = attribute.Key("hlgate.subject")
	// AttrUpstreamSends counts the requests one call sent to HighLevel.
	AttrUpstreamSends = attribute.Key("hlgate.upstream.sends")
)

// The environment variables read here (the OpenTelemetry SDK's standard
// names). The exporters also read the other OTEL_EXPORTER_OTLP_* settings
// (headers, timeout, compression, certificates) themselves, and the SDK
// reads OTEL_TRACES_SAMPLER, OTEL_BSP_* and OTEL_SERVICE_NAME /
// OTEL_RESOURCE_ATTRIBUTES.
const (
	EnvEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvTracesExporter = "OTEL_TRACES_EXPORTER"
	EnvSDKDisabled    = "OTEL_SDK_DISABLED"
)

// Provider is the tracer provider and propagator of one process. A nil
// *Provider is tracing off.
type Provider struct {
	tp       trace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	enabled  bool
	exporter string // "otlp http/protobuf <url>" or "otlp grpc <url>"; "" for none
	shutdown func(context.Context) error
}

// Propagator is the trace context hlgate takes from callers: W3C
// traceparent/tracestate and W3C baggage.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Off returns a provider that traces nothing.
func Off() *Provider {
	return &Provider{tp: noop.NewTracerProvider(), prop: Propagator(), shutdown: func(context.Context) error { return nil }}
}

// New returns an enabled provider over tp, whose exporting and shutdown are
// the caller's (tests hand an SDK provider with an in-memory exporter).
func New(tp trace.TracerProvider) *Provider {
	return &Provider{
		tp: tp, tracer: tp.Tracer(ScopeName), prop: Propagator(), enabled: true,
		shutdown: func(context.Context) error { return nil },
	}
}

// FromEnv builds the provider the environment asks for: OTLP over HTTP
// (protobuf, the default protocol) or gRPC when an OTLP endpoint is set,
// off otherwise, or when OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none.
// A setting it cannot honour is an error, not a silent "off".
func FromEnv(ctx context.Context, env func(string) string) (*Provider, error) {
	if strings.EqualFold(strings.TrimSpace(env(EnvSDKDisabled)), "true") {
		return Off(), nil
	}
	switch exp := strings.TrimSpace(env(EnvTracesExporter)); exp {
	case "", "otlp":
	case "none":
		return Off(), nil
	default:
		return nil, fmt.Errorf("%s=%q: hlgate exports traces with otlp only (or none)", EnvTracesExporter, exp)
	}
	endpoint, endpointVar := strings.TrimSpace(env(EnvTracesEndpoint)), EnvTracesEndpoint
	signalURL := true // the traces endpoint is the full URL; the generic one a base
	if endpoint == "" {
		endpoint, endpointVar, signalURL = strings.TrimSpace(env(EnvEndpoint)), EnvEndpoint, false
	}
	if endpoint == "" {
		return Off(), nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: want a URL such as http://collector:4318", endpointVar, endpoint)
	}
	protocol, protocolVar := strings.TrimSpace(env(EnvTracesProtocol)), EnvTracesProtocol
	if protocol == "" {
		protocol, protocolVar = strings.TrimSpace(env(EnvProtocol)), EnvProtocol
	}

	var exp *otlptrace.Exporter
	switch protocol {
	case "", "http/protobuf":
		protocol = "http/protobuf"
		if !signalURL {
			// The generic endpoint is a base: the signal's path is added
			// (OTLP exporter specification).
			u = u.JoinPath("v1", "traces")
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()))
	default:
		return nil, fmt.Errorf("%s=%q: use http/protobuf or grpc", protocolVar, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("otlp trace exporter: %w", err)
	}
	res, err := serviceResource(ctx)
	if err != nil {
		_ = exp.Shutdown(ctx)
		return nil, err
	}
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	p := New(sdk)
	p.exporter = "otlp " + protocol + " " + u.Redacted()
	p.shutdown = sdk.Shutdown
	return p, nil
}

// serviceResource names the process in its spans: service.name hlgate and
// the build's version, unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES
// say otherwise.
func serviceResource(ctx context.Context) (*resource.Resource, error) {
	res, err := resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL,
		semconv.ServiceName("hlgate"), semconv.ServiceVersion(version())))
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	fromEnv, err := resource.New(ctx, resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	if res, err = resource.Merge(res, fromEnv); err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return res, nil
}

// version is the module's version from the build, "(devel)" in a checkout.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.enabled }

// TracerProvider is the provider behind p; a no-op one when tracing is off.
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Tracer is hlgate's tracer; nil when tracing is off, so entry points skip
// their spans entirely.
func (p *Provider) Tracer() trace.Tracer {
	if !p.Enabled() {
		return nil
	}
	return p.tracer
}

// Propagator is the propagator callers' trace context is read with.
func (p *Provider) Propagator() propagation.TextMapPropagator {
	if p == nil || p.prop == nil {
		return Propagator()
	}
	return p.prop
}

// Exporter describes where spans go, for the start log line ("" when off).
func (p *Provider) Exporter() string {
	if p == nil {
		return ""
	}
	return p.exporter
}

// Shutdown exports the spans still buffered and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.shutdown == nil {
		return nil
	}
	if err := p.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("flush traces: %w", err)
	}
	return nil
}

// Start starts a child span of the span in ctx, with that span's provider,
// when that span is recording; otherwise it returns ctx and its span as
// they are, at no cost. Inner layers call it instead of holding a tracer:
// a call traced at its entry point is traced all the way down, and an
// untraced one (tracing off, or a background refresh) starts nothing.
// Callers set attributes only when span.IsRecording(), so that building them
// costs nothing either.
func Start(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(ScopeName).Start(ctx, name)
}

// StartClient is Start for a span of a request to another service (kind
// client).
func StartClient(ctx context.Context, name string) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return ctx, parent
	}
	return parent.TracerProvider().Tracer(ScopeName).Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
}
