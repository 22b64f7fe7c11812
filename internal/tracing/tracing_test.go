package tracing

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestFromEnvOff(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"no settings":      {},
		"sdk disabled":     {EnvEndpoint: "http://127.0.0.1:1", EnvSDKDisabled: "true"},
		"exporter none":    {EnvTracesEndpoint: "http://127.0.0.1:1/v1/traces", EnvTracesExporter: "none"},
		"only protocol":    {EnvProtocol: "grpc"},
		"endpoint is void": {EnvEndpoint: "  "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p, err := FromEnv(context.Background(), envOf(env))
			if err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
			if p.Enabled() || p.Tracer() != nil || p.Exporter() != "" {
				t.Fatalf("tracing is on (exporter %q), want off", p.Exporter())
			}
			// The no-op provider: no exporter, no batch goroutine.
			if _, ok := p.TracerProvider().(noop.TracerProvider); !ok {
				t.Fatalf("provider is %T, want noop.TracerProvider", p.TracerProvider())
			}
			if err := p.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		})
	}
}

func TestFromEnvRefusesWhatItCannotHonour(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvEndpoint: "collector:4317"}, EnvEndpoint},
		{map[string]string{EnvTracesEndpoint: "ftp://collector/v1/traces"}, EnvTracesEndpoint},
		{map[string]string{EnvEndpoint: "http://"}, EnvEndpoint},
		{map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvProtocol: "http/json"}, EnvProtocol},
		{map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvTracesProtocol: "udp"}, EnvTracesProtocol},
		{map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvTracesExporter: "zipkin"}, EnvTracesExporter},
	} {
		p, err := FromEnv(context.Background(), envOf(tc.env))
		if err == nil {
			_ = p.Shutdown(context.Background())
			t.Errorf("FromEnv(%v) = nil error, want one naming %s", tc.env, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromEnv(%v) = %q, want it to name %s", tc.env, err, tc.want)
		}
	}
}

// collected is what a fake collector received.
type collected struct {
	mu    sync.Mutex
	paths []string
	types []string
	reqs  []*collectortrace.ExportTraceServiceRequest
}

func (c *collected) add(path, ctype string, req *collectortrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.paths = append(c.paths, path)
	c.types = append(c.types, ctype)
	c.reqs = append(c.reqs, req)
}

// spanNames are the names of every span received, with the service.name
// of their resource: "hlgate/name".
func (c *collected) spanNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var names []string
	for _, r := range c.reqs {
		for _, rs := range r.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, sp := range ss.GetSpans() {
					names = append(names, service+"/"+sp.GetName())
				}
			}
		}
	}
	return names
}

// otlpHTTPCollector is a collector receiving OTLP/HTTP protobuf.
func otlpHTTPCollector(t *testing.T) (*httptest.Server, *collected) {
	got := &collected{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req := &collectortrace.ExportTraceServiceRequest{}
		if err := proto.Unmarshal(b, req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got.add(r.URL.Path, r.Header.Get("Content-Type"), req)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// exportOne records one span through a provider from env and shuts the
// provider down, which must flush the span to the collector.
func exportOne(t *testing.T, env map[string]string) *Provider {
	t.Helper()
	p, err := FromEnv(context.Background(), envOf(env))
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	if !p.Enabled() || p.Tracer() == nil {
		t.Fatalf("tracing is off with %v", env)
	}
	_, span := p.Tracer().Start(context.Background(), "probe")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	return p
}

func TestFromEnvExportsOverHTTP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      func(base string) map[string]string
		wantPath string
	}{
		{"generic endpoint gets the signal path", func(base string) map[string]string {
			return map[string]string{EnvEndpoint: base + "/otlp"}
		}, "/otlp/v1/traces"},
		{"traces endpoint is used as it is", func(base string) map[string]string {
			return map[string]string{EnvEndpoint: "http://127.0.0.1:1", EnvTracesEndpoint: base + "/custom", EnvProtocol: "grpc", EnvTracesProtocol: "http/protobuf"}
		}, "/custom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, got := otlpHTTPCollector(t)
			p := exportOne(t, tc.env(srv.URL))
			if !strings.HasPrefix(p.Exporter(), "otlp http/protobuf "+srv.URL) {
				t.Errorf("Exporter() = %q", p.Exporter())
			}
			got.mu.Lock()
			paths, types := got.paths, got.types
			got.mu.Unlock()
			if len(paths) != 1 || paths[0] != tc.wantPath || types[0] != "application/x-protobuf" {
				t.Fatalf("collector got %v %v, want one export to %s as protobuf", paths, types, tc.wantPath)
			}
			if names := got.spanNames(); len(names) != 1 || names[0] != "hlgate/probe" {
				t.Fatalf("spans received: %v, want [hlgate/probe]", names)
			}
		})
	}
}

// grpcCollector is a collector receiving OTLP over gRPC.
type grpcCollector struct {
	collectortrace.UnimplementedTraceServiceServer
	got *collected
}

func (g *grpcCollector) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	g.got.add("grpc", "", req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func TestFromEnvExportsOverGRPC(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	c := &grpcCollector{got: &collected{}}
	collectortrace.RegisterTraceServiceServer(g, c)
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	p := exportOne(t, map[string]string{EnvEndpoint: "http://" + lis.Addr().String(), EnvProtocol: "grpc"})
	if !strings.HasPrefix(p.Exporter(), "otlp grpc ") {
		t.Errorf("Exporter() = %q", p.Exporter())
	}
	if names := c.got.spanNames(); len(names) != 1 || names[0] != "hlgate/probe" {
		t.Fatalf("spans received: %v, want [hlgate/probe]", names)
	}
}

func TestStartOnlyUnderARecordingSpan(t *testing.T) {
	ctx := context.Background()
	got, span := Start(ctx, "child")
	if got != ctx || span.IsRecording() {
		t.Fatal("Start under no span started one")
	}
	allocs := testing.AllocsPerRun(100, func() {
		_, s := Start(ctx, "child")
		s.End()
		_, s = StartClient(ctx, "child")
		s.End()
	})
	if allocs != 0 {
		t.Fatalf("Start under no span allocates %v times, want 0", allocs)
	}

	rec := tracetest.NewSpanRecorder()
	p := New(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	ctx, root := p.Tracer().Start(ctx, "root")
	_, child := StartClient(ctx, "child")
	child.End()
	root.End()
	ended := rec.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans ended, want 2", len(ended))
	}
	c := ended[0]
	if c.Name() != "child" || c.SpanKind() != trace.SpanKindClient || c.Parent().SpanID() != root.SpanContext().SpanID() ||
		c.SpanContext().TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("child %q kind %v parent %v, want a client child of root %v", c.Name(), c.SpanKind(), c.Parent().SpanID(), root.SpanContext().SpanID())
	}
}
