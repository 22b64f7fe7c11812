package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedisDelivery delivers the events of appID's stream in store through
// Redis consumer groups on that stream, one group per subscription, shared
// by every replica: any replica's streams may receive any event the
// receiver of any replica stored, and ack deadlines are measured by Redis's
// clock (a pending entry's idle time), so replicas' clocks never disagree
// about them.
func NewRedisDelivery(store *RedisStore, appID string, cfg DeliveryConfig) (*Delivery, error) {
	if store == nil {
		return nil, errors.New("webhooks: redis delivery needs a RedisStore")
	}
	if appID == "" {
		return nil, errors.New("webhooks: redis delivery needs the app id")
	}
	app := appPrefix(appID)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	g := &redisGroups{rdb: store.rdb, app: app, stream: store.StreamKey(app), defPrefix: store.prefix + "{" + app + "}:subscription:", log: log}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return newDelivery(g, cfg), nil
}

// redisGroups keeps each subscription as a consumer group (named as the
// subscription) on the app's stream, and its definition in a key beside the
// stream (same hash tag, so one script touches both in a cluster too).
type redisGroups struct {
	rdb       redis.UniversalClient
	app       string
	stream    string
	defPrefix string
	log       *slog.Logger

	ctx    context.Context // the watcher's; cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	watching bool
	waker    chan struct{}
}

var _ groups = (*redisGroups)(nil)

// Watcher settings: one blocking XREAD per process and app, whatever the
// number of streams, so streams never hold a pooled connection while they
// wait (they read without blocking when woken).
const (
	watchBlock = time.Second
	watchRetry = time.Second
)

// consumerIdleSweep: a consumer that holds no pending entry and did nothing
// for this long is deleted when a stream opens. Deleting one that still
// streams is harmless: it holds nothing, and its next read creates it again.
const consumerIdleSweep = 10 * time.Minute

func unavailable(op string, err error) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
}

func (g *redisGroups) defKey(name string) string { return g.defPrefix + name }

// openScript creates a subscription or checks its definition, in one step,
// so two streams racing to create one subscription with different
// definitions cannot both succeed. Invariant: a group exists only with its
// definition stored. A stored definition whose group is gone (the stream
// key was deleted) gets its group again, from the start position. It also
// forgets idle consumers that hold nothing (see consumerIdleSweep).
//
// KEYS: stream, definition. ARGV: group, definition, start id ("$" or "0"),
// most subscriptions, sweep idle ms.
// Answers {1} created or matching, {0, stored definition} mismatch,
// {2} too many subscriptions.
var openScript = redis.NewScript(`
local groups = {}
if redis.call('EXISTS', KEYS[1]) == 1 then groups = redis.call('XINFO', 'GROUPS', KEYS[1]) end
local found = false
for _, g in ipairs(groups) do
  if g[2] == ARGV[1] then found = true end
end
local have = redis.call('GET', KEYS[2])
if have and have ~= ARGV[2] then return {0, have} end
if not found then
  if #groups >= tonumber(ARGV[4]) then return {2} end
  redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[3], 'MKSTREAM')
end
if not have then redis.call('SET', KEYS[2], ARGV[2]) end
if found then
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
    if c[4] == 0 and c[6] > tonumber(ARGV[5]) then
      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], c[2])
    end
  end
end
return {1}
`)

func (g *redisGroups) open(ctx context.Context, name string, def Definition, maxSubs int) error {
	start := "$"
	if def.FromEarliest {
		start = "0"
	}
	res, err := openScript.Run(ctx, g.rdb, []string{g.stream, g.defKey(name)},
		name, def.encode(), start, maxSubs, consumerIdleSweep.Milliseconds()).Slice()
	if err != nil {
		return unavailable("open subscription", err)
	}
	code, _ := res[0].(int64)
	switch code {
	case 1:
		return nil
	case 2:
		return ErrSubscriptionLimit
	}
	stored, _ := res[1].(string)
	have, err := decodeDefinition(stored)
	if err != nil {
		return err
	}
	return &MismatchError{Subscription: name, Have: have.normalized(), Asked: def}
}

func (g *redisGroups) definition(ctx context.Context, name string) (Definition, error) {
	s, err := g.rdb.Get(ctx, g.defKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return Definition{}, ErrNoSubscription
	}
	if err != nil {
		return Definition{}, unavailable("read subscription", err)
	}
	return decodeDefinition(s)
}

func (g *redisGroups) claim(ctx context.Context, name, consumer string, minIdle time.Duration, cursor string, count int) ([]Event, []string, string, error) {
	msgs, next, gone, err := g.rdb.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
		Stream: g.stream, Group: name, Consumer: consumer, MinIdle: minIdle, Start: cursor, Count: int64(count),
	}).Result()
	if err != nil {
		return nil, nil, "", unavailable("claim", err)
	}
	evs, err := decodeEntries(g.app, msgs)
	if err != nil {
		return nil, nil, "", err
	}
	return evs, gone, next, nil
}

func (g *redisGroups) readNew(ctx context.Context, name, consumer string, count int) ([]Event, error) {
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: name, Consumer: consumer, Streams: []string{g.stream, ">"}, Count: int64(count),
		Block: -1, // never: the watcher waits for every stream of the process
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("read", err)
	}
	var evs []Event
	for _, s := range res {
		e, err := decodeEntries(g.app, s.Messages)
		if err != nil {
			return nil, err
		}
		evs = append(evs, e...)
	}
	return evs, nil
}

func (g *redisGroups) ack(ctx context.Context, name string, ids []string) (int64, error) {
	n, err := g.rdb.XAck(ctx, g.stream, name, ids...).Result()
	if err != nil {
		return 0, unavailable("ack", err)
	}
	return n, nil
}

// leaveScript deletes a consumer only when it holds no pending entry:
// deleting a consumer drops its pending entries from the group, and they
// would never be delivered again.
//
// KEYS: stream. ARGV: group, consumer.
var leaveScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p == 0 then redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2]) end
return #p
`)

func (g *redisGroups) leave(ctx context.Context, name, consumer string) error {
	if err := leaveScript.Run(ctx, g.rdb, []string{g.stream}, name, consumer).Err(); err != nil {
		return unavailable("leave", err)
	}
	return nil
}

func (g *redisGroups) wake() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.watching && g.ctx.Err() == nil {
		g.watching = true
		g.wg.Add(1)
		go g.watch()
	}
	if g.waker == nil {
		g.waker = make(chan struct{})
	}
	return g.waker
}

func (g *redisGroups) notify() {
	g.mu.Lock()
	if g.waker != nil {
		close(g.waker)
		g.waker = nil
	}
	g.mu.Unlock()
}

// watch waits on the app's stream for entries after the last one it saw,
// whichever replica added them, and wakes this process's streams.
func (g *redisGroups) watch() {
	defer g.wg.Done()
	last := ""
	for g.ctx.Err() == nil {
		if last == "" {
			top, err := g.rdb.XRevRangeN(g.ctx, g.stream, "+", "-", 1).Result()
			if err != nil {
				g.pause(err)
				continue
			}
			last = "0-0"
			if len(top) > 0 {
				last = top[0].ID
			}
		}
		res, err := g.rdb.XRead(g.ctx, &redis.XReadArgs{Streams: []string{g.stream, last}, Count: 1, Block: watchBlock}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			g.pause(err)
			continue
		}
		if len(res) > 0 && len(res[0].Messages) > 0 {
			// Jump to the newest entry: the streams read what is new
			// themselves; the watcher only needs to know something is.
			last = ""
		}
		g.notify()
	}
}

// pause waits before the watcher tries again; meanwhile streams still poll
// every PollInterval.
func (g *redisGroups) pause(err error) {
	if g.ctx.Err() != nil {
		return
	}
	g.log.Warn("webhooks: cannot watch the event stream; streams poll until it works again", "err", err)
	t := time.NewTimer(watchRetry)
	defer t.Stop()
	select {
	case <-g.ctx.Done():
	case <-t.C:
	}
}

func (g *redisGroups) backlogs(ctx context.Context) ([]Backlog, error) {
	infos, err := g.rdb.XInfoGroups(ctx, g.stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil, nil
		}
		return nil, unavailable("list subscriptions", err)
	}
	now, err := g.rdb.Time(ctx).Result()
	if err != nil {
		return nil, unavailable("time", err)
	}
	pipe := g.rdb.Pipeline()
	pending := make([]*redis.XPendingCmd, len(infos))
	next := make([]*redis.XMessageSliceCmd, len(infos))
	for i, in := range infos {
		pending[i] = pipe.XPending(ctx, g.stream, in.Name)
		next[i] = pipe.XRangeN(ctx, g.stream, "("+in.LastDeliveredID, "+", 1)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, unavailable("read backlogs", err)
	}
	out := make([]Backlog, 0, len(infos))
	for i, in := range infos {
		b := Backlog{Subscription: in.Name, Unacked: in.Pending}
		var oldest []string
		if p, err := pending[i].Result(); err == nil && p.Count > 0 {
			oldest = append(oldest, p.Lower)
		}
		if m, err := next[i].Result(); err == nil && len(m) > 0 {
			oldest = append(oldest, m[0].ID)
		}
		for _, id := range oldest {
			ms, _, _ := strings.Cut(id, "-")
			v, err := strconv.ParseInt(ms, 10, 64)
			if err != nil {
				continue
			}
			if age := now.Sub(time.UnixMilli(v)); age > b.OldestUnacked {
				b.OldestUnacked = age
			}
		}
		out = append(out, b)
	}
	return out, nil
}

func (g *redisGroups) close() {
	g.cancel()
	g.wg.Wait()
	g.notify()
}
