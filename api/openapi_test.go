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
// give it: official operationId, method, exact path (trailing slashes
// included), required scope and required Version header ("" = none).
type wantOperation struct {
	id, method, path, scope, version string
}

// wantOperations lists operations hlgate calls, with their scope and
// Version as the reference facts give them: an oracle for the generator,
// which reads both from the documents. (Which operations the slice holds is
// the operation table's to say; optable_test.go checks the two agree.)
var wantOperations = []wantOperation{
	{"get-access-token", http.MethodPost, "/oauth/token", "", ""},
	{"get-location-access-token", http.MethodPost, "/oauth/locationToken", "oauth.write", "2021-07-28"},
	{"get-installed-location", http.MethodGet, "/oauth/installedLocations", "oauth.readonly", "2021-07-28"},
	{"get-contact", http.MethodGet, "/contacts/{contactId}", "contacts.readonly", "2021-07-28"},
	{"create-contact", http.MethodPost, "/contacts/", "contacts.write", "2021-07-28"},
	{"update-contact", http.MethodPut, "/contacts/{contactId}", "contacts.write", "2021-07-28"},
	{"delete-contact", http.MethodDelete, "/contacts/{contactId}", "contacts.write", "2021-07-28"},
	{"upsert-contact", http.MethodPost, "/contacts/upsert", "contacts.write", "2021-07-28"},
	{"search-contacts-advanced", http.MethodPost, "/contacts/search", "contacts.readonly", "2021-07-28"},
	{"get-all-notes", http.MethodGet, "/contacts/{contactId}/notes", "contacts.readonly", "2021-07-28"},
	{"add-tags", http.MethodPost, "/contacts/{contactId}/tags", "contacts.write", "2021-07-28"},
	{"remove-tags", http.MethodDelete, "/contacts/{contactId}/tags", "contacts.write", "2021-07-28"},
	{"search-opportunity", http.MethodGet, "/opportunities/search", "opportunities.readonly", "2021-07-28"},
	{"get-opportunity", http.MethodGet, "/opportunities/{id}", "opportunities.readonly", "2021-07-28"},
	{"create-opportunity", http.MethodPost, "/opportunities/", "opportunities.write", "2021-07-28"},
	{"update-opportunity", http.MethodPut, "/opportunities/{id}", "opportunities.write", "2021-07-28"},
	{"update-opportunity-status", http.MethodPut, "/opportunities/{id}/status", "opportunities.write", "2021-07-28"},
	{"delete-opportunity", http.MethodDelete, "/opportunities/{id}", "opportunities.write", "2021-07-28"},
	{"get-pipelines", http.MethodGet, "/opportunities/pipelines", "opportunities.readonly", "2021-07-28"},
	{"get-calendars", http.MethodGet, "/calendars/", "calendars.readonly", "2021-04-15"},
	{"get-calendar", http.MethodGet, "/calendars/{calendarId}", "calendars.readonly", "2021-04-15"},
	{"get-slots", http.MethodGet, "/calendars/{calendarId}/free-slots", "calendars.readonly", "2021-04-15"},
	{"get-calendar-events", http.MethodGet, "/calendars/events", "calendars/events.readonly", "2021-04-15"},
	{"create-appointment", http.MethodPost, "/calendars/events/appointments", "calendars/events.write", "2021-04-15"},
	{"get-appointment", http.MethodGet, "/calendars/events/appointments/{eventId}", "calendars/events.readonly", "2021-04-15"},
	{"edit-appointment", http.MethodPut, "/calendars/events/appointments/{eventId}", "calendars/events.write", "2021-04-15"},
	{"delete-event", http.MethodDelete, "/calendars/events/{eventId}", "calendars/events.write", "2021-04-15"},
	{"list-orders", http.MethodGet, "/payments/orders", "payments/orders.readonly", "2021-07-28"},
	{"get-order-by-id", http.MethodGet, "/payments/orders/{orderId}", "payments/orders.readonly", "2021-07-28"},
	{"list-transactions", http.MethodGet, "/payments/transactions", "payments/transactions.readonly", "2021-07-28"},
	{"get-transaction-by-id", http.MethodGet, "/payments/transactions/{transactionId}", "payments/transactions.readonly", "2021-07-28"},
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
			got[op.OperationID] = wantOperation{op.OperationID, method, path, scope, version}
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
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := op.OperationID + " (" + method + " " + path + ")"
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
						for _, sc := range scopes {
							// Alternative token kinds (Location-Access or
							// Agency-Access) name the same scope once each.
							if !slices.Contains(secScopes, sc) {
								secScopes = append(secScopes, sc)
							}
						}
					}
				}
			}
			version, hasVersion := op.Extensions["x-hlgate-version"].(string)
			switch {
			case op.OperationID == "get-access-token":
				if scope != "" || len(secScopes) != 0 {
					t.Errorf("%s: scope %q, security scopes %v; the token endpoint takes client credentials, no scope", name, scope, secScopes)
				}
				if hasVersion {
					t.Errorf("%s: x-hlgate-version %q, the token endpoint declares none upstream", name, version)
				}
			case scope == "" || !slices.Equal(secScopes, []string{scope}):
				t.Errorf("%s: x-hlgate-scope %q, security scopes %v; want one non-empty scope, the same in both", name, scope, secScopes)
			case version == "":
				t.Errorf("%s: no x-hlgate-version", name)
			}
			for _, p := range op.Parameters {
				if p.Value.In == openapi3.ParameterInHeader {
					t.Errorf("%s: header parameter %q; headers (Version, Authorization) are set by the client chain", name, p.Value.Name)
				}
			}
			for _, code := range []string{"400", "401", "403", "404", "422", "429"} {
				r := op.Responses.Value(code)
				if r == nil || r.Value == nil || r.Value.Content.Get("application/json") == nil {
					t.Errorf("%s: no JSON %s response", name, code)
				}
			}
			if _, ok := op.Extensions["x-hlgate-upstream-errors"].([]any); !ok {
				t.Errorf("%s: x-hlgate-upstream-errors missing", name)
			}
		}
	}
}

// TestBodiesAreTyped checks that every request and response body is a typed
// schema (an object, or an array of objects for the few bodies that are
// lists): no `type: object` without properties standing in for a body (an
// empty body says so with additionalProperties false), so the generated
// client decodes into real Go types and the sandbox validates what it gets.
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
					if ct != "application/json" && mt.Schema != nil && mt.Schema.Value != nil && mt.Schema.Value.Type.Is(openapi3.TypeString) && mt.Schema.Value.Format == "binary" {
						continue // an answer of bytes (a recording): typed by its media type
					}
					checkTypedBody(t, name+" response "+code+" "+ct, mt.Schema)
				}
			}
		}
	}
}

func checkTypedBody(t *testing.T, name string, ref *openapi3.SchemaRef) {
	t.Helper()
	if ref == nil || ref.Value == nil {
		t.Errorf("%s: no body schema", name)
		return
	}
	s := ref.Value
	if s.Type != nil && s.Type.Is(openapi3.TypeArray) && s.Items != nil {
		// A list that is the body (a calendar's notifications): its items
		// must be typed.
		checkTypedBody(t, name+" items", s.Items)
		return
	}
	if s.Type == nil || !s.Type.Is(openapi3.TypeObject) {
		t.Errorf("%s: body schema %s is %v, want an object, or an array of them", name, ref.Ref, s.Type)
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
		"UpdateContactsSuccessfulResponseDto":          "succeded",
		"DeleteContactsSuccessfulResponseDto":          "succeded",
		"DeleteUpdateOpportunitySuccessfulResponseDto": "succeded",
		"DeleteEventSuccessfulResponseDto":             "succeeded",
		"SearchContactsResult":                         "total",
		"SearchedContact":                              "searchAfter",
		"GetLocationAccessTokenSuccessfulResponseDto":  "refresh_token",
		"GetAccessCodeSuccessfulResponseDto":           "refresh_token",
		"UnprocessableDTO":                             "message",
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
	if !schemas["UnprocessableDTO"].Value.Properties["message"].Value.Type.Is(openapi3.TypeArray) {
		t.Errorf("the 422 body's message must be an array of strings")
	}
	del := op(http.MethodDelete, "/calendars/events/{eventId}")
	if del.Responses.Value("201") == nil {
		t.Errorf("DELETE /calendars/events/{eventId} must answer 201 as upstream declares")
	}
	search2 := schemas["SearchBodyV2DTO"].Value
	if !slices.Contains(search2.Required, "locationId") || !slices.Contains(search2.Required, "pageLimit") {
		t.Errorf("SearchBodyV2DTO.required = %v, want locationId and pageLimit", search2.Required)
	}
	if max := search2.Properties["pageLimit"].Value.Max; max == nil || *max != 500 {
		t.Errorf("SearchBodyV2DTO.pageLimit maximum = %v, want 500", max)
	}
	if got := search2.Properties["query"].Value.MaxLength; got == nil || *got != 75 {
		t.Errorf("SearchBodyV2DTO.query maxLength = %v, want 75", got)
	}
	grants := schemas["GetAccessCodebodyDto"].Value.Properties["grant_type"].Value.Enum
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
