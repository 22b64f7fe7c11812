package limiter

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// benchKeys is the number of active keys the decision benchmarks spread
// over: with 100 per 10 s per key, no key ever makes a caller sleep, so the
// benchmarks time decisions, not the quota.
const benchKeys = 10000

// benchRun makes every benchmark invocation's keys fresh, so counts never
// carry over from one invocation to the next.
var benchRun atomic.Int64

func benchPrefix() string { return "bench" + strconv.FormatInt(benchRun.Add(1), 10) }

// BenchmarkDecisions times one decision (one script call) against one
// redis-server: hlgate's Redis limiter (Wait, granted at once) and, as the
// baseline, go-redis/redis_rate's GCRA (Allow), with one client and with 8
// concurrent clients (8 connection pools, standing in for 8 replicas).
//
// The two run interleaved in chunks of 500 decisions within one benchmark,
// so both see the same machine load (the build machine is shared and noisy)
// and the ratio x_redis_rate = hlgate decisions/s ÷ redis_rate decisions/s
// compares like with like. ns/op covers one decision of each.
func BenchmarkDecisions(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, clients := range []int{1, 8} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			hl := make([]*Redis, clients)
			rr := make([]*redis_rate.Limiter, clients)
			for i := range clients {
				c := srv.Client()
				rr[i] = redis_rate.NewLimiter(c)
				var err error
				if hl[i], err = NewRedis(c, Config{Limit: 100, Window: 10 * time.Second}); err != nil {
					b.Fatal(err)
				}
			}
			app := benchPrefix()
			keys := make([]Key, benchKeys)
			names := make([]string, benchKeys)
			for i := range keys {
				keys[i] = Key{App: app, Resource: "loc" + strconv.Itoa(i)}
				names[i] = app + ":loc" + strconv.Itoa(i)
			}
			limit := redis_rate.Limit{Rate: 100, Burst: 100, Period: 10 * time.Second}
			ctx := context.Background()
			var tHL, tRR time.Duration
			const chunk = 500
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				tRR += timed(b, clients, done, n, func(c, i int) error {
					res, err := rr[c].Allow(ctx, names[i%benchKeys], limit)
					if err == nil && res.Allowed != 1 {
						err = fmt.Errorf("redis_rate refused: %+v", res)
					}
					return err
				})
				tHL += timed(b, clients, done, n, func(c, i int) error {
					p, err := hl[c].Wait(ctx, keys[i%benchKeys])
					if err == nil && p.Seq > 100 {
						err = fmt.Errorf("key %d got seq %d: the benchmark is timing the quota, not decisions", i%benchKeys, p.Seq)
					}
					return err
				})
			}
			b.StopTimer()
			hlRate := float64(b.N) / tHL.Seconds()
			rrRate := float64(b.N) / tRR.Seconds()
			b.ReportMetric(hlRate, "hlgate_decisions/s")
			b.ReportMetric(rrRate, "redis_rate_decisions/s")
			b.ReportMetric(hlRate/rrRate, "x_redis_rate")
		})
	}
}

// timed runs calls from..from+n-1 of do over `clients` goroutines, each
// bound to one client, and returns the elapsed time.
func timed(b *testing.B, clients, from, n int, do func(client, i int) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, clients)
	start := time.Now()
	for c := 0; c < clients; c++ {
		go func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(from+n) {
					errs <- nil
					return
				}
				if err := do(c, int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for c := 0; c < clients; c++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	elapsed := time.Since(start)
	if first != nil {
		b.Fatal(first)
	}
	return elapsed
}

// BenchmarkLocalDecisions times the in-process limiter, for scale. It
// spreads over more keys than the Redis benchmarks because it decides
// faster: no key may reach its limit.
func BenchmarkLocalDecisions(b *testing.B) {
	const localKeys = 500000
	l, err := NewLocal(Config{Limit: 100, Window: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	app := benchPrefix()
	keys := make([]Key, localKeys)
	for i := range keys {
		keys[i] = Key{App: app, Resource: "loc" + strconv.Itoa(i)}
	}
	b.ResetTimer()
	elapsed := timed(b, 1, 0, b.N, func(_, i int) error {
		p, err := l.Wait(context.Background(), keys[i%localKeys])
		if err == nil && p.Seq > 100 {
			err = fmt.Errorf("key %d got seq %d: the benchmark is timing the quota, not decisions", i%localKeys, p.Seq)
		}
		return err
	})
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
}

// BenchmarkRedisMemoryPerKey fills 10,000 keys and reports Redis'
// used_memory growth per key: hlgate with 1 slot per key, with a full window
// (100 slots), and redis_rate (one GCRA value per key) for comparison. The
// keys are written with pipelined EVALSHA of the same scripts Wait runs. The
// time per op of these lines means nothing; read bytes/key.
func BenchmarkRedisMemoryPerKey(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	c := srv.Client()
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		slots int
	}{{"hlgate/slots=1", 1}, {"hlgate/slots=100", 100}, {"redis_rate", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			if err := c.FlushAll(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			before := usedMemory(b, c)
			cfg, err := Config{Limit: 100, Window: 10 * time.Second}.withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			limit := redis_rate.Limit{Rate: 100, Burst: 100, Period: 10 * time.Second}
			rl := redis_rate.NewLimiter(c)
			if tc.name == "redis_rate" {
				for i := 0; i < benchKeys; i++ {
					if _, err := rl.Allow(ctx, "app:loc"+strconv.Itoa(i), limit); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				if err := reserveScript.Load(ctx, c).Err(); err != nil {
					b.Fatal(err)
				}
				for s := 0; s < tc.slots; s++ {
					pipe := c.Pipeline()
					for i := 0; i < benchKeys; i++ {
						reserveScript.EvalSha(ctx, pipe, redisKeys(Key{App: "app", Resource: "loc" + strconv.Itoa(i)}),
							0, cfg.Limit, cfg.span(), cfg.MaxQueueWait.Microseconds(), cfg.Daily)
					}
					cmds, err := pipe.Exec(ctx)
					if err != nil {
						b.Fatal(err)
					}
					for _, cmd := range cmds {
						if v, _ := cmd.(*redis.Cmd).Int64Slice(); len(v) != 5 || v[0] != statusGranted {
							b.Fatalf("reserve in the pipeline: %v", v)
						}
					}
				}
			}
			after := usedMemory(b, c)
			keys := c.DBSize(ctx).Val()
			b.ReportMetric(float64(after-before)/benchKeys, "bytes/key")
			b.ReportMetric(float64(keys)/benchKeys, "redis_keys/key")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func usedMemory(b *testing.B, c *redis.Client) int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("INFO memory has no used_memory")
	return 0
}
