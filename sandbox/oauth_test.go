package sandbox_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

func TestConsentFlowIssuesSingleUseCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	q := url.Values{
		"response_type": {"code"}, "client_id": {sandbox.DefaultClientID},
		"redirect_uri": {"http://127.0.0.1:9/callback?keep=1"}, "scope": {"contacts.readonly contacts.write"}, "state": {"xyz"},
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/chooselocation?"+q.Encode(), nil)
	resp, page := e.do(req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	for _, want := range []string{sandbox.DemoLocationID, sandbox.OtherLocationID, sandbox.DemoCompanyID, "Allow"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("consent page lacks %q", want)
		}
	}

	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("account", "location:"+sandbox.DemoLocationID)
	client := e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r2, err := client.PostForm(e.srv.URL+"/oauth/chooselocation", form)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound {
		t.Fatalf("allow: status %d, want 302", r2.StatusCode)
	}
	loc, err := url.Parse(r2.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	code := loc.Query().Get("code")
	if code == "" || loc.Query().Get("state") != "xyz" || loc.Query().Get("keep") != "1" || loc.Path != "/callback" {
		t.Fatalf("redirect %q lacks code, state or the callback's own query", loc)
	}

	grant := url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {q.Get("redirect_uri")}, "user_type": {"Location"},
	}
	resp, body := e.postForm("/oauth/token", grant, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("code grant: %d %s", resp.StatusCode, body)
	}
	var tp tokenPair
	mustJSON(t, body, &tp)
	if tp.AccessToken == "" || tp.RefreshToken == "" || tp.TokenType != "Bearer" || tp.ExpiresIn != 86399 ||
		tp.UserType != "Location" || tp.LocationID != sandbox.DemoLocationID || tp.CompanyID != sandbox.DemoCompanyID ||
		tp.Scope != "contacts.readonly contacts.write" || tp.UserID == "" {
		t.Errorf("token response %+v", tp)
	}
	resp, body = e.postForm("/oauth/token", grant, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "invalid_grant") {
		t.Errorf("second use of a code: %d %s, want 400 invalid_grant", resp.StatusCode, body)
	}
}

func TestConsentRejectsBadAuthorizeRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{RedirectURIs: []string{"https://app.example/cb"}})
	good := url.Values{"response_type": {"code"}, "client_id": {sandbox.DefaultClientID}, "redirect_uri": {"https://app.example/cb"}, "scope": {"contacts.readonly"}}
	tests := []struct {
		name  string
		field string
		value string
	}{
		{"response type", "response_type", "token"},
		{"unknown client", "client_id", "nope-nope"},
		{"unregistered redirect", "redirect_uri", "https://evil.example/cb"},
		{"no scope", "scope", ""},
		{"unknown scope", "scope", "contacts.readonly nothing.write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			q.Set(tt.field, tt.value)
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/oauth/chooselocation?"+q.Encode(), nil)
			resp, body := e.do(req)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d %s, want 400", resp.StatusCode, body)
			}
		})
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/v2/oauth/chooselocation?"+good.Encode(), nil)
	if resp, body := e.do(req); resp.StatusCode != http.StatusOK {
		t.Errorf("valid request: %d %s", resp.StatusCode, body)
	}
}

func TestTokenEndpointRules(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now})
	mint := func(req sandbox.CodeRequest) string {
		code, err := e.sb.MintCode(req)
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	expired := mint(sandbox.CodeRequest{})
	clock.Add(5*time.Minute + time.Second)

	tests := []struct {
		name       string
		form       url.Values
		ctype      string
		wantStatus int
		wantError  string // error member
	}{
		{"wrong secret", url.Values{"client_secret": {"x"}, "code": {mint(sandbox.CodeRequest{})}}, "", 401, "invalid_client"},
		{"unknown client", url.Values{"client_id": {"abc-def"}, "code": {mint(sandbox.CodeRequest{})}}, "", 401, "invalid_client"},
		{"missing grant type", url.Values{"grant_type": {""}}, "", 422, "Unprocessable Entity"},
		{"unknown grant type", url.Values{"grant_type": {"password"}}, "", 422, "Unprocessable Entity"},
		{"missing code", url.Values{}, "", 422, "Unprocessable Entity"},
		{"unknown code", url.Values{"code": {"nope"}}, "", 400, "invalid_grant"},
		{"expired code", url.Values{"code": {expired}}, "", 400, "invalid_grant"},
		{"redirect mismatch", url.Values{"code": {mint(sandbox.CodeRequest{RedirectURI: "https://a.example/cb"})}, "redirect_uri": {"https://b.example/cb"}}, "", 400, "invalid_grant"},
		{"user type mismatch", url.Values{"code": {mint(sandbox.CodeRequest{})}, "user_type": {"Company"}}, "", 400, "invalid_grant"},
		{"bad user type", url.Values{"code": {mint(sandbox.CodeRequest{})}, "user_type": {"Agency"}}, "", 422, "Unprocessable Entity"},
		{"json body", url.Values{"code": {mint(sandbox.CodeRequest{})}}, "application/json", 400, ""},
		{"company code", url.Values{"code": {mint(sandbox.CodeRequest{UserType: sandbox.UserCompany})}, "user_type": {"Company"}}, "", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := url.Values{"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret}, "grant_type": {"authorization_code"}}
			for k, v := range tt.form {
				form[k] = v
			}
			hdr := http.Header{}
			if tt.ctype != "" {
				hdr.Set("Content-Type", tt.ctype)
			}
			resp, body := e.postForm("/oauth/token", form, hdr)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.wantStatus)
			}
			var tp tokenPair
			mustJSON(t, body, &tp)
			if tp.Error != tt.wantError {
				t.Errorf("error %q, want %q (%s)", tp.Error, tt.wantError, body)
			}
			if tt.wantStatus == 200 && (tp.UserType != "Company" || tp.LocationID != "" || len(tp.ApprovedLocations) != 2) {
				t.Errorf("company token %+v", tp)
			}
		})
	}
}

func TestRefreshRotatesAndRejectsReuse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	first := e.token(sandbox.CodeRequest{Scope: "contacts.readonly"})

	status, second := e.refresh(first.RefreshToken)
	if status != http.StatusOK || second.AccessToken == first.AccessToken || second.RefreshToken == first.RefreshToken ||
		second.Scope != first.Scope || second.LocationID != sandbox.DemoLocationID {
		t.Fatalf("refresh: %d %+v", status, second)
	}
	status, reused := e.refresh(first.RefreshToken)
	if status != http.StatusBadRequest || reused.Error != "invalid_grant" || reused.StatusCode != 400 {
		t.Errorf("reused refresh token: %d %+v, want 400 invalid_grant", status, reused)
	}
	status, unknown := e.refresh("never-issued")
	if status != http.StatusBadRequest || unknown.Error != "invalid_grant" {
		t.Errorf("unknown refresh token: %d %+v", status, unknown)
	}
	status, third := e.refresh(second.RefreshToken)
	if status != http.StatusOK {
		t.Fatalf("refresh with the rotated token: %d %+v", status, third)
	}
	st := e.sb.Stats()
	if st.RefreshGrants != 2 || st.InvalidGrants != 2 || st.CodeGrants != 1 {
		t.Errorf("stats %+v, want 2 refresh grants, 2 invalid grants, 1 code grant", st)
	}
}

func TestConcurrentRefreshHasExactlyOneWinner(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	e.sb.SetTokenLatency(20 * time.Millisecond)
	tp := e.token(sandbox.CodeRequest{})
	const n = 16
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for range n {
		wg.Go(func() {
			s, _ := e.refresh(tp.RefreshToken)
			statuses <- s
		})
	}
	wg.Wait()
	close(statuses)
	ok := 0
	for s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusBadRequest:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if st := e.sb.Stats(); ok != 1 || st.RefreshGrants != 1 || st.InvalidGrants != n-1 {
		t.Errorf("%d winners, stats %+v; want exactly 1 winner and %d invalid grants", ok, st, n-1)
	}
}

func TestRevokeAccessOnRefresh(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{RevokeAccessOnRefresh: true})
	tp := e.token(sandbox.CodeRequest{})
	if status, _ := e.refresh(tp.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %d", status)
	}
	resp, body := e.call(http.MethodGet, "/opportunities/pipelines?locationId="+sandbox.DemoLocationID, tp.AccessToken, sandbox.VersionDefault, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old access token after refresh: %d %s, want 401", resp.StatusCode, body)
	}
}

func TestLocationTokenAndInstalledLocations(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{})
	agency := e.token(sandbox.CodeRequest{UserType: sandbox.UserCompany, Scope: "oauth.readonly oauth.write contacts.readonly"})
	readOnly := e.token(sandbox.CodeRequest{UserType: sandbox.UserCompany, Scope: "oauth.readonly"})
	loc := e.token(sandbox.CodeRequest{Scope: "oauth.write"})
	v := http.Header{"Version": {sandbox.VersionDefault}}
	form := url.Values{"companyId": {sandbox.DemoCompanyID}, "locationId": {sandbox.OtherLocationID}}

	tests := []struct {
		name   string
		token  string
		hdr    http.Header
		form   url.Values
		status int
	}{
		{"agency token", agency.AccessToken, v, form, 200},
		{"no scope", readOnly.AccessToken, v, form, 401},
		{"location token", loc.AccessToken, v, form, 401},
		{"no version", agency.AccessToken, nil, form, 400},
		{"wrong version", agency.AccessToken, http.Header{"Version": {sandbox.VersionCalendars}}, form, 400},
		{"missing location", agency.AccessToken, v, url.Values{"companyId": {sandbox.DemoCompanyID}}, 422},
		{"unknown location", agency.AccessToken, v, url.Values{"companyId": {sandbox.DemoCompanyID}, "locationId": {"Nope"}}, 400},
		{"other company", agency.AccessToken, v, url.Values{"companyId": {"Other"}, "locationId": {sandbox.DemoLocationID}}, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := http.Header{"Authorization": {"Bearer " + tt.token}}
			for k, x := range tt.hdr {
				hdr[k] = x
			}
			resp, body := e.postForm("/oauth/locationToken", tt.form, hdr)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tt.status)
			}
			if tt.status != 200 {
				return
			}
			var tp tokenPair
			mustJSON(t, body, &tp)
			if tp.LocationID != sandbox.OtherLocationID || tp.RefreshToken == "" || tp.UserType != "Location" {
				t.Errorf("location token %+v", tp)
			}
		})
	}

	q := url.Values{"companyId": {sandbox.DemoCompanyID}, "appId": {sandbox.DefaultAppID}, "isInstalled": {"true"}}
	resp, body := e.call(http.MethodGet, "/oauth/installedLocations?"+q.Encode(), agency.AccessToken, sandbox.VersionDefault, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("installedLocations: %d %s", resp.StatusCode, body)
	}
	var got struct {
		Locations []struct {
			ID          string `json:"_id"`
			IsInstalled bool   `json:"isInstalled"`
		} `json:"locations"`
		Count float64 `json:"count"`
	}
	mustJSON(t, body, &got)
	if got.Count != 2 || len(got.Locations) != 2 || !got.Locations[0].IsInstalled {
		t.Errorf("installed locations %s", body)
	}
	for _, h := range []string{"X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining", "X-RateLimit-Interval-Milliseconds", "X-RateLimit-Max", "X-RateLimit-Remaining"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("response lacks %s", h)
		}
	}
}
