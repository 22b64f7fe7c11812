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
// concurrent clients (8 connection pools, standing in for 8 replicas),
// each with one caller at a time, and with 32 callers on one client (one
// replica serving 32 calls at once, whose decisions the limiter sends
// together).
//
// The two run interleaved in chunks of 500 decisions within one benchmark,
// so both see the same machine load (the build machine is shared and noisy)
// and the ratio x_redis_rate = hlgate decisions/s ÷ redis_rate decisions/s
// compares like with like. ns/op covers one decision of each.
// redis_cpu_µs/decision is redis-server's CPU (user+sys) over each side's
// chunks divided by its decisions.
func BenchmarkDecisions(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	for _, bc := range []struct{ clients, callers int }{{1, 1}, {8, 8}, {1, 32}} {
		name := fmt.Sprintf("clients=%d", bc.clients)
		if bc.callers != bc.clients {
			name += fmt.Sprintf("/callers=%d", bc.callers)
		}
		b.Run(name, func(b *testing.B) {
			clients := bc.clients
			hl := make([]*Redis, clients)
			rr := make([]*redis_rate.Limiter, clients)
			for i := range clients {
				c := srv.Client()
				rr[i] = redis_rate.NewLimiter(c)
				var err error
				if hl[i], err = NewRedis(c, Config{Limit: 100, Window: 10 * time.Second}); err != nil {
					b.Fatal(err)
				}
				// Closed before the server stops, so its subscription ends
				// quietly instead of warning that the notices were lost.
				b.Cleanup(func() { _ = hl[i].Close() })
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
			info := srv.Client()
			var tHL, tRR time.Duration
			var cpuHL, cpuRR float64
			const chunk = 500
			b.ResetTimer()
			for done := 0; done < b.N; done += chunk {
				n := min(chunk, b.N-done)
				cpu := redisCPU(b, info)
				tRR += timed(b, bc.callers, clients, done, n, func(c, i int) error {
					res, err := rr[c].Allow(ctx, names[i%benchKeys], limit)
					if err == nil && res.Allowed != 1 {
						err = fmt.Errorf("redis_rate refused: %+v", res)
					}
					return err
				})
				next := redisCPU(b, info)
				cpuRR += next - cpu
				tHL += timed(b, bc.callers, clients, done, n, func(c, i int) error {
					p, err := hl[c].Wait(ctx, keys[i%benchKeys])
					if err == nil && p.Seq > 100 {
						err = fmt.Errorf("key %d got seq %d: the benchmark is timing the quota, not decisions", i%benchKeys, p.Seq)
					}
					return err
				})
				cpuHL += redisCPU(b, info) - next
			}
			b.StopTimer()
			hlRate := float64(b.N) / tHL.Seconds()
			rrRate := float64(b.N) / tRR.Seconds()
			b.ReportMetric(hlRate, "hlgate_decisions/s")
			b.ReportMetric(rrRate, "redis_rate_decisions/s")
			b.ReportMetric(hlRate/rrRate, "x_redis_rate")
			b.ReportMetric(cpuHL*1e6/float64(b.N), "hlgate_redis_cpu_µs/decision")
			b.ReportMetric(cpuRR*1e6/float64(b.N), "redis_rate_redis_cpu_µs/decision")
		})
	}
}

// timed runs calls from..from+n-1 of do over `callers` goroutines, caller
// g bound to client g % clients, and returns the elapsed time.
func timed(b *testing.B, callers, clients, from, n int, do func(client, i int) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	next.Store(int64(from))
	errs := make(chan error, callers)
	start := time.Now()
	for g := 0; g < callers; g++ {
		go func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(from+n) {
					errs <- nil
					return
				}
				if err := do(g%clients, int(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var first error
	for g := 0; g < callers; g++ {
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
	// The local limiter numbers the grants of all keys in one sequence,
	// so a permit's Seq does not count its key's grants; the keys are used
	// round robin, so b.N itself says how many each got.
	if perKey := (b.N + localKeys - 1) / localKeys; perKey > 100 {
		b.Fatalf("%d decisions give each of %d keys %d: the benchmark would time the quota, not decisions", b.N, localKeys, perKey)
	}
	b.ResetTimer()
	elapsed := timed(b, 1, 1, 0, b.N, func(_, i int) error {
		_, err := l.Wait(context.Background(), keys[i%localKeys])
		return err
	})
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
}

// BenchmarkRedisMemoryPerKey fills 10,000 keys and reports Redis'
// used_memory growth per key: hlgate with 1 slot per key and with a full
// window (100 slots, each a µs timestamp), and redis_rate (one GCRA value per key) for
// comparison. hlgate's keys are written with pipelined EVALSHA of the
// script Wait runs. Each iteration starts from an empty server; ns/op is the
// time to fill the 10,000 keys.
func BenchmarkRedisMemoryPerKey(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	c := srv.Client()
	ctx := context.Background()
	// A long window keeps every slot of the fill alive until it is
	// measured: with 10 s, a slow fill would see its first slots trimmed.
	cfg, err := Config{Limit: 100, Window: 10 * time.Minute}.withDefaults()
	if err != nil {
		b.Fatal(err)
	}
	rl := redis_rate.NewLimiter(c)
	limit := redis_rate.Limit{Rate: 100, Burst: 100, Period: 10 * time.Second}
	fills := map[string]func() error{
		"redis_rate": func() error {
			for i := 0; i < benchKeys; i++ {
				if _, err := rl.Allow(ctx, "app:loc"+strconv.Itoa(i), limit); err != nil {
					return err
				}
			}
			return nil
		},
	}
	for _, slots := range []int{1, 100} {
		fills["hlgate/slots="+strconv.Itoa(slots)] = func() error {
			for s := 0; s < slots; s++ {
				pipe := c.Pipeline()
				for i := 0; i < benchKeys; i++ {
					reserveScript.EvalSha(ctx, pipe, redisKeys(Key{App: "app", Resource: "loc" + strconv.Itoa(i)}),
						0, cfg.Limit, cfg.span(), cfg.MaxQueueWait.Microseconds(), cfg.Daily, -1, -1)
				}
				cmds, err := pipe.Exec(ctx)
				if err != nil {
					return err
				}
				for _, cmd := range cmds {
					if v, _ := cmd.(*redis.Cmd).Int64Slice(); len(v) != 6 || v[0] != statusGranted {
						return fmt.Errorf("reserve in the pipeline replied %v, want a grant", v)
					}
				}
			}
			if n := c.ZCard(ctx, redisKeys(Key{App: "app", Resource: "loc0"})[0]).Val(); n != int64(slots) {
				return fmt.Errorf("a filled key holds %d slots, want %d", n, slots)
			}
			return nil
		}
	}
	for _, name := range []string{"hlgate/slots=1", "hlgate/slots=100", "redis_rate"} {
		b.Run(name, func(b *testing.B) {
			var perKey, keysPerKey float64
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := c.FlushAll(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				if err := reserveScript.Load(ctx, c).Err(); err != nil {
					b.Fatal(err)
				}
				before := usedMemory(b, c)
				b.StartTimer()
				if err := fills[name](); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				perKey = float64(usedMemory(b, c)-before) / benchKeys
				keysPerKey = float64(c.DBSize(ctx).Val()) / benchKeys
				b.StartTimer()
			}
			b.ReportMetric(perKey, "bytes/key")
			b.ReportMetric(keysPerKey, "redis_keys/key")
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
