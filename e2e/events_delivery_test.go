//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// TestEventsDelivery proves, on two replicas and one Redis, what a
// subscriber relies on: two subscriptions each get every event; an event a
// subscriber did not acknowledge comes again after its deadline, on another
// replica; an event HighLevel posts while Redis is down is answered 429 and
// accepted once Redis is back; an UNINSTALL (here the sandbox's own) stops
// calls for the location before they reach the sandbox; and an event the
// sandbox posts for its own write arrives on a stream.
func TestEventsDelivery(t *testing.T) {
	s := startSystem(t, 2)
	t.Run("1_two_subscriptions", func(t *testing.T) { s.twoSubscriptions(t) })
	t.Run("2_redelivery_after_disconnect", func(t *testing.T) { s.redeliveryAfterDisconnect(t) })
	t.Run("3_sandbox_write_event", func(t *testing.T) { s.sandboxWriteEvent(t) })
	t.Run("4_uninstall", func(t *testing.T) { s.uninstallStopsCalls(t) })
	t.Run("5_redis_outage", func(t *testing.T) { s.webhooksDuringRedisOutage(t) })
	t.Run("6_agency_install", func(t *testing.T) { s.agencyInstall(t) })
}

// eventsCtx is a call context with the suite's read key (every location).
func (s *system) eventsCtx(parent context.Context) context.Context {
	return metadata.AppendToOutgoingContext(parent, "authorization", "Bearer "+s.readKey)
}

// stream is one open StreamEvents and the events it received.
type stream struct {
	mu     sync.Mutex
	events []*hlgatev1.Event
	err    error
	cancel context.CancelFunc
	done   chan struct{}
}

// openStream opens a stream on r and collects its events, acknowledging
// each when ack is set.
func (s *system) openStream(t *testing.T, r *replica, req *hlgatev1.StreamEventsRequest, ack bool) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(s.eventsCtx(context.Background()))
	client := hlgatev1.NewEventsServiceClient(r.conn)
	st, err := client.StreamEvents(ctx, req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if _, err := st.Header(); err != nil { // subscribed: later events are its own
		cancel()
		t.Fatalf("open stream %s on replica%d: %v", req.GetSubscription(), r.idx+1, err)
	}
	out := &stream{cancel: cancel, done: make(chan struct{})}
	t.Cleanup(out.close)
	go func() {
		defer close(out.done)
		for {
			m, err := st.Recv()
			if err != nil {
				out.mu.Lock()
				out.err = err
				out.mu.Unlock()
				return
			}
			ev := m.GetEvent()
			out.mu.Lock()
			out.events = append(out.events, ev)
			out.mu.Unlock()
			if ack {
				if _, err := client.AckEvents(ctx, &hlgatev1.AckEventsRequest{Subscription: req.GetSubscription(), EventIds: []string{ev.GetId()}}); err != nil {
					out.mu.Lock()
					out.err = fmt.Errorf("ack %s: %w", ev.GetId(), err)
					out.mu.Unlock()
					return
				}
			}
		}
	}()
	return out
}

func (st *stream) close() {
	st.cancel()
	<-st.done
}

func (st *stream) snapshot() []*hlgatev1.Event {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]*hlgatev1.Event(nil), st.events...)
}

// waitFor waits until ok holds for the stream's events, or fails after d.
func (st *stream) waitFor(t *testing.T, d time.Duration, what string, ok func([]*hlgatev1.Event) bool) []*hlgatev1.Event {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		evs := st.snapshot()
		if ok(evs) {
			return evs
		}
		st.mu.Lock()
		err := st.err
		st.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) && status.Code(err) != codes.Canceled {
			t.Fatalf("%s: the stream ended: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; the stream has %d events", what, d, len(evs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countBy(evs []*hlgatev1.Event) map[string]int {
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.GetWebhookId()]++
	}
	return n
}

// signedWebhook is a body the replicas accept, signed with the suite's key.
func signedWebhook(fields map[string]any) ([]byte, string) {
	body, _ := json.Marshal(fields)
	return body, base64.StdEncoding.EncodeToString(ed25519.Sign(hookKey, body))
}

// post sends a signed body to r's receiver and returns its status and
// Retry-After.
func (s *system) post(r *replica, fields map[string]any) (int, string) {
	s.t.Helper()
	if _, ok := fields["timestamp"]; !ok {
		fields["timestamp"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	body, sig := signedWebhook(fields)
	req, err := http.NewRequest(http.MethodPost, r.httpURL+"/webhooks/highlevel", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GHL-Signature", sig)
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("webhook to replica%d: %v", r.idx+1, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func (s *system) twoSubscriptions(t *testing.T) {
	r1, r2 := s.replicas[0], s.replicas[1]
	a := s.openStream(t, r1, &hlgatev1.StreamEventsRequest{Subscription: "e2e-sub-a"}, true)
	b := s.openStream(t, r2, &hlgatev1.StreamEventsRequest{Subscription: "e2e-sub-b"}, true)
	const n = 30
	want := map[string]bool{}
	for i := range n {
		wh := fmt.Sprintf("e2e-two-%d-%s", i, randomHex(t, 4))
		want[wh] = true
		s.postWebhook(s.replicas[i%2], wh, []string{demoLoc, otherLoc}[i%3%2])
	}
	for name, st := range map[string]*stream{"e2e-sub-a": a, "e2e-sub-b": b} {
		evs := st.waitFor(t, 30*time.Second, name+" gets every event", func(evs []*hlgatev1.Event) bool {
			got := 0
			for wh := range countBy(evs) {
				if want[wh] {
					got++
				}
			}
			return got == n
		})
		for wh, c := range countBy(evs) {
			if want[wh] && c != 1 {
				t.Errorf("%s: %s delivered %d times", name, wh, c)
			}
		}
	}
	t.Logf("%d events posted to two replicas reached each of two subscriptions once", n)
}

func (s *system) redeliveryAfterDisconnect(t *testing.T) {
	r1, r2 := s.replicas[0], s.replicas[1]
	const deadline = 2 * time.Second
	req := &hlgatev1.StreamEventsRequest{Subscription: "e2e-redeliver", AckDeadline: durationpb.New(deadline)}
	first := s.openStream(t, r2, req, false)
	wh := "e2e-redeliver-" + randomHex(t, 4)
	s.postWebhook(r1, wh, demoLoc)
	got := first.waitFor(t, 15*time.Second, "first delivery", func(evs []*hlgatev1.Event) bool { return countBy(evs)[wh] == 1 })
	var id string
	for _, ev := range got {
		if ev.GetWebhookId() == wh {
			id = ev.GetId()
		}
	}
	// Gone without an ack: the event comes again after its deadline, to a
	// stream on the other replica.
	first.close()
	at := time.Now()
	again := s.openStream(t, r1, req, true)
	evs := again.waitFor(t, deadline+15*time.Second, "redelivery", func(evs []*hlgatev1.Event) bool { return countBy(evs)[wh] == 1 })
	for _, ev := range evs {
		if ev.GetWebhookId() == wh && ev.GetId() != id {
			t.Errorf("redelivered with id %s, want the same id %s", ev.GetId(), id)
		}
	}
	t.Logf("unacknowledged event redelivered to another replica %v after the disconnect (deadline %v)", time.Since(at).Round(100*time.Millisecond), deadline)
	// Acknowledged now: it does not come a third time.
	time.Sleep(deadline + 2*time.Second)
	if c := countBy(again.snapshot())[wh]; c != 1 {
		t.Errorf("after its ack the event was delivered %d times to the second stream", c)
	}
}

// sandboxWriteEvent: a contact created through replica 2 makes the sandbox
// post ContactCreate to replica 1, which a stream on replica 2 receives.
func (s *system) sandboxWriteEvent(t *testing.T) {
	r1, r2 := s.replicas[0], s.replicas[1]
	s.install(r1, demoLoc)
	s.admin(http.MethodPut, "webhooks", map[string]string{"url": r1.httpURL + "/webhooks/highlevel"}, nil)
	st := s.openStream(t, r2, &hlgatev1.StreamEventsRequest{Subscription: "e2e-sandbox", Types: []string{"ContactCreate"}, LocationIds: []string{demoLoc}}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	email := "e2e-" + randomHex(t, 4) + "@example.com"
	resp, err := r2.contacts.CreateContact(withKey(ctx, s.writeKey), &hlgatev1.CreateContactRequest{
		LocationId: demoLoc, Contact: &hlgatev1.Contact{FirstName: "E2E", Email: email},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetContact().GetId()
	evs := st.waitFor(t, 20*time.Second, "the sandbox's ContactCreate", func(evs []*hlgatev1.Event) bool { return len(evs) > 0 })
	ev := evs[0]
	p := ev.GetPayload().GetFields()
	if ev.GetType() != "ContactCreate" || ev.GetLocationId() != demoLoc || p["id"].GetStringValue() != id || p["email"].GetStringValue() != email {
		t.Errorf("event %s of %s: id %q email %q, want ContactCreate of %s (%s)", ev.GetType(), ev.GetLocationId(), p["id"].GetStringValue(), p["email"].GetStringValue(), id, email)
	}
	var hooks struct {
		Stats sandbox.WebhookStats `json:"stats"`
	}
	s.admin(http.MethodPost, "webhooks/flush", nil, &hooks)
	if hooks.Stats.Dropped != 0 {
		t.Errorf("the sandbox dropped %d webhooks: %+v", hooks.Stats.Dropped, hooks.Stats)
	}
	t.Logf("sandbox webhooks: %+v", hooks.Stats)
}

// uninstallStopsCalls: the sandbox uninstalls the app from the location and
// posts UNINSTALL to replica 1; replica 2's next call for the location fails
// with LOCATION_NOT_INSTALLED and the sandbox sees no request.
func (s *system) uninstallStopsCalls(t *testing.T) {
	r2 := s.replicas[1]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	call := func() error {
		_, err := r2.contacts.SearchContacts(withKey(ctx, s.readKey), &hlgatev1.SearchContactsRequest{LocationId: demoLoc, PageSize: 1})
		return err
	}
	if err := call(); err != nil {
		t.Fatalf("before UNINSTALL: %v", err)
	}
	s.admin(http.MethodPost, "uninstall", map[string]string{"locationId": demoLoc}, nil)
	var hooks struct {
		Stats sandbox.WebhookStats `json:"stats"`
	}
	s.admin(http.MethodPost, "webhooks/flush", nil, &hooks)
	if hooks.Stats.LastStatus != http.StatusOK {
		t.Fatalf("UNINSTALL answered %d: %+v", hooks.Stats.LastStatus, hooks.Stats)
	}
	// Replica 2 learns the deletion from Redis (announced, or at its next
	// read of the store).
	var err error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if err = call(); status.Code(err) == codes.FailedPrecondition {
			break
		}
	}
	if reason(err) != "LOCATION_NOT_INSTALLED" {
		t.Fatalf("after UNINSTALL: %v, want FAILED_PRECONDITION LOCATION_NOT_INSTALLED", err)
	}
	before := sandboxRequests(s.stats())
	for range 5 {
		if err := call(); reason(err) != "LOCATION_NOT_INSTALLED" {
			t.Fatalf("after UNINSTALL: %v", err)
		}
	}
	if n := sandboxRequests(s.stats()) - before; n != 0 {
		t.Errorf("the sandbox saw %d requests after UNINSTALL", n)
	}
}

// sandboxRequests counts every request the sandbox admitted or refused by
// quota, and every grant.
func sandboxRequests(st sandbox.Stats) int64 {
	n := st.CodeGrants + st.RefreshGrants + st.LocationTokens + st.InvalidGrants
	for _, k := range st.Keys {
		n += k.Accepted + k.Rejected
	}
	return n
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// webhooksDuringRedisOutage: with Redis stopped a webhook is answered 429
// with Retry-After (HighLevel resends only 429s); once Redis is back the
// resend is accepted and delivered.
func (s *system) webhooksDuringRedisOutage(t *testing.T) {
	r1 := s.replicas[0]
	sub := &hlgatev1.StreamEventsRequest{Subscription: "e2e-outage", Types: []string{"ContactCreate"}}
	s.openStream(t, r1, sub, false).close() // created before the outage
	wh := "e2e-outage-" + randomHex(t, 4)
	ev := map[string]any{"type": "ContactCreate", "locationId": otherLoc, "id": "c-" + wh, "webhookId": wh}
	s.redis.Stop()
	code, retry := s.post(r1, ev)
	if code != http.StatusTooManyRequests || retry == "" {
		t.Errorf("webhook while Redis is down: %d, Retry-After %q; want 429 with Retry-After", code, retry)
	}
	s.redis.Restart()
	for _, r := range s.replicas {
		waitHTTP(t, r.proc, r.httpURL+"/readyz", 30*time.Second)
	}
	if code, _ := s.post(r1, ev); code != http.StatusOK {
		t.Fatalf("the resend once Redis is back: %d, want 200", code)
	}
	st := s.openStream(t, s.replicas[1], sub, true)
	st.waitFor(t, 20*time.Second, "the resent event", func(evs []*hlgatev1.Event) bool { return countBy(evs)[wh] == 1 })
}

// agencyInstall: an agency install through the real consent page gives a
// Company token only; the sandbox's INSTALL reaches replica 1 before the
// code exchange has stored it (the token endpoint is slowed), is answered
// 2xx and kept, and the install worker (on either replica) mints the
// location tokens once the exchange has landed: replica 2 can then call a
// location nobody installed on its own.
func (s *system) agencyInstall(t *testing.T) {
	r1, r2 := s.replicas[0], s.replicas[1]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	call := func() error {
		_, err := r2.contacts.SearchContacts(withKey(ctx, s.readKey), &hlgatev1.SearchContactsRequest{LocationId: otherLoc, PageSize: 1})
		return err
	}
	if err := call(); reason(err) != "LOCATION_NOT_INSTALLED" {
		t.Fatalf("before the agency install: %v, want LOCATION_NOT_INSTALLED", err)
	}
	s.admin(http.MethodPut, "webhooks", map[string]string{"url": r1.httpURL + "/webhooks/highlevel"}, nil)
	// A slow token endpoint makes the INSTALL arrive before the code
	// exchange has stored the agency token, as HighLevel's can.
	s.setTokenLatency(time.Second)
	defer s.setTokenLatency(0)
	before := s.stats().LocationTokens
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Install(ctx, &http.Client{Timeout: 30 * time.Second, Jar: jar}, r1.httpURL+"/oauth/install", "company:"+sandbox.DemoCompanyID); err != nil {
		t.Fatalf("agency install: %v", err)
	}
	start := time.Now()
	// The worker retries every 15 s; allow two rounds.
	for end := start.Add(40 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if err = call(); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("40s after the agency install: %v", err)
		}
	}
	if n := s.stats().LocationTokens - before; n < 2 {
		t.Errorf("%d location tokens minted, want one per location (2)", n)
	}
	t.Logf("agency install: location tokens minted and usable on replica2 %v after the code exchange", time.Since(start).Round(100*time.Millisecond))
}
