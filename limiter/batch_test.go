package limiter

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/internal/redistest"
)

// A limiter's concurrent decisions share round trips: callers that come
// while one decision is in flight go out together, in one script call,
// when it returns. Each is granted.
func TestConcurrentDecisionsShareRoundTrips(t *testing.T) {
	t.Parallel()
	const callers = 40
	hook, direct, key := queueBehindOne(t, "batched", callers, callers)
	if n := hook.trips.Load(); n != 2 {
		t.Errorf("%d callers made %d round trips, want 2 (the first alone, the rest together)", callers, n)
	}
	if n := hook.scripts.Load(); n != 2 {
		t.Errorf("%d callers sent %d script calls, want 2 (the first alone, the rest in one)", callers, n)
	}
	if st := mustState(t, direct, key); st.InWindow != callers {
		t.Errorf("%d slots in the window, want %d", st.InWindow, callers)
	}
}

// A long queue goes out at most maxPerCall decisions a round trip, in the
// order it queued, so no decision waits for more than its own batch's
// round trip once it is made.
func TestLongQueueGoesOutInBoundedRoundTrips(t *testing.T) {
	t.Parallel()
	const callers = 1 + 2*maxPerCall + 10
	hook, direct, key := queueBehindOne(t, "long-queue", 4, callers)
	// The first alone, then 64, 64 and 10.
	if n := hook.trips.Load(); n != 4 {
		t.Errorf("%d callers made %d round trips, want 4", callers, n)
	}
	if n := hook.largest.Load(); n != maxPerCall {
		t.Errorf("the largest round trip carried %d decisions, want %d", n, maxPerCall)
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

// queueBehindOne has callers wait on resource's key through a limiter
// whose Redis answers take 50 ms (a client of poolSize connections,
// counted by hook): the first alone, the others once its decision is in
// flight (seen through direct, a prompt limiter on the same Redis), so
// that all of them queue behind it. It fails unless every one is granted.
func queueBehindOne(t *testing.T, resource string, poolSize, callers int) (hook *decisionTrips, direct *Redis, key Key) {
	t.Helper()
	cfg := Config{Limit: 1000, Window: time.Second, Daily: 100000}
	c, l, direct := delayedLimiter(t, 50*time.Millisecond, poolSize, cfg)
	key = Key{App: "app", Resource: resource}
	hook = &decisionTrips{}
	c.AddHook(hook)
	ctx := ctx0(t, 30*time.Second)
	first := make(chan error, 1)
	go func() { _, err := l.Wait(ctx, key); first <- err }()
	waitFor(t, "the first decision in flight", func() bool { return mustState(t, direct, key).InWindow == 1 })
	var wg sync.WaitGroup
	errs := make(chan error, callers-1)
	for range callers - 1 {
		wg.Go(func() { _, err := l.Wait(ctx, key); errs <- err })
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
	return hook, direct, key
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
	if err := reserveManyScript.Load(context.Background(), c).Err(); err != nil {
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
// trips they take (a command alone, or a pipeline), and keeps the most
// decisions one round trip carried (three keys a decision); nothing else is
// counted (the notices' pings, a new connection's handshake).
type decisionTrips struct{ trips, scripts, largest atomic.Int64 }

// carried notes that one round trip carried the decisions of cmds.
func (h *decisionTrips) carried(cmds ...redis.Cmder) {
	n := int64(0)
	for _, cmd := range cmds {
		d, _ := decisionsOf(cmd)
		n += d
	}
	for {
		m := h.largest.Load()
		if n <= m || h.largest.CompareAndSwap(m, n) {
			return
		}
	}
}

func (h *decisionTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *decisionTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isScript(cmd) {
			h.trips.Add(1)
			h.scripts.Add(1)
			h.carried(cmd)
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
			h.carried(cmds...)
		}
		return next(ctx, cmds)
	}
}

func isScript(cmd redis.Cmder) bool { return cmd.Name() == "evalsha" || cmd.Name() == "eval" }

// decisionsOf is how many reserve decisions cmd carries: three keys each,
// in a call of reserveScript or reserveManyScript sent as EVALSHA or as
// Script.Run's EVAL fallback. Any other command, and the scripts that
// decide nothing (observe, cancel, state), carry none; ok is false for a
// script call it cannot read.
func decisionsOf(cmd redis.Cmder) (n int64, ok bool) {
	args := cmd.Args()
	if !isScript(cmd) {
		return 0, true
	}
	if len(args) < 3 {
		return 0, false
	}
	sha := fmt.Sprint(args[1])
	if cmd.Name() == "eval" { // the script itself
		sum := sha1.Sum([]byte(sha))
		sha = hex.EncodeToString(sum[:])
	}
	switch sha {
	case reserveScript.Hash(), reserveManyScript.Hash():
	case observeScript.Hash(), cancelScript.Hash(), stateScript.Hash():
		return 0, true
	default:
		return 0, false
	}
	keys, err := strconv.ParseInt(fmt.Sprint(args[2]), 10, 64)
	if err != nil || keys%3 != 0 {
		return 0, false
	}
	return keys / 3, true
}

// reservationOf is the reservation Wait would send for key, with a queue
// of up to maxWait.
func reservationOf(l *Redis, key Key, maxWait time.Duration) *reservation {
	return &reservation{keys: redisKeys(key), args: []any{l.argOffset.Load(), l.argLimit, l.argSpan, maxWait.Microseconds(), l.argDaily, int64(-1), int64(-1)}}
}

// sendBatch sends the decisions of keys, in order, as one batch of l's
// reserver, and returns each one's reply.
func sendBatch(t *testing.T, l *Redis, keys ...Key) [][]int64 {
	t.Helper()
	batch := make([]*reservation, len(keys))
	for i, k := range keys {
		batch[i] = reservationOf(l, k, 10*time.Second)
	}
	l.reserver.send(context.Background(), batch)
	out := make([][]int64, len(batch))
	for i, rv := range batch {
		if rv.err != nil || len(rv.res) != 6 {
			t.Fatalf("decision %d (%s): %v, %v", i, keys[i], rv.res, rv.err)
		}
		out[i] = rv.res
	}
	return out
}

// checkBatchDecisions checks the replies of a batch of decisions of a and
// b interleaved (a, b, a, a, b, a, a) under a limit of 3: each key's
// decisions are made in order, as one by one; the first three of a key
// are granted at once, the next wait a window for a slot. With one is
// true the batch was one script call, and all its decisions saw one time.
func checkBatchDecisions(t *testing.T, l *Redis, a, b Key, one bool) {
	t.Helper()
	res := sendBatch(t, l, a, b, a, a, b, a, a)
	now := res[0][2]
	span := l.span
	type want struct {
		seq   int64
		later bool // slot a window after the first grants
	}
	wants := []want{{1, false}, {1, false}, {2, false}, {3, false}, {2, false}, {4, true}, {5, true}}
	for i, r := range res {
		w := wants[i]
		status, slot, at, seq := r[0], r[1], r[2], r[3]
		if status != statusGranted || seq != w.seq {
			t.Errorf("decision %d: status %d seq %d, want granted with seq %d", i, status, seq, w.seq)
		}
		if one && at != now {
			t.Errorf("decision %d decided at %d, the first at %d: one call has one time", i, at, now)
		}
		if w.later && slot < at+span-span/10 || !w.later && slot != at {
			t.Errorf("decision %d: slot %d µs after its time, want %v", i, slot-at, map[bool]string{true: "a window", false: "at once"}[w.later])
		}
	}
	for _, k := range []Key{a, b} {
		st := mustState(t, l, k)
		if n := map[Key]int{a: 5, b: 2}[k]; st.DailyUsed != int64(n) || st.Queued+st.InWindow != n {
			t.Errorf("%s after the batch: %+v, want %d used", k, st, n)
		}
	}
}

// A batch's decisions go to Redis in one reserveManyScript call and are
// made in order, each as reserveScript makes it alone.
func TestBatchDecidesInOrder(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	l, err := NewRedis(srv.Client(), Config{Limit: 3, Window: time.Second, Daily: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	if l.reserver.byTag {
		t.Fatal("a single server's reserver splits calls by hash tag")
	}
	checkBatchDecisions(t, l, Key{App: "app", Resource: "a"}, Key{App: "app", Resource: "b"}, true)

	// Without the script in Redis (its first batch, a restart) the batch
	// still decides, once.
	if err := srv.Client().ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	checkBatchDecisions(t, l, Key{App: "app", Resource: "c"}, Key{App: "app", Resource: "d"}, true)
}

// In a Redis Cluster, which refuses a script whose keys lie in different
// slots (CROSSSLOT), a batch goes out as one call per hash tag.
func TestBatchOnAClusterCallsPerTag(t *testing.T) {
	t.Parallel()
	cc := oneNodeCluster(t)
	ctx := context.Background()
	l, err := NewRedis(cc, Config{Limit: 3, Window: time.Second, Daily: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	a, b := Key{App: "app", Resource: "a"}, Key{App: "app", Resource: "b"}
	if cc.ClusterKeySlot(ctx, redisKeys(a)[0]).Val() == cc.ClusterKeySlot(ctx, redisKeys(b)[0]).Val() {
		t.Fatal("the test's keys share a slot")
	}
	checkBatchDecisions(t, l, a, b, false)
}

// A batch is split into calls of at most maxPerCall decisions, in the
// order they queued; by hash tag when the reserver must.
func TestBatchCalls(t *testing.T) {
	t.Parallel()
	l := &Redis{cfg: Config{Limit: 1, Window: time.Second}, argLimit: 1, argSpan: int64(1), argDaily: 1}
	l.argOffset.Store(any(int64(0)))
	var batch []*reservation
	for i := range 2*maxPerCall + 3 {
		batch = append(batch, reservationOf(l, Key{App: "app", Resource: "loc" + strconv.Itoa(i%3)}, 0))
	}
	sizes := func(calls []manyCall) []int {
		var out []int
		for _, c := range calls {
			out = append(out, len(c))
		}
		return out
	}
	one := &reserver{}
	calls := one.calls(batch)
	if got, want := sizes(calls), []int{maxPerCall, maxPerCall, 3}; !slices.Equal(got, want) {
		t.Errorf("one server: calls of %v decisions, want %v", got, want)
	}
	if calls[0][0] != batch[0] || calls[1][0] != batch[maxPerCall] || calls[2][2] != batch[len(batch)-1] {
		t.Error("one server: the calls do not keep the batch's order")
	}
	keys, args := calls[2].request()
	if len(keys) != 9 || len(args) != 21 || keys[3] != batch[len(batch)-2].keys[0] {
		t.Errorf("the last call's request: %d keys, %d arguments", len(keys), len(args))
	}
	tagged := &reserver{byTag: true}
	for i := len(batch); i < 3*maxPerCall+6; i++ {
		batch = append(batch, reservationOf(l, Key{App: "app", Resource: "loc" + strconv.Itoa(i%3)}, 0))
	}
	calls = tagged.calls(batch)
	if got, want := sizes(calls), []int{maxPerCall, maxPerCall, maxPerCall, 2, 2, 2}; !slices.Equal(got, want) {
		t.Errorf("by tag: calls of %v decisions, want %v", got, want)
	}
	for _, c := range calls {
		for _, rv := range c[1:] {
			if hashTag(rv.keys[0]) != hashTag(c[0].keys[0]) {
				t.Fatalf("a call holds the tags %s and %s", hashTag(c[0].keys[0]), hashTag(rv.keys[0]))
			}
		}
	}
	for key, want := range map[string]string{"hlgate:rl:{app|loc}:log": "app|loc", "plain": "plain", "a{}b": "a{}b", "{x}{y}": "x", "a{b": "a{b"} {
		if got := hashTag(key); got != want {
			t.Errorf("hashTag(%q) = %q, want %q", key, got, want)
		}
	}
}
