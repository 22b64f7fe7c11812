package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hlgate/hlgate/gen/highlevel"
)

// recordedRequest is what the fake upstream saw.
type recordedRequest struct {
	method, path, contentType string
	header                    http.Header
	query                     url.Values
	body                      []byte
}

// fakeUpstream answers every request with one canned status and body and
// records the request, so a test can check how the generated client encoded
// it.
type fakeUpstream struct {
	mu     sync.Mutex
	got    []recordedRequest
	status int
	body   []byte
}

func (f *fakeUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, recordedRequest{
		method: r.Method, path: r.URL.EscapedPath(), contentType: r.Header.Get("Content-Type"),
		header: r.Header.Clone(), query: r.URL.Query(), body: body,
	})
	status, resp := f.status, f.body
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if _, err := w.Write(resp); err != nil {
		panic(err) // the test client is gone; nothing sensible to report to
	}
}

func (f *fakeUpstream) requests() []recordedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func ptr[T any](v T) *T { return &v }

// exampleOf builds a JSON value for s: the official example where the
// document has one, else an instance assembled from the examples of its
// members, with a placeholder of the right type for every member that has
// none. Every declared property is present, so decoding the value exercises
// every field of the generated type.
func exampleOf(s *openapi3.Schema, depth int) any {
	if s.Example != nil {
		return s.Example
	}
	if depth > 8 {
		return nil
	}
	switch {
	case len(s.AllOf) > 0:
		merged := map[string]any{}
		for _, sub := range s.AllOf {
			if m, ok := exampleOf(sub.Value, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		return merged
	case len(s.AnyOf) > 0:
		return exampleOf(s.AnyOf[0].Value, depth+1)
	case len(s.OneOf) > 0:
		return exampleOf(s.OneOf[0].Value, depth+1)
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Type == nil:
		return "example"
	case s.Type.Is(openapi3.TypeObject):
		m := map[string]any{}
		for name, p := range s.Properties {
			if v := exampleOf(p.Value, depth+1); v != nil {
				m[name] = v
			}
		}
		return m
	case s.Type.Is(openapi3.TypeArray):
		if v := exampleOf(s.Items.Value, depth+1); v != nil {
			return []any{v}
		}
		return []any{}
	case s.Type.Is(openapi3.TypeString) && s.Format == "date-time":
		return "2024-01-15T10:30:00.000Z"
	case s.Type.Is(openapi3.TypeString):
		return "example"
	case s.Type.Is(openapi3.TypeNumber), s.Type.Is(openapi3.TypeInteger):
		return 1
	case s.Type.Is(openapi3.TypeBoolean):
		return true
	}
	return nil
}

// successExample returns the status and JSON body of op's documented
// success response: the response's own example when the official document
// has one, else one built from the schema's examples. The body is checked
// against the schema, so it is what a validating sandbox would accept.
func successExample(t *testing.T, doc *openapi3.T, operationID string) (int, []byte) {
	t.Helper()
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.OperationID != operationID {
				continue
			}
			for code, r := range op.Responses.Map() {
				if code[0] != '2' {
					continue
				}
				status, err := strconv.Atoi(code)
				if err != nil {
					t.Fatalf("%s: status %q: %v", operationID, code, err)
				}
				mt := r.Value.Content.Get("application/json")
				value := mt.Example
				if value == nil {
					value = exampleOf(mt.Schema.Value, 0)
				}
				if err := mt.Schema.Value.VisitJSON(value); err != nil {
					t.Fatalf("%s: example response does not match its schema: %v", operationID, err)
				}
				body, err := json.Marshal(value)
				if err != nil {
					t.Fatalf("%s: marshal example: %v", operationID, err)
				}
				return status, body
			}
		}
	}
	t.Fatalf("operation %s has no documented success response", operationID)
	return 0, nil
}

// sameTime treats two RFC 3339 strings naming the same instant as equal:
// time.Time fields re-encode "…00.000Z" as "…00Z".
var sameTime = cmp.FilterValues(func(a, b string) bool {
	_, errA := time.Parse(time.RFC3339Nano, a)
	_, errB := time.Parse(time.RFC3339Nano, b)
	return errA == nil && errB == nil
}, cmp.Comparer(func(a, b string) bool {
	ta, _ := time.Parse(time.RFC3339Nano, a)
	tb, _ := time.Parse(time.RFC3339Nano, b)
	return ta.Equal(tb)
}))

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return v
}

// clientCase drives one generated client method against the fake upstream.
type clientCase struct {
	op string // operationId; the fake answers with its documented example
	// call invokes the client and returns the HTTP status and the typed body
	// the client decoded for it (a JSONxxx field).
	call   func(context.Context, *highlevel.ClientWithResponses) (int, any, error)
	method string
	path   string     // exact escaped path, trailing slashes included
	query  url.Values // exact query
	json   string     // exact JSON body ("" = none)
	form   url.Values // exact form body (nil = none)
	// check asserts typed fields of the decoded body, proving the generated
	// types carry the upstream's values (numbers, maps, unions) faithfully.
	check func(t *testing.T, decoded any)
}

func TestClientEncodesAndDecodes(t *testing.T) {
	t.Parallel()
	doc := loadDoc(t)
	cases := []clientCase{
		{
			op: "GetAccessToken",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetAccessTokenWithFormdataBodyWithResponse(ctx, highlevel.AccessTokenRequest{
					ClientID: "app123-abc", ClientSecret: "s3cret",
					GrantType:   highlevel.AccessTokenRequestGrantTypeAuthorizationCode,
					Code:        ptr("code-1"),
					UserType:    ptr(highlevel.AccessTokenRequestUserTypeLocation),
					RedirectURI: ptr("https://myapp.com/oauth/callback/gohighlevel"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/oauth/token",
			form: url.Values{
				"client_id": {"app123-abc"}, "client_secret": {"s3cret"}, "grant_type": {"authorization_code"},
				"code": {"code-1"}, "user_type": {"Location"}, "redirect_uri": {"https://myapp.com/oauth/callback/gohighlevel"},
			},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.AccessTokenResult)
				want := highlevel.AccessTokenResult{
					AccessToken: ptr("ab12dc0ae1234a7898f9ff06d4f69gh"), TokenType: ptr("Bearer"), ExpiresIn: ptr(86399.0),
					RefreshToken: ptr("xy34dc0ae1234a4858f9ff06d4f66ba"), Scope: ptr("conversations/message.readonly conversations/message.write"),
					UserType: ptr("Location"), LocationID: ptr("l1C08ntBrFjLS0elLIYU"), CompanyID: ptr("l1C08ntBrFjLS0elLIYU"),
					ApprovedLocations: &[]string{"l1C08ntBrFjLS0elLIYU"}, UserID: "l1C08ntBrFjLS0elLIYU", PlanID: ptr("l1C08ntBrFjLS0elLIYU"),
					InstallToFutureLocations: ptr(true), ApproveAllLocations: ptr(true),
					IsBulkInstallation: ptr(true), // no usable upstream example (it says "Bearer"): placeholder
				}
				if diff := cmp.Diff(want, *got); diff != "" {
					t.Errorf("token response (-want +got):\n%s", diff)
				}
			},
		},
		{
			op: "GetAccessToken",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetAccessTokenWithFormdataBodyWithResponse(ctx, highlevel.AccessTokenRequest{
					ClientID: "app123-abc", ClientSecret: "s3cret",
					GrantType:    highlevel.AccessTokenRequestGrantTypeRefreshToken,
					RefreshToken: ptr("xy34dc0ae1234a4858f9ff06d4f66ba"),
					UserType:     ptr(highlevel.AccessTokenRequestUserTypeLocation),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/oauth/token",
			form: url.Values{
				"client_id": {"app123-abc"}, "client_secret": {"s3cret"}, "grant_type": {"refresh_token"},
				"refresh_token": {"xy34dc0ae1234a4858f9ff06d4f66ba"}, "user_type": {"Location"},
			},
		},
		{
			op: "GetLocationToken",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetLocationTokenWithFormdataBodyWithResponse(ctx, highlevel.LocationTokenRequest{
					CompanyID: "tDtDnQdgm2LXpyiqYvZ6", LocationID: "l1C08ntBrFjLS0elLIYU",
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/oauth/locationToken",
			form: url.Values{"companyId": {"tDtDnQdgm2LXpyiqYvZ6"}, "locationId": {"l1C08ntBrFjLS0elLIYU"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.LocationTokenResult)
				if got.RefreshToken == nil || *got.RefreshToken != "xy34dc0ae1234a4858f9ff06d4f66ba" {
					t.Errorf("location token refresh_token = %v, want the example", got.RefreshToken)
				}
			},
		},
		{
			op: "GetInstalledLocations",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetInstalledLocationsWithResponse(ctx, &highlevel.GetInstalledLocationsParams{
					CompanyID: "tDtDnQdgm2LXpyiqYvZ6", AppID: "app123", IsInstalled: ptr(true), Limit: ptr("50"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/oauth/installedLocations",
			query: url.Values{"companyId": {"tDtDnQdgm2LXpyiqYvZ6"}, "appId": {"app123"}, "isInstalled": {"true"}, "limit": {"50"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.InstalledLocationsResult)
				if got.Locations == nil || len(*got.Locations) != 1 || (*got.Locations)[0].ID != "0IHuJvc2ofPAAA8GzTRi" {
					t.Errorf("installed locations = %+v, want the example location 0IHuJvc2ofPAAA8GzTRi", got.Locations)
				}
			},
		},
		{
			op: "ListContactNotes",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListContactNotesWithResponse(ctx, "sx6wyHhbFdRXh302LLNR")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/contacts/sx6wyHhbFdRXh302LLNR/notes",
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.ContactNotesResult)
				if got.Notes == nil || len(*got.Notes) == 0 || (*got.Notes)[0].ID == nil {
					t.Errorf("notes = %+v, want the example note", got.Notes)
				}
			},
		},
		{
			op: "GetContact",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetContactWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/contacts/ocQHyuzHvysMo5N5VsXc",
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.GetContactResult).Contact
				want := &highlevel.Contact{ID: ptr("seD4PfOuKoVMLkEZqohJ"), LocationID: ptr("ve9EPM428h8vShlRW1KT"), Email: ptr("rubika@deos.com")}
				if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(highlevel.Contact{}, nonKeyContactFields...)); diff != "" {
					t.Errorf("contact (-want +got):\n%s", diff)
				}
				if got.CustomFields == nil || (*got.CustomFields)[0].ID == nil {
					t.Errorf("contact customFields = %v, want the example entry", got.CustomFields)
				}
			},
		},
		{
			op: "CreateContact",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				var field highlevel.CreateContactRequest_CustomFields
				if err := field.FromTextField(highlevel.TextField{ID: ptr("6dvNaf7VhkQ9snc5vnjJ"), FieldValue: ptr("My Text")}); err != nil {
					return 0, nil, err
				}
				r, err := c.CreateContactWithResponse(ctx, highlevel.CreateContactRequest{
					LocationID: "ve9EPM428h8vShlRW1KT", FirstName: ptr("Rosan"), Email: ptr("rosan@deos.com"),
					Tags:         &[]string{"vip"},
					DndSettings:  &highlevel.DndSettings{Email: &highlevel.DndSetting{Status: highlevel.DndSettingStatusActive}},
					CustomFields: &[]highlevel.CreateContactRequest_CustomFields{field},
				})
				return done(r, err, func() any { return r.JSON201 })
			},
			method: http.MethodPost, path: "/contacts/",
			json: `{"locationId":"ve9EPM428h8vShlRW1KT","firstName":"Rosan","email":"rosan@deos.com","tags":["vip"],
				"dndSettings":{"Email":{"status":"active"}},
				"customFields":[{"id":"6dvNaf7VhkQ9snc5vnjJ","field_value":"My Text"}]}`,
		},
		{
			op: "UpdateContact",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.UpdateContactWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc", highlevel.UpdateContactRequest{Phone: ptr("+18832327657")})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPut, path: "/contacts/ocQHyuzHvysMo5N5VsXc",
			json: `{"phone":"+18832327657"}`,
			check: func(t *testing.T, decoded any) {
				if got := decoded.(*highlevel.UpdateContactResult); got.Succeded == nil || !*got.Succeded {
					t.Errorf("succeded = %v, want true", got.Succeded)
				}
			},
		},
		{
			op: "DeleteContact",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.DeleteContactWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodDelete, path: "/contacts/ocQHyuzHvysMo5N5VsXc",
		},
		{
			op: "UpsertContact",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.UpsertContactWithResponse(ctx, highlevel.UpsertContactRequest{LocationID: "ve9EPM428h8vShlRW1KT", Email: ptr("rosan@deos.com")})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/contacts/upsert",
			json: `{"locationId":"ve9EPM428h8vShlRW1KT","email":"rosan@deos.com"}`,
		},
		{
			op: "SearchContacts",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.SearchContactsWithResponse(ctx, highlevel.SearchContactsRequest{
					LocationID: "ve9EPM428h8vShlRW1KT", PageLimit: 100,
					SearchAfter: &[]any{1695220245000, "seD4PfOuKoVMLkEZqohJ"},
					Filters: &[]highlevel.ContactSearchFilter{
						{Field: ptr("tags"), Operator: ptr(highlevel.ContactSearchFilterOperatorContains), Value: "vip"},
						{Group: ptr(highlevel.ContactSearchFilterGroupOR), Filters: &[]highlevel.ContactSearchFilter{
							{Field: ptr("email"), Operator: ptr(highlevel.ContactSearchFilterOperatorExists)},
						}},
					},
					Sort:  &[]highlevel.ContactSearchSort{{Field: "dateAdded", Direction: highlevel.ContactSearchSortDirectionDesc}},
					Query: ptr("rubika"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/contacts/search",
			json: `{"locationId":"ve9EPM428h8vShlRW1KT","pageLimit":100,"searchAfter":[1695220245000,"seD4PfOuKoVMLkEZqohJ"],
				"filters":[{"field":"tags","operator":"contains","value":"vip"},
				           {"group":"OR","filters":[{"field":"email","operator":"exists"}]}],
				"sort":[{"field":"dateAdded","direction":"desc"}],"query":"rubika"}`,
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.SearchContactsResult)
				if len(got.Contacts) != 1 || got.Total != 1 {
					t.Fatalf("search result = %d contacts, total %d; want the example's 1 and 1", len(got.Contacts), got.Total)
				}
				if diff := cmp.Diff(&[]any{1695220245000.0, "seD4PfOuKoVMLkEZqohJ"}, got.Contacts[0].SearchAfter); diff != "" {
					t.Errorf("searchAfter cursor (-want +got):\n%s", diff)
				}
			},
		},
		{
			op: "AddContactTags",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.AddContactTagsWithResponse(ctx, "sx6wyHhbFdRXh302LLNR", highlevel.ContactTagsRequest{Tags: []string{"minim", "velit magna"}})
				return done(r, err, func() any { return r.JSON201 })
			},
			method: http.MethodPost, path: "/contacts/sx6wyHhbFdRXh302LLNR/tags",
			json: `{"tags":["minim","velit magna"]}`,
		},
		{
			op: "RemoveContactTags",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.RemoveContactTagsWithResponse(ctx, "sx6wyHhbFdRXh302LLNR", highlevel.ContactTagsRequest{Tags: []string{"minim"}})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodDelete, path: "/contacts/sx6wyHhbFdRXh302LLNR/tags",
			json: `{"tags":["minim"]}`,
		},
		{
			op: "SearchOpportunities",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.SearchOpportunitiesWithResponse(ctx, &highlevel.SearchOpportunitiesParams{
					LocationID: "ve9EPM428h8vShlRW1KT", Status: ptr(highlevel.SearchOpportunitiesParamsStatusOpen),
					PipelineID: ptr("VDm7RPYC2GLUvdpKmBfC"), Limit: ptr(100.0),
					StartAfter: ptr("1625203104328"), StartAfterID: ptr("yWQobCRIhRguQtD2llvk"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/opportunities/search",
			query: url.Values{
				"location_id": {"ve9EPM428h8vShlRW1KT"}, "status": {"open"}, "pipeline_id": {"VDm7RPYC2GLUvdpKmBfC"},
				"limit": {"100"}, "startAfter": {"1625203104328"}, "startAfterId": {"yWQobCRIhRguQtD2llvk"},
			},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.SearchOpportunitiesResult)
				want := &highlevel.OpportunitySearchMeta{
					Total: ptr(1.0), StartAfterID: ptr("yWQobCRIhRguQtD2llvk"), StartAfter: ptr(1625203104328.0),
					CurrentPage: ptr(2.0), NextPage: ptr(3.0), PrevPage: ptr(1.0),
				}
				if diff := cmp.Diff(want, got.Meta, cmpopts.IgnoreFields(highlevel.OpportunitySearchMeta{}, "NextPageURL")); diff != "" {
					t.Errorf("meta (-want +got):\n%s", diff)
				}
				if got.Opportunities == nil || *(*got.Opportunities)[0].MonetaryValue != 500 {
					t.Errorf("opportunities = %+v, want the example's monetaryValue 500", got.Opportunities)
				}
			},
		},
		{
			op: "GetOpportunity",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetOpportunityWithResponse(ctx, "yWQobCRIhRguQtD2llvk")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/opportunities/yWQobCRIhRguQtD2llvk",
		},
		{
			op: "CreateOpportunity",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				var field highlevel.CreateOpportunityRequest_CustomFields
				if err := field.FromCustomFieldInputArray(highlevel.CustomFieldInputArray{ID: ptr("6dvNaf7VhkQ9snc5vnjJ"), FieldValue: &[]string{"test", "test2"}}); err != nil {
					return 0, nil, err
				}
				r, err := c.CreateOpportunityWithResponse(ctx, highlevel.CreateOpportunityRequest{
					PipelineID: "VDm7RPYC2GLUvdpKmBfC", LocationID: "ve9EPM428h8vShlRW1KT", Name: "First Opps",
					Status: highlevel.CreateOpportunityRequestStatusOpen, ContactID: "mTkSCb1UBjb5tk4OvB69",
					MonetaryValue: ptr(220.0), CustomFields: &[]highlevel.CreateOpportunityRequest_CustomFields{field},
				})
				return done(r, err, func() any { return r.JSON201 })
			},
			method: http.MethodPost, path: "/opportunities/",
			json: `{"pipelineId":"VDm7RPYC2GLUvdpKmBfC","locationId":"ve9EPM428h8vShlRW1KT","name":"First Opps","status":"open",
				"contactId":"mTkSCb1UBjb5tk4OvB69","monetaryValue":220,
				"customFields":[{"id":"6dvNaf7VhkQ9snc5vnjJ","field_value":["test","test2"]}]}`,
		},
		{
			op: "UpdateOpportunity",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.UpdateOpportunityWithResponse(ctx, "yWQobCRIhRguQtD2llvk", highlevel.UpdateOpportunityRequest{
					PipelineStageID: ptr("7915dedc-8f18-44d5-8bc3-77c04e994a10"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPut, path: "/opportunities/yWQobCRIhRguQtD2llvk",
			json: `{"pipelineStageId":"7915dedc-8f18-44d5-8bc3-77c04e994a10"}`,
		},
		{
			op: "UpdateOpportunityStatus",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.UpdateOpportunityStatusWithResponse(ctx, "yWQobCRIhRguQtD2llvk", highlevel.UpdateOpportunityStatusRequest{
					Status: highlevel.UpdateOpportunityStatusRequestStatusLost, LostReasonID: ptr("zT46WSCPbudrq4zhWMk6"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPut, path: "/opportunities/yWQobCRIhRguQtD2llvk/status",
			json: `{"status":"lost","lostReasonId":"zT46WSCPbudrq4zhWMk6"}`,
		},
		{
			op: "DeleteOpportunity",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.DeleteOpportunityWithResponse(ctx, "yWQobCRIhRguQtD2llvk")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodDelete, path: "/opportunities/yWQobCRIhRguQtD2llvk",
		},
		{
			op: "ListPipelines",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListPipelinesWithResponse(ctx, &highlevel.ListPipelinesParams{LocationID: "ve9EPM428h8vShlRW1KT"})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/opportunities/pipelines",
			query: url.Values{"locationId": {"ve9EPM428h8vShlRW1KT"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.ListPipelinesResult)
				stages := (*got.Pipelines)[0].Stages
				if stages == nil || len(*stages) != 1 || (*stages)[0].ID == "" {
					t.Errorf("pipeline stages = %+v, want one typed stage with an id", stages)
				}
			},
		},
		{
			op: "ListCalendars",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListCalendarsWithResponse(ctx, &highlevel.ListCalendarsParams{LocationID: "ve9EPM428h8vShlRW1KT", ShowDrafted: ptr(true)})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/calendars/",
			query: url.Values{"locationId": {"ve9EPM428h8vShlRW1KT"}, "showDrafted": {"true"}},
		},
		{
			op: "GetCalendar",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetCalendarWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/calendars/ocQHyuzHvysMo5N5VsXc",
			check: func(t *testing.T, decoded any) {
				cal := decoded.(*highlevel.GetCalendarResult).Calendar
				if cal.SlotDuration == nil || cal.SlotInterval == nil || cal.OpenHours == nil || len((*cal.OpenHours)[0].Hours) == 0 {
					t.Errorf("calendar lacks what free-slot computation needs: slotDuration %v slotInterval %v openHours %v",
						cal.SlotDuration, cal.SlotInterval, cal.OpenHours)
				}
			},
		},
		{
			op: "GetFreeSlots",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetFreeSlotsWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc", &highlevel.GetFreeSlotsParams{
					StartDate: 1548898600000, EndDate: 1551490599999, Timezone: ptr("America/Chihuahua"),
					UserIds: &[]string{"u1", "u2"},
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/calendars/ocQHyuzHvysMo5N5VsXc/free-slots",
			query: url.Values{
				"startDate": {"1548898600000"}, "endDate": {"1551490599999"}, "timezone": {"America/Chihuahua"},
				"userIds": {"u1", "u2"},
			},
			check: func(t *testing.T, decoded any) {
				got := *decoded.(*highlevel.FreeSlotsResult)
				want := highlevel.FreeSlotsResult{
					"2024-10-28": {Slots: []string{"2024-10-28T10:00:00-05:00", "2024-10-28T11:00:00-05:00"}},
					"2024-10-29": {Slots: []string{"2024-10-29T10:00:00-05:00", "2024-10-29T14:30:00-05:00"}},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("free slots (-want +got):\n%s", diff)
				}
			},
		},
		{
			op: "ListEvents",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListEventsWithResponse(ctx, &highlevel.ListEventsParams{
					LocationID: "ve9EPM428h8vShlRW1KT", CalendarID: ptr("ocQHyuzHvysMo5N5VsXc"),
					StartTime: "1680373800000", EndTime: "1680978599999",
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/calendars/events",
			query: url.Values{
				"locationId": {"ve9EPM428h8vShlRW1KT"}, "calendarId": {"ocQHyuzHvysMo5N5VsXc"},
				"startTime": {"1680373800000"}, "endTime": {"1680978599999"},
			},
		},
		{
			op: "CreateAppointment",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.CreateAppointmentWithResponse(ctx, highlevel.CreateAppointmentRequest{
					CalendarID: "CVokAlI8fgw4WYWoCtQz", LocationID: "C2QujeCh8ZnC7al2InWR", ContactID: "0007BWpSzSwfiuSl0tR2",
					StartTime: "2021-06-23T03:30:00+05:30", EndTime: ptr("2021-06-23T04:30:00+05:30"),
					AppointmentStatus: ptr(highlevel.CreateAppointmentRequestAppointmentStatusConfirmed),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/calendars/events/appointments",
			json: `{"calendarId":"CVokAlI8fgw4WYWoCtQz","locationId":"C2QujeCh8ZnC7al2InWR","contactId":"0007BWpSzSwfiuSl0tR2",
				"startTime":"2021-06-23T03:30:00+05:30","endTime":"2021-06-23T04:30:00+05:30","appointmentStatus":"confirmed"}`,
			check: func(t *testing.T, decoded any) {
				if got := decoded.(*highlevel.Appointment); got.ID != "0TkCdp9PfvLeWKYRRvIz" {
					t.Errorf("appointment id = %q, want the example's", got.ID)
				}
			},
		},
		{
			op: "GetAppointment",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetAppointmentWithResponse(ctx, "0TkCdp9PfvLeWKYRRvIz")
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/calendars/events/appointments/0TkCdp9PfvLeWKYRRvIz",
		},
		{
			op: "UpdateAppointment",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.UpdateAppointmentWithResponse(ctx, "0TkCdp9PfvLeWKYRRvIz", highlevel.UpdateAppointmentRequest{
					AppointmentStatus: ptr(highlevel.UpdateAppointmentRequestAppointmentStatusCancelled),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPut, path: "/calendars/events/appointments/0TkCdp9PfvLeWKYRRvIz",
			json: `{"appointmentStatus":"cancelled"}`,
		},
		{
			op: "DeleteEvent",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.DeleteEventWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc_1729821600000_1800", highlevel.DeleteEventRequest{})
				return done(r, err, func() any { return r.JSON201 })
			},
			method: http.MethodDelete, path: "/calendars/events/ocQHyuzHvysMo5N5VsXc_1729821600000_1800",
			json: `{}`,
			check: func(t *testing.T, decoded any) {
				if got := decoded.(*highlevel.DeleteEventResult); got.Succeeded == nil || !*got.Succeeded {
					t.Errorf("succeeded = %v, want true", got.Succeeded)
				}
			},
		},
		{
			op: "ListOrders",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListOrdersWithResponse(ctx, &highlevel.ListOrdersParams{
					AltID: "3SwdhCu3svxI8AKsPJt6", LocationID: ptr("3SwdhCu3svxI8AKsPJt6"),
					PaymentStatus: ptr(highlevel.ListOrdersParamsPaymentStatusPaid), Limit: ptr(20.0), Offset: ptr(40.0),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/payments/orders",
			query: url.Values{
				"altId": {"3SwdhCu3svxI8AKsPJt6"}, "locationId": {"3SwdhCu3svxI8AKsPJt6"},
				"paymentStatus": {"paid"}, "limit": {"20"}, "offset": {"40"},
			},
		},
		{
			op: "GetOrder",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetOrderWithResponse(ctx, "653f5e0cde5a1314e62a837c", &highlevel.GetOrderParams{
					AltID: "3SwdhCu3svxI8AKsPJt6", AltType: "location",
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/payments/orders/653f5e0cde5a1314e62a837c",
			query: url.Values{"altId": {"3SwdhCu3svxI8AKsPJt6"}, "altType": {"location"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.Order)
				if got.ID == "" || got.AltType == "" || got.CreatedAt.IsZero() {
					t.Errorf("order = %+v, want _id, altType and createdAt decoded", got)
				}
			},
		},
		{
			op: "ListTransactions",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.ListTransactionsWithResponse(ctx, &highlevel.ListTransactionsParams{
					AltID: "3SwdhCu3svxI8AKsPJt6", AltType: "location", EntityID: ptr("653f5e0cde5a1314e62a837c"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/payments/transactions",
			query: url.Values{"altId": {"3SwdhCu3svxI8AKsPJt6"}, "altType": {"location"}, "entityId": {"653f5e0cde5a1314e62a837c"}},
		},
		{
			op: "GetTransaction",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetTransactionWithResponse(ctx, "61dd0feac077f72010f78804", &highlevel.GetTransactionParams{
					AltID: "3SwdhCu3svxI8AKsPJt6", AltType: "location",
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/payments/transactions/61dd0feac077f72010f78804",
			query: url.Values{"altId": {"3SwdhCu3svxI8AKsPJt6"}, "altType": {"location"}},
		},
	}

	covered := map[string]bool{}
	for i, tc := range cases {
		covered[tc.op] = true
		t.Run(strconv.Itoa(i)+"_"+tc.op, func(t *testing.T) {
			t.Parallel()
			wantStatus, body := successExample(t, doc, tc.op)
			fake := &fakeUpstream{status: wantStatus, body: body}
			srv := httptest.NewServer(fake)
			t.Cleanup(srv.Close)
			client, err := highlevel.NewClientWithResponses(srv.URL)
			if err != nil {
				t.Fatalf("new client: %v", err)
			}

			gotStatus, decoded, err := tc.call(t.Context(), client)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := fake.requests()
			if len(reqs) != 1 {
				t.Fatalf("upstream saw %d requests, want 1", len(reqs))
			}
			req := reqs[0]
			if req.method != tc.method || req.path != tc.path {
				t.Errorf("request = %s %s, want %s %s", req.method, req.path, tc.method, tc.path)
			}
			if diff := cmp.Diff(tc.query, req.query, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("query (-want +got):\n%s", diff)
			}
			// The Version and Authorization headers belong to the client chain
			// (upstream package), never to the generated client.
			for _, h := range []string{"Version", "Authorization"} {
				if v := req.header.Get(h); v != "" {
					t.Errorf("generated client sent %s: %q", h, v)
				}
			}
			switch {
			case tc.form != nil:
				if req.contentType != "application/x-www-form-urlencoded" {
					t.Errorf("content type = %q, want form-urlencoded", req.contentType)
				}
				form, err := url.ParseQuery(string(req.body))
				if err != nil {
					t.Fatalf("parse form body %q: %v", req.body, err)
				}
				if diff := cmp.Diff(tc.form, form); diff != "" {
					t.Errorf("form body (-want +got):\n%s", diff)
				}
			case tc.json != "":
				if req.contentType != "application/json" {
					t.Errorf("content type = %q, want application/json", req.contentType)
				}
				if diff := cmp.Diff(jsonValue(t, []byte(tc.json)), jsonValue(t, req.body)); diff != "" {
					t.Errorf("JSON body (-want +got):\n%s", diff)
				}
			default:
				if len(req.body) != 0 {
					t.Errorf("unexpected request body %q", req.body)
				}
			}

			if gotStatus != wantStatus {
				t.Fatalf("status = %d, want %d", gotStatus, wantStatus)
			}
			if decoded == nil {
				t.Fatalf("the client decoded no typed %d body", wantStatus)
			}
			// Every member of the official example survives decoding into
			// the generated type: nothing is dropped or mistyped.
			again, err := json.Marshal(decoded)
			if err != nil {
				t.Fatalf("re-encode decoded body: %v", err)
			}
			if diff := cmp.Diff(jsonValue(t, body), jsonValue(t, again), sameTime); diff != "" {
				t.Errorf("decoded body differs from the served example (-served +decoded):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, decoded)
			}
		})
	}
	for _, op := range wantOperations {
		if !covered[op.id] {
			t.Errorf("operation %s is not driven by this test", op.id)
		}
	}
}

// TestClientDecodesErrors proves the error bodies the upstream documents
// reach the caller typed, including the 422 body whose message is a list.
func TestClientDecodesErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, r *highlevel.SearchContactsResponse)
	}{
		{"400", http.StatusBadRequest, `{"statusCode":400,"message":"Bad Request"}`, func(t *testing.T, r *highlevel.SearchContactsResponse) {
			want := &highlevel.BadRequest{StatusCode: ptr(400.0), Message: ptr("Bad Request")}
			if diff := cmp.Diff(want, r.JSON400); diff != "" {
				t.Errorf("400 body (-want +got):\n%s", diff)
			}
		}},
		{"401", http.StatusUnauthorized, `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`, func(t *testing.T, r *highlevel.SearchContactsResponse) {
			want := &highlevel.Unauthorized{StatusCode: ptr(401.0), Message: ptr("Invalid token: access token is invalid"), Error: ptr("Unauthorized")}
			if diff := cmp.Diff(want, r.JSON401); diff != "" {
				t.Errorf("401 body (-want +got):\n%s", diff)
			}
		}},
		{"422", http.StatusUnprocessableEntity, `{"statusCode":422,"message":["locationId should not be empty","pageLimit must not be greater than 500"],"error":"Unprocessable Entity"}`, func(t *testing.T, r *highlevel.SearchContactsResponse) {
			want := &highlevel.UnprocessableEntity{
				StatusCode: ptr(422.0), Error: ptr("Unprocessable Entity"),
				Message: &[]string{"locationId should not be empty", "pageLimit must not be greater than 500"},
			}
			if diff := cmp.Diff(want, r.JSON422); diff != "" {
				t.Errorf("422 body (-want +got):\n%s", diff)
			}
		}},
		{"429", http.StatusTooManyRequests, `{"statusCode":429,"message":"Too Many Requests","error":"Too Many Requests"}`, func(t *testing.T, r *highlevel.SearchContactsResponse) {
			want := &highlevel.TooManyRequests{StatusCode: ptr(429.0), Message: ptr("Too Many Requests"), Error: ptr("Too Many Requests")}
			if diff := cmp.Diff(want, r.JSON429); diff != "" {
				t.Errorf("429 body (-want +got):\n%s", diff)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(&fakeUpstream{status: tc.status, body: []byte(tc.body)})
			t.Cleanup(srv.Close)
			client, err := highlevel.NewClientWithResponses(srv.URL)
			if err != nil {
				t.Fatalf("new client: %v", err)
			}
			r, err := client.SearchContactsWithResponse(t.Context(), highlevel.SearchContactsRequest{LocationID: "loc", PageLimit: 10})
			if err != nil {
				t.Fatalf("search: %v", err)
			}
			if r.StatusCode() != tc.status || r.JSON200 != nil {
				t.Fatalf("status %d, JSON200 %v; want %d and no success body", r.StatusCode(), r.JSON200, tc.status)
			}
			tc.check(t, r)
		})
	}
}

// TestTokenErrorCarriesOAuthMembers proves a refresh rejected with an OAuth
// error body keeps its `error` member, which the token store reads to tell
// a spent refresh token (invalid_grant) from other failures.
func TestTokenErrorCarriesOAuthMembers(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(&fakeUpstream{status: http.StatusBadRequest,
		body: []byte(`{"statusCode":400,"message":"Invalid grant: refresh token is invalid","error":"invalid_grant","error_description":"refresh token is invalid"}`)})
	t.Cleanup(srv.Close)
	client, err := highlevel.NewClientWithResponses(srv.URL)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	r, err := client.GetAccessTokenWithFormdataBodyWithResponse(t.Context(), highlevel.AccessTokenRequest{
		ClientID: "id", ClientSecret: "secret", GrantType: highlevel.AccessTokenRequestGrantTypeRefreshToken, RefreshToken: ptr("spent"),
	})
	if err != nil {
		t.Fatalf("token call: %v", err)
	}
	want := &highlevel.OAuthBadRequest{
		StatusCode: ptr(400.0), Message: ptr("Invalid grant: refresh token is invalid"),
		Error: ptr("invalid_grant"), ErrorDescription: ptr("refresh token is invalid"),
	}
	if diff := cmp.Diff(want, r.JSON400); diff != "" {
		t.Errorf("token 400 body (-want +got):\n%s", diff)
	}
}

// nonKeyContactFields are the Contact fields the GetContact check leaves to
// the round-trip comparison.
var nonKeyContactFields = []string{
	"Address1", "AssignedTo", "Attachments", "AttributionSource", "BusinessID", "City", "CompanyName", "Country",
	"CustomFields", "DateAdded", "DateOfBirth", "DateUpdated", "Dnd", "DndSettings", "EmailLowerCase", "FirstName",
	"FirstNameLowerCase", "FullNameLowerCase", "Keyword", "LastActivity", "LastAttributionSource", "LastName",
	"LastNameLowerCase", "Name", "Phone", "PostalCode", "Source", "Ssn", "State", "Tags", "Timezone", "Type",
	"VisitorID", "Website",
}

// done adapts a generated response to clientCase.call: the status and the
// typed success body (nil when the client decoded none).
func done(r interface{ StatusCode() int }, err error, body func() any) (int, any, error) {
	if err != nil {
		return 0, nil, err
	}
	v := body()
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
		v = nil
	}
	return r.StatusCode(), v, nil
}
