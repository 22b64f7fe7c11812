package limiter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/internal/redistest"
)

// A limiter's concurrent decisions share round trips: callers that come
// while one decision is in flight go out together, as one pipeline, when it
// returns. Each is still its own script call, and each is granted.
func TestConcurrentDecisionsShareRoundTrips(t *testing.T) {
	t.Parallel()
	const callers = 40
	// Answers take 50 ms, so the first decision is in flight while every
	// other caller arrives.
	cfg := Config{Limit: 1000, Window: time.Second, Daily: 100000}
	c, l, direct := delayedLimiter(t, 50*time.Millisecond, callers, cfg)
	ctx := ctx0(t, 30*time.Second)
	key := Key{App: "app", Resource: "batched"}
	hook := &decisionTrips{}
	c.AddHook(hook)

	first := make(chan error, 1)
	go func() { _, err := l.Wait(ctx, key); first <- err }()
	waitFor(t, "the first decision in flight", func() bool { return mustState(t, direct, key).InWindow == 1 })
	var wg sync.WaitGroup
	errs := make(chan error, callers-1)
	for range callers - 1 {
		wg.Add(1)
		go func() { defer wg.Done(); _, err := l.Wait(ctx, key); errs <- err }()
	}
	waitFor(t, "the other callers queued", func() bool { return queued(l) == callers-1 })
	if err := <-first; err != nil {
		t.Fatalf("first Wait: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	if n := hook.trips.Load(); n != 2 {
		t.Errorf("%d callers made %d round trips, want 2 (the first alone, the rest as one pipeline)", callers, n)
	}
	if n := hook.scripts.Load(); n != callers {
		t.Errorf("%d script calls were sent, want %d (one decision per caller)", n, callers)
	}
	if st := mustState(t, direct, key); st.InWindow != callers {
		t.Errorf("%d slots in the window, want %d", st.InWindow, callers)
	}
}

// A caller that stops waiting before its queued decision is sent takes no
// slot: its decision is never sent.
func TestAbandonedQueuedDecisionTakesNoSlot(t *testing.T) {
	t.Parallel()
	cfg := Config{Limit: 10, Window: time.Second, Daily: 1000}
	_, l, direct := delayedLimiter(t, 200*time.Millisecond, 10, cfg)
	ctx := ctx0(t, 30*time.Second)
	key := Key{App: "app", Resource: "abandoned"}

	first := make(chan error, 1)
	go func() { _, err := l.Wait(ctx, key); first <- err }()
	waitFor(t, "the first decision in flight", func() bool { return mustState(t, direct, key).InWindow == 1 })
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { _, err := l.Wait(cctx, key); gaveUp <- err }()
	waitFor(t, "the second caller queued", func() bool { return queued(l) == 1 })
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("first Wait: %v", err)
	}
	waitFor(t, "the reserver idle", func() bool { return !busy(l) })
	if st := mustState(t, direct, key); st.InWindow != 1 || st.DailyUsed != 1 {
		t.Errorf("in window %d, daily used %d; want 1 and 1 (the abandoned decision took a slot)", st.InWindow, st.DailyUsed)
	}
}

// delayedLimiter is a limiter whose Redis answers take delay (its
// client, of poolSize connections, is c), its script already loaded, and a
// limiter on a prompt client of the same Redis, to read State through.
func delayedLimiter(t *testing.T, delay time.Duration, poolSize int, cfg Config) (c *redis.Client, l, direct *Redis) {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	proxy := newDelayProxy(t, srv.Addr(), delay)
	c = redis.NewClient(&redis.Options{Addr: proxy.Addr(), PoolSize: poolSize})
	t.Cleanup(func() { _ = c.Close() })
	var err error
	if l, err = NewRedis(c, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if direct, err = NewRedis(srv.Client(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	if _, err := l.Wait(context.Background(), Key{App: "app", Resource: "warm"}); err != nil { // loads the script
		t.Fatal(err)
	}
	return c, l, direct
}

func queued(l *Redis) int {
	l.reserver.mu.Lock()
	defer l.reserver.mu.Unlock()
	return len(l.reserver.queue)
}

func busy(l *Redis) bool {
	l.reserver.mu.Lock()
	defer l.reserver.mu.Unlock()
	return l.reserver.busy
}

// decisionTrips counts the script calls a client sends and the round
// trips they take (a command alone, or a pipeline); nothing else is
// counted (the notices' pings, a new connection's handshake).
type decisionTrips struct{ trips, scripts atomic.Int64 }

func (h *decisionTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *decisionTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			h.trips.Add(1)
			h.scripts.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *decisionTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := int64(0)
		for _, cmd := range cmds {
			if isScript(cmd) {
				n++
			}
		}
		if n > 0 { // not a new connection's handshake
			h.trips.Add(1)
			h.scripts.Add(n)
		}
		return next(ctx, cmds)
	}
}

func isScript(cmd redis.Cmder) bool { return cmd.Name() == "evalsha" || cmd.Name() == "eval" }
