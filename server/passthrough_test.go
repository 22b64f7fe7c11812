package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hlgate/hlgate/gen/optable"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
)

// seen is what the sandbox received for one request.
type seen struct {
	method, path, query, auth, version string
}

// recorder keeps every request that reached the sandbox, in order.
type recorder struct {
	mu  sync.Mutex
	got []seen
}

func (rec *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.got = append(rec.got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization"), r.Header.Get("Version")})
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (rec *recorder) last(t *testing.T) seen {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.got) == 0 {
		t.Fatal("nothing reached the sandbox")
	}
	return rec.got[len(rec.got)-1]
}

const customFieldsPath = "/locations/" + sandbox.DemoLocationID + "/customFields"

func customFieldsCall() *hlgatev1.CallRequest {
	return &hlgatev1.CallRequest{
		Method: "GET", Path: customFieldsPath,
		Query:   []*hlgatev1.QueryParameter{{Name: "model", Value: "contact"}},
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID},
	}
}

// The passthrough reaches an operation no typed RPC serves (the
// deprecated contacts list, declared for it only), over gRPC and REST: the
// sandbox sees the location's token, the operation's Version header, the
// path and the query; the caller gets HighLevel's status, body and
// rate-limit headers, and the row matched.
func TestPassthroughReachesAnUntypedOperation(t *testing.T) {
	t.Parallel()
	if row, ok := optable.Lookup("get-contacts"); !ok || row.Exposed || !row.Declared {
		t.Fatalf("get-contacts: %+v, want declared for the passthrough and not typed", row)
	}
	rec := &recorder{}
	h := newHarness(t, harnessOptions{keys: testKeys(), wrapUpstream: rec.wrap})
	tok, err := h.mgr.Token(context.Background(), sandbox.DemoLocationID)
	if err != nil {
		t.Fatal(err)
	}
	query := "limit=3&locationId=" + sandbox.DemoLocationID
	want := seen{"GET", "/contacts/", query, "Bearer " + tok.AccessToken, sandbox.VersionDefault}

	resp, err := h.upstream.Call(h.ctx(readKey), &hlgatev1.CallRequest{
		Method: "GET", Path: "/contacts/",
		Query:   []*hlgatev1.QueryParameter{{Name: "locationId", Value: sandbox.DemoLocationID}, {Name: "limit", Value: "3"}},
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t); got != want {
		t.Fatalf("the sandbox saw %+v, want %+v", got, want)
	}
	contacts := resp.GetBody().GetStructValue().GetFields()["contacts"].GetListValue().GetValues()
	if resp.GetStatus() != 200 || resp.GetOperationId() != "get-contacts" || len(contacts) != 3 {
		t.Fatalf("status %d, operation %q, %d contacts (want 200, get-contacts, 3): %v", resp.GetStatus(), resp.GetOperationId(), len(contacts), resp)
	}
	for _, c := range contacts {
		if l := c.GetStructValue().GetFields()["locationId"].GetStringValue(); l != sandbox.DemoLocationID {
			t.Fatalf("a contact of location %q came back", l)
		}
	}
	// One call so far on this key: HighLevel's window has 99 left.
	if got := resp.GetHeaders(); got["x-ratelimit-remaining"] != "99" || got["x-ratelimit-max"] != "100" || len(got) != 5 {
		t.Fatalf("headers %v, want the five x-ratelimit-* headers with 99 remaining", got)
	}

	code, _, body := h.rest(http.MethodPost, "/v1/upstream:call", readKey, strings.NewReader(
		`{"method":"GET","path":"/contacts/","locationId":"`+sandbox.DemoLocationID+`","query":[{"name":"locationId","value":"`+sandbox.DemoLocationID+`"},{"name":"limit","value":"2"}]}`))
	if code != http.StatusOK {
		t.Fatalf("REST = %d: %s", code, body)
	}
	var rest struct {
		Status      int               `json:"status"`
		Body        map[string]any    `json:"body"`
		Headers     map[string]string `json:"headers"`
		OperationID string            `json:"operationId"`
	}
	if err := json.Unmarshal(body, &rest); err != nil {
		t.Fatalf("REST body %s: %v", body, err)
	}
	if cs, _ := rest.Body["contacts"].([]any); rest.Status != 200 || rest.OperationID != "get-contacts" || len(cs) != 2 || rest.Headers["x-ratelimit-remaining"] != "98" {
		t.Fatalf("REST answer %s", body)
	}
	if got := rec.last(t); got.query != "limit=2&locationId="+sandbox.DemoLocationID || got.version != sandbox.VersionDefault || got.auth != want.auth {
		t.Fatalf("the sandbox saw %+v over REST", got)
	}
	// Another location in the query is refused for a location's key,
	// before anything is sent.
	n := len(rec.got)
	_, err = h.upstream.Call(h.ctx(readKey), &hlgatev1.CallRequest{
		Method: "GET", Path: "/contacts/",
		Query:   []*hlgatev1.QueryParameter{{Name: "locationId", Value: sandbox.OtherLocationID}},
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID},
	})
	if status.Code(err) != codes.PermissionDenied || len(rec.got) != n {
		t.Fatalf("another location in the query: %v (%d calls reached the sandbox), want PERMISSION_DENIED and none", err, len(rec.got)-n)
	}

	// A path no operation of the table matches: the request's version is
	// sent, and HighLevel's 404 is the answer, not an error.
	resp, err = h.upstream.Call(h.ctx(readKey), &hlgatev1.CallRequest{
		Method: "GET", Path: "/things/x1", Version: "v3",
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.last(t); got.path != "/things/x1" || got.version != "v3" || got.auth != want.auth {
		t.Fatalf("the sandbox saw %+v", got)
	}
	if resp.GetStatus() != 404 || resp.GetOperationId() != "" || !strings.Contains(resp.GetBody().GetStructValue().GetFields()["message"].GetStringValue(), "Cannot GET /things/x1") {
		t.Fatalf("answer %v, want HighLevel's 404 with its message", resp)
	}

	// An exposed operation works too, and a 4xx of HighLevel's keeps its
	// body: a write of the wrong shape is HighLevel's to refuse.
	resp, err = h.upstream.Call(h.ctx(writeKey), &hlgatev1.CallRequest{
		Method: "POST", Path: "/contacts/", Body: structValue(t, map[string]any{"locationId": sandbox.DemoLocationID, "email": "not an address"}),
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetStatus() != 422 || resp.GetOperationId() != "create-contact" || resp.GetBody().GetStructValue().GetFields()["statusCode"].GetNumberValue() != 422 {
		t.Fatalf("answer %v, want HighLevel's 422", resp)
	}
}

func structValue(t *testing.T, m map[string]any) *structpb.Value {
	t.Helper()
	v, err := structpb.NewValue(m)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A passthrough call spends the same quota as a typed call: hlgate's
// limiter (in Redis, as replicas share it) grants both from one key, and
// the sandbox counts both on the location's key; once the key's slots are
// spent, a passthrough call is refused like a typed one, before it reaches
// HighLevel.
func TestPassthroughSpendsTheSameQuota(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{
		redis:   redistest.Start(t, redistest.Options{}),
		limiter: limiter.Config{Limit: 3, Window: 10 * time.Second, Guard: 200 * time.Millisecond},
	})
	id := firstContactID(t, h) // typed: slot 1
	resp, err := h.upstream.Call(h.ctx(""), customFieldsCall())
	if err != nil {
		t.Fatal(err) // passthrough: slot 2
	}
	if got := resp.GetHeaders()["x-ratelimit-remaining"]; got != "98" {
		t.Fatalf("after a typed and a passthrough call HighLevel's window has %s left, want 98", got)
	}
	if _, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id}); err != nil {
		t.Fatal(err) // typed: slot 3
	}
	if got := h.sb.Stats().Keys[sandbox.LocationKey(sandbox.DemoLocationID).String()].Accepted; got != 3 {
		t.Fatalf("the sandbox counted %d calls on the location's key, want 3", got)
	}
	before := h.hits.total("")
	ctx, cancel := context.WithTimeout(h.ctx(""), 300*time.Millisecond)
	defer cancel()
	_, err = h.upstream.Call(ctx, customFieldsCall())
	if st := wantStatus(t, err, codes.ResourceExhausted, ReasonRateLimited); !hasRetryInfo(st) {
		t.Fatalf("no RetryInfo on %v", st)
	}
	if after := h.hits.total(""); after != before {
		t.Fatalf("the refused passthrough call reached the sandbox (%d → %d requests)", before, after)
	}
}

// Caller auth applies as for typed RPCs: the key must allow the subject
// and every location or company the request names; only a read passes
// with a read key. Nothing refused reaches the sandbox.
func TestPassthroughCallerAuth(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	demo := &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID}
	other := sandbox.OtherLocationID
	body := func(m map[string]any) *structpb.Value { return structValue(t, m) }
	for _, c := range []struct {
		name   string
		key    string
		req    *hlgatev1.CallRequest
		code   codes.Code
		reason string
		field  string // the field a BadRequest or the message must name
	}{
		{"another location's subject", writeKey, &hlgatev1.CallRequest{Method: "GET", Path: "/locations/" + other + "/customFields",
			Subject: &hlgatev1.CallRequest_LocationId{LocationId: other}}, codes.PermissionDenied, ReasonPermissionDenied, "location_id"},
		{"a company the key does not list", writeKey, &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3",
			Subject: &hlgatev1.CallRequest_CompanyId{CompanyId: sandbox.DemoCompanyID}}, codes.PermissionDenied, ReasonPermissionDenied, "company_id"},
		{"own subject, another location in a declared path", writeKey, &hlgatev1.CallRequest{Method: "GET", Path: "/locations/" + other + "/customFields",
			Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "(path)"},
		{"own subject, another location in an unknown path", readKey, &hlgatev1.CallRequest{Method: "GET", Path: "/locations/" + other + "/things", Version: "v3",
			Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "(path)"},
		{"own subject, another location in the query", readKey, &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3",
			Query: []*hlgatev1.QueryParameter{{Name: "location_id", Value: other}}, Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "query.location_id"},
		{"own subject, another location as payments' altId", readKey, &hlgatev1.CallRequest{Method: "GET", Path: "/payments/orders",
			Query: []*hlgatev1.QueryParameter{{Name: "altId", Value: other}}, Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "query.altId"},
		{"own subject, another location in the body", writeKey, &hlgatev1.CallRequest{Method: "POST", Path: "/contacts/",
			Body: body(map[string]any{"locationId": other}), Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "body.locationId"},
		{"own subject, a company in the body", writeKey, &hlgatev1.CallRequest{Method: "POST", Path: "/things", Version: "v3",
			Body: body(map[string]any{"companyId": sandbox.DemoCompanyID}), Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "body.companyId"},
		{"a key for every location: another location in the path is a mistake", adminKey, &hlgatev1.CallRequest{Method: "GET", Path: "/locations/" + other + "/customFields",
			Subject: demo}, codes.InvalidArgument, ReasonInvalidArgument, "path"},
		{"a read key may not POST", readKey, &hlgatev1.CallRequest{Method: "POST", Path: "/contacts/",
			Body: body(map[string]any{"locationId": sandbox.DemoLocationID, "firstName": "No"}), Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "needs write"},
		{"a read key may not DELETE an unknown path", readKey, &hlgatev1.CallRequest{Method: "DELETE", Path: "/things/x1", Version: "v3",
			Subject: demo}, codes.PermissionDenied, ReasonPermissionDenied, "needs write"},
		{"no key", "", customFieldsCall(), codes.Unauthenticated, ReasonUnauthenticated, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.hits.total("")
			_, err := h.upstream.Call(h.ctx(c.key), c.req)
			st := wantStatus(t, err, c.code, c.reason)
			if c.code == codes.InvalidArgument {
				if fields := badRequestFields(st); !slices.Contains(fields, c.field) {
					t.Fatalf("BadRequest names %v, want %q", fields, c.field)
				}
			} else if !strings.Contains(st.Message(), c.field) {
				t.Fatalf("message %q does not name %q", st.Message(), c.field)
			}
			if after := h.hits.total(""); after != before {
				t.Fatalf("a refused call reached the sandbox")
			}
		})
	}

	// A read key may POST where the table marks the operation a read (the
	// contacts search), and GET the declared operation.
	resp, err := h.upstream.Call(h.ctx(readKey), &hlgatev1.CallRequest{Method: "POST", Path: "/contacts/search",
		Body: body(map[string]any{"locationId": sandbox.DemoLocationID, "pageLimit": 1}), Subject: demo})
	if err != nil || resp.GetStatus() != 200 || resp.GetOperationId() != "search-contacts-advanced" {
		t.Fatalf("read key, POST /contacts/search: %v, %v", resp, err)
	}
	if _, err := h.upstream.Call(h.ctx(readKey), customFieldsCall()); err != nil {
		t.Fatalf("read key, GET custom fields: %v", err)
	}
	// Over REST the refusal is 403.
	code, _, b := h.rest(http.MethodPost, "/v1/upstream:call", writeKey, strings.NewReader(
		`{"method":"GET","path":"/locations/`+other+`/customFields","locationId":"`+sandbox.DemoLocationID+`"}`))
	if code != http.StatusForbidden {
		t.Fatalf("REST = %d: %s", code, b)
	}
}

// Bad input is INVALID_ARGUMENT naming the field, over gRPC and REST (400),
// and never reaches HighLevel.
func TestPassthroughValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	demo := &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID}
	for _, c := range []struct {
		name  string
		req   *hlgatev1.CallRequest
		field string
	}{
		{"no path", &hlgatev1.CallRequest{Method: "GET", Version: "v3", Subject: demo}, "path"},
		{"relative path", &hlgatev1.CallRequest{Method: "GET", Path: "contacts/x", Version: "v3", Subject: demo}, "path"},
		{"absolute URL", &hlgatev1.CallRequest{Method: "GET", Path: "https://elsewhere.example/x", Version: "v3", Subject: demo}, "path"},
		{"dot-dot", &hlgatev1.CallRequest{Method: "GET", Path: "/contacts/../oauth/token", Version: "v3", Subject: demo}, "path"},
		{"encoded dot-dot", &hlgatev1.CallRequest{Method: "GET", Path: "/contacts/%2e%2e/x", Version: "v3", Subject: demo}, "path"},
		{"query in the path", &hlgatev1.CallRequest{Method: "GET", Path: customFieldsPath + "?model=contact", Subject: demo}, "path"},
		{"empty segment", &hlgatev1.CallRequest{Method: "GET", Path: "//elsewhere.example/x", Version: "v3", Subject: demo}, "path"},
		{"OAuth", &hlgatev1.CallRequest{Method: "POST", Path: "/oauth/locationToken", Subject: demo}, "path"},
		{"no method", &hlgatev1.CallRequest{Path: customFieldsPath, Subject: demo}, "method"},
		{"unknown method", &hlgatev1.CallRequest{Method: "TRACE", Path: customFieldsPath, Subject: demo}, "method"},
		{"lower-case method", &hlgatev1.CallRequest{Method: "get", Path: customFieldsPath, Subject: demo}, "method"},
		{"no version for an unknown path", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Subject: demo}, "version"},
		{"a malformed version", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "2021 07 28", Subject: demo}, "version"},
		{"another version than the operation's", &hlgatev1.CallRequest{Method: "GET", Path: customFieldsPath, Version: "2021-04-15", Subject: demo}, "version"},
		{"no subject", &hlgatev1.CallRequest{Method: "GET", Path: customFieldsPath}, "location_id or company_id"},
		{"a malformed subject", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3", Subject: &hlgatev1.CallRequest_LocationId{LocationId: "a/b"}}, "location_id"},
		{"a body on a GET", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3", Body: structpb.NewStructValue(&structpb.Struct{}), Subject: demo}, "body"},
		{"a body the operation does not take", &hlgatev1.CallRequest{Method: "DELETE", Path: "/contacts/abc", Body: structpb.NewStructValue(&structpb.Struct{}), Subject: demo}, "body"},
		{"a scalar body", &hlgatev1.CallRequest{Method: "POST", Path: "/things", Version: "v3", Body: structpb.NewStringValue("x"), Subject: demo}, "body"},
		{"a body larger than HighLevel takes", &hlgatev1.CallRequest{Method: "POST", Path: "/things", Version: "v3", Subject: demo,
			Body: structValue(t, map[string]any{"note": strings.Repeat("x", 1<<20)})}, "body"},
		{"a query parameter without a name", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3", Query: []*hlgatev1.QueryParameter{{Value: "x"}}, Subject: demo}, "query[0].name"},
		{"a query too long", &hlgatev1.CallRequest{Method: "GET", Path: "/things", Version: "v3", Query: []*hlgatev1.QueryParameter{{Name: "q", Value: strings.Repeat("x", 9000)}}, Subject: demo}, "query"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := h.hits.total("")
			defer func() {
				if after := h.hits.total(""); after != before {
					t.Errorf("the refused call reached the sandbox")
				}
			}()
			_, err := h.upstream.Call(h.ctx(adminKey), c.req)
			st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
			if fields := badRequestFields(st); !slices.Contains(fields, c.field) {
				t.Fatalf("BadRequest names %v, want %q (%s)", fields, c.field, st.Message())
			}
		})
	}
	for body, field := range map[string]string{
		`{"method":"GET","path":"../x","version":"v3","locationId":"` + sandbox.DemoLocationID + `"}`: "path",
		`{"method":"GET","path":"/things","locationId":"` + sandbox.DemoLocationID + `"}`:             "version",
	} {
		code, _, b := h.rest(http.MethodPost, "/v1/upstream:call", adminKey, strings.NewReader(body))
		if code != http.StatusBadRequest || !strings.Contains(string(b), `"field":"`+field+`"`) {
			t.Fatalf("REST %s = %d: %s, want 400 naming %s", body, code, b, field)
		}
	}
}

// Retries follow the operation's safety: a read is resent after a 5xx, a
// write never, and a path no row matches is resent only for a GET (not for
// the PUT and DELETE that HTTP calls idempotent). HighLevel's last 5xx is
// the answer.
func TestPassthroughRetriesOnlyWhatIsSafe(t *testing.T) {
	t.Parallel()
	// The sandbox serves only the declared operations, and its faults apply
	// to them; HighLevel answers 500 here to the paths it does not serve.
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: func(sb http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/things/") || r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/customFields/") {
				http.Error(w, `{"statusCode":500,"message":"Internal server error"}`, http.StatusInternalServerError)
				return
			}
			sb.ServeHTTP(w, r)
		})
	}})
	if err := h.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 500}); err != nil {
		t.Fatal(err)
	}
	demo := &hlgatev1.CallRequest_LocationId{LocationId: sandbox.DemoLocationID}
	obj := structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"locationId": structpb.NewStringValue(sandbox.DemoLocationID)}})
	for _, c := range []struct {
		req   *hlgatev1.CallRequest
		sends int
	}{
		{customFieldsCall(), 3}, // a declared read
		{&hlgatev1.CallRequest{Method: "GET", Path: "/things/g1", Version: "v3", Subject: demo}, 3},                                 // a GET no row matches
		{&hlgatev1.CallRequest{Method: "POST", Path: "/contacts/", Body: obj, Subject: demo}, 1},                                    // a create
		{&hlgatev1.CallRequest{Method: "DELETE", Path: "/contacts/c1", Subject: demo}, 1},                                           // a declared delete
		{&hlgatev1.CallRequest{Method: "PUT", Path: "/things/p1", Version: "v3", Body: obj, Subject: demo}, 1},                      // a PUT no row matches
		{&hlgatev1.CallRequest{Method: "DELETE", Path: "/things/d1", Version: "v3", Subject: demo}, 1},                              // a DELETE no row matches
		{&hlgatev1.CallRequest{Method: "PUT", Path: "/locations/" + sandbox.DemoLocationID + "/customFields/f1", Subject: demo}, 1}, // an undeclared row: safe only for GET
	} {
		key := c.req.GetMethod() + " " + c.req.GetPath()
		resp, err := h.upstream.Call(h.ctx(""), c.req)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if resp.GetStatus() != 500 {
			t.Fatalf("%s: status %d, want HighLevel's 500", key, resp.GetStatus())
		}
		if n := h.hits.get(key); n != c.sends {
			t.Errorf("%s reached the sandbox %d times, want %d", key, n, c.sends)
		}
	}
}

// What the chain refuses maps to gRPC codes as for typed RPCs, and an
// answer too large for a response is refused by name.
func TestPassthroughChainErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, maxMessageBytes: 1500})
	_, err := h.upstream.Call(h.ctx(""), &hlgatev1.CallRequest{Method: "GET", Path: "/locations/" + sandbox.OtherLocationID + "/customFields",
		Subject: &hlgatev1.CallRequest_LocationId{LocationId: sandbox.OtherLocationID}})
	wantStatus(t, err, codes.FailedPrecondition, ReasonLocationNotInstalled)

	// The twelve custom field definitions are some 2.5 kB of JSON.
	req := customFieldsCall()
	req.Query = nil
	_, err = h.upstream.Call(h.ctx(""), req)
	wantStatus(t, err, codes.ResourceExhausted, ReasonAnswerTooLarge)
}

// Matching prefers literal segments and takes one segment per parameter.
func TestMatchOperation(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/locations/L1/customFields", "get-custom-fields"},
		{"GET", "/locations/L1/customFields/F1", "get-custom-field"},
		{"POST", "/contacts/search", "search-contacts-advanced"},
		{"GET", "/contacts/c1", "get-contact"},
		{"POST", "/contacts/", "create-contact"},
		{"POST", "/contacts", ""},
		{"GET", "/contacts//", ""},
		{"GET", "/locations/L1/customFields/F1/extra", ""},
		{"PATCH", "/contacts/c1", ""},
	} {
		row, _ := matchOperation(c.method, c.path)
		got := ""
		if row != nil {
			got = row.ID
		}
		if got != c.want {
			t.Errorf("%s %s matched %q, want %q", c.method, c.path, got, c.want)
		}
	}
}
