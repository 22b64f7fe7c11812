package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// fakeCollector receives OTLP/HTTP protobuf exports and keeps their spans.
type fakeCollector struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	req := &collectortrace.ExportTraceServiceRequest{}
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(b, req) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf traces export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	c.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// trace returns the spans of one trace by name.
func (c *fakeCollector) trace(traceID string) map[string]*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*tracepb.Span{}
	for _, s := range c.spans {
		if hex.EncodeToString(s.GetTraceId()) == traceID {
			out[s.GetName()] = s
		}
	}
	return out
}

// `hlgate serve` with OTEL_EXPORTER_OTLP_ENDPOINT exports a REST call's
// trace, under the caller's traceparent, to the collector, and flushes it
// on shutdown: the spans arrive although the batch's delay (5 s) has not
// passed when serve stops.
func TestServeExportsTraces(t *testing.T) {
	t.Parallel()
	col := &fakeCollector{}
	cs := httptest.NewServer(col)
	defer cs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs, done := startDemo(ctx, t, envOf(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": cs.URL}))
	if !strings.Contains(logs.String(), `"tracing on"`) {
		t.Errorf("no tracing line in the log:\n%s", logs.String())
	}
	var contactURL string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "curl" && strings.Contains(f[2], "/contacts/") {
			contactURL = f[2]
		}
	}
	if contactURL == "" {
		t.Fatalf("no GetContact curl command in:\n%s", out.String())
	}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodGet, contactURL, nil)
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", contactURL, resp.StatusCode)
	}

	cancel()
	waitStopped(t, done)

	spans := col.trace(traceID)
	parentOf := func(child, parent string) {
		t.Helper()
		c, p := spans[child], spans[parent]
		if c == nil || p == nil {
			t.Fatalf("want spans %q and %q in the exported trace; got %d spans", child, parent, len(spans))
		}
		if string(c.GetParentSpanId()) != string(p.GetSpanId()) {
			t.Errorf("%q is not a child of %q", child, parent)
		}
	}
	parentOf("hlgate.v1.ContactsService/GetContact", "GET /v1/locations/{location_id}/contacts/{contact_id}")
	parentOf("HighLevel get-contact", "hlgate.v1.ContactsService/GetContact")
	parentOf("quota wait", "HighLevel get-contact")
	parentOf("GET", "HighLevel get-contact")
}

// A setting tracing cannot honour stops the start, naming the variable.
func TestServeRefusesABadOTLPSetting(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4317"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
	} {
		var out strings.Builder
		err := run(context.Background(), []string{"serve", "--sandbox", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
			envOf(env), strings.NewReader(""), &out, &out)
		if err == nil {
			t.Fatalf("serve with %v started", env)
		}
		named := false
		for k := range env {
			named = named || strings.Contains(err.Error(), k)
		}
		if !named {
			t.Errorf("serve with %v: %v; want the variable named", env, err)
		}
	}
}
