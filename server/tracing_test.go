package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/testwait"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/webhooks"
)

// The caller's trace context in the tests: W3C's own example ids.
const (
	callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID  = "00f067aa0ba902b7"
	callerParent  = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

// upstreamHeaders records the headers of every request that reached the
// sandbox.
type upstreamHeaders struct {
	mu   sync.Mutex
	seen []http.Header
}

func (u *upstreamHeaders) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen = append(u.seen, r.Header.Clone())
		u.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// checkNoTraceHeaders fails the test when HighLevel (the sandbox) received
// any trace context, or received nothing at all.
func (u *upstreamHeaders) checkNoTraceHeaders(t *testing.T) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.seen) == 0 {
		t.Fatal("no request reached the sandbox")
	}
	for i, h := range u.seen {
		for _, name := range []string{"Traceparent", "Tracestate", "Baggage", "Grpc-Trace-Bin", "Uber-Trace-Id", "B3"} {
			if v := h.Values(name); len(v) > 0 {
				t.Errorf("upstream request %d carried %s: %q", i, name, v)
			}
		}
	}
}

// tracedHarness is the harness with Redis behind tokens and quota, every
// span recorded in memory, and the sandbox's received headers recorded.
func tracedHarness(t *testing.T) (*harness, *tracetest.InMemoryExporter, *upstreamHeaders) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	hdrs := &upstreamHeaders{}
	h := newHarness(t, harnessOptions{
		sandbox:      sandbox.Config{QuotaOff: true},
		redis:        redistest.Start(t, redistest.Options{}),
		tracing:      tracing.New(tp),
		wrapUpstream: hdrs.wrap,
	})
	return h, exp, hdrs
}

// traceOf returns the spans of one trace, by name; it fails on a name
// found twice among names.
func traceOf(t *testing.T, exp *tracetest.InMemoryExporter, traceID string) map[string]tracetest.SpanStub {
	t.Helper()
	byName := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID().String() != traceID {
			continue
		}
		if _, dup := byName[s.Name]; dup && s.Name != "token" {
			t.Fatalf("two spans named %q in trace %s", s.Name, traceID)
		}
		byName[s.Name] = s
	}
	return byName
}

func spanNames(spans map[string]tracetest.SpanStub) []string {
	var names []string
	for n := range spans {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// wantChild fails unless child's parent is parent.
func wantChild(t *testing.T, spans map[string]tracetest.SpanStub, child, parent string) tracetest.SpanStub {
	t.Helper()
	c, ok := spans[child]
	if !ok {
		t.Fatalf("no span %q; spans: %v", child, spanNames(spans))
	}
	p, ok := spans[parent]
	if !ok {
		t.Fatalf("no span %q; spans: %v", parent, spanNames(spans))
	}
	if c.Parent.SpanID() != p.SpanContext.SpanID() {
		t.Fatalf("span %q has parent %s, want %q (%s)", child, c.Parent.SpanID(), parent, p.SpanContext.SpanID())
	}
	return c
}

// checkUpstreamSpans checks the upstream chain's spans under the RPC span.
func checkUpstreamSpans(t *testing.T, spans map[string]tracetest.SpanStub, rpc string) {
	t.Helper()
	call := wantChild(t, spans, "HighLevel get-contact", rpc)
	for key, want := range map[string]string{
		"hlgate.operation_id":       "get-contact",
		"hlgate.subject":            sandbox.DemoLocationID,
		"http.response.status_code": "200",
		"hlgate.upstream.sends":     "1",
		"hlgate.upstream.retries":   "0",
		"hlgate.quota.decision":     "granted",
	} {
		if got := attr(call, key); got != want {
			t.Errorf("upstream call span: %s = %q, want %q", key, got, want)
		}
	}
	quota := wantChild(t, spans, "quota wait", "HighLevel get-contact")
	if got := attr(quota, "hlgate.quota.decision"); got != "granted" {
		t.Errorf("quota wait: decision %q, want granted", got)
	}
	wantChild(t, spans, "token", "HighLevel get-contact")
	send := wantChild(t, spans, "GET", "HighLevel get-contact")
	if send.SpanKind != trace.SpanKindClient || attr(send, "http.response.status_code") != "200" || attr(send, "http.request.method") != "GET" {
		t.Errorf("send span: kind %v, attributes %v", send.SpanKind, send.Attributes)
	}
	if u := attr(send, "url.full"); !strings.Contains(u, "/contacts/") || strings.Contains(u, "?") {
		t.Errorf("send span url.full = %q, want the contact's path and no query", u)
	}
}

// someContact returns a contact id of the demo location, found by an
// untraced-by-the-test call.
func someContact(t *testing.T, h *harness) string {
	t.Helper()
	page, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	if err != nil || len(page.GetContacts()) != 1 {
		t.Fatalf("find a contact: %v", err)
	}
	return page.GetContacts()[0].GetId()
}

// A REST call is one trace under the caller's traceparent: the HTTP span,
// the RPC the gateway runs in process, the upstream call with its token
// read, quota wait and send. HighLevel gets no trace header.
func TestTraceOfARESTCall(t *testing.T) {
	t.Parallel()
	h, exp, hdrs := tracedHarness(t)
	contact := someContact(t, h)

	hdr := http.Header{}
	hdr.Set("Traceparent", callerParent)
	hdr.Set("Tracestate", "caller=1")
	hdr.Set("Baggage", "tenant=acme")
	path := "/v1/locations/" + sandbox.DemoLocationID + "/contacts/" + contact
	if code, _, body := h.restHeaders(http.MethodGet, path, nil, hdr); code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}

	spans := traceOf(t, exp, callerTraceID)
	httpName := "GET /v1/locations/{location_id}/contacts/{contact_id}"
	hs, ok := spans[httpName]
	if !ok {
		t.Fatalf("no HTTP span %q in the caller's trace; spans: %v", httpName, spanNames(spans))
	}
	if hs.SpanKind != trace.SpanKindServer || hs.Parent.SpanID().String() != callerSpanID || !hs.Parent.IsRemote() {
		t.Fatalf("HTTP span: kind %v, parent %s (remote %v); want a server span under the caller's %s", hs.SpanKind, hs.Parent.SpanID(), hs.Parent.IsRemote(), callerSpanID)
	}
	if got := attr(hs, "http.route"); got != "/v1/locations/{location_id}/contacts/{contact_id}" {
		t.Errorf("HTTP span http.route = %q", got)
	}
	rpc := wantChild(t, spans, "hlgate.v1.ContactsService/GetContact", httpName)
	if rpc.SpanKind != trace.SpanKindInternal || attr(rpc, "hlgate.transport") != "in-process" ||
		attr(rpc, "rpc.grpc.status_code") != "0" || attr(rpc, "hlgate.subject") != sandbox.DemoLocationID {
		t.Errorf("RPC span: kind %v, attributes %v", rpc.SpanKind, rpc.Attributes)
	}
	checkUpstreamSpans(t, spans, "hlgate.v1.ContactsService/GetContact")
	hdrs.checkNoTraceHeaders(t)
}

// A gRPC call is the same trace without the HTTP span: the RPC span is the
// server span, under the caller's traceparent from the metadata.
func TestTraceOfAGRPCCall(t *testing.T) {
	t.Parallel()
	h, exp, hdrs := tracedHarness(t)
	contact := someContact(t, h)

	ctx := metadata.AppendToOutgoingContext(h.ctx(""), "traceparent", callerParent, "baggage", "tenant=acme")
	if _, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: contact}); err != nil {
		t.Fatalf("GetContact: %v", err)
	}

	spans := traceOf(t, exp, callerTraceID)
	rpc, ok := spans["hlgate.v1.ContactsService/GetContact"]
	if !ok {
		t.Fatalf("no RPC span in the caller's trace; spans: %v", spanNames(spans))
	}
	if rpc.SpanKind != trace.SpanKindServer || rpc.Parent.SpanID().String() != callerSpanID || !rpc.Parent.IsRemote() ||
		attr(rpc, "hlgate.transport") != "grpc" || attr(rpc, "rpc.service") != "hlgate.v1.ContactsService" || attr(rpc, "rpc.method") != "GetContact" {
		t.Fatalf("RPC span: kind %v, parent %s, attributes %v", rpc.SpanKind, rpc.Parent.SpanID(), rpc.Attributes)
	}
	checkUpstreamSpans(t, spans, "hlgate.v1.ContactsService/GetContact")
	hdrs.checkNoTraceHeaders(t)
}

// A failed call's spans say why: the RPC span has the code and the
// ErrorInfo reason, the send span HighLevel's status.
func TestTraceOfAFailedCall(t *testing.T) {
	t.Parallel()
	h, exp, _ := tracedHarness(t)
	ctx := metadata.AppendToOutgoingContext(h.ctx(""), "traceparent", callerParent)
	_, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: "no-such-contact-000000"})
	if err == nil {
		t.Fatal("GetContact of a missing contact succeeded")
	}
	spans := traceOf(t, exp, callerTraceID)
	rpc := spans["hlgate.v1.ContactsService/GetContact"]
	if attr(rpc, "rpc.grpc.status_code") == "0" || attr(rpc, "hlgate.error.reason") == "" {
		t.Errorf("RPC span of a failed call: attributes %v", rpc.Attributes)
	}
	send := wantChild(t, spans, "GET", "HighLevel get-contact")
	if got := attr(send, "http.response.status_code"); got == "" || got[0] != '4' {
		t.Errorf("send span status %q, want HighLevel's 4xx; err %v", got, err)
	}
}

// A webhook has its span under the HTTP span, with its verification and
// its store as children; a refused one says why.
func TestTraceOfAWebhook(t *testing.T) {
	t.Parallel()
	h, exp, _ := tracedHarness(t)
	w := webhookServerOn(t, h, false)

	if code, msg := w.postWebhook(t, webhookBody("ContactCreate", "wh-trace-1", ""), true); code != http.StatusOK {
		t.Fatalf("signed webhook: %d %s", code, msg)
	}
	if code, _ := w.postWebhook(t, webhookBody("ContactCreate", "wh-trace-2", ""), false); code != http.StatusUnauthorized {
		t.Fatalf("unsigned webhook: %d, want 401", code)
	}

	byTrace := map[string]map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		id := s.SpanContext.TraceID().String()
		if byTrace[id] == nil {
			byTrace[id] = map[string]tracetest.SpanStub{}
		}
		byTrace[id][s.Name] = s
	}
	var accepted, refused map[string]tracetest.SpanStub
	for _, spans := range byTrace {
		if rs, ok := spans["webhook receive"]; ok {
			switch attr(rs, "hlgate.webhook.refused") {
			case "":
				accepted = spans
			default:
				refused = spans
			}
		}
	}
	if accepted == nil || refused == nil {
		t.Fatalf("want one accepted and one refused webhook trace; traces: %v", byTrace)
	}
	recv := wantChild(t, accepted, "webhook receive", "POST /webhooks/highlevel")
	wantChild(t, accepted, "webhook verify", "webhook receive")
	wantChild(t, accepted, "webhook store", "webhook receive")
	for key, want := range map[string]string{
		"hlgate.webhook.id": "wh-trace-1", "hlgate.webhook.type": "ContactCreate",
		"hlgate.subject": sandbox.DemoLocationID, "hlgate.webhook.duplicate": "false",
	} {
		if got := attr(recv, key); got != want {
			t.Errorf("webhook span: %s = %q, want %q", key, got, want)
		}
	}
	if got := attr(refused["webhook receive"], "hlgate.webhook.refused"); got != webhooks.ReasonMissingSignature {
		t.Errorf("refused webhook's reason %q, want %s", got, webhooks.ReasonMissingSignature)
	}
	if _, stored := refused["webhook store"]; stored {
		t.Error("a refused webhook has a store span")
	}
}

// Health and metrics have no spans; with tracing off the handler is not
// wrapped at all.
func TestHealthIsNotTraced(t *testing.T) {
	t.Parallel()
	h, exp, _ := tracedHarness(t)
	for _, p := range []string{"/healthz", "/metrics"} {
		if code, _, _ := h.rest(http.MethodGet, p, "", nil); code != http.StatusOK {
			t.Fatalf("GET %s: %d", p, code)
		}
	}
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Fatalf("health and metrics made %d spans: %v", len(spans), fmt.Sprint(spans[0].Name))
	}
}

// A REST event stream reaches the gRPC port over loopback: its stream span
// is still a child of the REST call's HTTP span, in the caller's trace, and
// each event delivered is an event of it.
func TestTraceOfARESTEventStream(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	e := newEventsServer(t, eventsOptions{tracing: tracing.New(tp)})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.httpURL+"/v1/subscriptions/traced/events:stream?types=ContactCreate", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+readKey)
	req.Header.Set("Traceparent", callerParent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	wh := e.post("ContactCreate", sandbox.DemoLocationID)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.Contains(line, wh) {
		t.Fatalf("first line %q (%v), want event %s", line, err, wh)
	}
	cancel() // the caller hangs up: both spans end

	const rpcName = "hlgate.v1.EventsService/StreamEvents"
	var spans map[string]tracetest.SpanStub
	testwait.For(t, "the stream's spans to end", testwait.DefaultTimeout, func() bool {
		spans = map[string]tracetest.SpanStub{}
		for _, s := range exp.GetSpans() {
			if s.SpanContext.TraceID().String() == callerTraceID {
				spans[s.Name] = s
			}
		}
		_, rpcDone := spans[rpcName]
		return rpcDone && len(spans) >= 2
	})
	httpName := "GET /v1/subscriptions/{subscription}/events:stream"
	if hs, ok := spans[httpName]; !ok || hs.Parent.SpanID().String() != callerSpanID {
		t.Fatalf("no HTTP span %q under the caller's; spans: %v", httpName, spanNames(spans))
	}
	rpc := wantChild(t, spans, rpcName, httpName)
	if rpc.SpanKind != trace.SpanKindServer || attr(rpc, "hlgate.transport") != "grpc" {
		t.Errorf("stream span: kind %v, attributes %v", rpc.SpanKind, rpc.Attributes)
	}
	sent := 0
	for _, ev := range rpc.Events {
		if ev.Name == "message sent" {
			sent++
		}
	}
	if sent == 0 {
		t.Errorf("stream span has no message-sent event; events %v", rpc.Events)
	}
}
