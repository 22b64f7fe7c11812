package sandbox_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

type errBody struct {
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
}

func TestResourceCallRules(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now, AccessTokenTTL: time.Hour})
	expiring := e.token(sandbox.CodeRequest{}).AccessToken
	pit, err := e.sb.AddPIT(sandbox.DemoLocationID, "contacts.readonly", "oauth.write")
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(30 * time.Minute)
	late := e.token(sandbox.CodeRequest{}).AccessToken // issued later, still valid after the first expires
	clock.Add(31 * time.Minute)
	full := e.token(sandbox.CodeRequest{}).AccessToken
	readOnly := e.token(sandbox.CodeRequest{Scope: "contacts.readonly calendars.readonly"}).AccessToken
	other := e.token(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID}).AccessToken
	agency := e.token(sandbox.CodeRequest{UserType: sandbox.UserCompany}).AccessToken

	contactID := firstContact(t, e, full, sandbox.DemoLocationID)
	otherContact := firstContact(t, e, other, sandbox.OtherLocationID)
	calPath := "/calendars/?locationId=" + sandbox.DemoLocationID
	search := map[string]any{"locationId": sandbox.DemoLocationID, "pageLimit": 1}

	tests := []struct {
		name    string
		method  string
		path    string
		token   string
		version string
		body    any
		status  int
		message string
	}{
		{"ok", "GET", "/contacts/" + contactID, full, sandbox.VersionDefault, nil, 200, ""},
		{"no token", "GET", "/contacts/" + contactID, "", sandbox.VersionDefault, nil, 401, "Invalid token: access token is invalid"},
		{"unknown token", "GET", "/contacts/" + contactID, "forged", sandbox.VersionDefault, nil, 401, "Invalid token: access token is invalid"},
		{"expired token", "GET", "/contacts/" + contactID, expiring, sandbox.VersionDefault, nil, 401, "Invalid token: access token is expired"},
		{"later token", "GET", "/contacts/" + contactID, late, sandbox.VersionDefault, nil, 200, ""},
		{"missing scope", "POST", "/contacts/", readOnly, sandbox.VersionDefault, map[string]any{"locationId": sandbox.DemoLocationID}, 401, "The token is not authorized for this scope."},
		{"read scope reads", "POST", "/contacts/search", readOnly, sandbox.VersionDefault, search, 200, ""},
		{"agency on location route", "GET", "/contacts/" + contactID, agency, sandbox.VersionDefault, nil, 401, "This authClass type is not allowed"},
		{"PIT on location route", "GET", "/contacts/" + contactID, pit, sandbox.VersionDefault, nil, 200, ""},
		{"PIT on agency-only route", "POST", "/oauth/locationToken", pit, sandbox.VersionDefault, nil, 401, "This authClass type is not allowed"},
		{"no version", "GET", "/contacts/" + contactID, full, "", nil, 400, "Version"},
		{"calendar version on contacts", "GET", "/contacts/" + contactID, full, sandbox.VersionCalendars, nil, 400, "2021-07-28"},
		{"contacts version on calendars", "GET", calPath, full, sandbox.VersionDefault, nil, 400, "2021-04-15"},
		{"calendars version", "GET", calPath, full, sandbox.VersionCalendars, nil, 200, ""},
		{"other location's contact", "GET", "/contacts/" + otherContact, full, sandbox.VersionDefault, nil, 404, ""},
		{"other location's contact update", "PUT", "/contacts/" + otherContact, full, sandbox.VersionDefault, map[string]any{"city": "x"}, 404, ""},
		{"other location's search", "POST", "/contacts/search", other, sandbox.VersionDefault, search, 403, "does not have access to this location"},
		{"other location's create", "POST", "/contacts/", other, sandbox.VersionDefault, map[string]any{"locationId": sandbox.DemoLocationID}, 403, ""},
		{"other location's pipelines", "GET", "/opportunities/pipelines?locationId=" + sandbox.DemoLocationID, other, sandbox.VersionDefault, nil, 403, ""},
		{"other location's orders", "GET", "/payments/orders?altId=" + sandbox.DemoLocationID, other, sandbox.VersionDefault, nil, 403, ""},
		{"unknown location", "GET", "/opportunities/pipelines?locationId=Nowhere", full, sandbox.VersionDefault, nil, 403, ""},
		{"unknown route", "GET", "/contacts/a/b/c", full, sandbox.VersionDefault, nil, 404, "Cannot GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.call(tt.method, tt.path, tt.token, tt.version, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status < 300 {
				return
			}
			var eb errBody
			mustJSON(t, body, &eb)
			msg, _ := eb.Message.(string)
			if eb.StatusCode != tt.status || !strings.Contains(msg, tt.message) {
				t.Errorf("body %s, want statusCode %d and a message containing %q", body, tt.status, tt.message)
			}
			if tt.status == 401 && eb.Error != "Unauthorized" {
				t.Errorf("401 body %s lacks error Unauthorized", body)
			}
		})
	}
	// The other location's contact is untouched by the refused update.
	resp, body := e.call("GET", "/contacts/"+otherContact, other, sandbox.VersionDefault, nil)
	if resp.StatusCode != 200 || strings.Contains(string(body), `"city":"x"`) {
		t.Errorf("other location's contact after a foreign update: %d %s", resp.StatusCode, body)
	}
}

func TestExpireAccessTokensNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	tp := e.token(sandbox.CodeRequest{Scope: "opportunities.readonly"})
	if n := e.sb.ExpireAccessTokens(sandbox.DemoLocationID); n != 1 {
		t.Fatalf("expired %d tokens, want 1", n)
	}
	resp, body := e.call("GET", pipelinesPath, tp.AccessToken, sandbox.VersionDefault, nil)
	if resp.StatusCode != 401 || !strings.Contains(string(body), "expired") {
		t.Fatalf("after expiry: %d %s", resp.StatusCode, body)
	}
	status, np := e.refresh(tp.RefreshToken)
	if status != 200 {
		t.Fatalf("refresh after expiry: %d", status)
	}
	if resp, _ := e.call("GET", pipelinesPath, np.AccessToken, sandbox.VersionDefault, nil); resp.StatusCode != 200 {
		t.Errorf("refreshed token: %d", resp.StatusCode)
	}
	// The admin API does the same.
	resp, body = e.call("POST", "/_sandbox/expire", "", "", map[string]string{"subject": sandbox.DemoLocationID})
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"expired":1`) {
		t.Errorf("admin expire: %d %s", resp.StatusCode, body)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	tok := e.token(sandbox.CodeRequest{Scope: "opportunities.readonly"}).AccessToken
	get := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequest("GET", e.srv.URL+pipelinesPath, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Version", sandbox.VersionDefault)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}

	if err := e.sb.SetFaults(sandbox.Faults{Force401: 2, Force429: 1, RetryAfter: 1500 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	var seq []int
	var retryAfter string
	for range 4 {
		resp, _, err := get()
		if err != nil {
			t.Fatal(err)
		}
		seq = append(seq, resp.StatusCode)
		if resp.StatusCode == 429 {
			retryAfter = resp.Header.Get("Retry-After")
		}
	}
	if want := []int{401, 401, 429, 200}; !equalInts(seq, want) || retryAfter != "2" {
		t.Errorf("forced sequence %v Retry-After %q, want %v and 2", seq, retryAfter, want)
	}

	if err := e.sb.SetFaults(sandbox.Faults{ErrorRate: 1, ErrorStatus: 503}); err != nil {
		t.Fatal(err)
	}
	if resp, _, err := get(); err != nil || resp.StatusCode != 503 {
		t.Errorf("error rate 1: %v %v", resp, err)
	}

	if err := e.sb.SetFaults(sandbox.Faults{DropRate: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := get(); err == nil || !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "reset") {
		t.Errorf("drop rate 1: err %v, want a dropped connection", err)
	}

	if err := e.sb.SetFaults(sandbox.Faults{Latency: 30 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if resp, _, err := get(); err != nil || resp.StatusCode != 200 || time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency: %v %v after %v", resp, err, time.Since(start))
	}

	if err := e.sb.SetFaults(sandbox.Faults{SpikeRate: 1, SpikeLatency: 25 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if resp, _, err := get(); err != nil || resp.StatusCode != 200 || time.Since(start) < 25*time.Millisecond {
		t.Errorf("spike: %v %v after %v", resp, err, time.Since(start))
	}

	for _, bad := range []sandbox.Faults{{ErrorRate: 2}, {ErrorRate: 0.5, ErrorStatus: 404}, {Latency: -1}} {
		if err := e.sb.SetFaults(bad); err == nil {
			t.Errorf("SetFaults(%+v) accepted", bad)
		}
	}

	// The admin API sets and reports the same faults.
	resp, body := e.call("PUT", "/_sandbox/faults", "", "", map[string]any{"force401": 1})
	var f sandbox.Faults
	mustJSON(t, body, &f)
	if resp.StatusCode != 200 || f.Force401 != 1 {
		t.Fatalf("admin faults: %d %s", resp.StatusCode, body)
	}
	if resp, _, _ := get(); resp == nil || resp.StatusCode != 401 {
		t.Errorf("admin-forced 401 not served")
	}
	if resp, _, _ := get(); resp == nil || resp.StatusCode != 200 {
		t.Errorf("forced 401 outlived its count")
	}
	if st := e.sb.Stats(); st.Served429 != 1 {
		t.Errorf("Served429 %d, want 1", st.Served429)
	}
}

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	resp, body := e.call("POST", "/_sandbox/codes", "", "", map[string]any{"scope": "opportunities.readonly"})
	var code struct{ Code string }
	mustJSON(t, body, &code)
	if resp.StatusCode != 201 || code.Code == "" {
		t.Fatalf("mint code: %d %s", resp.StatusCode, body)
	}
	resp, body = e.call("POST", "/_sandbox/pits", "", "", map[string]any{"subject": sandbox.DemoLocationID, "scopes": []string{"opportunities.readonly"}})
	var pit struct{ Token string }
	mustJSON(t, body, &pit)
	if resp.StatusCode != 201 || !strings.HasPrefix(pit.Token, "pit-") {
		t.Fatalf("pit: %d %s", resp.StatusCode, body)
	}
	if resp, _ := e.call("GET", pipelinesPath, pit.Token, sandbox.VersionDefault, nil); resp.StatusCode != 200 {
		t.Fatalf("PIT call: %d", resp.StatusCode)
	}
	if _, tp := e.refresh("unknown"); tp.Error != "invalid_grant" {
		t.Fatalf("unknown refresh: %+v", tp)
	}
	resp, body = e.call("GET", "/_sandbox/stats", "", "", nil)
	var st sandbox.Stats
	mustJSON(t, body, &st)
	key := sandbox.QuotaKey{App: "pit", Resource: sandbox.DemoLocationID}.String()
	if resp.StatusCode != 200 || st.InvalidGrants != 1 || st.Keys[key].Accepted != 1 {
		t.Fatalf("stats: %d %s", resp.StatusCode, body)
	}
	resp, body = e.call("GET", "/_sandbox/arrivals?app=pit&resource="+sandbox.DemoLocationID, "", "", nil)
	var arr struct{ Arrivals []sandbox.Arrival }
	if err := json.Unmarshal(body, &arr); err != nil || resp.StatusCode != 200 || len(arr.Arrivals) != 1 || !arr.Arrivals[0].Accepted {
		t.Fatalf("arrivals: %d %s", resp.StatusCode, body)
	}
	resp, body = e.call("PUT", "/_sandbox/faults", "", "", map[string]any{"bogus": 1})
	if resp.StatusCode != 400 {
		t.Errorf("unknown fault member: %d %s", resp.StatusCode, body)
	}
	// Before the reset: an OAuth token in use and a fault in force.
	oauth := e.token(sandbox.CodeRequest{})
	if resp, _ := e.call("GET", pipelinesPath, oauth.AccessToken, sandbox.VersionDefault, nil); resp.StatusCode != 200 {
		t.Fatalf("OAuth token before reset: %d", resp.StatusCode)
	}
	if err := e.sb.SetFaults(sandbox.Faults{Latency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.call("POST", "/_sandbox/reset", "", "", nil); resp.StatusCode != 204 {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if st := e.sb.Stats(); st.InvalidGrants != 0 || len(st.Keys) != 0 {
		t.Errorf("stats after reset %+v", st)
	}
	if f := e.sb.CurrentFaults(); f.Latency != 0 {
		t.Errorf("faults after reset: %+v", f)
	}
	// PITs survive a reset; OAuth tokens and refresh tokens do not.
	if resp, _ := e.call("GET", pipelinesPath, pit.Token, sandbox.VersionDefault, nil); resp.StatusCode != 200 {
		t.Errorf("PIT after reset: %d", resp.StatusCode)
	}
	if resp, _ := e.call("GET", pipelinesPath, oauth.AccessToken, sandbox.VersionDefault, nil); resp.StatusCode != 401 {
		t.Errorf("OAuth access token after reset: %d, want 401", resp.StatusCode)
	}
	if _, tp := e.refresh(oauth.RefreshToken); tp.Error != "invalid_grant" {
		t.Errorf("refresh token after reset: %+v, want invalid_grant", tp)
	}
}

func firstContact(t *testing.T, e *env, tok, loc string) string {
	t.Helper()
	resp, body := e.call("POST", "/contacts/search", tok, sandbox.VersionDefault, map[string]any{"locationId": loc, "pageLimit": 1})
	var got struct{ Contacts []struct{ ID string } }
	mustJSON(t, body, &got)
	if resp.StatusCode != 200 || len(got.Contacts) != 1 {
		t.Fatalf("search %s: %d %s", loc, resp.StatusCode, body)
	}
	return got.Contacts[0].ID
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
