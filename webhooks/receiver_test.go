package webhooks

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/hlgate/hlgate/tokenstore"
)

func TestReplayWindow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		ts     time.Time
		status int
		reason string
	}{
		{"now", t0, 200, ""},
		{"at the edge of the window", t0.Add(-DefaultReplayWindow), 200, ""},
		{"just past the window", t0.Add(-DefaultReplayWindow - time.Millisecond), 400, ReasonStale},
		{"an hour old", t0.Add(-time.Hour), 400, ReasonStale},
		{"within the future skew", t0.Add(DefaultFutureSkew), 200, ""},
		{"beyond the future skew", t0.Add(DefaultFutureSkew + time.Second), 400, ReasonFuture},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, nil, nil, nil, nil)
			body := event("ContactUpdate", "wh-"+tc.name, tc.ts, nil)
			resp := post(t, f.rv, body, signed(body))
			wantStatus(t, resp, tc.status)
			n := len(all(t, f.store))
			if tc.reason == "" {
				if n != 1 {
					t.Fatalf("%d events stored, want 1", n)
				}
				return
			}
			if n != 0 {
				t.Fatalf("%d events stored for a refused timestamp", n)
			}
			if got := testutil.ToFloat64(f.metrics.rejected.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("rejected{reason=%q} = %v, want 1", tc.reason, got)
			}
			if resp.StatusCode == http.StatusTooManyRequests {
				t.Error("a replay was answered 429, which HighLevel would resend")
			}
		})
	}
}

// The window is measured on the injected clock: the same body passes, then
// is refused once the clock has moved past the window.
func TestReplayWindowFollowsTheClock(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil, nil, nil)
	body := event("ContactCreate", "wh-clock", t0, nil)
	f.clock.Advance(DefaultReplayWindow + time.Second)
	wantStatus(t, post(t, f.rv, body, signed(body)), 400)
	if n := len(all(t, f.store)); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func TestDuplicateWebhookIDIsStoredOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil, nil, nil)
	body := event("OpportunityCreate", "wh-dup", t0, map[string]any{"pipelineId": "p1"})
	for i := range 3 {
		resp := post(t, f.rv, body, signed(body))
		wantStatus(t, resp, 200)
		if want := i > 0; !strings.Contains(readAll(t, resp.Body), `"duplicate":`+map[bool]string{true: "true", false: "false"}[want]) {
			t.Errorf("delivery %d: answer does not say duplicate=%v", i, want)
		}
		f.clock.Advance(time.Second)
	}
	// Another body with the same webhookId (HighLevel never sends one, but
	// the id is the key) is a duplicate too.
	other := event("OpportunityUpdate", "wh-dup", f.clock.Now(), nil)
	wantStatus(t, post(t, f.rv, other, signed(other)), 200)

	got := all(t, f.store)
	if len(got) != 1 || !bytes.Equal(got[0].Body, body) {
		t.Fatalf("stream = %s, want the first body once", fmtIDs(got))
	}
	if d, s := testutil.ToFloat64(f.metrics.duplicates), testutil.ToFloat64(f.metrics.stored); d != 3 || s != 1 {
		t.Errorf("duplicates=%v stored=%v, want 3 and 1", d, s)
	}
	if r := testutil.ToFloat64(f.metrics.received); r != 4 {
		t.Errorf("received=%v, want 4", r)
	}
}

func TestStoredRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil, nil, nil)
	body := event(TypeInstall, "wh-install", t0.Add(-2*time.Second), map[string]any{"appId": testApp, "companyId": "comp-1", "planId": "66a0"})
	f.clock.Advance(250 * time.Millisecond)
	wantStatus(t, post(t, f.rv, body, signed(body)), 200)
	got := all(t, f.store)
	if len(got) != 1 {
		t.Fatalf("stream = %s", fmtIDs(got))
	}
	e := got[0]
	want := Event{ID: e.ID, AppID: testApp, Type: TypeInstall, LocationID: "otg8dTQqGLh3Q6iQI55w", CompanyID: "comp-1", WebhookID: "wh-install", Body: body, ReceiveTime: t0.Add(250 * time.Millisecond)}
	if e.ID == "" || e.AppID != want.AppID || e.Type != want.Type || e.LocationID != want.LocationID || e.CompanyID != want.CompanyID ||
		e.WebhookID != want.WebhookID || !bytes.Equal(e.Body, want.Body) || !e.ReceiveTime.Equal(want.ReceiveTime) {
		t.Errorf("stored %+v\nwant   %+v", e, want)
	}
}

func TestEnvelopeRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		body   []byte
		status int
		reason string
	}{
		{"not JSON", []byte(`{"type":`), 400, ReasonMalformedBody},
		{"a JSON array", []byte(`[1,2]`), 400, ReasonMalformedBody},
		{"no webhookId", event("ContactCreate", "", t0, nil), 400, ReasonMissingWebhookID},
		{"webhookId too long", event("ContactCreate", strings.Repeat("x", 300), t0, nil), 400, ReasonMissingWebhookID},
		{"no timestamp", event("ContactCreate", "wh-a", t0, map[string]any{"timestamp": nil}), 400, ReasonBadTimestamp},
		{"numeric timestamp", event("ContactCreate", "wh-b", t0, map[string]any{"timestamp": t0.Unix()}), 400, ReasonBadTimestamp},
		{"timestamp not RFC 3339", event("ContactCreate", "wh-c", t0, map[string]any{"timestamp": "28/01/2025"}), 400, ReasonBadTimestamp},
		{"another app's UNINSTALL", event(TypeUninstall, "wh-d", t0, map[string]any{"appId": "someOtherApp"}), 403, ReasonOtherApp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tokens := &fakeTokens{}
			f := newFixture(t, nil, tokens, nil, nil)
			wantStatus(t, post(t, f.rv, tc.body, signed(tc.body)), tc.status)
			if n := len(all(t, f.store)); n != 0 {
				t.Fatalf("%d events stored", n)
			}
			if len(tokens.deleted) != 0 {
				t.Errorf("tokens deleted: %v", tokens.deleted)
			}
			if got := testutil.ToFloat64(f.metrics.rejected.WithLabelValues(tc.reason)); got != 1 {
				t.Errorf("rejected{reason=%q} = %v, want 1", tc.reason, got)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil, nil, nil, nil)
	pad := strings.Repeat("a", DefaultMaxBodyBytes)
	body := event("ContactCreate", "wh-big", t0, map[string]any{"notes": pad})
	wantStatus(t, post(t, f.rv, body, signed(body)), http.StatusRequestEntityTooLarge)
	if n := len(all(t, f.store)); n != 0 {
		t.Fatalf("%d events stored", n)
	}
	if got := testutil.ToFloat64(f.metrics.rejected.WithLabelValues(ReasonTooLarge)); got != 1 {
		t.Errorf("rejected{too_large} = %v", got)
	}
	// Just under the bound is accepted.
	fit := event("ContactCreate", "wh-fit", t0, map[string]any{"notes": ""})
	fit = event("ContactCreate", "wh-fit", t0, map[string]any{"notes": strings.Repeat("a", DefaultMaxBodyBytes-len(fit))})
	if len(fit) != DefaultMaxBodyBytes {
		t.Fatalf("test body is %d bytes", len(fit))
	}
	wantStatus(t, post(t, f.rv, fit, signed(fit)), 200)
}

// failingStore fails every Append with err, or, when err is nil, waits
// for the context to end (a Redis that does not answer).
type failingStore struct {
	Store
	err error
}

func (s *failingStore) Append(ctx context.Context, ev Event) (string, bool, error) {
	if s.err != nil {
		return "", false, s.err
	}
	<-ctx.Done()
	return "", false, ctx.Err()
}

func TestStoreFailureAnswers429(t *testing.T) {
	t.Parallel()
	mem, err := NewMemoryStore(DefaultStoreConfig, newClock(t0).Now)
	if err != nil {
		t.Fatal(err)
	}
	for name, fs := range map[string]*failingStore{
		"store error": {Store: mem, err: errors.New("redis: connection refused")},
		// Ends only because the receiver bounds the store with a deadline.
		"store hangs": {Store: mem},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fs, nil, nil, nil)
			f.rv.cfg.StoreTimeout = 20 * time.Millisecond
			body := event("ContactCreate", "wh-fail", t0, nil)
			resp := post(t, f.rv, body, signed(body))
			wantStatus(t, resp, http.StatusTooManyRequests)
			if ra := resp.Header.Get("Retry-After"); ra != "60" {
				t.Errorf("Retry-After = %q, want 60", ra)
			}
			if msg := readAll(t, resp.Body); strings.Contains(msg, "redis") || strings.Contains(msg, "deadline") {
				t.Errorf("the answer shows the store's error: %q", msg)
			}
			if got := testutil.ToFloat64(f.metrics.storeFailures); got != 1 {
				t.Errorf("store failures = %v", got)
			}
		})
	}
}

func TestUninstallDeletesTheLocationsToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tokens := tokenstore.NewMemoryStore()
	for _, subject := range []string{"loc-gone", "loc-kept", "comp-gone"} {
		if err := tokens.Commit(ctx, tokenstore.Record{Subject: subject, Version: 1, AccessToken: "at-" + subject, RefreshToken: "rt-" + subject}, "", false); err != nil {
			t.Fatal(err)
		}
	}
	f := newFixture(t, nil, tokens, nil, nil)

	install := event(TypeInstall, "wh-i", t0, map[string]any{"appId": testApp, "locationId": "loc-kept", "companyId": "comp-gone"})
	wantStatus(t, post(t, f.rv, install, signed(install)), 200)
	loc := event(TypeUninstall, "wh-u1", t0, map[string]any{"appId": testApp, "locationId": "loc-gone"})
	wantStatus(t, post(t, f.rv, loc, signed(loc)), 200)
	agency := event(TypeUninstall, "wh-u2", t0, map[string]any{"appId": testApp, "locationId": nil, "companyId": "comp-gone"})
	wantStatus(t, post(t, f.rv, agency, signed(agency)), 200)

	for subject, want := range map[string]bool{"loc-gone": false, "comp-gone": false, "loc-kept": true} {
		_, err := tokens.Get(ctx, subject)
		if has := err == nil; has != want {
			t.Errorf("token of %s present=%v (err %v), want %v", subject, has, err, want)
		}
	}
	got := all(t, f.store)
	if len(got) != 3 || got[1].Type != TypeUninstall || got[1].LocationID != "loc-gone" || got[2].CompanyID != "comp-gone" {
		t.Fatalf("stream = %s, want INSTALL and both UNINSTALLs", fmtIDs(got))
	}
}

// When the token cannot be deleted, the stored UNINSTALL is answered 429;
// HighLevel's resend is a duplicate, and deletes the token then.
func TestUninstallRetriesTheDeletion(t *testing.T) {
	t.Parallel()
	tokens := &fakeTokens{err: errors.New("redis down")}
	f := newFixture(t, nil, tokens, nil, nil)
	body := event(TypeUninstall, "wh-u", t0, map[string]any{"appId": testApp, "locationId": "loc-1"})
	resp := post(t, f.rv, body, signed(body))
	wantStatus(t, resp, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if n := len(all(t, f.store)); n != 1 {
		t.Fatalf("%d events stored, want the UNINSTALL stored before the deletion", n)
	}
	tokens.mu.Lock()
	tokens.err = nil
	tokens.mu.Unlock()
	f.clock.Advance(time.Minute)
	wantStatus(t, post(t, f.rv, body, signed(body)), 200)
	if len(tokens.deleted) != 1 || tokens.deleted[0] != "loc-1" {
		t.Errorf("deleted %v, want [loc-1]", tokens.deleted)
	}
	if n := len(all(t, f.store)); n != 1 {
		t.Errorf("%d events stored after the resend, want 1", n)
	}
}

func TestNewReceiverRequiresItsParts(t *testing.T) {
	t.Parallel()
	if _, err := NewReceiver(Config{}); err == nil || !strings.Contains(err.Error(), "Verifier") {
		t.Errorf("NewReceiver(empty) = %v", err)
	}
}

func TestMemoryStoreTrims(t *testing.T) {
	t.Parallel()
	clk := newClock(t0)
	s, err := NewMemoryStore(StoreConfig{MaxLen: 3, MaxAge: time.Minute, DedupeTTL: time.Hour}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	add := func(id string) {
		t.Helper()
		if _, stored, err := s.Append(ctx, Event{AppID: testApp, WebhookID: id}); err != nil || !stored {
			t.Fatalf("append %s: stored=%v err=%v", id, stored, err)
		}
	}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		add(id)
	}
	if got := fmtIDs(all(t, s)); !strings.Contains(got, ":c ") || strings.Contains(got, ":b ") || len(all(t, s)) != 3 {
		t.Errorf("after 5 appends with MaxLen 3: %s", got)
	}
	clk.Advance(2 * time.Minute)
	add("f")
	if got := all(t, s); len(got) != 1 || got[0].WebhookID != "f" {
		t.Errorf("after MaxAge: %s, want only f", fmtIDs(got))
	}
	// Read from an id returns only later events.
	add("g")
	got := all(t, s)
	after, err := s.Read(ctx, testApp, got[0].ID, 10)
	if err != nil || len(after) != 1 || after[0].WebhookID != "g" {
		t.Errorf("Read after %s = %s, %v", got[0].ID, fmtIDs(after), err)
	}
	if _, err := s.Read(ctx, testApp, "", 0); err == nil {
		t.Error("Read of 0 events succeeded")
	}
}
