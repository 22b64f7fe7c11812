package tokenstore

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestPrometheusMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	p, err := NewPrometheusMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	p.RefreshOutcome(OutcomeRefreshed)
	p.PersistFailed()
	p.Unpersisted(2)
	p.PairDropped(DropShutdown)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				got[key] = m.GetGauge().GetValue()
			}
		}
	}
	want := map[string]float64{
		"hlgate_token_refresh_total,outcome=refreshed":     1,
		"hlgate_token_refresh_total,outcome=invalid_grant": 0,
		"hlgate_token_persist_failures_total":              1,
		"hlgate_token_unpersisted_pairs":                   2,
		"hlgate_token_pairs_dropped_total,reason=shutdown": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %t), want %v", k, g, ok, v)
		}
	}
	if _, err := NewPrometheusMetrics(reg); err == nil {
		t.Fatal("registering twice succeeded")
	}
	if got := ParseScopes(" contacts.readonly,opportunities.readonly  calendars.readonly "); len(got) != 3 || got[2] != "calendars.readonly" {
		t.Fatalf("ParseScopes = %q", got)
	}
}
