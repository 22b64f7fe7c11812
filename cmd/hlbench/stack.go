package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/gen/highlevel"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/server"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
)

// Quota lifted: the benchmark measures what hlgate adds, not the quota, so
// neither the sandbox nor the limiter may ever make a caller wait. The
// limiter still runs its full decision (the Redis script or the local slot
// log) for every call; only the numbers are out of reach. The window and
// guard keep their production defaults so the slot log has the length a
// busy key would give it.
// The daily numbers are equal on both sides, as HighLevel's and hlgate's
// are in production, so the limiter's reading of the sandbox's
// X-RateLimit-Daily-Remaining stays consistent with its own count.
const (
	liftedLimit = 1 << 30
	liftedDaily = 1 << 40
)

// callerKey is the API key the load generator presents: caller auth is on,
// as in production.
const callerKey = "hlbench-caller-key"

// stack is one sandbox and one hlgate wired as `hlgate serve` wires them
// (cmd/hlgate/serve.go, function wire), every listener on loopback in this
// process.
type stack struct {
	store      string // "memory" or "redis"
	sandboxURL string // the sandbox, for direct calls
	grpcAddr   string // hlgate's gRPC port
	httpURL    string // hlgate's HTTP port (REST gateway)
	proxyURL   string // the bare reverse proxy (newProxy), the baseline of the proxy mode
	quotaURL   string // the bare reverse proxy with gcraQuota, the quota-proxy mode; Redis stores only
	bareAddr   string // the bare gRPC proxy (newGRPCProxy), the gRPC-proxy mode
	token      string // the demo location's access token, for direct calls

	closers []func() error
}

func (s *stack) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
}

// newStack starts a sandbox and hlgate. redisAddr empty means memory stores
// (token store and limiter in-process); otherwise both live in that Redis.
func newStack(ctx context.Context, store, redisAddr string) (st *stack, err error) {
	st = &stack{store: store}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	// hlgate logs one JSON line per RPC at info level; production writes it
	// to stdout. Formatting is kept in the measurement, the I/O is not.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))

	sb := sandbox.New(sandbox.Config{QuotaOff: true, RateLimit: liftedLimit, DailyLimit: liftedDaily, MaxArrivals: 1000})
	sbURL, stopSB, err := serveHTTP(sb)
	if err != nil {
		return st, fmt.Errorf("sandbox: %w", err)
	}
	st.closers = append(st.closers, stopSB)
	st.sandboxURL = sbURL

	upstreamHTTP := &http.Client{Transport: upstreamTransport(), Timeout: 30 * time.Second}
	st.closers = append(st.closers, func() error { upstreamHTTP.CloseIdleConnections(); return nil })

	var (
		tokens  tokenstore.Store
		lim     limiter.Limiter
		pageKey []byte
	)
	lcfg := limiter.Config{Limit: liftedLimit, Daily: liftedDaily, Logger: log}
	if redisAddr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		st.closers = append(st.closers, rdb.Close)
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return st, fmt.Errorf("token key: %w", err)
		}
		pageKey = key
		keys, err := tokenstore.NewKeyring(key)
		if err != nil {
			return st, fmt.Errorf("keyring: %w", err)
		}
		rs, err := tokenstore.NewRedisStore(rdb, keys, log)
		if err != nil {
			return st, fmt.Errorf("redis token store: %w", err)
		}
		st.closers = append(st.closers, rs.Close)
		tokens = rs
		rl, err := limiter.NewRedis(rdb, lcfg)
		if err != nil {
			return st, fmt.Errorf("redis limiter: %w", err)
		}
		st.closers = append(st.closers, rl.Close)
		lim = rl
	} else {
		tokens = tokenstore.NewMemoryStore()
		if lim, err = limiter.NewLocal(lcfg); err != nil {
			return st, fmt.Errorf("local limiter: %w", err)
		}
	}

	metrics := server.NewMetrics()
	oauth, err := tokenstore.NewHighLevelOAuth(sbURL, sandbox.DefaultClientID, sandbox.DefaultClientSecret, upstreamHTTP)
	if err != nil {
		return st, err
	}
	mgr, err := tokenstore.NewManager(tokens, oauth, tokenstore.Config{
		ClientID: sandbox.DefaultClientID, Logger: log, Metrics: metrics.Tokens(),
	})
	if err != nil {
		return st, err
	}
	mgr.Start()
	st.closers = append(st.closers, mgr.Close)

	code, err := sb.MintCode(sandbox.CodeRequest{})
	if err != nil {
		return st, fmt.Errorf("mint an authorization code: %w", err)
	}
	if _, err := mgr.ExchangeCode(ctx, code, "", tokenstore.ExchangeOptions{}); err != nil {
		return st, fmt.Errorf("install the demo location: %w", err)
	}
	tok, err := mgr.Token(ctx, sandbox.DemoLocationID)
	if err != nil {
		return st, fmt.Errorf("demo location token: %w", err)
	}
	st.token = tok.AccessToken

	// The bare proxy beside hlgate, on its own loopback port and with its
	// own upstream transport, as a second facade process would be; with
	// Redis stores, a second one that also keeps a quota in that Redis.
	startProxy := func(name string, allow func(context.Context, string) error) (string, error) {
		px, pxTransport, err := newProxy(sbURL, map[string]string{sandbox.DemoLocationID: st.token}, allow)
		if err != nil {
			return "", err
		}
		st.closers = append(st.closers, func() error { pxTransport.CloseIdleConnections(); return nil })
		pxURL, stopPX, err := serveHTTP(px)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		st.closers = append(st.closers, stopPX)
		return pxURL, nil
	}
	if st.proxyURL, err = startProxy("bare proxy", nil); err != nil {
		return st, err
	}
	if redisAddr != "" {
		// A client of its own, as a second facade process would have.
		qdb := redis.NewClient(&redis.Options{Addr: redisAddr})
		st.closers = append(st.closers, qdb.Close)
		if st.quotaURL, err = startProxy("quota proxy", gcraQuota(qdb, redis_rate.Limit{Rate: liftedLimit, Burst: liftedLimit, Period: 10 * time.Second})); err != nil {
			return st, err
		}
	}

	// The bare gRPC proxy, likewise.
	bare, bareTransport := newGRPCProxy(sbURL, map[string]string{sandbox.DemoLocationID: st.token})
	st.closers = append(st.closers, func() error { bareTransport.CloseIdleConnections(); return nil })
	bareLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return st, fmt.Errorf("listen bare gRPC proxy: %w", err)
	}
	go func() { _ = bare.Serve(bareLis) }()
	st.closers = append(st.closers, func() error { bare.Stop(); return nil })
	st.bareAddr = bareLis.Addr().String()

	chain := upstream.New(upstreamHTTP, mgr, lim, upstream.Config{OnResponse: metrics.OnUpstreamResponse})
	hl, err := highlevel.NewClientWithResponses(sbURL, highlevel.WithHTTPClient(chain))
	if err != nil {
		return st, err
	}
	keys, err := server.NewKeys([]server.CallerKey{{
		Name: "hlbench", SHA256: server.HashKey(callerKey), Locations: []string{sandbox.DemoLocationID}, Access: "read",
	}})
	if err != nil {
		return st, fmt.Errorf("caller keys: %w", err)
	}
	srv, err := server.New(server.Config{Logger: log, Upstream: hl, Tokens: mgr, Keys: keys, PageKey: pageKey, Metrics: metrics})
	if err != nil {
		return st, err
	}

	grpcLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return st, fmt.Errorf("listen gRPC: %w", err)
	}
	g := srv.GRPCServer()
	go func() { _ = g.Serve(grpcLis) }()
	st.closers = append(st.closers, func() error { g.Stop(); return nil })
	st.grpcAddr = grpcLis.Addr().String()

	// As in serve: the gateway calls the gRPC server's handlers in process.
	loop, err := srv.GatewayConn(st.grpcAddr)
	if err != nil {
		return st, fmt.Errorf("loopback gRPC connection: %w", err)
	}
	st.closers = append(st.closers, loop.Close)
	h, err := srv.HTTPHandler(ctx, loop)
	if err != nil {
		return st, err
	}
	httpURL, stopHTTP, err := serveHTTP(h)
	if err != nil {
		return st, fmt.Errorf("hlgate HTTP: %w", err)
	}
	st.closers = append(st.closers, stopHTTP)
	st.httpURL = httpURL
	return st, nil
}

// upstreamTransport has the settings of wire's upstream client
// (cmd/hlgate/serve.go); hlgate and both bare proxies each get their own.
func upstreamTransport() *http.Transport {
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
}

// serveHTTP serves h on a free loopback port.
func serveHTTP(h http.Handler) (string, func() error, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("hlbench: HTTP server stopped", "err", err)
		}
	}()
	return "http://" + lis.Addr().String(), hs.Close, nil
}
