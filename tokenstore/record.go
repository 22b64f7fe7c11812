// Package tokenstore keeps HighLevel OAuth tokens shared by every hlgate
// replica: records encrypted at rest, a memory store for one replica and a
// Redis store for many, and a Manager that hands out valid access tokens from
// memory and refreshes them exactly once across replicas.
//
// HighLevel's refresh tokens are single use: refreshing one location twice at
// once spends the token twice and the second call gets invalid_grant, which
// leaves the install broken until someone installs the app again. The refresh
// protocol (see Manager) exists to make that impossible, and to detect and
// report (as needs-reauth) the cases where a refresh token is lost anyway,
// such as a replica dying between the token endpoint's answer and the write.
package tokenstore

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors callers can act on. Compare with errors.Is.
var (
	// ErrNotInstalled means no record exists for the subject: the app was
	// never installed for that location or company (or was deleted).
	ErrNotInstalled = errors.New("tokenstore: subject not installed")
	// ErrReauthRequired means the stored refresh token was rejected and no
	// newer one exists, or HighLevel refused a token that cannot be
	// refreshed (a Private Integration Token): the app must be installed
	// again (or a new token imported) for the subject. The mark is stored,
	// so every replica answers it without sending the dead token again.
	// Callers see it as FAILED_PRECONDITION (LOCATION_REAUTH_REQUIRED).
	ErrReauthRequired = errors.New("tokenstore: subject needs re-authorization")
	// ErrInvalidGrant is returned by an OAuth implementation when the token
	// endpoint answers 400 invalid_grant: a spent or revoked refresh token,
	// or a used or unknown authorization code.
	ErrInvalidGrant = errors.New("tokenstore: invalid_grant")
	// ErrRefreshPending means another replica holds the refresh lock for the
	// subject and did not finish within the configured patience; retrying
	// shortly will normally succeed.
	ErrRefreshPending = errors.New("tokenstore: refresh in progress on another replica")
	// ErrNotRefreshable means the stored token cannot be refreshed, such as a
	// Private Integration Token that upstream rejected (then the error also
	// wraps ErrReauthRequired) or a location token whose company is unknown.
	ErrNotRefreshable = errors.New("tokenstore: token cannot be refreshed")
	// ErrSubjectMismatch means an authorization code was exchanged for a
	// grant of another location or company than the caller said it was for;
	// nothing was stored.
	ErrSubjectMismatch = errors.New("tokenstore: the grant is for another subject")
	// ErrClosed is returned after Manager.Close.
	ErrClosed = errors.New("tokenstore: manager closed")
	// ErrNotFound is returned by a Store when no record exists for a subject.
	ErrNotFound = errors.New("tokenstore: record not found")
	// ErrConflict is returned by a Store's conditional write when the record's
	// version is not the expected one, or the lock is held by someone else.
	ErrConflict = errors.New("tokenstore: conditional write conflict")
	// ErrStoreUnavailable wraps a failure to reach the shared store (Redis
	// down or timing out). Tokens already in memory keep serving; a caller
	// that needed the store can retry later.
	ErrStoreUnavailable = errors.New("tokenstore: store unavailable")
	// ErrDecrypt is returned when a stored record cannot be authenticated or
	// decrypted: tampered data, an unknown key, or a record moved to another key.
	ErrDecrypt = errors.New("tokenstore: cannot decrypt record")
)

// MaxCodeLen bounds an authorization code; longer ones are refused before
// any call to the token endpoint (HighLevel's codes are far shorter).
const MaxCodeLen = 512

// Kind says where a record's tokens came from, which decides how it is renewed.
type Kind string

// Record kinds.
const (
	// KindOAuth is a pair from the authorization-code or refresh grant;
	// renewed with its refresh token.
	KindOAuth Kind = "oauth"
	// KindLocationToken is a location token minted from an agency token with
	// /oauth/locationToken; renewed with its refresh token when upstream sent
	// one, otherwise minted again from the company's record.
	KindLocationToken Kind = "location_token"
	// KindPIT is a Private Integration Token: it has no expiry and no refresh
	// token, and is never refreshed.
	KindPIT Kind = "pit"
)

// User types, as the token endpoint names them.
const (
	UserTypeLocation = "Location"
	UserTypeCompany  = "Company"
)

// Record is everything stored for one subject (a location id or a company
// id). It holds secrets: never log it, never put it in an error.
type Record struct {
	Subject      string `json:"subject"`
	Kind         Kind   `json:"kind"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	// Expiry is the local receipt time of the grant plus expires_in; zero for
	// tokens that do not expire (PITs).
	Expiry     time.Time `json:"expiry,omitzero"`
	Scopes     []string  `json:"scopes,omitempty"`
	UserType   string    `json:"user_type,omitempty"`
	CompanyID  string    `json:"company_id,omitempty"`
	LocationID string    `json:"location_id,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	// App is the marketplace app id (the client id up to its first '-'), the
	// quota key HighLevel counts requests under.
	App string `json:"app,omitempty"`
	// Version grows by one with every write of the record; the refresh
	// protocol's fenced write checks it.
	Version     uint64    `json:"version"`
	NeedsReauth bool      `json:"needs_reauth,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"`
	// InstallID names the install (code exchange, import, mint or confirmed
	// pending install) the record descends from. It is random, set when the
	// install is stored and kept by every refresh, so it tells apart two
	// installs of one subject even when a delete made versions start again
	// at 1: a refreshed pair is only ever written over its own install.
	// Records stored before install ids existed have none; each of them is
	// its own install (an empty id matches only an empty id).
	InstallID string `json:"install_id,omitempty"`
}

// String hides the record's secrets so that a record printed by mistake
// leaks nothing.
func (r Record) String() string {
	return fmt.Sprintf("tokenstore.Record{subject:%s kind:%s version:%d expiry:%s needs_reauth:%t}",
		r.Subject, r.Kind, r.Version, r.Expiry.UTC().Format(time.RFC3339), r.NeedsReauth)
}

// GoString hides secrets from %#v as well.
func (r Record) GoString() string { return r.String() }

// Expired reports whether the access token is unusable at now, treating it as
// expired skew early so a request sent now does not arrive with a dead token.
func (r Record) Expired(now time.Time, skew time.Duration) bool {
	if r.Expiry.IsZero() {
		return false
	}
	return !now.Add(skew).Before(r.Expiry)
}

// Token is what a caller gets to authorize one upstream call. It carries the
// access token itself: pass it to the upstream request and nowhere else.
type Token struct {
	AccessToken string
	// Expiry is zero for tokens that do not expire.
	Expiry   time.Time
	Subject  string
	App      string
	UserType string
}

// String hides the access token.
func (t Token) String() string {
	return fmt.Sprintf("tokenstore.Token{subject:%s app:%s user_type:%s expiry:%s}",
		t.Subject, t.App, t.UserType, t.Expiry.UTC().Format(time.RFC3339))
}

// GoString hides the access token from %#v as well.
func (t Token) GoString() string { return t.String() }

func (r *Record) token() Token {
	return Token{AccessToken: r.AccessToken, Expiry: r.Expiry, Subject: r.Subject, App: r.App, UserType: r.UserType}
}

// AppID returns the marketplace app id of an OAuth client id: the part before
// the first '-' (as HighLevel's own SDK derives it).
func AppID(clientID string) string {
	app, _, _ := strings.Cut(clientID, "-")
	return app
}

// Status is what may be shown about a record: no secrets.
type Status struct {
	Subject     string
	Kind        Kind
	UserType    string
	CompanyID   string
	LocationID  string
	App         string
	Scopes      []string
	Expiry      time.Time
	Version     uint64
	NeedsReauth bool
	UpdatedAt   time.Time
	// Pending is set when an install is waiting for an admin's
	// confirmation (Manager.ConfirmInstall); it is only filled by
	// Manager.Status and by the install callback.
	Pending *PendingInstall
}

func (r *Record) status() Status {
	return Status{
		Subject: r.Subject, Kind: r.Kind, UserType: r.UserType, CompanyID: r.CompanyID,
		LocationID: r.LocationID, App: r.App, Scopes: append([]string(nil), r.Scopes...),
		Expiry: r.Expiry, Version: r.Version, NeedsReauth: r.NeedsReauth, UpdatedAt: r.UpdatedAt,
	}
}

func validSubject(s string) error {
	if s == "" {
		return errors.New("subject is empty")
	}
	if len(s) > 128 || strings.ContainsAny(s, "{}\x00 \t\r\n") {
		return fmt.Errorf("subject %q has characters or length a location or company id cannot have", s)
	}
	return nil
}
