package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// With Redis stores, one call with a cached token costs one Redis round
// trip, over gRPC and over REST: the quota decision, carrying what
// HighLevel's previous answer reported. Another client of the same app
// spends the location's quota between hlgate's calls, so every answer's
// X-RateLimit-Daily-Remaining is ahead of hlgate's own count: the case that
// used to cost a second round trip.
func TestOneRedisRoundTripPerCall(t *testing.T) {
	t.Parallel()
	hook := &redistest.RoundTrips{}
	h := newHarness(t, harnessOptions{
		sandbox:   sandbox.Config{QuotaOff: true},
		limiter:   limiter.Config{Limit: 1000},
		redis:     redistest.Start(t, redistest.Options{}),
		redisHook: hook,
	})
	loc := sandbox.DemoLocationID
	page, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 1})
	if err != nil || len(page.GetContacts()) != 1 {
		t.Fatalf("find a contact: %v", err)
	}
	id := page.GetContacts()[0].GetId()
	tok, err := h.mgr.Token(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	otherClient := func() {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, h.sbURL+"/contacts/"+id, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Version", sandbox.VersionDefault)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("the other client's call: status %d", resp.StatusCode)
		}
	}
	for i := range 3 {
		otherClient()
		before := hook.Count()
		if _, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id}); err != nil {
			t.Fatal(err)
		}
		if trips := hook.Since(before); len(trips) != 1 {
			t.Errorf("gRPC GetContact %d: %d Redis round trips, want 1: %q", i, len(trips), trips)
		}
		otherClient()
		before = hook.Count()
		code, _, body := h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/"+id, "", nil)
		if code != http.StatusOK || !strings.Contains(string(body), id) {
			t.Fatalf("REST GetContact: %d %s", code, body)
		}
		if trips := hook.Since(before); len(trips) != 1 {
			t.Errorf("REST GetContact %d: %d Redis round trips, want 1: %q", i, len(trips), trips)
		}
	}
}
