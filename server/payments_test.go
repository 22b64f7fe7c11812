package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// readTestdataJSON decodes testdata/<dir>/<name> into v.
func readTestdataJSON(t *testing.T, dir, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readTestdata(t, dir, name), v); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// readTestdata reads a golden file of testdata/dir.
func readTestdata(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatalf("read golden: %v", err)
	}
	return b
}

func mustTime(t *testing.T, s string) *timestamppb.Timestamp {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return timestamppb.New(tm)
}

// The official examples of the four payments answers reach the hlgate.v1
// messages field by field through the generic path, from both the flat
// (list) and the nested (get) shape, and what has no field is kept.
func TestPaymentsConversionsFromGolden(t *testing.T) {
	t.Parallel()
	const loc = "3SwdhCu3svxI8AKsPJt6"
	s := fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); q.Get("altId") != loc || q.Get("altType") != "location" || q.Get("locationId") != loc {
			t.Errorf("%s: query %v lacks the alt ids", r.URL.Path, q)
		}
		name := map[string]string{
			"/payments/orders": "list_orders.json", "/payments/orders/653f5e0cde5a1314e62a837c": "get_order.json",
			"/payments/transactions": "list_transactions.json", "/payments/transactions/61dd0feac077f72010f78804": "get_transaction.json",
		}[r.URL.Path]
		if name == "" {
			t.Errorf("unexpected upstream call %s", r.URL.Path)
			w.WriteHeader(http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(readTestdata(t, "payments", name))
	})
	call := func(t *testing.T, method string, req proto.Message) proto.Message {
		t.Helper()
		out, err := callForward(t.Context(), s, method, req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return out
	}
	listOrder := func(t *testing.T) (proto.Message, map[string]any) {
		r := call(t, hlgatev1.PaymentsService_ListOrders_FullMethodName, &hlgatev1.ListOrdersRequest{LocationId: loc}).(*hlgatev1.ListOrdersResponse)
		if len(r.GetOrders()) != 1 || r.GetTotalSize() != 1 || r.GetNextPageToken() != "" {
			t.Fatalf("list_orders.json: %d orders, total %d, next %q", len(r.GetOrders()), r.GetTotalSize(), r.GetNextPageToken())
		}
		return r.GetOrders()[0], r.GetOrders()[0].GetUnmapped().AsMap()
	}
	getOrder := func(t *testing.T) (proto.Message, map[string]any) {
		o := call(t, hlgatev1.PaymentsService_GetOrder_FullMethodName, &hlgatev1.GetOrderRequest{LocationId: loc, OrderId: "653f5e0cde5a1314e62a837c"}).(*hlgatev1.GetOrderResponse).GetOrder()
		return o, o.GetUnmapped().AsMap()
	}
	listTx := func(t *testing.T) (proto.Message, map[string]any) {
		r := call(t, hlgatev1.PaymentsService_ListTransactions_FullMethodName, &hlgatev1.ListTransactionsRequest{LocationId: loc}).(*hlgatev1.ListTransactionsResponse)
		if len(r.GetTransactions()) != 1 || r.GetTotalSize() != 1 || r.GetNextPageToken() != "" {
			t.Fatalf("list_transactions.json: %d transactions, total %d", len(r.GetTransactions()), r.GetTotalSize())
		}
		return r.GetTransactions()[0], r.GetTransactions()[0].GetUnmapped().AsMap()
	}
	getTx := func(t *testing.T) (proto.Message, map[string]any) {
		tx := call(t, hlgatev1.PaymentsService_GetTransaction_FullMethodName, &hlgatev1.GetTransactionRequest{LocationId: loc, TransactionId: "61dd0feac077f72010f78804"}).(*hlgatev1.GetTransactionResponse).GetTransaction()
		return tx, tx.GetUnmapped().AsMap()
	}
	snapshot := map[string]any{"last_name": "Mcclain", "type": "lead", "first_name": "Rogan", "first_name_lower_case": "rogan",
		"last_name_lower_case": "mcclain", "location_id": "o6241QsiRwUIJHyjuhos", "company_name": "Jordan and Cox Trading"}
	for _, tc := range []struct {
		name     string
		convert  func(t *testing.T) (proto.Message, map[string]any)
		want     func(t *testing.T) proto.Message
		unmapped map[string]any // some of the keys that must be kept
	}{
		{"list order", listOrder, func(t *testing.T) proto.Message {
			return &hlgatev1.Order{
				Id: "653f5e0cde5a1314e62a837c", LocationId: "3SwdhCu3svxI8AKsPJt6", ContactId: "XPLSw2SVagl12LMDeTmQ",
				ContactName: "James Bond", ContactEmail: "james.bond@gohighlevel.com", Currency: "USD",
				Amount: 100, Subtotal: 100, Discount: 10, Status: "completed", FulfillmentStatus: "unfulfilled",
				SourceType: "funnel", SourceSubType: "one_step_order_form", SourceId: "kDj7BHej9Zyyq3QakJmz", SourceName: "onestep",
				CouponCode: "100PER", TotalProducts: 5, CreatedBy: "user123",
				CreatedAt: mustTime(t, "2023-11-20T10:23:36.515Z"), UpdatedAt: mustTime(t, "2024-01-23T09:57:04.846Z"),
			}
		}, map[string]any{"altType": "location", "onetimeProducts": 1.0, "sourceMeta": map[string]any{
			"domain": "app.gohighlevel.com", "pageId": "rBVhyYhMsbxbO8ZqOcei", "pageUrl": "/v2/preview/rBVhyYhMsbxbO8ZqOcei", "stepId": "5a772f62-3fbc-418b-af1b-be8929dd64c2"}}},
		// The snapshot's name is in first_name and last_name only, which no
		// field reads: contact_name stays empty, and the snapshot less its
		// email is kept.
		{"get order", getOrder, func(t *testing.T) proto.Message {
			return &hlgatev1.Order{
				Id: "653f5e0cde5a1314e62a837c", LocationId: "3SwdhCu3svxI8AKsPJt6", ContactId: "XPLSw2SVagl12LMDeTmQ",
				ContactEmail: "anish+11@gohighlevel.com", Currency: "USD",
				Amount: 100, Subtotal: 100, Discount: 5, Status: "completed", FulfillmentStatus: "unfulfilled",
				SourceType: "invoice", SourceId: "61dd48ff65b013bc39bb09c6", CouponCode: "FEST10", CreatedBy: "user123",
				CreatedAt: mustTime(t, "2023-11-20T10:23:36.515Z"), UpdatedAt: mustTime(t, "2024-01-23T09:57:04.846Z"),
				Items: []*hlgatev1.OrderItem{{
					Id: "61dd33e88058b9f967ca79dc", Name: "Sample Product", Quantity: 2, UnitPrice: 199999, Currency: "INR",
					PriceId: "655b33aa2209e60b6adb87a7", ProductId: "655b33a82209e60b6adb87a5", ProductName: "Testing product", ProductType: "SERVICE",
				}},
			}
		}, map[string]any{"contactSnapshot": snapshot, "coupon": map[string]any{"_id": "63455e48901b43d4ef364a20"},
			"items.0.price": map[string]any{"name": "Red / S", "type": "one_time"}, "items.0.locationId": "SBAWb4yu7A4LSc0skQ6g", "taxCalculationProvider": "taxjar"}},
		{"list transaction", listTx, func(t *testing.T) proto.Message {
			return &hlgatev1.Transaction{
				Id: "61dd0feac077f72010f78804", LocationId: "3SwdhCu3svxI8AKsPJt6", ContactId: "XPLSw2SVagl12LMDeTmQ",
				ContactName: "James Bond", ContactEmail: "james.bond@gohighlevel.com", Currency: "USD",
				Amount: 100, AmountRefunded: 10, Status: "succeeded", EntityType: "order", EntityId: "61dd0fe9c077f73e67f78803",
				EntitySourceType: "funnel", EntitySourceSubType: "two_step_order_form", EntitySourceId: "BDBMEghdIUaqMPEsK349",
				EntitySourceName: "new funnel", SubscriptionId: "sub_1KGcXDCScnf89tZoVkoEMCEL", ChargeId: "in_1KGcXDCScnf89tZohCsmImwE",
				PaymentProviderType: "stripe", CreatedBy: "user123",
				CreatedAt: mustTime(t, "2023-11-20T10:23:36.515Z"), UpdatedAt: mustTime(t, "2023-11-20T10:23:36.515Z"),
				FulfilledAt: mustTime(t, "2023-11-20T10:27:36.515Z"),
			}
		}, map[string]any{"paymentMethod": map[string]any{"card": map[string]any{"brand": "discover", "last4": "0012"}}, "ipAddress": "107.178.194.224"}},
		{"get transaction", getTx, func(t *testing.T) proto.Message {
			return &hlgatev1.Transaction{
				Id: "61dd0feac077f72010f78804", LocationId: "3SwdhCu3svxI8AKsPJt6", ContactId: "XPLSw2SVagl12LMDeTmQ",
				ContactEmail: "anish+11@gohighlevel.com", Currency: "USD",
				Amount: 100, AmountRefunded: 10, Status: "succeeded", EntityType: "order", EntityId: "61dd0fe9c077f73e67f78803",
				EntitySourceType: "funnel", EntitySourceSubType: "two_step_order_form", EntitySourceId: "BDBMEghdIUaqMPEsK349",
				EntitySourceName: "new funnel", SubscriptionId: "sub_1KGcXDCScnf89tZoVkoEMCEL", ChargeId: "in_1KGcXDCScnf89tZohCsmImwE",
				PaymentProviderType: "stripe", InvoiceId: "in_1KGcXDCScnf89tZohCsmImwE", CreatedBy: "user123",
				CreatedAt: mustTime(t, "2023-11-20T10:23:36.515Z"), UpdatedAt: mustTime(t, "2024-01-23T09:57:04.846Z"),
			}
		}, map[string]any{"contactSnapshot": snapshot, "paymentProvider": map[string]any{"connectedAccount": map[string]any{"_id": "612ca676b484b241fef9d962", "accountId": "acct_1Ihw53CScnf89tZo"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, unmapped := tc.convert(t)
			if diff := cmp.Diff(tc.want(t), got, protocmp.Transform(), protocmp.IgnoreFields(&hlgatev1.Order{}, "unmapped"), protocmp.IgnoreFields(&hlgatev1.Transaction{}, "unmapped")); diff != "" {
				t.Errorf("conversion (-want +got):\n%s", diff)
			}
			for k, want := range tc.unmapped {
				if diff := cmp.Diff(want, unmapped[k]); diff != "" {
					t.Errorf("unmapped[%q] (-want +got):\n%s", k, diff)
				}
			}
		})
	}
}

// The other direction: list requests become the upstream query, altId,
// altType and locationId from location_id, the page as limit/offset.
func TestPaymentsRequestsToHL(t *testing.T) {
	t.Parallel()
	s := fakeHL(t, nil)
	loc := "3SwdhCu3svxI8AKsPJt6"
	orders := &hlgatev1.ListOrdersRequest{
		LocationId: loc, Status: "completed", PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_PARTIALLY_PAID,
		ContactId: "XPLSw2SVagl12LMDeTmQ", StartDate: "2023-11-01", EndDate: "2023-11-30", Query: "Bond", PageSize: 20,
	}
	tok, err := s.pages.seal(hlgatev1.PaymentsService_ListOrders_FullMethodName, orders, upstreamCursor{Seen: 40})
	if err != nil {
		t.Fatal(err)
	}
	orders.PageToken = tok
	for _, tc := range []struct {
		method string
		req    proto.Message
		path   string
		want   url.Values
	}{
		{hlgatev1.PaymentsService_ListOrders_FullMethodName, orders, "/payments/orders", url.Values{
			"altId": {loc}, "altType": {"location"}, "locationId": {loc}, "status": {"completed"}, "paymentStatus": {"partially_paid"},
			"contactId": {"XPLSw2SVagl12LMDeTmQ"}, "startAt": {"2023-11-01"}, "endAt": {"2023-11-30"}, "search": {"Bond"}, "limit": {"20"}, "offset": {"40"},
		}},
		{hlgatev1.PaymentsService_ListTransactions_FullMethodName, &hlgatev1.ListTransactionsRequest{
			LocationId: loc, EntityId: "61dd0fe9c077f73e67f78803", SubscriptionId: "sub_1KGcXDCScnf89tZoVkoEMCEL",
		}, "/payments/transactions", url.Values{
			"altId": {loc}, "altType": {"location"}, "locationId": {loc}, "entityId": {"61dd0fe9c077f73e67f78803"},
			"subscriptionId": {"sub_1KGcXDCScnf89tZoVkoEMCEL"}, "limit": {"50"}, "offset": {"0"},
		}},
		{hlgatev1.PaymentsService_GetOrder_FullMethodName, &hlgatev1.GetOrderRequest{LocationId: loc, OrderId: "o1"},
			"/payments/orders/o1", url.Values{"altId": {loc}, "altType": {"location"}, "locationId": {loc}}},
		{hlgatev1.PaymentsService_GetTransaction_FullMethodName, &hlgatev1.GetTransactionRequest{LocationId: loc, TransactionId: "t1"},
			"/payments/transactions/t1", url.Values{"altId": {loc}, "altType": {"location"}, "locationId": {loc}}},
	} {
		f := forwards[tc.method]
		var pg page
		if f.paging != nil {
			if pg, err = s.openPage(f.method, f.paging, tc.req); err != nil {
				t.Fatalf("%s: %v", tc.method, err)
			}
		}
		r, err := f.request(tc.req, f.paging.request(pg))
		if err != nil {
			t.Fatalf("%s: %v", tc.method, err)
		}
		if r.path != tc.path || !cmp.Equal(r.query, tc.want) {
			t.Errorf("%s: %s?%v, want %s?%v", tc.method, r.path, r.query, tc.path, tc.want)
		}
	}
}

// walkOrders reads every page of ListOrders and returns the orders and the
// total HighLevel reported, failing on a duplicate.
func walkOrders(t *testing.T, h *harness, req *hlgatev1.ListOrdersRequest) ([]*hlgatev1.Order, int) {
	t.Helper()
	ctx := h.ctx("")
	var all []*hlgatev1.Order
	seen := map[string]bool{}
	total := -1
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("more than 200 pages")
		}
		resp, err := h.payments.ListOrders(ctx, req)
		if err != nil {
			t.Fatalf("ListOrders page %d: %v", pages, err)
		}
		if total >= 0 && int(resp.GetTotalSize()) != total {
			t.Fatalf("total_size changed from %d to %d", total, resp.GetTotalSize())
		}
		total = int(resp.GetTotalSize())
		for _, o := range resp.GetOrders() {
			if seen[o.GetId()] {
				t.Fatalf("order %s returned twice", o.GetId())
			}
			seen[o.GetId()] = true
			all = append(all, o)
		}
		if resp.GetNextPageToken() == "" {
			return all, total
		}
		if len(resp.GetOrders()) != pageSizeOr(req.GetPageSize()) {
			t.Fatalf("a page before the last holds %d orders, want %d", len(resp.GetOrders()), pageSizeOr(req.GetPageSize()))
		}
		req = proto.Clone(req).(*hlgatev1.ListOrdersRequest)
		req.PageToken = resp.GetNextPageToken()
	}
}

func pageSizeOr(n int32) int {
	if n == 0 {
		return defaultPageSize
	}
	return int(n)
}

func TestListOrdersWalksEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	all, total := walkOrders(t, h, &hlgatev1.ListOrdersRequest{LocationId: sandbox.DemoLocationID, PageSize: 17})
	if total < 100 || len(all) != total {
		t.Fatalf("walked %d distinct orders, total_size %d", len(all), total)
	}
	// Newest first, as HighLevel lists them, across page boundaries.
	for i := 1; i < len(all); i++ {
		if all[i].GetCreatedAt().AsTime().After(all[i-1].GetCreatedAt().AsTime()) {
			t.Fatalf("order %d created %v after order %d created %v", i, all[i].GetCreatedAt().AsTime(), i-1, all[i-1].GetCreatedAt().AsTime())
		}
	}
	for _, o := range all {
		if o.GetLocationId() != sandbox.DemoLocationID || o.GetCurrency() != "USD" || o.GetAmount() <= 0 || o.GetCreatedAt() == nil {
			t.Fatalf("order = %v", o)
		}
	}

	// A filter narrows the walk, and its total is the filtered count.
	paid, paidTotal := walkOrders(t, h, &hlgatev1.ListOrdersRequest{
		LocationId: sandbox.DemoLocationID, PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_PAID, PageSize: 100,
	})
	if paidTotal == 0 || paidTotal >= total || len(paid) != paidTotal {
		t.Fatalf("paid orders: walked %d, total %d of %d", len(paid), paidTotal, total)
	}
	for _, o := range paid {
		if o.GetStatus() != "completed" { // the sandbox pays exactly the completed orders
			t.Fatalf("paid filter returned order %s of status %q", o.GetId(), o.GetStatus())
		}
	}
}

func TestListTransactionsWalksEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	req := &hlgatev1.ListTransactionsRequest{LocationId: sandbox.DemoLocationID, PageSize: 13}
	seen := map[string]bool{}
	total := -1
	for pages := 0; ; pages++ {
		if pages > 200 {
			t.Fatal("more than 200 pages")
		}
		resp, err := h.payments.ListTransactions(ctx, req)
		if err != nil {
			t.Fatalf("ListTransactions page %d: %v", pages, err)
		}
		if total >= 0 && int(resp.GetTotalSize()) != total {
			t.Fatalf("total_size changed from %d to %d", total, resp.GetTotalSize())
		}
		total = int(resp.GetTotalSize())
		for _, tx := range resp.GetTransactions() {
			if seen[tx.GetId()] {
				t.Fatalf("transaction %s returned twice", tx.GetId())
			}
			seen[tx.GetId()] = true
			if tx.GetEntityType() != "order" || tx.GetEntityId() == "" || tx.GetFulfilledAt() == nil {
				t.Fatalf("transaction = %v", tx)
			}
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		if len(resp.GetTransactions()) != 13 {
			t.Fatalf("a page before the last holds %d transactions", len(resp.GetTransactions()))
		}
		req.PageToken = resp.GetNextPageToken()
	}
	if total < 50 || len(seen) != total {
		t.Fatalf("walked %d distinct transactions, total_size %d", len(seen), total)
	}
}

// An order read alone matches its list entry, and its payments are the
// transactions whose entity_id is the order.
func TestOrderAndItsTransactionsOverGRPC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	list, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PaymentStatus: hlgatev1.PaymentStatus_PAYMENT_STATUS_PAID, PageSize: 5})
	if err != nil || len(list.GetOrders()) == 0 {
		t.Fatalf("ListOrders: %v (%d orders)", err, len(list.GetOrders()))
	}
	listed := list.GetOrders()[0]
	got, err := h.payments.GetOrder(ctx, &hlgatev1.GetOrderRequest{LocationId: loc, OrderId: listed.GetId()})
	if err != nil {
		t.Fatalf("GetOrder: %v", err)
	}
	// GetOrder reads the nested shape (snapshot, amount summary, source);
	// the fields both calls carry must agree.
	o := got.GetOrder()
	for name, pair := range map[string][2]any{
		"id": {o.GetId(), listed.GetId()}, "location_id": {o.GetLocationId(), listed.GetLocationId()},
		"contact_id": {o.GetContactId(), listed.GetContactId()}, "contact_name": {o.GetContactName(), listed.GetContactName()},
		"contact_email": {o.GetContactEmail(), listed.GetContactEmail()}, "amount": {o.GetAmount(), listed.GetAmount()},
		"subtotal": {o.GetSubtotal(), listed.GetSubtotal()}, "currency": {o.GetCurrency(), listed.GetCurrency()},
		"status": {o.GetStatus(), listed.GetStatus()}, "source_type": {o.GetSourceType(), listed.GetSourceType()},
		"source_id": {o.GetSourceId(), listed.GetSourceId()}, "created_at": {o.GetCreatedAt().AsTime(), listed.GetCreatedAt().AsTime()},
	} {
		if pair[0] != pair[1] {
			t.Errorf("GetOrder %s = %v, ListOrders %s = %v", name, pair[0], name, pair[1])
		}
	}
	if o.GetContactName() == "" || o.GetSubtotal() == 0 || o.GetSourceType() == "" {
		t.Errorf("GetOrder lacks the nested members: %v", o)
	}

	txs, err := h.payments.ListTransactions(ctx, &hlgatev1.ListTransactionsRequest{LocationId: loc, EntityId: o.GetId()})
	if err != nil {
		t.Fatalf("ListTransactions: %v", err)
	}
	if len(txs.GetTransactions()) == 0 || int(txs.GetTotalSize()) != len(txs.GetTransactions()) || txs.GetNextPageToken() != "" {
		t.Fatalf("transactions of a paid order: %d, total %d, next %q", len(txs.GetTransactions()), txs.GetTotalSize(), txs.GetNextPageToken())
	}
	var sum float64
	for _, tx := range txs.GetTransactions() {
		if tx.GetEntityId() != o.GetId() || tx.GetContactId() != o.GetContactId() {
			t.Fatalf("transaction %s pays %s for %s, want order %s of %s", tx.GetId(), tx.GetEntityId(), tx.GetContactId(), o.GetId(), o.GetContactId())
		}
		sum += tx.GetAmount()
	}
	if diff := sum - o.GetAmount(); diff > 0.001 || diff < -0.001 {
		t.Errorf("the order's transactions sum to %v, the order is %v", sum, o.GetAmount())
	}

	first := txs.GetTransactions()[0]
	one, err := h.payments.GetTransaction(ctx, &hlgatev1.GetTransactionRequest{LocationId: loc, TransactionId: first.GetId()})
	if err != nil {
		t.Fatalf("GetTransaction: %v", err)
	}
	if diff := cmp.Diff(first, one.GetTransaction(), protocmp.Transform()); diff != "" {
		t.Errorf("GetTransaction differs from its list entry (-list +get):\n%s", diff)
	}
}

func TestPaymentsOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	base := "/v1/locations/" + sandbox.DemoLocationID

	code, _, body := h.rest(http.MethodGet, base+"/orders?pageSize=5&paymentStatus=PAYMENT_STATUS_PAID", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET orders = %d %s", code, body)
	}
	var page struct {
		Orders []struct {
			ID     string  `json:"id"`
			Amount float64 `json:"amount"`
			Status string  `json:"status"`
		} `json:"orders"`
		NextPageToken string `json:"nextPageToken"`
		TotalSize     int    `json:"totalSize"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Orders) != 5 || page.NextPageToken == "" || page.TotalSize <= 5 {
		t.Fatalf("GET orders body = %s (%v)", body, err)
	}
	firstPage := page.Orders
	code, _, body = h.rest(http.MethodGet, base+"/orders?pageSize=5&paymentStatus=PAYMENT_STATUS_PAID&pageToken="+url.QueryEscape(page.NextPageToken), "", nil)
	page.Orders = nil
	if err := json.Unmarshal(body, &page); code != http.StatusOK || err != nil || len(page.Orders) == 0 {
		t.Fatalf("GET orders page 2 = %d %s", code, body)
	}
	for _, a := range firstPage {
		for _, b := range page.Orders {
			if a.ID == b.ID {
				t.Fatalf("order %s on both pages", a.ID)
			}
		}
	}

	code, _, body = h.rest(http.MethodGet, base+"/orders/"+firstPage[0].ID, "", nil)
	var got struct {
		Order struct {
			ID     string  `json:"id"`
			Amount float64 `json:"amount"`
		} `json:"order"`
	}
	if err := json.Unmarshal(body, &got); code != http.StatusOK || err != nil || got.Order.ID != firstPage[0].ID || got.Order.Amount != firstPage[0].Amount {
		t.Fatalf("GET order = %d %s", code, body)
	}

	code, _, body = h.rest(http.MethodGet, base+"/transactions?entityId="+firstPage[0].ID, "", nil)
	var txs struct {
		Transactions []struct {
			ID       string `json:"id"`
			EntityID string `json:"entityId"`
		} `json:"transactions"`
	}
	if err := json.Unmarshal(body, &txs); code != http.StatusOK || err != nil || len(txs.Transactions) == 0 || txs.Transactions[0].EntityID != firstPage[0].ID {
		t.Fatalf("GET transactions = %d %s", code, body)
	}
	code, _, body = h.rest(http.MethodGet, base+"/transactions/"+txs.Transactions[0].ID, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET transaction = %d %s", code, body)
	}
	var tx struct {
		Transaction struct {
			ID string `json:"id"`
		} `json:"transaction"`
	}
	if err := json.Unmarshal(body, &tx); err != nil || tx.Transaction.ID != txs.Transactions[0].ID {
		t.Fatalf("GET transaction body = %s (%v)", body, err)
	}

	// Bad input is a 400 naming the field, over REST too.
	code, _, body = h.rest(http.MethodGet, base+"/orders?startDate=2024-02-10&endDate=2024-02-01", "", nil)
	if code != http.StatusBadRequest || !json.Valid(body) || !restNamesField(body, "end_date") {
		t.Fatalf("GET orders with end before start = %d %s", code, body)
	}
}

// restNamesField reports whether a REST error body names field in a
// BadRequest violation.
func restNamesField(body []byte, field string) bool {
	var st struct {
		Details []struct {
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if json.Unmarshal(body, &st) != nil {
		return false
	}
	for _, d := range st.Details {
		for _, v := range d.FieldViolations {
			if v.Field == field {
				return true
			}
		}
	}
	return false
}

// Bad requests are refused naming each field, and none reaches HighLevel.
func TestPaymentsValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	first, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PageSize: 5})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v", err)
	}
	before := sandboxRequests(h.sb)

	for _, tc := range []struct {
		name   string
		call   func() error
		fields []string
	}{
		{"orders bad dates", func() error {
			_, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: "bad/id", StartDate: "2024-13-01", EndDate: "tomorrow", ContactId: "a b"})
			return err
		}, []string{"location_id", "start_date", "end_date", "contact_id"}},
		{"orders end before start", func() error {
			_, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, StartDate: "2024-02-10", EndDate: "2024-02-01"})
			return err
		}, []string{"end_date"}},
		{"orders unknown payment status", func() error {
			_, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PaymentStatus: 42})
			return err
		}, []string{"payment_status"}},
		{"orders negative page size", func() error {
			_, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, PageSize: -1})
			return err
		}, []string{"page_size"}},
		{"orders token of other filters", func() error {
			_, err := h.payments.ListOrders(ctx, &hlgatev1.ListOrdersRequest{LocationId: loc, Status: "completed", PageToken: first.GetNextPageToken()})
			return err
		}, []string{"page_token"}},
		{"transactions token of orders", func() error {
			_, err := h.payments.ListTransactions(ctx, &hlgatev1.ListTransactionsRequest{LocationId: loc, PageToken: first.GetNextPageToken()})
			return err
		}, []string{"page_token"}},
		{"transactions bad filters", func() error {
			_, err := h.payments.ListTransactions(ctx, &hlgatev1.ListTransactionsRequest{LocationId: loc, EntityId: "../x", SubscriptionId: "?", EndDate: "01/02/2024"})
			return err
		}, []string{"entity_id", "subscription_id", "end_date"}},
		{"get order without id", func() error {
			_, err := h.payments.GetOrder(ctx, &hlgatev1.GetOrderRequest{LocationId: loc})
			return err
		}, []string{"order_id"}},
		{"get transaction bad ids", func() error {
			_, err := h.payments.GetTransaction(ctx, &hlgatev1.GetTransactionRequest{TransactionId: "x/y"})
			return err
		}, []string{"location_id", "transaction_id"}},
	} {
		st := wantStatus(t, tc.call(), codes.InvalidArgument, ReasonInvalidArgument)
		for _, f := range tc.fields {
			wantFieldViolation(t, st, f)
		}
	}
	if after := sandboxRequests(h.sb); after != before {
		t.Fatalf("invalid requests reached the sandbox: %d → %d", before, after)
	}
}
