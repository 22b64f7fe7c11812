package server

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"

	"github.com/hlgate/hlgate/upstream"
)

// The kept series count into the same series WithLabelValues names: a
// second call of a label set adds to the first's, another label set gets
// its own.
func TestMetricsKeepTheirSeries(t *testing.T) {
	m := NewMetrics()
	const method = "/hlgate.v1.ContactsService/GetContact"
	m.observeRPC(method, codes.OK, time.Millisecond)
	m.observeRPC(method, codes.OK, time.Millisecond)
	m.observeRPC(method, codes.NotFound, time.Millisecond)
	for code, want := range map[codes.Code]float64{codes.OK: 2, codes.NotFound: 1, codes.Internal: 0} {
		if got := testutil.ToFloat64(m.rpcs.WithLabelValues(method, code.String())); got != want {
			t.Errorf("rpcs %s = %v, want %v", code, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.rpcLatency); n != 1 {
		t.Errorf("latency series: %d, want 1", n)
	}

	m.OnUpstreamResponse(upstream.Product("contacts"), 200, time.Millisecond)
	m.OnUpstreamResponse(upstream.Product("contacts"), 200, time.Millisecond)
	m.OnUpstreamResponse(upstream.Product("contacts"), 429, time.Millisecond)
	m.OnUpstreamResponse(upstream.Product("opportunities"), 200, time.Millisecond)
	for _, c := range []struct {
		product, status string
		want            float64
	}{{"contacts", "200", 2}, {"contacts", "429", 1}, {"opportunities", "200", 1}} {
		if got := testutil.ToFloat64(m.upstreamCalls.WithLabelValues(c.product, c.status)); got != c.want {
			t.Errorf("upstream %s %s = %v, want %v", c.product, c.status, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(m.upstreamLat); n != 2 {
		t.Errorf("upstream latency series: %d, want 2", n)
	}
}
