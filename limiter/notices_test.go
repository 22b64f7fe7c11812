package limiter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hlgate/hlgate/internal/redistest"
)

// noticesLive waits until the limiter's cool-down subscription is confirmed
// and returns its epoch.
func noticesLive(t *testing.T, l *Redis) uint64 {
	t.Helper()
	var epoch uint64
	waitFor(t, "the cool-down subscription", func() bool { epoch = l.notices.watch(); return epoch != 0 })
	return epoch
}

// sleeperReplicas starts a Redis and two limiters on it (L = 1, so a
// second caller sleeps): a, and b whose client c counts its round trips.
func sleeperReplicas(t *testing.T) (srv *redistest.Server, a, b *Redis, c *redis.Client, hook *redistest.RoundTrips) {
	t.Helper()
	srv = redistest.Start(t, redistest.Options{})
	cfg := Config{Limit: 1, Window: 400 * time.Millisecond, Guard: 100 * time.Millisecond, MaxQueueWait: 5 * time.Second}
	a, err := NewRedis(srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c = srv.Client()
	hook = &redistest.RoundTrips{}
	c.AddHook(hook)
	if b, err = NewRedis(c, cfg); err != nil {
		t.Fatal(err)
	}
	return srv, a, b, c, hook
}

// sleepThroughCoolDown has a take key's slot and b queue behind it; while
// b sleeps, meanwhile runs and then a sees a 429. It returns b's permit,
// failing unless b waited the cool-down out and queued again.
func sleepThroughCoolDown(t *testing.T, a, b Limiter, key Key, meanwhile func()) Permit {
	t.Helper()
	ctx := context.Background()
	if _, err := a.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	type result struct {
		p   Permit
		err error
	}
	res := make(chan result, 1)
	go func() { p, err := b.Wait(ctx, key); res <- result{p, err} }()
	waitFor(t, "the sleeper queued", func() bool { return mustState(t, a, key).Queued == 1 })
	meanwhile()
	a.Observe(ctx, key, http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}})
	cool := mustState(t, a, key).CoolDownUntil
	if cool.IsZero() {
		t.Fatal("no cool-down after a 429")
	}
	r := <-res
	if r.err != nil {
		t.Fatalf("sleeper's Wait: %v", r.err)
	}
	if r.p.Slot.Before(cool) {
		t.Errorf("sleeper went at %s, inside the cool-down ending %s", r.p.Slot.Format(time.StampMicro), cool.Format(time.StampMicro))
	}
	if r.p.Seq != 3 {
		t.Errorf("sleeper's permit has seq %d, want 3 (it queued again)", r.p.Seq)
	}
	return r.p
}

// A caller that slept until its slot costs one Redis round trip, the
// decision, when its replica's cool-down notices are live: it reads the
// cool-down another replica started meanwhile from the notified copy, gives
// its slot back and queues again behind it, without reading Redis.
func TestSleeperHearsCoolDownWithoutARoundTrip(t *testing.T) {
	t.Parallel()
	_, a, b, c, hook := sleeperReplicas(t)
	noticesLive(t, b)
	ctx := context.Background()
	// Loads the scripts, which is once per Redis, not per call.
	if _, err := b.Wait(ctx, Key{App: "app", Resource: "warm-up"}); err != nil {
		t.Fatal(err)
	}
	if err := cancelScript.Load(ctx, c).Err(); err != nil {
		t.Fatal(err)
	}

	// A queued caller with no cool-down: the decision only.
	quiet := Key{App: "app", Resource: "quiet"}
	if _, err := a.Wait(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	before := hook.Count()
	p, err := b.Wait(ctx, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if p.Seq != 2 {
		t.Fatalf("the second caller got seq %d, want 2 (it queued behind the first)", p.Seq)
	}
	if trips := hook.Since(before); len(trips) != 1 {
		t.Errorf("a caller that slept until its slot made %d Redis round trips, want 1: %q", len(trips), trips)
	}

	// A cool-down starts on another replica while the caller sleeps.
	before = hook.Count()
	sleepThroughCoolDown(t, a, b, Key{App: "app", Resource: "sleeper"}, func() {})
	// The decision, the slot given back, the decision behind the cool-down.
	if trips := hook.Since(before); len(trips) != 3 {
		t.Errorf("the sleeper made %d Redis round trips, want 3 (no cool-down read): %q", len(trips), trips)
	}
}

// When the subscription is lost while a caller sleeps, the notified copy
// may lack the cool-down that starts meanwhile: the caller reads it from
// Redis, as it did before notices, and still queues behind it. The
// subscription comes back by itself, in a new epoch.
func TestSleeperReadsRedisWhenNoticesWereLost(t *testing.T) {
	t.Parallel()
	srv, a, b, _, hook := sleeperReplicas(t)
	epoch := noticesLive(t, b)
	ctx := context.Background()
	var reads int
	sleepThroughCoolDown(t, a, b, Key{App: "app", Resource: "lost"}, func() {
		reads = hook.Count()
		if err := srv.Client().Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
			t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
		}
	})
	// At least the cool-down read, the slot given back and the decision
	// behind the cool-down.
	if trips := hook.Since(reads); len(trips) < 3 {
		t.Errorf("after the subscription was lost the sleeper made %d Redis round trips, want at least 3 (it must read the cool-down): %q", len(trips), trips)
	}
	if again := noticesLive(t, b); again <= epoch {
		t.Errorf("the subscription came back in epoch %d, want one after %d", again, epoch)
	}
}

// The notified copy is relied on only for a decision made while the
// subscription was up and heard from, and only in that subscription.
func TestNoticesTrust(t *testing.T) {
	t.Parallel()
	// A fixed clock: the test means the same at any hour.
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	n := &notices{logger: slog.New(slog.NewTextHandler(io.Discard, nil)), cool: map[Key]int64{}, pruneAt: 2,
		now: func() time.Time { return now }}
	key := Key{App: "app", Resource: "loc"}
	if w := n.watch(); w != 0 {
		t.Fatalf("watch before any subscription = %d, want 0", w)
	}
	n.confirm(now)
	w := n.watch()
	if w == 0 {
		t.Fatal("watch after a confirmed subscription = 0")
	}
	if !n.apply("app|loc 1700000000000000", now) {
		t.Fatal("a well-formed notice was refused")
	}
	if !n.apply("app|loc 1600000000000000", now) {
		t.Fatal("an older notice was refused")
	}
	if end, ok := n.coolUntil(key, w); !ok || end != 1700000000000000 {
		t.Errorf("coolUntil = %d, %v; want the latest end, trusted", end, ok)
	}
	if end, ok := n.coolUntil(Key{App: "app", Resource: "other"}, w); !ok || end != 0 {
		t.Errorf("coolUntil of a key without a notice = %d, %v; want 0, trusted", end, ok)
	}
	if _, ok := n.coolUntil(key, 0); ok {
		t.Error("a decision made without a subscription relied on the copy")
	}

	// Silent for longer than noticeStale: not relied on.
	n.hear(now.Add(-noticeStale - time.Millisecond))
	if _, ok := n.coolUntil(key, w); ok {
		t.Error("a silent subscription was relied on")
	}
	if got := n.watch(); got != 0 {
		t.Errorf("watch on a silent subscription = %d, want 0", got)
	}

	// Lost and back: a new epoch, and a decision of the old one reads Redis.
	n.confirm(now)
	n.lose()
	if _, ok := n.coolUntil(key, n.epoch); ok {
		t.Error("a lost subscription was relied on")
	}
	n.confirm(now)
	if _, ok := n.coolUntil(key, w); ok {
		t.Error("a decision of an earlier subscription relied on the copy")
	}
	if _, ok := n.coolUntil(key, n.watch()); !ok {
		t.Error("a decision of the current subscription did not rely on the copy")
	}

	// Ended cool-downs are dropped when the copy grows.
	stale := now.Add(-2 * time.Minute).UnixMicro()
	for i := range 3 {
		n.apply("app|old"+strconv.Itoa(i)+" "+strconv.FormatInt(stale, 10), now)
	}
	if len(n.cool) > 3 {
		t.Errorf("the copy holds %d cool-downs after pruning, want at most 3", len(n.cool))
	}

	// A malformed notice ends the trust.
	for _, bad := range []string{"app|loc", "apploc 1", "app|loc x"} {
		n.confirm(now)
		if n.apply(bad, now) {
			t.Errorf("malformed notice %q was accepted", bad)
		}
		if n.watch() != 0 {
			t.Errorf("after malformed notice %q the copy is still relied on", bad)
		}
	}
}

// In a Redis Cluster the observe script publishes on the master of the
// key's slot and the subscription is on the master of the channel's slot:
// Redis carries every notice over the cluster bus, so a cool-down started
// on any shard reaches every replica's copy.
func TestNoticesAcrossClusterShards(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t)
	addrs := make([]string, len(cl.Nodes))
	for i, n := range cl.Nodes {
		addrs[i] = n.Addr()
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = cc.Close() })
	ctx := context.Background()
	l, err := NewRedis(cc, Config{})
	if err != nil {
		t.Fatal(err)
	}
	epoch := noticesLive(t, l)
	//lint:ignore SA1019 CLUSTER SLOTS still answers on Redis 7 and names each range's master first, all this test needs
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	master := func(key string) string {
		s := int(cc.ClusterKeySlot(ctx, key).Val())
		for _, r := range slots {
			if s >= r.Start && s <= r.End {
				return r.Nodes[0].Addr
			}
		}
		t.Fatalf("no master serves slot %d", s)
		return ""
	}
	channel := master(noticeChannel)
	others := 0
	var keys []Key
	for i := 0; i < 12; i++ {
		k := Key{App: "app", Resource: "shard" + strconv.Itoa(i)}
		if master(redisKeys(k)[0]) != channel {
			others++
		}
		keys = append(keys, k)
		l.Observe(ctx, k, http.StatusTooManyRequests, http.Header{"Retry-After": {"30"}})
	}
	if others == 0 {
		t.Fatal("every key is on the channel's master; the test proves nothing across shards")
	}
	for _, k := range keys {
		st := mustState(t, l, k)
		waitFor(t, "the notice of "+k.String(), func() bool {
			end, ok := l.notices.coolUntil(k, epoch)
			return ok && end == st.CoolDownUntil.UnixMicro()
		})
	}
}

// A Redis user without access to the notice channel (Redis 7 gives new
// users none by default) still records every cool-down: the publish is
// refused without failing the observe script, and with no subscription
// the replica's sleepers read the cool-down from Redis.
func TestCoolDownStoredWhenTheChannelIsRefused(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	ctx := context.Background()
	if err := srv.Client().Do(ctx, "ACL", "SETUSER", "nochannels", "on", ">pw", "~*", "+@all", "resetchannels").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "nochannels", Password: "pw"})
	t.Cleanup(func() { _ = c.Close() })
	l, err := NewRedis(c, Config{})
	if err != nil {
		t.Fatal(err)
	}
	key := Key{App: "app", Resource: "acl"}
	if _, err := l.Wait(ctx, key); err != nil {
		t.Fatal(err)
	}
	l.Observe(ctx, key, http.StatusTooManyRequests, http.Header{"Retry-After": {"5"}, "X-Ratelimit-Daily-Remaining": {"100"}})
	st := mustState(t, l, key)
	if st.CoolDownUntil.IsZero() {
		t.Error("the cool-down was not stored when the notice could not be published")
	}
	// The rest of the script ran too.
	if want := l.cfg.Daily - 100; st.DailyUsed != want {
		t.Errorf("daily used %d after the answer, want %d", st.DailyUsed, want)
	}
	if w := l.notices.watch(); w != 0 {
		t.Errorf("a subscription the ACL refuses is relied on (epoch %d)", w)
	}
}

// Close ends the subscription, live or while Redis cannot be reached.
func TestNoticesClose(t *testing.T) {
	t.Parallel()
	for _, redisDown := range []bool{false, true} {
		t.Run(fmt.Sprintf("redis down %v", redisDown), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			l, err := NewRedis(srv.Client(), Config{})
			if err != nil {
				t.Fatal(err)
			}
			noticesLive(t, l)
			if redisDown {
				srv.Stop()
				waitFor(t, "the subscription lost", func() bool { return l.notices.watch() == 0 })
			}
			done := make(chan error, 1)
			go func() { done <- l.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * noticeStale):
				t.Fatal("Close did not end the subscription")
			}
			if w := l.notices.watch(); w != 0 {
				t.Errorf("after Close the copy is relied on (epoch %d)", w)
			}
		})
	}
}
