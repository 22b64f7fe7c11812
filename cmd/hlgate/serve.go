package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/gen/highlevel"
	"github.com/hlgate/hlgate/gen/optable"
	"github.com/hlgate/hlgate/internal/redislog"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/server"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
)

// defaultScopes are the scopes requested at install: every scope an
// operation hlgate serves (typed or through the passthrough) declares in the
// operation table, and the oauth scopes the token store's own calls need
// (reference facts §3). A new operation brings its scope with it.
var defaultScopes = strings.Join(tableScopes(), " ")

func tableScopes() []string {
	set := map[string]bool{"oauth.readonly": true, "oauth.write": true}
	for _, row := range optable.Ops {
		if row.Declared {
			for _, s := range row.Scopes {
				set[s] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// serveConfig is every setting of `hlgate serve`; each component's part is
// handed to it as that component's Config.
type serveConfig struct {
	// sandboxWebhooks: the in-process sandbox posts its webhooks here
	// (startSandbox).
	sandboxWebhooks bool

	GRPCAddr, HTTPAddr     string
	UpstreamURL            string
	AuthorizeURL           string
	PublicURL              string
	ClientID, ClientSecret string
	Scopes                 string
	RedisURL               string
	TokenKey, TokenOldKeys string
	RateLimit, DailyLimit  int
	RateWindow, RateGuard  time.Duration
	MaxQueueWait           time.Duration
	LimiterFallback        string
	Replicas               int
	APIKeysFile            string
	InsecureNoAuth         bool
	Sandbox                bool
	ShutdownGrace          time.Duration
	UpstreamTimeout        time.Duration
	RefreshAhead           time.Duration
	LogLevel               string
	SandboxTokenTTL        time.Duration
	SandboxQuotaOff        bool
	HTTP                   server.HTTPLimits
	GRPCMaxStreams         int
	TokenIdleRelease       time.Duration
	PendingInstallTTL      time.Duration
	CallbackRate           int
	Webhooks               webhookSettings
}

func serveSettings(env func(string) string) (*settings, *serveConfig) {
	c := &serveConfig{}
	s := newSettings("hlgate serve", env)
	s.String(&c.GRPCAddr, "grpc-addr", "HLGATE_GRPC_ADDR", ":9090", "gRPC listen address")
	s.String(&c.HTTPAddr, "http-addr", "HLGATE_HTTP_ADDR", ":8080", "REST gateway, OAuth pages, health and metrics listen address")
	s.String(&c.UpstreamURL, "upstream-url", "HLGATE_UPSTREAM_URL", "https://services.leadconnectorhq.com", "HighLevel API base URL")
	s.String(&c.AuthorizeURL, "authorize-url", "HLGATE_AUTHORIZE_URL", tokenstore.DefaultAuthorizeURL, "OAuth consent page")
	s.String(&c.PublicURL, "public-url", "HLGATE_PUBLIC_URL", "http://localhost:8080", "external base URL of this service; the OAuth redirect URI is it + /oauth/callback")
	s.String(&c.ClientID, "client-id", "HLGATE_CLIENT_ID", "", "the marketplace app's client id")
	s.Secret(&c.ClientSecret, "client-secret", "HLGATE_CLIENT_SECRET", "the marketplace app's client secret")
	s.String(&c.Scopes, "scopes", "HLGATE_SCOPES", defaultScopes, "space-separated scopes requested at install")
	s.Secret(&c.RedisURL, "redis-url", "HLGATE_REDIS_URL", "Redis URL (redis:// or rediss://; comma-separated addresses for a cluster); empty = in-process stores, one replica")
	s.Secret(&c.TokenKey, "token-key", "HLGATE_TOKEN_KEY", "base64 of 32 bytes that encrypts tokens at rest; required with Redis")
	s.Secret(&c.TokenOldKeys, "token-old-keys", "HLGATE_TOKEN_OLD_KEYS", "comma-separated base64 keys still accepted for decryption during key rotation")
	s.Int(&c.RateLimit, "rate-limit", "HLGATE_RATE_LIMIT", 100, "requests per window to HighLevel per app and location")
	s.Duration(&c.RateWindow, "rate-window", "HLGATE_RATE_WINDOW", 10*time.Second, "the quota's sliding window")
	s.Int(&c.DailyLimit, "daily-limit", "HLGATE_DAILY_LIMIT", 200000, "requests per UTC day to HighLevel per app and location")
	s.Duration(&c.RateGuard, "rate-guard", "HLGATE_RATE_GUARD", 500*time.Millisecond, "guard band added to the window, for the gap between deciding and HighLevel counting")
	s.Duration(&c.MaxQueueWait, "max-queue-wait", "HLGATE_MAX_QUEUE_WAIT", 30*time.Second, "longest wait for a quota slot when a call has no deadline")
	s.String(&c.LimiterFallback, "limiter-fallback", "HLGATE_LIMITER_FALLBACK", "", "when Redis is unreachable: empty = fail closed; local-share = each replica uses limit/replicas")
	s.Int(&c.Replicas, "replicas", "HLGATE_REPLICAS", 1, "number of replicas, for the local-share fallback")
	s.String(&c.APIKeysFile, "api-keys-file", "HLGATE_API_KEYS_FILE", "", "callers' keys (JSON: name, sha256, locations, access)")
	s.Bool(&c.InsecureNoAuth, "insecure-no-auth", "HLGATE_INSECURE_NO_AUTH", false, "true = no caller auth (development only)")
	s.Bool(&c.Sandbox, "sandbox", "HLGATE_SANDBOX", false, "run against an in-process sandbox with a demo location installed (implies insecure-no-auth and memory stores unless a Redis URL is set)")
	s.Int64(&c.HTTP.MaxBodyBytes, "http-max-body", "HLGATE_HTTP_MAX_BODY", server.DefaultHTTPLimits.MaxBodyBytes, "largest REST request body in bytes; larger ones get 413")
	s.Duration(&c.HTTP.ReadTimeout, "http-read-timeout", "HLGATE_HTTP_READ_TIMEOUT", server.DefaultHTTPLimits.ReadTimeout, "longest time to read a whole HTTP request, body included")
	s.Duration(&c.HTTP.WriteTimeout, "http-write-timeout", "HLGATE_HTTP_WRITE_TIMEOUT", server.DefaultHTTPLimits.WriteTimeout, "longest HTTP exchange from request headers to the end of the response; must exceed max-queue-wait plus upstream-timeout")
	s.Duration(&c.HTTP.IdleTimeout, "http-idle-timeout", "HLGATE_HTTP_IDLE_TIMEOUT", server.DefaultHTTPLimits.IdleTimeout, "an idle keep-alive connection is closed after this long")
	s.Int(&c.GRPCMaxStreams, "grpc-max-streams", "HLGATE_GRPC_MAX_STREAMS", 1000, "most calls one gRPC connection may have in flight")
	tdef := tokenstore.DefaultConfig()
	s.Duration(&c.TokenIdleRelease, "token-idle-release", "HLGATE_TOKEN_IDLE_RELEASE", tdef.IdleRelease, "forget a subject's cached token after this long without a call (it is read again on its next use); negative keeps every subject")
	s.Duration(&c.PendingInstallTTL, "pending-install-ttl", "HLGATE_PENDING_INSTALL_TTL", tdef.PendingInstallTTL, "how long a marketplace install that would narrow the stored scopes waits for an admin's TokensService.ConfirmInstall")
	s.Int(&c.CallbackRate, "oauth-callback-rate", "HLGATE_OAUTH_CALLBACK_RATE", 10, "OAuth callbacks redeemed per second by this process (bursts of twice as many); more get 429")
	webhookFlags(s, &c.Webhooks)
	s.Duration(&c.ShutdownGrace, "shutdown-grace", "HLGATE_SHUTDOWN_GRACE", 20*time.Second, "time in-flight calls get to finish on SIGTERM")
	s.Duration(&c.UpstreamTimeout, "upstream-timeout", "HLGATE_UPSTREAM_TIMEOUT", 30*time.Second, "longest single HighLevel request when the caller set no deadline")
	s.Duration(&c.RefreshAhead, "refresh-ahead", "HLGATE_REFRESH_AHEAD", 5*time.Minute, "refresh OAuth tokens this long before they expire")
	s.String(&c.LogLevel, "log-level", "HLGATE_LOG_LEVEL", "info", "debug, info, warn or error")
	s.Duration(&c.SandboxTokenTTL, "sandbox-token-ttl", "HLGATE_SANDBOX_TOKEN_TTL", 86399*time.Second, "with --sandbox: access token lifetime the sandbox issues")
	s.Bool(&c.SandboxQuotaOff, "sandbox-quota-off", "HLGATE_SANDBOX_QUOTA_OFF", false, "with --sandbox: the sandbox serves no 429s (for benchmarks)")
	return s, c
}

func serve(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	s, c := serveSettings(env)
	s.fs.SetOutput(stderr)
	if err := s.parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, c.LogLevel)
	if err != nil {
		return err
	}
	// go-redis logs dial failures on its own; they join the JSON stream.
	redislog.Use(log)
	tp, flushTraces, err := startTracing(ctx, env, log)
	if err != nil {
		return err
	}
	defer flushTraces() // after the servers stopped: their last spans too

	var (
		sbServer *http.Server
		sb       *sandbox.Sandbox
	)
	if c.Sandbox {
		sbServer, sb, err = startSandbox(c, log)
		if err != nil {
			return err
		}
		defer sbServer.Close()
		sandboxLoopback(c, s, log)
	}
	if err := c.check(); err != nil {
		return err
	}

	grpcLis, err := net.Listen("tcp", c.GRPCAddr)
	if err != nil {
		return fmt.Errorf("listen gRPC on %s: %w", c.GRPCAddr, err)
	}
	defer grpcLis.Close()
	httpLis, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen HTTP on %s: %w", c.HTTPAddr, err)
	}
	defer httpLis.Close()
	publicSet := env("HLGATE_PUBLIC_URL") != ""
	s.fs.Visit(func(f *flag.Flag) { publicSet = publicSet || f.Name == "public-url" })
	if c.Sandbox && !publicSet {
		// The demo's redirect URI must reach this process's callback.
		c.PublicURL = "http://" + loopbackAddr(httpLis.Addr())
	}

	app, err := wire(c, log, tp)
	if err != nil {
		return err
	}
	defer app.close()

	g := app.srv.GRPCServer()
	errc := make(chan error, 2)
	go func() { errc <- g.Serve(grpcLis) }()

	// The gateway calls the gRPC server's handlers in process (streams over
	// loopback), so every REST call passes the same interceptors as a gRPC
	// call.
	loop, err := app.srv.GatewayConn(loopbackAddr(grpcLis.Addr()))
	if err != nil {
		return fmt.Errorf("loopback gRPC connection: %w", err)
	}
	defer loop.Close()
	h, err := app.srv.HTTPHandler(ctx, loop)
	if err != nil {
		return err
	}
	hs := app.srv.HTTPServer(h, slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	go func() { errc <- hs.Serve(httpLis) }()
	log.Info("hlgate serving", "grpc", grpcLis.Addr().String(), "http", httpLis.Addr().String(),
		"redis", c.RedisURL != "", "auth", !c.InsecureNoAuth)

	if sb != nil && c.sandboxWebhooks {
		// The sandbox's writes post their webhooks to this process.
		if err := sb.SetWebhookURL("http://" + loopbackAddr(httpLis.Addr()) + "/webhooks/highlevel"); err != nil {
			return err
		}
	}
	if c.Sandbox {
		if err := installDemo(ctx, "http://"+loopbackAddr(httpLis.Addr())); err != nil {
			return fmt.Errorf("install the demo location: %w", err)
		}
		printDemo(ctx, stdout, grpcLis.Addr(), httpLis.Addr(), loop, c.sandboxWebhooks)
	}

	select {
	case <-ctx.Done():
		log.Info("shutting down", "grace", c.ShutdownGrace.String())
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	}
	// Stop taking new work, let in-flight calls finish within the grace.
	app.srv.Shutdown()
	graceCtx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	httpDone := make(chan error, 1)
	go func() { httpDone <- hs.Shutdown(graceCtx) }()
	grpcDone := make(chan struct{})
	go func() { g.GracefulStop(); close(grpcDone) }()
	select {
	case <-grpcDone:
	case <-graceCtx.Done():
		log.Warn("grace period over; closing remaining gRPC calls")
		g.Stop()
	}
	if err := <-httpDone; err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("HTTP shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// check refuses configurations that would be unsafe or cannot work.
func (c *serveConfig) check() error {
	var problems []string
	if c.ClientID == "" || c.ClientSecret == "" {
		problems = append(problems, "HLGATE_CLIENT_ID and HLGATE_CLIENT_SECRET are required (the marketplace app's credentials)")
	}
	if c.RedisURL != "" && c.TokenKey == "" {
		problems = append(problems, "HLGATE_TOKEN_KEY is required with Redis: tokens are stored encrypted (generate one with: openssl rand -base64 32)")
	}
	if c.APIKeysFile == "" && !c.InsecureNoAuth {
		problems = append(problems, "set HLGATE_API_KEYS_FILE (callers' keys), or HLGATE_INSECURE_NO_AUTH=true for development")
	}
	if c.HTTP.WriteTimeout <= c.MaxQueueWait+c.UpstreamTimeout {
		problems = append(problems, fmt.Sprintf("HLGATE_HTTP_WRITE_TIMEOUT (%s) must exceed HLGATE_MAX_QUEUE_WAIT plus HLGATE_UPSTREAM_TIMEOUT (%s), or REST calls are cut off while they wait", c.HTTP.WriteTimeout, c.MaxQueueWait+c.UpstreamTimeout))
	}
	if c.CallbackRate <= 0 || c.PendingInstallTTL <= 0 {
		problems = append(problems, "HLGATE_OAUTH_CALLBACK_RATE and HLGATE_PENDING_INSTALL_TTL must be positive")
	}
	if c.HTTP.MaxBodyBytes <= 0 || c.HTTP.ReadTimeout <= 0 || c.HTTP.IdleTimeout <= 0 || c.GRPCMaxStreams <= 0 {
		problems = append(problems, "HLGATE_HTTP_MAX_BODY, HLGATE_HTTP_READ_TIMEOUT, HLGATE_HTTP_IDLE_TIMEOUT and HLGATE_GRPC_MAX_STREAMS must be positive")
	}
	problems = append(problems, c.Webhooks.check()...)
	switch c.LimiterFallback {
	case "", string(limiter.LocalShare):
	default:
		problems = append(problems, fmt.Sprintf("HLGATE_LIMITER_FALLBACK=%q: use empty (fail closed) or local-share", c.LimiterFallback))
	}
	if len(problems) > 0 {
		return fmt.Errorf("cannot start:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}

// app is hlgate wired up: every component, and how to close them.
type app struct {
	srv     *server.Server
	closers []func() error
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		_ = a.closers[i]()
	}
}

// wire builds every component from the settings, top to bottom.
func wire(c *serveConfig, log *slog.Logger, tp *tracing.Provider) (*app, error) {
	a := &app{}
	metrics := server.NewMetrics()
	upstreamHTTP := &http.Client{Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}, Timeout: c.UpstreamTimeout}

	// Stores: Redis when configured, else in-process (one replica).
	var (
		lim     limiter.Limiter
		ready   = map[string]func(context.Context) error{}
		pageKey []byte
	)
	lcfg := limiter.Config{
		Limit: c.RateLimit, Window: c.RateWindow, Daily: int64(c.DailyLimit), Guard: c.RateGuard,
		MaxQueueWait: c.MaxQueueWait, Fallback: limiter.Fallback(c.LimiterFallback), Replicas: c.Replicas, Logger: log,
	}
	var rdb redis.UniversalClient // nil: in-process stores, one replica
	if c.RedisURL != "" {
		var err error
		if rdb, err = redisClient(c.RedisURL); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, rdb.Close)
		rl, err := limiter.NewRedis(rdb, lcfg)
		if err != nil {
			return nil, err
		}
		// Closed before the Redis client (closers run in reverse).
		a.closers = append(a.closers, rl.Close)
		lim = rl
		ready["redis"] = func(ctx context.Context) error {
			if err := rdb.Ping(ctx).Err(); err != nil {
				return errors.New("redis unreachable")
			}
			return nil
		}
		// An allkeys-* eviction policy may silently drop a token record,
		// and with it the only valid refresh token: say so loudly at start,
		// and never be ready on it.
		ready["redis_eviction_policy"] = func(ctx context.Context) error {
			return evictionReadiness(ctx, rdb, log)
		}
		checkCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_ = evictionReadiness(checkCtx, rdb, log)
		cancel()
	} else {
		ll, err := limiter.NewLocal(lcfg)
		if err != nil {
			return nil, err
		}
		lim = ll
	}
	store, err := tokenstore.OpenStore(rdb, c.TokenKey, c.TokenOldKeys, log)
	if err != nil {
		return nil, err
	}
	if cl, ok := store.(io.Closer); ok {
		// Closed after the manager (closers run in reverse).
		a.closers = append(a.closers, cl.Close)
	}
	if c.TokenKey != "" {
		// Page tokens are sealed with a key derived from the token key, so
		// every replica accepts every other replica's page tokens.
		if pageKey, err = tokenstore.DecodeKey(c.TokenKey); err != nil {
			return nil, fmt.Errorf("HLGATE_TOKEN_KEY: %w", err)
		}
	}

	oauth, err := tokenstore.NewHighLevelOAuth(c.UpstreamURL, c.ClientID, c.ClientSecret, upstreamHTTP)
	if err != nil {
		return nil, err
	}
	mgr, err := tokenstore.NewManager(store, oauth, tokenstore.Config{
		ClientID: c.ClientID, RefreshAhead: c.RefreshAhead, Logger: log, Metrics: metrics.Tokens(),
		IdleRelease: c.TokenIdleRelease, PendingInstallTTL: c.PendingInstallTTL,
	})
	if err != nil {
		return nil, err
	}
	mgr.Start()
	a.closers = append(a.closers, mgr.Close)

	redirect, err := tokenstore.RedirectURI(c.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("HLGATE_PUBLIC_URL: %w", err)
	}
	pages, err := tokenstore.NewInstallHandler(mgr, tokenstore.InstallConfig{
		ClientID: c.ClientID, AuthorizeURL: c.AuthorizeURL, RedirectURI: redirect,
		Scopes: tokenstore.ParseScopes(c.Scopes), StateKey: tokenstore.StateKey(c.ClientSecret), Logger: log,
		CallbackRate: float64(c.CallbackRate), CallbackBurst: 2 * c.CallbackRate,
	})
	if err != nil {
		return nil, err
	}

	chain := upstream.New(upstreamHTTP, mgr, lim, upstream.Config{OnResponse: metrics.OnUpstreamResponse})
	hl, err := highlevel.NewClientWithResponses(c.UpstreamURL, highlevel.WithHTTPClient(chain))
	if err != nil {
		return nil, err
	}
	var keys *server.Keys
	if c.APIKeysFile != "" {
		if keys, err = server.LoadKeys(c.APIKeysFile); err != nil {
			return nil, err
		}
	} else {
		log.Warn("caller authentication is OFF (HLGATE_INSECURE_NO_AUTH): any caller can use every location; never run this way in production")
	}
	hooks, delivery, err := webhookReceiver(c.Webhooks, tokenstore.AppID(c.ClientID), rdb, mgr, metrics.Registry, log)
	if err != nil {
		return nil, err
	}
	var events server.Events // nil (not a nil *Delivery): EVENTS_DISABLED
	if delivery != nil {
		// Closed before the Redis client (closers run in reverse).
		a.closers = append(a.closers, func() error { delivery.Close(); return nil })
		events = delivery
	}
	srv, err := server.New(server.Config{
		Logger: log, Upstream: hl, Tokens: mgr, Keys: keys, PageKey: pageKey,
		OAuthPages: pages, Webhooks: hooks, Events: events, ReadyChecks: ready, Metrics: metrics,
		HTTP: c.HTTP, MaxConcurrentStreams: uint32(c.GRPCMaxStreams), Tracing: tp,
	})
	if err != nil {
		return nil, err
	}
	a.srv = srv
	return a, nil
}

// evictionReadiness checks Redis's eviction policy for /readyz and at start.
// An allkeys-* policy is an error (logged at error level); a Redis that
// refuses CONFIG (managed services) cannot be checked, which is logged as a
// warning and does not make hlgate unready.
func evictionReadiness(ctx context.Context, rdb redis.UniversalClient, log *slog.Logger) error {
	err := tokenstore.CheckEvictionPolicy(ctx, rdb)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tokenstore.ErrEvictionPolicy):
		log.Error("redis may evict token records: set maxmemory-policy noeviction (or a volatile-* policy); hlgate reports not ready until then", "err", err)
		// /readyz is unauthenticated: the policy, not the address.
		return errors.New("maxmemory-policy allkeys-* can evict token records; use noeviction")
	case errors.Is(err, tokenstore.ErrEvictionPolicyUnknown):
		log.Warn("cannot read redis's maxmemory-policy; make sure it is noeviction or volatile-*", "err", err)
		return nil
	default:
		return errors.New("redis unreachable")
	}
}

// redisClient builds a UniversalClient: one URL for a single server, several
// comma-separated URLs (or host:port addresses) for a cluster.
func redisClient(raw string) (redis.UniversalClient, error) {
	parts := strings.Split(raw, ",")
	first, err := redis.ParseURL(strings.TrimSpace(parts[0]))
	if err != nil {
		return nil, fmt.Errorf("HLGATE_REDIS_URL: %w", err)
	}
	if len(parts) == 1 {
		return redis.NewClient(first), nil
	}
	addrs := make([]string, 0, len(parts))
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.Host != "" {
			p = u.Host
		}
		addrs = append(addrs, p)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs, Username: first.Username, Password: first.Password, TLSConfig: first.TLSConfig,
	}), nil
}

// startSandbox runs the sandbox in-process on a free loopback port and
// points the settings at it. Without a webhook key given, the receiver
// trusts the sandbox's own key (sandbox mode only) and the caller points
// the sandbox's webhooks at this process.
func startSandbox(c *serveConfig, log *slog.Logger) (*http.Server, *sandbox.Sandbox, error) {
	sb := sandbox.New(sandbox.Config{AccessTokenTTL: c.SandboxTokenTTL, QuotaOff: c.SandboxQuotaOff})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("sandbox listener: %w", err)
	}
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(lis) }()
	base := "http://" + lis.Addr().String()
	c.UpstreamURL = base
	c.AuthorizeURL = base + "/oauth/chooselocation"
	c.ClientID, c.ClientSecret = sandbox.DefaultClientID, sandbox.DefaultClientSecret
	if c.APIKeysFile == "" {
		c.InsecureNoAuth = true
	}
	switch {
	case c.Webhooks.Disabled:
	case c.Webhooks.PublicKey == "":
		// The sandbox signs its webhooks with its own key: trusting it here
		// is right only because upstream is the sandbox.
		c.Webhooks.PublicKey = sb.WebhookPublicKeyPEM()
		c.sandboxWebhooks = true
	default:
		log.Warn("HLGATE_WEBHOOK_PUBLIC_KEY is set: the sandbox's own webhooks (signed with its key) are not sent to this process")
	}
	log.Warn("SANDBOX MODE: upstream is an in-process fake of HighLevel, not the real API", "sandbox", base)
	return hs, sb, nil
}

// sandboxLoopback keeps a sandbox (whose caller auth is usually off) off
// the network: an address left at its default listens on 127.0.0.1 only.
// An address given as a flag or in the environment is used as given.
func sandboxLoopback(c *serveConfig, s *settings, log *slog.Logger) {
	for _, a := range []struct {
		addr      *string
		flag, env string
	}{
		{&c.GRPCAddr, "grpc-addr", "HLGATE_GRPC_ADDR"},
		{&c.HTTPAddr, "http-addr", "HLGATE_HTTP_ADDR"},
	} {
		if s.given(a.flag, a.env) {
			if host, _, err := net.SplitHostPort(*a.addr); err == nil && c.InsecureNoAuth && !isLoopbackHost(host) {
				log.Warn("SANDBOX MODE: listening beyond this machine with caller auth off", a.env, *a.addr)
			}
			continue
		}
		_, port, err := net.SplitHostPort(*a.addr)
		if err != nil {
			continue // c.check names the bad address
		}
		*a.addr = net.JoinHostPort("127.0.0.1", port)
		log.Info("SANDBOX MODE: listening on 127.0.0.1 only; set "+a.env+" (--"+a.flag+"), e.g. :"+port+", to listen on every interface", a.env, *a.addr)
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func loopbackAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		_, port, _ := net.SplitHostPort(a.String())
		return net.JoinHostPort("127.0.0.1", port)
	}
	return a.String()
}
