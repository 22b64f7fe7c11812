package tokenstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// put stores rec as the subject's new record whatever was there (an install
// or import is authoritative), as version stored+1. A refresh in flight on
// another replica then fails its fenced write and drops its now obsolete pair.
func (m *Manager) put(ctx context.Context, rec Record) (Record, error) {
	if rec.InstallID == "" {
		id, err := newInstallID()
		if err != nil {
			return Record{}, err
		}
		rec.InstallID = id
	}
	for attempt := 0; attempt < 5; attempt++ {
		sctx, cancel := m.storeCtx(ctx)
		cur, err := m.store.Get(sctx, rec.Subject)
		cancel()
		switch {
		case errors.Is(err, ErrNotFound):
			cur = Record{}
		case errors.Is(err, ErrDecrypt):
			// An undecryptable record (lost key) is replaced by the new
			// install; its version still fences the write.
			if cur, err = m.storedVersion(ctx, rec.Subject); err != nil {
				return Record{}, err
			}
		case err != nil:
			return Record{}, fmt.Errorf("store %s: %w", rec.Subject, err)
		}
		rec.Version = cur.Version + 1
		sctx, cancel = m.storeCtx(ctx)
		err = m.store.Commit(sctx, rec, "", false)
		cancel()
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return Record{}, fmt.Errorf("store %s: %w", rec.Subject, err)
		}
		if p := m.pendingFor(rec.Subject); p != nil {
			m.donePending(p) // also re-reports the unpersisted gauge
			m.cfg.Metrics.PairDropped(DropSuperseded)
		}
		m.remember(rec)
		return rec, nil
	}
	return Record{}, fmt.Errorf("store %s: record kept changing: %w", rec.Subject, ErrConflict)
}

// newInstallID returns a random install id (see Record.InstallID).
func newInstallID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("install id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// versioner is implemented by stores that can report a record's version
// without decrypting it.
type versioner interface {
	Version(ctx context.Context, subject string) (uint64, error)
}

func (m *Manager) storedVersion(ctx context.Context, subject string) (Record, error) {
	v, ok := m.store.(versioner)
	if !ok {
		return Record{}, fmt.Errorf("store %s: existing record unreadable: %w", subject, ErrDecrypt)
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	n, err := v.Version(sctx, subject)
	if err != nil {
		return Record{}, fmt.Errorf("store %s: %w", subject, err)
	}
	return Record{Subject: subject, Version: n}, nil
}

func subjectOf(g Grant) (string, error) {
	switch g.UserType {
	case UserTypeCompany:
		if g.CompanyID == "" {
			return "", errors.New("company grant without companyId")
		}
		return g.CompanyID, nil
	default:
		if g.LocationID != "" {
			return g.LocationID, nil
		}
		if g.CompanyID != "" && g.UserType == "" {
			return g.CompanyID, nil
		}
		return "", errors.New("location grant without locationId")
	}
}

// ExchangeOptions qualify ExchangeCode.
type ExchangeOptions struct {
	// Subject, when set, is the location or company the code is expected to
	// be for. A grant for any other subject is not stored and the call fails
	// with ErrSubjectMismatch: the subject is known only after the exchange,
	// and a caller allowed on one location must not overwrite another's
	// token with a code it obtained for that one.
	Subject string
}

// ExchangeCode trades an authorization code from the install callback for a
// pair and stores it under the location (or, for agency installs, the
// company) it was issued for. A used or unknown code wraps ErrInvalidGrant;
// a grant for another subject than opts.Subject wraps ErrSubjectMismatch and
// stores nothing.
func (m *Manager) ExchangeCode(ctx context.Context, code, redirectURI string, opts ExchangeOptions) (Status, error) {
	rec, err := m.exchange(ctx, code, redirectURI, opts)
	if err != nil {
		return Status{}, err
	}
	if rec, err = m.put(ctx, rec); err != nil {
		return Status{}, fmt.Errorf("exchange code: %w", err)
	}
	m.log.InfoContext(ctx, "tokenstore: installed", "subject", rec.Subject, "user_type", rec.UserType, "company", rec.CompanyID, "version", rec.Version)
	return rec.status(), nil
}

// exchange redeems code and returns the record to store, not yet stored.
func (m *Manager) exchange(ctx context.Context, code, redirectURI string, opts ExchangeOptions) (Record, error) {
	if code == "" {
		return Record{}, errors.New("code: is empty")
	}
	if len(code) > MaxCodeLen {
		return Record{}, fmt.Errorf("code: longer than %d bytes", MaxCodeLen)
	}
	if opts.Subject != "" {
		if err := validSubject(opts.Subject); err != nil {
			return Record{}, fmt.Errorf("subject_id: %w", err)
		}
	}
	if m.oauth == nil {
		return Record{}, errors.New("exchange code: no OAuth client configured")
	}
	g, err := m.oauth.ExchangeCode(ctx, code, redirectURI, m.cfg.UserType)
	if err != nil {
		return Record{}, fmt.Errorf("exchange code: %w", err)
	}
	subject, err := subjectOf(g)
	if err != nil {
		return Record{}, fmt.Errorf("exchange code: %w", err)
	}
	if err := validSubject(subject); err != nil {
		return Record{}, fmt.Errorf("exchange code: %w", err)
	}
	if opts.Subject != "" && subject != opts.Subject {
		// The code is spent and its pair is dropped here: storing it would
		// let the caller replace a token it may not touch.
		m.log.WarnContext(ctx, "tokenstore: exchanged code is for another subject; not stored",
			"expected_subject", opts.Subject, "subject", subject)
		return Record{}, fmt.Errorf("exchange code: the code is for %s, not %s: %w", subject, opts.Subject, ErrSubjectMismatch)
	}
	if g.RefreshToken == "" {
		return Record{}, errors.New("exchange code: token endpoint sent no refresh_token")
	}
	return m.recordFromGrant(g, KindOAuth, subject), nil
}

// PIT is a Private Integration Token to import.
type PIT struct {
	// Subject is the location id (sub-account PIT) or company id (agency PIT).
	Subject string
	// Token is the token itself; HighLevel's PITs start with "pit-".
	Token string
	// UserType is UserTypeLocation or UserTypeCompany.
	UserType   string
	CompanyID  string
	LocationID string
	Scopes     []string
}

// ImportPIT stores a Private Integration Token. PITs do not expire and are
// never refreshed; HighLevel counts their burst quota per PIT, so their quota
// key (Token.App) is "pit".
func (m *Manager) ImportPIT(ctx context.Context, p PIT) (Status, error) {
	if err := validSubject(p.Subject); err != nil {
		return Status{}, fmt.Errorf("subject: %w", err)
	}
	if strings.TrimSpace(p.Token) == "" {
		return Status{}, errors.New("token: is empty")
	}
	if err := validUserType(p.UserType); err != nil {
		return Status{}, err
	}
	rec := Record{
		Subject: p.Subject, Kind: KindPIT, AccessToken: p.Token, Scopes: append([]string(nil), p.Scopes...),
		UserType: p.UserType, CompanyID: p.CompanyID, LocationID: p.LocationID, App: "pit", UpdatedAt: m.now(),
	}
	if rec.UserType == UserTypeLocation && rec.LocationID == "" {
		rec.LocationID = p.Subject
	}
	if rec.UserType == UserTypeCompany && rec.CompanyID == "" {
		rec.CompanyID = p.Subject
	}
	rec, err := m.put(ctx, rec)
	if err != nil {
		return Status{}, fmt.Errorf("import PIT: %w", err)
	}
	m.log.InfoContext(ctx, "tokenstore: imported private integration token", "subject", p.Subject, "version", rec.Version)
	return rec.status(), nil
}

// Pair is an existing OAuth pair to import, such as one moved from another
// system. The imported refresh token must no longer be used elsewhere.
type Pair struct {
	Subject      string
	AccessToken  string
	RefreshToken string
	// Expiry of the access token; zero means "unknown", and the token is
	// refreshed on first use.
	Expiry     time.Time
	UserType   string
	CompanyID  string
	LocationID string
	Scopes     []string
}

// ImportPair stores an existing OAuth pair.
func (m *Manager) ImportPair(ctx context.Context, p Pair) (Status, error) {
	if err := validSubject(p.Subject); err != nil {
		return Status{}, fmt.Errorf("subject: %w", err)
	}
	if p.RefreshToken == "" {
		return Status{}, errors.New("refresh_token: is empty")
	}
	if err := validUserType(p.UserType); err != nil {
		return Status{}, err
	}
	now := m.now()
	rec := Record{
		Subject: p.Subject, Kind: KindOAuth, AccessToken: p.AccessToken, RefreshToken: p.RefreshToken,
		Expiry: p.Expiry, Scopes: append([]string(nil), p.Scopes...), UserType: p.UserType,
		CompanyID: p.CompanyID, LocationID: p.LocationID, App: AppID(m.cfg.ClientID), UpdatedAt: now,
	}
	if rec.Expiry.IsZero() || rec.AccessToken == "" {
		// Unknown expiry: make it due now so the first use refreshes.
		rec.Expiry = now
	}
	rec, err := m.put(ctx, rec)
	if err != nil {
		return Status{}, fmt.Errorf("import pair: %w", err)
	}
	m.log.InfoContext(ctx, "tokenstore: imported token pair", "subject", p.Subject, "version", rec.Version)
	return rec.status(), nil
}

func validUserType(t string) error {
	if t != UserTypeLocation && t != UserTypeCompany {
		return fmt.Errorf("user_type: %q, want %q or %q", t, UserTypeLocation, UserTypeCompany)
	}
	return nil
}

// MintLocationToken uses the company's agency token to mint a token for one
// of its locations (POST /oauth/locationToken) and stores it as the
// location's record. When it expires it is renewed with its refresh token if
// upstream sent one, else minted again.
func (m *Manager) MintLocationToken(ctx context.Context, companyID, locationID string) (Status, error) {
	if err := validSubject(companyID); err != nil {
		return Status{}, fmt.Errorf("company_id: %w", err)
	}
	if err := validSubject(locationID); err != nil {
		return Status{}, fmt.Errorf("location_id: %w", err)
	}
	if m.oauth == nil {
		return Status{}, errors.New("mint location token: no OAuth client configured")
	}
	agency, err := m.Token(ctx, companyID)
	if err != nil {
		return Status{}, fmt.Errorf("mint location token: agency token: %w", err)
	}
	if agency.UserType != UserTypeCompany {
		return Status{}, fmt.Errorf("mint location token: record %s is a %s token, want an agency (Company) token", companyID, agency.UserType)
	}
	g, err := m.oauth.LocationToken(ctx, agency.AccessToken, companyID, locationID)
	if err != nil {
		return Status{}, fmt.Errorf("mint location token: %w", err)
	}
	rec := m.recordFromGrant(g, KindLocationToken, locationID)
	rec.UserType = UserTypeLocation
	rec.CompanyID = companyID
	rec.LocationID = locationID
	rec, err = m.put(ctx, rec)
	if err != nil {
		return Status{}, fmt.Errorf("mint location token: %w", err)
	}
	m.log.InfoContext(ctx, "tokenstore: minted location token", "subject", locationID, "company", companyID, "version", rec.Version)
	return rec.status(), nil
}

// Status describes the subject's stored record without secrets.
func (m *Manager) Status(ctx context.Context, subject string) (Status, error) {
	if err := validSubject(subject); err != nil {
		return Status{}, fmt.Errorf("subject: %w", err)
	}
	rec, err := m.read(ctx, subject)
	if err != nil {
		return Status{}, err
	}
	st := rec.status()
	if st.Pending, err = m.pendingInstall(ctx, subject); err != nil {
		return Status{}, fmt.Errorf("status %s: pending install: %w", subject, err)
	}
	return st, nil
}

// Delete removes the subject's record (an uninstall) and any pending
// install on every replica: the others drop their cached token when they
// see the delete announced, or the next time they read the store.
func (m *Manager) Delete(ctx context.Context, subject string) error {
	if err := validSubject(subject); err != nil {
		return fmt.Errorf("subject: %w", err)
	}
	sctx, cancel := m.storeCtx(ctx)
	defer cancel()
	if err := m.store.Delete(sctx, subject); err != nil {
		return err
	}
	if p := m.pendingFor(subject); p != nil {
		m.donePending(p)
	}
	m.forget(subject)
	m.log.InfoContext(ctx, "tokenstore: deleted", "subject", subject)
	return nil
}
