package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/hlgate/hlgate/sandbox"
)

// restStatus decodes a REST error answer (the JSON form of
// google.rpc.Status) and fails unless it is one.
func restStatus(t *testing.T, b []byte) *status.Status {
	t.Helper()
	var p spb.Status
	if err := protojson.Unmarshal(b, &p); err != nil {
		t.Fatalf("answer is not a google.rpc.Status: %v: %.300s", err, b)
	}
	return status.FromProto(&p)
}

// violation returns the description BadRequest gives field, and whether it
// names it.
func violation(st *status.Status, field string) (string, bool) {
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return v.GetDescription(), true
				}
			}
		}
	}
	return "", false
}

// restErrorCase is one way a REST call fails, and what the caller must
// learn from the answer.
type restErrorCase struct {
	name         string
	method, path string
	key          string
	body         string
	wantHTTP     int
	wantReason   string
	wantField    string // the BadRequest field, when one can be known
	wantInDesc   string // part of the field's description, or of the message
}

// restErrorCases are the error paths of the REST side that hlgate and
// the gateway produce before, around or instead of a handler.
func restErrorCases() []restErrorCase {
	loc := "/v1/locations/" + sandbox.DemoLocationID
	return []restErrorCase{
		{name: "unknown body field", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `{"firstNam":"Ada"}`, wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "firstNam", wantInDesc: `did you mean "firstName"`},
		{name: "unknown nested field", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `{"firstName":"Ada","customFields":[{"idd":"x"}]}`, wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "customFields[0].idd"},
		{name: "malformed JSON", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `{"firstName":`, wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "body", wantInDesc: "is not valid JSON"},
		{name: "wrong type", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `{"firstName":5}`, wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "firstName", wantInDesc: "must be a string"},
		{name: "body not an object", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `[1]`, wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "body", wantInDesc: "must be an object"},
		{name: "epoch milliseconds in a query time", method: http.MethodGet, path: loc + "/events?startTime=1796169600000&endTime=2026-12-02T00:00:00Z", key: readKey,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "startTime", wantInDesc: "RFC 3339"},
		{name: "bad query number", method: http.MethodGet, path: loc + "/opportunities?pageSize=ten", key: readKey,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "pageSize", wantInDesc: "ten"},
		{name: "unknown query parameter", method: http.MethodGet, path: loc + "/opportunities?pageSizee=3", key: readKey,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "pageSizee", wantInDesc: "not a parameter"},
		{name: "one field twice in a query", method: http.MethodGet, path: loc + "/opportunities?pageSize=3&page_size=4", key: readKey,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "page_size", wantInDesc: "same field as pageSize"},
		{name: "unknown enum value in a query", method: http.MethodGet, path: loc + "/opportunities?status=closed", key: readKey,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "status", wantInDesc: "open, won, lost, abandoned"},
		{name: "unknown route under /v1/", method: http.MethodGet, path: "/v1/nothing/here", key: readKey,
			wantHTTP: 404, wantReason: ReasonRouteNotFound},
		{name: "method not allowed under /v1/", method: http.MethodPut, path: loc + "/opportunities/search", key: writeKey, body: `{}`,
			wantHTTP: 405, wantReason: ReasonMethodNotAllowed},
		{name: "unknown path outside /v1/", method: http.MethodGet, path: "/nothing", wantHTTP: 404, wantReason: ReasonRouteNotFound},
		{name: "method not allowed outside /v1/", method: http.MethodPost, path: "/healthz", body: `{}`, wantHTTP: 405, wantReason: ReasonMethodNotAllowed},
		{name: "no caller key", method: http.MethodGet, path: loc + "/opportunities", wantHTTP: 401, wantReason: ReasonUnauthenticated},
		{name: "read key writes", method: http.MethodPost, path: loc + "/contacts", key: readKey, body: `{"firstName":"Ada"}`,
			wantHTTP: 403, wantReason: ReasonPermissionDenied},
		{name: "validation", method: http.MethodPost, path: loc + "/contacts", key: writeKey, body: `{"email":"not an address"}`,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "contact.email"},
		{name: "not found upstream", method: http.MethodGet, path: loc + "/contacts/NoSuchContact0000001", key: readKey,
			wantHTTP: 404, wantReason: ReasonNotFound},
		{name: "too large", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body: `{"firstName":"` + strings.Repeat("a", DefaultMaxBodyBytes) + `"}`, wantHTTP: 413, wantReason: ReasonRequestTooLarge},
		{name: "nested too deep", method: http.MethodPost, path: loc + "/contacts", key: writeKey,
			body:     `{"customFields":[{"id":"a","value":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}]}`,
			wantHTTP: 400, wantReason: ReasonInvalidArgument, wantField: "customFields[0].value" + strings.Repeat("[0]", 61)},
	}
}

// Every REST error path answers a google.rpc.Status with an ErrorInfo of
// domain hlgate and the reason documented for it, and names the field when
// one can be known: the gateway's own errors (decoding, query parsing,
// routing) as much as hlgate's.
func TestEveryRESTErrorCarriesErrorInfo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys()})
	for _, tc := range restErrorCases() {
		t.Run(tc.name, func(t *testing.T) {
			var body *strings.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			var code int
			var b []byte
			if body != nil {
				code, _, b = h.rest(tc.method, tc.path, tc.key, body)
			} else {
				code, _, b = h.rest(tc.method, tc.path, tc.key, nil)
			}
			if code != tc.wantHTTP {
				t.Fatalf("HTTP %d %.300s, want %d", code, b, tc.wantHTTP)
			}
			st := restStatus(t, b)
			info := errorInfo(st)
			if info == nil {
				t.Fatalf("no ErrorInfo: %.300s", b)
			}
			if info.GetDomain() != ErrorDomain || info.GetReason() != tc.wantReason {
				t.Fatalf("ErrorInfo %s/%s, want %s/%s (%s)", info.GetDomain(), info.GetReason(), ErrorDomain, tc.wantReason, st.Message())
			}
			if tc.wantField == "" {
				if tc.wantInDesc != "" && !strings.Contains(st.Message(), tc.wantInDesc) {
					t.Errorf("message %q does not say %q", st.Message(), tc.wantInDesc)
				}
				return
			}
			desc, ok := violation(st, tc.wantField)
			if !ok {
				t.Fatalf("BadRequest does not name %s: %.300s", tc.wantField, b)
			}
			if !strings.Contains(desc, tc.wantInDesc) {
				t.Errorf("%s: %q does not say %q", tc.wantField, desc, tc.wantInDesc)
			}
		})
	}
}

// A gRPC call of a method the server does not have is UNIMPLEMENTED with an
// ErrorInfo, not the library's bare status; so is every other error the
// interceptors pass on (a transport bound, a cancelled call).
func TestGRPCLibraryErrorsCarryErrorInfo(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, noInstall: true})
	for _, method := range []string{"/hlgate.v1.ContactsService/NoSuchMethod", "/no.such.Service/Call"} {
		err := h.conn.Invoke(h.ctx(""), method, &emptypb.Empty{}, &emptypb.Empty{})
		wantStatus(t, err, codes.Unimplemented, ReasonUnimplemented)
		st, err2 := h.conn.NewStream(h.ctx(""), &grpc.StreamDesc{ServerStreams: true}, method)
		if err2 == nil {
			if err2 = st.SendMsg(&emptypb.Empty{}); err2 == nil {
				err2 = st.RecvMsg(&emptypb.Empty{})
			}
		}
		wantStatus(t, err2, codes.Unimplemented, ReasonUnimplemented)
	}
}

// withErrorInfo gives a bare status of every code an ErrorInfo, keeps the
// details it had, and leaves a status that has one as it is.
func TestWithErrorInfoCoversEveryCode(t *testing.T) {
	t.Parallel()
	for c := codes.Canceled; c <= codes.Unauthenticated; c++ {
		st := withErrorInfo(status.Error(c, "bare"))
		info := errorInfo(st)
		if st.Code() != c || info == nil || info.GetDomain() != ErrorDomain || info.GetReason() == "" {
			t.Errorf("%s: %v, ErrorInfo %v", c, st, info)
		}
	}
	if got := reasonOf(withErrorInfo(status.Error(codes.ResourceExhausted, "grpc: received message larger than max (5 vs. 4)"))); got != ReasonRequestTooLarge {
		t.Errorf("transport bound: reason %q, want %s", got, ReasonRequestTooLarge)
	}
	if got := reasonOf(withErrorInfo(status.Error(codes.FailedPrecondition, "x"))); got != "FAILED_PRECONDITION" {
		t.Errorf("bare FAILED_PRECONDITION: reason %q", got)
	}
	had := statusError(codes.NotFound, "x", ReasonNotFound)
	if got := withErrorInfo(had); reasonOf(got) != ReasonNotFound || len(got.Details()) != 1 {
		t.Errorf("a status with an ErrorInfo changed: %v", got.Details())
	}
	// The gateway's own texts become violations of the field they name.
	for msg, field := range map[string]string{
		"missing parameter location_id":                                  "location_id",
		"type mismatch, parameter: location_id, error: bad":              "location_id",
		`proto: (line 1:2): unknown field "firstNam"`:                    "firstNam",
		invalidText(violations{{Field: "a.b", Description: "is wrong"}}): "a.b",
		"something else entirely":                                        "request",
	} {
		if _, ok := violation(withErrorInfo(status.Error(codes.InvalidArgument, msg)), field); !ok {
			t.Errorf("%q: no violation of %s", msg, field)
		}
	}
	if withErrorInfo(errors.New("plain")).Code() != codes.Unknown {
		t.Error("a plain error is not UNKNOWN")
	}
}
