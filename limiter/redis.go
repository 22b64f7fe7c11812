package limiter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var _ Limiter = (*Redis)(nil)

// Redis is the limiter shared by every replica through Redis (or Redis
// Cluster). Each decision is one EVALSHA of a Lua script that reads Redis'
// clock, so replicas need no synchronised clocks and see one FIFO queue.
//
// When Redis cannot be reached it never fails open: by default every Wait is
// refused with Unavailable; with Fallback LocalShare each replica grants from
// its own share (floor(Limit/Replicas) per window, floor(Daily/Replicas) per
// day) and asks Redis again every ProbeInterval.
type Redis struct {
	client redis.UniversalClient
	cfg    Config
	span   int64

	// offset (µs) shifts Redis' clock; only tests set it (Config.clockOffset,
	// setClockOffset). argOffset holds the same value boxed once, so the
	// hot path passes it to the script without allocating.
	offset    atomic.Int64
	argOffset atomic.Value // any(int64)

	// Script arguments that never change, as interface values.
	argLimit, argSpan, argDaily any

	// share is the local-share fallback, nil when failing closed.
	share *Local
	// downUntil (unix ns, local clock) is when the next Wait asks Redis
	// again while serving from the share; 0 while Redis answers.
	downUntil atomic.Int64

	// seen holds, per key, the daily count the last reservation of this
	// replica reported, so Observe can tell without a round trip that
	// HighLevel's X-RateLimit-Daily-Remaining is not ahead of the shared
	// count, and the count HighLevel reported when it was ahead, which the
	// key's next reservation applies (see Observe).
	seen *seenMemo

	// notices is the copy of the shared cool-downs Redis pushes, which a
	// caller that slept until its slot consults instead of Redis.
	notices *notices

	// reserver sends the decisions, concurrent callers' together.
	reserver *reserver
}

// dailySeen is a day's count as one reservation reported it (used) and,
// when HighLevel's answers since reported more, HighLevel's count (ahead;
// 0 when none is waiting), to be applied by the key's next reservation.
type dailySeen struct{ day, used, ahead int64 }

// seenMemoKeys bounds the keys the memo remembers: two generations of
// this many each. A process serving more keys than that in a day only pays
// one more Observe round trip for a key whose entry was dropped.
const seenMemoKeys = 10000

// seenMemo is the Redis limiter's memo of daily counts. It stays bounded
// however many keys a long-running process serves: a new UTC day drops
// every entry of a past day (they can never match again), and beyond the
// size bound the least recently stored entries go, two generations at a
// time, so neither costs more than one pass per day or per bound. A missing
// entry only costs Observe one round trip; it never changes a decision.
type seenMemo struct {
	mu       sync.Mutex
	day      int64 // the latest UTC day stored or asked about
	half     int   // the size of one generation
	cur, old map[string]dailySeen
}

func newSeenMemo(half int) *seenMemo {
	return &seenMemo{half: half, cur: make(map[string]dailySeen)}
}

// store remembers what a reservation of key reported. A count HighLevel
// reported ahead of it stays waiting until a reservation has applied it.
func (m *seenMemo) store(key string, s dailySeen) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(s.day)
	if s.day < m.day {
		return
	}
	if old, ok := m.get(key); ok && old.day == s.day && old.ahead > s.used {
		s.ahead = old.ahead
	} else {
		s.ahead = 0
	}
	m.put(key, s)
}

// raise remembers that HighLevel counted used requests of key on day,
// more than this replica's last reservation reported.
func (m *seenMemo) raise(key string, day, used int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(day)
	if day < m.day {
		return
	}
	s, ok := m.get(key)
	if !ok || s.day != day {
		s = dailySeen{day: day}
	}
	if used > s.ahead {
		s.ahead = used
	}
	m.put(key, s)
}

// get returns key's entry of any day. m.mu is held.
func (m *seenMemo) get(key string) (dailySeen, bool) {
	s, ok := m.cur[key]
	if !ok {
		s, ok = m.old[key]
	}
	return s, ok
}

// put stores key's entry in the current generation. m.mu is held.
func (m *seenMemo) put(key string, s dailySeen) {
	if _, ok := m.cur[key]; !ok {
		if len(m.cur) >= m.half {
			m.old, m.cur = m.cur, make(map[string]dailySeen, m.half)
		}
		delete(m.old, key)
	}
	m.cur[key] = s
}

// load returns the entry of key for today, the day the caller's clock says.
func (m *seenMemo) load(key string, today int64) (dailySeen, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.advance(today)
	s, ok := m.get(key)
	return s, ok && s.day == today
}

// advance drops the entries of days before day. m.mu is held.
func (m *seenMemo) advance(day int64) {
	if day <= m.day {
		return
	}
	m.day = day
	for _, g := range []map[string]dailySeen{m.cur, m.old} {
		for k, s := range g {
			if s.day < day {
				delete(g, k)
			}
		}
	}
}

// len counts the remembered keys.
func (m *seenMemo) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.old)
}

// NewRedis returns a limiter backed by client, typically a
// *redis.Client or *redis.ClusterClient. It keeps one pub/sub subscription
// on client for cool-down notices (see notices) until Close, or until the
// client is closed.
func NewRedis(client redis.UniversalClient, cfg Config) (*Redis, error) {
	if client == nil {
		return nil, errors.New("limiter: Redis client is nil")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Redis{client: client, cfg: cfg, span: cfg.span(), seen: newSeenMemo(seenMemoKeys), reserver: newReserver(client)}
	r.setOffset(cfg.clockOffset)
	// Boxed once here rather than on every call.
	r.argLimit, r.argSpan, r.argDaily = cfg.Limit, r.span, cfg.Daily
	if cfg.Fallback == LocalShare {
		shareCfg := cfg
		shareCfg.Limit = cfg.Limit / cfg.Replicas
		shareCfg.Daily = cfg.Daily / int64(cfg.Replicas)
		if shareCfg.Daily < 1 {
			shareCfg.Daily = 1
		}
		shareCfg.Fallback = FailClosed
		if r.share, err = NewLocal(shareCfg); err != nil {
			return nil, err
		}
	}
	r.notices = startNotices(client, cfg.Logger, cfg.ProbeInterval)
	return r, nil
}

// Close ends the limiter's cool-down subscription. Callers that sleep
// afterwards read the cool-down from Redis. It does not close the client.
func (r *Redis) Close() error {
	r.notices.close()
	return nil
}

// setOffset shifts the limiter's clock (and its local share's) to d after
// Redis TIME. Test-only: it moves "now" across 00:00 UTC or past a window
// without sleeping.
func (r *Redis) setOffset(d time.Duration) {
	r.offset.Store(d.Microseconds())
	r.argOffset.Store(any(d.Microseconds()))
	if r.share != nil {
		r.share.setOffset(d)
	}
}

// redisKeys are the key's Redis keys; see scripts.go. They are cut from
// one string, so building them costs two allocations per decision.
func redisKeys(key Key) []string {
	const prefix, log, free, st = "hlgate:rl:{", "}:log", "}:free", "}:st"
	tag := len(prefix) + len(key.App) + 1 + len(key.Resource)
	all := prefix + key.App + "|" + key.Resource + log +
		prefix + key.App + "|" + key.Resource + free +
		prefix + key.App + "|" + key.Resource + st
	a := tag + len(log)
	b := a + tag + len(free)
	return []string{all[:a], all[a:b], all[b:]}
}

// Wait reserves the caller's slot and sleeps until it; see Limiter.
func (r *Redis) Wait(ctx context.Context, key Key) (Permit, error) {
	if err := key.validate(); err != nil {
		return Permit{}, err
	}
	return retry(key, r.cfg.ProbeInterval, func() (Permit, error) { return r.wait(ctx, key) })
}

// wait is one reservation: a decision and the sleep until its slot.
func (r *Redis) wait(ctx context.Context, key Key) (Permit, error) {
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	if r.share != nil {
		if until := r.downUntil.Load(); until != 0 && time.Now().UnixNano() < until {
			return r.share.Wait(ctx, key)
		}
	}
	// HighLevel's daily count, when an answer since this replica's last
	// reservation of the key reported it ahead of ours, rides along with
	// this decision instead of costing Observe a round trip of its own.
	var aheadUsed, aheadDay any = int64(-1), int64(-1)
	ks := key.String()
	if s, ok := r.seen.load(ks, r.today(time.Now())); ok && s.ahead > 0 {
		aheadUsed, aheadDay = s.ahead, s.day
	}
	// Taken before the decision: notices received from here on cover every
	// cool-down the decision cannot have seen.
	watch := r.notices.watch()
	res, sent, received, err := r.reserver.do(ctx, redisKeys(key),
		r.argOffset.Load(), r.argLimit, r.argSpan, r.cfg.maxWait(ctx), r.argDaily, aheadUsed, aheadDay)
	if err == nil && len(res) != 6 {
		err = fmt.Errorf("reserve script replied %d values, want 6", len(res))
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return Permit{}, fmt.Errorf("limiter: wait for %s: %w", key, cerr)
		}
		return r.unavailable(ctx, key, err)
	}
	r.markUp()
	r.seen.store(ks, dailySeen{day: res[4], used: res[5]})
	d := decision{status: int(res[0]), value: res[1], now: res[2], seq: res[3], day: res[4], watch: watch}
	return finish(ctx, d, sent, received, r, key, r.cfg.Guard)
}

// unavailable handles a Redis failure in Wait: the local share when
// configured, otherwise a fail-closed refusal.
func (r *Redis) unavailable(ctx context.Context, key Key, cause error) (Permit, error) {
	if r.share == nil {
		return Permit{}, &Error{Reason: Unavailable, RetryAfter: r.cfg.ProbeInterval,
			Err: fmt.Errorf("reserve slot for %s: %w", key, cause)}
	}
	next := time.Now().Add(r.cfg.ProbeInterval).UnixNano()
	if r.downUntil.Swap(next) == 0 {
		r.cfg.Logger.WarnContext(ctx, "limiter: Redis unreachable, serving from the local share",
			errAttr(cause), "share_limit", r.share.cfg.Limit, "replicas", r.cfg.Replicas)
	}
	return r.share.Wait(ctx, key)
}

// markUp leaves the local share once Redis answers again.
func (r *Redis) markUp() {
	if r.share != nil && r.downUntil.Load() != 0 && r.downUntil.Swap(0) != 0 {
		r.cfg.Logger.Info("limiter: Redis answers again, leaving the local share")
	}
}

// cancel frees a granted slot; see Permit.Cancel.
func (r *Redis) cancel(ctx context.Context, key Key, seq, day int64) error {
	err := cancelScript.Run(ctx, r.client, redisKeys(key),
		r.offset.Load(), strconv.FormatInt(seq, 10), r.span, strconv.FormatInt(day, 10)).Err()
	if err != nil {
		return fmt.Errorf("limiter: free slot %d of %s: %w", seq, key, err)
	}
	return nil
}

// coolUntil reads the key's shared cool-down; see canceller. The notified
// copy answers without a round trip when it covers the caller's decision.
func (r *Redis) coolUntil(ctx context.Context, key Key, watch uint64) (int64, error) {
	if end, ok := r.notices.coolUntil(key, watch); ok {
		return end, nil
	}
	v, err := r.client.HGet(ctx, redisKeys(key)[2], "cool").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("limiter: read cool-down of %s: %w", key, err)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, fmt.Errorf("limiter: cool-down of %s is %q: %w", key, v, err)
	}
	return int64(f), nil
}

// Observe applies HighLevel's answer to the shared state; see Limiter.
// While serving from the local share it also tells the share, so the share
// holds back too.
func (r *Redis) Observe(ctx context.Context, key Key, status int, header http.Header) {
	if key.validate() != nil {
		return
	}
	if r.share != nil {
		r.share.Observe(ctx, key, status, header)
		if r.downUntil.Load() != 0 {
			// Serving from the share: Redis was unreachable a moment ago,
			// and the next Wait probes it; do not add a slow failing call
			// (and a log line) to every response meanwhile.
			return
		}
	}
	now := time.Now()
	o := parseObservation(status, header, r.cfg.Window, now)
	if o.coolDown <= 0 {
		// Only the daily count to record (HighLevel sends it on every
		// answer). It only ever raises the shared count, so when it is not
		// ahead of what this replica's last reservation counted there is
		// nothing to do, and when it is, the key's next reservation applies
		// it before deciding (reserveScript's ARGV 6 and 7): the hot path
		// of a call stays one round trip, the decision and the last
		// answer's report together. Until then this replica's State shows
		// it too; other replicas learn it from their own answers or from
		// that reservation. A cool-down (a 429, or Remaining: 0) concerns
		// callers already waiting on every replica, so it goes to Redis at
		// once, below, with the daily count.
		if o.dailyRemaining >= 0 && !r.notAhead(key, o.dailyRemaining, now) {
			r.seen.raise(key.String(), r.today(now), r.cfg.Daily-o.dailyRemaining)
		}
		return
	}
	unlessFull := 0
	if o.unlessFull {
		unlessFull = 1
	}
	err := observeScript.Run(ctx, r.client, redisKeys(key),
		r.argOffset.Load(), o.coolDown.Microseconds(), o.dailyRemaining, r.argDaily, unlessFull, r.argLimit, r.argSpan,
		noticeChannel, key.App+"|"+key.Resource).Err()
	if err != nil {
		r.cfg.Logger.WarnContext(ctx, "limiter: record upstream rate-limit answer",
			"app", key.App, "resource", key.Resource, "upstream_status", status, errAttr(err))
	}
}

// notAhead reports whether HighLevel's daily remaining count says no more
// than this replica's last reservation already counted today. The observe
// script would then change nothing (it only ever raises the shared count),
// so the round trip is skipped: HighLevel sends the header on every answer,
// and without this every request would cost two Redis calls.
func (r *Redis) notAhead(key Key, remaining int64, now time.Time) bool {
	s, ok := r.seen.load(key.String(), r.today(now))
	return ok && r.cfg.Daily-remaining <= max(s.used, s.ahead)
}

// today is the UTC day (days since the epoch) of now on the limiter's
// clock: the local clock plus the test-only offset. Near 00:00 it may
// differ from Redis' day; the reserve script applies a count HighLevel
// reported only when the days agree.
func (r *Redis) today(now time.Time) int64 {
	return floorDiv(now.Add(time.Duration(r.offset.Load())*time.Microsecond).UnixMicro(), usPerDay)
}

// State reports the key's shared view; see Limiter.
func (r *Redis) State(ctx context.Context, key Key) (State, error) {
	if err := key.validate(); err != nil {
		return State{}, err
	}
	res, err := stateScript.Run(ctx, r.client, redisKeys(key), r.offset.Load(), r.cfg.Limit, r.span).Int64Slice()
	if err == nil && len(res) != 6 {
		err = fmt.Errorf("state script replied %d values, want 6", len(res))
	}
	if err != nil {
		if r.share != nil && ctx.Err() == nil {
			// Redis is unreachable but the replica is serving: its view is
			// the local share's.
			st, serr := r.share.State(ctx, key)
			st.Fallback = true
			return st, serr
		}
		return State{}, fmt.Errorf("limiter: state of %s: %w", key, err)
	}
	now := res[0]
	used := res[4]
	// A count HighLevel reported that the key's next reservation has yet
	// to apply (Observe) is part of this replica's view already.
	if s, ok := r.seen.load(key.String(), floorDiv(now, usPerDay)); ok {
		used = max(used, s.ahead)
	}
	st := State{
		InWindow:       int(res[1]),
		Queued:         int(res[2]),
		NextSlotIn:     time.Duration(res[3]-now) * time.Microsecond,
		DailyUsed:      used,
		DailyRemaining: max(0, r.cfg.Daily-used),
	}
	if res[5] > now {
		st.CoolDownUntil = time.UnixMicro(res[5])
	}
	if r.share != nil {
		if until := r.downUntil.Load(); until != 0 {
			st.Fallback = true
		}
	}
	return st, nil
}

func errAttr(err error) slog.Attr { return slog.String("err", err.Error()) }
