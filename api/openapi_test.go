// Package api_test checks api/openapi.yaml, the slice of the HighLevel V2 API
// that hlgate calls, and the client oapi-codegen generates from it
// (gen/highlevel).
package api_test

import (
	"context"
	"net/http"
	"slices"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// loadDoc loads and validates api/openapi.yaml the way the sandbox and the
// request validators do, so a document that kin-openapi rejects fails here
// first. Validation includes every example against its schema.
func loadDoc(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile("openapi.yaml")
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate openapi.yaml: %v", err)
	}
	return doc
}

// wantOperation is one upstream call hlgate makes, as the reference facts
// give it: method, exact path (trailing slashes included), product tag,
// required scope and required Version header ("" = none).
type wantOperation struct {
	id, method, path, tag, scope, version string
}

// wantOperations lists every operation hlgate calls. The document must hold
// exactly these, so an operation cannot be added or lost unnoticed.
var wantOperations = []wantOperation{
	{"GetAccessToken", http.MethodPost, "/oauth/token", "oauth", "", ""},
	{"GetLocationToken", http.MethodPost, "/oauth/locationToken", "oauth", "oauth.write", "2021-07-28"},
	{"GetInstalledLocations", http.MethodGet, "/oauth/installedLocations", "oauth", "oauth.readonly", "2021-07-28"},
	{"GetContact", http.MethodGet, "/contacts/{contactId}", "contacts", "contacts.readonly", "2021-07-28"},
	{"CreateContact", http.MethodPost, "/contacts/", "contacts", "contacts.write", "2021-07-28"},
	{"UpdateContact", http.MethodPut, "/contacts/{contactId}", "contacts", "contacts.write", "2021-07-28"},
	{"DeleteContact", http.MethodDelete, "/contacts/{contactId}", "contacts", "contacts.write", "2021-07-28"},
	{"UpsertContact", http.MethodPost, "/contacts/upsert", "contacts", "contacts.write", "2021-07-28"},
	{"SearchContacts", http.MethodPost, "/contacts/search", "contacts", "contacts.readonly", "2021-07-28"},
	{"ListContactNotes", http.MethodGet, "/contacts/{contactId}/notes", "contacts", "contacts.readonly", "2021-07-28"},
	{"AddContactTags", http.MethodPost, "/contacts/{contactId}/tags", "contacts", "contacts.write", "2021-07-28"},
	{"RemoveContactTags", http.MethodDelete, "/contacts/{contactId}/tags", "contacts", "contacts.write", "2021-07-28"},
	{"SearchOpportunities", http.MethodGet, "/opportunities/search", "opportunities", "opportunities.readonly", "2021-07-28"},
	{"GetOpportunity", http.MethodGet, "/opportunities/{id}", "opportunities", "opportunities.readonly", "2021-07-28"},
	{"CreateOpportunity", http.MethodPost, "/opportunities/", "opportunities", "opportunities.write", "2021-07-28"},
	{"UpdateOpportunity", http.MethodPut, "/opportunities/{id}", "opportunities", "opportunities.write", "2021-07-28"},
	{"UpdateOpportunityStatus", http.MethodPut, "/opportunities/{id}/status", "opportunities", "opportunities.write", "2021-07-28"},
	{"DeleteOpportunity", http.MethodDelete, "/opportunities/{id}", "opportunities", "opportunities.write", "2021-07-28"},
	{"ListPipelines", http.MethodGet, "/opportunities/pipelines", "opportunities", "opportunities.readonly", "2021-07-28"},
	{"ListCalendars", http.MethodGet, "/calendars/", "calendars", "calendars.readonly", "2021-04-15"},
	{"GetCalendar", http.MethodGet, "/calendars/{calendarId}", "calendars", "calendars.readonly", "2021-04-15"},
	{"GetFreeSlots", http.MethodGet, "/calendars/{calendarId}/free-slots", "calendars", "calendars.readonly", "2021-04-15"},
	{"ListEvents", http.MethodGet, "/calendars/events", "calendars", "calendars/events.readonly", "2021-04-15"},
	{"CreateAppointment", http.MethodPost, "/calendars/events/appointments", "calendars", "calendars/events.write", "2021-04-15"},
	{"GetAppointment", http.MethodGet, "/calendars/events/appointments/{eventId}", "calendars", "calendars/events.readonly", "2021-04-15"},
	{"UpdateAppointment", http.MethodPut, "/calendars/events/appointments/{eventId}", "calendars", "calendars/events.write", "2021-04-15"},
	{"DeleteEvent", http.MethodDelete, "/calendars/events/{eventId}", "calendars", "calendars/events.write", "2021-04-15"},
	{"ListOrders", http.MethodGet, "/payments/orders", "payments", "payments/orders.readonly", "2021-07-28"},
	{"GetOrder", http.MethodGet, "/payments/orders/{orderId}", "payments", "payments/orders.readonly", "2021-07-28"},
	{"ListTransactions", http.MethodGet, "/payments/transactions", "payments", "payments/transactions.readonly", "2021-07-28"},
	{"GetTransaction", http.MethodGet, "/payments/transactions/{transactionId}", "payments", "payments/transactions.readonly", "2021-07-28"},
}

// operations indexes the document's operations by operationId.
func operations(t *testing.T, doc *openapi3.T) map[string]wantOperation {
	t.Helper()
	got := map[string]wantOperation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
				continue
			}
			if _, dup := got[op.OperationID]; dup {
				t.Errorf("operationId %s is used twice", op.OperationID)
			}
			scope, _ := op.Extensions["x-hlgate-scope"].(string)
			version, _ := op.Extensions["x-hlgate-version"].(string)
			tag := ""
			if len(op.Tags) == 1 {
				tag = op.Tags[0]
			} else {
				t.Errorf("%s has tags %v, want exactly one product tag", op.OperationID, op.Tags)
			}
			got[op.OperationID] = wantOperation{op.OperationID, method, path, tag, scope, version}
		}
	}
	return got
}

func TestDocumentValidates(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	if got, want := doc.OpenAPI, "3.0.3"; got != want {
		t.Errorf("openapi = %q, want %q", got, want)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://services.leadconnectorhq.com" {
		t.Errorf("servers = %v, want only https://services.leadconnectorhq.com", doc.Servers)
	}
}

func TestOperationsMatchUpstream(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	got := operations(t, doc)
	for _, want := range wantOperations {
		g, ok := got[want.id]
		if !ok {
			t.Errorf("operation %s (%s %s) is missing", want.id, want.method, want.path)
			continue
		}
		if g != want {
			t.Errorf("operation %s = %+v, want %+v", want.id, g, want)
		}
		delete(got, want.id)
	}
	for id := range got {
		t.Errorf("unexpected operation %s", id)
	}
}

// TestOperationExtensions checks what the sandbox and the upstream chain read
// from each operation: the scope in x-hlgate-scope matches the security
// requirement, the Version value is present exactly where one is needed and
// never as a client parameter, and every operation declares the error bodies
// the upstream (or the sandbox) can answer.
func TestOperationExtensions(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	products := map[string]bool{}
	for _, tag := range doc.Tags {
		products[tag.Name] = true
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := op.OperationID + " (" + method + " " + path + ")"
			if len(op.Tags) != 1 || !products[op.Tags[0]] {
				t.Errorf("%s: tags %v, want one of the document's product tags", name, op.Tags)
			}
			scope, ok := op.Extensions["x-hlgate-scope"].(string)
			if !ok {
				t.Errorf("%s: x-hlgate-scope missing or not a string", name)
			}
			var secScopes []string
			if op.Security != nil {
				for _, req := range *op.Security {
					for scheme, scopes := range req {
						if doc.Components.SecuritySchemes[scheme] == nil {
							t.Errorf("%s: security scheme %q is not declared", name, scheme)
						}
						secScopes = append(secScopes, scopes...)
					}
				}
			}
			switch {
			case op.OperationID == "GetAccessToken":
				if scope != "" || len(secScopes) != 0 {
					t.Errorf("%s: scope %q, security scopes %v; the token endpoint takes client credentials, no scope", name, scope, secScopes)
				}
			case scope == "" || !slices.Equal(secScopes, []string{scope}):
				t.Errorf("%s: x-hlgate-scope %q, security scopes %v; want one non-empty scope, the same in both", name, scope, secScopes)
			}

			version, hasVersion := op.Extensions["x-hlgate-version"].(string)
			wantVersion := map[string]string{
				"oauth": "2021-07-28", "contacts": "2021-07-28", "opportunities": "2021-07-28",
				"payments": "2021-07-28", "calendars": "2021-04-15",
			}[op.Tags[0]]
			if op.OperationID == "GetAccessToken" {
				if hasVersion {
					t.Errorf("%s: x-hlgate-version %q, the token endpoint declares none upstream", name, version)
				}
			} else if version != wantVersion {
				t.Errorf("%s: x-hlgate-version %q, want %q", name, version, wantVersion)
			}
			for _, p := range op.Parameters {
				if p.Value.In == openapi3.ParameterInHeader {
					t.Errorf("%s: header parameter %q; headers (Version, Authorization) are set by the client chain", name, p.Value.Name)
				}
			}

			wantErrors := []string{"400", "401", "403", "404", "422", "429"}
			if op.OperationID == "GetAccessToken" {
				wantErrors = []string{"400", "401", "422", "429"}
			}
			for _, code := range wantErrors {
				r := op.Responses.Value(code)
				if r == nil || r.Value == nil || r.Value.Content.Get("application/json") == nil {
					t.Errorf("%s: no JSON %s response", name, code)
				}
			}
			upstream, _ := op.Extensions["x-hlgate-upstream-errors"].([]any)
			if len(upstream) == 0 {
				t.Errorf("%s: x-hlgate-upstream-errors missing", name)
			}
		}
	}
}

// TestBodiesAreTyped checks that every request and response body is a named,
// typed schema: no `type: object` without properties standing in for a body,
// so the generated client decodes into real Go types.
func TestBodiesAreTyped(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := op.OperationID + " (" + method + " " + path + ")"
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					checkTypedBody(t, name+" request "+ct, mt.Schema)
				}
			}
			codes := make([]string, 0, op.Responses.Len())
			for code := range op.Responses.Map() {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			if codes[0][0] != '2' {
				t.Errorf("%s: no 2xx response", name)
			}
			for _, code := range codes {
				r := op.Responses.Value(code).Value
				if len(r.Content) == 0 {
					t.Errorf("%s: response %s has no content", name, code)
				}
				for ct, mt := range r.Content {
					checkTypedBody(t, name+" response "+code+" "+ct, mt.Schema)
				}
			}
		}
	}
}

func checkTypedBody(t *testing.T, name string, ref *openapi3.SchemaRef) {
	t.Helper()
	if ref == nil || ref.Ref == "" {
		t.Errorf("%s: body schema is inline; want a named components schema", name)
		return
	}
	s := ref.Value
	if s.Type == nil || !s.Type.Is(openapi3.TypeObject) {
		t.Errorf("%s: body schema %s is %v, want an object", name, ref.Ref, s.Type)
		return
	}
	empty := len(s.Properties) == 0 && len(s.AllOf) == 0 &&
		s.AdditionalProperties.Schema == nil && (s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has)
	if empty {
		t.Errorf("%s: body schema %s is an object placeholder without properties", name, ref.Ref)
	}
}

// TestUpstreamSpellings pins the spellings integrators trip over (reference
// facts, section 11), so that nobody "fixes" them.
func TestUpstreamSpellings(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	schemas := doc.Components.Schemas
	op := func(method, path string) *openapi3.Operation {
		t.Helper()
		item := doc.Paths.Value(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("%s %s missing", method, path)
		}
		return item.GetOperation(method)
	}
	param := func(o *openapi3.Operation, in, name string) *openapi3.Parameter {
		t.Helper()
		p := o.Parameters.GetByInAndName(in, name)
		if p == nil {
			t.Errorf("%s: no %s parameter %q", o.OperationID, in, name)
		}
		return p
	}
	required := func(o *openapi3.Operation, names ...string) {
		t.Helper()
		for _, n := range names {
			if p := param(o, openapi3.ParameterInQuery, n); p != nil && !p.Required {
				t.Errorf("%s: query parameter %q is optional, want required", o.OperationID, n)
			}
		}
	}

	search := op(http.MethodGet, "/opportunities/search")
	required(search, "location_id")
	if search.Parameters.GetByInAndName(openapi3.ParameterInQuery, "locationId") != nil {
		t.Errorf("GET /opportunities/search declares locationId; upstream spells it location_id")
	}
	required(op(http.MethodGet, "/payments/orders"), "altId")
	required(op(http.MethodGet, "/payments/orders/{orderId}"), "altId", "altType")
	required(op(http.MethodGet, "/payments/transactions"), "altId", "altType")
	required(op(http.MethodGet, "/payments/transactions/{transactionId}"), "altId", "altType")
	slots := op(http.MethodGet, "/calendars/{calendarId}/free-slots")
	required(slots, "startDate", "endDate")
	for _, n := range []string{"startDate", "endDate"} {
		if p := param(slots, openapi3.ParameterInQuery, n); p != nil && !p.Schema.Value.Type.Is(openapi3.TypeInteger) {
			t.Errorf("free-slots %s is %v, want an integer (epoch ms)", n, p.Schema.Value.Type)
		}
	}
	required(op(http.MethodGet, "/calendars/events"), "locationId", "startTime", "endTime")

	for schema, prop := range map[string]string{
		"UpdateContactResult":  "succeded",
		"DeleteContactResult":  "succeded",
		"SucceededResult":      "succeded",
		"DeleteEventResult":    "succeeded",
		"SearchContactsResult": "total",
		"SearchedContact":      "searchAfter",
		"LocationTokenResult":  "refresh_token",
		"AccessTokenResult":    "refresh_token",
		"UnprocessableError":   "message",
	} {
		s := schemas[schema]
		if s == nil {
			t.Errorf("schema %s missing", schema)
			continue
		}
		props := s.Value.Properties
		for _, sub := range s.Value.AllOf {
			for k, v := range sub.Value.Properties {
				if props == nil {
					props = openapi3.Schemas{}
				}
				props[k] = v
			}
		}
		if props[prop] == nil {
			t.Errorf("schema %s has no property %q", schema, prop)
		}
	}
	if !schemas["UnprocessableError"].Value.Properties["message"].Value.Type.Is(openapi3.TypeArray) {
		t.Errorf("the 422 body's message must be an array of strings")
	}
	del := op(http.MethodDelete, "/calendars/events/{eventId}")
	if del.Responses.Value("201") == nil {
		t.Errorf("DELETE /calendars/events/{eventId} must answer 201 as upstream declares")
	}
	search2 := schemas["SearchContactsRequest"].Value
	if !slices.Contains(search2.Required, "locationId") || !slices.Contains(search2.Required, "pageLimit") {
		t.Errorf("SearchContactsRequest.required = %v, want locationId and pageLimit", search2.Required)
	}
	if max := search2.Properties["pageLimit"].Value.Max; max == nil || *max != 500 {
		t.Errorf("SearchContactsRequest.pageLimit maximum = %v, want 500", max)
	}
	if got := search2.Properties["query"].Value.MaxLength; got == nil || *got != 75 {
		t.Errorf("SearchContactsRequest.query maxLength = %v, want 75", got)
	}
	grants := schemas["AccessTokenRequest"].Value.Properties["grant_type"].Value.Enum
	if !slices.Equal(grants, []any{"authorization_code", "refresh_token", "client_credentials"}) {
		t.Errorf("grant_type enum = %v", grants)
	}
	token := op(http.MethodPost, "/oauth/token")
	if token.RequestBody.Value.Content.Get("application/x-www-form-urlencoded") == nil {
		t.Errorf("POST /oauth/token must take a form-urlencoded body")
	}
	if op(http.MethodPost, "/oauth/locationToken").RequestBody.Value.Content.Get("application/x-www-form-urlencoded") == nil {
		t.Errorf("POST /oauth/locationToken must take a form-urlencoded body")
	}
}
