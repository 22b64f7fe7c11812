package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/webhooks"
)

// agencyInstall is the body of an agency-level INSTALL (AppInstall.md: a
// companyId and no locationId).
func agencyInstall(webhookID string) []byte {
	return []byte(fmt.Sprintf(`{"type":"INSTALL","appId":%q,"companyId":%q,"planId":"p1","webhookId":%q,"timestamp":"2026-07-15T11:59:30.000Z"}`,
		tokenstore.AppID(sandbox.DefaultClientID), sandbox.DemoCompanyID, webhookID))
}

// installAgency stores the company's agency token the way a bulk install's
// code exchange does.
func (w *webhookServer) installAgency(t *testing.T) {
	t.Helper()
	code, err := w.sb.MintCode(sandbox.CodeRequest{UserType: sandbox.UserCompany})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.mgr.ExchangeCode(context.Background(), code, "", tokenstore.ExchangeOptions{}); err != nil {
		t.Fatalf("agency code exchange: %v", err)
	}
}

func (w *webhookServer) locationTokens(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, loc := range []string{sandbox.DemoLocationID, sandbox.OtherLocationID} {
		st, err := w.mgr.Status(context.Background(), loc)
		switch {
		case errors.Is(err, tokenstore.ErrNotInstalled):
		case err != nil:
			t.Fatalf("status of %s: %v", loc, err)
		default:
			out[loc] = st.UserType == tokenstore.UserTypeLocation && st.CompanyID == sandbox.DemoCompanyID
		}
	}
	return out
}

// An agency (bulk) install gives only a Company token: its INSTALL lists
// the installed locations (GET /oauth/installedLocations) and mints each a
// location token through the sandbox, so the facade can call them at once.
func TestWebhookAgencyInstallMintsLocationTokens(t *testing.T) {
	t.Parallel()
	w := newWebhookServerWith(t, true, true)
	w.installAgency(t)
	if got := w.locationTokens(t); len(got) != 0 {
		t.Fatalf("before INSTALL: location tokens %v", got)
	}
	before := w.sb.Stats().LocationTokens
	if code, msg := w.postWebhook(t, agencyInstall("wh-agency-1"), true); code != http.StatusOK {
		t.Fatalf("INSTALL: %d %s", code, msg)
	}
	got := w.locationTokens(t)
	if !got[sandbox.DemoLocationID] || !got[sandbox.OtherLocationID] {
		t.Fatalf("after INSTALL: location tokens %v, want both locations' from the agency", got)
	}
	if n := w.sb.Stats().LocationTokens - before; n != 2 {
		t.Errorf("%d location tokens minted, want 2", n)
	}
	if _, err := w.contacts.SearchContacts(w.ctx(adminKey), &hlgatev1.SearchContactsRequest{LocationId: sandbox.OtherLocationID, PageSize: 1}); err != nil {
		t.Errorf("a call for a location of the agency install: %v", err)
	}
	// HighLevel's resend (a duplicate) mints nothing more: both have one.
	if code, msg := w.postWebhook(t, agencyInstall("wh-agency-1"), true); code != http.StatusOK {
		t.Fatalf("INSTALL again: %d %s", code, msg)
	}
	if n := w.sb.Stats().LocationTokens - before; n != 2 {
		t.Errorf("%d location tokens minted after the duplicate, want still 2", n)
	}
	if evs := w.stored(t); len(evs) != 1 || evs[0].Type != webhooks.TypeInstall {
		t.Errorf("stored %v, want the one INSTALL (delivered to subscribers like any event)", fmtTypes(evs))
	}
}

// A location install whose code exchange stored the token records nothing
// more; one without any token and no agency token waits (2xx, stored).
func TestWebhookLocationInstall(t *testing.T) {
	t.Parallel()
	w := newWebhookServerWith(t, false, true)
	before := w.sb.Stats().LocationTokens
	body := webhookBody(webhooks.TypeInstall, "wh-loc-1", fmt.Sprintf(`,"appId":%q,"companyId":%q`, tokenstore.AppID(sandbox.DefaultClientID), sandbox.DemoCompanyID))
	if code, msg := w.postWebhook(t, body, true); code != http.StatusOK {
		t.Fatalf("INSTALL of an installed location: %d %s", code, msg)
	}
	if n := w.sb.Stats().LocationTokens - before; n != 0 {
		t.Errorf("%d location tokens minted for a location that has its own", n)
	}
	other := []byte(fmt.Sprintf(`{"type":"INSTALL","locationId":%q,"companyId":%q,"webhookId":"wh-loc-2","timestamp":"2026-07-15T11:59:30.000Z"}`, sandbox.OtherLocationID, sandbox.DemoCompanyID))
	if code, msg := w.postWebhook(t, other, true); code != http.StatusOK {
		t.Fatalf("INSTALL before its code exchange: %d %s, want 200 (stored; the install worker retries)", code, msg)
	}
	if n := len(w.stored(t)); n != 2 {
		t.Errorf("%d events stored, want both INSTALLs", n)
	}
}

// Minting that fails once the agency token is there is answered 429, so
// HighLevel resends; the resend (a duplicate) mints.
func TestWebhookInstallMintFailureAnswers429(t *testing.T) {
	t.Parallel()
	w := newWebhookServerWith(t, true, true)
	w.installAgency(t)
	if err := w.sb.SetFaults(sandbox.Faults{ErrorRate: 1}); err != nil {
		t.Fatal(err)
	}
	code, _ := w.postWebhook(t, agencyInstall("wh-agency-fail"), true)
	if code != http.StatusTooManyRequests {
		t.Fatalf("INSTALL while upstream fails: %d, want 429", code)
	}
	if got := w.locationTokens(t); len(got) != 0 {
		t.Fatalf("location tokens %v after a failed mint", got)
	}
	if err := w.sb.SetFaults(sandbox.Faults{}); err != nil {
		t.Fatal(err)
	}
	if code, msg := w.postWebhook(t, agencyInstall("wh-agency-fail"), true); code != http.StatusOK {
		t.Fatalf("resent INSTALL: %d %s", code, msg)
	}
	if got := w.locationTokens(t); !got[sandbox.DemoLocationID] || !got[sandbox.OtherLocationID] {
		t.Errorf("after the resend: location tokens %v", got)
	}
}

// An INSTALL that races the code exchange is answered 2xx and kept; the
// install worker records it once the agency token lands.
func TestWebhookInstallBeforeTheCodeExchange(t *testing.T) {
	t.Parallel()
	w := newWebhookServerWith(t, true, true)
	delivery, err := webhooks.NewMemoryDelivery(w.store, tokenstore.AppID(sandbox.DefaultClientID), nil, webhooks.DeliveryConfig{PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(delivery.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	inst := &webhooks.TokenInstaller{Tokens: w.mgr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	go func() {
		done <- webhooks.RunInstalls(ctx, delivery, inst, webhooks.InstallWorkerConfig{Retry: time.Second, Now: w.now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("install worker: %v", err)
		}
	})
	// The worker's subscription exists before the event arrives.
	waitFor(t, 5*time.Second, "the install worker's subscription", func() bool {
		_, err := delivery.Definition(context.Background(), webhooks.InstallSubscription)
		return err == nil
	})

	if code, msg := w.postWebhook(t, agencyInstall("wh-race"), true); code != http.StatusOK {
		t.Fatalf("INSTALL before the code exchange: %d %s, want 200", code, msg)
	}
	if got := w.locationTokens(t); len(got) != 0 {
		t.Fatalf("location tokens %v without an agency token", got)
	}
	w.installAgency(t)
	waitFor(t, 10*time.Second, "the location tokens of the pending install", func() bool {
		got := w.locationTokens(t)
		return got[sandbox.DemoLocationID] && got[sandbox.OtherLocationID]
	})
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !ok() {
		select {
		case <-deadline.C:
			t.Fatalf("no %s after %s", what, d)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func fmtTypes(evs []webhooks.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type)
	}
	return out
}
