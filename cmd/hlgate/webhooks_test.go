package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/webhooks"
)

// The tests' webhook signing key: a fixed seed, not HighLevel's.
var hookKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, ed25519.SeedSize))

func hookPublicKey(t *testing.T, k ed25519.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(der)
}

func TestServeHelpListsWebhookSettings(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "-h"}, envOf(nil), strings.NewReader(""), &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	for _, v := range []string{
		"HLGATE_WEBHOOKS_DISABLED", "HLGATE_WEBHOOK_PUBLIC_KEY", "HLGATE_WEBHOOK_LEGACY_RSA_KEY",
		"HLGATE_WEBHOOK_REPLAY_WINDOW", "HLGATE_WEBHOOK_FUTURE_SKEW", "HLGATE_WEBHOOK_STORE_TIMEOUT",
		"HLGATE_WEBHOOK_STREAM_MAX_LEN", "HLGATE_WEBHOOK_STREAM_MAX_AGE",
		"HLGATE_EVENTS_MAX_SUBSCRIPTIONS", "HLGATE_EVENTS_POLL_INTERVAL",
	} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("serve -h does not list %s", v)
		}
	}
}

// Without a key the receiver does not start unless it is turned off: hlgate
// has no default HighLevel key.
func TestServeRefusesWebhooksWithoutAKey(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"HLGATE_CLIENT_ID": "app-1", "HLGATE_CLIENT_SECRET": "s", "HLGATE_INSECURE_NO_AUTH": "true",
		"HLGATE_GRPC_ADDR": "127.0.0.1:0", "HLGATE_HTTP_ADDR": "127.0.0.1:0",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"not a key", with("HLGATE_WEBHOOK_PUBLIC_KEY", "hello"), "HLGATE_WEBHOOK_PUBLIC_KEY:"},
		{"an RSA key as the Ed25519 key", with("HLGATE_WEBHOOK_PUBLIC_KEY", rsaPublicKeyForTest), "HLGATE_WEBHOOK_PUBLIC_KEY:"},
		{"bad legacy key", with("HLGATE_WEBHOOK_PUBLIC_KEY", hookPublicKey(t, hookKey), "HLGATE_WEBHOOK_LEGACY_RSA_KEY", "nope"), "HLGATE_WEBHOOK_LEGACY_RSA_KEY"},
		{"stream kept shorter than the window", with("HLGATE_WEBHOOK_PUBLIC_KEY", hookPublicKey(t, hookKey), "HLGATE_WEBHOOK_STREAM_MAX_AGE", "1m"), "HLGATE_WEBHOOK_STREAM_MAX_AGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve"}, envOf(tc.env), strings.NewReader(""), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a message containing %q", err, tc.want)
			}
		})
	}
}

// Without HLGATE_WEBHOOK_PUBLIC_KEY, webhooks are checked with HighLevel's
// published key, and a key that is set replaces it.
func TestWebhookKeyDefaultsToHighLevels(t *testing.T) {
	t.Parallel()
	w := webhookSettings{ReplayWindow: time.Minute, FutureSkew: time.Minute, StoreTimeout: time.Second, StreamMaxLen: 10,
		StreamMaxAge: time.Hour, MaxSubscriptions: 1, EventsPollInterval: time.Second}
	if p := w.check(); len(p) != 0 {
		t.Fatalf("no key set: %v, want no problem", p)
	}
	want, err := webhooks.ParseEd25519PublicKey(webhooks.HighLevelPublicKey)
	if err != nil {
		t.Fatalf("HighLevel's published key does not parse: %v", err)
	}
	if got, _ := webhooks.ParseEd25519PublicKey(w.publicKey()); !got.Equal(want) {
		t.Fatalf("no key set: checked with %x, want HighLevel's %x", got, want)
	}
	w.PublicKey = hookPublicKey(t, hookKey)
	if got, _ := webhooks.ParseEd25519PublicKey(w.publicKey()); got.Equal(want) || !got.Equal(hookKey.Public()) {
		t.Fatal("a key that is set does not replace HighLevel's")
	}
}

// rsaPublicKeyForTest is HighLevel's legacy RSA key (WebhookAuthentication.md),
// used as a well-formed key of the wrong kind.
const rsaPublicKeyForTest = `MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEAokvo/r9tVgcfZ5DysOSCFrm602qYV0MaAiNnX9O8KxMbiyRKWeL9JpCpVpt4XHIcBOK4u3cLSqJGOLaPuXw6dO0t6Q/ZVdAV5Phz+ZtzPL16iCGeK9po6D6JHBpbi989mmzMryUnQJezlYJ3DVfBcsedpinheNnyYeFXolrJvcsjDtfAeRx5ByHQmTnSdFUzuAnC9/GepgLT9SM4nCpvuxmZMxrJt5Rw+VUaQ9B8JSvbMPpez4peKaJPZHBbU3OdeCVx5klVXXZQGNHOs8gF3kvoV5rTnXV0IknLBXlcKKAQLZcY/Q9rG6Ifi9c+5vqlvHPCUJFT5XUGG5RKgOKUJ062fRtN+rLYZUV+BjafxQauvC8wSWeYja63VSUruvmNj8xkx2zE/Juc+yjLjTXpIocmaiFeAO6fUtNjDeFVkhf5LNb59vECyrHD2SQIrhgXpO4Q3dVNA5rw576PwTzNh/AMfHKIjE4xQA1SZuYJmNnmVZLIZBlQAF9Ntd03rfadZ+yDiOXCCs9FkHibELhCHULgCsnuDJHcrGNd5/Ddm5hxGQ0ASitgHeMZ0kcIOwKDOzOU53lDza6/Y09T7sYJPQe7z0cvj7aE4B+Ax1ZoZGPzpJlZtGXCsu9aTEGEnKzmsFqwcSsnw3JB31IGKAykT1hhTiaCeIY/OwwwNUY2yvcCAwEAAQ==`

// `hlgate serve` with a key (and Redis) serves the receiver with that key:
// a body signed with it passes the signature and meets the replay rule (it
// is dated 2001, so it is refused as stale without reading the clock), one
// signed with another key or unsigned is refused as unsigned, and the
// reasons are on /metrics. Without a key, sandbox mode trusts only the
// sandbox's key.
func TestServeWiresTheWebhookReceiver(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t, redistest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := envOf(map[string]string{
		"HLGATE_REDIS_URL": rs.URL(), "HLGATE_TOKEN_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"HLGATE_WEBHOOK_PUBLIC_KEY": hookPublicKey(t, hookKey),
	})
	_, logs, done := startDemo(ctx, t, env)
	base := httpBase(t, logs.String())

	body := []byte(`{"type":"ContactCreate","locationId":"loc-1","webhookId":"wh-1","timestamp":"2001-01-01T00:00:00Z"}`)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, ed25519.SeedSize))
	for _, tc := range []struct {
		name string
		sig  string
		want int
	}{
		{"signed with the configured key", base64.StdEncoding.EncodeToString(ed25519.Sign(hookKey, body)), http.StatusBadRequest},
		{"signed with another key", base64.StdEncoding.EncodeToString(ed25519.Sign(other, body)), http.StatusUnauthorized},
		{"unsigned", "", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+"/webhooks/highlevel", bytes.NewReader(body))
		if tc.sig != "" {
			req.Header.Set(webhooks.SignatureHeader, tc.sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, msg, tc.want)
		}
	}
	metrics := get(t, base+"/metrics")
	for _, line := range []string{
		`hlgate_webhooks_received_total 3`,
		`hlgate_webhooks_rejected_total{reason="stale"} 1`,
		`hlgate_webhooks_rejected_total{reason="bad_signature"} 1`,
		`hlgate_webhooks_rejected_total{reason="missing_signature"} 1`,
	} {
		if !strings.Contains(metrics, line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// Sandbox mode without a key trusts only the sandbox's own key: the
	// test's key is refused. Disabled, there is no receiver.
	for _, tc := range []struct {
		env  map[string]string
		want int
	}{{nil, http.StatusUnauthorized}, {map[string]string{"HLGATE_WEBHOOKS_DISABLED": "true"}, http.StatusNotFound}} {
		ctx2, cancel2 := context.WithCancel(context.Background())
		_, logs2, done2 := startDemo(ctx2, t, envOf(tc.env))
		req, _ := http.NewRequest(http.MethodPost, httpBase(t, logs2.String())+"/webhooks/highlevel", bytes.NewReader(body))
		req.Header.Set(webhooks.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(hookKey, body)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("sandbox mode, %v: POST /webhooks/highlevel signed with the test's key = %d, want %d", tc.env, resp.StatusCode, tc.want)
		}
		cancel2()
		if err := <-done2; err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
}

func httpBase(t *testing.T, logs string) string {
	t.Helper()
	m := regexp.MustCompile(`"http":"([0-9.:]+)"`).FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no HTTP address in the log:\n%s", logs)
	}
	return "http://" + m[1]
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// `hlgate serve` delivers what its receiver stores through EventsService,
// in memory without Redis (as `make run`): a REST stream opened before a
// webhook arrives gets it, as one NDJSON line, and /metrics counts it.
func TestServeWiresEventsService(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, logs, done := startDemo(ctx, t, envOf(map[string]string{"HLGATE_WEBHOOK_PUBLIC_KEY": hookPublicKey(t, hookKey)}))
	base := httpBase(t, logs.String())

	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, base+"/v1/subscriptions/wired/events:stream", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	body := []byte(`{"type":"ContactCreate","locationId":"loc-1","webhookId":"wh-wired","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)
	hook, _ := http.NewRequest(http.MethodPost, base+"/webhooks/highlevel", bytes.NewReader(body))
	hook.Header.Set(webhooks.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(hookKey, body)))
	hresp, err := http.DefaultClient.Do(hook)
	if err != nil {
		t.Fatal(err)
	}
	hresp.Body.Close()
	if hresp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", hresp.StatusCode)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatalf("read the stream: %v", err)
	}
	var got struct {
		Result struct {
			Event struct {
				ID, WebhookID, LocationID string
			} `json:"event"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil || got.Result.Event.WebhookID != "wh-wired" || got.Result.Event.LocationID != "loc-1" || got.Result.Event.ID == "" {
		t.Fatalf("line %q (%v)", line, err)
	}
	if m := get(t, base+"/metrics"); !strings.Contains(m, `hlgate_events_delivered_total{subscription="wired"} 1`) ||
		!strings.Contains(m, `hlgate_events_unacked{subscription="wired"} 1`) {
		t.Errorf("/metrics lacks the delivery of the event:\n%s", grepLines(m, "hlgate_events_"))
	}
	scancel()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
