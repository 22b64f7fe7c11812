package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/tracing"
	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/tokenstore"
	"github.com/hlgate/hlgate/upstream"
)

// harness is hlgate wired as `hlgate serve` wires it — sandbox over real
// HTTP as the upstream, token manager, limiter, upstream chain, gRPC server
// on a loopback port and the HTTP gateway dialling it — for end-to-end tests
// of the services.
type harness struct {
	t       testing.TB
	sb      *sandbox.Sandbox
	hits    *hitCounter // every request that reached the sandbox, faulted or not
	sbURL   string
	mgr     *tokenstore.Manager
	srv     *Server
	grpc    *grpc.Server
	conn    *grpc.ClientConn // a caller's connection to the gRPC port
	httpURL string           // the HTTP port: gateway, OAuth pages, health

	contacts      hlgatev1.ContactsServiceClient
	opportunities hlgatev1.OpportunitiesServiceClient
	calendars     hlgatev1.CalendarsServiceClient
	payments      hlgatev1.PaymentsServiceClient
	tokens        hlgatev1.TokensServiceClient
	upstream      hlgatev1.UpstreamServiceClient
}

type harnessOptions struct {
	sandbox  sandbox.Config
	limiter  limiter.Config
	upstream upstream.Config
	keys     []CallerKey // nil: no caller auth
	// noInstall leaves the demo location uninstalled.
	noInstall bool
	// wrapUpstream, when set, stands between hlgate and the sandbox, to
	// answer as the live API does where the sandbox cannot (values of other
	// types than documented, undeclared keys).
	wrapUpstream func(http.Handler) http.Handler
	// redis, when set, backs tokens and quota with this redis-server, as
	// replicas do; nil keeps both in memory.
	redis *redistest.Server
	// maxMessageBytes bounds gRPC messages (Config.MaxMessageBytes); 0
	// keeps the default.
	maxMessageBytes int
	// redisHook, with redis, is added to the token store's and the
	// limiter's clients (to count round trips).
	redisHook redis.Hook
	// tracing, when set, traces the server's calls (tracing_test.go).
	tracing *tracing.Provider
}

// adminKey, writeKey and readKey are caller keys for tests with auth on.
const (
	adminKey = "test-admin-key"
	writeKey = "test-write-key"
	readKey  = "test-read-key"
	// demoAdminKey administers tokens of the demo location only.
	demoAdminKey = "test-demo-admin-key"
)

func testKeys() []CallerKey {
	return []CallerKey{
		{Name: "admin", SHA256: HashKey(adminKey), Locations: []string{"*"}, Access: "admin"},
		{Name: "writer", SHA256: HashKey(writeKey), Locations: []string{sandbox.DemoLocationID}, Access: "write"},
		{Name: "reader", SHA256: HashKey(readKey), Locations: []string{sandbox.DemoLocationID}, Access: "read"},
		{Name: "demo-admin", SHA256: HashKey(demoAdminKey), Locations: []string{sandbox.DemoLocationID}, Access: "admin"},
	}
}

// redisClient is a new client of opts.redis, with opts.redisHook.
func (opts harnessOptions) redisClient() *redis.Client {
	c := opts.redis.Client()
	if opts.redisHook != nil {
		c.AddHook(opts.redisHook)
	}
	return c
}

func newHarness(t testing.TB, opts harnessOptions) *harness {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	sb := sandbox.New(opts.sandbox)
	hits := &hitCounter{n: map[string]int{}}
	var upstreamHandler http.Handler = sb
	if opts.wrapUpstream != nil {
		upstreamHandler = opts.wrapUpstream(sb)
	}
	sbSrv := httptest.NewServer(hits.wrap(upstreamHandler))
	t.Cleanup(sbSrv.Close)

	oauth, err := tokenstore.NewHighLevelOAuth(sbSrv.URL, sandbox.DefaultClientID, sandbox.DefaultClientSecret, sbSrv.Client())
	if err != nil {
		t.Fatalf("oauth client: %v", err)
	}
	var store tokenstore.Store = tokenstore.NewMemoryStore()
	if opts.redis != nil {
		keys, err := tokenstore.NewKeyring(bytes.Repeat([]byte{7}, 32))
		if err != nil {
			t.Fatalf("keyring: %v", err)
		}
		if store, err = tokenstore.NewRedisStore(opts.redisClient(), keys, log); err != nil {
			t.Fatalf("redis store: %v", err)
		}
	}
	mgr, err := tokenstore.NewManager(store, oauth, tokenstore.Config{ClientID: sandbox.DefaultClientID, Logger: log})
	if err != nil {
		t.Fatalf("token manager: %v", err)
	}
	t.Cleanup(func() { _ = mgr.Close() })
	if !opts.noInstall {
		code, err := sb.MintCode(sandbox.CodeRequest{})
		if err != nil {
			t.Fatalf("mint code: %v", err)
		}
		if _, err := mgr.ExchangeCode(ctx, code, "", tokenstore.ExchangeOptions{}); err != nil {
			t.Fatalf("install demo location: %v", err)
		}
	}

	lcfg := opts.limiter
	lcfg.Logger = log
	var lim limiter.Limiter
	if opts.redis != nil {
		lim, err = limiter.NewRedis(opts.redisClient(), lcfg)
	} else {
		lim, err = limiter.NewLocal(lcfg)
	}
	if err != nil {
		t.Fatalf("limiter: %v", err)
	}
	ucfg := opts.upstream
	if ucfg.BackoffBase == 0 {
		ucfg.BackoffBase = 5 * time.Millisecond
	}
	metrics := NewMetrics()
	ucfg.OnResponse = metrics.OnUpstreamResponse
	chain := upstream.New(sbSrv.Client(), mgr, lim, ucfg)
	hl, err := highlevel.NewClientWithResponses(sbSrv.URL, highlevel.WithHTTPClient(chain))
	if err != nil {
		t.Fatalf("highlevel client: %v", err)
	}
	var keys *Keys
	if opts.keys != nil {
		if keys, err = NewKeys(opts.keys); err != nil {
			t.Fatalf("keys: %v", err)
		}
	}
	srv, err := New(Config{Logger: log, Upstream: hl, Tokens: mgr, Keys: keys, Metrics: metrics, MaxMessageBytes: opts.maxMessageBytes, Tracing: opts.tracing})
	if err != nil {
		t.Fatalf("server: %v", err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	g := srv.GRPCServer()
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)

	loop, err := srv.GatewayConn(lis.Addr().String())
	if err != nil {
		t.Fatalf("loopback conn: %v", err)
	}
	t.Cleanup(func() { _ = loop.Close() })
	h, err := srv.HTTPHandler(ctx, loop)
	if err != nil {
		t.Fatalf("http handler: %v", err)
	}
	httpSrv := httptest.NewServer(h)
	t.Cleanup(httpSrv.Close)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("caller conn: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	return &harness{
		t: t, sb: sb, hits: hits, sbURL: sbSrv.URL, mgr: mgr, srv: srv, grpc: g, conn: conn, httpURL: httpSrv.URL,
		contacts:      hlgatev1.NewContactsServiceClient(conn),
		opportunities: hlgatev1.NewOpportunitiesServiceClient(conn),
		calendars:     hlgatev1.NewCalendarsServiceClient(conn),
		payments:      hlgatev1.NewPaymentsServiceClient(conn),
		tokens:        hlgatev1.NewTokensServiceClient(conn),
		upstream:      hlgatev1.NewUpstreamServiceClient(conn),
	}
}

// ctx returns a call context with a deadline, and a caller key when given.
func (h *harness) ctx(key string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	h.t.Cleanup(cancel)
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	return ctx
}

// rest sends a request to the gateway and returns status, headers and body.
func (h *harness) rest(method, path, key string, body io.Reader) (int, http.Header, []byte) {
	h.t.Helper()
	hdr := http.Header{}
	if key != "" {
		hdr.Set("Authorization", "Bearer "+key)
	}
	return h.restHeaders(method, path, body, hdr)
}

// restHeaders is rest with any request headers.
func (h *harness) restHeaders(method, path string, body io.Reader, hdr http.Header) (int, http.Header, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.httpURL+path, body)
	if err != nil {
		h.t.Fatalf("request: %v", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

// hitCounter counts requests arriving at the sandbox by "METHOD /path",
// before any fault is applied, so tests can count resends.
type hitCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *hitCounter) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.n[r.Method+" "+r.URL.Path]++
		c.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// get returns the hits of "METHOD /path".
func (c *hitCounter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

// total returns every hit whose key starts with prefix.
func (c *hitCounter) total(prefix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.n {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}
