package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/hlgate/hlgate/api"
	"github.com/hlgate/hlgate/sandbox"
)

// confCase is one exchange of the conformance test.
type confCase struct {
	name   string
	method string
	path   string // with query
	json   any    // JSON body
	form   url.Values
	// raw is a body of another media type (a multipart form), sent with
	// the Content-Type ctype.
	raw    []byte
	ctype  string
	token  string
	status int
	// badRequest marks a request the document itself rejects (a required
	// member missing, a value out of range): the validator must refuse it
	// and the sandbox must too, which is what "at least as strict" means.
	badRequest bool
}

type conformance struct {
	t      *testing.T
	e      *env
	doc    *openapi3.T
	router routers.Router
	served map[string]bool // operationId → a 2xx answer was validated
}

func newConformance(t *testing.T, e *env) *conformance {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: e.srv.URL}}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate document: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("router: %v", err)
	}
	return &conformance{t: t, e: e, doc: doc, router: router, served: map[string]bool{}}
}

// run sends one case, validating the request and the answer against the
// document; it returns the decoded body.
func (cf *conformance) run(c confCase) map[string]any {
	t := cf.t
	t.Helper()
	var body []byte
	ctype := ""
	switch {
	case c.json != nil:
		b, err := json.Marshal(c.json)
		if err != nil {
			t.Fatal(err)
		}
		body, ctype = b, "application/json"
	case c.form != nil:
		body, ctype = []byte(c.form.Encode()), "application/x-www-form-urlencoded"
	case c.raw != nil:
		body, ctype = c.raw, c.ctype
	}
	req, err := http.NewRequest(c.method, cf.e.srv.URL+c.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	route, params, err := cf.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s: %s %s is not an operation of the document: %v", c.name, c.method, c.path, err)
	}
	if v, ok := route.Operation.Extensions["x-hlgate-version"].(string); ok {
		req.Header.Set("Version", v)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	if c.badRequest != (reqErr != nil) {
		t.Fatalf("%s: request validation error %v, want an error: %v", c.name, reqErr, c.badRequest)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, respBody := cf.e.do(req)
	if resp.StatusCode != c.status {
		t.Fatalf("%s: %s %s answered %d %s, want %d", c.name, c.method, c.path, resp.StatusCode, respBody, c.status)
	}
	// An answer of bytes (a recording) is checked for its declared media
	// type and a body; kin-openapi decodes JSON, forms and text only.
	bytesAnswer := false
	if r := route.Operation.Responses.Value(strconv.Itoa(resp.StatusCode)); r != nil && r.Value != nil {
		for ct, mt := range r.Value.Content {
			if mt.Schema != nil && mt.Schema.Value != nil && mt.Schema.Value.Format == "binary" {
				bytesAnswer = true
				if got := resp.Header.Get("Content-Type"); got != ct || len(respBody) == 0 {
					t.Fatalf("%s: answer %d of %d bytes is %q, want %s bytes", c.name, resp.StatusCode, len(respBody), got, ct)
				}
			}
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body:    io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: bytesAnswer},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("%s: answer %d %s does not conform: %v", c.name, resp.StatusCode, respBody, err)
	}
	if resp.StatusCode < 300 {
		cf.served[route.Operation.OperationID] = true
	}
	if bytesAnswer {
		return map[string]any{answerBytes: string(respBody)}
	}
	var m map[string]any
	if len(respBody) > 0 {
		var v any
		if err := json.Unmarshal(respBody, &v); err != nil {
			t.Fatalf("%s: decode %s: %v", c.name, respBody, err)
		}
		switch v := v.(type) {
		case map[string]any:
			m = v
		case []any:
			m = map[string]any{answerList: v} // an answer that is a list
		default:
			t.Fatalf("%s: answer %s is neither an object nor a list", c.name, respBody)
		}
	}
	return m
}

// answerList is the key under which run returns an answer that is a JSON
// array.
const answerList = "[]"

// answerBytes is the key under which run returns an answer of bytes.
const answerBytes = "bytes"

func str(m map[string]any, path ...any) string {
	var cur any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, _ := cur.(map[string]any)
			cur = mm[k]
		case int:
			a, _ := cur.([]any)
			if k >= len(a) {
				return ""
			}
			cur = a[k]
		}
	}
	s, _ := cur.(string)
	return s
}

// TestConformance runs every operation of api/openapi.yaml against the
// sandbox, validating each request and answer against the document, and
// fails if an operation never produced a validated 2xx answer.
func TestConformance(t *testing.T) {
	t.Parallel()
	// A fixed clock (a Tuesday morning in New York), so the free slots and
	// the booking below are the same at any hour the test runs.
	clock := &fakeClock{t: time.Date(2026, 4, 14, 15, 7, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now})
	cf := newConformance(t, e)
	loc := e.token(sandbox.CodeRequest{}).AccessToken
	agency := e.token(sandbox.CodeRequest{UserType: sandbox.UserCompany}).AccessToken
	L := sandbox.DemoLocationID

	// OAuth.
	cf.run(confCase{name: "token by code", method: "POST", path: "/oauth/token", status: 200, form: url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}, "grant_type": {"authorization_code"},
		"code": {mustCode(t, e.sb)}, "user_type": {"Location"}}})
	cf.run(confCase{name: "token reused code", method: "POST", path: "/oauth/token", status: 400, form: url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}, "grant_type": {"authorization_code"}, "code": {"spent"}}})
	cf.run(confCase{name: "token bad secret", method: "POST", path: "/oauth/token", status: 401, form: url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {"x"}, "grant_type": {"refresh_token"}, "refresh_token": {"x"}}})
	cf.run(confCase{name: "token no grant type", method: "POST", path: "/oauth/token", status: 422, badRequest: true, form: url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}}})
	cf.run(confCase{name: "location token", method: "POST", path: "/oauth/locationToken", token: agency, status: 200,
		form: url.Values{"companyId": {sandbox.DemoCompanyID}, "locationId": {L}}})
	cf.run(confCase{name: "location token missing", method: "POST", path: "/oauth/locationToken", token: agency, status: 422, badRequest: true,
		form: url.Values{"companyId": {sandbox.DemoCompanyID}}})
	cf.run(confCase{name: "location token by a location", method: "POST", path: "/oauth/locationToken", token: loc, status: 401,
		form: url.Values{"companyId": {sandbox.DemoCompanyID}, "locationId": {L}}})
	cf.run(confCase{name: "installed locations", method: "GET", token: agency, status: 200,
		path: "/oauth/installedLocations?companyId=" + sandbox.DemoCompanyID + "&appId=" + sandbox.DefaultAppID + "&limit=1"})
	cf.run(confCase{name: "installed locations no app", method: "GET", token: agency, status: 422, badRequest: true,
		path: "/oauth/installedLocations?companyId=" + sandbox.DemoCompanyID})

	// Contacts.
	found := cf.run(confCase{name: "search", method: "POST", path: "/contacts/search", token: loc, status: 200,
		json: map[string]any{"locationId": L, "pageLimit": 5, "filters": []any{map[string]any{"field": "tags", "operator": "exists"}},
			"sort": []any{map[string]any{"field": "dateAdded", "direction": "asc"}}}})
	contactID := str(found, "contacts", 0, "id")
	cf.run(confCase{name: "search without pageLimit", method: "POST", path: "/contacts/search", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L}})
	cf.run(confCase{name: "search other location", method: "POST", path: "/contacts/search", token: loc, status: 403,
		json: map[string]any{"locationId": sandbox.OtherLocationID, "pageLimit": 5}})
	cf.run(confCase{name: "get contact", method: "GET", path: "/contacts/" + contactID, token: loc, status: 200})
	cf.run(confCase{name: "get unknown contact", method: "GET", path: "/contacts/nope", token: loc, status: 404})
	if err := e.sb.PutDocument(L, "/contacts/"+contactID+"/notes", json.RawMessage(`{"id":"NoteConformance00001","body":"called back","contactId":"`+contactID+`","dateAdded":"2026-04-14T15:07:00.000Z","pinned":true}`)); err != nil {
		t.Fatal(err)
	}
	cf.run(confCase{name: "notes", method: "GET", path: "/contacts/" + contactID + "/notes", token: loc, status: 200})

	cf.run(confCase{name: "get contact no token", method: "GET", path: "/contacts/" + contactID, status: 401})
	created := cf.run(confCase{name: "create contact", method: "POST", path: "/contacts/", token: loc, status: 201,
		json: map[string]any{"locationId": L, "firstName": "Conformance", "lastName": "Test", "email": "conf@example.com", "tags": []string{"Conf"},
			"dndSettings":  map[string]any{"SMS": map[string]any{"status": "active"}},
			"customFields": contactFieldsOfEveryType(t, e.sb)}})
	newID := str(created, "contact", "id")
	cf.run(confCase{name: "create duplicate", method: "POST", path: "/contacts/", token: loc, status: 400,
		json: map[string]any{"locationId": L, "email": "conf@example.com"}})
	cf.run(confCase{name: "create without location", method: "POST", path: "/contacts/", token: loc, status: 422, badRequest: true,
		json: map[string]any{"firstName": "x"}})
	cf.run(confCase{name: "update contact", method: "PUT", path: "/contacts/" + newID, token: loc, status: 200,
		json: map[string]any{"city": "Oslo", "dnd": true}})
	cf.run(confCase{name: "upsert existing", method: "POST", path: "/contacts/upsert", token: loc, status: 200,
		json: map[string]any{"locationId": L, "email": "conf@example.com", "companyName": "Conf Inc"}})
	cf.run(confCase{name: "upsert new", method: "POST", path: "/contacts/upsert", token: loc, status: 200,
		json: map[string]any{"locationId": L, "email": "conf2@example.com"}})
	cf.run(confCase{name: "add tags", method: "POST", path: "/contacts/" + newID + "/tags", token: loc, status: 201,
		json: map[string]any{"tags": []string{"a", "b"}}})
	cf.run(confCase{name: "add tags missing", method: "POST", path: "/contacts/" + newID + "/tags", token: loc, status: 422, badRequest: true,
		json: map[string]any{}})
	cf.run(confCase{name: "remove tags", method: "DELETE", path: "/contacts/" + newID + "/tags", token: loc, status: 200,
		json: map[string]any{"tags": []string{"a"}}})
	cf.run(confCase{name: "delete contact", method: "DELETE", path: "/contacts/" + newID, token: loc, status: 200})
	cf.run(confCase{name: "delete contact again", method: "DELETE", path: "/contacts/" + newID, token: loc, status: 404})

	// Opportunities.
	pipes := cf.run(confCase{name: "pipelines", method: "GET", path: "/opportunities/pipelines?locationId=" + L, token: loc, status: 200})
	pipeID := str(pipes, "pipelines", 0, "id")
	cf.run(confCase{name: "pipelines no location", method: "GET", path: "/opportunities/pipelines", token: loc, status: 422, badRequest: true})
	opps := cf.run(confCase{name: "search opportunities", method: "GET", path: "/opportunities/search?location_id=" + L + "&limit=3&status=open", token: loc, status: 200})
	oppID := str(opps, "opportunities", 0, "id")
	cf.run(confCase{name: "search opportunities bad status", method: "GET", path: "/opportunities/search?location_id=" + L + "&status=gone", token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "get opportunity", method: "GET", path: "/opportunities/" + oppID, token: loc, status: 200})
	cf.run(confCase{name: "get unknown opportunity", method: "GET", path: "/opportunities/nope", token: loc, status: 404})
	newOpp := cf.run(confCase{name: "create opportunity", method: "POST", path: "/opportunities/", token: loc, status: 201,
		json: map[string]any{"pipelineId": pipeID, "locationId": L, "name": "Conformance deal", "status": "won", "contactId": contactID, "monetaryValue": 250,
			"customFields": oppFieldsOfEveryType(t, e.sb)}})
	newOppID := str(newOpp, "opportunity", "id")
	cf.run(confCase{name: "create opportunity missing", method: "POST", path: "/opportunities/", token: loc, status: 422, badRequest: true,
		json: map[string]any{"locationId": L, "name": "x"}})
	cf.run(confCase{name: "update opportunity", method: "PUT", path: "/opportunities/" + newOppID, token: loc, status: 200,
		json: map[string]any{"name": "Renamed", "monetaryValue": 300}})
	cf.run(confCase{name: "update status", method: "PUT", path: "/opportunities/" + newOppID + "/status", token: loc, status: 200,
		json: map[string]any{"status": "lost"}})
	cf.run(confCase{name: "delete opportunity", method: "DELETE", path: "/opportunities/" + newOppID, token: loc, status: 200})
	clock.Add(11 * time.Second) // a new quota window for the links' calls
	cf.linksWalk(L, loc, contactID, pipeID)

	// Calendars.
	cals := cf.run(confCase{name: "calendars", method: "GET", path: "/calendars/?locationId=" + L, token: loc, status: 200})
	calID := str(cals, "calendars", 0, "id")
	cf.run(confCase{name: "calendar", method: "GET", path: "/calendars/" + calID, token: loc, status: 200})
	cf.run(confCase{name: "unknown calendar", method: "GET", path: "/calendars/nope", token: loc, status: 404})
	now := clock.Now()
	from, to := now.UnixMilli(), now.Add(14*24*time.Hour).UnixMilli()
	slots := cf.run(confCase{name: "free slots", method: "GET", token: loc, status: 200,
		path: fmt.Sprintf("/calendars/%s/free-slots?startDate=%d&endDate=%d&timezone=Europe/Berlin", calID, from, to)})
	cf.run(confCase{name: "free slots over 31 days", method: "GET", token: loc, status: 422,
		path: fmt.Sprintf("/calendars/%s/free-slots?startDate=%d&endDate=%d", calID, from, now.Add(32*24*time.Hour).UnixMilli())})
	cf.run(confCase{name: "free slots no end", method: "GET", token: loc, status: 422, badRequest: true,
		path: fmt.Sprintf("/calendars/%s/free-slots?startDate=%d", calID, from)})
	var slot string
	for _, day := range slots {
		if ss, ok := day.(map[string]any)["slots"].([]any); ok && len(ss) > 0 {
			slot = ss[0].(string)
			break
		}
	}
	if slot == "" {
		t.Fatalf("no free slot in the next 14 days: %v", slots)
	}
	cf.run(confCase{name: "events", method: "GET", token: loc, status: 200,
		path: fmt.Sprintf("/calendars/events?locationId=%s&calendarId=%s&startTime=%d&endTime=%d", L, calID, from, to)})
	cf.run(confCase{name: "events without calendar", method: "GET", token: loc, status: 422,
		path: fmt.Sprintf("/calendars/events?locationId=%s&startTime=%d&endTime=%d", L, from, to)})
	appt := cf.run(confCase{name: "create appointment", method: "POST", path: "/calendars/events/appointments", token: loc, status: 200,
		json: map[string]any{"calendarId": calID, "locationId": L, "contactId": contactID, "startTime": slot, "title": "Conformance"}})
	apptID := str(appt, "id")
	cf.run(confCase{name: "book the same slot", method: "POST", path: "/calendars/events/appointments", token: loc, status: 400,
		json: map[string]any{"calendarId": calID, "locationId": L, "contactId": contactID, "startTime": slot}})
	cf.run(confCase{name: "get appointment", method: "GET", path: "/calendars/events/appointments/" + apptID, token: loc, status: 200})
	cf.run(confCase{name: "update appointment", method: "PUT", path: "/calendars/events/appointments/" + apptID, token: loc, status: 200,
		json: map[string]any{"title": "Moved", "appointmentStatus": "showed"}})
	cf.run(confCase{name: "delete event", method: "DELETE", path: "/calendars/events/" + apptID, token: loc, status: 201, json: map[string]any{}})
	cf.run(confCase{name: "delete event again", method: "DELETE", path: "/calendars/events/" + apptID, token: loc, status: 404, json: map[string]any{}})
	cf.run(confCase{name: "wrong kind", method: "GET", path: "/calendars/" + calID, token: agency, status: 401})

	// A group's status and slug, and a schedule's calendars: hand-written
	// over the engine's documents.
	clock.Add(11 * time.Second)
	for coll, doc := range map[string]string{
		"/calendars/groups":    `{"id":"ConfGroup00000000001","locationId":"` + L + `","name":"Group","description":"A group","slug":"taken-slug","isActive":true}`,
		"/calendars/schedules": `{"id":"ConfSchedule00000001","locationId":"` + L + `","name":"Hours","rules":[],"timezone":"Europe/Berlin","dateAdded":"2026-01-01T00:00:00.000Z","dateUpdated":"2026-01-01T00:00:00.000Z","userId":"ConfUser000000000001","deleted":false,"calendarIds":[]}`,
	} {
		if err := e.sb.PutDocument(L, coll, json.RawMessage(doc)); err != nil {
			t.Fatal(err)
		}
	}
	cf.run(confCase{name: "group status", method: "PUT", path: "/calendars/groups/ConfGroup00000000001/status", token: loc, status: 200, json: map[string]any{"isActive": false}})
	cf.run(confCase{name: "unknown group status", method: "PUT", path: "/calendars/groups/nope/status", token: loc, status: 404, json: map[string]any{"isActive": false}})
	if got := cf.run(confCase{name: "slug taken", method: "POST", path: "/calendars/groups/validate-slug", token: loc, status: 200, json: map[string]any{"locationId": L, "slug": "taken-slug"}}); got["available"] != false {
		t.Errorf("a taken slug: %v", got)
	}
	if got := cf.run(confCase{name: "slug free", method: "POST", path: "/calendars/groups/validate-slug", token: loc, status: 200, json: map[string]any{"locationId": L, "slug": "free-slug"}}); got["available"] != true {
		t.Errorf("a free slug: %v", got)
	}
	cf.run(confCase{name: "slug other location", method: "POST", path: "/calendars/groups/validate-slug", token: loc, status: 403, json: map[string]any{"locationId": sandbox.OtherLocationID, "slug": "x"}})
	assoc := "/calendars/schedules/ConfSchedule00000001/associations/" + calID
	cf.run(confCase{name: "add calendar to schedule", method: "PUT", path: assoc, token: loc, status: 200})
	cf.run(confCase{name: "add it again", method: "PUT", path: assoc, token: loc, status: 400})
	cf.run(confCase{name: "add unknown calendar", method: "PUT", path: "/calendars/schedules/ConfSchedule00000001/associations/nope", token: loc, status: 404})
	cf.run(confCase{name: "remove calendar from schedule", method: "DELETE", path: assoc, token: loc, status: 200})
	cf.run(confCase{name: "remove it again", method: "DELETE", path: assoc, token: loc, status: 404})

	// Payments.
	orders := cf.run(confCase{name: "orders", method: "GET", path: "/payments/orders?altId=" + L + "&limit=5&offset=2", token: loc, status: 200})
	orderID := str(orders, "data", 0, "_id")
	cf.run(confCase{name: "orders no alt", method: "GET", path: "/payments/orders", token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "order", method: "GET", path: "/payments/orders/" + orderID + "?altId=" + L + "&altType=location", token: loc, status: 200})
	cf.run(confCase{name: "order unknown", method: "GET", path: "/payments/orders/nope?altId=" + L + "&altType=location", token: loc, status: 400})
	cf.run(confCase{name: "order no alt type", method: "GET", path: "/payments/orders/" + orderID + "?altId=" + L, token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "transactions", method: "GET", path: "/payments/transactions?altId=" + L + "&altType=location&entityId=" + orderID, token: loc, status: 200})
	all := cf.run(confCase{name: "all transactions", method: "GET", path: "/payments/transactions?altId=" + L + "&altType=location", token: loc, status: 200})
	txID := str(all, "data", 0, "_id")
	cf.run(confCase{name: "transaction", method: "GET", path: "/payments/transactions/" + txID + "?altId=" + L + "&altType=location", token: loc, status: 200})
	cf.run(confCase{name: "transaction other location", method: "GET", path: "/payments/transactions/" + txID + "?altId=" + sandbox.OtherLocationID + "&altType=location", token: loc, status: 403})
	// A recorded payment pays the order: it is then paid, and a second
	// payment is refused.
	unpaid := cf.run(confCase{name: "unpaid orders", method: "GET", path: "/payments/orders?altId=" + L + "&paymentStatus=unpaid&limit=1", token: loc, status: 200})
	unpaidID := str(unpaid, "data", 0, "_id")
	pay := func(amount any) map[string]any {
		m := map[string]any{"altId": L, "altType": "location", "mode": "cash"}
		if amount != nil {
			m["amount"] = amount
		}
		return m
	}
	cf.run(confCase{name: "record payment, not the amount due", method: "POST", path: "/payments/orders/" + unpaidID + "/record-payment", token: loc, status: 400, json: pay(0.01)})
	cf.run(confCase{name: "record payment without mode", method: "POST", path: "/payments/orders/" + unpaidID + "/record-payment", token: loc, status: 422, badRequest: true,
		json: map[string]any{"altId": L, "altType": "location"}})
	cf.run(confCase{name: "record payment", method: "POST", path: "/payments/orders/" + unpaidID + "/record-payment", token: loc, status: 200, json: pay(nil)})
	cf.run(confCase{name: "record payment again", method: "POST", path: "/payments/orders/" + unpaidID + "/record-payment", token: loc, status: 400, json: pay(nil)})
	cf.run(confCase{name: "record payment unknown order", method: "POST", path: "/payments/orders/nope/record-payment", token: loc, status: 400, json: pay(nil)})
	cf.run(confCase{name: "record payment other location", method: "POST", path: "/payments/orders/" + unpaidID + "/record-payment", token: loc, status: 403,
		json: map[string]any{"altId": sandbox.OtherLocationID, "altType": "location", "mode": "cash"}})
	paid := cf.run(confCase{name: "the order's payment", method: "GET", path: "/payments/transactions?altId=" + L + "&altType=location&entityId=" + unpaidID, token: loc, status: 200})
	if n, _ := paid["totalCount"].(float64); n != 1 {
		t.Errorf("transactions of the paid order: %v, want the one recorded", paid)
	}

	// Coupons: created, read by id and code, listed, changed and deleted.
	coupon := map[string]any{"altId": L, "altType": "location", "name": "Spring", "code": "SPRING10", "discountType": "percentage",
		"discountValue": 10, "startDate": "2026-04-01T00:00:00Z", "limitPerCustomer": true}
	newCoupon := cf.run(confCase{name: "create coupon", method: "POST", path: "/payments/coupon", token: loc, status: 201, json: coupon})
	couponID := str(newCoupon, "_id")
	if newCoupon["status"] != "active" || newCoupon["limitPerCustomer"] != 1.0 {
		t.Errorf("created coupon = %v, want active with limitPerCustomer 1", newCoupon)
	}
	cf.run(confCase{name: "create coupon, code taken", method: "POST", path: "/payments/coupon", token: loc, status: 400, json: coupon})
	cf.run(confCase{name: "get coupon", method: "GET", path: "/payments/coupon?altId=" + L + "&altType=location&id=" + couponID + "&code=SPRING10", token: loc, status: 200})
	cf.run(confCase{name: "get coupon, other code", method: "GET", path: "/payments/coupon?altId=" + L + "&altType=location&id=" + couponID + "&code=OTHER", token: loc, status: 404})
	cf.run(confCase{name: "list coupons", method: "GET", path: "/payments/coupon/list?altId=" + L + "&altType=location&status=active&search=spring", token: loc, status: 200})
	coupon["id"], coupon["name"], coupon["endDate"] = couponID, "Spring, longer", "2026-06-01T00:00:00Z"
	cf.run(confCase{name: "update coupon", method: "PUT", path: "/payments/coupon", token: loc, status: 200, json: coupon})
	cf.run(confCase{name: "delete coupon", method: "DELETE", path: "/payments/coupon", token: loc, status: 200,
		json: map[string]any{"altId": L, "altType": "location", "id": couponID}})
	cf.run(confCase{name: "delete coupon again", method: "DELETE", path: "/payments/coupon", token: loc, status: 404,
		json: map[string]any{"altId": L, "altType": "location", "id": couponID}})

	clock.Add(11 * time.Second)
	cf.customProviderCases(L, loc)
	cf.invoiceActions(L, loc, func() { clock.Add(11 * time.Second) })

	// The location itself: its own for a location token, not another's.
	self := cf.run(confCase{name: "location", method: "GET", path: "/locations/" + L, token: loc, status: 200})
	if str(self, "location", "id") != L {
		t.Errorf("GET /locations/%s = %v", L, self)
	}
	cf.run(confCase{name: "other location", method: "GET", path: "/locations/" + sandbox.OtherLocationID, token: loc, status: 403})

	// The deprecated contacts list (declared for the passthrough only),
	// walked by startAfterId.
	clock.Add(11 * time.Second)
	first := cf.run(confCase{name: "deprecated contacts", method: "GET", path: "/contacts/?locationId=" + L + "&limit=2", token: loc, status: 200})
	if cs, _ := first["contacts"].([]any); len(cs) != 2 {
		t.Fatalf("GET /contacts/ limit 2 = %v", first)
	}
	next := cf.run(confCase{name: "deprecated contacts after", method: "GET", path: "/contacts/?locationId=" + L + "&limit=2&startAfterId=" + str(first, "contacts", 1, "id"), token: loc, status: 200})
	if str(next, "contacts", 0, "id") <= str(first, "contacts", 1, "id") {
		t.Errorf("the page after %s starts at %s", str(first, "contacts", 1, "id"), str(next, "contacts", 0, "id"))
	}
	cf.run(confCase{name: "deprecated contacts other location", method: "GET", path: "/contacts/?locationId=" + sandbox.OtherLocationID, token: loc, status: 403})

	// The agency's locations: searched, created and changed with the
	// company's token only, for its own company.
	clock.Add(11 * time.Second)
	C := sandbox.DemoCompanyID
	locs := cf.run(confCase{name: "search locations", method: "GET", path: "/locations/search?companyId=" + C + "&limit=1&skip=1", token: agency, status: 200})
	if ls, _ := locs["locations"].([]any); len(ls) != 1 || str(locs, "locations", 0, "id") != sandbox.OtherLocationID {
		t.Errorf("search locations skip 1 limit 1 = %v", locs)
	}
	cf.run(confCase{name: "search another company", method: "GET", path: "/locations/search?companyId=NotTheCompany0000001", token: agency, status: 403})
	if own := cf.run(confCase{name: "search with a location token", method: "GET", path: "/locations/search", token: loc, status: 200}); len(own["locations"].([]any)) != 1 {
		t.Errorf("a location token's search = %v, want its own location", own)
	}
	clinic := cf.run(confCase{name: "create location", method: "POST", path: "/locations/", token: agency, status: 200,
		json: map[string]any{"name": "Sandbox New Clinic", "companyId": C, "timezone": "Europe/Berlin"}})
	clinicID := str(clinic, "id")
	cf.run(confCase{name: "create location with a location token", method: "POST", path: "/locations/", token: loc, status: 401,
		json: map[string]any{"name": "Nope", "companyId": C}})
	cf.run(confCase{name: "create location without a name", method: "POST", path: "/locations/", token: agency, status: 422, badRequest: true,
		json: map[string]any{"companyId": C}})
	if got := cf.run(confCase{name: "put location", method: "PUT", path: "/locations/" + clinicID, token: agency, status: 200,
		json: map[string]any{"companyId": C, "name": "Sandbox Renamed Clinic"}}); got["name"] != "Sandbox Renamed Clinic" {
		t.Errorf("put location = %v", got)
	}
	cf.run(confCase{name: "put unknown location", method: "PUT", path: "/locations/NoSuchLocation000001", token: agency, status: 404,
		json: map[string]any{"companyId": C, "name": "x"}})

	// Conversations and messages (conversations_test.go), in a window of
	// their own.
	clock.Add(11 * time.Second)
	cf.conversationsConformance(L, loc, contactID, clock.Now())
	cf.filesConformance(L, loc, clock)

	// The last JSON operations' handlers (conformance_rest_test.go).
	cf.restCases(L, loc, agency, contactID, func() { clock.Add(11 * time.Second) })

	// Every other operation the engine serves, from the document alone.
	// The fixed clock moves past the quota's 10 s window before each
	// collection, so the walk's calls are never refused as a burst.
	cf.engineWalk(e.sb.EngineOperations(), L, loc, func() { clock.Add(11 * time.Second) })
	// Locations' custom field definitions (declared for the passthrough).
	fields := cf.run(confCase{name: "custom fields", method: "GET", path: "/locations/" + L + "/customFields?model=opportunity", token: loc, status: 200})
	if n := len(fields["customFields"].([]any)); n != 6 {
		t.Errorf("custom fields of model opportunity: %d definitions, want the 6 seeded", n)
	}
	cf.run(confCase{name: "custom fields bad model", method: "GET", path: "/locations/" + L + "/customFields?model=nope", token: loc, status: 422, badRequest: true})
	cf.run(confCase{name: "custom fields other location", method: "GET", path: "/locations/" + sandbox.OtherLocationID + "/customFields", token: loc, status: 403})
	// A definition created, read, renamed and deleted; its key is new.
	cfPath := "/locations/" + L + "/customFields"
	made := cf.run(confCase{name: "create custom field", method: "POST", path: cfPath, token: loc, status: 201,
		json: map[string]any{"name": "Favourite Colour", "dataType": "TEXT"}})
	cfID := str(made, "customField", "id")
	if key := str(made, "customField", "fieldKey"); key != "contact.favourite_colour" {
		t.Errorf("created field key %q, want contact.favourite_colour", key)
	}
	cf.run(confCase{name: "create it again", method: "POST", path: cfPath, token: loc, status: 400,
		json: map[string]any{"name": "Favourite Colour", "dataType": "TEXT"}})
	cf.run(confCase{name: "create unknown type", method: "POST", path: cfPath, token: loc, status: 422,
		json: map[string]any{"name": "Odd", "dataType": "NOPE"}})
	cf.run(confCase{name: "get custom field", method: "GET", path: cfPath + "/" + cfID, token: loc, status: 200})
	cf.run(confCase{name: "update custom field", method: "PUT", path: cfPath + "/" + cfID, token: loc, status: 200,
		json: map[string]any{"name": "Favourite Color"}})
	cf.run(confCase{name: "delete custom field", method: "DELETE", path: cfPath + "/" + cfID, token: loc, status: 200})
	cf.run(confCase{name: "get deleted custom field", method: "GET", path: cfPath + "/" + cfID, token: loc, status: 404})

	for _, path := range cf.doc.Paths.InMatchingOrder() {
		for method, op := range cf.doc.Paths.Value(path).Operations() {
			if !cf.served[op.OperationID] {
				t.Errorf("operation %s (%s %s) never produced a validated 2xx answer", op.OperationID, method, path)
			}
		}
	}
	if len(cf.served) == 0 || strings.TrimSpace(contactID) == "" {
		t.Fatal("the conformance run validated nothing")
	}
}

// contactFieldsOfEveryType writes every contact data type of the demo
// location, in each form the document admits (by id or key, numbers as
// numbers or strings, files as an object or an array).
func contactFieldsOfEveryType(t *testing.T, sb *sandbox.Sandbox) []any {
	d := defsByType(t, sb, sandbox.DemoLocationID, "contact")
	return []any{
		map[string]any{"id": d[sandbox.FieldText].ID, "field_value": "x"},
		map[string]any{"key": d[sandbox.FieldNumerical].FieldKey, "field_value": 3},
		map[string]any{"id": d[sandbox.FieldMonetory].ID, "field_value": "19.99"},
		map[string]any{"id": d[sandbox.FieldCheckbox].ID, "field_value": []string{"braces"}},
		map[string]any{"id": d[sandbox.FieldMultipleOptions].ID, "field_value": []string{}},
		map[string]any{"id": d[sandbox.FieldFileUpload].ID, "field_value": []any{map[string]any{"url": "https://example.com/x.pdf"}}},
	}
}

// oppFieldsOfEveryType does the same for opportunities.
func oppFieldsOfEveryType(t *testing.T, sb *sandbox.Sandbox) []any {
	d := defsByType(t, sb, sandbox.DemoLocationID, "opportunity")
	return []any{
		map[string]any{"key": d[sandbox.FieldText].FieldKey, "field_value": "x"},
		map[string]any{"id": d[sandbox.FieldNumerical].ID, "field_value": 3},
		map[string]any{"id": d[sandbox.FieldMonetory].ID, "field_value": "19.99"},
		map[string]any{"id": d[sandbox.FieldCheckbox].ID, "field_value": "crown"},
		map[string]any{"key": d[sandbox.FieldMultipleOptions].FieldKey, "field_value": []string{}},
		map[string]any{"id": d[sandbox.FieldFileUpload].ID, "field_value": map[string]any{"u1": map[string]any{"url": "https://example.com/x.pdf"}}},
	}
}

func mustCode(t *testing.T, sb *sandbox.Sandbox) string {
	t.Helper()
	code, err := sb.MintCode(sandbox.CodeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return code
}
