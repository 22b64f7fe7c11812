package tokenstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// ErrNoPendingInstall means ConfirmInstall found no install waiting for
// confirmation for the subject (none was held, it expired, or it was
// already confirmed).
var ErrNoPendingInstall = errors.New("tokenstore: no pending install for the subject")

// PendingInstall describes an install held for an admin's confirmation,
// without secrets.
type PendingInstall struct {
	// Scopes the held install would grant.
	Scopes []string
	// CreatedAt is when the install was held.
	CreatedAt time.Time
	// ExpiresAt is when it is forgotten if nobody confirms it.
	ExpiresAt time.Time
}

// narrows reports whether a grant of scopes next lacks a scope of cur.
func narrows(cur, next []string) bool {
	for _, s := range cur {
		if !slices.Contains(next, s) {
			return true
		}
	}
	return false
}

// installUnverified redeems the code of an install whose state proves
// nothing about who started it (a marketplace install arrives without one)
// and stores the grant, unless it would narrow the scopes of the install
// already stored for the subject: anybody can send such a callback, and a
// narrower grant replacing a working install would break every call that
// needs the lost scopes. That grant is held as the subject's pending install
// (encrypted, for PendingInstallTTL) until an admin confirms it with
// ConfirmInstall; held reports that case, and the status is then the
// stored record's, with Pending set.
func (m *Manager) installUnverified(ctx context.Context, code, redirectURI string) (st Status, held bool, err error) {
	rec, err := m.exchange(ctx, code, redirectURI, ExchangeOptions{})
	if err != nil {
		return Status{}, false, err
	}
	sctx, cancel := m.storeCtx(ctx)
	cur, err := m.store.Get(sctx, rec.Subject)
	cancel()
	switch {
	case err == nil && narrows(cur.Scopes, rec.Scopes):
		if rec.InstallID, err = newInstallID(); err != nil {
			return Status{}, false, err
		}
		sctx, cancel := m.storeCtx(ctx)
		err = m.store.PutPending(sctx, rec, m.cfg.PendingInstallTTL)
		cancel()
		if err != nil {
			return Status{}, false, fmt.Errorf("hold install of %s for confirmation: %w", rec.Subject, err)
		}
		m.log.WarnContext(ctx, "tokenstore: install without state would narrow the stored scopes; held for an admin's confirmation",
			"subject", rec.Subject, "stored_scopes", cur.Scopes, "granted_scopes", rec.Scopes, "expires_in", m.cfg.PendingInstallTTL)
		st = cur.status()
		st.Pending = m.pendingStatus(rec)
		return st, true, nil
	case err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrDecrypt):
		// Without the stored record the scopes cannot be compared; the
		// install is not applied blind. (An undecryptable record is
		// unusable anyway and is replaced, as by any install.)
		return Status{}, false, fmt.Errorf("install %s: read the stored record: %w", rec.Subject, err)
	}
	if rec, err = m.put(ctx, rec); err != nil {
		return Status{}, false, fmt.Errorf("exchange code: %w", err)
	}
	m.log.InfoContext(ctx, "tokenstore: installed", "subject", rec.Subject, "user_type", rec.UserType, "company", rec.CompanyID, "version", rec.Version)
	return rec.status(), false, nil
}

func (m *Manager) pendingStatus(rec Record) *PendingInstall {
	return &PendingInstall{
		Scopes:    append([]string(nil), rec.Scopes...),
		CreatedAt: rec.UpdatedAt,
		ExpiresAt: rec.UpdatedAt.Add(m.cfg.PendingInstallTTL),
	}
}

// ConfirmInstall applies the subject's pending install (see
// installUnverified): it replaces the stored record, as any install does,
// and the pending install is removed. Without one it returns
// ErrNoPendingInstall.
func (m *Manager) ConfirmInstall(ctx context.Context, subject string) (Status, error) {
	if err := validSubject(subject); err != nil {
		return Status{}, fmt.Errorf("subject: %w", err)
	}
	sctx, cancel := m.storeCtx(ctx)
	rec, err := m.store.GetPending(sctx, subject)
	cancel()
	if errors.Is(err, ErrNotFound) {
		return Status{}, fmt.Errorf("confirm install of %s: %w", subject, ErrNoPendingInstall)
	}
	if err != nil {
		return Status{}, fmt.Errorf("confirm install of %s: %w", subject, err)
	}
	rec.UpdatedAt = m.now()
	if rec, err = m.put(ctx, rec); err != nil {
		return Status{}, fmt.Errorf("confirm install of %s: %w", subject, err)
	}
	sctx, cancel = m.storeCtx(ctx)
	err = m.store.DeletePending(sctx, subject)
	cancel()
	if err != nil {
		// The install is applied; the leftover expires by itself, and
		// confirming it again would store the same grant again.
		m.log.WarnContext(ctx, "tokenstore: confirmed install; could not remove the pending copy", "subject", subject, "error", err)
	}
	m.log.InfoContext(ctx, "tokenstore: pending install confirmed", "subject", subject, "version", rec.Version)
	return rec.status(), nil
}

// pendingInstall returns the subject's pending install, or nil.
func (m *Manager) pendingInstall(ctx context.Context, subject string) (*PendingInstall, error) {
	sctx, cancel := m.storeCtx(ctx)
	rec, err := m.store.GetPending(sctx, subject)
	cancel()
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return m.pendingStatus(rec), nil
}
