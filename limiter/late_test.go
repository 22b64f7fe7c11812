package limiter

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// delayProxy is a TCP proxy in front of a redis-server that holds every
// chunk of Redis' replies for delay before passing it on, as a congested
// link or a stalled Redis does. Requests pass at once, so Redis decides on
// time and only the answer is late.
type delayProxy struct {
	ln    net.Listener
	delay atomic.Int64 // ns
}

func newDelayProxy(t *testing.T, target string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy listen: %v", err)
	}
	p := &delayProxy{ln: ln}
	p.delay.Store(int64(delay))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(s, c); _ = s.Close() }()
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(time.Duration(p.delay.Load()))
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *delayProxy) Addr() string { return p.ln.Addr().String() }

// TestLateImmediateGrantIsNotUsed reproduces a replica whose Redis replies
// arrive late: Redis grants a burst of L at once, but the answers reach the
// replica a whole W' later, just when the next L slots, granted by another
// replica with a prompt link, are due. Sending the late burst would put 2L
// requests into one window of W as HighLevel counts them. The invariant: no
// window of W of send times (when Wait returned) holds more than L, and no
// slot stays used for a request that was not sent.
func TestLateImmediateGrantIsNotUsed(t *testing.T) {
	t.Parallel()
	const (
		limit  = 10
		window = 300 * time.Millisecond
		guard  = 100 * time.Millisecond
		span   = window + guard
	)
	srv := redistest.Start(t, redistest.Options{})
	proxy := newDelayProxy(t, srv.Addr(), span)
	slowClient := redis.NewClient(&redis.Options{Addr: proxy.Addr(), PoolSize: 2 * limit})
	t.Cleanup(func() { _ = slowClient.Close() })
	cfg := Config{Limit: limit, Window: window, Guard: guard, MaxQueueWait: 10 * time.Second}
	fast, err := NewRedis(srv.Client(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// One limiter per slow caller, so that each decision leaves at once
	// rather than queue behind another's (reserver batches a limiter's
	// concurrent decisions): all ten are granted before any answer is back.
	slows := make([]*Redis, limit)
	for i := range slows {
		if slows[i], err = NewRedis(slowClient, cfg); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	// Load the script, so the slow replica's first call is one round trip.
	if _, err := fast.Wait(ctx, Key{App: "app", Resource: "warm"}); err != nil {
		t.Fatal(err)
	}
	key := Key{App: "app", Resource: "late"}

	var (
		mu       sync.Mutex
		sends    []time.Time
		slowErrs []error
		wg       sync.WaitGroup
	)
	call := func(l *Redis, isSlow bool) {
		defer wg.Done()
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		_, err := l.Wait(cctx, key)
		sent := time.Now()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			sends = append(sends, sent)
		case isSlow:
			slowErrs = append(slowErrs, err)
		default:
			t.Errorf("Wait on the prompt replica: %v", err)
		}
	}
	for _, slow := range slows {
		wg.Add(1)
		go call(slow, true)
	}
	// Redis has granted the slow burst (its answers are still on the way);
	// the prompt replica's callers now queue for the next slots.
	waitFor(t, "the slow burst granted", func() bool { return mustState(t, fast, key).InWindow == limit })
	for i := 0; i < 2*limit; i++ {
		wg.Add(1)
		go call(fast, false)
	}
	wg.Wait()

	if n, at := maxInWindow(sends, window); n > limit {
		t.Errorf("send times: %d in the %s from %s, limit %d", n, window, at.Format(time.StampMicro), limit)
	}
	if len(sends) < 2*limit {
		t.Errorf("%d sends, want at least the prompt replica's %d", len(sends), 2*limit)
	}
	// Every late grant was given back: the day counts only what was sent.
	if st := mustState(t, fast, key); st.DailyUsed != int64(len(sends)) {
		t.Errorf("daily used %d after %d sends: a slot stayed used for a request that was not sent", st.DailyUsed, len(sends))
	}
	// A replica whose every answer is late fails closed.
	for _, err := range slowErrs {
		var le *Error
		if !errors.As(err, &le) || le.Reason != Unavailable || le.RetryAfter <= 0 {
			t.Errorf("slow replica's Wait failed with %v, want UNAVAILABLE with a RetryAfter", err)
		}
	}
	t.Logf("%d sends, %d slow callers refused", len(sends), len(slowErrs))
}
