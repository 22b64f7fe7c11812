// Package limiter is hlgate's quota for calls to HighLevel: never more than
// Limit requests in any window of Window (plus a guard band) and never more
// than Daily requests per UTC day, per (app, resource) key.
//
// The algorithm is a sliding-window log with slot reservations. Every call
// asks for a slot, the earliest moment it may send, computed as
//
//	slot = max(now, cool-down end, last granted slot, slot L places back + W')
//
// where W' is Window+Guard. Because every new slot is at or after every slot
// granted before it, and at least W' after the L-th latest one, any L+1
// consecutive grants span at least W', so no interval of length W' ever holds
// more than L slots. A burst of L may go at once. Callers sleep until their
// slot, so slots are handed out first come, first served; a slot beyond the
// caller's deadline is refused at once with the delay attached.
//
// Two implementations share the interface: Local (in-process, for a single
// replica) and Redis (one Lua script per decision, time from Redis TIME, so
// every replica sees one clock and one queue).
//
// Why the guard band: the limiter decides when a request may leave, but
// HighLevel counts it when it arrives. A request that leaves up to Guard
// after its slot (scheduling, connection set-up) still keeps every window of
// W, as HighLevel sees it, within L. The price is throughput: L per W+Guard,
// 95% of HighLevel's allowance with the defaults. A permit may be used only
// until 3/4 of Guard after the earliest moment its slot can have been
// (Permit.SendBy): a grant whose answer took longer than that to arrive (a
// slow or congested Redis), a caller that wakes too late (a stalled
// process), and a caller of Wait that is not ready to send by then (a slow
// token read) give the slot back and queue again, so no request is ever
// sent later than the band allows. A store that stays that slow fails
// closed (Unavailable).
//
// What the guarantee does not cover, and what the limiter does about it:
//   - HighLevel counts other clients of the same app and location (another
//     deployment, a script with the same app): its 429s, and
//     X-RateLimit-Remaining: 0 while our own log still has room, start a
//     cool-down every replica honours, also callers already sleeping until a
//     slot; X-RateLimit-Daily-Remaining lowers the daily count.
//   - A permit whose request was sent counts even if the request failed; a
//     permit whose request was not sent must be cancelled (Permit.Cancel).
//   - Redis unreachable: fail closed (Unavailable), or with LocalShare each
//     replica grants floor(L/N) per window on its own. The shares add up to
//     L only when every replica has lost Redis; while some replicas still
//     reach it (a partial partition), and during the window after Redis
//     returns, a window may hold up to L plus the shares spent locally, since
//     Redis never learns of local grants. LocalShare trades that bounded
//     excess for availability; the default does not.
//   - The daily count is kept per UTC day by the limiter's clock; the day a
//     grant is counted in is the day it was decided.
package limiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Key names one quota bucket. HighLevel counts requests per Marketplace app
// (client id) and per resource (one location or one company).
type Key struct {
	App      string
	Resource string
}

// String is "app/resource", for logs and error messages.
func (k Key) String() string { return k.App + "/" + k.Resource }

// ErrInvalidKey is wrapped by the error Wait and State return for a key
// with an empty part or a character reserved for the Redis key layout; the
// message names the field. Location and company ids never contain them, so
// callers map it to INVALID_ARGUMENT.
var ErrInvalidKey = errors.New("invalid quota key")

// validate rejects keys that would be ambiguous or would break the Redis
// hash tag: the tag is the text between the first '{' and the next '}'.
func (k Key) validate() error {
	if k.App == "" {
		return fmt.Errorf("limiter: key App is empty: %w", ErrInvalidKey)
	}
	if k.Resource == "" {
		return fmt.Errorf("limiter: key Resource is empty: %w", ErrInvalidKey)
	}
	if strings.ContainsAny(k.App, "{}|") {
		return fmt.Errorf("limiter: key App %q contains one of '{', '}', '|': %w", k.App, ErrInvalidKey)
	}
	if strings.ContainsAny(k.Resource, "{}|") {
		return fmt.Errorf("limiter: key Resource %q contains one of '{', '}', '|': %w", k.Resource, ErrInvalidKey)
	}
	return nil
}

// Limiter is the quota as the upstream chain uses it.
type Limiter interface {
	// Wait reserves the caller's slot and sleeps until it. It returns a
	// Permit once the caller may send, or an error: *Error when the quota
	// refuses (the slot lies beyond the caller's deadline or MaxQueueWait,
	// the daily quota is spent) or the shared store is unreachable or
	// answers too late to use (Unavailable), and the context's error
	// (wrapped) when the caller gives up while waiting, in which case the
	// reserved slot has been freed. The caller must send by the Permit's
	// SendBy, or Cancel it and Wait again.
	Wait(ctx context.Context, key Key) (Permit, error)
	// Observe feeds back what HighLevel answered: the status code and the
	// response headers. A 429, or X-RateLimit-Remaining: 0 while the
	// limiter's own log has room, starts a cool-down shared by every
	// replica; X-RateLimit-Daily-Remaining lower than the
	// limiter's own count lowers it. Observe never fails the call it reports
	// on; store errors are logged.
	Observe(ctx context.Context, key Key, status int, header http.Header)
	// State reports the key's current view, for metrics and readiness.
	State(ctx context.Context, key Key) (State, error)
}

// Permit is a granted slot. Once the request has been sent the slot stays
// used: HighLevel has counted it. When the caller decides not to send after
// all (the token could not be obtained, the deadline passed before sending),
// it calls Cancel so the slot and its daily unit go back to the quota.
type Permit struct {
	// Slot is the moment the request was allowed to go, on the limiter's
	// clock (Redis TIME for the Redis limiter).
	Slot time.Time
	// Seq numbers the key's grants in the order they were decided
	// (increasing, not necessarily consecutive: the local limiter numbers
	// the grants of all keys in one sequence); ordering
	// permits of one key by Seq orders them by Slot, except that a slot freed
	// by a cancellation goes to the next caller to arrive.
	Seq int64
	// SendBy is the latest moment, on this process's clock, at which the
	// request may still be handed to the transport: the earliest the slot
	// can have been plus 3/4 of the guard band, the rest being kept for the
	// way to HighLevel. A caller that could not send by then (a slow token
	// read, a stalled process) must Cancel the permit and Wait again instead
	// of sending late. Zero means no bound: only a Permit not made by a
	// limiter (a test double) has none.
	SendBy time.Time

	c   canceller
	key Key
	day int64
}

// Fresh reports whether a request handed to the transport at now still
// reaches HighLevel within the guard band of its slot; see SendBy.
func (p Permit) Fresh(now time.Time) bool { return p.SendBy.IsZero() || !now.After(p.SendBy) }

// Cancel frees the permit's slot because the request was not sent. It is
// safe to call more than once; calling it after the request was sent breaks
// the guarantee, because HighLevel has already counted that request.
func (p Permit) Cancel(ctx context.Context) error {
	if p.c == nil {
		return nil
	}
	return p.c.cancel(ctx, p.key, p.Seq, p.day)
}

// canceller frees a granted slot and reads a key's cool-down; each
// implementation has its own.
type canceller interface {
	cancel(ctx context.Context, key Key, seq, day int64) error
	// coolUntil is the end of the key's shared cool-down in µs on the
	// limiter's clock, 0 when none, for a caller whose decision was made in
	// notices epoch watch.
	coolUntil(ctx context.Context, key Key, watch uint64) (int64, error)
}

// errCooledDown tells Wait that a cool-down began while the caller slept:
// its slot was given back and it must queue again.
var errCooledDown = errors.New("limiter: a cool-down began while waiting")

// State is a key's current view of its quota.
type State struct {
	// InWindow counts slots granted in the last Window+Guard up to now.
	InWindow int
	// Queued counts slots granted for the future: callers sleeping.
	Queued int
	// NextSlotIn is how long a caller arriving now would wait.
	NextSlotIn time.Duration
	// DailyUsed counts the grants of the current UTC day, raised to what
	// HighLevel reports when HighLevel's count is higher.
	DailyUsed int64
	// DailyRemaining is Daily minus DailyUsed, never negative.
	DailyRemaining int64
	// CoolDownUntil is the end of the shared cool-down, zero when none.
	CoolDownUntil time.Time
	// Fallback is true when the Redis limiter serves from its local share
	// because Redis is unreachable.
	Fallback bool
}

// Reason says why a Wait was refused. The string forms are the ErrorInfo
// reasons the server sends to callers.
type Reason string

const (
	// RateLimited: the next slot in the window (or the shared cool-down)
	// lies beyond the caller's deadline or MaxQueueWait.
	RateLimited Reason = "RATE_LIMITED"
	// DailyQuotaExhausted: the key's daily quota is spent until 00:00 UTC.
	DailyQuotaExhausted Reason = "DAILY_QUOTA_EXHAUSTED"
	// Unavailable: the shared store cannot be reached and no fallback is
	// configured, so the limiter fails closed.
	Unavailable Reason = "UNAVAILABLE"
)

// Error is a refusal by the limiter. RetryAfter is how long the caller
// should wait before trying again (the delay to the slot it would have got,
// to the next UTC day, or to the next probe of the store).
//
// Error() includes the underlying Redis error, which may name the Redis
// address: it is for logs. A message for hlgate's callers is built from
// Reason and RetryAfter only.
type Error struct {
	Reason     Reason
	RetryAfter time.Duration
	// Err is the underlying cause for Unavailable (a Redis error), nil for
	// quota refusals.
	Err error
}

// Error describes the refusal and, for Unavailable, its cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("limiter: %s (retry after %s): %v", e.Reason, e.RetryAfter, e.Err)
	}
	return fmt.Sprintf("limiter: %s (retry after %s)", e.Reason, e.RetryAfter)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Fallback selects what the Redis limiter does while Redis is unreachable.
type Fallback string

const (
	// FailClosed refuses every Wait with Unavailable until Redis answers.
	FailClosed Fallback = ""
	// LocalShare lets each replica grant floor(Limit/Replicas) per window and
	// floor(Daily/Replicas) per day on its own until Redis answers again.
	LocalShare Fallback = "local-share"
)

// Config configures a limiter. Zero fields take the defaults shown.
type Config struct {
	// Limit is L, the requests allowed in any Window (default 100).
	Limit int
	// Window is W (default 10s).
	Window time.Duration
	// Daily is the requests allowed per UTC day (default 200000).
	Daily int64
	// Guard lengthens the window to cover the time between the decision and
	// the moment HighLevel counts the request (HLGATE_RATE_GUARD, default
	// 500ms). A permit is usable for 3/4 of it, round trip to the store
	// included (Permit.SendBy), so it must stay well above the store's round
	// trip: a guard shorter than that makes every decision late, and Wait
	// fails closed. A small value (a few ms) practically turns the band off
	// with the local limiter.
	Guard time.Duration
	// MaxQueueWait bounds how far ahead a slot may be granted when the
	// caller's context has no deadline (HLGATE_MAX_QUEUE_WAIT, default 30s).
	MaxQueueWait time.Duration
	// Fallback is the Redis limiter's behaviour while Redis is unreachable
	// (HLGATE_LIMITER_FALLBACK: "" fails closed, "local-share").
	Fallback Fallback
	// Replicas is N, the number of replicas sharing the quota, used by the
	// local-share fallback (HLGATE_REPLICAS, default 1).
	Replicas int
	// ProbeInterval is how long the Redis limiter serves from its local share
	// before asking Redis again, and the RetryAfter of Unavailable errors
	// (default 1s).
	ProbeInterval time.Duration
	// Logger receives fallback transitions and store errors from Observe
	// (default slog.Default()).
	Logger *slog.Logger

	// clockOffset shifts the limiter's clock (Redis TIME, or the local
	// clock). Test-only: it lets tests put "now" just before 00:00 UTC to
	// prove the daily rollover without waiting for midnight.
	clockOffset time.Duration
}

// withDefaults fills zero fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Limit == 0 {
		c.Limit = 100
	}
	if c.Window == 0 {
		c.Window = 10 * time.Second
	}
	if c.Daily == 0 {
		c.Daily = 200000
	}
	if c.Guard == 0 {
		c.Guard = 500 * time.Millisecond
	}
	if c.MaxQueueWait == 0 {
		c.MaxQueueWait = 30 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.Limit < 0:
		return c, fmt.Errorf("limiter: config Limit %d is negative", c.Limit)
	case c.Window < time.Millisecond:
		return c, fmt.Errorf("limiter: config Window %s is below 1ms", c.Window)
	case c.Daily < 0:
		return c, fmt.Errorf("limiter: config Daily %d is negative", c.Daily)
	case c.Guard < 0:
		return c, fmt.Errorf("limiter: config Guard %s is negative", c.Guard)
	case c.MaxQueueWait < 0:
		return c, fmt.Errorf("limiter: config MaxQueueWait %s is negative", c.MaxQueueWait)
	case c.Replicas < 0:
		return c, fmt.Errorf("limiter: config Replicas %d is negative", c.Replicas)
	case c.ProbeInterval < 0:
		return c, fmt.Errorf("limiter: config ProbeInterval %s is negative", c.ProbeInterval)
	}
	if q := c.MaxQueueWait + c.Window + c.Guard; q >= dayMargin {
		// The daily state outlives the next 00:00 UTC by dayMargin; a slot
		// log reaching further would outlive it, and its member sequence
		// with it.
		return c, fmt.Errorf("limiter: config MaxQueueWait+Window+Guard = %s, want under %s", q, dayMargin)
	}
	switch c.Fallback {
	case FailClosed:
	case LocalShare:
		if c.Limit/c.Replicas < 1 {
			return c, fmt.Errorf("limiter: config Fallback %q: Limit %d shared by %d Replicas leaves no request per window", c.Fallback, c.Limit, c.Replicas)
		}
	default:
		return c, fmt.Errorf("limiter: config Fallback %q is not one of \"\" (fail closed) or %q", c.Fallback, LocalShare)
	}
	return c, nil
}

// span is W' = Window + Guard in microseconds, the length within which no
// more than Limit slots are granted.
func (c Config) span() int64 { return (c.Window + c.Guard).Microseconds() }

// maxWait is how far ahead a slot may lie for this caller, in microseconds:
// the time left before its deadline, or MaxQueueWait when it has none.
func (c Config) maxWait(ctx context.Context) int64 {
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d).Microseconds()
		if left < 0 {
			return 0
		}
		return left
	}
	return c.MaxQueueWait.Microseconds()
}

const (
	usPerDay = int64(24 * time.Hour / time.Microsecond)
	// dayMargin keeps the daily counter alive past the next 00:00 UTC, so a
	// key never loses today's count by expiring early (a replica whose clock
	// or queue runs behind still decides in the old day for a while). The
	// scripts' TTLs use it (scripts.go), and no slot may be queued further
	// ahead than it (withDefaults), or the slot log and its member sequence
	// could outlive the state hash.
	dayMargin = time.Hour
)

// decision is what one reservation decided; both implementations produce it.
type decision struct {
	status int   // statusGranted, statusRateLimited, statusDaily
	now    int64 // limiter clock, µs since the epoch
	value  int64 // the slot (granted) or the delay in µs (refused)
	seq    int64
	day    int64
	// watch is the cool-down notices' epoch the decision was made in (0
	// none); see notices.
	watch uint64
}

const (
	statusGranted     = 0
	statusRateLimited = 1
	statusDaily       = 2
)

// lateShare is the part of the guard band a permit may use up before the
// request is handed to the transport; the rest is kept for the way from
// there to HighLevel (connection, TLS, the first bytes on the wire).
//
// The invariant: a request reaches HighLevel at most Guard after its slot.
// The slot is the moment Redis decided plus the queue wait, and Redis
// decided somewhere between the moment the request for the decision was
// sent and the moment its answer arrived. So the earliest the slot can be,
// on this process's clock, is sent+wait, and everything after that (the
// decision's round trip, a late wake-up, the post-sleep cool-down look, a
// slow token read in the caller) counts against one budget: a permit is
// fresh until sent+wait+lateShare·Guard (Permit.SendBy). A grant at once
// (wait 0) whose round trip alone took longer than lateShare·Guard is late
// before it is returned; a queued one is late when the round trip plus the
// lateness of its wake-up exceed it. Both are given back and queued again.
func lateShare(guard time.Duration) time.Duration { return guard * 3 / 4 }

// maxLate bounds how often one Wait queues again because its decision came
// too late to use. A store that answers slower than the guard band for
// several decisions in a row cannot keep the guarantee: the caller is
// refused with Unavailable (failing closed) instead of queueing forever.
const maxLate = 3

// errLate tells Wait that its decision arrived too late to use: the slot
// was given back and it must queue again.
var errLate = errors.New("limiter: the decision arrived too late to use")

// onGiveBack, when set (by tests), learns of every slot given back because a
// cool-down began or the decision came late: such a slot goes to the next
// caller, so grants are then not in arrival order.
var onGiveBack atomic.Pointer[func(Key)]

// retry runs one reservation until it neither met a cool-down nor came too
// late, refusing with Unavailable after maxLate late decisions in a row.
func retry(key Key, probe time.Duration, once func() (Permit, error)) (Permit, error) {
	late := 0
	for {
		p, err := once()
		if err == errCooledDown || err == errLate {
			if h := onGiveBack.Load(); h != nil {
				(*h)(key)
			}
		}
		switch err {
		case errCooledDown:
			continue
		case errLate:
			if late++; late < maxLate {
				continue
			}
			return Permit{}, &Error{Reason: Unavailable, RetryAfter: probe,
				Err: fmt.Errorf("reserve slot for %s: %d decisions in a row arrived later than the guard band allows", key, late)}
		}
		return p, err
	}
}

// finish turns a decision into a Permit: it refuses, or sleeps until the
// slot and frees it when the caller gives up first. sent is the local time
// the request for the decision left, received the time its answer arrived;
// the slot lies slot-now after the decision, which happened between the two
// (see lateShare).
func finish(ctx context.Context, d decision, sent, received time.Time, c canceller, key Key, guard time.Duration) (Permit, error) {
	switch d.status {
	case statusRateLimited:
		return Permit{}, &Error{Reason: RateLimited, RetryAfter: time.Duration(d.value) * time.Microsecond}
	case statusDaily:
		return Permit{}, &Error{Reason: DailyQuotaExhausted, RetryAfter: time.Duration(d.value) * time.Microsecond}
	}
	wait := max(time.Duration(d.value-d.now)*time.Microsecond, 0)
	p := Permit{Slot: time.UnixMicro(d.value), Seq: d.seq, SendBy: sent.Add(wait + lateShare(guard)), c: c, key: key, day: d.day}
	// target is the slot on this process's clock, never before it: the
	// decision happened at or before received.
	target := received.Add(wait)
	if target.After(p.SendBy) {
		// The answer took so long that the slot is stale before it could
		// be used (a slow or congested Redis). Sending now could bring the
		// L-th request after this one inside HighLevel's window.
		return Permit{}, giveBack(ctx, p, d, key, 0, errLate)
	}
	if wait == 0 {
		return p, nil
	}
	t := time.NewTimer(time.Until(target))
	defer t.Stop()
	select {
	case <-t.C:
		// A replica may have seen a 429 (or Remaining: 0) since this slot
		// was granted. Sending into the cool-down would be refused and
		// wasted, so a caller that slept looks once more (in the Redis
		// limiter's notified copy, or when that cannot be relied on, one
		// cheap read) and queues again behind the cool-down. The read may
		// take what is left of the permit's share of the guard band, at
		// most a quarter of the band.
		rctx, cancel := context.WithTimeout(ctx, min(guard/4, time.Until(p.SendBy)))
		cool, err := c.coolUntil(rctx, key, d.watch)
		cancel()
		if err == nil && cool > d.value {
			return Permit{}, giveBack(ctx, p, d, key, cool, errCooledDown)
		}
		if !p.Fresh(time.Now()) {
			// Later slots were placed W' after this one. A request sent
			// more than the guard band after its slot would bring the
			// L-th request after it inside HighLevel's window, so a late
			// slot (a slow Redis, a stalled process) is given back and the
			// caller queues again, never sent late.
			return Permit{}, giveBack(ctx, p, d, key, cool, errLate)
		}
		return p, nil
	case <-ctx.Done():
		// The caller gave up: give the slot back so the next caller can use
		// it, even though the caller's context is already done.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := p.Cancel(cctx); err != nil {
			return Permit{}, fmt.Errorf("limiter: wait for %s: %w (and freeing the slot failed: %v)", key, ctx.Err(), err)
		}
		return Permit{}, fmt.Errorf("limiter: wait for %s: %w", key, ctx.Err())
	}
}

// giveBack frees a slot the caller will not use and returns requeue, which
// tells Wait to queue again. When the slot cannot be given back (Redis
// down) it stays used and the caller is refused: failing closed. cool is
// the cool-down end in µs when one is known, for the RetryAfter.
func giveBack(ctx context.Context, p Permit, d decision, key Key, cool int64, requeue error) error {
	if err := p.Cancel(ctx); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("limiter: wait for %s: %w", key, cerr)
		}
		return &Error{Reason: Unavailable, RetryAfter: max(time.Duration(cool-d.value)*time.Microsecond, time.Second),
			Err: fmt.Errorf("give back slot %d of %s: %w", d.seq, key, err)}
	}
	return requeue
}
