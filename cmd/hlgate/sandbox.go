package main

import (
	"context"
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
	var (
		addr, logLevel   string
		cfg              sandbox.Config
		rateLimit, daily int
		tokenTTL, window time.Duration
		quotaOff, revoke bool
		grace            time.Duration
	)
	s := newSettings("hlgate sandbox", env)
	s.fs.SetOutput(stderr)
	s.String(&addr, "addr", "HLGATE_SANDBOX_ADDR", ":8090", "listen address")
	s.Duration(&tokenTTL, "token-ttl", "HLGATE_SANDBOX_TOKEN_TTL", 86399*time.Second, "lifetime of the access tokens it issues")
	s.Int(&rateLimit, "rate-limit", "HLGATE_SANDBOX_RATE_LIMIT", 100, "requests per window it accepts per app and location")
	s.Duration(&window, "rate-window", "HLGATE_SANDBOX_RATE_WINDOW", 10*time.Second, "the window of rate-limit")
	s.Int(&daily, "daily-limit", "HLGATE_SANDBOX_DAILY_LIMIT", 200000, "requests per UTC day it accepts per app and location")
	s.Bool(&quotaOff, "quota-off", "HLGATE_SANDBOX_QUOTA_OFF", false, "serve no 429s (arrivals are still recorded)")
	s.Bool(&revoke, "revoke-access-on-refresh", "HLGATE_SANDBOX_REVOKE_ACCESS_ON_REFRESH", false, "a refresh also revokes earlier access tokens of the install")
	s.Duration(&grace, "shutdown-grace", "HLGATE_SHUTDOWN_GRACE", 5*time.Second, "time in-flight requests get to finish on SIGTERM")
	s.String(&logLevel, "log-level", "HLGATE_LOG_LEVEL", "info", "debug, info, warn or error")
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, logLevel)
	if err != nil {
		return err
	}
	cfg = sandbox.Config{
		AccessTokenTTL: tokenTTL, RateLimit: rateLimit, RateWindow: window, DailyLimit: daily,
		QuotaOff: quotaOff, RevokeAccessOnRefresh: revoke,
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: sandbox.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(lis) }()
	fmt.Fprint(stdout, sandbox.DemoCredentials("http://"+loopbackAddr(lis.Addr())))
	log.Info("sandbox serving", "addr", lis.Addr().String())
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
