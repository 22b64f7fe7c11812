package upstream

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// A traced call that HighLevel fails once and then answers: one call span
// saying two sends and one retry, two send spans (the second a resend),
// a backoff between them, a quota wait and two token reads per send, all
// children of the call span; and neither send carried a trace header.
func TestTracedCallWithARetry(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	var traceHeaders atomic.Int32
	c, srv, _, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"Traceparent", "Tracestate", "Baggage"} {
			if r.Header.Get(h) != "" {
				traceHeaders.Add(1)
			}
		}
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx, root := tp.Tracer("test").Start(context.Background(), "rpc")
	ctx = WithOperation(ctx, &Operation{ID: "get-contact", Version: "2021-07-28", Safe: true})
	resp, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x?query=secret", "", ctx)
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	resp.Body.Close()
	root.End()

	count := map[string]int{}
	var call sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		count[s.Name()]++
		if s.Name() == "HighLevel get-contact" {
			call = s
		}
	}
	if call == nil || call.Parent().SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("no call span under the RPC's; spans %v", count)
	}
	want := map[string]int{"rpc": 1, "HighLevel get-contact": 1, "token": 4, "quota wait": 2, "GET": 2, "backoff": 1}
	for name, w := range want {
		if count[name] != w {
			t.Errorf("%d spans %q, want %d (all: %v)", count[name], name, w, count)
		}
	}
	attrs := map[string]string{}
	for _, kv := range call.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	for k, v := range map[string]string{"hlgate.upstream.sends": "2", "hlgate.upstream.retries": "1", "http.response.status_code": "200", "hlgate.subject": "loc1", "hlgate.quota.decision": "granted"} {
		if attrs[k] != v {
			t.Errorf("call span %s = %q, want %q", k, attrs[k], v)
		}
	}
	resends := 0
	for _, s := range rec.Ended() {
		if s.Name() == "GET" {
			if s.Parent().SpanID() != call.SpanContext().SpanID() {
				t.Error("a send span is not a child of the call span")
			}
			for _, kv := range s.Attributes() {
				switch kv.Key {
				case "http.request.resend_count":
					resends++
				case "url.full":
					if got := kv.Value.AsString(); got != srv.URL+"/contacts/x" {
						t.Errorf("url.full = %q, want it without the query", got)
					}
				}
			}
		}
	}
	if resends != 1 {
		t.Errorf("%d send spans are resends, want 1", resends)
	}
	if traceHeaders.Load() != 0 {
		t.Errorf("HighLevel received %d trace headers", traceHeaders.Load())
	}
}
