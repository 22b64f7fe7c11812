package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// env is a sandbox behind a real HTTP server.
type env struct {
	t   testing.TB
	sb  *sandbox.Sandbox
	srv *httptest.Server
}

func newEnv(t testing.TB, cfg sandbox.Config) *env {
	t.Helper()
	if cfg.DemoContacts == 0 {
		cfg.DemoContacts = 1000
	}
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return &env{t: t, sb: sb, srv: srv}
}

type tokenPair struct {
	AccessToken       string   `json:"access_token"`
	TokenType         string   `json:"token_type"`
	ExpiresIn         float64  `json:"expires_in"`
	RefreshToken      string   `json:"refresh_token"`
	Scope             string   `json:"scope"`
	UserType          string   `json:"userType"`
	LocationID        string   `json:"locationId"`
	CompanyID         string   `json:"companyId"`
	UserID            string   `json:"userId"`
	ApprovedLocations []string `json:"approvedLocations"`
	Error             string   `json:"error"`
	Message           any      `json:"message"`
	StatusCode        int      `json:"statusCode"`
}

// postForm posts a form to the token endpoint (or any form endpoint).
func (e *env) postForm(path string, form url.Values, hdr http.Header) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header[k] = v
	}
	return e.do(req)
}

func (e *env) do(req *http.Request) (*http.Response, []byte) {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	return resp, b
}

// token runs the code grant for a minted code and returns the pair.
func (e *env) token(req sandbox.CodeRequest) tokenPair {
	e.t.Helper()
	code, err := e.sb.MintCode(req)
	if err != nil {
		e.t.Fatalf("MintCode: %v", err)
	}
	resp, body := e.postForm("/oauth/token", url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
		"grant_type": {"authorization_code"}, "code": {code},
	}, nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("code grant: %d %s", resp.StatusCode, body)
	}
	var tp tokenPair
	mustJSON(e.t, body, &tp)
	return tp
}

func (e *env) refresh(rt string) (int, tokenPair) {
	e.t.Helper()
	resp, body := e.postForm("/oauth/token", url.Values{
		"client_id": {sandbox.DefaultClientID}, "client_secret": {sandbox.DefaultClientSecret},
		"grant_type": {"refresh_token"}, "refresh_token": {rt},
	}, nil)
	var tp tokenPair
	mustJSON(e.t, body, &tp)
	return resp.StatusCode, tp
}

// call makes a resource call with a bearer token and the given Version
// (empty sends none). body is JSON-encoded when not nil.
func (e *env) call(method, path, token, version string, body any) (*http.Response, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if version != "" {
		req.Header.Set("Version", version)
	}
	return e.do(req)
}

func mustJSON(t testing.TB, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
}

// fakeClock is a settable clock for expiry and daily-reset tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
