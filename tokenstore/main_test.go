package tokenstore

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/sandbox"
)

// logs captures every slog line of the whole test run; TestMain fails the
// run if any token a test has seen appears in it.
var logs lockedBuffer

// seen holds every secret the tests handled: tokens from grants, codes,
// PITs, client secrets.
var seen secretSet

func TestMain(m *testing.M) {
	var w io.Writer = &logs
	if os.Getenv("TOKENSTORE_TEST_LOGS") != "" {
		w = io.MultiWriter(&logs, os.Stderr)
	}
	slog.SetDefault(slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
	code := m.Run()
	if code == 0 && !testing.Short() {
		out := logs.Bytes()
		if leaked := seen.foundIn(out); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: captured logs contain %d token(s) or secret(s) seen by the tests\n", len(leaked))
			code = 1
		}
		// A run of the whole package must have exercised the check.
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" && (seen.len() == 0 || len(out) == 0) {
			fmt.Fprintf(os.Stderr, "FAIL: the log leak check saw %d secrets and %d bytes of logs; it proves nothing\n", seen.len(), len(out))
			code = 1
		}
	}
	os.Exit(code)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

type secretSet struct {
	mu sync.Mutex
	m  map[string]struct{}
}

func (s *secretSet) add(vs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]struct{})
	}
	for _, v := range vs {
		if len(v) >= 8 {
			s.m[v] = struct{}{}
		}
	}
}

func (s *secretSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *secretSet) foundIn(b []byte) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for v := range s.m {
		if bytes.Contains(b, []byte(v)) {
			out = append(out, v)
		}
	}
	return out
}

func TestLeakCheckFindsATokenInLogs(t *testing.T) {
	t.Parallel()
	var s secretSet
	s.add("tok-1234567890abcdef")
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("oops", "token", "tok-1234567890abcdef")
	if got := s.foundIn(buf.Bytes()); len(got) != 1 {
		t.Fatalf("leak check found %d secrets in a log line that has one", len(got))
	}
}

// recordingOAuth registers every secret that crosses the grant calls, and
// lets a test act between upstream's answer and the manager's write.
type recordingOAuth struct {
	OAuth
	afterRefresh  func(Grant)
	afterExchange func(context.Context)
}

func (o *recordingOAuth) ExchangeCode(ctx context.Context, code, redirectURI, userType string) (Grant, error) {
	seen.add(code)
	g, err := o.OAuth.ExchangeCode(ctx, code, redirectURI, userType)
	seen.add(g.AccessToken, g.RefreshToken)
	if err == nil && o.afterExchange != nil {
		o.afterExchange(ctx)
	}
	return g, err
}

func (o *recordingOAuth) Refresh(ctx context.Context, refreshToken, userType string) (Grant, error) {
	seen.add(refreshToken)
	g, err := o.OAuth.Refresh(ctx, refreshToken, userType)
	seen.add(g.AccessToken, g.RefreshToken)
	if err == nil && o.afterRefresh != nil {
		o.afterRefresh(g)
	}
	return g, err
}

func (o *recordingOAuth) LocationToken(ctx context.Context, agencyAccessToken, companyID, locationID string) (Grant, error) {
	seen.add(agencyAccessToken)
	g, err := o.OAuth.LocationToken(ctx, agencyAccessToken, companyID, locationID)
	seen.add(g.AccessToken, g.RefreshToken)
	return g, err
}

// testClock is the managers' clock: real time plus an offset a test moves
// forward to make tokens due without waiting a day.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// rig is N replicas (each a Manager with its own Redis client and store)
// sharing one real redis-server, with the sandbox as HighLevel over HTTP.
type rig struct {
	t        *testing.T
	sb       *sandbox.Sandbox
	api      *httptest.Server
	redis    *redistest.Server
	keys     *Keyring
	clk      *testClock
	mgrs     []*Manager
	counters []*Counters
	oauths   []*recordingOAuth
}

type rigOptions struct {
	aof     bool
	sandbox sandbox.Config
	config  func(*Config)
}

func testKey(t testing.TB, b byte) []byte {
	t.Helper()
	k := bytes.Repeat([]byte{b}, KeySize)
	k[0] ^= 0x5a
	return k
}

func newRig(t *testing.T, n int, opts rigOptions) *rig {
	t.Helper()
	seen.add(sandbox.DefaultClientSecret)
	r := &rig{t: t, clk: &testClock{}}
	r.sb = sandbox.New(opts.sandbox)
	r.api = httptest.NewServer(r.sb)
	t.Cleanup(r.api.Close)
	r.redis = redistest.Start(t, redistest.Options{AOF: opts.aof})
	keys, err := NewKeyring(testKey(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	r.keys = keys
	for i := 0; i < n; i++ {
		r.addManager(opts.config)
	}
	return r
}

func (r *rig) config(c *Counters, tweak func(*Config)) Config {
	cfg := Config{
		ClientID:         sandbox.DefaultClientID,
		LockTTL:          10 * time.Second,
		TokenCallTimeout: 3 * time.Second,
		StoreTimeout:     time.Second,
		WaitPatience:     5 * time.Second,
		PollInterval:     50 * time.Millisecond,
		ScanInterval:     time.Hour,
		PersistRetryMin:  20 * time.Millisecond,
		PersistRetryMax:  200 * time.Millisecond,
		CloseTimeout:     time.Second,
		Metrics:          c,
		Now:              r.clk.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	return cfg
}

func (r *rig) addManager(tweak func(*Config)) *Manager {
	t := r.t
	t.Helper()
	store, err := NewRedisStore(r.redis.Client(), r.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	hl, err := NewHighLevelOAuth(r.api.URL, sandbox.DefaultClientID, sandbox.DefaultClientSecret, r.api.Client())
	if err != nil {
		t.Fatal(err)
	}
	o := &recordingOAuth{OAuth: hl}
	c := &Counters{}
	m, err := NewManager(store, o, r.config(c, tweak))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	r.mgrs = append(r.mgrs, m)
	r.counters = append(r.counters, c)
	r.oauths = append(r.oauths, o)
	return m
}

// install runs the authorization-code grant for a location through manager 0.
func (r *rig) install(location string) Status {
	r.t.Helper()
	code, err := r.sb.MintCode(sandbox.CodeRequest{LocationID: location})
	if err != nil {
		r.t.Fatal(err)
	}
	st, err := r.mgrs[0].ExchangeCode(context.Background(), code, "", ExchangeOptions{})
	if err != nil {
		r.t.Fatalf("exchange code: %v", err)
	}
	return st
}

// callUpstream uses a token for a real sandbox call and returns the status.
func (r *rig) callUpstream(tok Token) int {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.api.URL+"/opportunities/pipelines?locationId="+tok.Subject, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Version", "2021-07-28")
	resp, err := r.api.Client().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (r *rig) stats() sandbox.Stats { return r.sb.Stats() }

func sum(cs []*Counters, f func(*Counters) int64) int64 {
	var n int64
	for _, c := range cs {
		n += f(c)
	}
	return n
}
