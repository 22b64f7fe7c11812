package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hlgate/hlgate/tokenstore"
)

// An INSTALL event records an install (AppInstall.md): a location install
// names its locationId, an agency or bulk install only its companyId.
//
// What is recorded is a token hlgate can call the location with. A location
// install normally has one already (its code exchange stored it); an agency
// or bulk install has only the company's agency token, which carries no
// locations (reference facts §11, row 3), so the locations the app is
// installed on are listed (GET /oauth/installedLocations) and a location
// token minted for each that has none (POST /oauth/locationToken).
//
// The event can race the code exchange: HighLevel may post INSTALL before
// the browser's callback has stored the token it needs. Such an install is
// not lost. The receiver stores the event first (as every event), answers
// 2xx, and the install worker (RunInstalls) retries it: it reads INSTALL
// events on its own subscription, InstallSubscription, and acknowledges one
// only once its tokens are recorded, so an install whose token has not
// landed yet comes back after the subscription's ack deadline, on whichever
// replica reads it, until it succeeds or is older than the worker's give-up
// age. Because the event stream is the only record of the pending install,
// it is as durable as every other event and needs no store of its own.
//
// A failure to mint once the needed token is there (upstream refused or was
// unreachable) is answered 429, so HighLevel resends the event, as for an
// UNINSTALL whose token could not be deleted.

// ErrInstallPending: the token an install needs (the location's, or the
// company's agency token) is not stored yet; the install worker retries.
var ErrInstallPending = errors.New("webhooks: the install's token is not stored yet")

// Installer records the install an INSTALL event names. It returns
// ErrInstallPending when it cannot yet (see above), and must be idempotent:
// an install recorded before is recorded again at no cost but a status read
// (and, for an agency install, the listing).
type Installer interface {
	Install(ctx context.Context, companyID, locationID string) error
}

// InstallTokens is what TokenInstaller needs of the token manager;
// *tokenstore.Manager provides it.
type InstallTokens interface {
	Status(ctx context.Context, subject string) (tokenstore.Status, error)
	InstalledLocations(ctx context.Context, companyID string) ([]string, error)
	MintLocationToken(ctx context.Context, companyID, locationID string) (tokenstore.Status, error)
}

// TokenInstaller is the Installer over the token manager.
type TokenInstaller struct {
	Tokens InstallTokens
	Logger *slog.Logger
}

var _ Installer = (*TokenInstaller)(nil)

// Install implements Installer.
func (ti *TokenInstaller) Install(ctx context.Context, companyID, locationID string) error {
	log := ti.Logger
	if log == nil {
		log = slog.Default()
	}
	if locationID != "" {
		if _, err := ti.Tokens.Status(ctx, locationID); err == nil {
			return nil // the code exchange (or an earlier mint) recorded it
		} else if !notInstalled(err) {
			return fmt.Errorf("install of %s: %w", locationID, err)
		}
		// No token for the location: an agency token of its company can
		// mint one; without it, the location's own exchange has not landed.
		ok, err := ti.agency(ctx, companyID)
		if err != nil || !ok {
			return err
		}
		if _, err := ti.Tokens.MintLocationToken(ctx, companyID, locationID); err != nil {
			return fmt.Errorf("install of %s: %w", locationID, err)
		}
		log.InfoContext(ctx, "webhooks: INSTALL minted the location's token", "location", locationID, "company", companyID)
		return nil
	}
	if companyID == "" {
		return errors.New("install names neither a location nor a company")
	}
	ok, err := ti.agency(ctx, companyID)
	if err != nil || !ok {
		return err
	}
	locs, err := ti.Tokens.InstalledLocations(ctx, companyID)
	if err != nil {
		return fmt.Errorf("install of company %s: %w", companyID, err)
	}
	var errs []error
	minted := 0
	for _, loc := range locs {
		if _, err := ti.Tokens.Status(ctx, loc); err == nil {
			continue
		} else if !notInstalled(err) {
			errs = append(errs, fmt.Errorf("location %s: %w", loc, err))
			continue
		}
		if _, err := ti.Tokens.MintLocationToken(ctx, companyID, loc); err != nil {
			errs = append(errs, fmt.Errorf("location %s: %w", loc, err))
			continue
		}
		minted++
	}
	log.InfoContext(ctx, "webhooks: INSTALL of an agency", "company", companyID, "installed_locations", len(locs), "minted", minted, "failed", len(errs))
	if len(errs) > 0 {
		return fmt.Errorf("install of company %s: %d of %d locations not minted: %w", companyID, len(errs), len(locs), errors.Join(errs...))
	}
	return nil
}

// agency reports whether the company's agency token is stored: false with
// ErrInstallPending when nothing is, an error when something else is.
func (ti *TokenInstaller) agency(ctx context.Context, companyID string) (bool, error) {
	if companyID == "" {
		return false, ErrInstallPending
	}
	st, err := ti.Tokens.Status(ctx, companyID)
	switch {
	case notInstalled(err):
		return false, ErrInstallPending
	case err != nil:
		return false, fmt.Errorf("install: company %s: %w", companyID, err)
	case st.UserType != tokenstore.UserTypeCompany:
		return false, fmt.Errorf("install: the token of %s is a %s token, not an agency token", companyID, st.UserType)
	}
	return true, nil
}

func notInstalled(err error) bool {
	return errors.Is(err, tokenstore.ErrNotInstalled) || errors.Is(err, tokenstore.ErrNotFound)
}

// InstallSubscription is the install worker's subscription. Names starting
// with "hlgate." are reserved for hlgate's own: EventsService refuses them.
const InstallSubscription = "hlgate.installs"

// ReservedSubscriptionPrefix starts the names of hlgate's own subscriptions.
const ReservedSubscriptionPrefix = "hlgate."

// Defaults of InstallWorkerConfig.
const (
	DefaultInstallRetry  = 15 * time.Second
	DefaultInstallGiveUp = 24 * time.Hour
)

// InstallWorkerConfig tunes RunInstalls.
type InstallWorkerConfig struct {
	// Retry is how long an install that could not be recorded waits before
	// it is tried again (the subscription's ack deadline).
	Retry time.Duration
	// GiveUp: an install still pending this long after it was received is
	// dropped (acknowledged, logged at error level and counted); an admin
	// can still mint its tokens (TokensService.MintLocationToken).
	GiveUp time.Duration
	// Now is the clock; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
	// Metrics; the receiver's, or unregistered ones when nil.
	Metrics *Metrics
}

// RunInstalls records the installs of the app's INSTALL events until ctx
// ends or d is closed (see the comment at the top of this file). Every
// replica may run it: the subscription hands each event to one of them.
func RunInstalls(ctx context.Context, d *Delivery, inst Installer, cfg InstallWorkerConfig) error {
	setDefault(&cfg.Retry, DefaultInstallRetry)
	setDefault(&cfg.GiveUp, DefaultInstallGiveUp)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	log, m := cfg.Logger, cfg.Metrics
	def := Definition{Types: []string{TypeInstall}, AllLocations: true, AckDeadline: cfg.Retry.Truncate(time.Millisecond)}
	var sub *Subscriber
	for sub == nil {
		s, err := d.Subscribe(ctx, InstallSubscription, def)
		switch {
		case err == nil:
			sub = s
		case errors.Is(err, ErrUnavailable):
			log.WarnContext(ctx, "webhooks: install worker cannot subscribe yet", "err", err)
			if !sleep(ctx, d, time.Second) {
				return ctx.Err()
			}
		default:
			return fmt.Errorf("install worker: %w", err)
		}
	}
	defer sub.Close()
	for {
		evs, err := sub.Next(ctx)
		switch {
		case errors.Is(err, ErrClosed), ctx.Err() != nil:
			return nil
		case err != nil:
			log.WarnContext(ctx, "webhooks: install worker cannot read events", "err", err)
			if !sleep(ctx, d, time.Second) {
				return nil
			}
			continue
		}
		var done []string
		for _, ev := range evs {
			err := inst.Install(ctx, ev.CompanyID, ev.LocationID)
			age := cfg.Now().Sub(ev.ReceiveTime)
			switch {
			case err == nil:
				m.installs.WithLabelValues(installOK).Inc()
				done = append(done, ev.ID)
			case age > cfg.GiveUp:
				m.installs.WithLabelValues(installGaveUp).Inc()
				log.ErrorContext(ctx, "webhooks: INSTALL given up: its token never became usable; mint the location tokens with TokensService.MintLocationToken",
					"webhook_id", ev.WebhookID, "location", ev.LocationID, "company", ev.CompanyID, "age", age.Round(time.Second), "err", err)
				done = append(done, ev.ID)
			default:
				// Left unacknowledged: the subscription hands it out again
				// after its deadline.
				m.installs.WithLabelValues(installRetry).Inc()
				log.InfoContext(ctx, "webhooks: INSTALL not recorded yet; retried later",
					"webhook_id", ev.WebhookID, "location", ev.LocationID, "company", ev.CompanyID, "retry_in", cfg.Retry, "err", err)
			}
		}
		if len(done) > 0 {
			if err := d.Ack(ctx, InstallSubscription, done); err != nil && ctx.Err() == nil {
				// Unacknowledged, they are tried again: installs are idempotent.
				log.WarnContext(ctx, "webhooks: install worker cannot acknowledge", "err", err)
			}
		}
	}
}

func sleep(ctx context.Context, d *Delivery, t time.Duration) bool {
	tm := time.NewTimer(t)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-d.done:
		return false
	case <-tm.C:
		return true
	}
}

// Results of an install, the label of hlgate_webhooks_installs_total.
const (
	installOK      = "ok"
	installPending = "pending"
	installError   = "error"
	installRetry   = "retry"
	installGaveUp  = "gave_up"
)
