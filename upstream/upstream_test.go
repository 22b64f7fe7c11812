package upstream

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/tokenstore"
)

// fakeTokens hands out "tok-N" and counts forced refreshes.
type fakeTokens struct {
	mu      sync.Mutex
	gen     int
	refresh int
}

func (f *fakeTokens) Token(context.Context, string) (tokenstore.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return tokenstore.Token{AccessToken: "tok-" + string(rune('0'+f.gen)), App: "app"}, nil
}

func (f *fakeTokens) ForceRefresh(_ context.Context, _, rejected string) (tokenstore.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refresh++
	f.gen++
	return tokenstore.Token{AccessToken: "tok-" + string(rune('0'+f.gen)), App: "app"}, nil
}

// fakeQuota grants at once and records what it was told.
type fakeQuota struct {
	waits    atomic.Int32
	observed atomic.Int32
	lastCode atomic.Int32
}

func (q *fakeQuota) Wait(context.Context, limiter.Key) (limiter.Permit, error) {
	q.waits.Add(1)
	return limiter.Permit{}, nil
}

func (q *fakeQuota) Observe(_ context.Context, _ limiter.Key, status int, _ http.Header) {
	q.observed.Add(1)
	q.lastCode.Store(int32(status))
}

func newChain(t *testing.T, h http.HandlerFunc) (*Client, *httptest.Server, *fakeTokens, *fakeQuota) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	tok, q := &fakeTokens{}, &fakeQuota{}
	return New(srv.Client(), tok, q, Config{BackoffBase: time.Millisecond}), srv, tok, q
}

func do(t *testing.T, c *Client, method, url, body string, ctx context.Context) (*http.Response, error) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(WithSubject(ctx, "loc1"), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func TestVersionHeaderByProduct(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	var mu sync.Mutex
	c, srv, _, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = r.Header.Get("Version") + " " + r.Header.Get("Authorization")
		mu.Unlock()
		w.WriteHeader(200)
	})
	for _, p := range []string{"/contacts/x", "/calendars/events", "/opportunities/search", "/payments/orders"} {
		resp, err := do(t, c, http.MethodGet, srv.URL+p, "", context.Background())
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		resp.Body.Close()
	}
	want := map[string]string{
		"/contacts/x":           "2021-07-28 Bearer tok-0",
		"/calendars/events":     "2021-04-15 Bearer tok-0",
		"/opportunities/search": "2021-07-28 Bearer tok-0",
		"/payments/orders":      "2021-07-28 Bearer tok-0",
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: Version and Authorization = %q, want %q", p, got[p], w)
		}
	}
	// A call that names its operation gets the operation's Version, whatever
	// its path: the table decides, not the path prefix.
	resp, err := do(t, c, http.MethodGet, srv.URL+"/contacts/y", "", WithOperation(context.Background(), &Operation{ID: "x", Version: "2099-01-01", Safe: true}))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got["/contacts/y"] != "2099-01-01 Bearer tok-0" {
		t.Errorf("with an operation: %q, want its Version", got["/contacts/y"])
	}
}

func TestUnauthorizedForcesOneRefreshAndResendsTheSameBody(t *testing.T) {
	t.Parallel()
	var bodies []string
	var mu sync.Mutex
	c, srv, tok, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer tok-0" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"statusCode":401,"message":"Invalid token: access token is invalid","error":"Unauthorized"}`))
			return
		}
		w.WriteHeader(http.StatusCreated)
	})
	resp, err := do(t, c, http.MethodPost, srv.URL+"/contacts/", `{"firstName":"A"}`, context.Background())
	if err != nil {
		t.Fatalf("POST after one 401: %v", err)
	}
	resp.Body.Close()
	if tok.refresh != 1 || len(bodies) != 2 || bodies[0] != bodies[1] || bodies[1] != `{"firstName":"A"}` {
		t.Fatalf("refreshes %d, bodies %q", tok.refresh, bodies)
	}
}

// TestScope401DoesNotReportTheToken: a 401 for a missing scope or a route
// closed to the token is returned as it is; the token is not reported as
// rejected (no forced refresh), because a new token would not help and a
// Private Integration Token would be marked needs_reauth.
func TestScope401DoesNotReportTheToken(t *testing.T) {
	t.Parallel()
	for _, msg := range []string{"The token is not authorized for this scope.", "This route is not yet supported by the IAM Service"} {
		c, srv, tok, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"statusCode":401,"message":"` + msg + `","error":"Unauthorized"}`))
		})
		_, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", context.Background())
		var ue *Error
		if !errors.As(err, &ue) || ue.Status != 401 || ue.Message != msg {
			t.Fatalf("%q: err = %v", msg, err)
		}
		if tok.refresh != 0 {
			t.Fatalf("%q: %d forced refreshes, want 0", msg, tok.refresh)
		}
	}
}

func TestSecond401IsReturnedAsError(t *testing.T) {
	t.Parallel()
	c, srv, tok, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"statusCode":401,"message":"Invalid token","error":"Unauthorized","traceId":"tr-1"}`))
	})
	_, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", context.Background())
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 401 || ue.TraceID != "tr-1" || ue.Message != "Invalid token" {
		t.Fatalf("err = %#v", err)
	}
	if tok.refresh != 1 {
		t.Fatalf("refreshes = %d, want exactly 1", tok.refresh)
	}
}

func TestTooManyRequestsIsRetriedWhileTheDeadlineAllows(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	c, srv, _, q := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(200)
	})
	resp, err := do(t, c, http.MethodPost, srv.URL+"/contacts/", `{}`, context.Background())
	if err != nil {
		t.Fatalf("after one 429: %v", err)
	}
	resp.Body.Close()
	if n.Load() != 2 || q.waits.Load() != 2 || q.observed.Load() != 2 {
		t.Fatalf("sends %d, quota waits %d, observations %d; want 2 each", n.Load(), q.waits.Load(), q.observed.Load())
	}

	// With a deadline shorter than Retry-After the 429 comes back at once.
	var m atomic.Int32
	c2, srv2, _, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		m.Add(1)
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = do(t, c2, http.MethodGet, srv2.URL+"/contacts/x", "", ctx)
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 429 || ue.RetryAfter != 5*time.Second || m.Load() != 1 {
		t.Fatalf("err = %v, sends %d", err, m.Load())
	}
}

func TestServerErrorsRetryReadsOnly(t *testing.T) {
	t.Parallel()
	var gets, posts atomic.Int32
	c, srv, _, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			gets.Add(1)
		} else {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusBadGateway)
	})
	_, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", context.Background())
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 502 {
		t.Fatalf("GET err = %v", err)
	}
	_, err = do(t, c, http.MethodPost, srv.URL+"/contacts/", "{}", context.Background())
	if !errors.As(err, &ue) || ue.Status != 502 {
		t.Fatalf("POST err = %v", err)
	}
	// A search is a POST whose operation is safe: resent like a read.
	_, err = do(t, c, http.MethodPost, srv.URL+"/contacts/search", "{}",
		WithOperation(context.Background(), &Operation{ID: "search-contacts-advanced", Version: "2021-07-28", Safe: true}))
	if !errors.As(err, &ue) {
		t.Fatalf("search err = %v", err)
	}
	// A DELETE whose operation is not safe is sent once, although DELETE
	// is idempotent by method: the operation decides, not the method.
	_, err = do(t, c, http.MethodDelete, srv.URL+"/contacts/x", "",
		WithOperation(context.Background(), &Operation{ID: "delete-contact", Version: "2021-07-28", Safe: false}))
	if !errors.As(err, &ue) {
		t.Fatalf("delete err = %v", err)
	}
	if gets.Load() != 3 || posts.Load() != 1+3+1 {
		t.Fatalf("GET sent %d times (want 3), others %d (want 1 create + 3 searches + 1 delete)", gets.Load(), posts.Load())
	}
}

func TestRefusedConnectionIsRetriedEvenForWrites(t *testing.T) {
	t.Parallel()
	// A port with nothing listening: the request never leaves, so even a
	// POST may be tried again, and the limiter slot is given back.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	lim, err := limiter.NewLocal(limiter.Config{Limit: 10, Window: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var sends atomic.Int32
	c := New(doerFunc(func(r *http.Request) (*http.Response, error) {
		sends.Add(1)
		return http.DefaultClient.Do(r)
	}), &fakeTokens{}, lim, Config{BackoffBase: time.Millisecond})
	_, err = do(t, c, http.MethodPost, "http://"+addr+"/contacts/", "{}", context.Background())
	var ue *Error
	if !errors.As(err, &ue) || ue.Status != 0 {
		t.Fatalf("err = %v", err)
	}
	if sends.Load() != 3 {
		t.Fatalf("attempts = %d, want 3", sends.Load())
	}
	st, err := lim.State(context.Background(), limiter.Key{App: "app", Resource: "loc1"})
	if err != nil {
		t.Fatal(err)
	}
	if st.InWindow != 0 || st.DailyUsed != 0 {
		t.Fatalf("after 3 refused sends the quota holds %d in the window, %d today; want every slot given back", st.InWindow, st.DailyUsed)
	}
}

func TestResponseSizeIsBounded(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 100)))
	}))
	t.Cleanup(srv.Close)
	c := New(srv.Client(), &fakeTokens{}, &fakeQuota{}, Config{MaxResponseBytes: 64})
	resp, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("read err = %v, want ErrResponseTooLarge", err)
	}
}

func TestNoSubjectIsAnError(t *testing.T) {
	t.Parallel()
	c := New(http.DefaultClient, &fakeTokens{}, &fakeQuota{}, Config{})
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/contacts/x", nil)
	if _, err := c.Do(req); !errors.Is(err, ErrNoSubject) {
		t.Fatalf("err = %v", err)
	}
}

// slowQuota holds every caller for a while, during which the token is
// refreshed elsewhere.
type slowQuota struct {
	fakeQuota
	during func()
}

func (q *slowQuota) Wait(ctx context.Context, k limiter.Key) (limiter.Permit, error) {
	q.during()
	return q.fakeQuota.Wait(ctx, k)
}

// A call that queued for its quota slot sends the token current when it
// leaves, not the one it read before queuing.
func TestQueuedCallSendsTheNewestToken(t *testing.T) {
	t.Parallel()
	var sent string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent = r.Header.Get("Authorization")
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	tok := &fakeTokens{}
	q := &slowQuota{during: func() { _, _ = tok.ForceRefresh(context.Background(), "loc1", "tok-0") }}
	c := New(srv.Client(), tok, q, Config{})
	resp, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sent != "Bearer tok-1" {
		t.Fatalf("sent %q, want the token refreshed while queued (tok-1)", sent)
	}
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// stallTokens serves "tok-N"; the reads after a quota wait (every second
// read: the chain reads once to name the quota key, once after the wait)
// block for stall, as a refresh in progress or a slow store does. With
// every set, all of them block; otherwise only the first.
type stallTokens struct {
	stall time.Duration
	every bool
	reads atomic.Int32
}

func (s *stallTokens) Token(ctx context.Context, _ string) (tokenstore.Token, error) {
	n := s.reads.Add(1)
	if n%2 == 0 && (s.every || n == 2) {
		t := time.NewTimer(s.stall)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return tokenstore.Token{}, ctx.Err()
		}
	}
	return tokenstore.Token{AccessToken: "tok", App: "app"}, nil
}

func (s *stallTokens) ForceRefresh(ctx context.Context, subject, _ string) (tokenstore.Token, error) {
	return s.Token(ctx, subject)
}

// recordingQuota passes to a real limiter and remembers every permit.
type recordingQuota struct {
	*limiter.Local
	mu      sync.Mutex
	permits []limiter.Permit
}

func (q *recordingQuota) Wait(ctx context.Context, k limiter.Key) (limiter.Permit, error) {
	p, err := q.Local.Wait(ctx, k)
	if err == nil {
		q.mu.Lock()
		q.permits = append(q.permits, p)
		q.mu.Unlock()
	}
	return p, err
}

func (q *recordingQuota) last() limiter.Permit {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.permits[len(q.permits)-1]
}

// A token read after the quota wait that blocks longer than the guard band
// leaves the slot stale: the chain must give it back and queue again, never
// send with it. The fake upstream records which permit each send used.
func TestStaleSlotAfterSlowTokenReadIsGivenBack(t *testing.T) {
	t.Parallel()
	const guard = 40 * time.Millisecond
	for _, tc := range []struct {
		name  string
		every bool
	}{{"one slow read", false}, {"every read slow", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim, err := limiter.NewLocal(limiter.Config{Limit: 100, Window: time.Second, Guard: guard})
			if err != nil {
				t.Fatal(err)
			}
			q := &recordingQuota{Local: lim}
			var (
				mu   sync.Mutex
				used []limiter.Permit
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				used = append(used, q.last())
				mu.Unlock()
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			tok := &stallTokens{stall: 5 * guard, every: tc.every}
			c := New(srv.Client(), tok, q, Config{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			resp, err := do(t, c, http.MethodGet, srv.URL+"/contacts/x", "", ctx)
			if resp != nil {
				resp.Body.Close()
			}
			st, serr := lim.State(context.Background(), limiter.Key{App: "app", Resource: "loc1"})
			if serr != nil {
				t.Fatal(serr)
			}
			mu.Lock()
			defer mu.Unlock()
			if tc.every {
				// Never a fresh slot at the moment of sending: nothing is
				// sent, and no slot stays used.
				if err == nil || len(used) != 0 {
					t.Fatalf("err = %v after %d sends, want an error and no send", err, len(used))
				}
				if st.DailyUsed != 0 || st.InWindow+st.Queued != 0 {
					t.Fatalf("quota holds %d slots, %d today: a stale slot was not given back", st.InWindow+st.Queued, st.DailyUsed)
				}
				return
			}
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if len(used) != 1 {
				t.Fatalf("%d sends, want 1", len(used))
			}
			if n := len(q.permits); n != 2 || used[0].Seq != q.permits[1].Seq {
				t.Fatalf("sent with permit seq %d after %d permits, want the second: the stale first slot was used", used[0].Seq, n)
			}
			// The stale slot was given back: only the sent one counts.
			if st.DailyUsed != 1 || st.InWindow+st.Queued != 1 {
				t.Fatalf("quota holds %d slots, %d today; want 1 and 1", st.InWindow+st.Queued, st.DailyUsed)
			}
		})
	}
}

// A final non-2xx answer keeps HighLevel's body as it arrived and its
// headers, so the passthrough can hand a caller HighLevel's own answer.
func TestErrorKeepsTheAnswersBodyAndHeaders(t *testing.T) {
	t.Parallel()
	const body = `{"statusCode":422,"message":["name should not be empty"],"error":"Unprocessable Entity","extra":{"n":1}}`
	c, srv, _, _ := newChain(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-RateLimit-Remaining", "41")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, body)
	})
	_, err := do(t, c, http.MethodPost, srv.URL+"/contacts/", `{}`, context.Background())
	var ue *Error
	if !errors.As(err, &ue) {
		t.Fatalf("err = %v, want *Error", err)
	}
	if string(ue.Body) != body || ue.Header.Get("X-RateLimit-Remaining") != "41" || ue.Message != "name should not be empty" {
		t.Fatalf("Body %q, header %q, message %q", ue.Body, ue.Header.Get("X-RateLimit-Remaining"), ue.Message)
	}
}

// An operation that moves files raises the chain's bounds for its own
// request and answer, and only up to its own bound.
func TestOperationBodyBoundRaisesTheChains(t *testing.T) {
	t.Parallel()
	var got int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = len(b)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	c := New(srv.Client(), &fakeTokens{}, &fakeQuota{}, Config{MaxRequestBytes: 64, MaxResponseBytes: 64})
	upload := WithOperation(context.Background(), &Operation{ID: "upload", MaxBodyBytes: 100})
	resp, err := do(t, c, http.MethodPost, srv.URL+"/conversations/messages/upload", strings.Repeat("x", 100), upload)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(b) != 100 || got != 100 {
		t.Fatalf("a 100-byte upload bounded at 100: sent %d, read back %d (%v)", got, len(b), err)
	}
	if _, err := do(t, c, http.MethodPost, srv.URL+"/conversations/messages/upload", strings.Repeat("x", 101), upload); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("a 101-byte upload bounded at 100: err = %v, want ErrRequestTooLarge", err)
	}
	if _, err := do(t, c, http.MethodPost, srv.URL+"/contacts/", strings.Repeat("x", 65), context.Background()); !errors.Is(err, ErrRequestTooLarge) {
		t.Fatalf("another operation keeps the chain's bound: err = %v, want ErrRequestTooLarge", err)
	}
}
