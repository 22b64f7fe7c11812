package limiter

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/hlgate/hlgate/internal/testwait"
)

// impl builds n limiter instances sharing one quota: n Redis limiters with
// their own clients (standing in for n replicas), or one Local limiter
// (in-process only, so it is shared by every "instance").
type impl struct {
	name string
	new  func(t *testing.T, cfg Config, n int) []Limiter
}

var impls = []impl{
	{"local", func(t *testing.T, cfg Config, n int) []Limiter {
		l, err := NewLocal(cfg)
		if err != nil {
			t.Fatalf("NewLocal: %v", err)
		}
		out := make([]Limiter, n)
		for i := range out {
			out[i] = l
		}
		return out
	}},
	{"redis", func(t *testing.T, cfg Config, n int) []Limiter {
		srv := redistest.Start(t, redistest.Options{})
		out := make([]Limiter, n)
		for i := range out {
			r, err := NewRedis(srv.Client(), cfg)
			if err != nil {
				t.Fatalf("NewRedis: %v", err)
			}
			out[i] = r
		}
		return out
	}},
}

// grant is one successful Wait as a test saw it.
type grant struct {
	slot time.Time // Permit.Slot, on the limiter's clock
	seq  int64
	sent time.Time // local time right after Wait returned: the "send"
}

// maxInWindow returns the most timestamps found in any half-open interval
// of length w, and where that interval starts.
func maxInWindow(ts []time.Time, w time.Duration) (int, time.Time) {
	s := append([]time.Time(nil), ts...)
	sort.Slice(s, func(i, j int) bool { return s[i].Before(s[j]) })
	best, at := 0, time.Time{}
	j := 0
	for i := range s {
		for s[i].Sub(s[j]) >= w {
			j++
		}
		if i-j+1 > best {
			best, at = i-j+1, s[j]
		}
	}
	return best, at
}

// TestPropertyNeverMoreThanLimit is the quota's main proof. Eight limiter
// instances (eight Redis clients: eight replicas) each run eight greedy
// goroutines that call Wait again as soon as they have "sent". Over several
// windows at scaled-down settings it checks, on recorded times only:
//
//   - grant times (the limiter's clock): no interval of W' = W+guard holds
//     more than L grants;
//   - send times (local clock, right after Wait returned): no interval of W
//     holds more than L sends — the guard band absorbs the wake-up lag;
//   - FIFO: ordered by grant sequence, slots never go back;
//   - utilisation: in the steady state, at least 95% of L per W'.
//
// Utilisation: 64 greedy callers and L = 20 keep about three windows of
// slots queued, so every window of the steady state is full unless 44
// callers are late by more than a window at once. The steady state starts
// one W' after the first grant (skipping the ramp) and ends one W' before
// the last (the queue draining after the callers stop); it is cut into m
// whole W' intervals, and the grants in them must number at least 0.95·m·L
// (exactly m·L when nothing is late). Nothing here depends on how fast the
// machine is: a slow machine queues the same slots later.
func TestPropertyNeverMoreThanLimit(t *testing.T) {
	t.Parallel()
	const (
		instances  = 8
		perInst    = 8
		limit      = 20
		window     = 500 * time.Millisecond
		guard      = 100 * time.Millisecond
		span       = window + guard
		runWindows = 6
	)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Limit: limit, Window: window, Guard: guard, MaxQueueWait: 20 * time.Second}
			lims := im.new(t, cfg, instances)
			key := Key{App: "app", Resource: "loc-" + im.name}
			var (
				mu     sync.Mutex
				grants []grant
				errs   []error
				wg     sync.WaitGroup
			)
			stop := time.Now().Add(runWindows * span)
			for _, l := range lims {
				for g := 0; g < perInst; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for time.Now().Before(stop) {
							p, err := l.Wait(context.Background(), key)
							sent := time.Now()
							mu.Lock()
							if err != nil {
								errs = append(errs, err)
							} else {
								grants = append(grants, grant{slot: p.Slot, seq: p.Seq, sent: sent})
							}
							mu.Unlock()
							if err != nil {
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			if len(errs) > 0 {
				t.Fatalf("%d Waits failed; first: %v", len(errs), errs[0])
			}
			// Grants are in arrival order unless a slot was given back (a
			// decision that came too late on a loaded machine): that slot
			// goes to the next caller. The window invariant holds either way.
			fifo := givenBack(key) == 0
			if !fifo {
				t.Logf("%d slots given back as late: FIFO not checked", givenBack(key))
			}
			checkGrants(t, grants, limit, window, guard, fifo)

			// Utilisation over the steady state.
			slots := make([]time.Time, len(grants))
			for i, g := range grants {
				slots[i] = g.slot
			}
			sort.Slice(slots, func(i, j int) bool { return slots[i].Before(slots[j]) })
			t0 := slots[0].Add(span)
			t1 := slots[len(slots)-1].Add(-span)
			m := int(t1.Sub(t0) / span)
			if m < 3 {
				t.Fatalf("steady state holds %d whole windows, want at least 3 (grants %d)", m, len(slots))
			}
			end := t0.Add(time.Duration(m) * span)
			n := 0
			for _, s := range slots {
				if !s.Before(t0) && s.Before(end) {
					n++
				}
			}
			// A slot given back as late (a decision that came after its
			// budget on a loaded machine) and already in the past is lost
			// to utilisation by design: never sending late wins over using
			// every slot. The floor holds for a run without give-backs.
			if want := 0.95 * float64(m*limit); float64(n) < want && fifo {
				t.Errorf("steady state: %d grants in %d windows of %s, want at least %.0f (95%% of %d per window)", n, m, span, want, limit)
			}
			t.Logf("%s: %d grants; steady state %d grants in %d windows of %s (%.1f%% of L)", im.name, len(grants), n, m, span, 100*float64(n)/float64(m*limit))
		})
	}
}

// TestPropertyWithCancellations mixes cancellations into greedy traffic:
// callers give up at random moments, many while sleeping until their slot
// (which then goes to the free set and to a later caller), and some give
// back a permit they did not use. The grants and sends that remain must
// still never exceed L per window; FIFO is not asserted, because a freed
// slot goes to the next caller to arrive.
func TestPropertyWithCancellations(t *testing.T) {
	t.Parallel()
	const (
		instances = 4
		perInst   = 8
		limit     = 10
		window    = 300 * time.Millisecond
		guard     = 100 * time.Millisecond
	)
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			lims := im.new(t, Config{Limit: limit, Window: window, Guard: guard, MaxQueueWait: 10 * time.Second}, instances)
			key := Key{App: "app", Resource: "churn-" + im.name}
			var (
				mu                   sync.Mutex
				grants               []grant
				cancelled, givenBack int
				failures             []error
				wg                   sync.WaitGroup
			)
			stop := time.Now().Add(8 * (window + guard))
			for i, l := range lims {
				for g := 0; g < perInst; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						rnd := rand.New(rand.NewPCG(uint64(i), uint64(g)))
						for time.Now().Before(stop) {
							ctx, cancel := context.WithCancel(context.Background())
							timer := time.AfterFunc(time.Duration(rnd.IntN(900))*time.Millisecond, cancel)
							p, err := l.Wait(ctx, key)
							sent := time.Now()
							timer.Stop()
							cancel()
							mu.Lock()
							switch {
							case errors.Is(err, context.Canceled):
								cancelled++
							case err != nil:
								failures = append(failures, err)
							case rnd.IntN(10) == 0:
								// Not sent after all: give it back.
								if err := p.Cancel(context.Background()); err != nil {
									failures = append(failures, err)
								}
								givenBack++
							default:
								grants = append(grants, grant{slot: p.Slot, seq: p.Seq, sent: sent})
							}
							mu.Unlock()
						}
					}()
				}
			}
			wg.Wait()
			if len(failures) > 0 {
				t.Fatalf("%d Waits failed; first: %v", len(failures), failures[0])
			}
			checkGrants(t, grants, limit, window, guard, false)
			// The test must have exercised what it claims: waits cancelled
			// while sleeping, and freed slots granted out of arrival order.
			bySeq := append([]grant(nil), grants...)
			sort.Slice(bySeq, func(i, j int) bool { return bySeq[i].seq < bySeq[j].seq })
			reordered := 0
			for i := 1; i < len(bySeq); i++ {
				if bySeq[i].slot.Before(bySeq[i-1].slot) {
					reordered++
				}
			}
			if cancelled == 0 || reordered == 0 {
				t.Errorf("cancelled %d waits and reused %d freed slots out of order; want both above 0", cancelled, reordered)
			}
			t.Logf("%s: %d sent, %d cancelled while waiting, %d given back, %d freed slots reused out of order", im.name, len(grants), cancelled, givenBack, reordered)
		})
	}
}

// checkGrants asserts the window invariant on grant and send times and, when
// fifo is set, that grants ordered by sequence never move back in time.
// giveBacks counts, per key, the slots given back (see onGiveBack).
var giveBacks sync.Map // Key.String() → *atomic.Int64

func init() {
	h := func(k Key) {
		c, _ := giveBacks.LoadOrStore(k.String(), new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
	onGiveBack.Store(&h)
}

func givenBack(k Key) int64 {
	if c, ok := giveBacks.Load(k.String()); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

func checkGrants(t *testing.T, grants []grant, limit int, window, guard time.Duration, fifo bool) {
	t.Helper()
	if len(grants) <= limit {
		t.Fatalf("only %d grants: the test did not push past the limit %d", len(grants), limit)
	}
	slots := make([]time.Time, len(grants))
	sends := make([]time.Time, len(grants))
	for i, g := range grants {
		slots[i], sends[i] = g.slot, g.sent
	}
	if n, at := maxInWindow(slots, window+guard); n > limit {
		t.Errorf("grant times: %d in the %s from %s, limit %d", n, window+guard, at.Format(time.StampMicro), limit)
	}
	if n, at := maxInWindow(sends, window); n > limit {
		t.Errorf("send times: %d in the %s from %s, limit %d", n, window, at.Format(time.StampMicro), limit)
	}
	if !fifo {
		return
	}
	bySeq := append([]grant(nil), grants...)
	sort.Slice(bySeq, func(i, j int) bool { return bySeq[i].seq < bySeq[j].seq })
	for i := 1; i < len(bySeq); i++ {
		if bySeq[i].seq == bySeq[i-1].seq {
			t.Fatalf("two grants share seq %d", bySeq[i].seq)
		}
		if bySeq[i].slot.Before(bySeq[i-1].slot) {
			t.Fatalf("not FIFO: grant %d has slot %s before grant %d's %s",
				bySeq[i].seq, bySeq[i].slot.Format(time.StampMicro), bySeq[i-1].seq, bySeq[i-1].slot.Format(time.StampMicro))
		}
	}
}

// waitFor polls cond until it holds or 10s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, what, testwait.DefaultTimeout, cond)
}

// ctx0 is a context with a timeout, cancelled when the test ends.
func ctx0(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustState(t *testing.T, l Limiter, key Key) State {
	t.Helper()
	st, err := l.State(context.Background(), key)
	if err != nil {
		t.Fatalf("State: %v", err)
	}
	return st
}

// TestCancelFreesSlot: a wait cancelled while sleeping gives its future slot
// to the next caller and its daily unit back, and later slots keep the
// window invariant; Permit.Cancel after a grant gives the daily unit back.
func TestCancelFreesSlot(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			// B's freed slot must still lie ahead when D asks, a window after
			// A: a second leaves room for a slow machine.
			// The guard band is wide enough that the late-slot rule (3/4 of
			// it) does not fire on a loaded machine.
			const window, guard = time.Second, 200 * time.Millisecond
			span := window + guard
			lims := im.new(t, Config{Limit: 1, Window: window, Guard: guard, MaxQueueWait: 5 * time.Second}, 2)
			a, b := lims[0], lims[1]
			key := Key{App: "app", Resource: "cancel"}
			ctx := context.Background()

			pa, err := a.Wait(ctx, key)
			if err != nil {
				t.Fatalf("first Wait: %v", err)
			}
			// B queues for the slot after A's, then C for the one after.
			bctx, cancelB := context.WithCancel(ctx)
			bErr := make(chan error, 1)
			go func() { _, err := b.Wait(bctx, key); bErr <- err }()
			waitFor(t, "B queued", func() bool { return mustState(t, a, key).Queued == 1 })
			type result struct {
				p   Permit
				err error
			}
			cRes := make(chan result, 1)
			go func() { p, err := a.Wait(ctx, key); cRes <- result{p, err} }()
			waitFor(t, "C queued", func() bool { return mustState(t, a, key).Queued == 2 })

			cancelB()
			if err := <-bErr; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Wait returned %v, want context.Canceled", err)
			}
			if st := mustState(t, a, key); st.Queued != 1 || st.DailyUsed != 2 {
				t.Fatalf("after cancel: queued %d, daily used %d; want 1 and 2", st.Queued, st.DailyUsed)
			}
			// D arrives after the cancellation and gets B's freed slot, one
			// W' after A, ahead of C (without the free set it would queue
			// behind C, three W' after A, and the freed slot would be lost).
			pd, err := b.Wait(ctx, key)
			if err != nil {
				t.Fatalf("Wait after cancel: %v", err)
			}
			if st := mustState(t, a, key); st.DailyUsed != 3 {
				t.Errorf("daily used %d, want 3 (A, C, D)", st.DailyUsed)
			}
			// A request that was not sent after all gives its unit back,
			// once only. D cancels at once, as the upstream chain does: a
			// slot more than W' old has left the log, and with it what
			// Cancel could give back.
			for i := 0; i < 2; i++ {
				if err := pd.Cancel(ctx); err != nil {
					t.Fatalf("Permit.Cancel: %v", err)
				}
			}
			if st := mustState(t, a, key); st.DailyUsed != 2 {
				t.Errorf("daily used after Permit.Cancel twice: %d, want 2", st.DailyUsed)
			}
			c := <-cRes
			if c.err != nil {
				t.Fatalf("C's Wait: %v", c.err)
			}
			// D went ahead of C, who queued before D arrived: without the
			// free set D would queue behind C and the freed slot would be
			// lost. With L = 1 any two grants lie at least W' apart.
			if !pd.Slot.Before(c.p.Slot) {
				t.Errorf("D's slot %s is not before C's %s: D did not get the freed slot",
					pd.Slot.Format(time.StampMicro), c.p.Slot.Format(time.StampMicro))
			}
			for _, pair := range [][2]Permit{{pa, pd}, {pd, c.p}} {
				if got := pair[1].Slot.Sub(pair[0].Slot); got < span {
					t.Errorf("grants %d and %d lie %s apart, want at least W' = %s", pair[0].Seq, pair[1].Seq, got, span)
				}
			}
		})
	}
}

// TestRefusedBeyondDeadline: a slot beyond the caller's deadline, or beyond
// MaxQueueWait without one, is refused with the delay and reserves nothing.
// The window is long, so the next slot stays beyond both however slow the
// machine is; the delays are checked against what the decision saw.
func TestRefusedBeyondDeadline(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			const window, guard, maxQueue = 5 * time.Second, 10 * time.Millisecond, 200 * time.Millisecond
			span := window + guard
			l := im.new(t, Config{Limit: 1, Window: window, Guard: guard, MaxQueueWait: maxQueue}, 1)[0]
			key := Key{App: "app", Resource: "deadline"}
			ctx := context.Background()
			if _, err := l.Wait(ctx, key); err != nil {
				t.Fatalf("first Wait: %v", err)
			}
			short, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			deadline, _ := short.Deadline()
			for name, c := range map[string]context.Context{"deadline": short, "no deadline": ctx} {
				_, err := l.Wait(c, key)
				end := time.Now()
				var le *Error
				if !errors.As(err, &le) {
					t.Fatalf("%s: Wait returned %v, want *Error", name, err)
				}
				if le.Reason != RateLimited || string(le.Reason) != "RATE_LIMITED" {
					t.Errorf("%s: reason %q, want RATE_LIMITED", name, le.Reason)
				}
				// Refused because the slot lay further than the caller could
				// wait: its deadline (as it stood when the decision was
				// asked for, at or before end) or MaxQueueWait.
				limit := maxQueue
				if name == "deadline" {
					limit = deadline.Sub(end)
				}
				if le.RetryAfter <= limit || le.RetryAfter > span {
					t.Errorf("%s: RetryAfter %s, want in (%s, %s]", name, le.RetryAfter, limit, span)
				}
			}
			// The refusals reserved nothing.
			if st := mustState(t, l, key); st.Queued != 0 || st.DailyUsed != 1 {
				t.Errorf("after the refusals: %d queued, %d used today; want 0 and 1", st.Queued, st.DailyUsed)
			}
		})
	}
}

// TestDailyRollover puts the limiter's clock shortly before 00:00 UTC of a
// fixed day: the daily quota is refused with the delay to midnight, and
// granted again once the clock is moved past it. The clock is moved, not
// waited for, so neither the hour the test runs at nor the machine's speed
// matters.
func TestDailyRollover(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			midnight := testNoon.Add(12 * time.Hour)
			const before = 10 * time.Minute
			cfg := Config{Limit: 100, Window: time.Second, Daily: 3}
			cfg.clockOffset = time.Until(midnight.Add(-before))
			l := im.new(t, cfg, 1)[0]
			key := Key{App: "app", Resource: "daily"}
			ctx := context.Background()
			for i := 0; i < 3; i++ {
				if _, err := l.Wait(ctx, key); err != nil {
					t.Fatalf("Wait %d: %v", i, err)
				}
			}
			_, err := l.Wait(ctx, key)
			var le *Error
			if !errors.As(err, &le) || le.Reason != DailyQuotaExhausted {
				t.Fatalf("4th Wait returned %v, want DAILY_QUOTA_EXHAUSTED", err)
			}
			if le.RetryAfter <= 0 || le.RetryAfter > before {
				t.Fatalf("RetryAfter %s, want in (0, %s]: the delay to midnight", le.RetryAfter, before)
			}
			if st := mustState(t, l, key); st.DailyUsed != 3 || st.DailyRemaining != 0 {
				t.Errorf("before midnight: used %d remaining %d, want 3 and 0", st.DailyUsed, st.DailyRemaining)
			}
			setOffset(l, time.Until(midnight.Add(time.Second)))
			p, err := l.Wait(ctx, key)
			if err != nil {
				t.Fatalf("Wait after midnight: %v", err)
			}
			if p.Slot.Before(midnight) {
				t.Errorf("slot %s is before midnight %s", p.Slot.UTC(), midnight)
			}
			if st := mustState(t, l, key); st.DailyUsed != 1 || st.DailyRemaining != 2 {
				t.Errorf("after midnight: used %d remaining %d, want 1 and 2", st.DailyUsed, st.DailyRemaining)
			}
		})
	}
}

// setOffset moves the clock of either implementation; see Local.setOffset.
func setOffset(l Limiter, d time.Duration) {
	switch l := l.(type) {
	case *Local:
		l.setOffset(d)
	case *Redis:
		l.setOffset(d)
	}
}

// TestCoolDownShared: a 429 observed by one instance holds back every
// instance; X-RateLimit-Remaining: 0 starts a cool-down of the reported
// interval; a lower X-RateLimit-Daily-Remaining lowers the daily count and a
// higher one does not raise it.
func TestCoolDownShared(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			lims := im.new(t, Config{Limit: 100, Window: time.Second, Guard: 100 * time.Millisecond, Daily: 100}, 3)
			a, b := lims[0], lims[1]
			ctx := context.Background()
			key := Key{App: "app", Resource: "cool"}

			a.Observe(ctx, key, http.StatusTooManyRequests, http.Header{"Retry-After": {"2"}})
			st := mustState(t, b, key)
			if st.CoolDownUntil.IsZero() {
				t.Fatal("instance B sees no cool-down after A observed a 429")
			}
			// Every other instance is held back too.
			for i, l := range lims[1:] {
				_, err := l.Wait(ctx0(t, 100*time.Millisecond), key)
				var le *Error
				if !errors.As(err, &le) || le.Reason != RateLimited {
					t.Fatalf("instance %d: Wait during cool-down returned %v, want RATE_LIMITED", i+1, err)
				}
			}
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			deadline, _ := short.Deadline()
			_, err := b.Wait(short, key)
			end := time.Now()
			var le *Error
			if !errors.As(err, &le) || le.Reason != RateLimited {
				t.Fatalf("Wait during cool-down returned %v, want RATE_LIMITED", err)
			}
			// Refused because the cool-down outlasted the deadline as it
			// stood when the decision was asked for, at or before end.
			if left := deadline.Sub(end); le.RetryAfter <= left || le.RetryAfter > 2*time.Second {
				t.Errorf("RetryAfter %s, want in (%s, 2s]", le.RetryAfter, left)
			}
			p, err := b.Wait(ctx, key)
			if err != nil {
				t.Fatalf("Wait through cool-down: %v", err)
			}
			if p.Slot.Before(st.CoolDownUntil) {
				t.Errorf("slot %s is inside the cool-down ending %s", p.Slot.Format(time.StampMicro), st.CoolDownUntil.Format(time.StampMicro))
			}

			key2 := Key{App: "app", Resource: "remaining"}
			t0 := time.Now()
			a.Observe(ctx, key2, http.StatusOK, http.Header{
				"X-Ratelimit-Remaining":             {"0"},
				"X-Ratelimit-Interval-Milliseconds": {"700"},
				"X-Ratelimit-Daily-Remaining":       {"40"},
			})
			t1 := time.Now()
			st2 := mustState(t, b, key2)
			// The cool-down is the interval from the moment Observe ran.
			// slack covers µs truncation and the local limiter's clock,
			// which runs on the monotonic clock from its creation and may
			// drift from the wall clock by a slewing NTP's few hundred ppm.
			const interval, slack = 700 * time.Millisecond, 5 * time.Millisecond
			if end := st2.CoolDownUntil; end.Before(t0.Add(interval-slack)) || end.After(t1.Add(interval+slack)) {
				t.Errorf("cool-down after Remaining: 0 ends at %s, want 700ms after Observe ran (%s to %s)",
					end.Format(time.StampMicro), t0.Add(interval).Format(time.StampMicro), t1.Add(interval).Format(time.StampMicro))
			}
			if st2.DailyUsed != 60 || st2.DailyRemaining != 40 {
				t.Errorf("daily after Daily-Remaining 40: used %d remaining %d, want 60 and 40", st2.DailyUsed, st2.DailyRemaining)
			}
			a.Observe(ctx, key2, http.StatusOK, http.Header{"X-Ratelimit-Daily-Remaining": {"90"}})
			if st := mustState(t, b, key2); st.DailyUsed != 60 {
				t.Errorf("a higher Daily-Remaining changed daily used to %d, want 60", st.DailyUsed)
			}
			// A plain success starts no cool-down.
			key3 := Key{App: "app", Resource: "fine"}
			a.Observe(ctx, key3, http.StatusOK, http.Header{"X-Ratelimit-Remaining": {"57"}})
			if st := mustState(t, b, key3); !st.CoolDownUntil.IsZero() {
				t.Errorf("success with Remaining 57 started a cool-down until %s", st.CoolDownUntil)
			}
		})
	}
}

// TestCoolDownHoldsSleepers: a caller already sleeping until a slot on one
// instance does not send into a cool-down another instance starts while it
// sleeps; it queues again behind the cool-down.
func TestCoolDownHoldsSleepers(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			lims := im.new(t, Config{Limit: 1, Window: 500 * time.Millisecond, Guard: 100 * time.Millisecond, MaxQueueWait: 5 * time.Second}, 2)
			a, b := lims[0], lims[1]
			key := Key{App: "app", Resource: "sleeper"}
			sleepThroughCoolDown(t, a, b, key, func() {})
			if st := mustState(t, a, key); st.DailyUsed != 2 {
				t.Errorf("daily used %d, want 2: the given-back slot must not count", st.DailyUsed)
			}
		})
	}
}

// TestRemainingZeroAgreeingWithLog: X-RateLimit-Remaining: 0 starts no
// cool-down when the limiter's own log is full (HighLevel agrees with it),
// and does when the log has room (someone else spends the quota).
func TestRemainingZeroAgreeingWithLog(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			lims := im.new(t, Config{Limit: 2, Window: 10 * time.Second, Guard: 200 * time.Millisecond}, 2)
			a, b := lims[0], lims[1]
			ctx := context.Background()
			zero := http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Interval-Milliseconds": {"10000"}}
			full := Key{App: "app", Resource: "full"}
			for i := 0; i < 2; i++ {
				if _, err := a.Wait(ctx, full); err != nil {
					t.Fatalf("Wait: %v", err)
				}
			}
			b.Observe(ctx, full, http.StatusOK, zero)
			if st := mustState(t, a, full); !st.CoolDownUntil.IsZero() {
				t.Errorf("Remaining: 0 with a full log started a cool-down until %s", st.CoolDownUntil)
			}
			room := Key{App: "app", Resource: "room"}
			if _, err := a.Wait(ctx, room); err != nil {
				t.Fatalf("Wait: %v", err)
			}
			b.Observe(ctx, room, http.StatusOK, zero)
			if st := mustState(t, a, room); st.CoolDownUntil.IsZero() {
				t.Error("Remaining: 0 with room in the log started no cool-down")
			}
		})
	}
}

func TestParseObservation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		status int
		h      http.Header
		want   observation
	}{
		{"success", 200, http.Header{"X-Ratelimit-Remaining": {"3"}}, observation{dailyRemaining: -1}},
		{"429 bare", 429, nil, observation{coolDown: 10 * time.Second, dailyRemaining: -1}},
		{"429 retry-after seconds", 429, http.Header{"Retry-After": {"7"}}, observation{coolDown: 7 * time.Second, dailyRemaining: -1}},
		{"429 retry-after date", 429, http.Header{"Retry-After": {now.Add(3 * time.Second).Format(http.TimeFormat)}}, observation{coolDown: 3 * time.Second, dailyRemaining: -1}},
		{"429 interval", 429, http.Header{"X-Ratelimit-Interval-Milliseconds": {"2500"}}, observation{coolDown: 2500 * time.Millisecond, dailyRemaining: -1}},
		{"remaining 0", 200, http.Header{"X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Interval-Milliseconds": {"10000"}}, observation{coolDown: 10 * time.Second, unlessFull: true, dailyRemaining: -1}},
		{"429 remaining 0", 429, http.Header{"X-Ratelimit-Remaining": {"0"}, "Retry-After": {"2"}}, observation{coolDown: 2 * time.Second, dailyRemaining: -1}},
		{"daily", 200, http.Header{"X-Ratelimit-Daily-Remaining": {"12"}}, observation{dailyRemaining: 12}},
		{"garbage", 429, http.Header{"Retry-After": {"soon"}, "X-Ratelimit-Daily-Remaining": {"x"}}, observation{coolDown: 10 * time.Second, dailyRemaining: -1}},
	} {
		if got := parseObservation(tc.status, tc.h, 10*time.Second, now); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestConfigAndKeyValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Limit: -1}, "Limit"},
		{Config{Window: time.Microsecond}, "Window"},
		{Config{Guard: -time.Second}, "Guard"},
		{Config{Fallback: "open"}, "Fallback"},
		{Config{Fallback: LocalShare, Limit: 3, Replicas: 4}, "Fallback"},
	} {
		_, err := NewLocal(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("NewLocal(%+v) = %v, want an error naming %s", tc.cfg, err, tc.field)
		}
	}
	l, err := NewLocal(Config{})
	if err != nil {
		t.Fatalf("NewLocal with defaults: %v", err)
	}
	for _, k := range []Key{{"", "r"}, {"a", ""}, {"a{", "r"}, {"a", "r}"}, {"a|b", "r"}} {
		if _, err := l.Wait(context.Background(), k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Wait(%+v) = %v, want ErrInvalidKey", k, err)
		}
	}
	if got := (&Error{Reason: DailyQuotaExhausted, RetryAfter: time.Second}).Error(); !strings.Contains(got, "DAILY_QUOTA_EXHAUSTED") {
		t.Errorf("Error() = %q, want the reason in it", got)
	}
}
