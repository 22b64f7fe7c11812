package webhooks

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/testwait"
	"github.com/hlgate/hlgate/tokenstore"
)

// fakeInstallTokens holds which subjects have a token, and records mints.
type fakeInstallTokens struct {
	mu        sync.Mutex
	have      map[string]string // subject → user type
	installed []string          // the agency's installed locations
	mintErr   error
	minted    []string
}

func (f *fakeInstallTokens) Status(_ context.Context, subject string) (tokenstore.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ut, ok := f.have[subject]
	if !ok {
		return tokenstore.Status{}, tokenstore.ErrNotInstalled
	}
	return tokenstore.Status{Subject: subject, UserType: ut}, nil
}

func (f *fakeInstallTokens) InstalledLocations(context.Context, string) ([]string, error) {
	return f.installed, nil
}

func (f *fakeInstallTokens) MintLocationToken(_ context.Context, companyID, locationID string) (tokenstore.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mintErr != nil {
		return tokenstore.Status{}, f.mintErr
	}
	f.minted = append(f.minted, locationID)
	f.have[locationID] = tokenstore.UserTypeLocation
	return tokenstore.Status{Subject: locationID}, nil
}

func TestTokenInstaller(t *testing.T) {
	ctx := context.Background()
	const company, loc1, loc2 = "comp1", "loc1", "loc2"
	for _, c := range []struct {
		name         string
		have         map[string]string
		company, loc string
		mintErr      error
		wantErr      error // nil: success; errAny: some other error
		wantMinted   []string
	}{
		{name: "location with its token", have: map[string]string{loc1: tokenstore.UserTypeLocation}, company: company, loc: loc1},
		{name: "location before any token", have: map[string]string{}, company: company, loc: loc1, wantErr: ErrInstallPending},
		{name: "location minted from the agency token", have: map[string]string{company: tokenstore.UserTypeCompany}, company: company, loc: loc1, wantMinted: []string{loc1}},
		{name: "location, company holds a location token", have: map[string]string{company: tokenstore.UserTypeLocation}, company: company, loc: loc1, wantErr: errAny},
		{name: "agency before its token", have: map[string]string{}, company: company, wantErr: ErrInstallPending},
		{name: "agency mints what lacks a token", have: map[string]string{company: tokenstore.UserTypeCompany, loc1: tokenstore.UserTypeLocation}, company: company, wantMinted: []string{loc2}},
		{name: "agency mint fails", have: map[string]string{company: tokenstore.UserTypeCompany}, company: company, mintErr: errors.New("upstream 500"), wantErr: errAny},
		{name: "neither", have: map[string]string{}, wantErr: errAny},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeInstallTokens{have: c.have, installed: []string{loc1, loc2}, mintErr: c.mintErr}
			err := (&TokenInstaller{Tokens: f, Logger: quiet}).Install(ctx, c.company, c.loc)
			switch {
			case c.wantErr == nil && err != nil, c.wantErr == errAny && (err == nil || errors.Is(err, ErrInstallPending)),
				c.wantErr != nil && c.wantErr != errAny && !errors.Is(err, c.wantErr):
				t.Fatalf("Install: %v, want %v", err, c.wantErr)
			}
			if !slices.Equal(f.minted, c.wantMinted) {
				t.Errorf("minted %v, want %v", f.minted, c.wantMinted)
			}
		})
	}
}

var errAny = errors.New("any error but ErrInstallPending")

// installerFunc adapts a function to Installer.
type installerFunc func(ctx context.Context, companyID, locationID string) error

func (f installerFunc) Install(ctx context.Context, companyID, locationID string) error {
	return f(ctx, companyID, locationID)
}

// The install worker acknowledges an install once recorded, leaves a
// pending one for its redelivery, and gives up on one older than GiveUp.
func TestRunInstalls(t *testing.T) {
	be := memoryBackend(t, DefaultStoreConfig)
	clk := newClock(t0)
	var mu sync.Mutex
	calls := map[string]int{}
	ready := map[string]bool{"fresh": false, "old": false}
	inst := installerFunc(func(_ context.Context, companyID, _ string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[companyID]++
		if !ready[companyID] {
			return ErrInstallPending
		}
		return nil
	})
	m := NewMetrics(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunInstalls(ctx, be.d, inst, InstallWorkerConfig{Retry: time.Second, GiveUp: time.Hour, Now: clk.Now, Logger: quiet, Metrics: m})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunInstalls: %v", err)
		}
	}()
	testwait.For(t, "the worker's subscription", 5*time.Second, func() bool { _, err := be.d.Definition(ctx, InstallSubscription); return err == nil })
	for _, ev := range []Event{
		{AppID: testApp, Type: TypeInstall, CompanyID: "fresh", WebhookID: "wh-fresh", Body: []byte(`{}`), ReceiveTime: t0},
		{AppID: testApp, Type: TypeInstall, CompanyID: "old", WebhookID: "wh-old", Body: []byte(`{}`), ReceiveTime: t0.Add(-2 * time.Hour)},
		{AppID: testApp, Type: "ContactCreate", LocationID: locA, WebhookID: "wh-contact", Body: []byte(`{}`), ReceiveTime: t0},
	} {
		if _, _, err := be.store.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	count := func(k string) int { mu.Lock(); defer mu.Unlock(); return calls[k] }
	testwait.For(t, "the first attempts", 5*time.Second, func() bool { return count("fresh") == 1 && count("old") == 1 })
	// The fresh one is tried again after its deadline; once its token is
	// there it is recorded and not tried again.
	mu.Lock()
	ready["fresh"] = true
	mu.Unlock()
	be.pass(2 * time.Second)
	testwait.For(t, "the retry", 5*time.Second, func() bool { return count("fresh") == 2 })
	be.pass(2 * time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := count("fresh"); n != 2 {
		t.Errorf("the recorded install was tried %d times, want 2", n)
	}
	if n := count("old"); n != 1 {
		t.Errorf("the given-up install was tried %d times, want 1", n)
	}
	if got := testValue(m.installs.WithLabelValues(installGaveUp)); got != 1 {
		t.Errorf("gave_up = %v, want 1 (the install received 2h ago)", got)
	}
	if got := testValue(m.installs.WithLabelValues(installOK)); got != 1 {
		t.Errorf("ok = %v, want 1", got)
	}
	mu.Lock()
	if len(calls) != 2 {
		t.Errorf("calls %v: the worker saw more than the INSTALL events", calls)
	}
	mu.Unlock()
}
