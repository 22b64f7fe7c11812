package tokenstore

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
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
	return installServerWith(t, r, nil, nil)
}

// installServerWith lets a test adjust the config and wrap the handler.
func installServerWith(t *testing.T, r *rig, tweak func(*InstallConfig), wrap func(http.Handler) http.Handler) (*httptest.Server, *InstallHandler) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	redirect, err := RedirectURI(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	cfg := InstallConfig{
		ClientID:     sandbox.DefaultClientID,
		AuthorizeURL: r.api.URL + "/v2/oauth/chooselocation",
		RedirectURI:  redirect,
		Scopes:       []string{"contacts.readonly", "opportunities.readonly"},
		StateKey:     StateKey(sandbox.DefaultClientSecret),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	h, err := NewInstallHandler(r.mgrs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	var hh http.Handler = h
	if wrap != nil {
		hh = wrap(h)
	}
	mux.Handle("/oauth/", hh)
	return srv, h
}

// noRedirects is a browser that keeps cookies and shows redirects instead
// of following them.
func noRedirects() *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		panic(err)
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// getWith sends a GET with the given cookies.
func getWith(t *testing.T, u string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
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

	// The same callback again: the state's cookie is spent with it.
	resp, page = get(t, c, callback)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "no install cookie") {
		t.Fatalf("replayed callback: HTTP %d: %s", resp.StatusCode, page)
	}
}

// TestInstallCookie: /oauth/install binds its state to the browser with a
// cookie that scripts cannot read, that accompanies HighLevel's redirect
// back (Lax), that only the OAuth pages receive, and that is Secure when
// hlgate's public URL is https.
func TestInstallCookie(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	for _, public := range []string{"http://hlgate.example.com", "https://hlgate.example.com/prefix/"} {
		redirect, err := RedirectURI(public)
		if err != nil {
			t.Fatal(err)
		}
		h, err := NewInstallHandler(r.mgrs[0], InstallConfig{
			ClientID: sandbox.DefaultClientID, RedirectURI: redirect, Scopes: []string{"contacts.readonly"},
			StateKey: StateKey(sandbox.DefaultClientSecret),
		})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/oauth/install", nil))
		cookies := rec.Result().Cookies()
		if len(cookies) != 1 {
			t.Fatalf("%s: %d cookies set, want 1", public, len(cookies))
		}
		c := cookies[0]
		loc, _ := url.Parse(rec.Header().Get("Location"))
		nonce, err := h.checkState(loc.Query().Get("state"))
		if err != nil {
			t.Fatal(err)
		}
		wantPath := "/oauth/"
		if strings.Contains(public, "prefix") {
			wantPath = "/prefix/oauth/"
		}
		if c.Name != NonceCookie || c.Value != nonce || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode ||
			c.Path != wantPath || c.Secure != strings.HasPrefix(public, "https:") || c.MaxAge <= 0 {
			t.Errorf("%s: cookie %+v; want %s=<the state's nonce>, HttpOnly, SameSite=Lax, Path=%s, Secure only for https, a Max-Age",
				public, c, NonceCookie, wantPath)
		}
	}
}

func TestCallbackErrors(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	srv, h := installServer(t, r)
	code := func() string {
		v, err := r.sb.MintCode(sandbox.CodeRequest{RedirectURI: srv.URL + "/oauth/callback"})
		if err != nil {
			t.Fatal(err)
		}
		seen.add(v)
		return v
	}
	good, nonce, err := h.newState()
	if err != nil {
		t.Fatal(err)
	}
	other, otherNonce, _ := h.newState()
	h.cfg.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	expired, expiredNonce, _ := h.newState()
	h.cfg.Now = time.Now
	cookie := func(v string) *http.Cookie { return &http.Cookie{Name: NonceCookie, Value: v} }
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
		cookie *http.Cookie
		status int
		want   string
	}{
		{"marketplace install without state", url.Values{"code": {code()}}, nil, http.StatusOK, sandbox.DemoLocationID},
		{"with our state and its cookie", url.Values{"code": {code()}, "state": {good}}, cookie(nonce), http.StatusOK, "Installed"},
		{"our state without the cookie", url.Values{"code": {code()}, "state": {good}}, nil, http.StatusBadRequest, "no install cookie"},
		{"our state with another install's cookie", url.Values{"code": {code()}, "state": {other}}, cookie(nonce), http.StatusBadRequest, "does not match"},
		{"another install's state with its cookie", url.Values{"code": {code()}, "state": {other}}, cookie(otherNonce), http.StatusOK, "Installed"},
		{"expired state", url.Values{"code": {code()}, "state": {expired}}, cookie(expiredNonce), http.StatusBadRequest, "state has expired"},
		{"tampered state", url.Values{"code": {code()}, "state": {tampered}}, cookie(nonce), http.StatusBadRequest, "signature does not match"},
		{"no code", url.Values{}, nil, http.StatusBadRequest, "no code"},
		{"code too long", url.Values{"code": {strings.Repeat("x", MaxCodeLen+1)}}, nil, http.StatusBadRequest, "longer than 512"},
		{"unknown code", url.Values{"code": {"not-a-code-123456"}}, nil, http.StatusBadRequest, "already used"},
		{"consent refused", url.Values{"error": {"access_denied"}}, nil, http.StatusBadRequest, "access_denied"},
	}
	for _, tt := range tests {
		before := r.stats()
		var cookies []*http.Cookie
		if tt.cookie != nil {
			cookies = append(cookies, tt.cookie)
		}
		resp, page := getWith(t, srv.URL+"/oauth/callback?"+tt.query.Encode(), cookies...)
		if resp.StatusCode != tt.status || !strings.Contains(page, tt.want) {
			t.Errorf("%s: HTTP %d, want %d with %q: %s", tt.name, resp.StatusCode, tt.status, tt.want, page)
		}
		after := r.stats()
		if calls := after.CodeGrants + after.InvalidGrants - before.CodeGrants - before.InvalidGrants; tt.status == http.StatusBadRequest && tt.want != "already used" && calls != 0 {
			t.Errorf("%s: refused callback made %d token-endpoint calls, want 0", tt.name, calls)
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

// TestCallbackRateLimit: callbacks over the bucket get 429 with
// Retry-After and cost no token-endpoint call; the bucket refills on the
// handler's clock.
func TestCallbackRateLimit(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	var clk testClock
	srv, _ := installServerWith(t, r, func(c *InstallConfig) {
		c.CallbackRate, c.CallbackBurst, c.Now = 0.5, 3, clk.Now
	}, nil)
	junk := srv.URL + "/oauth/callback?code=junk-code-0123456789"
	before := r.stats()
	for i := 0; i < 3; i++ {
		if resp, page := getWith(t, junk); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("callback %d within the burst: HTTP %d: %s", i, resp.StatusCode, page)
		}
	}
	for i := 0; i < 5; i++ {
		resp, page := getWith(t, junk)
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "Too many") {
			t.Fatalf("callback over the burst: HTTP %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
		}
	}
	if got := r.stats().InvalidGrants - before.InvalidGrants; got != 3 {
		t.Fatalf("%d token-endpoint calls for 8 callbacks with a burst of 3, want 3", got)
	}
	clk.Advance(2 * time.Second) // one token at 0.5/s
	if resp, _ := getWith(t, junk); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("after the bucket refilled: HTTP %d, want the exchange to be tried", resp.StatusCode)
	}
	if resp, _ := getWith(t, junk); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second callback after one token refilled: HTTP %d, want 429", resp.StatusCode)
	}
}

// TestCallbackOutlivesTheBrowser: the browser goes away after HighLevel
// accepted the code and before hlgate stored the tokens. HighLevel's answer
// is the only copy of them: they are stored anyway.
func TestCallbackOutlivesTheBrowser(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	served := make(chan struct{})
	reqCtx := make(chan context.Context, 1)
	srv, _ := installServerWith(t, r, nil, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if req.URL.Path == "/oauth/callback" {
				reqCtx <- req.Context()
				defer close(served)
			}
			h.ServeHTTP(w, req)
		})
	})
	browser, hangUp := context.WithCancel(context.Background())
	// Once HighLevel has answered the code, the browser hangs up; the
	// exchange goes on only after the server has noticed (its request
	// context is done).
	r.oauths[0].afterExchange = func(context.Context) {
		hangUp()
		select {
		case <-(<-reqCtx).Done():
		case <-time.After(10 * time.Second):
			t.Error("the server never noticed the browser going away")
		}
	}
	code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID})
	if err != nil {
		t.Fatal(err)
	}
	seen.add(code)
	req, _ := http.NewRequestWithContext(browser, http.MethodGet, srv.URL+"/oauth/callback?code="+code, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the browser's request completed although it hung up first")
	}
	<-served
	if r.stats().CodeGrants != 1 {
		t.Fatalf("%d code grants, want the 1 HighLevel accepted", r.stats().CodeGrants)
	}
	tok, err := r.mgrs[0].Token(bg(), sandbox.OtherLocationID)
	if err != nil {
		t.Fatalf("the tokens of the accepted code were not stored: %v", err)
	}
	seen.add(tok.AccessToken)
	if code := r.callUpstream(tok); code != http.StatusOK {
		t.Fatalf("stored token: HTTP %d", code)
	}
}

// TestStatelessInstallCannotNarrow: an install without state (anybody can
// send one) that grants fewer scopes than the stored install is held, not
// applied; the page says so; Status shows it; an admin's ConfirmInstall on
// any replica applies it. Stateless installs that keep or widen scopes are
// applied at once.
func TestStatelessInstallCannotNarrow(t *testing.T) {
	t.Parallel()
	r := newRig(t, 2, rigOptions{})
	srv, _ := installServer(t, r)
	wide := r.install(loc)
	callback := func(scope string) (*http.Response, string) {
		t.Helper()
		code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: loc, Scope: scope, RedirectURI: srv.URL + "/oauth/callback"})
		if err != nil {
			t.Fatal(err)
		}
		seen.add(code)
		return getWith(t, srv.URL+"/oauth/callback?code="+code)
	}
	resp, page := callback("contacts.readonly")
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(page, "admin must confirm") {
		t.Fatalf("narrowing stateless install: HTTP %d: %s", resp.StatusCode, page)
	}
	st, err := r.mgrs[1].Status(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != wide.Version || len(st.Scopes) != len(wide.Scopes) {
		t.Fatalf("stored install changed: version %d → %d, %d → %d scopes", wide.Version, st.Version, len(wide.Scopes), len(st.Scopes))
	}
	if st.Pending == nil || len(st.Pending.Scopes) != 1 || st.Pending.Scopes[0] != "contacts.readonly" || !st.Pending.ExpiresAt.After(st.Pending.CreatedAt) {
		t.Fatalf("status does not show the pending install: %+v", st.Pending)
	}
	// Held encrypted, like every record.
	raw, err := r.redis.Client().HGetAll(bg(), pendingKey(loc)).Result()
	if err != nil || raw["ct"] == "" {
		t.Fatalf("pending install in Redis: %v, %v", raw, err)
	}
	rs, _ := NewRedisStore(r.redis.Client(), r.keys, nil)
	held, err := rs.GetPending(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw["ct"], held.RefreshToken) || strings.Contains(raw["ct"], held.AccessToken) {
		t.Fatal("the pending install's tokens are stored in clear")
	}
	if ttl := r.redis.Client().PTTL(bg(), pendingKey(loc)).Val(); ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("pending install TTL %s, want (0, 24h]", ttl)
	}

	confirmed, err := r.mgrs[1].ConfirmInstall(bg(), loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(confirmed.Scopes) != 1 || confirmed.Version != wide.Version+1 {
		t.Fatalf("confirmed install: %+v", confirmed)
	}
	if tok, err := r.mgrs[1].Token(bg(), loc); err != nil || tok.AccessToken != held.AccessToken {
		t.Fatalf("after confirmation: %v (the held token: %t)", err, tok.AccessToken == held.AccessToken)
	}
	if _, err := r.mgrs[0].ConfirmInstall(bg(), loc); !errors.Is(err, ErrNoPendingInstall) {
		t.Fatalf("second confirmation: %v, want ErrNoPendingInstall", err)
	}
	if st, _ := r.mgrs[0].Status(bg(), loc); st.Pending != nil {
		t.Fatal("the pending install is still shown after confirmation")
	}

	// Widening (or keeping) the scopes is applied at once.
	resp, page = callback("")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Installed") {
		t.Fatalf("widening stateless install: HTTP %d: %s", resp.StatusCode, page)
	}
	if st, _ := r.mgrs[0].Status(bg(), loc); len(st.Scopes) != len(wide.Scopes) || st.Pending != nil {
		t.Fatalf("after widening: %d scopes, pending %v", len(st.Scopes), st.Pending)
	}
}
