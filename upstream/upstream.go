// Package upstream is the HTTP chain every call to HighLevel passes through.
//
// A *Client is the http.Client-like Doer handed to the generated REST client
// (gen/highlevel). For each request it:
//
//  1. takes the subject's access token from the token source (memory on the
//     hot path; refresh happens elsewhere),
//  2. waits for a quota slot from the limiter under the caller's context,
//     reads the token again (it may have been refreshed meanwhile) and
//     sends only while the slot is fresh (limiter.Permit.Fresh): a slot
//     that went stale during that read is given back and the call queues
//     again,
//  3. sets the Version header the call's operation requires (from hlgate's
//     operation table, see WithOperation; a call without one gets its
//     product's: calendars 2021-04-15, the rest 2021-07-28) and the Bearer
//     token,
//  4. sends it with the caller's deadline,
//  5. feeds status and X-RateLimit-* headers back to the limiter,
//  6. on 401 forces one refresh (only if the rejected token is still the
//     stored one) and retries once; on 429 retries after the shared
//     cool-down while the deadline allows; on 5xx or a broken connection
//     backs off with jitter and retries, at most three attempts, for calls
//     whose operation is safe to resend (reads and searches; without an
//     operation, by method) only. A write is never resent once its bytes may have
//     reached HighLevel; a 429 or a refused connection is safe to resend,
//     because HighLevel did not act on it.
//
// Every failure that HighLevel answered ends as one typed *Error, so the
// server maps errors to gRPC status in exactly one place.
//
// A call whose caller is traced has its spans (tracing.go): the call, its
// token reads, its quota waits and each send. They stay in this process: no
// request to HighLevel carries a trace header.
package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/hlgate/hlgate/limiter"
	"github.com/hlgate/hlgate/tokenstore"
)

// Tokens is the token source the chain reads; tokenstore.Manager provides it.
type Tokens interface {
	// Token returns a valid access token for the subject (a location or
	// company id).
	// Its App names the marketplace app whose quota the call uses.
	Token(ctx context.Context, subject string) (tokenstore.Token, error)
	// ForceRefresh refreshes the subject's token after HighLevel rejected
	// rejected, unless the stored token has already moved on.
	ForceRefresh(ctx context.Context, subject, rejected string) (tokenstore.Token, error)
}

// Quota is the shared limiter; limiter.Limiter provides it.
type Quota interface {
	Wait(ctx context.Context, key limiter.Key) (limiter.Permit, error)
	Observe(ctx context.Context, key limiter.Key, status int, header http.Header)
}

// Doer sends one HTTP request; *http.Client provides it.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Config configures a Client.
type Config struct {
	// MaxAttempts bounds the sends of one idempotent call on 5xx or broken
	// connections (default 3).
	MaxAttempts int
	// Max429Retries bounds resends after HighLevel answered 429 (default 2).
	Max429Retries int
	// BackoffBase is the first backoff step; each retry doubles it, with full
	// jitter (default 100ms).
	BackoffBase time.Duration
	// BackoffMax caps one backoff step (default 2s).
	BackoffMax time.Duration
	// MaxResponseBytes bounds a response body (default 8 MiB); a larger body
	// fails the read with ErrResponseTooLarge.
	MaxResponseBytes int64
	// MaxRequestBytes bounds a request body (default 1 MiB).
	MaxRequestBytes int64
	// OnResponse, when set, is told about every send: the product, the HTTP
	// status (0 when no response arrived) and how long the send took.
	OnResponse func(product Product, status int, elapsed time.Duration)
}

func (c *Config) defaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.Max429Retries < 0 {
		c.Max429Retries = 0
	} else if c.Max429Retries == 0 {
		c.Max429Retries = 2
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 100 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 2 * time.Second
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 8 << 20
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 1 << 20
	}
}

// Client is the chain. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   Doer
	tokens Tokens
	quota  Quota
}

// New returns a chain that sends through base (an *http.Client with the
// transport's timeouts; the per-call deadline comes from the context).
func New(base Doer, tokens Tokens, quota Quota, cfg Config) *Client {
	cfg.defaults()
	return &Client{cfg: cfg, base: base, tokens: tokens, quota: quota}
}

type ctxKey int

const (
	subjectKey ctxKey = iota
	operationKey
	callInfoKey
)

// WithSubject names the location or company whose token and quota a call
// uses. Every call through the chain needs one.
func WithSubject(ctx context.Context, subject string) context.Context {
	return context.WithValue(ctx, subjectKey, subject)
}

// Operation is what the chain needs to know of the HighLevel operation a
// call is for; the server takes it from the operation table row of the RPC
// being served.
type Operation struct {
	// ID is the official operationId, for logs.
	ID string
	// Version is the Version header the operation's document requires;
	// empty when it declares none.
	Version string
	// Safe: the call may be resent after a 5xx or a broken connection
	// (reads, and searches that are POSTs but change nothing).
	Safe bool
	// MaxBodyBytes, when above the chain's MaxRequestBytes or
	// MaxResponseBytes, bounds this operation's request and answer bodies
	// instead: an operation that moves files (an upload, a recording).
	MaxBodyBytes int64
}

// OperationOf returns the operation WithOperation named, or nil.
func OperationOf(ctx context.Context) *Operation {
	op, _ := ctx.Value(operationKey).(*Operation)
	return op
}

// WithOperation names the operation of the calls made with ctx: its Version
// header and whether a failed send may be resent come from it, not from the
// path or the method.
func WithOperation(ctx context.Context, op *Operation) context.Context {
	return context.WithValue(ctx, operationKey, op)
}

// CallInfo collects what the chain did for one caller request, for the
// request log. The chain only adds to it; it is not safe to read while the
// call is running.
type CallInfo struct {
	// Sends counts requests sent to HighLevel.
	Sends int
	// LastStatus is HighLevel's last HTTP status (0 when none arrived).
	LastStatus int
	// QuotaWait is the time spent waiting for quota slots.
	QuotaWait time.Duration
}

// WithCallInfo returns a context whose chain calls record into info.
func WithCallInfo(ctx context.Context, info *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey, info)
}

// maxStale bounds how often one call gives its quota slot back because the
// token read after the wait outlasted it; a token source that slow fails
// the call rather than spinning on the quota.
const maxStale = 3

// ErrNoSubject is returned for a request whose context names no subject: a
// programming error in the caller of the chain.
var ErrNoSubject = errors.New("upstream: request has no subject (use upstream.WithSubject)")

// ErrResponseTooLarge is returned while reading a body over the configured
// bound.
var ErrResponseTooLarge = errors.New("upstream: response body exceeds the size bound")

// Do sends req through the chain. A final answer outside 2xx is returned as
// *Error; quota refusals as *limiter.Error; token failures as the token
// source's errors.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	subject, _ := ctx.Value(subjectKey).(string)
	if subject == "" {
		return nil, ErrNoSubject
	}
	ctx, tr := startCall(ctx, req, subject)
	resp, err := c.do(ctx, req, subject, tr)
	tr.end(err)
	return resp, err
}

// do is Do under the call's span (tr; nil when the call is not traced).
func (c *Client) do(ctx context.Context, req *http.Request, subject string, tr *callTrace) (*http.Response, error) {
	info, _ := ctx.Value(callInfoKey).(*CallInfo)
	if info == nil {
		info = &CallInfo{}
	}
	product := ProductOf(req.URL.Path)
	version, idempotent := VersionOf(product), isIdempotent(req.Method)
	maxReq, maxResp := c.cfg.MaxRequestBytes, c.cfg.MaxResponseBytes
	if op := OperationOf(ctx); op != nil {
		version, idempotent = op.Version, op.Safe
		maxReq, maxResp = max(maxReq, op.MaxBodyBytes), max(maxResp, op.MaxBodyBytes)
	}

	body, err := c.readBody(req, maxReq)
	if err != nil {
		return nil, err
	}

	var (
		forced   bool // one forced refresh per call
		n429     int
		attempts int // sends that count towards MaxAttempts
		stale    int // slots given back because the token read outlasted them
	)
	for {
		tctx, tend := tr.token(ctx, false)
		cred, err := c.tokens.Token(tctx, subject)
		tend(err)
		if err != nil {
			return nil, err
		}
		key := limiter.Key{App: cred.App, Resource: subject}
		waitStart := time.Now()
		qctx, qend := tr.quota(ctx)
		permit, err := c.quota.Wait(qctx, key)
		info.QuotaWait += time.Since(waitStart)
		qend(err)
		if err != nil {
			return nil, err
		}
		// A queued call may have slept for seconds, during which the token
		// can have been refreshed (by a 401 on another call, or ahead of
		// expiry): send the newest one, not the one read before queuing.
		// The read is usually from memory; when it is not, the permit's
		// freshness is checked below.
		tctx, tend = tr.token(ctx, true)
		cred, err = c.tokens.Token(tctx, subject)
		tend(err)
		if err != nil {
			_ = permit.Cancel(ctx)
			return nil, err
		}

		out := req.Clone(ctx)
		out.Body, out.GetBody = bodyFor(body)
		out.ContentLength = int64(len(body))
		out.Header.Set("Authorization", "Bearer "+cred.AccessToken)
		out.Header.Set("Accept", "application/json")
		if version != "" {
			out.Header.Set("Version", version)
		}

		if !permit.Fresh(time.Now()) {
			// The token read above blocked (a refresh in progress, a slow
			// store) until the slot was stale: later slots were placed on
			// the assumption that this request reaches HighLevel within the
			// guard band of its slot. Give the slot back and queue again;
			// the caller's deadline bounds the loop (Wait refuses a slot
			// beyond it), and so does maxStale. A slot that cannot be given
			// back stays used and the call fails: failing closed.
			tr.event("quota slot stale: given back")
			if err := permit.Cancel(ctx); err != nil {
				return nil, fmt.Errorf("upstream %s %s: give back a stale quota slot: %w", req.Method, req.URL.Path, err)
			}
			if stale++; stale >= maxStale {
				return nil, &limiter.Error{Reason: limiter.Unavailable, RetryAfter: time.Second,
					Err: fmt.Errorf("upstream %s %s: the token read after the quota wait outlasted the slot %d times", req.Method, req.URL.Path, stale)}
			}
			continue
		}

		sent := time.Now()
		sendEnd := tr.send(ctx, out)
		resp, err := c.base.Do(out)
		sendEnd(resp, err)
		attempts++
		info.Sends++
		if err != nil {
			info.LastStatus = 0
			c.report(product, 0, time.Since(sent))
			if ctx.Err() != nil {
				// The caller's deadline or cancellation ended the call; the
				// request may have reached HighLevel, so the slot stays used.
				return nil, fmt.Errorf("upstream %s %s: %w", req.Method, req.URL.Path, ctx.Err())
			}
			notSent := refused(err)
			if notSent {
				// HighLevel never saw it: give the quota slot back.
				_ = permit.Cancel(ctx)
			}
			if (idempotent || notSent) && attempts < c.cfg.MaxAttempts {
				if werr := c.backoffTraced(ctx, tr, attempts); werr != nil {
					return nil, connError(req, err)
				}
				continue
			}
			return nil, connError(req, err)
		}
		info.LastStatus = resp.StatusCode
		c.report(product, resp.StatusCode, time.Since(sent))
		c.quota.Observe(ctx, key, resp.StatusCode, resp.Header)

		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			resp.Body = &boundedBody{rc: resp.Body, left: maxResp}
			return resp, nil

		case resp.StatusCode == http.StatusUnauthorized && !forced:
			// HighLevel also answers 401 when the token is fine but lacks
			// the scope, or the route is not open to it ("The token is not
			// authorized for this scope.", "This route is not yet supported
			// by the IAM Service": reference facts, pitfalls 6 and 7). A new
			// token cannot fix that, and reporting it as rejected would spend
			// a refresh token for nothing, or mark a working Private
			// Integration Token as needing re-authorization.
			uerr := errorFrom(req, resp)
			if notAboutTheToken(uerr.Message) {
				return nil, uerr
			}
			// HighLevel did not act on a request it refused to authenticate,
			// so even a write is safe to resend once with a fresh token.
			forced = true
			rctx, rend := tr.child(ctx, "token refresh")
			_, err := c.tokens.ForceRefresh(rctx, subject, cred.AccessToken)
			rend(err)
			if err != nil {
				return nil, err
			}
			attempts--
			continue

		case resp.StatusCode == http.StatusTooManyRequests && n429 < c.cfg.Max429Retries:
			// The limiter has started the shared cool-down from this answer;
			// the next Wait sleeps through it, or refuses at once when the
			// caller's deadline is too close. HighLevel did not act on a 429.
			uerr := errorFrom(req, resp)
			n429++
			attempts--
			if d, ok := ctx.Deadline(); ok && time.Until(d) < uerr.RetryAfter {
				return nil, uerr
			}
			continue

		case resp.StatusCode >= 500 && idempotent && attempts < c.cfg.MaxAttempts:
			uerr := errorFrom(req, resp)
			if werr := c.backoffTraced(ctx, tr, attempts); werr != nil {
				return nil, uerr
			}
			continue

		default:
			return nil, errorFrom(req, resp)
		}
	}
}

func (c *Client) report(p Product, status int, d time.Duration) {
	if c.cfg.OnResponse != nil {
		c.cfg.OnResponse(p, status, d)
	}
}

// readBody buffers the request body once so that retries resend the same
// bytes.
func (c *Client) readBody(req *http.Request, limit int64) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	defer req.Body.Close()
	b, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("upstream: read request body: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrRequestTooLarge, limit)
	}
	return b, nil
}

func bodyFor(b []byte) (io.ReadCloser, func() (io.ReadCloser, error)) {
	if b == nil {
		return http.NoBody, nil
	}
	get := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	rc, _ := get()
	return rc, get
}

// backoffTraced is backoff in a span of its own.
func (c *Client) backoffTraced(ctx context.Context, tr *callTrace, n int) error {
	bctx, end := tr.child(ctx, "backoff")
	err := c.backoff(bctx, n)
	end(err)
	return err
}

// backoff sleeps a jittered exponential step before attempt n+1, or returns
// the context's error when the step would pass its deadline.
func (c *Client) backoff(ctx context.Context, n int) error {
	step := c.cfg.BackoffBase << (n - 1)
	if step > c.cfg.BackoffMax || step <= 0 {
		step = c.cfg.BackoffMax
	}
	d := time.Duration(rand.Int64N(int64(step)) + 1)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// refused reports whether err proves the request never left this process:
// the connection was refused or could not be dialled at all.
func refused(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isIdempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// notAboutTheToken reports whether a 401's message refuses the call for a
// reason other than the token being invalid or expired.
func notAboutTheToken(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "scope") || strings.Contains(m, "iam service")
}

type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly the bound from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, ErrResponseTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }

// Product is a HighLevel API product; it selects the Version header.
type Product string

// The products hlgate calls.
const (
	ProductOAuth         Product = "oauth"
	ProductContacts      Product = "contacts"
	ProductOpportunities Product = "opportunities"
	ProductCalendars     Product = "calendars"
	ProductPayments      Product = "payments"
	ProductOther         Product = "other"
)

// ProductOf names the product of an upstream path by its first segment.
func ProductOf(path string) Product {
	seg := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	switch Product(seg) {
	case ProductOAuth, ProductContacts, ProductOpportunities, ProductCalendars, ProductPayments:
		return Product(seg)
	}
	return ProductOther
}

// VersionOf is the Version header each product requires (reference facts §1:
// calendars and conversations 2021-04-15, every other V2 product
// 2021-07-28).
func VersionOf(p Product) string {
	if p == ProductCalendars {
		return "2021-04-15"
	}
	return "2021-07-28"
}
