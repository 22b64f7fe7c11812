package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hlgate/hlgate/gen/highlevel"
)

// oauthVersion is the Version header of /oauth/locationToken (reference §1:
// the oauth product's operations declare 2021-07-28; /oauth/token declares none).
const oauthVersion = "2021-07-28"

// HighLevelOAuth makes the grant calls through the generated HighLevel
// client. It uses its own HTTP client, not the upstream chain: the chain
// injects tokens from this package and must not be re-entered by it.
type HighLevelOAuth struct {
	client       *highlevel.ClientWithResponses
	clientID     string
	clientSecret string
}

var _ OAuth = (*HighLevelOAuth)(nil)

// NewHighLevelOAuth returns an OAuth over the API at baseURL (upstream's
// https://services.leadconnectorhq.com, or the sandbox). doer nil means an
// http.Client with a 30 s timeout; the manager's context deadline is usually
// shorter.
func NewHighLevelOAuth(baseURL, clientID, clientSecret string, doer highlevel.HttpRequestDoer) (*HighLevelOAuth, error) {
	if clientID == "" {
		return nil, errors.New("HLGATE_CLIENT_ID: is empty")
	}
	if clientSecret == "" {
		return nil, errors.New("HLGATE_CLIENT_SECRET: is empty")
	}
	if doer == nil {
		doer = &http.Client{Timeout: 30 * time.Second}
	}
	c, err := highlevel.NewClientWithResponses(baseURL, highlevel.WithHTTPClient(doer))
	if err != nil {
		return nil, fmt.Errorf("highlevel client for %s: %w", baseURL, err)
	}
	return &HighLevelOAuth{client: c, clientID: clientID, clientSecret: clientSecret}, nil
}

// ExchangeCode implements OAuth.
func (o *HighLevelOAuth) ExchangeCode(ctx context.Context, code, redirectURI, userType string) (Grant, error) {
	req := highlevel.GetAccessCodebodyDto{
		ClientID: o.clientID, ClientSecret: o.clientSecret,
		GrantType: highlevel.GetAccessCodebodyDtoGrantType("authorization_code"), Code: &code,
	}
	if redirectURI != "" {
		req.RedirectURI = &redirectURI
	}
	if userType != "" {
		ut := highlevel.GetAccessCodebodyDtoUserType(userType)
		req.UserType = &ut
	}
	return o.token(ctx, "authorization_code", req)
}

// Refresh implements OAuth.
func (o *HighLevelOAuth) Refresh(ctx context.Context, refreshToken, userType string) (Grant, error) {
	req := highlevel.GetAccessCodebodyDto{
		ClientID: o.clientID, ClientSecret: o.clientSecret,
		GrantType: highlevel.GetAccessCodebodyDtoGrantType("refresh_token"), RefreshToken: &refreshToken,
	}
	if userType != "" {
		ut := highlevel.GetAccessCodebodyDtoUserType(userType)
		req.UserType = &ut
	}
	return o.token(ctx, "refresh_token", req)
}

func (o *HighLevelOAuth) token(ctx context.Context, grant string, req highlevel.GetAccessCodebodyDto) (Grant, error) {
	resp, err := o.client.GetAccessTokenWithFormdataBodyWithResponse(ctx, req)
	if err != nil {
		// The error names the URL and the transport failure; the form body
		// (with the secret and token) is never part of it.
		return Grant{}, fmt.Errorf("token endpoint (%s): %w", grant, err)
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
		var oe *highlevel.OAuthErrorDTO
		switch {
		case resp.JSON400 != nil:
			oe = resp.JSON400
		case resp.JSON401 != nil:
			oe = resp.JSON401
		}
		return Grant{}, oauthError(grant, resp.StatusCode(), oe)
	}
	r := resp.JSON200
	g := Grant{
		AccessToken: deref(r.AccessToken), RefreshToken: deref(r.RefreshToken),
		Scopes: strings.Fields(deref(r.Scope)), UserType: deref(r.UserType),
		CompanyID: deref(r.CompanyID), LocationID: deref(r.LocationID), UserID: r.UserID,
	}
	if r.ExpiresIn != nil {
		g.ExpiresIn = time.Duration(*r.ExpiresIn * float64(time.Second))
	}
	if g.AccessToken == "" {
		return Grant{}, fmt.Errorf("token endpoint (%s): answer has no access_token", grant)
	}
	if g.ExpiresIn <= 0 {
		return Grant{}, fmt.Errorf("token endpoint (%s): answer has no positive expires_in", grant)
	}
	return g, nil
}

// oauthError turns a token-endpoint failure into an error. invalid_grant is
// recognised by the RFC 6749 `error` member or, since upstream documents
// only free-text messages, by a message naming it ("Invalid grant: …").
func oauthError(grant string, status int, oe *highlevel.OAuthErrorDTO) error {
	var code, msg string
	if oe != nil {
		code = deref(oe.Error)
		msg = deref(oe.ErrorDescription)
		if msg == "" {
			msg = deref(oe.Message)
		}
	}
	low := strings.ToLower(code + " " + msg)
	if status == http.StatusBadRequest && (code == "invalid_grant" || strings.Contains(low, "invalid_grant") || strings.Contains(low, "invalid grant")) {
		return fmt.Errorf("token endpoint (%s): %w: %s", grant, ErrInvalidGrant, msg)
	}
	return fmt.Errorf("token endpoint (%s): HTTP %d %s: %s", grant, status, code, msg)
}

// LocationToken implements OAuth.
func (o *HighLevelOAuth) LocationToken(ctx context.Context, agencyAccessToken, companyID, locationID string) (Grant, error) {
	auth := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+agencyAccessToken)
		r.Header.Set("Version", oauthVersion)
		return nil
	}
	resp, err := o.client.GetLocationAccessTokenWithFormdataBodyWithResponse(ctx,
		highlevel.GetLocationAccessCodeBodyDto{CompanyID: companyID, LocationID: locationID}, auth)
	if err != nil {
		return Grant{}, fmt.Errorf("location token for %s: %w", locationID, err)
	}
	if resp.StatusCode() != http.StatusOK || resp.JSON200 == nil {
		var msg string
		switch {
		case resp.JSON400 != nil:
			msg = deref(resp.JSON400.Message)
		case resp.JSON401 != nil:
			msg = deref(resp.JSON401.Message)
		}
		return Grant{}, fmt.Errorf("location token for %s: HTTP %d: %s", locationID, resp.StatusCode(), msg)
	}
	r := resp.JSON200
	g := Grant{
		AccessToken: deref(r.AccessToken), RefreshToken: deref(r.RefreshToken),
		Scopes: strings.Fields(deref(r.Scope)), UserType: UserTypeLocation,
		CompanyID: companyID, LocationID: deref(r.LocationID), UserID: r.UserID,
	}
	if g.LocationID == "" {
		g.LocationID = locationID
	}
	if r.ExpiresIn != nil {
		g.ExpiresIn = time.Duration(*r.ExpiresIn * float64(time.Second))
	}
	if g.AccessToken == "" || g.ExpiresIn <= 0 {
		return Grant{}, fmt.Errorf("location token for %s: answer lacks access_token or expires_in", locationID)
	}
	return g, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
