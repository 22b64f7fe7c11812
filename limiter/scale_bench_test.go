package limiter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// BenchmarkAtScale runs 5,000 locations at full quota on one redis-server
// through 4 Redis limiters (4 replicas, a connection pool each), one caller
// per location waiting for its next slot again as soon as it has one. It
// reports what an agency's fleet needs to know of the shared Redis:
//
//   - redis_cpu_µs/decision: redis-server's CPU (INFO cpu, user+sys) over
//     the run divided by the decisions made, every command of a queued
//     caller included (the reservation, and the cool-down read after its
//     sleep when the replica's cool-down notices could not be relied on),
//     and Redis' own background work (at this benchmark's few
//     thousand decisions a second an idle Redis pays more per call than a
//     busy one); script_µs/decision is the reserve script's own time (INFO
//     commandstats), and busy_script_µs/decision the same while the fill
//     keeps Redis busy with pipelined reservations, nearer what a Redis
//     serving 50,000 decisions a second pays; cool_reads/decision counts
//     the cool-down reads (HGET) after a sleep, 0 while every replica's
//     cool-down notices are live;
//   - bytes/key: used_memory per location with a full window (100 slots);
//   - wait_error_p50/p99/max_ms: how late a caller's Wait returned after the
//     slot it was granted (Redis and the caller share the host's clock);
//   - decisions/s (each reservation decided, alone or in a batch) and
//     script_calls/decision (below 1 when queued decisions went together
//     as one call of the many-decision script);
//   - grants/s, and unavailable: Waits that failed closed
//     because their decisions kept arriving later than the guard band
//     allows (an overloaded machine); any other refusal fails the
//     benchmark.
//
// The window is 100 s instead of HighLevel's 10 s: with the same 100 slots
// per window, each location at full quota then needs one decision a second,
// 5,000 a second in all, which this benchmark's machine can drive beside
// Redis; each decision does the same work as at 10 s (the same log of 100
// slots, the same commands), so at 10 s the same Redis needs ten times the
// CPU: 50,000 decisions a second times redis_cpu_µs/decision.
//
// Before the run every location's window is filled with 100 slots one
// second apart (pipelined reservations on a shifted clock), and the run
// starts when they end, so each location is at its limit from the first
// call. After it, every
// location's granted slots are checked: no 100 of them within the window.
func BenchmarkAtScale(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, locations := range []int{500, 5000} {
		b.Run("locations="+strconv.Itoa(locations), func(b *testing.B) { atScale(b, srv, locations) })
	}
}

func atScale(b *testing.B, srv *redistest.Server, locations int) {
	const (
		replicas = 4
		window   = 100 * time.Second
		run      = 20 * time.Second
	)
	admin := srv.Client()
	ctx := context.Background()
	cfg, err := Config{Window: window}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	for range b.N {
		b.StopTimer()
		if err := admin.FlushAll(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		app := benchPrefix()
		keys := make([]Key, locations)
		for i := range keys {
			keys[i] = Key{App: app, Resource: "loc" + strconv.Itoa(i)}
		}
		before, fill0 := usedMemory(b, admin), scriptStats(b, admin)
		slots, end, err := fillWindows(ctx, admin, cfg, keys)
		if err != nil {
			b.Fatal(err)
		}
		fill1 := scriptStats(b, admin)
		perKey := float64(usedMemory(b, admin)-before) / float64(locations)
		// The run starts when the filled windows end.
		time.Sleep(time.Until(time.UnixMicro(end)))

		lims := make([]*Redis, replicas)
		count := &decisionCount{}
		for i := range lims {
			c := srv.Client()
			c.AddHook(count)
			if lims[i], err = NewRedis(c, cfg); err != nil {
				b.Fatal(err)
			}
		}
		cpu0, script0, reads0 := redisCPU(b, admin), scriptStats(b, admin), commandStats(b, admin, "hget")
		b.StartTimer()
		res := runAtScale(ctx, lims, keys, run)
		b.StopTimer()
		for _, l := range lims {
			_ = l.Close()
		}
		cpu1, script1, reads1 := redisCPU(b, admin), scriptStats(b, admin), commandStats(b, admin, "hget")
		if res.err != nil {
			b.Fatal(res.err)
		}
		for i, got := range res.slots {
			all := append(slots[i], got...)
			if err := checkWindow(all, cfg.Limit, cfg.span()); err != nil {
				b.Fatalf("location %d: %v", i, err)
			}
		}
		if n := count.unknown.Load(); n > 0 {
			b.Fatalf("%d script calls of a script the count does not know", n)
		}
		// A script call decides one or, batched, several reservations.
		decisions := float64(count.decisions.Load())
		slices.Sort(res.lateness)
		q := func(p float64) float64 {
			return float64(res.lateness[int(p*float64(len(res.lateness)-1))]) / float64(time.Millisecond)
		}
		b.ReportMetric((cpu1-cpu0)*1e6/decisions, "redis_cpu_µs/decision")
		b.ReportMetric(float64(script1.usec-script0.usec)/decisions, "script_µs/decision")
		b.ReportMetric(float64(reads1.calls-reads0.calls)/decisions, "cool_reads/decision")
		b.ReportMetric(float64(fill1.usec-fill0.usec)/float64(fill1.calls-fill0.calls), "busy_script_µs/decision")
		b.ReportMetric(perKey, "bytes/key")
		b.ReportMetric(q(0.5), "wait_error_p50_ms")
		b.ReportMetric(q(0.99), "wait_error_p99_ms")
		b.ReportMetric(q(1), "wait_error_max_ms")
		b.ReportMetric(float64(len(res.lateness))/run.Seconds(), "grants/s")
		b.ReportMetric(decisions/run.Seconds(), "decisions/s")
		b.ReportMetric(float64(count.calls.Load())/decisions, "script_calls/decision")
		b.ReportMetric(float64(res.unavailable), "unavailable")
		b.StartTimer()
	}
}

// fillWindows grants each key cfg.Limit slots one Window/Limit apart, the
// last about when the fill ends (key i's shifted by i/len(keys) of that
// step), by running the reserve script on a clock shifted back
// (its first argument), pipelined. It returns each key's slots (µs) and
// the time (µs) the windows were placed to end at.
func fillWindows(ctx context.Context, c *redis.Client, cfg Config, keys []Key) ([][]int64, int64, error) {
	if err := reserveScript.Load(ctx, c).Err(); err != nil {
		return nil, 0, err
	}
	step := cfg.Window.Microseconds() / int64(cfg.Limit)
	slots := make([][]int64, len(keys))
	const batch = 1000
	// The slots are placed against the time the fill is expected to end,
	// estimated from its first round, so that the windows are full when
	// the run starts, not already partly expired.
	var end int64
	start := time.Now()
	for j := range cfg.Limit {
		if j == 1 {
			end = time.Now().Add(time.Since(start) * time.Duration(cfg.Limit) * 5 / 4).UnixMicro()
		}
		for from := 0; from < len(keys); from += batch {
			offset := -cfg.Window.Microseconds() + int64(j)*step
			if j > 0 {
				offset += end - time.Now().UnixMicro()
			}
			pipe := c.Pipeline()
			to := min(from+batch, len(keys))
			for i, k := range keys[from:to] {
				// Each key's slots are shifted by its share of a step, so
				// the keys' callers wake spread over each step, as
				// independent locations would, not all at one instant.
				phase := int64(from+i) * step / int64(len(keys))
				reserveScript.EvalSha(ctx, pipe, redisKeys(k),
					offset+phase, cfg.Limit, cfg.span(), cfg.MaxQueueWait.Microseconds(), cfg.Daily, -1, -1)
			}
			cmds, err := pipe.Exec(ctx)
			if err != nil {
				return nil, 0, err
			}
			for i, cmd := range cmds {
				v, _ := cmd.(*redis.Cmd).Int64Slice()
				if len(v) != 6 || v[0] != statusGranted || v[1] > v[2] {
					return nil, 0, fmt.Errorf("filling %s: the reserve script replied %v, want a grant at once", keys[from+i], v)
				}
				slots[from+i] = append(slots[from+i], v[1])
			}
		}
	}
	return slots, end, nil
}

// scaleResult is what runAtScale saw: each key's granted slots (µs), how
// late every Wait returned after its slot, how many Waits failed closed
// (Unavailable), and the errors.
type scaleResult struct {
	slots       [][]int64
	lateness    []time.Duration
	unavailable int
	err         error
}

// runAtScale gives every key one caller that waits for its next slot again
// as soon as it has one, for d, spreading the keys over the limiters.
func runAtScale(ctx context.Context, lims []*Redis, keys []Key, d time.Duration) scaleResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res := scaleResult{slots: make([][]int64, len(keys))}
	late := make([][]time.Duration, len(keys))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for i, k := range keys {
		wg.Go(func() {
			lim := lims[i%len(lims)]
			for ctx.Err() == nil {
				p, err := lim.Wait(ctx, k)
				if err != nil {
					var le *Error
					deadline, _ := ctx.Deadline()
					if errors.Is(err, context.DeadlineExceeded) ||
						errors.As(err, &le) && le.Reason == RateLimited && time.Now().Add(le.RetryAfter).After(deadline) {
						// The run ended while this caller waited, or its
						// next slot lies beyond the run's end.
						return
					}
					mu.Lock()
					if errors.As(err, &le) && le.Reason == Unavailable {
						// Decisions kept arriving later than the guard
						// band allows (an overloaded machine): the limiter
						// fails closed, as it must. Counted, and the
						// caller tries again.
						res.unavailable++
						mu.Unlock()
						continue
					}
					errs = append(errs, fmt.Errorf("%s: %w", k, err))
					mu.Unlock()
					return
				}
				late[i] = append(late[i], time.Since(p.Slot))
				res.slots[i] = append(res.slots[i], p.Slot.UnixMicro())
			}
		})
	}
	wg.Wait()
	for _, l := range late {
		res.lateness = append(res.lateness, l...)
	}
	if len(res.lateness) == 0 {
		errs = append(errs, errors.New("no caller was granted a slot"))
	}
	res.err = errors.Join(errs...)
	return res
}

// checkWindow fails when more than limit of the slots (µs) lie within one
// span: sorted, each slot must be at least span after the limit-th before it.
func checkWindow(slots []int64, limit int, span int64) error {
	s := slices.Clone(slots)
	slices.Sort(s)
	for i := limit; i < len(s); i++ {
		if s[i]-s[i-limit] < span {
			return fmt.Errorf("slots %d and %d are %d µs apart, under the window of %d µs: %d grants in one window",
				i-limit, i, s[i]-s[i-limit], span, limit+1)
		}
	}
	return nil
}

// redisCPU is redis-server's CPU time so far (user+sys, seconds).
func redisCPU(b *testing.B, c *redis.Client) float64 {
	b.Helper()
	return infoFloat(b, c, "cpu", "used_cpu_user") + infoFloat(b, c, "cpu", "used_cpu_sys")
}

// scriptCalls is a command's line of INFO commandstats.
type scriptCalls struct{ calls, usec int64 }

// scriptStats reads EVALSHA's calls and time (µs) from INFO commandstats:
// the reserve calls, one or a batch of decisions each, and the few cancel
// calls of callers the run's end left waiting.
func scriptStats(b *testing.B, c *redis.Client) scriptCalls {
	b.Helper()
	return commandStats(b, c, "evalsha")
}

// commandStats reads a command's calls and time (µs) from INFO
// commandstats, zero when Redis has not run it.
func commandStats(b *testing.B, c *redis.Client, command string) scriptCalls {
	b.Helper()
	line := infoLine(b, c, "commandstats", "cmdstat_"+command)
	var s scriptCalls
	for _, kv := range strings.Split(line, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "calls":
			s.calls, _ = strconv.ParseInt(v, 10, 64)
		case "usec":
			s.usec, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return s
}

func infoFloat(b *testing.B, c *redis.Client, section, field string) float64 {
	b.Helper()
	v, err := strconv.ParseFloat(infoLine(b, c, section, field), 64)
	if err != nil {
		b.Fatalf("INFO %s %s: %v", section, field, err)
	}
	return v
}

// infoLine returns the value of field in INFO section ("" when absent).
func infoLine(b *testing.B, c *redis.Client, section, field string) string {
	b.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// decisionCount counts the reservations the limiters' reserve scripts
// decide and the reserve calls that carried them (see decisionsOf). A
// script call it cannot read fails the count (unknown), so a new script
// does not go uncounted.
type decisionCount struct{ decisions, calls, unknown atomic.Int64 }

func (h *decisionCount) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *decisionCount) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.add(cmd)
		return next(ctx, cmd)
	}
}

func (h *decisionCount) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, cmd := range cmds {
			h.add(cmd)
		}
		return next(ctx, cmds)
	}
}

func (h *decisionCount) add(cmd redis.Cmder) {
	switch n, ok := decisionsOf(cmd); {
	case !ok:
		h.unknown.Add(1)
	case n > 0:
		h.decisions.Add(n)
		h.calls.Add(1)
	}
}
