package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/webhooks"
)

// webhookKey signs the tests' webhooks; a fixed seed, not HighLevel's key.
var webhookKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, ed25519.SeedSize))

// webhookServer is the harness's server (caller auth on) with a webhook
// receiver mounted, served over real HTTP by its own mux.
type webhookServer struct {
	*harness
	url   string
	store *webhooks.MemoryStore
	now   func() time.Time
}

func newWebhookServer(t *testing.T) *webhookServer {
	return newWebhookServerWith(t, false, false)
}

// newWebhookServerWith: noInstall leaves the demo location uninstalled;
// installs records INSTALL events through the token manager.
func newWebhookServerWith(t *testing.T, noInstall, installs bool) *webhookServer {
	t.Helper()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, keys: testKeys(), noInstall: noInstall})
	return webhookServerOn(t, h, installs)
}

// webhookServerOn serves h's server with a webhook receiver (a memory
// store on a fixed clock, the test key) on a new HTTP server.
func webhookServerOn(t *testing.T, h *harness, installs bool) *webhookServer {
	t.Helper()
	now := func() time.Time { return time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC) }
	store, err := webhooks.NewMemoryStore(webhooks.DefaultStoreConfig, now)
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhooks.NewVerifier(webhookKey.Public().(ed25519.PublicKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	var inst webhooks.Installer
	if installs {
		inst = &webhooks.TokenInstaller{Tokens: h.mgr, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	}
	rv, err := webhooks.NewReceiver(webhooks.Config{
		AppID: tokenstore.AppID(sandbox.DefaultClientID), Verifier: v, Store: store, Tokens: h.mgr, Installs: inst, Now: now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := h.srv.cfg
	cfg.Webhooks = rv
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := srv.HTTPHandler(context.Background(), h.conn)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(handler)
	t.Cleanup(hs.Close)
	return &webhookServer{harness: h, url: hs.URL, store: store, now: now}
}

func webhookBody(typ, id string, extra string) []byte {
	return []byte(fmt.Sprintf(`{"type":%q,"locationId":%q,"webhookId":%q,"timestamp":"2026-07-15T11:59:30.000Z"%s}`, typ, sandbox.DemoLocationID, id, extra))
}

// postWebhook posts body with a signature (when signed) and nothing else:
// no Authorization header.
func (w *webhookServer) postWebhook(t *testing.T, body []byte, signed bool) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+"/webhooks/highlevel", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signed {
		req.Header.Set(webhooks.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(webhookKey, body)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *webhookServer) stored(t *testing.T) []webhooks.Event {
	t.Helper()
	evs, err := w.store.Read(context.Background(), tokenstore.AppID(sandbox.DefaultClientID), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// The route is reached without a caller key while the REST API needs one,
// and its own bounds apply: 401 unsigned, 413 above 1 MiB.
func TestWebhookRouteThroughTheMux(t *testing.T) {
	t.Parallel()
	w := newWebhookServer(t)
	if code, _, body := w.rest(http.MethodPost, "/v1/locations/"+sandbox.DemoLocationID+"/contacts:search", "", strings.NewReader(`{}`)); code != http.StatusUnauthorized {
		t.Fatalf("REST without a key: %d %s; the test needs caller auth on", code, body)
	}

	body := webhookBody("ContactCreate", "wh-mux-1", `,"email":"a@example.com"`)
	if code, msg := w.postWebhook(t, body, true); code != http.StatusOK {
		t.Fatalf("signed webhook without a caller key: %d %s", code, msg)
	}
	if got := w.stored(t); len(got) != 1 || !bytes.Equal(got[0].Body, body) {
		t.Fatalf("stored %d events", len(got))
	}

	if code, _ := w.postWebhook(t, webhookBody("ContactCreate", "wh-mux-2", ""), false); code != http.StatusUnauthorized {
		t.Errorf("unsigned webhook: %d, want 401", code)
	}
	big := webhookBody("ContactCreate", "wh-mux-3", `,"notes":"`+strings.Repeat("x", 2<<20)+`"`)
	if code, _ := w.postWebhook(t, big, true); code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB webhook: %d, want 413", code)
	}
	if n := len(w.stored(t)); n != 1 {
		t.Errorf("%d events stored, want only the first", n)
	}
	code, _, _ := w.restHeaders(http.MethodGet, "/webhooks/highlevel", nil, http.Header{})
	if code == http.StatusOK {
		t.Errorf("GET /webhooks/highlevel answered 200")
	}
}

// UNINSTALL through the real token manager: the next call for the location
// fails with LOCATION_NOT_INSTALLED and HighLevel sees no request.
func TestWebhookUninstallStopsCallsForTheLocation(t *testing.T) {
	t.Parallel()
	w := newWebhookServer(t)
	ctx := w.ctx(adminKey)
	if _, err := w.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1}); err != nil {
		t.Fatalf("before UNINSTALL: %v", err)
	}
	body := webhookBody(webhooks.TypeUninstall, "wh-uninstall", fmt.Sprintf(`,"appId":%q`, tokenstore.AppID(sandbox.DefaultClientID)))
	if code, msg := w.postWebhook(t, body, true); code != http.StatusOK {
		t.Fatalf("UNINSTALL: %d %s", code, msg)
	}
	before := w.hits.total("")
	_, err := w.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	wantStatus(t, err, codes.FailedPrecondition, ReasonLocationNotInstalled)
	if n := w.hits.total(""); n != before {
		t.Errorf("HighLevel saw %d requests after UNINSTALL", n-before)
	}
	if got := w.stored(t); len(got) != 1 || got[0].Type != webhooks.TypeUninstall {
		t.Errorf("UNINSTALL not stored")
	}
}
