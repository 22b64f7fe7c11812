package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/testwait"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// Every documented setting is listed by `hlgate serve -h` with its variable.
func TestServeHelpListsEverySetting(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := run(context.Background(), []string{"serve", "-h"}, envOf(nil), strings.NewReader(""), &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("serve -h: %v", err)
	}
	for _, v := range []string{
		"HLGATE_GRPC_ADDR", "HLGATE_HTTP_ADDR", "HLGATE_UPSTREAM_URL", "HLGATE_AUTHORIZE_URL", "HLGATE_PUBLIC_URL",
		"HLGATE_CLIENT_ID", "HLGATE_CLIENT_SECRET", "HLGATE_SCOPES", "HLGATE_REDIS_URL", "HLGATE_TOKEN_KEY",
		"HLGATE_RATE_LIMIT", "HLGATE_RATE_WINDOW", "HLGATE_DAILY_LIMIT", "HLGATE_API_KEYS_FILE",
		"HLGATE_INSECURE_NO_AUTH", "HLGATE_RATE_GUARD", "HLGATE_MAX_QUEUE_WAIT", "HLGATE_LIMITER_FALLBACK",
		"HLGATE_REPLICAS", "HLGATE_SHUTDOWN_GRACE", "HLGATE_TOKEN_OLD_KEYS", "HLGATE_HTTP_MAX_BODY",
		"HLGATE_HTTP_READ_TIMEOUT", "HLGATE_HTTP_WRITE_TIMEOUT", "HLGATE_HTTP_IDLE_TIMEOUT", "HLGATE_GRPC_MAX_STREAMS",
		"HLGATE_TOKEN_IDLE_RELEASE", "HLGATE_PENDING_INSTALL_TTL", "HLGATE_OAUTH_CALLBACK_RATE",
	} {
		if !strings.Contains(out.String(), v) {
			t.Errorf("serve -h does not list %s", v)
		}
	}
}

// Unsafe or incomplete configurations are refused before anything starts,
// with a message that says what to set.
func TestServeRefusesUnsafeConfigurations(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"HLGATE_CLIENT_ID": "app-1", "HLGATE_CLIENT_SECRET": "s",
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
		{"no caller auth", with(), "HLGATE_API_KEYS_FILE"},
		{"Redis without a token key", with("HLGATE_INSECURE_NO_AUTH", "true", "HLGATE_REDIS_URL", "redis://127.0.0.1:1"), "HLGATE_TOKEN_KEY"},
		{"no app credentials", map[string]string{"HLGATE_INSECURE_NO_AUTH": "true"}, "HLGATE_CLIENT_ID"},
		{"bad fallback", with("HLGATE_INSECURE_NO_AUTH", "true", "HLGATE_LIMITER_FALLBACK", "open"), "HLGATE_LIMITER_FALLBACK"},
		{"bad duration", with("HLGATE_INSECURE_NO_AUTH", "true", "HLGATE_RATE_WINDOW", "ten"), "HLGATE_RATE_WINDOW"},
		{"write timeout shorter than the longest call", with("HLGATE_INSECURE_NO_AUTH", "true", "HLGATE_HTTP_WRITE_TIMEOUT", "45s"), "HLGATE_HTTP_WRITE_TIMEOUT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), []string{"serve"}, envOf(tc.env), strings.NewReader(""), &out, &out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a message naming %s", err, tc.want)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hash-key"}, envOf(nil), strings.NewReader("secret\n"), &out, &out); err != nil {
		t.Fatal(err)
	}
	// SHA-256 of "secret".
	if got := strings.TrimSpace(out.String()); got != "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b" {
		t.Fatalf("hash = %s", got)
	}
}

// `make run` is `hlgate serve --sandbox`: it installs the demo location
// through the OAuth code flow, prints commands that work, and stops cleanly.
func TestServeSandboxDemoWorks(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, _, done := startDemo(ctx, t, envOf(nil))
	// Run the printed curl commands' URLs.
	var urls []string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "curl" && strings.HasPrefix(f[2], "http://") {
			urls = append(urls, f[len(f)-1])
		}
	}
	if len(urls) < 2 {
		t.Fatalf("found %d curl GET commands in:\n%s", len(urls), out.String())
	}
	for _, u := range urls {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d %s", u, resp.StatusCode, body)
		}
	}
	cancel()
	waitStopped(t, done)
}

// startDemo runs `hlgate serve --sandbox` on free loopback ports until ctx
// ends, and returns once the demo location is installed (the demo commands
// are printed), with its output, its log and its exit.
func startDemo(ctx context.Context, t *testing.T, env func(string) string) (out, logs *syncBuffer, done <-chan error) {
	t.Helper()
	out, logs = &syncBuffer{}, &syncBuffer{}
	exited := make(chan error, 1)
	go func() {
		exited <- run(ctx, []string{"serve", "--sandbox", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"},
			env, strings.NewReader(""), out, logs)
	}()
	ready := testwait.Until(20*time.Second, func() bool {
		select {
		case err := <-exited:
			t.Fatalf("serve --sandbox exited: %v\n%s\n%s", err, out.String(), logs.String())
		default:
		}
		return strings.Contains(out.String(), "Stop with Ctrl-C")
	})
	if !ready {
		t.Fatalf("no demo commands printed:\n%s\n%s", out.String(), logs.String())
	}
	return out, logs, exited
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Secrets never appear in usage text: not for -h, not for a mistyped flag,
// whether they come from the environment or from flags.
func TestUsageNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"HLGATE_CLIENT_SECRET":  "client-secret-value-1234",
		"HLGATE_TOKEN_KEY":      "dG9rZW4ta2V5LXZhbHVlLTEyMzQ1Njc4OTAxMjM0NTY=",
		"HLGATE_TOKEN_OLD_KEYS": "b2xkLWtleS12YWx1ZS0xMjM0NTY3ODkwMTIzNDU2Nzg=",
		"HLGATE_REDIS_URL":      "redis://user:redis-password-5678@127.0.0.1:1",
	}
	for _, args := range [][]string{{"serve", "-h"}, {"serve", "--no-such-flag"}, {"serve", "--client-secret", "flag-secret-9999", "--typo"}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, envOf(secrets), strings.NewReader(""), &out, &out); err == nil {
			t.Fatalf("%v: no error", args)
		}
		for name, v := range secrets {
			if strings.Contains(out.String(), v) || strings.Contains(out.String(), "redis-password-5678") {
				t.Errorf("%v prints the value of %s:\n%s", args, name, out.String())
			}
		}
		if strings.Contains(out.String(), "flag-secret-9999") {
			t.Errorf("%v prints the secret given as a flag", args)
		}
		if !strings.Contains(out.String(), "HLGATE_CLIENT_SECRET") {
			t.Errorf("%v: usage does not list HLGATE_CLIENT_SECRET:\n%s", args, out.String())
		}
	}
	// The values still arrive: from the environment, and a flag wins.
	s, c := serveSettings(envOf(secrets))
	s.fs.SetOutput(io.Discard)
	if err := s.parse([]string{"--token-key", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret != secrets["HLGATE_CLIENT_SECRET"] || c.RedisURL != secrets["HLGATE_REDIS_URL"] || c.TokenKey != "from-flag" {
		t.Fatalf("secrets not applied: secret %q, redis %q, token key %q", c.ClientSecret, c.RedisURL, c.TokenKey)
	}
}

// A Redis that may evict keys without a TTL would silently lose token
// records: hlgate logs it at error level and /readyz stays 503 until the
// policy is fixed.
func TestReadyzRefusesAnEvictingRedis(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy    string
		wantReady bool
	}{{"allkeys-lru", false}, {"noeviction", true}} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			rs := redistest.Start(t, redistest.Options{Args: []string{"--maxmemory-policy", tc.policy}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := envOf(map[string]string{"HLGATE_REDIS_URL": rs.URL(), "HLGATE_TOKEN_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
			_, logs, done := startDemo(ctx, t, env)
			m := regexp.MustCompile(`"http":"([0-9.:]+)"`).FindStringSubmatch(logs.String())
			if m == nil {
				t.Fatalf("no HTTP address in the log:\n%s", logs.String())
			}
			resp, err := http.Get("http://" + m[1] + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if ready := resp.StatusCode == http.StatusOK; ready != tc.wantReady {
				t.Fatalf("/readyz with %s = %d %s", tc.policy, resp.StatusCode, body)
			}
			if loud := strings.Contains(logs.String(), `"level":"ERROR","msg":"redis may evict token records`); loud == tc.wantReady {
				t.Errorf("error log about the eviction policy present: %v, want %v", loud, !tc.wantReady)
			}
			if strings.Contains(string(body), rs.Addr()) {
				t.Errorf("/readyz shows the Redis address: %s", body)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		})
	}
}

// The demo's webhook commands work as printed: the stream it prints gets
// the ContactCreate of the contact its create command makes, posted by the
// in-process sandbox, signed with its key, to this process's receiver.
func TestServeSandboxDemoEvents(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs, done := startDemo(ctx, t, envOf(nil))
	var watch, create, body string
	for _, line := range strings.Split(out.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "curl -s -N "):
			watch = strings.TrimPrefix(line, "curl -s -N ")
		case strings.HasPrefix(line, "curl -s -X POST ") && strings.Contains(line, "/contacts -d "):
			rest := strings.TrimPrefix(line, "curl -s -X POST ")
			create, body, _ = strings.Cut(rest, " -d ")
			body = strings.Trim(body, "'")
		}
	}
	if watch == "" || create == "" {
		t.Fatalf("no watch and create commands in:\n%s", out.String())
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, watch, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("watch: %d %s", resp.StatusCode, b)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	cresp, err := http.Post(create, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := io.ReadAll(cresp.Body)
	cresp.Body.Close()
	if cresp.StatusCode != http.StatusOK {
		t.Fatalf("create contact: %d %s", cresp.StatusCode, cb)
	}
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the stream ended\n%s", logs.String())
			}
			if strings.Contains(l, `"type":"ContactCreate"`) && strings.Contains(l, "ada@example.com") {
				stop()
				cancel()
				if err := <-done; err != nil {
					t.Fatalf("shutdown: %v", err)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no ContactCreate on the stream after 20s\n%s", logs.String())
		}
	}
}

// waitStopped waits for a cancelled serve to return cleanly.
func waitStopped(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop after cancellation")
	}
}
