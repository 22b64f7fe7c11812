package sandbox

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// UserType is the kind of an OAuth token: a sub-account (Location) or an
// agency (Company) token.
type UserType string

// The two user types of upstream's token endpoint.
const (
	UserLocation UserType = "Location"
	UserCompany  UserType = "Company"
)

// App is a registered marketplace app.
type App struct {
	// ClientID is `<appId>-<suffix>`.
	ClientID string
	// ClientSecret is checked by the token endpoint.
	ClientSecret string
	// RedirectURIs lists the accepted redirect URIs; empty accepts any
	// absolute http or https URI.
	RedirectURIs []string
	// Scopes the app may request; empty means every scope the sandbox knows.
	Scopes []string
}

// AppID is the part of the client id before the first "-", the way the
// upstream SDK derives it.
func (a App) AppID() string {
	id, _, _ := strings.Cut(a.ClientID, "-")
	return id
}

type accessToken struct {
	kind       UserType
	appID      string
	clientID   string
	companyID  string
	locationID string
	userID     string
	scopes     map[string]bool
	scopeStr   string
	expires    time.Time // zero for Private Integration Tokens
	pit        bool
	install    string // installation the token belongs to, for revocation
}

// subject is the location or company the token acts for.
func (t *accessToken) subject() string {
	if t.kind == UserCompany {
		return t.companyID
	}
	return t.locationID
}

type refreshGrant struct {
	kind       UserType
	clientID   string
	companyID  string
	locationID string
	userID     string
	scopeStr   string
	expires    time.Time
	install    string
}

type authCode struct {
	clientID    string
	redirectURI string
	scopeStr    string
	kind        UserType
	companyID   string
	locationID  string
	expires     time.Time
}

type authState struct {
	cfg Config

	mu       sync.RWMutex
	apps     map[string]*App // by client id
	access   map[string]*accessToken
	refresh  map[string]*refreshGrant
	codes    map[string]*authCode
	installs map[string]map[string]time.Time // app id → location id → installed at
	bulk     map[string]bool                 // app id → installed at agency level

	refreshGrants  atomic.Int64
	codeGrants     atomic.Int64
	locationGrants atomic.Int64
	invalidGrants  atomic.Int64
}

func newAuthState(cfg Config) *authState {
	a := &authState{cfg: cfg, apps: map[string]*App{}}
	a.apps[DefaultClientID] = &App{
		ClientID:     DefaultClientID,
		ClientSecret: DefaultClientSecret,
		RedirectURIs: cfg.RedirectURIs,
	}
	a.reset()
	return a
}

// reset forgets every token, code and installation but keeps the apps and
// the Private Integration Tokens.
func (a *authState) reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	pits := map[string]*accessToken{}
	for v, t := range a.access {
		if t.pit {
			pits[v] = t
		}
	}
	a.access = pits
	a.refresh = map[string]*refreshGrant{}
	a.codes = map[string]*authCode{}
	a.installs = map[string]map[string]time.Time{}
	a.bulk = map[string]bool{}
	a.refreshGrants.Store(0)
	a.codeGrants.Store(0)
	a.locationGrants.Store(0)
	a.invalidGrants.Store(0)
}

// newSecret returns an unguessable opaque string (128 random bits).
func newSecret(prefix string) string { return prefix + rand.Text() + rand.Text() }

// RegisterApp adds (or replaces) a marketplace app.
func (s *Sandbox) RegisterApp(app App) error {
	if _, _, ok := strings.Cut(app.ClientID, "-"); !ok || app.ClientSecret == "" {
		return fmt.Errorf("register app %q: client id must be <appId>-<suffix> and the secret non-empty", app.ClientID)
	}
	s.auth.mu.Lock()
	defer s.auth.mu.Unlock()
	cp := app
	s.auth.apps[app.ClientID] = &cp
	return nil
}

// CodeRequest describes an authorization code to mint without the consent
// page. Zero fields take the demo's values.
type CodeRequest struct {
	// ClientID defaults to DefaultClientID.
	ClientID string `json:"clientId"`
	// RedirectURI is bound to the code; the token request may repeat it.
	RedirectURI string `json:"redirectUri"`
	// Scope is space separated; empty grants every scope the app may have.
	Scope string `json:"scope"`
	// UserType is Location (default) or Company.
	UserType UserType `json:"userType"`
	// LocationID is the approved location of a Location code (default
	// DemoLocationID).
	LocationID string `json:"locationId"`
	// CompanyID defaults to DemoCompanyID.
	CompanyID string `json:"companyId"`
}

// MintCode issues an authorization code as the consent page would after a
// click on Allow, and records the installation.
func (s *Sandbox) MintCode(req CodeRequest) (string, error) {
	if req.ClientID == "" {
		req.ClientID = DefaultClientID
	}
	if req.UserType == "" {
		req.UserType = UserLocation
	}
	if req.CompanyID == "" {
		req.CompanyID = DemoCompanyID
	}
	if req.UserType == UserLocation && req.LocationID == "" {
		req.LocationID = DemoLocationID
	}
	app, ok := s.app(req.ClientID)
	if !ok {
		return "", fmt.Errorf("mint code: unknown client id %q", req.ClientID)
	}
	if req.Scope == "" {
		req.Scope = strings.Join(s.appScopes(app), " ")
	}
	if err := s.checkScopes(app, req.Scope); err != nil {
		return "", fmt.Errorf("mint code: %w", err)
	}
	switch req.UserType {
	case UserLocation:
		loc, ok := s.loc(req.LocationID)
		if !ok || loc.companyID != req.CompanyID {
			return "", fmt.Errorf("mint code: location %q is not a location of company %q", req.LocationID, req.CompanyID)
		}
	case UserCompany:
		if req.CompanyID != DemoCompanyID {
			return "", fmt.Errorf("mint code: unknown company %q", req.CompanyID)
		}
		req.LocationID = ""
	default:
		return "", fmt.Errorf("mint code: user type %q is neither Location nor Company", req.UserType)
	}
	code := newSecret("")
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	a.codes[code] = &authCode{
		clientID:    req.ClientID,
		redirectURI: req.RedirectURI,
		scopeStr:    req.Scope,
		kind:        req.UserType,
		companyID:   req.CompanyID,
		locationID:  req.LocationID,
		expires:     s.now().Add(s.cfg.CodeTTL),
	}
	appID := app.AppID()
	if a.installs[appID] == nil {
		a.installs[appID] = map[string]time.Time{}
	}
	now := s.now().UTC()
	if req.UserType == UserCompany {
		a.bulk[appID] = true
		for _, id := range s.companyLocationIDs() {
			if _, ok := a.installs[appID][id]; !ok {
				a.installs[appID][id] = now
			}
		}
	} else if _, ok := a.installs[appID][req.LocationID]; !ok {
		a.installs[appID][req.LocationID] = now
	}
	s.emitInstall(appID, req)
	return code, nil
}

// AddPIT creates a Private Integration Token for a location (or for the
// company, when subject is DemoCompanyID) with the given scopes. PITs never
// expire and are never refreshed; they survive Reset.
func (s *Sandbox) AddPIT(subject string, scopes ...string) (string, error) {
	t := &accessToken{appID: "pit", userID: DemoUserID, pit: true, companyID: DemoCompanyID}
	switch {
	case subject == DemoCompanyID:
		t.kind = UserCompany
	default:
		if _, ok := s.loc(subject); !ok {
			return "", fmt.Errorf("add private integration token: unknown location %q", subject)
		}
		t.kind = UserLocation
		t.locationID = subject
	}
	t.scopeStr = strings.Join(scopes, " ")
	t.scopes = scopeSet(t.scopeStr)
	v := newSecret("pit-")
	s.auth.mu.Lock()
	s.auth.access[v] = t
	s.auth.mu.Unlock()
	return v, nil
}

// ExpireAccessTokens makes every OAuth access token of the subject (a
// location or company id) expired now, as if a day had passed. It returns
// how many tokens it expired. Refresh tokens stay valid.
func (s *Sandbox) ExpireAccessTokens(subject string) int {
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	past := s.now().Add(-time.Second)
	n := 0
	for v, t := range a.access {
		if !t.pit && t.subject() == subject && t.expires.After(past) {
			// Copy on write: requests in flight read tokens without the lock.
			cp := *t
			cp.expires = past
			a.access[v] = &cp
			n++
		}
	}
	return n
}

// SetTokenLatency delays every /oauth/token answer by d (zero removes the
// delay), so tests can widen the window of concurrent refreshes.
func (s *Sandbox) SetTokenLatency(d time.Duration) { s.tokenLag.Store(int64(d)) }

func (s *Sandbox) app(clientID string) (*App, bool) {
	s.auth.mu.RLock()
	defer s.auth.mu.RUnlock()
	a, ok := s.auth.apps[clientID]
	return a, ok
}

// appScopes is what the app may request: its own list, or every scope the
// route table knows plus the OAuth ones.
func (s *Sandbox) appScopes(app *App) []string {
	if len(app.Scopes) > 0 {
		return app.Scopes
	}
	set := map[string]bool{"oauth.readonly": true, "oauth.write": true}
	srs, _ := loadSpecRoutes() // New has already loaded them without error
	for _, sr := range srs {
		if sr.scope != "" {
			set[sr.scope] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Sandbox) checkScopes(app *App, scope string) error {
	allowed := s.appScopes(app)
	fields := strings.Fields(scope)
	if len(fields) == 0 {
		return errors.New("scope is empty")
	}
	for _, f := range fields {
		if !slices.Contains(allowed, f) {
			return fmt.Errorf("scope %q is not available to app %s", f, app.AppID())
		}
	}
	return nil
}

func (s *Sandbox) checkRedirect(app *App, uri string) error {
	u, err := url.Parse(uri)
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("redirect_uri %q is not an absolute http(s) URI", uri)
	}
	if len(app.RedirectURIs) > 0 && !slices.Contains(app.RedirectURIs, uri) {
		return fmt.Errorf("redirect_uri %q is not registered for this app", uri)
	}
	return nil
}

func scopeSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(s) {
		m[f] = true
	}
	return m
}

// lookupToken returns the token for a bearer value.
func (s *Sandbox) lookupToken(v string) (*accessToken, bool) {
	s.auth.mu.RLock()
	t, ok := s.auth.access[v]
	s.auth.mu.RUnlock()
	return t, ok
}

// ---- consent page ----

var consentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Choose account – HighLevel sandbox</title>
<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}li{margin:.4em 0}button{font-size:1.1em;padding:.4em 1.4em}</style>
</head><body>
<h1>Choose an account</h1>
<p>The app <b>{{.AppID}}</b> asks for: <code>{{.Scope}}</code></p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="state" value="{{.State}}">
<ul>
<li><label><input type="radio" name="account" value="company:{{.CompanyID}}"> Agency: {{.CompanyName}} ({{.CompanyID}})</label></li>
{{range $i, $l := .Locations}}<li><label><input type="radio" name="account" value="location:{{$l.ID}}"{{if eq $i 0}} checked{{end}}> {{$l.Name}} ({{$l.ID}})</label></li>
{{end}}</ul>
<button type="submit" name="allow" value="1">Allow</button>
</form></body></html>
`))

type consentLocation struct{ ID, Name string }

// consentParams validates the authorize request's parameters, shared by
// the page (GET) and the Allow button (POST).
func (s *Sandbox) consentParams(v url.Values) (*App, *apiError) {
	if rt := v.Get("response_type"); rt != "code" {
		return nil, errBadRequest("response_type must be code, got %q", rt)
	}
	app, ok := s.app(v.Get("client_id"))
	if !ok {
		return nil, errBadRequest("client_id %q is not a registered app", v.Get("client_id"))
	}
	if err := s.checkRedirect(app, v.Get("redirect_uri")); err != nil {
		return nil, errBadRequest("%v", err)
	}
	if err := s.checkScopes(app, v.Get("scope")); err != nil {
		return nil, errBadRequest("%v", err)
	}
	return app, nil
}

func (s *Sandbox) handleConsentPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	app, aerr := s.consentParams(q)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	var locs []consentLocation
	for _, id := range s.companyLocationIDs() {
		l, _ := s.loc(id)
		name, _ := l.label()
		locs = append(locs, consentLocation{ID: l.id, Name: name})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	err := consentPage.Execute(w, map[string]any{
		"AppID": app.AppID(), "Scope": q.Get("scope"), "Action": r.URL.Path,
		"ClientID": q.Get("client_id"), "RedirectURI": q.Get("redirect_uri"), "State": q.Get("state"),
		"CompanyID": DemoCompanyID, "CompanyName": s.companyName, "Locations": locs,
	})
	if err != nil {
		// Headers are gone already; the truncated page is the only signal.
		return
	}
}

func (s *Sandbox) handleConsentAllow(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, errBadRequest("consent form: %v", err))
		return
	}
	f := r.PostForm
	if _, aerr := s.consentParams(f); aerr != nil {
		writeError(w, aerr)
		return
	}
	req := CodeRequest{ClientID: f.Get("client_id"), RedirectURI: f.Get("redirect_uri"), Scope: f.Get("scope"), CompanyID: DemoCompanyID}
	kind, id, _ := strings.Cut(f.Get("account"), ":")
	switch kind {
	case "location":
		req.UserType, req.LocationID = UserLocation, id
	case "company":
		req.UserType, req.CompanyID = UserCompany, id
	default:
		writeError(w, errBadRequest("account must name a location or the agency"))
		return
	}
	code, err := s.MintCode(req)
	if err != nil {
		writeError(w, errBadRequest("%v", err))
		return
	}
	u, _ := url.Parse(req.RedirectURI) // validated by consentParams
	q := u.Query()
	q.Set("code", code)
	if st := f.Get("state"); st != "" {
		q.Set("state", st)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// ---- token endpoint ----

// tokenResponse is the body of a successful grant; members follow the
// reference's §2 table.
type tokenResponse struct {
	AccessToken             string   `json:"access_token"`
	TokenType               string   `json:"token_type"`
	ExpiresIn               int64    `json:"expires_in"`
	RefreshToken            string   `json:"refresh_token"`
	Scope                   string   `json:"scope"`
	UserType                UserType `json:"userType"`
	LocationID              string   `json:"locationId,omitempty"`
	CompanyID               string   `json:"companyId"`
	ApprovedLocations       []string `json:"approvedLocations,omitempty"`
	UserID                  string   `json:"userId"`
	PlanID                  string   `json:"planId,omitempty"`
	IsBulkInstallation      bool     `json:"isBulkInstallation"`
	InstallToFutureLocation *bool    `json:"installToFutureLocations,omitempty"`
	ApproveAllLocations     *bool    `json:"approveAllLocations,omitempty"`
	AppID                   string   `json:"appId,omitempty"`
	VersionID               string   `json:"versionId,omitempty"`
}

func (s *Sandbox) handleToken(w http.ResponseWriter, r *http.Request) {
	if d := time.Duration(s.tokenLag.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	resp, aerr := s.grant(r)
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (s *Sandbox) invalidGrant(msg string) *apiError {
	s.auth.invalidGrants.Add(1)
	return &apiError{status: http.StatusBadRequest, message: msg, oauthErr: "invalid_grant"}
}

func (s *Sandbox) grant(r *http.Request) (*tokenResponse, *apiError) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, errBadRequest("Content-Type must be application/x-www-form-urlencoded, got %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		return nil, errBadRequest("token request body: %v", err)
	}
	f := r.PostForm
	var missing []string
	for _, k := range []string{"client_id", "client_secret", "grant_type"} {
		if f.Get(k) == "" {
			missing = append(missing, k+" should not be empty")
		}
	}
	if len(missing) > 0 {
		return nil, errUnprocessable(missing...)
	}
	app, ok := s.app(f.Get("client_id"))
	if !ok || !constantTimeEqual(app.ClientSecret, f.Get("client_secret")) {
		return nil, &apiError{status: http.StatusUnauthorized, message: "Invalid client credentials", oauthErr: "invalid_client"}
	}
	ut := UserType(f.Get("user_type"))
	if ut != "" && ut != UserLocation && ut != UserCompany {
		return nil, errUnprocessable("user_type must be one of the following values: Company, Location")
	}
	switch gt := f.Get("grant_type"); gt {
	case "authorization_code":
		return s.codeGrant(app, f, ut)
	case "refresh_token":
		return s.refreshGrant(app, f, ut)
	case "client_credentials":
		return nil, &apiError{status: http.StatusBadRequest, message: "grant_type client_credentials is not supported by the sandbox", oauthErr: "unsupported_grant_type"}
	default:
		return nil, errUnprocessable("grant_type must be one of the following values: authorization_code, refresh_token, client_credentials")
	}
}

func (s *Sandbox) codeGrant(app *App, f url.Values, ut UserType) (*tokenResponse, *apiError) {
	code := f.Get("code")
	if code == "" {
		return nil, errUnprocessable("code should not be empty")
	}
	a := s.auth
	a.mu.Lock()
	c, ok := a.codes[code]
	if ok && c.clientID == app.ClientID {
		delete(a.codes, code) // single use, even when the rest of the request is wrong
	}
	a.mu.Unlock()
	switch {
	case !ok || c.clientID != app.ClientID:
		return nil, s.invalidGrant("Invalid grant: authorization code is invalid")
	case !s.now().Before(c.expires):
		return nil, s.invalidGrant("Invalid grant: authorization code has expired")
	case f.Get("redirect_uri") != "" && c.redirectURI != "" && f.Get("redirect_uri") != c.redirectURI:
		return nil, s.invalidGrant("Invalid grant: redirect_uri does not match the authorization request")
	case ut != "" && ut != c.kind:
		return nil, s.invalidGrant(fmt.Sprintf("Invalid grant: the code was issued for a %s, not a %s", c.kind, ut))
	}
	a.codeGrants.Add(1)
	return s.issue(app, &refreshGrant{
		kind: c.kind, clientID: c.clientID, companyID: c.companyID, locationID: c.locationID,
		userID: DemoUserID, scopeStr: c.scopeStr, install: newSecret(""),
	}, true), nil
}

func (s *Sandbox) refreshGrant(app *App, f url.Values, ut UserType) (*tokenResponse, *apiError) {
	rt := f.Get("refresh_token")
	if rt == "" {
		return nil, errUnprocessable("refresh_token should not be empty")
	}
	a := s.auth
	a.mu.Lock()
	g, ok := a.refresh[rt]
	valid := ok && g.clientID == app.ClientID && s.now().Before(g.expires) && (ut == "" || ut == g.kind)
	if valid {
		delete(a.refresh, rt) // rotation: the old refresh token is spent
	}
	a.mu.Unlock()
	if !valid {
		return nil, s.invalidGrant("Invalid grant: refresh token is invalid")
	}
	a.refreshGrants.Add(1)
	return s.issue(app, g, s.cfg.RevokeAccessOnRefresh), nil
}

// issue mints a new access and refresh token pair for an installation.
func (s *Sandbox) issue(app *App, g *refreshGrant, revoke bool) *tokenResponse {
	now := s.now()
	at := &accessToken{
		kind: g.kind, appID: app.AppID(), clientID: app.ClientID, companyID: g.companyID,
		locationID: g.locationID, userID: g.userID, scopeStr: g.scopeStr, scopes: scopeSet(g.scopeStr),
		expires: now.Add(s.cfg.AccessTokenTTL), install: g.install,
	}
	ng := *g
	ng.expires = now.Add(s.cfg.RefreshTokenTTL)
	av, rv := newSecret(""), newSecret("")
	a := s.auth
	a.mu.Lock()
	if revoke && s.cfg.RevokeAccessOnRefresh {
		for v, t := range a.access {
			if t.install == g.install {
				delete(a.access, v)
			}
		}
	}
	a.access[av] = at
	a.refresh[rv] = &ng
	bulk := a.bulk[app.AppID()]
	a.mu.Unlock()
	resp := &tokenResponse{
		AccessToken: av, TokenType: "Bearer", ExpiresIn: int64(s.cfg.AccessTokenTTL / time.Second),
		RefreshToken: rv, Scope: g.scopeStr, UserType: g.kind, CompanyID: g.companyID,
		LocationID: g.locationID, UserID: g.userID, IsBulkInstallation: g.kind == UserCompany && bulk,
	}
	if g.kind == UserCompany {
		t := true
		resp.ApprovedLocations = s.companyLocationIDs()
		resp.InstallToFutureLocation, resp.ApproveAllLocations = &t, &t
	}
	return resp
}

// ---- agency endpoints (served through the resource pipeline) ----

func (s *Sandbox) opLocationToken(w http.ResponseWriter, r *http.Request, c *call) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeError(w, errBadRequest("Content-Type must be application/x-www-form-urlencoded, got %q", ct))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, errBadRequest("locationToken body: %v", err))
		return
	}
	var missing []string
	for _, k := range []string{"companyId", "locationId"} {
		if r.PostForm.Get(k) == "" {
			missing = append(missing, k+" should not be empty")
		}
	}
	if len(missing) > 0 {
		writeError(w, errUnprocessable(missing...))
		return
	}
	companyID, locationID := r.PostForm.Get("companyId"), r.PostForm.Get("locationId")
	if companyID != c.tok.companyID {
		writeError(w, errBadRequest("companyId %q is not the company of this token", companyID))
		return
	}
	a := s.auth
	a.mu.RLock()
	_, installed := a.installs[c.tok.appID][locationID]
	bulk := a.bulk[c.tok.appID]
	a.mu.RUnlock()
	if loc, ok := s.loc(locationID); !ok || loc.companyID != companyID || !installed || !bulk {
		writeError(w, errBadRequest("Location %s is not approved for this app", locationID))
		return
	}
	app, ok := s.app(c.tok.clientID)
	if !ok {
		writeError(w, errUnauthorized(msgTokenInvalid))
		return
	}
	a.locationGrants.Add(1)
	resp := s.issue(app, &refreshGrant{
		kind: UserLocation, clientID: app.ClientID, companyID: companyID, locationID: locationID,
		userID: c.tok.userID, scopeStr: c.tok.scopeStr, install: newSecret(""),
	}, false)
	resp.AppID, resp.VersionID = app.AppID(), app.AppID()
	writeJSON(w, http.StatusOK, resp)
}

type installedLocation struct {
	ID          string `json:"_id"`
	Name        string `json:"name"`
	Address     string `json:"address"`
	IsInstalled bool   `json:"isInstalled"`
	VersionID   string `json:"versionId,omitempty"`
	InstalledAt string `json:"installedAt,omitempty"`
}

func (s *Sandbox) opInstalledLocations(w http.ResponseWriter, r *http.Request, c *call) {
	q := r.URL.Query()
	var missing []string
	for _, k := range []string{"companyId", "appId"} {
		if q.Get(k) == "" {
			missing = append(missing, k+" should not be empty")
		}
	}
	if len(missing) > 0 {
		writeError(w, errUnprocessable(missing...))
		return
	}
	if q.Get("companyId") != c.tok.companyID {
		writeError(w, errBadRequest("companyId %q is not the company of this token", q.Get("companyId")))
		return
	}
	if q.Get("appId") != c.tok.appID {
		writeError(w, errBadRequest("appId %q is not the app of this token", q.Get("appId")))
		return
	}
	skip, e1 := intParam(q, "skip", 0, 0, 1<<30)
	limit, e2 := intParam(q, "limit", 20, 1, 1000)
	if err := errors.Join(e1, e2); err != nil {
		writeError(w, errUnprocessable(err.Error()))
		return
	}
	appID := q.Get("appId")
	a := s.auth
	a.mu.RLock()
	inst := a.installs[appID]
	var list []installedLocation
	for _, id := range s.companyLocationIDs() {
		l, _ := s.loc(id)
		at, ok := inst[id]
		name, address := l.label()
		il := installedLocation{ID: id, Name: name, Address: address, IsInstalled: ok}
		if ok {
			il.VersionID, il.InstalledAt = appID, at.Format(time.RFC3339)
		}
		list = append(list, il)
	}
	bulk := a.bulk[appID]
	a.mu.RUnlock()
	var out []installedLocation
	for _, il := range list {
		if v := q.Get("isInstalled"); v != "" && strconv.FormatBool(il.IsInstalled) != v {
			continue
		}
		if v := q.Get("locationId"); v != "" && il.ID != v {
			continue
		}
		if v := q.Get("query"); v != "" && !strings.Contains(strings.ToLower(il.Name), strings.ToLower(v)) {
			continue
		}
		out = append(out, il)
	}
	total := len(out)
	out = window(out, skip, limit)
	if out == nil {
		out = []installedLocation{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"locations": out, "count": total, "installToFutureLocations": bulk})
}

// window returns items[skip:skip+limit], clamped.
func window[T any](items []T, skip, limit int) []T {
	if skip >= len(items) {
		return nil
	}
	end := min(skip+limit, len(items))
	return items[skip:end]
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(q url.Values, name string, def, lo, hi int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s must be an integer between %d and %d", name, lo, hi)
	}
	return n, nil
}
