package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// runSandbox serves the strict fake of the HighLevel API V2 on its own, for
// end-to-end tests and for trying a client against it.
func runSandbox(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	// Defaults are the sandbox's own: the upstream's documented values.
	cfg := sandbox.DefaultConfig()
	var (
		addr, logLevel, hookSeed string
		grace                    time.Duration
	)
	s := newSettings("hlgate sandbox", env)
	s.fs.SetOutput(stderr)
	s.String(&addr, "addr", "HLGATE_SANDBOX_ADDR", ":8090", "listen address")
	s.Duration(&cfg.AccessTokenTTL, "token-ttl", "HLGATE_SANDBOX_TOKEN_TTL", cfg.AccessTokenTTL, "lifetime of the access tokens it issues")
	s.Int(&cfg.RateLimit, "rate-limit", "HLGATE_SANDBOX_RATE_LIMIT", cfg.RateLimit, "requests per window it accepts per app and location")
	s.Duration(&cfg.RateWindow, "rate-window", "HLGATE_SANDBOX_RATE_WINDOW", cfg.RateWindow, "the window of rate-limit")
	s.Int(&cfg.DailyLimit, "daily-limit", "HLGATE_SANDBOX_DAILY_LIMIT", cfg.DailyLimit, "requests per UTC day it accepts per app and location")
	s.Bool(&cfg.QuotaOff, "quota-off", "HLGATE_SANDBOX_QUOTA_OFF", false, "serve no 429s (arrivals are still recorded)")
	s.String(&cfg.WebhookURL, "webhook-url", "HLGATE_SANDBOX_WEBHOOK_URL", "", "where the sandbox posts the webhooks of its writes (e.g. http://localhost:8080/webhooks/highlevel), signed with its own key (GET /_sandbox/webhooks); empty = none")
	s.Bool(&cfg.RevokeAccessOnRefresh, "revoke-access-on-refresh", "HLGATE_SANDBOX_REVOKE_ACCESS_ON_REFRESH", false, "a refresh also revokes earlier access tokens of the install")
	s.Duration(&grace, "shutdown-grace", "HLGATE_SHUTDOWN_GRACE", 5*time.Second, "time in-flight requests get to finish on SIGTERM")
	s.String(&logLevel, "log-level", "HLGATE_LOG_LEVEL", "info", "debug, info, warn or error")
	s.String(&hookSeed, "webhook-key-seed", "HLGATE_SANDBOX_WEBHOOK_KEY_SEED", "", "base64 of the 32-byte Ed25519 seed its webhooks are signed with; empty = one derived from its data seed")
	if err := s.parse(args); err != nil {
		return err
	}
	if hookSeed != "" {
		b, err := base64.StdEncoding.DecodeString(hookSeed)
		if err != nil || len(b) != ed25519.SeedSize {
			return fmt.Errorf("HLGATE_SANDBOX_WEBHOOK_KEY_SEED: want base64 of %d bytes", ed25519.SeedSize)
		}
		cfg.WebhookKey = ed25519.NewKeyFromSeed(b)
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	sb := sandbox.New(cfg)
	if err := sb.SetWebhookURL(cfg.WebhookURL); err != nil {
		return fmt.Errorf("HLGATE_SANDBOX_WEBHOOK_URL: %w", err)
	}
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(lis) }()
	fmt.Fprint(stdout, sandbox.DemoCredentials("http://"+loopbackAddr(lis.Addr())))
	log.Info("sandbox serving", "addr", lis.Addr().String(), "webhook_url", cfg.WebhookURL)
	fmt.Fprintf(stdout, "  webhook key:    HLGATE_WEBHOOK_PUBLIC_KEY for its webhooks (also GET /_sandbox/webhooks):\n%s", sb.WebhookPublicKeyPEM())
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
