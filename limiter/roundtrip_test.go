package limiter

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
)

// One call on the hot path, as the upstream chain makes it (Wait, send,
// Observe of HighLevel's answer), costs one Redis round trip, whether
// HighLevel's daily count agrees with ours or is ahead of it; the count
// that was ahead is applied by the key's next decision, on every replica's
// view, once. Only a cool-down (a 429) is sent at once, for callers already
// waiting elsewhere.
func TestOneRedisRoundTripPerCall(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	hook := &redistest.RoundTrips{}
	c.AddHook(hook)
	ctx := context.Background()
	cfg := Config{Limit: 1000, Window: time.Second, Daily: 1000}
	l, err := NewRedis(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewRedis(srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := Key{App: "app", Resource: "hot"}
	answer := func(dailyRemaining int64) http.Header {
		h := http.Header{}
		h.Set("X-RateLimit-Remaining", "99")
		h.Set("X-RateLimit-Daily-Remaining", strconv.FormatInt(dailyRemaining, 10))
		return h
	}
	// call makes one call and returns its round trips.
	call := func(status int, h http.Header) ([]string, error) {
		before := hook.Count()
		_, err := l.Wait(ctx, key)
		if err == nil {
			l.Observe(ctx, key, status, h)
		}
		return hook.Since(before), err
	}
	// The first run of a script loads it (EVALSHA answered NOSCRIPT, then
	// EVAL); that is once per script and Redis, not per call.
	if _, err := call(http.StatusOK, answer(999)); err != nil {
		t.Fatal(err)
	}
	if err := observeScript.Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}

	for i, c := range []struct {
		name      string
		status    int
		header    http.Header
		trips     int
		usedAfter int64 // daily used on another replica after the call
	}{
		{"HighLevel agrees", http.StatusOK, answer(998), 1, 2},
		{"HighLevel is ahead: no round trip of its own", http.StatusOK, answer(900), 1, 3},
		{"the next decision applies it", http.StatusOK, answer(899), 1, 101},
		{"once", http.StatusOK, answer(898), 1, 102},
		{"a 429 starts a cool-down at once", http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, 2, 103},
	} {
		trips, err := call(c.status, c.header)
		if err != nil {
			t.Fatalf("call %d (%s): %v", i, c.name, err)
		}
		if len(trips) != c.trips {
			t.Errorf("call %d (%s): %d Redis round trips, want %d: %q", i, c.name, len(trips), c.trips, trips)
		}
		if st := mustState(t, other, key); st.DailyUsed != c.usedAfter {
			t.Errorf("after call %d (%s): another replica sees daily used %d, want %d", i, c.name, st.DailyUsed, c.usedAfter)
		}
	}

	// HighLevel says the day is spent: the next decision, still one round
	// trip, refuses, and stores the count for every replica.
	day := Key{App: "app", Resource: "spent"}
	if _, err := l.Wait(ctx, day); err != nil {
		t.Fatal(err)
	}
	l.Observe(ctx, day, http.StatusOK, answer(0))
	before := hook.Count()
	_, err = l.Wait(ctx, day)
	var le *Error
	if !errors.As(err, &le) || le.Reason != DailyQuotaExhausted {
		t.Fatalf("Wait after HighLevel reported the day spent: %v, want DAILY_QUOTA_EXHAUSTED", err)
	}
	if trips := hook.Since(before); len(trips) != 1 {
		t.Errorf("the refused decision took %d round trips, want 1: %q", len(trips), trips)
	}
	if st := mustState(t, other, day); st.DailyUsed != cfg.Daily {
		t.Errorf("another replica sees daily used %d, want %d", st.DailyUsed, cfg.Daily)
	}
}

// A count HighLevel reported on one UTC day is never applied to the next:
// the new day starts from zero.
func TestAheadCountStaysInItsDay(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	cfg := Config{Limit: 1000, Window: time.Second, Daily: 1000}
	l, err := NewRedis(srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Half a second before 00:00 UTC on the limiter's clock.
	now, err := srv.Client().Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	toMidnight := now.Truncate(24 * time.Hour).Add(24 * time.Hour).Sub(now)
	l.setOffset(toMidnight - 500*time.Millisecond)
	key := Key{App: "app", Resource: "midnight"}
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	l.Observe(ctx, key, http.StatusOK, http.Header{"X-Ratelimit-Daily-Remaining": {"10"}})
	if st := mustState(t, l, key); st.DailyUsed != 990 {
		t.Fatalf("daily used %d before midnight, want 990", st.DailyUsed)
	}
	l.setOffset(toMidnight + time.Second)
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, l, key); st.DailyUsed != 1 {
		t.Errorf("daily used %d after midnight, want 1 (yesterday's count not carried over)", st.DailyUsed)
	}
}
