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

// typedOperations are the operations hlgate's own code calls through the
// generated client's typed methods: the token store's OAuth calls and the
// hand-written handlers (server.handWritten). The generic path sends every
// other operation through the client's transport alone (server tests cover
// those end to end), so only these need their encoding pinned here.
var typedOperations = []string{
	"get-access-token", "get-location-access-token", "get-installed-location",
	"search-contacts-advanced", "get-slots", "get-calendar-events",
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
			op: "get-access-token",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetAccessTokenWithFormdataBodyWithResponse(ctx, highlevel.GetAccessCodebodyDto{
					ClientID: "app123-abc", ClientSecret: "s3cret",
					GrantType:   highlevel.GetAccessCodebodyDtoGrantTypeAuthorizationCode,
					Code:        ptr("code-1"),
					UserType:    ptr(highlevel.GetAccessCodebodyDtoUserTypeLocation),
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
				got := decoded.(*highlevel.GetAccessCodeSuccessfulResponseDto)
				want := highlevel.GetAccessCodeSuccessfulResponseDto{
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
			op: "get-access-token",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetAccessTokenWithFormdataBodyWithResponse(ctx, highlevel.GetAccessCodebodyDto{
					ClientID: "app123-abc", ClientSecret: "s3cret",
					GrantType:    highlevel.GetAccessCodebodyDtoGrantTypeRefreshToken,
					RefreshToken: ptr("xy34dc0ae1234a4858f9ff06d4f66ba"),
					UserType:     ptr(highlevel.GetAccessCodebodyDtoUserTypeLocation),
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
			op: "get-location-access-token",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetLocationAccessTokenWithFormdataBodyWithResponse(ctx, highlevel.GetLocationAccessCodeBodyDto{
					CompanyID: "tDtDnQdgm2LXpyiqYvZ6", LocationID: "l1C08ntBrFjLS0elLIYU",
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodPost, path: "/oauth/locationToken",
			form: url.Values{"companyId": {"tDtDnQdgm2LXpyiqYvZ6"}, "locationId": {"l1C08ntBrFjLS0elLIYU"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.GetLocationAccessTokenSuccessfulResponseDto)
				// The overlay adds refresh_token; the generated type must carry it.
				if got.RefreshToken == nil || *got.RefreshToken == "" {
					t.Errorf("location token refresh_token = %v, want the served value", got.RefreshToken)
				}
			},
		},
		{
			op: "get-installed-location",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetInstalledLocationWithResponse(ctx, &highlevel.GetInstalledLocationParams{
					CompanyID: "tDtDnQdgm2LXpyiqYvZ6", AppID: "app123", IsInstalled: ptr(true), Limit: ptr("50"),
				})
				return done(r, err, func() any { return r.JSON200 })
			},
			method: http.MethodGet, path: "/oauth/installedLocations",
			query: url.Values{"companyId": {"tDtDnQdgm2LXpyiqYvZ6"}, "appId": {"app123"}, "isInstalled": {"true"}, "limit": {"50"}},
			check: func(t *testing.T, decoded any) {
				got := decoded.(*highlevel.GetInstalledLocationsSuccessfulResponseDto)
				if got.Locations == nil || len(*got.Locations) != 1 || (*got.Locations)[0].ID != "0IHuJvc2ofPAAA8GzTRi" {
					t.Errorf("installed locations = %+v, want the example location 0IHuJvc2ofPAAA8GzTRi", got.Locations)
				}
			},
		},
		{
			op: "search-contacts-advanced",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.SearchContactsAdvancedWithResponse(ctx, highlevel.SearchBodyV2DTO{
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
				if got.Contacts[0].SearchAfter == nil || len(*got.Contacts[0].SearchAfter) == 0 {
					t.Errorf("searchAfter cursor = %v, want the served cursor", got.Contacts[0].SearchAfter)
				}
			},
		},
		{
			op: "get-slots",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetSlotsWithResponse(ctx, "ocQHyuzHvysMo5N5VsXc", &highlevel.GetSlotsParams{
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
				got := *decoded.(*map[string]highlevel.SlotsSchema)
				want := map[string]highlevel.SlotsSchema{
					"2024-10-28": {Slots: []string{"2024-10-28T10:00:00-05:00", "2024-10-28T11:00:00-05:00"}},
					"2024-10-29": {Slots: []string{"2024-10-29T10:00:00-05:00", "2024-10-29T14:30:00-05:00"}},
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("free slots (-want +got):\n%s", diff)
				}
			},
		},
		{
			op: "get-calendar-events",
			call: func(ctx context.Context, c *highlevel.ClientWithResponses) (int, any, error) {
				r, err := c.GetCalendarEventsWithResponse(ctx, &highlevel.GetCalendarEventsParams{
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
	for _, id := range typedOperations {
		if !covered[id] {
			t.Errorf("operation %s is not driven by this test", id)
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
		check  func(t *testing.T, r *highlevel.SearchContactsAdvancedResponse)
	}{
		{"400", http.StatusBadRequest, `{"statusCode":400,"message":"Bad Request"}`, func(t *testing.T, r *highlevel.SearchContactsAdvancedResponse) {
			want := &highlevel.BadRequestDTO{StatusCode: ptr(400.0), Message: ptr("Bad Request")}
			if diff := cmp.Diff(want, r.JSON400); diff != "" {
				t.Errorf("400 body (-want +got):\n%s", diff)
			}
		}},
		{"401", http.StatusUnauthorized, `{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`, func(t *testing.T, r *highlevel.SearchContactsAdvancedResponse) {
			want := &highlevel.UnauthorizedDTO{StatusCode: ptr(401.0), Message: ptr("Invalid token: access token is invalid"), Error: ptr("Unauthorized")}
			if diff := cmp.Diff(want, r.JSON401); diff != "" {
				t.Errorf("401 body (-want +got):\n%s", diff)
			}
		}},
		{"422", http.StatusUnprocessableEntity, `{"statusCode":422,"message":["locationId should not be empty","pageLimit must not be greater than 500"],"error":"Unprocessable Entity"}`, func(t *testing.T, r *highlevel.SearchContactsAdvancedResponse) {
			want := &highlevel.UnprocessableDTO{
				StatusCode: ptr(422.0), Error: ptr("Unprocessable Entity"),
				Message: &[]string{"locationId should not be empty", "pageLimit must not be greater than 500"},
			}
			if diff := cmp.Diff(want, r.JSON422); diff != "" {
				t.Errorf("422 body (-want +got):\n%s", diff)
			}
		}},
		{"429", http.StatusTooManyRequests, `{"statusCode":429,"message":"Too Many Requests","error":"Too Many Requests"}`, func(t *testing.T, r *highlevel.SearchContactsAdvancedResponse) {
			want := &highlevel.UnauthorizedDTO{StatusCode: ptr(429.0), Message: ptr("Too Many Requests"), Error: ptr("Too Many Requests")}
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
			r, err := client.SearchContactsAdvancedWithResponse(t.Context(), highlevel.SearchBodyV2DTO{LocationID: "loc", PageLimit: 10})
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
	r, err := client.GetAccessTokenWithFormdataBodyWithResponse(t.Context(), highlevel.GetAccessCodebodyDto{
		ClientID: "id", ClientSecret: "secret", GrantType: highlevel.GetAccessCodebodyDtoGrantTypeRefreshToken, RefreshToken: ptr("spent"),
	})
	if err != nil {
		t.Fatalf("token call: %v", err)
	}
	want := &highlevel.OAuthErrorDTO{
		StatusCode: ptr(400.0), Message: ptr("Invalid grant: refresh token is invalid"),
		Error: ptr("invalid_grant"), ErrorDescription: ptr("refresh token is invalid"),
	}
	if diff := cmp.Diff(want, r.JSON400); diff != "" {
		t.Errorf("token 400 body (-want +got):\n%s", diff)
	}
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
