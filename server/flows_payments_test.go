package server

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// suffixRecorder keeps the JSON bodies of the upstream requests whose path
// ends with suffix, in order, for the tests that prove what a write sends.
type suffixRecorder struct {
	suffix string
	mu     sync.Mutex
	bodies []map[string]any
}

func (b *suffixRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, b.suffix) && r.Body != nil {
			raw, _ := io.ReadAll(r.Body)
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			b.mu.Lock()
			b.bodies = append(b.bodies, m)
			b.mu.Unlock()
			r.Body = io.NopCloser(strings.NewReader(string(raw)))
		}
		next.ServeHTTP(w, r)
	})
}

func (b *suffixRecorder) all() []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]map[string]any(nil), b.bodies...)
}

// unpaidOrders walks the location's unpaid orders to the end and returns
// the pending ones (a cancelled order takes no payment) and a cancelled one.
func unpaidOrders(t *testing.T, h *harness, loc string) (pending []*hlgatev1.Order, cancelled *hlgatev1.Order) {
	t.Helper()
	req := &hlgatev1.ListOrdersRequest{LocationId: loc, PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_UNPAID, PageSize: 50}
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("the walk of unpaid orders does not end")
		}
		page, err := h.payments.ListOrders(h.ctx(""), req)
		if err != nil {
			t.Fatalf("ListOrders(unpaid): %v", err)
		}
		for _, o := range page.GetOrders() {
			if seen[o.GetId()] {
				t.Fatalf("order %s on two pages", o.GetId())
			}
			seen[o.GetId()] = true
			switch o.GetStatus() {
			case "pending":
				pending = append(pending, o)
			case "cancelled":
				cancelled = o
			}
		}
		if page.GetNextPageToken() == "" {
			return pending, cancelled
		}
		req.PageToken = page.GetNextPageToken()
	}
}

// orderPayments lists the transactions of an order (entity_id is its id).
func orderPayments(t *testing.T, h *harness, loc, orderID string) []*hlgatev1.Transaction {
	t.Helper()
	r, err := h.payments.ListTransactions(h.ctx(""), &hlgatev1.ListTransactionsRequest{LocationId: loc, EntityId: orderID, PageSize: 100})
	if err != nil {
		t.Fatalf("ListTransactions(%s): %v", orderID, err)
	}
	return r.GetTransactions()
}

// A payment recorded on an order over gRPC and over REST reaches HighLevel
// as the document's body (altId the location, altType, mode, card), and
// the sandbox honours it: the order is paid (or partially paid), and each
// payment is a succeeded transaction of the order; a paid or cancelled
// order takes no further payment, and a request without its mode never
// leaves hlgate.
func TestRecordOrderPayment(t *testing.T) {
	t.Parallel()
	rec := &suffixRecorder{suffix: "/record-payment"}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: rec.wrap})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	pending, cancelled := unpaidOrders(t, h, loc)
	if len(pending) < 2 || cancelled == nil {
		t.Fatalf("the seed has %d pending unpaid orders and cancelled %v; the test needs two and one", len(pending), cancelled)
	}
	first, second := pending[0], pending[1]

	// gRPC: the whole amount due, in cash.
	r, err := h.payments.RecordOrderPayment(ctx, &hlgatev1.RecordOrderPaymentRequest{LocationId: loc, OrderId: first.GetId(),
		AltType: proto.String("location"), Mode: proto.String("cash"), Notes: proto.String("paid at the desk")})
	if err != nil || !r.GetSuccess() {
		t.Fatalf("RecordOrderPayment = %v, %v", r, err)
	}
	got, err := h.payments.GetOrder(ctx, &hlgatev1.GetOrderRequest{LocationId: loc, OrderId: first.GetId()})
	if err != nil || got.GetOrder().GetStatus() != "completed" {
		t.Fatalf("GetOrder after the payment = %v, %v; want status completed", got, err)
	}
	txs := orderPayments(t, h, loc, first.GetId())
	if len(txs) != 1 || txs[0].GetAmount() != first.GetAmount() || txs[0].GetStatus() != "succeeded" || txs[0].GetEntityType() != "order" {
		t.Fatalf("transactions of the paid order = %v, want one succeeded of %v", txs, first.GetAmount())
	}
	paid, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_PAID, Query: first.GetId()})
	if err != nil || len(paid.GetOrders()) != 1 || paid.GetOrders()[0].GetId() != first.GetId() {
		t.Fatalf("ListOrders(paid, %s) = %v, %v", first.GetId(), paid, err)
	}
	// Paid: a second payment is refused, and records nothing.
	if _, err := h.payments.RecordOrderPayment(ctx, &hlgatev1.RecordOrderPaymentRequest{LocationId: loc, OrderId: first.GetId(),
		AltType: proto.String("location"), Mode: proto.String("cash")}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "already paid") {
		t.Fatalf("a second payment of a paid order: %v, want INVALID_ARGUMENT already paid", err)
	}
	if n := len(orderPayments(t, h, loc, first.GetId())); n != 1 {
		t.Fatalf("the refused payment recorded a transaction: %d", n)
	}

	// REST: a partial payment by card, then the rest.
	path := fmt.Sprintf("/v1/locations/%s/payments/orders/%s/record-payment", loc, second.GetId())
	part := second.GetAmount() / 5
	ans := restJSON(t, h, http.MethodPost, path,
		fmt.Sprintf(`{"altType":"location","mode":"card","card":{"type":"visa","last4":"4242"},"amount":%v,"isPartialPayment":true}`, part), http.StatusOK)
	if ans["success"] != true {
		t.Fatalf("POST record-payment (partial) = %v", ans)
	}
	partly, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_PAID})
	if err != nil || len(partly.GetOrders()) != 1 || partly.GetOrders()[0].GetId() != second.GetId() {
		t.Fatalf("ListOrders(partially paid) = %v, %v; want the one order", partly, err)
	}
	// More than is due is refused.
	if code, _, b := h.rest(http.MethodPost, path, "", strings.NewReader(fmt.Sprintf(`{"altType":"location","mode":"cash","amount":%v}`, second.GetAmount()))); code != http.StatusBadRequest {
		t.Fatalf("paying more than is due = %d %s, want 400", code, b)
	}
	restJSON(t, h, http.MethodPost, path, `{"altType":"location","mode":"cheque","cheque":{"number":"129-129"}}`, http.StatusOK)
	txs = orderPayments(t, h, loc, second.GetId())
	sum := 0.0
	for _, tx := range txs {
		sum += tx.GetAmount()
	}
	if len(txs) != 2 || sum != second.GetAmount() {
		t.Fatalf("transactions of the order paid in two parts = %v (sum %v), want two summing to %v", txs, sum, second.GetAmount())
	}
	if o := restJSON(t, h, http.MethodGet, fmt.Sprintf("/v1/locations/%s/orders/%s", loc, second.GetId()), "", http.StatusOK); o["order"].(map[string]any)["status"] != "completed" {
		t.Fatalf("GET order paid in two parts = %v, want status completed", o)
	}

	// What reached HighLevel: the document's body, the location as altId.
	bodies := rec.all()
	want := []map[string]any{
		{"altId": loc, "altType": "location", "mode": "cash", "notes": "paid at the desk"},
		{"altId": loc, "altType": "location", "mode": "cash"},
		{"altId": loc, "altType": "location", "mode": "card", "card": map[string]any{"type": "visa", "last4": "4242"}, "amount": part, "isPartialPayment": true},
		{"altId": loc, "altType": "location", "mode": "cash", "amount": second.GetAmount()},
		{"altId": loc, "altType": "location", "mode": "cheque", "cheque": map[string]any{"number": "129-129"}},
	}
	if len(bodies) != len(want) {
		t.Fatalf("%d record-payment bodies reached HighLevel, want %d: %v", len(bodies), len(want), bodies)
	}
	for i := range want {
		if fmt.Sprint(bodies[i]) != fmt.Sprint(want[i]) {
			t.Errorf("record-payment body %d = %v, want %v", i, bodies[i], want[i])
		}
	}

	// A cancelled order takes no payment; an unknown one is not found.
	if _, err := h.payments.RecordOrderPayment(ctx, &hlgatev1.RecordOrderPaymentRequest{LocationId: loc, OrderId: cancelled.GetId(),
		AltType: proto.String("location"), Mode: proto.String("cash")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("paying a cancelled order: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := h.payments.RecordOrderPayment(ctx, &hlgatev1.RecordOrderPaymentRequest{LocationId: loc, OrderId: "NoSuchOrder000000001",
		AltType: proto.String("location"), Mode: proto.String("cash")}); status.Code(err) != codes.NotFound {
		t.Fatalf("paying an unknown order: %v, want NOT_FOUND", err)
	}
	// The mode is required: refused before anything is sent, naming it.
	before := h.hits.total("")
	_, err = h.payments.RecordOrderPayment(ctx, &hlgatev1.RecordOrderPaymentRequest{LocationId: loc, OrderId: pending[2%len(pending)].GetId(), AltType: proto.String("location")})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "mode") {
		t.Fatalf("RecordOrderPayment without mode: %v, want INVALID_ARGUMENT naming mode", err)
	}
	if code, _, b := h.rest(http.MethodPost, path, "", strings.NewReader(`{"altType":"location"}`)); code != http.StatusBadRequest || !strings.Contains(string(b), "mode") {
		t.Fatalf("POST record-payment without mode = %d %s, want 400 naming mode", code, b)
	}
	if h.hits.total("") != before {
		t.Fatal("a refused RecordOrderPayment reached HighLevel")
	}
}

// Coupons, whose sandbox handlers are hand-written (a coupon is named by
// the id in its query or body, not its path): created, read by id and
// code, listed to the end through page_token, changed and deleted, over
// gRPC and REST.
func TestCoupons(t *testing.T) {
	t.Parallel()
	// A coupon's status follows its dates on the sandbox's clock.
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(time.Date(2026, 4, 12, 12, 0, 0, 0, time.UTC))}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	var ids []string
	for i, code := range []string{"SPRING10", "SUMMER20", "AUTUMN30"} {
		start, want := "2020-01-01T00:00:00Z", "active"
		if i == 2 {
			start, want = "2026-09-01T00:00:00Z", "scheduled"
		}
		c, err := h.payments.CreateCoupon(ctx, &hlgatev1.CreateCouponRequest{LocationId: loc, AltType: proto.String("location"),
			Name: proto.String("Sale " + code), Code: proto.String(code), DiscountType: proto.String("percentage"),
			DiscountValue: proto.Float64(float64(10 * (i + 1))), StartDate: proto.String(start), LimitPerCustomer: proto.Bool(i == 0)})
		if err != nil || c.GetId() == "" || c.GetCode() != code || c.GetStatus() != want || c.GetLimitPerCustomer() != float64(map[bool]int{true: 1}[i == 0]) {
			t.Fatalf("CreateCoupon(%s) = %v, %v", code, c, err)
		}
		ids = append(ids, c.GetId())
	}
	created := restJSON(t, h, http.MethodPost, "/v1/locations/"+loc+"/payments/coupon",
		`{"altType":"location","name":"Winter","code":"WINTER40","discountType":"amount","discountValue":40,"startDate":"2020-01-01T00:00:00Z","endDate":"2020-02-01T00:00:00Z"}`, http.StatusOK)
	winter, _ := created["_id"].(string)
	if winter == "" || created["status"] != "expired" {
		t.Fatalf("POST coupon = %v, want an expired coupon", created)
	}
	ids = append(ids, winter)
	if _, err := h.payments.CreateCoupon(ctx, &hlgatev1.CreateCouponRequest{LocationId: loc, AltType: proto.String("location"), Name: proto.String("again"),
		Code: proto.String("SPRING10"), DiscountType: proto.String("amount"), DiscountValue: proto.Float64(1), StartDate: proto.String("2020-01-01T00:00:00Z")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("CreateCoupon with a code in use: %v, want INVALID_ARGUMENT", err)
	}

	seen := map[string]bool{}
	req := &hlgatev1.ListCouponsRequest{LocationId: loc, PageSize: 3}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("the walk does not end")
		}
		page, err := h.payments.ListCoupons(ctx, req)
		if err != nil {
			t.Fatalf("ListCoupons: %v", err)
		}
		if page.GetTotalSize() != 4 {
			t.Fatalf("total_size = %d, want 4", page.GetTotalSize())
		}
		for _, c := range page.GetData() {
			if seen[c.GetId()] {
				t.Fatalf("coupon %s on two pages", c.GetId())
			}
			seen[c.GetId()] = true
		}
		if page.GetNextPageToken() == "" {
			break
		}
		req.PageToken = page.GetNextPageToken()
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("the walk missed coupon %s (saw %v)", id, seen)
		}
	}
	if l := restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/payments/coupon/list?status=expired", "", http.StatusOK); len(l["data"].([]any)) != 1 {
		t.Fatalf("GET expired coupons = %v, want the one", l)
	}
	if l, err := h.payments.ListCoupons(ctx, &hlgatev1.ListCouponsRequest{LocationId: loc, Status: proto.String("scheduled")}); err != nil || len(l.GetData()) != 1 || l.GetData()[0].GetCode() != "AUTUMN30" {
		t.Fatalf("ListCoupons(scheduled) = %v, %v", l, err)
	}

	got, err := h.payments.GetCoupon(ctx, &hlgatev1.GetCouponRequest{LocationId: loc, Id: proto.String(ids[1]), Code: proto.String("SUMMER20")})
	if err != nil || got.GetName() != "Sale SUMMER20" {
		t.Fatalf("GetCoupon = %v, %v", got, err)
	}
	if _, err := h.payments.GetCoupon(ctx, &hlgatev1.GetCouponRequest{LocationId: loc, Id: proto.String(ids[1]), Code: proto.String("SPRING10")}); status.Code(err) != codes.NotFound {
		t.Fatalf("GetCoupon with another coupon's code: %v, want NOT_FOUND", err)
	}
	restJSON(t, h, http.MethodGet, "/v1/locations/"+loc+"/payments/coupon?id="+ids[0]+"&code=SPRING10", "", http.StatusOK)

	up, err := h.payments.UpdateCoupon(ctx, &hlgatev1.UpdateCouponRequest{LocationId: loc, Id: proto.String(ids[0]), AltType: proto.String("location"),
		Name: proto.String("Spring, bigger"), Code: proto.String("SPRING15"), DiscountType: proto.String("percentage"), DiscountValue: proto.Float64(15),
		StartDate: proto.String("2020-01-01T00:00:00Z")})
	if err != nil || up.GetId() != ids[0] || up.GetCode() != "SPRING15" || up.GetDiscountValue() != 15 {
		t.Fatalf("UpdateCoupon = %v, %v", up, err)
	}
	if u := restJSON(t, h, http.MethodPut, "/v1/locations/"+loc+"/payments/coupon",
		`{"id":"`+ids[1]+`","altType":"location","name":"Summer","code":"SUMMER25","discountType":"percentage","discountValue":25,"startDate":"2020-01-01T00:00:00Z"}`, http.StatusOK); u["code"] != "SUMMER25" {
		t.Fatalf("PUT coupon = %v", u)
	}
	if d, err := h.payments.DeleteCoupon(ctx, &hlgatev1.DeleteCouponRequest{LocationId: loc, AltType: proto.String("location"), Id: proto.String(ids[0])}); err != nil || !d.GetSuccess() {
		t.Fatalf("DeleteCoupon = %v, %v", d, err)
	}
	restJSON(t, h, http.MethodDelete, "/v1/locations/"+loc+"/payments/coupon?altType=location&id="+ids[1], "", http.StatusOK)
	code, _, body := h.rest(http.MethodDelete, "/v1/locations/"+loc+"/payments/coupon?altType=location&id="+ids[1], "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted coupon = %d %s", code, body)
	}
	if l, err := h.payments.ListCoupons(ctx, &hlgatev1.ListCouponsRequest{LocationId: loc}); err != nil || l.GetTotalSize() != 2 {
		t.Fatalf("ListCoupons after two deletes = %v, %v", l, err)
	}
}

// The custom payment provider of the app in the location, whose sandbox
// handlers are hand-written (one provider per app and location): created
// over gRPC, refused a second time over REST, its keys connected and read
// over both, one mode disconnected, its capabilities set (a companyId
// refused, since the token is a location's), deleted.
func TestCustomProvider(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	base := "/v1/locations/" + loc + "/payments/custom-provider/"
	created, err := h.payments.CreateIntegration(ctx, &hlgatev1.CreateIntegrationRequest{LocationId: loc, Name: proto.String("Sandbox Pay"),
		Description: proto.String("Payments by the sandbox"), PaymentsUrl: proto.String("https://pay.example.com"), QueryUrl: proto.String("https://pay.example.com/q"),
		ImageUrl: proto.String("https://pay.example.com/logo.png"), SupportsSubscriptionSchedule: proto.Bool(true)})
	if err != nil || created.GetId() == "" || created.GetLocationId() != loc || created.GetMarketplaceAppId() == "" {
		t.Fatalf("CreateIntegration = %v, %v", created, err)
	}
	if code, _, b := h.rest(http.MethodPost, base+"provider", "", strings.NewReader(`{"name":"again","description":"d","paymentsUrl":"https://a","queryUrl":"https://b","imageUrl":"https://c","supportsSubscriptionSchedule":false}`)); code != http.StatusBadRequest {
		t.Fatalf("POST a second custom provider = %d %s, want 400", code, b)
	}
	if _, err := h.payments.CreateConfig(ctx, &hlgatev1.CreateConfigRequest{LocationId: loc,
		Live: &hlgatev1.CustomProviderKeys{ApiKey: proto.String("live-k"), PublishableKey: proto.String("live-p")},
		Test: &hlgatev1.CustomProviderKeys{ApiKey: proto.String("test-k"), PublishableKey: proto.String("test-p")}}); err != nil {
		t.Fatalf("CreateConfig: %v", err)
	}
	got, err := h.payments.FetchConfig(ctx, &hlgatev1.FetchConfigRequest{LocationId: loc})
	if err != nil || got.GetPaymentProvider().AsMap()["test"].(map[string]any)["apiKey"] != "test-k" {
		t.Fatalf("FetchConfig = %v, %v", got, err)
	}
	restJSON(t, h, http.MethodPost, base+"connect", `{"live":{"apiKey":"live-2","publishableKey":"p"},"test":{"apiKey":"test-2","publishableKey":"p"}}`, http.StatusOK)
	if d, err := h.payments.DisconnectConfig(ctx, &hlgatev1.DisconnectConfigRequest{LocationId: loc, LiveMode: proto.Bool(false)}); err != nil || !d.GetSuccess() {
		t.Fatalf("DisconnectConfig(test) = %v, %v", d, err)
	}
	if code, _, b := h.rest(http.MethodPost, base+"disconnect", "", strings.NewReader(`{"liveMode":false}`)); code != http.StatusBadRequest {
		t.Fatalf("POST disconnect of keys not connected = %d %s, want 400", code, b)
	}
	restJSON(t, h, http.MethodPost, base+"disconnect", `{"liveMode":true}`, http.StatusOK)
	if keys := restJSON(t, h, http.MethodGet, base+"connect", "", http.StatusOK)["paymentProvider"].(map[string]any); len(keys) != 0 {
		t.Fatalf("GET connect after both disconnects: keys %v", keys)
	}
	if c, err := h.payments.CustomProviderMarketplaceAppUpdateCapabilities(ctx, &hlgatev1.CustomProviderMarketplaceAppUpdateCapabilitiesRequest{LocationId: loc,
		SupportsSubscriptionSchedules: proto.Bool(false)}); err != nil || !c.GetSuccess() {
		t.Fatalf("CustomProviderMarketplaceAppUpdateCapabilities = %v, %v", c, err)
	}
	if code, _, b := h.rest(http.MethodPut, base+"capabilities", "", strings.NewReader(`{"supportsSubscriptionSchedules":true,"companyId":"`+sandbox.DemoCompanyID+`"}`)); code != http.StatusBadRequest {
		t.Fatalf("PUT capabilities naming a company = %d %s, want 400", code, b)
	}
	restJSON(t, h, http.MethodPut, base+"capabilities", `{"supportsSubscriptionSchedules":true}`, http.StatusOK)
	if d, err := h.payments.DeleteIntegration(ctx, &hlgatev1.DeleteIntegrationRequest{LocationId: loc}); err != nil || !d.GetSuccess() {
		t.Fatalf("DeleteIntegration = %v, %v", d, err)
	}
	if code, _, b := h.rest(http.MethodDelete, base+"provider", "", nil); code != http.StatusNotFound {
		t.Fatalf("DELETE a deleted custom provider = %d %s, want 404", code, b)
	}
	if _, err := h.payments.FetchConfig(ctx, &hlgatev1.FetchConfigRequest{LocationId: loc}); status.Code(err) != codes.NotFound {
		t.Fatalf("FetchConfig after the delete: %v, want NOT_FOUND", err)
	}
}
