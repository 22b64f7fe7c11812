package sandbox_test

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/hlgate/hlgate/sandbox"
)

type errorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
}

// Requests the document refuses are refused before their handler runs,
// with the sandbox's error shapes: 422 {statusCode, message:[...], error}
// naming each parameter or member, 400 {statusCode, message} for a body
// that is not JSON.
func TestRequestsValidatedAgainstTheDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	L := sandbox.DemoLocationID
	text := defsByType(t, e.sb, L, "contact")[sandbox.FieldText].ID
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		want               []string // the messages, exactly
	}{
		{"query enum", "GET", "/opportunities/search?location_id=" + L + "&status=gone", nil, 422,
			[]string{`status: value is not one of the allowed values ["open","won","lost","abandoned","all"]`}},
		{"required query", "GET", "/payments/orders", nil, 422, []string{"altId should not be empty"}},
		{"query integer", "GET", "/calendars/nope/free-slots?startDate=soon&endDate=1", nil, 422,
			[]string{"startDate: value soon: an invalid integer: invalid syntax"}},
		{"body member type", "POST", "/contacts/", map[string]any{"locationId": L, "firstName": 5}, 422,
			[]string{"firstName: value must be a string"}},
		{"body members missing", "POST", "/opportunities/", map[string]any{"locationId": L}, 422,
			[]string{"pipelineId should not be empty", "name should not be empty", "status should not be empty", "contactId should not be empty"}},
		{"body range", "POST", "/contacts/search", map[string]any{"locationId": L, "pageLimit": 501}, 422,
			[]string{"pageLimit: number must be at most 500"}},
		{"nested entry", "POST", "/contacts/", map[string]any{"locationId": L, "customFields": []any{map[string]any{"id": text, "field_value": true}}}, 422,
			[]string{`customFields.0: doesn't match any schema from "anyOf" (id "` + text + `")`}},
	} {
		resp, body := e.call(tc.method, tc.path, tok, sandbox.VersionDefault, tc.body)
		if tc.path[:4] == "/cal" {
			resp, body = e.call(tc.method, tc.path, tok, sandbox.VersionCalendars, tc.body)
		}
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
			continue
		}
		if tc.want == nil {
			continue
		}
		var eb errorBody
		mustJSON(t, body, &eb)
		var got []string
		if ms, ok := eb.Message.([]any); ok {
			for _, m := range ms {
				got = append(got, m.(string))
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if eb.StatusCode != tc.status || eb.Error != "Unprocessable Entity" || !slices.Equal(got, want) {
			t.Errorf("%s: %s, want messages %q", tc.name, body, want)
		}
	}

	// A body that is not JSON, or not declared JSON, keeps its 400.
	for _, tc := range []struct{ name, ctype, body string }{
		{"malformed", "application/json", `{"locationId":`},
		{"form", "application/x-www-form-urlencoded", "locationId=" + L},
		{"none", "application/json", ""},
	} {
		req, _ := http.NewRequest("POST", e.srv.URL+"/contacts/", bytes.NewReader([]byte(tc.body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Version", sandbox.VersionDefault)
		req.Header.Set("Content-Type", tc.ctype)
		resp, body := e.do(req)
		var eb errorBody
		mustJSON(t, body, &eb)
		if _, isText := eb.Message.(string); resp.StatusCode != 400 || eb.StatusCode != 400 || !isText {
			t.Errorf("%s body: %d %s, want 400 {statusCode, message}", tc.name, resp.StatusCode, body)
		}
	}
}

// Validation comes after the pipeline's own checks: a request that is both
// unauthenticated (or of the wrong Version) and invalid gets the earlier
// check's answer, and a refused request with a live token is still counted
// by the quota (the one without a token has no quota key).
func TestValidationComesAfterTheChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	bad := map[string]any{"firstName": 5} // no locationId either
	if resp, body := e.call("POST", "/contacts/", "", sandbox.VersionDefault, bad); resp.StatusCode != 401 {
		t.Errorf("no token: %d %s, want 401", resp.StatusCode, body)
	}
	if resp, body := e.call("POST", "/contacts/", tok, "2021-04-15", bad); resp.StatusCode != 400 {
		t.Errorf("wrong Version: %d %s, want 400", resp.StatusCode, body)
	}
	resp, body := e.call("POST", "/contacts/", tok, sandbox.VersionDefault, bad)
	if resp.StatusCode != 422 {
		t.Fatalf("invalid: %d %s, want 422", resp.StatusCode, body)
	}
	if resp.Header.Get("X-RateLimit-Remaining") != "98" {
		t.Errorf("X-RateLimit-Remaining %q after two counted requests, want 98", resp.Header.Get("X-RateLimit-Remaining"))
	}
}
