package sandbox_test

import (
	"encoding/json"
	"net/http"

	"github.com/hlgate/hlgate/internal/specexample"
	"github.com/hlgate/hlgate/sandbox"
)

// restCases drives the hand-written handlers of sandbox/rest.go: the
// custom subtypes' list and a contact's subscriptions changed and read, a
// call's attachments, the time zones, the tasks' search, an order's
// fulfillments (and the refusals of an item or quantity the order lacks)
// and notes, the last-visited stamps and the agency's users by email.
func (cf *conformance) restCases(L, loc, agency, contactID string, nextWindow func()) {
	t := cf.t
	t.Helper()
	q := "?locationId=" + L
	nextWindow()
	sub := cf.run(confCase{name: "create custom subtype", method: http.MethodPost, path: "/conversations/preferences/custom-subtypes" + q, token: loc, status: 200,
		json: map[string]any{"name": "Newsletter", "channel": "email", "language": "en"}})
	subID := str(sub, "id")
	if list := cf.run(confCase{name: "custom subtypes", method: http.MethodGet, path: "/conversations/preferences/custom-subtypes" + q, token: loc, status: 200}); str(list, "customSubtypes", 0, "id") != subID {
		t.Errorf("custom subtypes = %v, want %s", list, subID)
	}
	cf.run(confCase{name: "custom subtypes other location", method: http.MethodGet, path: "/conversations/preferences/custom-subtypes?locationId=" + sandbox.OtherLocationID, token: loc, status: 403})
	contact := cf.run(confCase{name: "the contact", method: http.MethodGet, path: "/contacts/" + contactID, token: loc, status: 200})
	email := str(contact, "contact", "email")
	change := func(name string, status int, action map[string]any, reason string) {
		b := map[string]any{"locationId": L, "contactId": contactID, "email": email, "subscription_action": action}
		if reason != "" {
			b["legal_reason"] = reason
		}
		cf.run(confCase{name: name, method: http.MethodPost, path: "/conversations/preferences/unsubscriptions/user-change", token: loc, status: status, json: b})
	}
	change("unsubscribe one on one", 201, map[string]any{"type": "default", "subtype_name": "One on One", "subtype_status": "unsubscribed"}, "")
	change("unsubscribe the newsletter", 201, map[string]any{"type": "custom", "subtype_id": subID, "subtype_status": "unsubscribed"}, "")
	change("resubscribe without a reason", 422, map[string]any{"type": "custom", "subtype_id": subID, "subtype_status": "subscribed"}, "")
	change("unknown custom subtype", 404, map[string]any{"type": "custom", "subtype_id": "NoSuchSubtype0000001", "subtype_status": "unsubscribed"}, "")
	st := cf.run(confCase{name: "subscription status", method: http.MethodGet, token: loc, status: 200,
		path: "/conversations/preferences/unsubscriptions/status" + q + "&contactId=" + contactID})
	if str(st, "emails", 0, "subscriptions", 0, "subtype_status") != "unsubscribed" || str(st, "emails", 0, "subscriptions", 1, "subtype_status") != "unsubscribed" {
		t.Errorf("subscription status after two unsubscribes = %v", st)
	}
	cf.run(confCase{name: "subscription status of another email", method: http.MethodGet, token: loc, status: 400,
		path: "/conversations/preferences/unsubscriptions/status" + q + "&contactId=" + contactID + "&email=someone.else@example.com"})

	nextWindow()
	for coll, doc := range map[string]string{
		"/conversations/messages": `{"id":"ConfCallMessage00001","messageType":"TYPE_CUSTOM_CALL","type":34,"locationId":"` + L + `"}`,
		"/users":                  `{"id":"ConfUser000000000001","email":"Conf.User@example.com","firstName":"Conf","deleted":false}`,
	} {
		if err := cf.e.sb.PutDocument(L, coll, json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
	}
	cf.run(confCase{name: "message attachments", method: http.MethodPut, path: "/conversations/messages/ConfCallMessage00001/attachments", token: loc, status: 200,
		json: map[string]any{"attachments": []string{"https://provider.example.com/recordings/call-1.mp3"}}})
	cf.run(confCase{name: "six message attachments", method: http.MethodPut, path: "/conversations/messages/ConfCallMessage00001/attachments", token: loc, status: 422, badRequest: true,
		json: map[string]any{"attachments": []string{"https://a.example/1", "https://a.example/2", "https://a.example/3", "https://a.example/4", "https://a.example/5", "https://a.example/6"}}})
	if tz := cf.run(confCase{name: "time zones", method: http.MethodGet, path: "/locations/" + L + "/timezones", token: loc, status: 200}); str(tz, "timeZones", 0) == "" {
		t.Errorf("time zones = %v", tz)
	}
	cf.run(confCase{name: "create a task", method: http.MethodPost, path: "/contacts/" + contactID + "/tasks", token: loc, status: 201,
		json: map[string]any{"title": "Call back about the crown", "dueDate": "2026-04-20T10:00:00Z", "completed": false}})
	if found := cf.run(confCase{name: "task search", method: http.MethodPost, path: "/locations/" + L + "/tasks/search", token: loc, status: 200,
		json: map[string]any{"contactId": []string{contactID}, "query": "CROWN", "limit": 10}}); str(found, "tasks", 0, "contactId") != contactID {
		t.Errorf("task search = %v, want the contact's task", found)
	}
	if got := cf.run(confCase{name: "users by email", method: http.MethodPost, path: "/users/search/filter-by-email", token: agency, status: 200,
		json: map[string]any{"companyId": sandbox.DemoCompanyID, "emails": "conf.user@example.com,nobody@example.com"}}); str(got, "users", 0, "id") != "ConfUser000000000001" {
		t.Errorf("users by email = %v", got)
	}
	cf.run(confCase{name: "users by email, location token", method: http.MethodPost, path: "/users/search/filter-by-email", token: loc, status: 401,
		json: map[string]any{"companyId": sandbox.DemoCompanyID, "emails": "conf.user@example.com"}})

	nextWindow()
	orders := cf.run(confCase{name: "completed orders", method: http.MethodGet, path: "/payments/orders?altId=" + L + "&status=completed&limit=1", token: loc, status: 200})
	orderID := str(orders, "data", 0, "_id")
	oq := "?altId=" + L + "&altType=location"
	order := cf.run(confCase{name: "order to fulfil", method: http.MethodGet, path: "/payments/orders/" + orderID + oq, token: loc, status: 200})
	priceID := str(order, "items", 0, "price", "_id")
	qty, _ := order["items"].([]any)[0].(map[string]any)["qty"].(float64)
	fulfil := func(name string, status int, price string, n float64) {
		cf.run(confCase{name: name, method: http.MethodPost, path: "/payments/orders/" + orderID + "/fulfillments", token: loc, status: status,
			json: map[string]any{"altId": L, "altType": "location", "notifyCustomer": false,
				"trackings": []any{map[string]any{"trackingNumber": "40012345678", "shippingCarrier": "FedEx"}},
				"items":     []any{map[string]any{"priceId": price, "qty": n}}}})
	}
	fulfil("fulfil an item the order lacks", 422, "NoSuchPrice000000001", 1)
	fulfil("fulfil more than the order holds", 422, priceID, qty+1)
	fulfil("fulfil an item", 200, priceID, qty)
	fulfil("fulfil it again", 422, priceID, 1)
	if got := cf.run(confCase{name: "fulfillments", method: http.MethodGet, path: "/payments/orders/" + orderID + "/fulfillments" + oq, token: loc, status: 200}); str(got, "data", 0, "items", 0, "_id") != priceID {
		t.Errorf("fulfillments = %v, want the one made", got)
	}
	cf.run(confCase{name: "order notes", method: http.MethodGet, path: "/payments/orders/" + orderID + "/notes" + oq, token: loc, status: 200})
	cf.run(confCase{name: "order notes, unknown order", method: http.MethodGet, path: "/payments/orders/nope/notes" + oq, token: loc, status: 400})

	nextWindow()
	body := func(path string) map[string]any {
		b, _ := located(specexample.Body(cf.doc.Paths.Value(path).GetOperation(http.MethodPost)), L).(map[string]any)
		return b
	}
	inv := createdID(cf.run(confCase{name: "invoice to visit", method: http.MethodPost, path: "/invoices/", token: loc, status: 200, json: body("/invoices/")}))
	est := createdID(cf.run(confCase{name: "estimate to visit", method: http.MethodPost, path: "/invoices/estimate", token: loc, status: 201, json: body("/invoices/estimate")}))
	cf.run(confCase{name: "invoice visited", method: http.MethodPatch, path: "/invoices/stats/last-visited-at", token: loc, status: 200, json: map[string]any{"invoiceId": inv}})
	cf.run(confCase{name: "unknown invoice visited", method: http.MethodPatch, path: "/invoices/stats/last-visited-at", token: loc, status: 404, json: map[string]any{"invoiceId": "NoSuchInvoice0000001"}})
	cf.run(confCase{name: "estimate visited", method: http.MethodPatch, path: "/invoices/estimate/stats/last-visited-at", token: loc, status: 200, json: map[string]any{"estimateId": est}})
}
