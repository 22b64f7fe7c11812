package server

import (
	"context"
	"io"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// discardExporter drops what the batch processor hands it: the cost of
// recording spans, not of a collector.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

// BenchmarkGatewayGetContact's in-process REST call with tracing on: every
// call sampled, its spans (HTTP, RPC, upstream call, token reads, quota
// wait, send) batched as `hlgate serve` batches them. Compare with
// BenchmarkGatewayGetContact/in-process, which runs with tracing off:
//
//	go test -run XXX -bench 'GatewayGetContact' -benchmem ./server/
func BenchmarkGatewayGetContactTraced(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHarness(b, harnessOptions{
		sandbox: sandbox.Config{QuotaOff: true, RateLimit: 1 << 30, DailyLimit: 1 << 40},
		limiter: limiter.Config{Limit: 1 << 30, Daily: 1 << 40},
		tracing: tracing.New(tp),
	})
	loc := sandbox.DemoLocationID
	page, err := h.contacts.SearchContacts(context.Background(), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1})
	if err != nil || len(page.GetContacts()) != 1 {
		b.Fatalf("find a contact: %v", err)
	}
	url := h.httpURL + "/v1/locations/" + loc + "/contacts/" + page.GetContacts()[0].GetId()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
