package limiter

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// TestRedisKilledFailsClosed kills redis-server under load: every Wait then
// fails with UNAVAILABLE and a RetryAfter (never a grant, never a panic),
// Observe and Cancel report nothing worse than a log line or an error, and
// Waits are granted again once the server is back.
func TestRedisKilledFailsClosed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	cfg := Config{Limit: 1000, Window: time.Second, Guard: 100 * time.Millisecond, ProbeInterval: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	var lims []*Redis
	for i := 0; i < 3; i++ {
		c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		l, err := NewRedis(c, cfg)
		if err != nil {
			t.Fatalf("NewRedis: %v", err)
		}
		lims = append(lims, l)
	}
	key := Key{App: "app", Resource: "outage"}
	ctx := context.Background()
	granted, _ := lims[0].Wait(ctx, key)

	var (
		mu          sync.Mutex
		down        bool
		unavailable int
		grantedDown int
		other       []error
		wg          sync.WaitGroup
	)
	stop := make(chan struct{})
	for _, l := range lims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				wasDown := down
				mu.Unlock()
				_, err := l.Wait(ctx, key)
				mu.Lock()
				isDown := down
				var le *Error
				switch {
				case err == nil && wasDown && isDown:
					grantedDown++
				case errors.As(err, &le) && le.Reason == Unavailable && le.RetryAfter > 0:
					unavailable++
				case err != nil:
					other = append(other, err)
				}
				mu.Unlock()
				// Reports that reach Redis without holding the callers back.
				l.Observe(ctx, key, http.StatusOK, http.Header{"X-Ratelimit-Daily-Remaining": {"1000000"}})
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	srv.Kill()
	// Only Waits that start after the kill has completed count: one that
	// began before may legitimately be granted.
	mu.Lock()
	down = true
	mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	if _, err := lims[0].State(ctx, key); err == nil {
		t.Error("State succeeded while Redis was down")
	}
	if err := granted.Cancel(ctx); err == nil {
		t.Error("Permit.Cancel succeeded while Redis was down")
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	if grantedDown > 0 {
		t.Errorf("%d Waits were granted while Redis was down: the limiter failed open", grantedDown)
	}
	if unavailable == 0 {
		t.Error("no Wait reported UNAVAILABLE while Redis was down")
	}
	if len(other) > 0 {
		t.Errorf("%d Waits failed otherwise; first: %v", len(other), other[0])
	}
	mu.Unlock()

	srv.Restart()
	waitFor(t, "a grant after Redis restarted", func() bool {
		_, err := lims[1].Wait(ctx, key)
		return err == nil
	})
}

// TestLocalShareFallback: with Fallback local-share and N replicas, a
// replica that cannot reach Redis keeps granting, never more than
// floor(L/N) per window, and goes back to Redis once it answers.
func TestLocalShareFallback(t *testing.T) {
	t.Parallel()
	const (
		limit, replicas = 20, 4
		share           = limit / replicas
		window          = 300 * time.Millisecond
		guard           = 100 * time.Millisecond
	)
	srv := redistest.Start(t, redistest.Options{})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = c.Close() })
	l, err := NewRedis(c, Config{Limit: limit, Window: window, Guard: guard, Fallback: LocalShare,
		Replicas: replicas, ProbeInterval: 100 * time.Millisecond, MaxQueueWait: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	key := Key{App: "app", Resource: "share"}
	ctx := context.Background()
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatalf("Wait with Redis up: %v", err)
	}
	srv.Kill()

	var (
		mu     sync.Mutex
		grants []grant
		errs   []error
		wg     sync.WaitGroup
	)
	stop := time.Now().Add(4 * (window + guard))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				p, err := l.Wait(ctx, key)
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
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d Waits failed during the outage with local-share; first: %v", len(errs), errs[0])
	}
	// The share is a Local limiter: its slots are on the local clock, FIFO
	// within this replica, unless a slot was given back as late.
	checkGrants(t, grants, share, window, guard, givenBack(key) == 0)
	if st := mustState(t, l, key); !st.Fallback {
		t.Error("State.Fallback is false while Redis is down")
	}

	srv.Restart()
	other := newReplica(t, srv)
	waitFor(t, "grants through Redis again", func() bool {
		if _, err := l.Wait(ctx, key); err != nil {
			t.Fatalf("Wait after restart: %v", err)
		}
		st, err := other.State(ctx, key)
		return err == nil && st.InWindow+st.Queued > 0
	})
	if st := mustState(t, l, key); st.Fallback {
		t.Error("State.Fallback is still true after Redis answered")
	}
}

// newReplica is a second replica with default settings on srv.
func newReplica(t *testing.T, srv *redistest.Server) *Redis {
	t.Helper()
	r, err := NewRedis(srv.Client(), Config{Limit: 20, Window: 300 * time.Millisecond, Guard: 60 * time.Millisecond})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	return r
}

// TestRedisKeysAndTTL: the key's Redis keys share one hash tag, carry TTLs
// no shorter than what they must remember, and the slot log vanishes once
// idle while the daily count stays. The clock is put at noon of a fixed
// day, so the next 00:00 UTC is known whatever the hour the test runs at;
// each TTL is checked against the instants before the first decision (t0)
// and after the TTL was read (t1), on the same shifted clock: a key set to
// expire at E has E-t1 <= TTL <= E-t0.
func TestRedisKeysAndTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	const window, guard = 200 * time.Millisecond, 50 * time.Millisecond
	l, err := NewRedis(c, Config{Limit: 2, Window: window, Guard: guard})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	off := noonOffset()
	l.setOffset(off)
	clock := func() time.Time { return time.Now().Add(off) }
	key := Key{App: "app-1", Resource: "loc-1"}
	ctx := context.Background()
	t0 := clock()
	var last Permit
	for i := 0; i < 3; i++ {
		if last, err = l.Wait(ctx, key); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	keys := redisKeys(key)
	want := []string{"hlgate:rl:{app-1|loc-1}:log", "hlgate:rl:{app-1|loc-1}:free", "hlgate:rl:{app-1|loc-1}:st"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("redisKeys (-want +got):\n%s", diff)
	}
	logTTL := c.PTTL(ctx, keys[0]).Val()
	stTTL := c.PTTL(ctx, keys[2]).Val()
	t1 := clock()
	// PTTL and the scripts' TTLs are whole milliseconds.
	const ms = 2 * time.Millisecond
	within := func(what string, ttl time.Duration, expires time.Time, slack time.Duration) {
		t.Helper()
		if lo, hi := expires.Sub(t1)-ms, expires.Sub(t0)+slack+ms; ttl < lo || ttl > hi {
			t.Errorf("%s TTL %s, want in [%s, %s]: expiring at %s (+%s)", what, ttl, lo, hi, expires.UTC().Format(time.StampMicro), slack)
		}
	}
	// The log lives until its latest slot is W' old, plus a second, and
	// at most W' longer (the slack that spares most grants a PEXPIRE).
	within("log", logTTL, last.Slot.Add(window+guard+time.Second), window+guard)
	// The state hash lives until the next 00:00 UTC plus dayMargin.
	midnight := testNoon.Add(12 * time.Hour)
	within("state", stTTL, midnight.Add(dayMargin), 0)
	waitFor(t, "the idle log to expire", func() bool { return c.Exists(ctx, keys[0]).Val() == 0 })
	if st := mustState(t, l, key); st.DailyUsed != 3 {
		t.Errorf("daily used after the log expired: %d, want 3", st.DailyUsed)
	}
}

// TestLogTrimmedAndKeptAlive: the reserve script trims the slot log every
// trimEvery grants and sets its TTL only when the latest slot needs longer,
// yet the log stays bounded, always outlives its latest slot by W', and a
// log recreated without a TTL (removed on its own) gets one back within
// trimEvery grants.
func TestLogTrimmedAndKeptAlive(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	const limit, window, guard = 2, 100 * time.Millisecond, 20 * time.Millisecond
	l, err := NewRedis(c, Config{Limit: limit, Window: window, Guard: guard})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	off := noonOffset()
	l.setOffset(off)
	key := Key{App: "app-1", Resource: "loc-1"}
	logKey := redisKeys(key)[0]
	ctx := context.Background()
	for i := 0; i < 3*trimEvery; i++ {
		p, err := l.Wait(ctx, key)
		if err != nil {
			t.Fatalf("Wait %d: %v", i, err)
		}
		// The log lives at least until this slot is W' old, plus a second.
		ttl := c.PTTL(ctx, logKey).Val()
		if need := time.Until(p.Slot.Add(-off)) + window + guard + time.Second - 5*time.Millisecond; ttl < need {
			t.Fatalf("grant %d (seq %d): log TTL %s, want at least %s", i, p.Seq, ttl, need)
		}
		// Stale slots are trimmed every trimEvery grants: the log never
		// holds more than the window's limit and trimEvery-1 stale ones,
		// plus the one just granted.
		if n := c.ZCard(ctx, logKey).Val(); n > limit+trimEvery {
			t.Fatalf("grant %d: the log holds %d slots, want at most %d", i, n, limit+trimEvery)
		}
	}
	// As if the log had been removed and recreated while the hash says
	// its TTL runs far ahead (2^52 µs: the year 2112, exact in Lua's
	// doubles): only the trim's PEXPIRE can restore one.
	if err := c.Persist(ctx, logKey).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.HSet(ctx, redisKeys(key)[2], "exp", int64(1)<<52).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < trimEvery; i++ {
		if _, err := l.Wait(ctx, key); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	if ttl := c.PTTL(ctx, logKey).Val(); ttl <= 0 {
		t.Errorf("a log left without a TTL still has none (PTTL %d) after %d grants", ttl, trimEvery)
	}
}

// TestScriptCacheFlushed: after SCRIPT FLUSH (a restart or failover loses
// the script cache) the next decision falls back from EVALSHA to EVAL.
func TestScriptCacheFlushed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	l, err := NewRedis(c, Config{})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	key := Key{App: "app", Resource: "noscript"}
	ctx := context.Background()
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatalf("SCRIPT FLUSH: %v", err)
	}
	p, err := l.Wait(ctx, key)
	if err != nil {
		t.Fatalf("Wait after SCRIPT FLUSH: %v", err)
	}
	if p.Seq != 2 {
		t.Errorf("seq after flush %d, want 2", p.Seq)
	}
}

// TestRedisCluster runs the limiter through a ClusterClient against a
// one-node Redis Cluster holding every slot. Cluster mode refuses a script
// whose keys lie in different slots (CROSSSLOT), so this proves the hash
// tag keeps each key's Redis keys together.
func TestRedisCluster(t *testing.T) {
	t.Parallel()
	cc := oneNodeCluster(t)
	ctx := context.Background()
	for _, k := range [][]string{redisKeys(Key{App: "a", Resource: "loc-1"}), redisKeys(Key{App: "app-2", Resource: "loc-77"})} {
		slot, err := cc.ClusterKeySlot(ctx, k[0]).Result()
		if err != nil {
			t.Fatalf("CLUSTER KEYSLOT: %v", err)
		}
		for _, other := range k[1:] {
			if s := cc.ClusterKeySlot(ctx, other).Val(); s != slot {
				t.Errorf("%q is in slot %d, %q in %d", other, s, k[0], slot)
			}
		}
	}
	const window, guard = 200 * time.Millisecond, 50 * time.Millisecond
	l, err := NewRedis(cc, Config{Limit: 1, Window: window, Guard: guard})
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	key := Key{App: "app", Resource: "cluster"}
	p1, err := l.Wait(ctx, key)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	p2, err := l.Wait(ctx, key)
	if err != nil {
		t.Fatalf("second Wait: %v", err)
	}
	// With L = 1 the invariant is that two grants lie at least W' apart,
	// in the order they were decided. (Exactly W' only when the second
	// decision came within W' of the first, which a loaded machine need
	// not do.)
	if p2.Seq <= p1.Seq {
		t.Errorf("second grant has seq %d, first %d: not in decision order", p2.Seq, p1.Seq)
	}
	if got := p2.Slot.Sub(p1.Slot); got < window+guard {
		t.Errorf("second slot %s after the first, want at least W' = %s", got, window+guard)
	}
	if err := p2.Cancel(ctx); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	l.Observe(ctx, key, http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}})
	if st := mustState(t, l, key); st.CoolDownUntil.IsZero() || st.DailyUsed != 1 {
		t.Errorf("state through the cluster: %+v, want a cool-down and daily used 1", st)
	}
}

// HighLevel reports X-RateLimit-Daily-Remaining on every answer. When it is
// not ahead of the count this replica already saw, Observe sends nothing to
// Redis; when it is ahead, Observe sends nothing either, and the key's next
// reservation raises the shared count before it decides.
func TestObserveSkipsRedisWhenHighLevelIsNotAhead(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	c := srv.Client()
	ctx := context.Background()
	cfg := Config{Limit: 10, Window: time.Second, Daily: 1000}
	l, err := NewRedis(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewRedis(srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := Key{App: "app", Resource: "loc"}
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	evals := func() int64 {
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, line := range strings.Split(info, "\r\n") {
			if strings.HasPrefix(line, "cmdstat_evalsha:") || strings.HasPrefix(line, "cmdstat_eval:") {
				f := strings.SplitN(strings.SplitN(line, "calls=", 2)[1], ",", 2)[0]
				v, _ := strconv.ParseInt(f, 10, 64)
				n += v
			}
		}
		return n
	}
	hdr := func(remaining int) http.Header {
		h := http.Header{}
		h.Set("X-RateLimit-Daily-Remaining", strconv.Itoa(remaining))
		h.Set("X-RateLimit-Remaining", "9")
		return h
	}
	before := evals()
	l.Observe(ctx, key, http.StatusOK, hdr(999)) // HighLevel counted 1, as we did
	if got := evals(); got != before {
		t.Fatalf("Observe of an agreeing header ran %d scripts", got-before)
	}
	l.Observe(ctx, key, http.StatusOK, hdr(950)) // HighLevel counted 50: someone else spends this quota
	if got := evals(); got != before {
		t.Fatalf("Observe of a header ahead of ours ran %d scripts; the next reservation carries it", got-before)
	}
	if st := mustState(t, l, key); st.DailyUsed != 50 {
		t.Fatalf("daily used = %d on the observing replica, want 50 (HighLevel's count)", st.DailyUsed)
	}
	if st := mustState(t, other, key); st.DailyUsed != 1 {
		t.Fatalf("daily used = %d on another replica before the next reservation, want 1", st.DailyUsed)
	}
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	for name, lim := range map[string]*Redis{"observing": l, "other": other} {
		if st := mustState(t, lim, key); st.DailyUsed != 51 {
			t.Errorf("daily used = %d on the %s replica after the next reservation, want 51 (raised to HighLevel's 50, plus the grant)", st.DailyUsed, name)
		}
	}
	// Applied once: the count HighLevel reported is not applied again.
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, other, key); st.DailyUsed != 52 {
		t.Errorf("daily used = %d after one more reservation, want 52", st.DailyUsed)
	}
}

// oneNodeCluster starts a one-node Redis Cluster holding every slot and
// returns a ClusterClient on it, once the cluster is ok.
func oneNodeCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{Args: []string{"--cluster-enabled", "yes"}})
	ctx := context.Background()
	if err := srv.Client().Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatalf("CLUSTER ADDSLOTSRANGE: %v", err)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{srv.Addr()}})
	t.Cleanup(func() { _ = cc.Close() })
	waitFor(t, "the cluster to be ok", func() bool {
		info, err := cc.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	return cc
}
