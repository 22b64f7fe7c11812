package tokenstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultAuthorizeURL is HighLevel's consent page (reference §2; the /v2/
// segment dates from 2026-05-27).
const DefaultAuthorizeURL = "https://marketplace.gohighlevel.com/v2/oauth/chooselocation"

// InstallConfig configures the install endpoints.
type InstallConfig struct {
	// ClientID is the app's OAuth client id (HLGATE_CLIENT_ID).
	ClientID string
	// AuthorizeURL is the consent page (HLGATE_AUTHORIZE_URL); empty means
	// DefaultAuthorizeURL.
	AuthorizeURL string
	// RedirectURI is HLGATE_PUBLIC_URL + /oauth/callback; see RedirectURI.
	RedirectURI string
	// Scopes requested at install (HLGATE_SCOPES).
	Scopes []string
	// StateKey signs the state parameter; derive it with StateKey.
	StateKey []byte
	// StateTTL is how long an install link stays good (default 10 minutes).
	StateTTL time.Duration
	// CallbackRate and CallbackBurst bound the callbacks this process
	// redeems (a token bucket: CallbackRate per second, bursts of
	// CallbackBurst; defaults 10 and 20). Anybody can call the callback,
	// and each call with a code costs a call to HighLevel's token
	// endpoint; callbacks over the bound get 429 with Retry-After.
	CallbackRate  float64
	CallbackBurst int
	// Logger nil means slog.Default().
	Logger *slog.Logger
	// Now nil means time.Now.
	Now func() time.Time
}

// RedirectURI returns the OAuth redirect URI for hlgate's public base URL
// (HLGATE_PUBLIC_URL): the base with /oauth/callback appended.
func RedirectURI(publicURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(publicURL))
	if err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("HLGATE_PUBLIC_URL: %q is not an absolute http(s) URL", publicURL)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/oauth/callback"
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// StateKey derives the key that signs install state parameters from the
// client secret, so no extra setting is needed and every replica agrees.
func StateKey(clientSecret string) []byte {
	mac := hmac.New(sha256.New, []byte(clientSecret))
	mac.Write([]byte("hlgate oauth install state v1"))
	return mac.Sum(nil)
}

// ParseScopes splits the HLGATE_SCOPES value: scopes separated by spaces
// or commas, as HighLevel's consent URL takes them space-separated.
func ParseScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
}

// InstallHandler serves GET /oauth/install and GET /oauth/callback; the
// server mounts it on its HTTP port.
type InstallHandler struct {
	m      *Manager
	cfg    InstallConfig
	mux    *http.ServeMux
	log    *slog.Logger
	cookie http.Cookie // the nonce cookie's attributes, without value
	bucket bucket
}

// NonceCookie is the cookie /oauth/install sets and /oauth/callback checks:
// it holds the nonce that the signed state also carries, so a state is only
// good in the browser that started the install (a state link sent to
// somebody else, or replayed by a third party, is refused).
const NonceCookie = "hlgate_oauth_nonce"

// NewInstallHandler checks cfg and returns the handler.
func NewInstallHandler(m *Manager, cfg InstallConfig) (*InstallHandler, error) {
	if m == nil {
		return nil, errors.New("install handler: manager is nil")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("HLGATE_CLIENT_ID: is empty")
	}
	if cfg.AuthorizeURL == "" {
		cfg.AuthorizeURL = DefaultAuthorizeURL
	}
	if u, err := url.Parse(cfg.AuthorizeURL); err != nil || !u.IsAbs() {
		return nil, fmt.Errorf("HLGATE_AUTHORIZE_URL: %q is not an absolute URL", cfg.AuthorizeURL)
	}
	if _, err := url.Parse(cfg.RedirectURI); err != nil || cfg.RedirectURI == "" {
		return nil, fmt.Errorf("redirect URI %q: set HLGATE_PUBLIC_URL", cfg.RedirectURI)
	}
	if len(cfg.Scopes) == 0 {
		return nil, errors.New("HLGATE_SCOPES: is empty")
	}
	if len(cfg.StateKey) < 16 {
		return nil, errors.New("install state key: at least 16 bytes required")
	}
	if cfg.StateTTL <= 0 {
		cfg.StateTTL = 10 * time.Minute
	}
	if cfg.CallbackRate <= 0 {
		cfg.CallbackRate = 10
	}
	if cfg.CallbackBurst <= 0 {
		cfg.CallbackBurst = 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ru, err := url.Parse(cfg.RedirectURI)
	if err != nil || !ru.IsAbs() || !strings.HasSuffix(ru.Path, "/oauth/callback") {
		return nil, fmt.Errorf("redirect URI %q: want HLGATE_PUBLIC_URL + /oauth/callback (see RedirectURI)", cfg.RedirectURI)
	}
	h := &InstallHandler{m: m, cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	h.cookie = http.Cookie{
		Name: NonceCookie,
		// The public URL's path, so the cookie also reaches the callback
		// behind a proxy that mounts hlgate under a prefix.
		Path:     strings.TrimSuffix(ru.Path, "callback"),
		HttpOnly: true,
		// Lax: HighLevel's redirect back to the callback is a top-level
		// GET navigation, which Lax cookies accompany.
		SameSite: http.SameSiteLaxMode,
		Secure:   ru.Scheme == "https",
	}
	h.bucket = bucket{rate: cfg.CallbackRate, burst: float64(cfg.CallbackBurst), tokens: float64(cfg.CallbackBurst), last: cfg.Now()}
	h.mux.HandleFunc("GET /oauth/install", h.install)
	h.mux.HandleFunc("GET /oauth/callback", h.callback)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *InstallHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *InstallHandler) install(w http.ResponseWriter, r *http.Request) {
	state, nonce, err := h.newState()
	if err != nil {
		h.log.ErrorContext(r.Context(), "oauth install: make state", "error", err)
		h.page(w, http.StatusInternalServerError, "Install failed", "hlgate could not start the install. Try again.", nil)
		return
	}
	u, _ := url.Parse(h.cfg.AuthorizeURL) // checked in NewInstallHandler
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", h.cfg.ClientID)
	q.Set("redirect_uri", h.cfg.RedirectURI)
	q.Set("scope", strings.Join(h.cfg.Scopes, " "))
	q.Set("state", state)
	u.RawQuery = q.Encode()
	c := h.cookie
	c.Value = nonce
	c.MaxAge = int(h.cfg.StateTTL / time.Second)
	http.SetCookie(w, &c)
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// newState is expiry (8 bytes) ‖ nonce (16 bytes) ‖ HMAC-SHA256 of both,
// base64url. It proves the install started here and recently; the nonce,
// also returned base64url for the browser's cookie, binds it to the
// browser that started it.
func (h *InstallHandler) newState() (state, nonce string, err error) {
	buf := make([]byte, 24, 24+sha256.Size)
	binary.BigEndian.PutUint64(buf, uint64(h.cfg.Now().Add(h.cfg.StateTTL).Unix()))
	if _, err := rand.Read(buf[8:24]); err != nil {
		return "", "", err
	}
	mac := hmac.New(sha256.New, h.cfg.StateKey)
	mac.Write(buf)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(buf)), base64.RawURLEncoding.EncodeToString(buf[8:24]), nil
}

// checkState verifies s and returns its nonce (base64url).
func (h *InstallHandler) checkState(s string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24+sha256.Size {
		return "", errors.New("state is malformed")
	}
	mac := hmac.New(sha256.New, h.cfg.StateKey)
	mac.Write(b[:24])
	if !hmac.Equal(mac.Sum(nil), b[24:]) {
		return "", errors.New("state signature does not match")
	}
	if h.cfg.Now().Unix() > int64(binary.BigEndian.Uint64(b[:8])) {
		return "", errors.New("state has expired")
	}
	return base64.RawURLEncoding.EncodeToString(b[8:24]), nil
}

// checkNonce compares the browser's nonce cookie with the state's nonce.
func checkNonce(r *http.Request, nonce string) error {
	c, err := r.Cookie(NonceCookie)
	if err != nil || c.Value == "" {
		return errors.New("this browser did not start the install (no install cookie)")
	}
	if subtle.ConstantTimeCompare([]byte(c.Value), []byte(nonce)) != 1 {
		return errors.New("the install was started in another browser or tab (install cookie does not match)")
	}
	return nil
}

// bucket is a token bucket on the handler's clock.
type bucket struct {
	mu          sync.Mutex
	rate, burst float64
	tokens      float64
	last        time.Time
}

// take spends one token, or says how long until one is available.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.burst, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

func (h *InstallHandler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx := r.Context()
	if ok, wait := h.bucket.take(h.cfg.Now()); !ok {
		secs := max(1, int((wait+time.Second-1)/time.Second))
		h.log.WarnContext(ctx, "oauth callback: rate limited", "retry_after_s", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.page(w, http.StatusTooManyRequests, "Too many install attempts", "hlgate is receiving too many install callbacks. Reload this page in a few seconds.", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		h.log.WarnContext(ctx, "oauth callback: consent refused", "oauth_error", e)
		h.page(w, http.StatusBadRequest, "Install not completed", "HighLevel reported: "+e+". Start the install again.", nil)
		return
	}
	code := q.Get("code")
	if code == "" {
		h.page(w, http.StatusBadRequest, "Install not completed", "The callback carries no code parameter.", nil)
		return
	}
	if len(code) > MaxCodeLen {
		h.page(w, http.StatusBadRequest, "Install code not valid", fmt.Sprintf("The code parameter is longer than %d characters.", MaxCodeLen), nil)
		return
	}
	// Installs started from the marketplace carry no state; one that does
	// carry a state must carry ours, in the browser that started it.
	st := q.Get("state")
	if st != "" {
		nonce, err := h.checkState(st)
		if err == nil {
			err = checkNonce(r, nonce)
		}
		if err != nil {
			h.log.WarnContext(ctx, "oauth callback: bad state", "error", err)
			h.page(w, http.StatusBadRequest, "Install link not valid", "The install link is invalid or expired ("+err.Error()+"). Start the install again.", nil)
			return
		}
		c := h.cookie
		c.MaxAge = -1 // spent: the state's code is redeemed once
		http.SetCookie(w, &c)
	}
	// Once HighLevel has the code, its answer is the only copy of the new
	// tokens: a browser that goes away meanwhile must not cancel the
	// exchange or the write.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.m.cfg.TokenCallTimeout+3*h.m.cfg.StoreTimeout)
	defer cancel()
	var (
		status Status
		held   bool
		err    error
	)
	if st != "" {
		status, err = h.m.ExchangeCode(ctx, code, h.cfg.RedirectURI, ExchangeOptions{})
	} else {
		status, held, err = h.m.installUnverified(ctx, code, h.cfg.RedirectURI)
	}
	switch {
	case errors.Is(err, ErrInvalidGrant):
		h.log.WarnContext(ctx, "oauth callback: code rejected", "error", err)
		h.page(w, http.StatusBadRequest, "Install code not valid", "The authorization code is invalid, expired or was already used. Start the install again.", nil)
		return
	case err != nil:
		h.log.ErrorContext(ctx, "oauth callback: exchange failed", "error", err)
		h.page(w, http.StatusBadGateway, "Install failed", "hlgate could not complete the install with HighLevel. Try again in a moment.", nil)
		return
	case held:
		h.page(w, http.StatusAccepted, "Install waiting for confirmation",
			"This install grants fewer scopes than the one hlgate holds for "+status.Subject+
				", so it was not applied. An hlgate admin must confirm it (TokensService.ConfirmInstall) before "+
				status.Pending.ExpiresAt.UTC().Format(time.RFC1123)+"; until then the current install keeps working.", nil)
		return
	}
	h.page(w, http.StatusOK, "Installed", "", &status)
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}} – hlgate</title>
<style>body{font-family:sans-serif;max-width:34em;margin:3em auto}dt{font-weight:bold}</style>
</head><body><h1>{{.Title}}</h1>
{{with .Message}}<p>{{.}}</p>{{end}}
{{with .Status}}<p>hlgate can now call HighLevel for this {{if eq .UserType "Company"}}agency{{else}}sub-account{{end}}.</p>
<dl><dt>{{if eq .UserType "Company"}}Company{{else}}Location{{end}}</dt><dd>{{.Subject}}</dd>
{{if and .CompanyID (ne .UserType "Company")}}<dt>Company</dt><dd>{{.CompanyID}}</dd>{{end}}
<dt>Scopes</dt><dd>{{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}</dd></dl>{{end}}
</body></html>
`))

func (h *InstallHandler) page(w http.ResponseWriter, status int, title, msg string, st *Status) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, map[string]any{"Title": title, "Message": msg, "Status": st}); err != nil {
		http.Error(w, title, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the browser went away
}
