package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// cell is one measurement: a mode, a store, an operation and a concurrency.
type cell struct {
	Mode, Store, Op string
	Conc            int
	Calls           int
	Elapsed         time.Duration
	P50, P99        time.Duration
	// CPU is the CPU time (user and system) the measured phase took: this
	// process's (load generator, hlgate, proxy and sandbox alike) and,
	// with Redis stores, redis-server's, which is also RedisCPU. 0 when it
	// could not be read.
	CPU, RedisCPU time.Duration
}

// CPUPerCall is the cell's CPU time per completed call.
func (c cell) CPUPerCall() time.Duration { return perCall(c.CPU, c.Calls) }

// RedisCPUPerCall is redis-server's part of CPUPerCall.
func (c cell) RedisCPUPerCall() time.Duration { return perCall(c.RedisCPU, c.Calls) }

func perCall(d time.Duration, calls int) time.Duration {
	if calls == 0 {
		return 0
	}
	return d / time.Duration(calls)
}

// cpuClock reads the CPU time spent so far by everything a cell runs on:
// this process and, when there is one, redis-server.
type cpuClock func() (own, redis time.Duration, err error)

// Throughput is completed calls per second over the cell.
func (c cell) Throughput() float64 {
	if c.Elapsed <= 0 {
		return 0
	}
	return float64(c.Calls) / c.Elapsed.Seconds()
}

// loadConfig says how long each cell runs.
type loadConfig struct {
	Warmup   time.Duration // discarded calls before measuring (connections, caches)
	MinTime  time.Duration // a cell runs at least this long ...
	MinCalls int           // ... and at least this many calls ...
	MaxTime  time.Duration // ... but stops after this, whatever the count
}

// measure runs call from conc workers: first a warm-up whose latencies are
// dropped, then the measured phase. Any failed call fails the cell: a
// benchmark that counted errors as fast answers would flatter the facade.
// cpu is read before and after the measured phase (see cell.CPU).
func measure(ctx context.Context, lc loadConfig, conc int, call caller, cpu cpuClock) (cell, error) {
	if _, _, err := drive(ctx, conc, lc.Warmup, 0, lc.Warmup, call, false); err != nil {
		return cell{}, fmt.Errorf("warm-up: %w", err)
	}
	runtime.GC() // the previous cell's garbage is not this cell's cost
	own0, redis0, cerr := cpu()
	lat, elapsed, err := drive(ctx, conc, lc.MinTime, lc.MinCalls, lc.MaxTime, call, true)
	if err != nil {
		return cell{}, err
	}
	c := cell{Conc: conc, Calls: len(lat), Elapsed: elapsed}
	if own1, redis1, err := cpu(); err == nil && cerr == nil {
		c.RedisCPU = redis1 - redis0
		c.CPU = own1 - own0 + c.RedisCPU
	}
	slices.Sort(lat)
	c.P50, c.P99 = percentile(lat, 50), percentile(lat, 99)
	return c, nil
}

// processCPU is the cpuClock of a cell without redis-server.
func processCPU() (own, redis time.Duration, err error) {
	own, err = ownCPU()
	return own, 0, err
}

// ownCPU is this process's CPU time so far, user and system.
func ownCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// drive runs conc workers until minTime has passed and minCalls calls have
// completed (or maxTime has passed), and returns every call's latency when
// record is set, and the wall time from start until the last worker ended.
func drive(ctx context.Context, conc int, minTime time.Duration, minCalls int, maxTime time.Duration, call caller, record bool) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		done     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
		mu       sync.Mutex
		all      []time.Duration
	)
	start := time.Now()
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			if record {
				lat = make([]time.Duration, 0, 4096)
			}
			for n := 0; ; n++ {
				if ctx.Err() != nil {
					break
				}
				since := time.Since(start)
				if since >= maxTime || (since >= minTime && int(done.Load()) >= minCalls) {
					break
				}
				t0 := time.Now()
				err := call(ctx, w, n)
				d := time.Since(t0)
				if err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { firstErr = fmt.Errorf("worker %d call %d: %w", w, n, err); cancel() })
					}
					break
				}
				done.Add(1)
				if record {
					lat = append(lat, d)
				}
			}
			mu.Lock()
			all = append(all, lat...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return all, elapsed, nil
}

// percentile is the nearest-rank percentile p of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(float64(len(sorted))*p/100)) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}
