package tokenstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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
	m   *Manager
	cfg InstallConfig
	mux *http.ServeMux
	log *slog.Logger
}

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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &InstallHandler{m: m, cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	h.mux.HandleFunc("GET /oauth/install", h.install)
	h.mux.HandleFunc("GET /oauth/callback", h.callback)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *InstallHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func (h *InstallHandler) install(w http.ResponseWriter, r *http.Request) {
	state, err := h.newState()
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
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// newState is expiry (8 bytes) ‖ nonce (16 bytes) ‖ HMAC-SHA256 of both,
// base64url. It proves the install started here and recently.
func (h *InstallHandler) newState() (string, error) {
	buf := make([]byte, 24, 24+sha256.Size)
	binary.BigEndian.PutUint64(buf, uint64(h.cfg.Now().Add(h.cfg.StateTTL).Unix()))
	if _, err := rand.Read(buf[8:24]); err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, h.cfg.StateKey)
	mac.Write(buf)
	return base64.RawURLEncoding.EncodeToString(mac.Sum(buf)), nil
}

func (h *InstallHandler) checkState(s string) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 24+sha256.Size {
		return errors.New("state is malformed")
	}
	mac := hmac.New(sha256.New, h.cfg.StateKey)
	mac.Write(b[:24])
	if !hmac.Equal(mac.Sum(nil), b[24:]) {
		return errors.New("state signature does not match")
	}
	if h.cfg.Now().Unix() > int64(binary.BigEndian.Uint64(b[:8])) {
		return errors.New("state has expired")
	}
	return nil
}

func (h *InstallHandler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ctx := r.Context()
	if e := q.Get("error"); e != "" {
		h.log.WarnContext(ctx, "oauth callback: consent refused", "oauth_error", e)
		h.page(w, http.StatusBadRequest, "Install not completed", "HighLevel reported: "+e+". Start the install again.", nil)
		return
	}
	// Installs started from the marketplace carry no state; one that does
	// carry a state must carry ours.
	if st := q.Get("state"); st != "" {
		if err := h.checkState(st); err != nil {
			h.log.WarnContext(ctx, "oauth callback: bad state", "error", err)
			h.page(w, http.StatusBadRequest, "Install link not valid", "The install link is invalid or expired ("+err.Error()+"). Start the install again.", nil)
			return
		}
	}
	code := q.Get("code")
	if code == "" {
		h.page(w, http.StatusBadRequest, "Install not completed", "The callback carries no code parameter.", nil)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, h.m.cfg.TokenCallTimeout+h.m.cfg.StoreTimeout)
	defer cancel()
	st, err := h.m.ExchangeCode(ctx, code, h.cfg.RedirectURI, ExchangeOptions{})
	switch {
	case errors.Is(err, ErrInvalidGrant):
		h.log.WarnContext(ctx, "oauth callback: code rejected", "error", err)
		h.page(w, http.StatusBadRequest, "Install code not valid", "The authorization code is invalid, expired or was already used. Start the install again.", nil)
		return
	case err != nil:
		h.log.ErrorContext(ctx, "oauth callback: exchange failed", "error", err)
		h.page(w, http.StatusBadGateway, "Install failed", "hlgate could not complete the install with HighLevel. Try again in a moment.", nil)
		return
	}
	h.page(w, http.StatusOK, "Installed", "", &st)
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
