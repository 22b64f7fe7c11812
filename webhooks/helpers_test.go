package webhooks

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The tests' own keys: fixed seeds, so failures reproduce. None of them is
// HighLevel's.
var (
	testKey  = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	otherKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
)

const testApp = "ve9EPM428h8vShlRW1KT"

// t0 is the tests' clock reading; no test reads the wall clock.
var t0 = time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func pubSPKIBase64(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func pubPEM(t testing.TB, pub any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func testVerifier(t testing.TB, legacy *rsa.PublicKey) *Verifier {
	t.Helper()
	v, err := NewVerifier(testKey.Public().(ed25519.PublicKey), legacy)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// event is a body as HighLevel sends it: the documented fields of typ plus
// the signed envelope's timestamp and webhookId.
func event(typ, webhookID string, ts time.Time, extra map[string]any) []byte {
	m := map[string]any{"type": typ, "locationId": "otg8dTQqGLh3Q6iQI55w", "webhookId": webhookID, "timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

func signEd(key ed25519.PrivateKey, body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
}

func signRSA(t testing.TB, key *rsa.PrivateKey, body []byte) string {
	t.Helper()
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// post sends body to h with the given headers and returns the response.
func post(t testing.TB, h http.Handler, body []byte, headers map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/highlevel", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func signed(body []byte) map[string]string {
	return map[string]string{SignatureHeader: signEd(testKey, body)}
}

func readAll(t testing.TB, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fakeTokens records deletions and fails when err is set.
type fakeTokens struct {
	mu      sync.Mutex
	deleted []string
	err     error
}

func (f *fakeTokens) Delete(_ context.Context, subject string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.deleted = append(f.deleted, subject)
	return nil
}

// fixture is a receiver over a store, with its clock and metrics.
type fixture struct {
	rv      *Receiver
	store   Store
	clock   *clock
	metrics *Metrics
	tokens  TokenDeleter
}

func newFixture(t testing.TB, store Store, tokens TokenDeleter, legacy *rsa.PublicKey, clk *clock) *fixture {
	t.Helper()
	if clk == nil {
		clk = newClock(t0)
	}
	if store == nil {
		ms, err := NewMemoryStore(DefaultStoreConfig, clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		store = ms
	}
	if tokens == nil {
		tokens = &fakeTokens{}
	}
	m := NewMetrics(nil)
	rv, err := NewReceiver(Config{
		AppID: testApp + "-mh4k2x", Verifier: testVerifier(t, legacy), Store: store, Tokens: tokens,
		Now: clk.Now, Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{rv: rv, store: store, clock: clk, metrics: m, tokens: tokens}
}

// all reads the whole stream of the test app.
func all(t testing.TB, s Store) []Event {
	t.Helper()
	evs, err := s.Read(context.Background(), testApp, "", 1<<20)
	if err != nil {
		t.Fatalf("read stream: %v", err)
	}
	return evs
}

func wantStatus(t testing.TB, resp *http.Response, code int) {
	t.Helper()
	if resp.StatusCode != code {
		t.Fatalf("status %d, want %d (%s)", resp.StatusCode, code, readAll(t, resp.Body))
	}
}

func fmtIDs(evs []Event) string {
	var b bytes.Buffer
	for _, e := range evs {
		fmt.Fprintf(&b, "%s:%s ", e.ID, e.WebhookID)
	}
	return b.String()
}

// testValue reads a counter.
func testValue(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }
