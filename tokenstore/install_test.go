package tokenstore

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// installServer mounts the install handler on a real HTTP server, the way
// the server package mounts it on hlgate's HTTP port.
func installServer(t *testing.T, r *rig) (*httptest.Server, *InstallHandler) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	redirect, err := RedirectURI(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewInstallHandler(r.mgrs[0], InstallConfig{
		ClientID:     sandbox.DefaultClientID,
		AuthorizeURL: r.api.URL + "/v2/oauth/chooselocation",
		RedirectURI:  redirect,
		Scopes:       []string{"contacts.readonly", "opportunities.readonly"},
		StateKey:     StateKey(sandbox.DefaultClientSecret),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/oauth/", h)
	return srv, h
}

func noRedirects() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var hiddenInput = regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`)

// TestInstallEndToEnd walks the install as a browser would: hlgate's
// /oauth/install, the sandbox's consent page, Allow, hlgate's callback; then
// the stored record authorizes a real call.
func TestInstallEndToEnd(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	srv, _ := installServer(t, r)
	c := noRedirects()

	resp, _ := get(t, c, srv.URL+"/oauth/install")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("/oauth/install: HTTP %d, want 302", resp.StatusCode)
	}
	consent, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := consent.Query()
	if !strings.HasPrefix(consent.String(), r.api.URL+"/v2/oauth/chooselocation?") || q.Get("client_id") != sandbox.DefaultClientID ||
		q.Get("redirect_uri") != srv.URL+"/oauth/callback" || q.Get("scope") != "contacts.readonly opportunities.readonly" ||
		q.Get("response_type") != "code" || q.Get("state") == "" {
		t.Fatalf("consent URL %s lacks client id, redirect URI, scopes or state", consent)
	}

	resp, page := get(t, c, consent.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("consent page: HTTP %d: %s", resp.StatusCode, page)
	}
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		form.Set(m[1], m[2])
	}
	form.Set("account", "location:"+sandbox.DemoLocationID)
	form.Set("allow", "1")
	presp, err := c.PostForm(consent.Scheme+"://"+consent.Host+consent.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusFound {
		t.Fatalf("Allow: HTTP %d, want 302 to the callback", presp.StatusCode)
	}
	callback := presp.Header.Get("Location")
	cb, _ := url.Parse(callback)
	seen.add(cb.Query().Get("code"))
	if !strings.HasPrefix(callback, srv.URL+"/oauth/callback?") || cb.Query().Get("state") != q.Get("state") {
		t.Fatalf("Allow redirected to %s, want our callback with our state", cb.Redacted())
	}

	resp, page = get(t, c, callback)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, sandbox.DemoLocationID) || !strings.Contains(page, "Installed") {
		t.Fatalf("callback: HTTP %d: %s", resp.StatusCode, page)
	}
	if strings.Contains(page, cb.Query().Get("code")) {
		t.Fatal("the callback page shows the code")
	}
	tok, err := r.mgrs[1].Token(context.Background(), sandbox.DemoLocationID)
	if err != nil {
		t.Fatalf("token after install: %v", err)
	}
	seen.add(tok.AccessToken)
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("upstream call with the installed token: HTTP %d", code)
	}

	// The same callback again: the code is spent.
	resp, page = get(t, c, callback)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "already used") {
		t.Fatalf("replayed callback: HTTP %d: %s", resp.StatusCode, page)
	}
}

func TestCallbackErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	srv, h := installServer(t, r)
	c := noRedirects()
	code := func() string {
		v, err := r.sb.MintCode(sandbox.CodeRequest{RedirectURI: srv.URL + "/oauth/callback"})
		if err != nil {
			t.Fatal(err)
		}
		seen.add(v)
		return v
	}
	good, err := h.newState()
	if err != nil {
		t.Fatal(err)
	}
	h.cfg.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	expired, _ := h.newState()
	h.cfg.Now = time.Now
	// Flip a bit of the signature, not of the expiry: a state tampered in
	// its expiry would also fail as expired, and hide a missing MAC check.
	raw, err := base64.RawURLEncoding.DecodeString(good)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)-1] ^= 1
	tampered := base64.RawURLEncoding.EncodeToString(raw)

	tests := []struct {
		name   string
		query  url.Values
		status int
		want   string
	}{
		{"marketplace install without state", url.Values{"code": {code()}}, http.StatusOK, sandbox.DemoLocationID},
		{"with our state", url.Values{"code": {code()}, "state": {good}}, http.StatusOK, "Installed"},
		{"expired state", url.Values{"code": {code()}, "state": {expired}}, http.StatusBadRequest, "state has expired"},
		{"tampered state", url.Values{"code": {code()}, "state": {tampered}}, http.StatusBadRequest, "signature does not match"},
		{"no code", url.Values{}, http.StatusBadRequest, "no code"},
		{"unknown code", url.Values{"code": {"not-a-code-123456"}}, http.StatusBadRequest, "already used"},
		{"consent refused", url.Values{"error": {"access_denied"}}, http.StatusBadRequest, "access_denied"},
	}
	for _, tt := range tests {
		resp, page := get(t, c, srv.URL+"/oauth/callback?"+tt.query.Encode())
		if resp.StatusCode != tt.status || !strings.Contains(page, tt.want) {
			t.Errorf("%s: HTTP %d, want %d with %q: %s", tt.name, resp.StatusCode, tt.status, tt.want, page)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("%s: content type %q", tt.name, ct)
		}
	}
}

func TestRedirectURI(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://hlgate.example.com":        "https://hlgate.example.com/oauth/callback",
		"https://hlgate.example.com/":       "https://hlgate.example.com/oauth/callback",
		"https://example.com/hlgate/?x=1#f": "https://example.com/hlgate/oauth/callback",
	} {
		if got, err := RedirectURI(in); err != nil || got != want {
			t.Errorf("RedirectURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "hlgate.example.com", "ftp://x/"} {
		if _, err := RedirectURI(bad); err == nil || !strings.Contains(err.Error(), "HLGATE_PUBLIC_URL") {
			t.Errorf("RedirectURI(%q) = %v, want an error naming HLGATE_PUBLIC_URL", bad, err)
		}
	}
}
