package tokenstore

import (
	"context"
	"time"
)

// Grant is the token endpoint's answer to a code, refresh or location-token
// grant. It holds secrets: never log it.
type Grant struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime as the endpoint sent it; the
	// record's expiry is the local receipt time plus this.
	ExpiresIn  time.Duration
	Scopes     []string
	UserType   string
	CompanyID  string
	LocationID string
	UserID     string
}

// OAuth makes HighLevel's grant calls. The implementation over the generated
// client is HighLevelOAuth; tests may use any other.
//
// Implementations return an error wrapping ErrInvalidGrant when the endpoint
// answers invalid_grant, and never put a token or secret in an error.
type OAuth interface {
	// ExchangeCode trades an authorization code for a pair
	// (grant_type=authorization_code). userType may be empty.
	ExchangeCode(ctx context.Context, code, redirectURI, userType string) (Grant, error)
	// Refresh spends refreshToken for a new pair (grant_type=refresh_token).
	Refresh(ctx context.Context, refreshToken, userType string) (Grant, error)
	// LocationToken mints a location token from an agency access token
	// (POST /oauth/locationToken).
	LocationToken(ctx context.Context, agencyAccessToken, companyID, locationID string) (Grant, error)
}
