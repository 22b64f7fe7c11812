package upstream

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// The chain's own cost per call with no network (a Doer that answers at
// once), untraced and under a recording span: what the call's spans (the
// call, two token reads, the quota wait, the send) add. Run with
//
//	go test -run XXX -bench Chain -benchmem ./upstream/
func BenchmarkChain(b *testing.B) {
	base := doerFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
	})
	c := New(base, &fakeTokens{}, &fakeQuota{}, Config{})
	op := &Operation{ID: "get-contact", Version: "2021-07-28", Safe: true}
	untraced := WithOperation(WithSubject(context.Background(), "loc"), op)
	// Every span recorded, none kept: a recorder holding millions of spans
	// would measure the garbage collector.
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(dropSpans{}))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	traced, root := tp.Tracer("bench").Start(untraced, "rpc")
	defer root.End()

	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"untraced", untraced}, {"traced", traced}} {
		b.Run(bc.name, func(b *testing.B) {
			req, err := http.NewRequestWithContext(bc.ctx, http.MethodGet, "http://highlevel.test/contacts/c1", nil)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				resp, err := c.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}

// dropSpans is a span processor that forgets every span.
type dropSpans struct{}

func (dropSpans) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (dropSpans) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (dropSpans) Shutdown(context.Context) error                  { return nil }
func (dropSpans) ForceFlush(context.Context) error                { return nil }
