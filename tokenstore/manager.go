package tokenstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Config tunes a Manager. Zero fields take the defaults in DefaultConfig.
type Config struct {
	// ClientID is the app's OAuth client id; its prefix is the quota key
	// (Token.App) of OAuth records.
	ClientID string
	// UserType is sent with the authorization-code exchange ("Location" or
	// "Company"); empty lets upstream pick by the app's distribution.
	UserType string
	// RefreshAhead is how long before expiry the background refresher renews
	// a cached token, so callers almost never wait for a refresh. It is
	// capped at half the token's lifetime.
	RefreshAhead time.Duration
	// ExpirySkew treats a token as expired this long before its expiry, so a
	// request sent now does not reach upstream with a dead token.
	ExpirySkew time.Duration
	// LockTTL bounds how long a crashed replica can hold a subject's refresh
	// lock. It must be well above TokenCallTimeout: a lock that expires while
	// its holder is still waiting for the token endpoint lets a second replica
	// spend the same refresh token.
	LockTTL time.Duration
	// TokenCallTimeout bounds one call to the token endpoint.
	TokenCallTimeout time.Duration
	// WaitPatience is how long a caller waits for another replica's refresh
	// before getting ErrRefreshPending (or its still-valid old token).
	WaitPatience time.Duration
	// PollInterval is how often a waiter re-reads the record when no change
	// announcement arrives (announcements are a hint, polling the guarantee).
	// It is also how long a cached needs_reauth mark answers callers without
	// a store read, in case the announcement that clears it was missed.
	PollInterval time.Duration
	// ScanInterval is how often the background refresher looks at cached tokens.
	ScanInterval time.Duration
	// IdleRelease is how long a subject may go without a Token call before
	// the background refresher forgets its cached token and stops following
	// its changes, so memory and goroutines stay bounded by the subjects in
	// use rather than every subject ever seen. A released subject costs one
	// store read on its next use. Negative keeps every subject.
	IdleRelease time.Duration
	// StoreTimeout bounds one store operation.
	StoreTimeout time.Duration
	// PersistRetryMin and PersistRetryMax bound the backoff between attempts
	// to write a refreshed pair that could not be written at once.
	PersistRetryMin, PersistRetryMax time.Duration
	// CloseTimeout bounds Close's last attempt to write unpersisted pairs.
	CloseTimeout time.Duration
	// PendingInstallTTL is how long an install held for an admin's
	// confirmation (a marketplace install that would narrow the stored
	// scopes) waits before it is forgotten.
	PendingInstallTTL time.Duration
	// Logger receives events (never tokens); nil means slog.Default().
	Logger *slog.Logger
	// Metrics receives counters; nil means none.
	Metrics Metrics
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	return Config{
		RefreshAhead:     10 * time.Minute,
		ExpirySkew:       30 * time.Second,
		LockTTL:          60 * time.Second,
		TokenCallTimeout: 15 * time.Second,
		WaitPatience:     10 * time.Second,
		PollInterval:     250 * time.Millisecond,
		ScanInterval:     30 * time.Second,
		IdleRelease:      time.Hour,
		StoreTimeout:     3 * time.Second,
		PersistRetryMin:  100 * time.Millisecond,
		PersistRetryMax:  10 * time.Second,
		CloseTimeout:     5 * time.Second,

		PendingInstallTTL: 24 * time.Hour,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&c.RefreshAhead, d.RefreshAhead)
	if c.ExpirySkew < 0 {
		c.ExpirySkew = 0
	} else if c.ExpirySkew == 0 {
		c.ExpirySkew = d.ExpirySkew
	}
	set(&c.LockTTL, d.LockTTL)
	set(&c.TokenCallTimeout, d.TokenCallTimeout)
	set(&c.WaitPatience, d.WaitPatience)
	set(&c.PollInterval, d.PollInterval)
	set(&c.ScanInterval, d.ScanInterval)
	if c.IdleRelease == 0 {
		c.IdleRelease = d.IdleRelease
	}
	set(&c.StoreTimeout, d.StoreTimeout)
	set(&c.PersistRetryMin, d.PersistRetryMin)
	set(&c.PersistRetryMax, d.PersistRetryMax)
	set(&c.CloseTimeout, d.CloseTimeout)
	set(&c.PendingInstallTTL, d.PendingInstallTTL)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports settings that would break the refresh protocol.
func (c Config) Validate() error {
	c = c.withDefaults()
	if c.LockTTL < 2*c.TokenCallTimeout+c.StoreTimeout {
		return fmt.Errorf("token lock TTL (%s) must be at least twice the token call timeout (%s) plus the store timeout (%s)", c.LockTTL, c.TokenCallTimeout, c.StoreTimeout)
	}
	if c.UserType != "" && c.UserType != UserTypeLocation && c.UserType != UserTypeCompany {
		return fmt.Errorf("user type %q: want %q or %q", c.UserType, UserTypeLocation, UserTypeCompany)
	}
	return nil
}

// Manager hands out valid access tokens and keeps them fresh. Its hot path,
// Token with a valid cached token, touches no store. Refresh is exactly once
// across replicas:
//
//  1. in process, one refresh per subject at a time (singleflight);
//  2. across replicas, the store's lock with a random owner and a TTL well
//     above the token call's timeout; the holder re-reads the record first
//     (someone may have refreshed already); the others wait for the version
//     to advance (woken by the store's change announcements), then re-read;
//  3. the new pair is written by a fenced commit (lock owner and version);
//     a failed write keeps the pair in memory, serves it and retries;
//  4. invalid_grant: re-read; if the refresh token changed another replica
//     won, else the subject is marked needs_reauth;
//  5. ForceRefresh after an upstream 401 refreshes only if the rejected token
//     is still the stored one.
//
// Refreshes run on the manager's own context, not the caller's: a caller
// that gives up must not abort a refresh whose answer spends a refresh token.
type Manager struct {
	cfg   Config
	store Store
	oauth OAuth
	log   *slog.Logger
	now   func() time.Time

	cache   sync.Map   // subject → *entry
	entryMu sync.Mutex // creates and releases entries, so each has one follower
	sf      singleflight.Group

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	pending   map[string]*pendingWrite
	started   bool
	closed    bool
	closeDone chan struct{}
}

// entry is one cached subject: its newest known record and the follower
// that keeps it in step with the store until the entry is released.
type entry struct {
	rec    atomic.Pointer[Record] // never mutated once stored here
	used   atomic.Int64           // clock (unix ns) of a recent Token call, coarse
	readAt atomic.Int64           // clock (unix ns) when rec was last confirmed by the store
	stop   chan struct{}          // closed when the entry is released
}

// touch records a use; it writes at most once a second so parallel callers
// of one subject do not contend on the line.
func (e *entry) touch(now int64) {
	if now-e.used.Load() > int64(time.Second) {
		e.used.Store(now)
	}
}

// pendingWrite is a refreshed pair that is not yet in the store. Its refresh
// token is the only valid one for the subject.
type pendingWrite struct {
	rec     Record
	owner   string
	spentRT string // the refresh token this pair replaced
}

// NewManager returns a manager over store and oauth. Call Start to run the
// background refresher and Close to stop it.
func NewManager(store Store, oauth OAuth, cfg Config) (*Manager, error) {
	if store == nil {
		return nil, errors.New("tokenstore: store is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("tokenstore config: %w", err)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg: cfg, store: store, oauth: oauth, log: cfg.Logger, now: cfg.Now,
		ctx: ctx, cancel: cancel, pending: make(map[string]*pendingWrite),
		closeDone: make(chan struct{}),
	}, nil
}

// Token returns a valid access token for subject. With a valid token cached
// it costs no store round trip; otherwise it reads the store and refreshes
// when needed. Errors: ErrNotInstalled, ErrReauthRequired, ErrRefreshPending,
// or a wrapped store or upstream error.
func (m *Manager) Token(ctx context.Context, subject string) (Token, error) {
	if v, ok := m.cache.Load(subject); ok {
		e := v.(*entry)
		r := e.rec.Load()
		now := m.now()
		e.touch(now.UnixNano())
		if r.NeedsReauth && now.UnixNano()-e.readAt.Load() < int64(m.cfg.PollInterval) {
			// Sending the rejected token again would only cost another 401
			// and a quota slot; the follower clears this when the subject is
			// installed or imported again.
			return Token{}, fmt.Errorf("token for %s: %w", subject, ErrReauthRequired)
		}
		if !r.NeedsReauth && !r.Expired(now, m.cfg.ExpirySkew) {
			return r.token(), nil
		}
	}
	return m.get(ctx, subject, "", m.needUsable)
}

// ForceRefresh is called after upstream answered 401 to rejectedAccessToken.
// It refreshes only if the rejected token is still the stored one (otherwise
// another replica already replaced it and the stored token is returned), so
// a burst of 401s on many replicas still spends the refresh token once.
//
// A rejected token that cannot be refreshed (a Private Integration Token)
// marks the record needs_reauth in the store, so that no replica sends it
// again until a new one is imported; the error wraps both
// ErrReauthRequired and ErrNotRefreshable.
func (m *Manager) ForceRefresh(ctx context.Context, subject, rejectedAccessToken string) (Token, error) {
	if rejectedAccessToken == "" {
		return Token{}, errors.New("force refresh: rejected access token is empty")
	}
	need := func(r *Record) bool { return r.AccessToken == rejectedAccessToken || m.needUsable(r) }
	return m.get(ctx, subject, rejectedAccessToken, need)
}

func (m *Manager) needUsable(r *Record) bool { return r.Expired(m.now(), m.cfg.ExpirySkew) }

// needAhead is the background refresher's test: within RefreshAhead of
// expiry, capped at half the token's lifetime so short-lived tokens are not
// refreshed in a loop.
func (m *Manager) needAhead(r *Record) bool {
	if r.Expiry.IsZero() || r.Kind == KindPIT {
		return false
	}
	ahead := m.cfg.RefreshAhead
	if life := r.Expiry.Sub(r.UpdatedAt); life > 0 && ahead > life/2 {
		ahead = life / 2
	}
	return !m.now().Add(ahead).Before(r.Expiry)
}

// get runs the shared flight for subject and waits for it or the caller's
// context. rejected, the access token upstream refused (ForceRefresh),
// separates flights whose need a joiner cannot satisfy.
func (m *Manager) get(ctx context.Context, subject, rejected string, need func(*Record) bool) (Token, error) {
	if err := validSubject(subject); err != nil {
		return Token{}, fmt.Errorf("subject: %w", err)
	}
	flightKey := ""
	if rejected != "" {
		flightKey = "\x00force\x00" + rejected
	}
	for attempt := 0; attempt < 3; attempt++ {
		ch := m.sf.DoChan(subject+flightKey, func() (any, error) {
			if !m.track() {
				return nil, ErrClosed
			}
			defer m.wg.Done()
			return m.sync(m.ctx, subject, need, rejected)
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return Token{}, fmt.Errorf("token for %s: %w", subject, ctx.Err())
		}
		if res.Err != nil {
			return Token{}, res.Err
		}
		rec := res.Val.(*Record)
		if !rec.Expired(m.now(), m.cfg.ExpirySkew) && (flightKey == "" || !need(rec)) {
			return rec.token(), nil
		}
		if flightKey != "" {
			// The rejected token is still the newest one and another
			// replica holds the lock: let the caller retry shortly.
			break
		}
	}
	return Token{}, fmt.Errorf("token for %s: %w", subject, ErrRefreshPending)
}

// track registers work that Close must wait for; false once Close started.
func (m *Manager) track() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	return true
}

func (m *Manager) storeCtx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, m.cfg.StoreTimeout)
}

func (m *Manager) cached(subject string) *Record {
	if v, ok := m.cache.Load(subject); ok {
		return v.(*entry).rec.Load()
	}
	return nil
}

// entryFor returns subject's cache entry, creating it (with its follower)
// when there is none. A new entry holds rec.
func (m *Manager) entryFor(rec *Record) (*entry, bool) {
	if v, ok := m.cache.Load(rec.Subject); ok {
		return v.(*entry), false
	}
	m.entryMu.Lock()
	defer m.entryMu.Unlock()
	if v, ok := m.cache.Load(rec.Subject); ok {
		return v.(*entry), false
	}
	now := m.now().UnixNano()
	e := &entry{stop: make(chan struct{})}
	e.rec.Store(rec)
	e.used.Store(now)
	e.readAt.Store(now)
	m.cache.Store(rec.Subject, e)
	m.follow(rec.Subject, e)
	return e, true
}

// release forgets subject's entry e and stops its follower, unless the
// entry was replaced meanwhile. The next use reads the store again.
func (m *Manager) release(subject string, e *entry) {
	m.entryMu.Lock()
	defer m.entryMu.Unlock()
	if m.cache.CompareAndDelete(subject, e) {
		close(e.stop)
	}
}

// forget releases whatever entry subject has (the subject is gone).
func (m *Manager) forget(subject string) {
	if v, ok := m.cache.Load(subject); ok {
		m.release(subject, v.(*entry))
	}
}

// remember caches rec unless the cache already holds a newer record (two
// flights of one subject can finish out of order), and returns what the
// cache holds.
func (m *Manager) remember(rec Record) *Record {
	r := cloneRecord(rec)
	for {
		e, created := m.entryFor(&r)
		if created {
			return &r
		}
		old := e.rec.Load()
		if newer(old, &r) {
			return old
		}
		if e.rec.CompareAndSwap(old, &r) {
			e.readAt.Store(m.now().UnixNano())
			return &r
		}
	}
}

// newer reports whether a is newer than b: by version within one install;
// across installs (a delete and a new install start again at version 1)
// by write time. Records without install ids (written before there were
// any) are compared by version unless the lower one was written later.
func newer(a, b *Record) bool {
	switch {
	case a.InstallID != "" && a.InstallID == b.InstallID:
		return a.Version > b.Version
	case a.InstallID != b.InstallID:
		return a.UpdatedAt.After(b.UpdatedAt)
	default:
		return a.Version > b.Version && !b.UpdatedAt.After(a.UpdatedAt)
	}
}

// adopt caches rec, the store's current record, even over a cached record
// of another install that looks newer (its version or clock may be ahead).
func (m *Manager) adopt(rec Record) {
	r := cloneRecord(rec)
	if e, created := m.entryFor(&r); !created {
		e.rec.Store(&r)
		e.readAt.Store(m.now().UnixNano())
	}
}

// follow keeps the cached record of subject in step with the store: when
// any replica writes it (a refresh, a needs_reauth mark, a reinstall), the
// store announces the change and this process reads the new record at
// once. Without it a replica would keep serving an access token from memory
// until HighLevel refused it, and every call it sent meanwhile would cost a
// 401 and a quota slot. One goroutine per cached subject, until the entry
// is released (the subject was deleted, here or on another replica, or
// went idle) or Close. Called with entryMu held.
func (m *Manager) follow(subject string, e *entry) {
	if !m.track() {
		return
	}
	changed, stop := m.store.Watch(subject)
	go func() {
		defer m.wg.Done()
		defer stop()
		for {
			select {
			case <-m.ctx.Done():
				return
			case <-e.stop:
				return
			case <-changed:
				rec, err := m.read(m.ctx, subject)
				switch {
				case err == nil:
					m.remember(rec)
				case errors.Is(err, ErrNotInstalled):
					m.release(subject, e)
					return
				default:
					// The cached record stays; a later change, the expiry
					// or HighLevel's 401 brings the next read.
					m.log.Debug("tokenstore: follow a change", "subject", subject, "error", err)
				}
			}
		}
	}()
}

// releaseIdle releases the subjects no caller asked for within IdleRelease.
// A subject with a pair still waiting to be stored is kept: its follower is
// what tells it a newer install replaced that pair.
func (m *Manager) releaseIdle() {
	if m.cfg.IdleRelease < 0 {
		return
	}
	cutoff := m.now().Add(-m.cfg.IdleRelease).UnixNano()
	m.cache.Range(func(k, v any) bool {
		subject, e := k.(string), v.(*entry)
		if e.used.Load() < cutoff && m.pendingFor(subject) == nil {
			m.release(subject, e)
		}
		return true
	})
}

func (m *Manager) pendingFor(subject string) *pendingWrite {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pending[subject]
}

// read returns the store's record, overlaid by this process's unpersisted
// pair when that is newer.
func (m *Manager) read(ctx context.Context, subject string) (Record, error) {
	sctx, cancel := m.storeCtx(ctx)
	rec, err := m.store.Get(sctx, subject)
	cancel()
	// Until our pair is stored, the store holds either the refresh token we
	// spent or a needs_reauth mark set by a replica that tried it: ours wins.
	// Not over another install, though (a reinstall after a delete starts
	// at version 1 again), nor over a deleted subject: the pair belongs to
	// an install that no longer exists.
	if p := m.pendingFor(subject); p != nil && pendingWins(p, rec, err) {
		return cloneRecord(p.rec), nil
	}
	if errors.Is(err, ErrNotFound) {
		return Record{}, fmt.Errorf("token for %s: %w", subject, ErrNotInstalled)
	}
	return rec, err
}

// pendingWins reports whether this process's unpersisted pair p is newer
// than what the store answered (rec, err).
func pendingWins(p *pendingWrite, rec Record, err error) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		return false
	case err != nil:
		return true // the store cannot say; our pair is the newest we know
	case rec.InstallID != p.rec.InstallID:
		return false
	default:
		return p.rec.Version > rec.Version || rec.RefreshToken == p.spentRT
	}
}

// sync brings subject's record to one that does not need(), refreshing under
// the cross-replica lock when needed. It runs once per subject at a time.
// rejected is the access token upstream refused, if any.
func (m *Manager) sync(ctx context.Context, subject string, need func(*Record) bool, rejected string) (*Record, error) {
	changed, stop := m.store.Watch(subject)
	defer stop()
	waitUntil := m.now().Add(m.cfg.WaitPatience)
	for {
		rec, err := m.read(ctx, subject)
		if errors.Is(err, ErrNotInstalled) {
			m.forget(subject)
			return nil, err
		}
		if err != nil {
			// The store is unreachable: a token in memory keeps serving until
			// it expires.
			if c := m.cached(subject); c != nil && !c.NeedsReauth && !c.Expired(m.now(), m.cfg.ExpirySkew) && !need(c) {
				m.log.WarnContext(ctx, "tokenstore: store unreachable, serving cached token", "subject", subject, "error", err)
				return c, nil
			}
			return nil, fmt.Errorf("token for %s: %w", subject, err)
		}
		cur := m.remember(rec)
		rec = *cur
		if rec.NeedsReauth {
			return nil, fmt.Errorf("token for %s: %w", subject, ErrReauthRequired)
		}
		if !need(cur) {
			return cur, nil
		}
		if !m.renewable(&rec) {
			if rejected != "" && rec.AccessToken == rejected {
				done, err := m.markRejected(ctx, rec)
				if !done {
					continue // the record changed meanwhile: look again
				}
				return nil, err
			}
			return nil, fmt.Errorf("token for %s (%s): %w", subject, rec.Kind, ErrNotRefreshable)
		}
		if p := m.pendingFor(subject); p != nil {
			// Our newest pair is not in the store yet. Refreshing now would
			// chain a second unpersisted pair; write the first one instead.
			if err := m.flush(ctx, p); err != nil {
				if !rec.Expired(m.now(), m.cfg.ExpirySkew) {
					return cur, nil
				}
				return nil, fmt.Errorf("token for %s: refreshed pair not yet stored: %w", subject, err)
			}
			continue
		}
		owner, err := newOwner()
		if err != nil {
			return nil, err
		}
		sctx, cancel := m.storeCtx(ctx)
		got, err := m.store.Lock(sctx, subject, owner, m.cfg.LockTTL)
		cancel()
		if err != nil {
			m.cfg.Metrics.RefreshOutcome(OutcomeError)
			return nil, fmt.Errorf("token for %s: %w", subject, err)
		}
		if got {
			return m.refreshHolding(ctx, subject, owner, need)
		}
		// Another replica is refreshing: wait for its write (or for its lock
		// to go), then read again.
		if !m.now().Before(waitUntil) {
			m.cfg.Metrics.RefreshOutcome(OutcomeWaitTimeout)
			if !rec.Expired(m.now(), m.cfg.ExpirySkew) {
				return cur, nil
			}
			return nil, fmt.Errorf("token for %s: %w", subject, ErrRefreshPending)
		}
		t := time.NewTimer(min(m.cfg.PollInterval, waitUntil.Sub(m.now())+time.Millisecond))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("token for %s: %w", subject, ctx.Err())
		}
		t.Stop()
	}
}

// markRejected records that upstream refused rec's access token, which
// cannot be refreshed: the record is stored again as needs_reauth (fenced
// by its version, so a token imported meanwhile is never marked), and every
// replica then answers ErrReauthRequired instead of sending it again. done
// is false when the record changed since it was read.
func (m *Manager) markRejected(ctx context.Context, rec Record) (done bool, err error) {
	bad := cloneRecord(rec)
	bad.NeedsReauth = true
	bad.Version = rec.Version + 1
	bad.UpdatedAt = m.now()
	sctx, cancel := m.storeCtx(context.WithoutCancel(ctx))
	werr := m.store.Commit(sctx, bad, "", false)
	cancel()
	if errors.Is(werr, ErrConflict) {
		return false, nil
	}
	// Even when the mark cannot be stored, this replica stops sending the
	// token; the next replica to be refused marks it.
	m.remember(bad)
	if werr != nil {
		m.log.ErrorContext(ctx, "tokenstore: token rejected by HighLevel; could not mark subject needs_reauth",
			"subject", rec.Subject, "kind", rec.Kind, "error", werr)
		return true, fmt.Errorf("token for %s (%s) rejected by HighLevel: %w: %w (marking needs_reauth failed: %v)",
			rec.Subject, rec.Kind, ErrReauthRequired, ErrNotRefreshable, werr)
	}
	m.log.ErrorContext(ctx, "tokenstore: token rejected by HighLevel and cannot be refreshed; subject needs a new token",
		"subject", rec.Subject, "kind", rec.Kind, "version", bad.Version)
	return true, fmt.Errorf("token for %s (%s) rejected by HighLevel: %w: %w", rec.Subject, rec.Kind, ErrReauthRequired, ErrNotRefreshable)
}

func (m *Manager) renewable(r *Record) bool {
	switch r.Kind {
	case KindPIT:
		return false
	case KindLocationToken:
		return r.RefreshToken != "" || r.CompanyID != ""
	default:
		return r.RefreshToken != ""
	}
}

// refreshHolding runs with the subject's lock held by owner.
func (m *Manager) refreshHolding(ctx context.Context, subject, owner string, need func(*Record) bool) (*Record, error) {
	unlock := func() {
		// Release with a fresh context: a lock left behind blocks every
		// replica for LockTTL.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.StoreTimeout)
		defer cancel()
		if err := m.store.Unlock(uctx, subject, owner); err != nil {
			m.log.WarnContext(ctx, "tokenstore: release refresh lock", "subject", subject, "error", err)
		}
	}
	// Re-read under the lock: another replica may have refreshed between our
	// read and our lock.
	rec, err := m.read(ctx, subject)
	if err != nil {
		unlock()
		if errors.Is(err, ErrNotInstalled) {
			m.forget(subject)
		}
		return nil, err
	}
	if rec.NeedsReauth {
		unlock()
		m.remember(rec)
		return nil, fmt.Errorf("token for %s: %w", subject, ErrReauthRequired)
	}
	if !need(&rec) {
		unlock()
		m.cfg.Metrics.RefreshOutcome(OutcomeAdopted)
		return m.remember(rec), nil
	}

	grant, err := m.renew(ctx, &rec)
	if errors.Is(err, ErrInvalidGrant) {
		return m.invalidGrant(ctx, rec, owner, unlock)
	}
	if err != nil {
		unlock()
		m.cfg.Metrics.RefreshOutcome(OutcomeError)
		m.log.WarnContext(ctx, "tokenstore: refresh failed", "subject", subject, "kind", rec.Kind, "error", err)
		return nil, fmt.Errorf("refresh %s: %w", subject, err)
	}

	next := m.recordFromGrant(grant, rec.Kind, subject)
	next.Version = rec.Version + 1
	if next.CompanyID == "" {
		next.CompanyID = rec.CompanyID
	}
	if next.LocationID == "" {
		next.LocationID = rec.LocationID
	}
	if next.UserType == "" {
		next.UserType = rec.UserType
	}
	if len(next.Scopes) == 0 {
		next.Scopes = rec.Scopes
	}
	if next.App == "" {
		next.App = rec.App
	}
	next.InstallID = rec.InstallID
	m.cfg.Metrics.RefreshOutcome(OutcomeRefreshed)
	// From here the new refresh token is the only valid one: serve the pair
	// from memory at once and never drop it while it may still be written.
	served := m.remember(next)
	sctx, cancel := m.storeCtx(context.WithoutCancel(ctx))
	err = m.store.Commit(sctx, next, owner, true)
	cancel()
	if err == nil {
		m.log.InfoContext(ctx, "tokenstore: refreshed", "subject", subject, "version", next.Version, "expires_at", next.Expiry)
		return served, nil
	}
	p := &pendingWrite{rec: next, owner: owner, spentRT: rec.RefreshToken}
	if errors.Is(err, ErrConflict) {
		// Our lock expired or a newer record appeared; settle which pair wins.
		if rerr := m.flush(ctx, p); rerr == nil {
			return m.cachedOr(served, subject), nil
		}
	}
	m.cfg.Metrics.PersistFailed()
	m.log.ErrorContext(ctx, "tokenstore: refreshed pair not stored; keeping it in memory and retrying",
		"subject", subject, "version", next.Version, "error", err)
	m.addPending(p)
	return served, nil
}

func (m *Manager) cachedOr(def *Record, subject string) *Record {
	if c := m.cached(subject); c != nil {
		return c
	}
	return def
}

// invalidGrant handles upstream rejecting the refresh token we hold the lock
// for. If the stored refresh token changed meanwhile, another replica won and
// its pair is used; otherwise the token is dead and the subject is marked
// needs_reauth, loudly, so that it is never retried in a loop.
func (m *Manager) invalidGrant(ctx context.Context, rec Record, owner string, unlock func()) (*Record, error) {
	cur, err := m.read(ctx, rec.Subject)
	if err != nil {
		unlock()
		m.cfg.Metrics.RefreshOutcome(OutcomeError)
		return nil, fmt.Errorf("refresh %s: upstream answered invalid_grant and the record cannot be re-read: %w", rec.Subject, err)
	}
	if cur.Version != rec.Version && cur.RefreshToken != rec.RefreshToken && !cur.NeedsReauth {
		unlock()
		m.cfg.Metrics.RefreshOutcome(OutcomeAdopted)
		return m.remember(cur), nil
	}
	m.cfg.Metrics.RefreshOutcome(OutcomeInvalidGrant)
	bad := cloneRecord(rec)
	bad.NeedsReauth = true
	bad.Version = rec.Version + 1
	bad.UpdatedAt = m.now()
	sctx, cancel := m.storeCtx(context.WithoutCancel(ctx))
	werr := m.store.Commit(sctx, bad, owner, true)
	cancel()
	if werr != nil {
		unlock()
		m.log.ErrorContext(ctx, "tokenstore: refresh token rejected; could not mark subject needs_reauth",
			"subject", rec.Subject, "error", werr)
		return nil, fmt.Errorf("refresh %s: %w (marking needs_reauth failed: %v)", rec.Subject, ErrReauthRequired, werr)
	}
	m.remember(bad)
	m.log.ErrorContext(ctx, "tokenstore: refresh token rejected (invalid_grant); subject needs re-authorization",
		"subject", rec.Subject, "version", bad.Version)
	return nil, fmt.Errorf("refresh %s: %w", rec.Subject, ErrReauthRequired)
}

// renew calls the token endpoint for rec, with the token-call timeout and
// detached from any caller.
func (m *Manager) renew(ctx context.Context, rec *Record) (Grant, error) {
	if m.oauth == nil {
		return Grant{}, errors.New("no OAuth client configured")
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.cfg.TokenCallTimeout)
	defer cancel()
	if rec.RefreshToken == "" && rec.Kind == KindLocationToken {
		agency, err := m.Token(cctx, rec.CompanyID)
		if err != nil {
			return Grant{}, fmt.Errorf("agency token for company %s: %w", rec.CompanyID, err)
		}
		return m.oauth.LocationToken(cctx, agency.AccessToken, rec.CompanyID, rec.Subject)
	}
	userType := rec.UserType
	return m.oauth.Refresh(cctx, rec.RefreshToken, userType)
}

// flush tries once to store a pending pair, settling conflicts:
//   - nobody wrote since we read: write it (even if our lock expired, our
//     pair descends from the stored refresh token, which we spent);
//   - the stored refresh token is still the one we spent (a replica that
//     tried it got invalid_grant and marked needs_reauth): our pair is its
//     valid successor and replaces it, clearing needs_reauth;
//   - anything else is a newer record (an install or import): ours is
//     obsolete and dropped, with a log line and a metric.
//
// The first two cases hold only within one install: a record of another
// install (a reinstall after a delete, whose versions start again at 1) or
// no record at all (the subject was deleted) always wins, since the pair
// descends from a refresh token that no longer belongs to anything stored.
func (m *Manager) flush(ctx context.Context, p *pendingWrite) error {
	subject := p.rec.Subject
	sctx, cancel := m.storeCtx(context.WithoutCancel(ctx))
	defer cancel()
	cur, err := m.store.Get(sctx, subject)
	switch {
	case errors.Is(err, ErrNotFound):
		cur = Record{}
	case err != nil:
		return err
	}
	rec := cloneRecord(p.rec)
	sameInstall := cur.Version != 0 && cur.InstallID == rec.InstallID
	switch {
	case sameInstall && cur.Version == rec.Version-1:
	case sameInstall && cur.Version >= rec.Version && cur.RefreshToken == rec.RefreshToken:
		// The cache holds the stored record before the pair stops being
		// pending: whoever sees it settled reads what won.
		m.remember(cur)
		m.donePending(p)
		return nil
	case sameInstall && cur.RefreshToken == p.spentRT:
		rec.Version = cur.Version + 1
		rec.NeedsReauth = false
	default:
		if cur.Version != 0 {
			m.adopt(cur)
		} else {
			m.forget(subject)
		}
		m.donePending(p)
		m.cfg.Metrics.PairDropped(DropSuperseded)
		m.log.WarnContext(ctx, "tokenstore: refreshed pair superseded by a newer record or install; dropping it",
			"subject", subject, "stored_version", cur.Version, "same_install", sameInstall)
		// The refresh lock we took for this pair may still be ours: free it
		// so that the record that won can be refreshed without waiting for
		// the lock's TTL. Unlock releases only a lock we own.
		if err := m.store.Unlock(sctx, subject, p.owner); err != nil {
			m.log.WarnContext(ctx, "tokenstore: release refresh lock", "subject", subject, "error", err)
		}
		return nil
	}
	if err := m.store.Commit(sctx, rec, p.owner, false); err != nil {
		return err
	}
	m.remember(rec)
	m.donePending(p)
	m.log.InfoContext(ctx, "tokenstore: refreshed pair stored after retry", "subject", subject, "version", rec.Version,
		"cleared_needs_reauth", cur.NeedsReauth)
	return nil
}

func (m *Manager) addPending(p *pendingWrite) {
	m.mu.Lock()
	m.pending[p.rec.Subject] = p
	n := len(m.pending)
	closed := m.closed
	if !closed {
		m.wg.Add(1)
	}
	m.mu.Unlock()
	m.cfg.Metrics.Unpersisted(n)
	if !closed {
		go m.retryPending(p)
	}
}

func (m *Manager) donePending(p *pendingWrite) {
	m.mu.Lock()
	if m.pending[p.rec.Subject] == p {
		delete(m.pending, p.rec.Subject)
	}
	n := len(m.pending)
	m.mu.Unlock()
	m.cfg.Metrics.Unpersisted(n)
}

func (m *Manager) retryPending(p *pendingWrite) {
	defer m.wg.Done()
	wait := m.cfg.PersistRetryMin
	for {
		t := time.NewTimer(wait)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return // Close makes the last attempt
		case <-t.C:
		}
		if m.pendingFor(p.rec.Subject) != p {
			return
		}
		err := m.flush(m.ctx, p)
		if err == nil {
			return
		}
		m.cfg.Metrics.PersistFailed()
		m.log.WarnContext(m.ctx, "tokenstore: retry storing refreshed pair", "subject", p.rec.Subject, "error", err)
		wait = min(wait*2, m.cfg.PersistRetryMax)
	}
}

func (m *Manager) recordFromGrant(g Grant, kind Kind, subject string) Record {
	now := m.now()
	rec := Record{
		Subject: subject, Kind: kind, AccessToken: g.AccessToken, RefreshToken: g.RefreshToken,
		Scopes: append([]string(nil), g.Scopes...), UserType: g.UserType,
		CompanyID: g.CompanyID, LocationID: g.LocationID, UserID: g.UserID,
		App: AppID(m.cfg.ClientID), UpdatedAt: now,
	}
	if g.ExpiresIn > 0 {
		rec.Expiry = now.Add(g.ExpiresIn)
	}
	return rec
}

func newOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("lock owner: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Start runs the background refresher until Close. It renews cached tokens
// RefreshAhead before they expire, so callers almost never wait.
func (m *Manager) Start() {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(m.cfg.ScanInterval)
		defer t.Stop()
		for {
			select {
			case <-m.ctx.Done():
				return
			case <-t.C:
				m.scan()
			}
		}
	}()
}

func (m *Manager) scan() {
	m.releaseIdle()
	m.cache.Range(func(k, v any) bool {
		subject, rec := k.(string), v.(*entry).rec.Load()
		if rec.NeedsReauth || !m.needAhead(rec) {
			return true
		}
		// Same flight key as Token: a caller arriving during a background
		// refresh joins it instead of racing it for the lock.
		ch := m.sf.DoChan(subject, func() (any, error) {
			if !m.track() {
				return nil, ErrClosed
			}
			defer m.wg.Done()
			return m.sync(m.ctx, subject, m.needAhead, "")
		})
		go func() {
			if res := <-ch; res.Err != nil && !errors.Is(res.Err, ErrClosed) && !errors.Is(res.Err, context.Canceled) {
				m.log.WarnContext(m.ctx, "tokenstore: background refresh", "subject", subject, "error", res.Err)
			}
		}()
		return true
	})
}

// Close stops the background refresher and waits for refreshes in flight,
// then makes a last attempt to store any refreshed pair that is still only
// in memory. A pair that cannot be stored is reported (log and metric): its
// subject will be marked needs_reauth by the next replica that refreshes.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		<-m.closeDone
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	defer close(m.closeDone)
	m.cancel()
	m.wg.Wait()

	m.mu.Lock()
	left := make([]*pendingWrite, 0, len(m.pending))
	for _, p := range m.pending {
		left = append(left, p)
	}
	m.mu.Unlock()
	var errs []error
	for _, p := range left {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.CloseTimeout)
		err := m.flush(ctx, p)
		cancel()
		if err != nil {
			m.cfg.Metrics.PairDropped(DropShutdown)
			m.log.Error("tokenstore: refreshed pair lost at shutdown; subject will need re-authorization",
				"subject", p.rec.Subject, "version", p.rec.Version, "error", err)
			errs = append(errs, fmt.Errorf("store refreshed pair for %s: %w", p.rec.Subject, err))
			m.donePending(p)
		}
	}
	return errors.Join(errs...)
}
