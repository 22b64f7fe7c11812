package server

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// redisRoundTrips counts what go-redis clients send: one per command sent
// on its own, one per pipeline.
type redisRoundTrips struct{ n atomic.Int64 }

func (h *redisRoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *redisRoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h *redisRoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// With Redis stores, one call with a cached token costs one Redis round
// trip, over gRPC and over REST: the quota decision, carrying what
// HighLevel's previous answer reported. Another client of the same app
// spends the location's quota between hlgate's calls, so every answer's
// X-RateLimit-Daily-Remaining is ahead of hlgate's own count: the case that
// used to cost a second round trip.
func TestOneRedisRoundTripPerCall(t *testing.T) {
	t.Parallel()
	hook := &redisRoundTrips{}
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
		before := hook.n.Load()
		if _, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id}); err != nil {
			t.Fatal(err)
		}
		if n := hook.n.Load() - before; n != 1 {
			t.Errorf("gRPC GetContact %d: %d Redis round trips, want 1", i, n)
		}
		otherClient()
		before = hook.n.Load()
		code, _, body := h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/"+id, "", nil)
		if code != http.StatusOK || !strings.Contains(string(body), id) {
			t.Fatalf("REST GetContact: %d %s", code, body)
		}
		if n := hook.n.Load() - before; n != 1 {
			t.Errorf("REST GetContact %d: %d Redis round trips, want 1", i, n)
		}
	}
}
