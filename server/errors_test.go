package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

func hasRetryInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			return true
		}
	}
	return false
}

// firstContactID returns the id of some contact of the demo location.
func firstContactID(t *testing.T, h *harness) string {
	t.Helper()
	resp, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	if err != nil || len(resp.GetContacts()) != 1 {
		t.Fatalf("find a contact: %v", err)
	}
	return resp.GetContacts()[0].GetId()
}

// Each row of the error mapping, driven by what the sandbox answers.
func TestErrorMappingFromUpstream(t *testing.T) {
	t.Parallel()
	loc := sandbox.DemoLocationID
	getPath := func(id string) string { return "GET /contacts/" + id }

	t.Run("5xx on a read is retried, then UNAVAILABLE with RetryInfo", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		if err := h.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 503}); err != nil {
			t.Fatal(err)
		}
		_, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if st := wantStatus(t, err, codes.Unavailable, ReasonUpstreamUnavailable); !hasRetryInfo(st) {
			t.Fatalf("no RetryInfo on %v", st)
		}
		if n := h.hits.get(getPath(id)); n != 3 {
			t.Fatalf("GET reached the sandbox %d times, want 3 (one send and two retries)", n)
		}
	})

	t.Run("5xx on a write is never resent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		if err := h.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 500}); err != nil {
			t.Fatal(err)
		}
		_, err := h.contacts.CreateContact(h.ctx(""), &hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{FirstName: "Once"}})
		wantStatus(t, err, codes.Unavailable, ReasonUpstreamUnavailable)
		if n := h.hits.get("POST /contacts/"); n != 1 {
			t.Fatalf("POST reached the sandbox %d times, want exactly 1", n)
		}
	})

	t.Run("dropped connections: reads retried, writes not", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		if err := h.sb.SetFaults(sandbox.Faults{DropRate: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		wantStatus(t, err, codes.Unavailable, ReasonUpstreamUnavailable)
		_, err = h.contacts.CreateContact(h.ctx(""), &hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{FirstName: "Once"}})
		wantStatus(t, err, codes.Unavailable, ReasonUpstreamUnavailable)
		// net/http itself resends an idempotent request once when a reused
		// connection dies before any answer, so each of the chain's three
		// GET attempts may arrive twice; the POST must arrive exactly once.
		if g, p := h.hits.get(getPath(id)), h.hits.get("POST /contacts/"); g < 3 || g > 6 || p != 1 {
			t.Fatalf("sandbox saw GET %d times (want 3 to 6) and POST %d times (want 1)", g, p)
		}
	})

	t.Run("429 beyond the deadline is RESOURCE_EXHAUSTED with RetryInfo and Retry-After", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		if err := h.sb.SetFaults(sandbox.Faults{Force429: 100, RetryAfter: 2 * time.Second}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if st := wantStatus(t, err, codes.ResourceExhausted, ReasonRateLimited); !hasRetryInfo(st) {
			t.Fatalf("no RetryInfo on %v", st)
		}
		// Through the gateway, with the deadline in the Grpc-Timeout header.
		code, hdr, body := h.restHeaders(http.MethodGet, "/v1/locations/"+loc+"/contacts/"+id, nil, http.Header{"Grpc-Timeout": {"1S"}})
		if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
			t.Fatalf("REST = %d, Retry-After %q: %s", code, hdr.Get("Retry-After"), body)
		}
	})

	t.Run("one 401 forces one refresh and the call succeeds", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		before := h.sb.Stats().RefreshGrants
		if err := h.sb.SetFaults(sandbox.Faults{Force401: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id}); err != nil {
			t.Fatalf("GetContact after one 401: %v", err)
		}
		if got := h.sb.Stats().RefreshGrants - before; got != 1 {
			t.Fatalf("refresh grants = %d, want 1", got)
		}
	})

	t.Run("401 after the forced refresh is LOCATION_REAUTH_REQUIRED", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		if err := h.sb.SetFaults(sandbox.Faults{Force401: 2}); err != nil {
			t.Fatal(err)
		}
		_, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		wantStatus(t, err, codes.FailedPrecondition, ReasonLocationReauth)
	})

	t.Run("404 is NOT_FOUND", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		_, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: loc, ContactId: "NoSuchContact0000001"})
		wantStatus(t, err, codes.NotFound, ReasonNotFound)
	})

	t.Run("a location without a token is LOCATION_NOT_INSTALLED and nothing is sent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		_, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: sandbox.OtherLocationID, ContactId: "abc"})
		wantStatus(t, err, codes.FailedPrecondition, ReasonLocationNotInstalled)
		if n := h.hits.total("GET /contacts/"); n != 0 {
			t.Fatalf("sandbox saw %d requests", n)
		}
	})

	t.Run("a deadline passed while HighLevel is slow is DEADLINE_EXCEEDED", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		id := firstContactID(t, h)
		if err := h.sb.SetFaults(sandbox.Faults{Latency: 3 * time.Second}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if code := status.Code(err); code != codes.DeadlineExceeded {
			t.Fatalf("code = %s (%v), want DEADLINE_EXCEEDED", code, err)
		}
	})

	t.Run("HighLevel's 422 is INVALID_ARGUMENT with its message", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
		// A sort field HighLevel does not know passes hlgate's shape checks
		// and is refused by HighLevel's own validation.
		_, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{
			LocationId: loc, Sort: []*hlgatev1.ContactSort{{Field: "noSuchField"}},
		})
		st := wantStatus(t, err, codes.InvalidArgument, ReasonUpstreamRejected)
		if !strings.Contains(st.Message(), "HighLevel rejected") {
			t.Fatalf("message %q", st.Message())
		}
	})
}

// A call stuck behind the quota with a short deadline is refused at once:
// RESOURCE_EXHAUSTED with RetryInfo, and HighLevel never sees it.
func TestQuotaRefusalNeverReachesHighLevel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{
		sandbox: sandbox.Config{QuotaOff: true},
		limiter: limiter.Config{Limit: 2, Window: 10 * time.Second, Guard: 200 * time.Millisecond},
	})
	id := firstContactID(t, h) // one slot
	if _, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id}); err != nil {
		t.Fatal(err) // the second slot
	}
	before := h.hits.total("")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id})
	elapsed := time.Since(start)
	if st := wantStatus(t, err, codes.ResourceExhausted, ReasonRateLimited); !hasRetryInfo(st) {
		t.Fatalf("no RetryInfo on %v", st)
	}
	if after := h.hits.total(""); after != before {
		t.Fatalf("the refused call reached the sandbox (%d → %d requests)", before, after)
	}
	// The next slot is ~10 s away: the call must not have waited for it.
	if elapsed >= 5*time.Second {
		t.Fatalf("refusal took %v: the call waited for a slot beyond its deadline", elapsed)
	}
	t.Logf("refused after %v", elapsed)
}

// HighLevel answers an unknown payment id with 400 "Order not found"; the
// caller sees NOT_FOUND, like every other missing resource.
func TestUnknownPaymentIDsAreNotFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	_, err := h.payments.GetOrder(h.ctx(""), &hlgatev1.GetOrderRequest{LocationId: sandbox.DemoLocationID, OrderId: "000000000000000000000000"})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
	_, err = h.payments.GetTransaction(h.ctx(""), &hlgatev1.GetTransactionRequest{LocationId: sandbox.DemoLocationID, TransactionId: "000000000000000000000000"})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
}

// With Redis down hlgate fails closed: UNAVAILABLE with RetryInfo, nothing
// sent to HighLevel; once Redis is back, calls succeed with the same token.
func TestRedisDownFailsClosed(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{AOF: true})
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, redis: rs})
	id := firstContactID(t, h)
	req := &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id}

	rs.Kill()
	before := h.hits.total("")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := h.contacts.GetContact(ctx, req)
	st := wantStatus(t, err, codes.Unavailable, ReasonQuotaUnavailable)
	if !hasRetryInfo(st) {
		t.Fatalf("no RetryInfo on %v", st)
	}
	if after := h.hits.total(""); after != before {
		t.Fatalf("%d requests reached HighLevel while the quota store was down", after-before)
	}

	rs.Restart()
	var lastErr error
	for range 50 { // the limiter notices Redis within its probe interval
		if _, lastErr = h.contacts.GetContact(h.ctx(""), req); lastErr == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		t.Fatalf("after Redis came back: %v", lastErr)
	}
	if grants := h.sb.Stats().RefreshGrants; grants != 0 {
		t.Fatalf("%d refreshes: the token should have survived in Redis", grants)
	}
}

// A spent or unknown authorization code is the caller's to fix (start the
// install again), not an internal error.
func TestRejectedCodeIsFailedPrecondition(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	_, err := h.tokens.ExchangeCode(h.ctx(""), &hlgatev1.ExchangeCodeRequest{Code: "no-such-code"})
	st := status.Convert(err)
	if st.Code() != codes.FailedPrecondition || reasonOf(st) != ReasonCodeRejected {
		t.Fatalf("ExchangeCode with an unknown code: %v (reason %q), want FAILED_PRECONDITION %s", err, reasonOf(st), ReasonCodeRejected)
	}
}

// reasonOf returns the ErrorInfo reason of a status.
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei.GetReason()
		}
	}
	return ""
}

// A Private Integration Token HighLevel rejects cannot be refreshed: the
// caller learns to import a new one, and hlgate stops sending the rejected
// one until it does — 5 calls cost one upstream request, not 5.
func TestRejectedPITIsNotSentAgain(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, noInstall: true})
	importPIT := func(tok string) {
		t.Helper()
		if _, err := h.tokens.ImportToken(h.ctx(""), &hlgatev1.ImportTokenRequest{Token: &hlgatev1.ImportTokenRequest_PrivateIntegrationToken{
			PrivateIntegrationToken: &hlgatev1.PrivateIntegrationToken{LocationId: sandbox.DemoLocationID, Token: tok}}}); err != nil {
			t.Fatalf("import: %v", err)
		}
	}
	search := func() error {
		_, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
		return err
	}
	importPIT("pit-00000000-dead-beef-0000-000000000000") // never issued: HighLevel answers 401
	before := h.hits.total("")
	for i := range 5 {
		st := status.Convert(search())
		if st.Code() != codes.FailedPrecondition || reasonOf(st) != ReasonLocationReauth {
			t.Fatalf("call %d with a rejected PIT: %v (reason %q), want FAILED_PRECONDITION %s", i, st.Err(), reasonOf(st), ReasonLocationReauth)
		}
	}
	if sent := h.hits.total("") - before; sent != 1 {
		t.Fatalf("5 calls with a rejected PIT sent %d requests to HighLevel, want 1", sent)
	}
	// Importing a good token ends it.
	good, err := h.sb.AddPIT(sandbox.DemoLocationID, "contacts.readonly")
	if err != nil {
		t.Fatal(err)
	}
	importPIT(good)
	if err := search(); err != nil {
		t.Fatalf("after importing a valid PIT: %v", err)
	}
}
