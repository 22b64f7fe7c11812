package sandbox_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

var pipelinesPath = "/opportunities/pipelines?locationId=" + sandbox.DemoLocationID

// TestWindowIsExactUnderConcurrency hammers one key from many goroutines
// and checks the recorded arrivals both ways: no L+1 accepted requests
// inside any window W (never too lenient), and every rejected request had L
// accepted ones in the window before it (never too strict).
func TestWindowIsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	const L, W = 10, 150 * time.Millisecond
	e := newEnv(t, sandbox.Config{RateLimit: L, RateWindow: W})
	tok := e.token(sandbox.CodeRequest{Scope: "opportunities.readonly"})

	deadline := time.Now().Add(700 * time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for range 24 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				resp, _ := e.call(http.MethodGet, pipelinesPath, tok.AccessToken, sandbox.VersionDefault, nil)
				mu.Lock()
				got[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	key := sandbox.LocationKey(sandbox.DemoLocationID)
	arr := e.sb.Arrivals(key)
	var acc []time.Time
	rejectedOK := 0
	for _, a := range arr {
		if a.Accepted {
			acc = append(acc, a.At)
			continue
		}
		// L accepted arrivals in (a.At-W, a.At] justify the 429.
		n := 0
		for i := len(acc) - 1; i >= 0 && acc[i].After(a.At.Add(-W)); i-- {
			n++
		}
		if n != L {
			t.Fatalf("arrival at %v rejected with %d accepted in the window, want %d", a.At, n, L)
		}
		rejectedOK++
	}
	for i := L; i < len(acc); i++ {
		if span := acc[i].Sub(acc[i-L]); span < W {
			t.Fatalf("accepted %d requests within %v (arrivals %d..%d)", L+1, span, i-L, i)
		}
	}
	st := e.sb.Stats().Keys[key.String()]
	if got[200] != len(acc) || got[429] != rejectedOK || int64(got[200]) != st.Accepted || int64(got[429]) != st.Rejected {
		t.Errorf("responses %v, arrivals %d accepted / %d rejected, stats %+v", got, len(acc), rejectedOK, st)
	}
	if got[429] == 0 || got[200] < 2*L || st.MaxInWindow != L {
		t.Errorf("the test did not push the window: responses %v, max in window %d", got, st.MaxInWindow)
	}
	if e.sb.Stats().Served429 != int64(got[429]) {
		t.Errorf("Served429 %d, want %d", e.sb.Stats().Served429, got[429])
	}
}

func TestQuotaHeadersAndDailyReset(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now, RateLimit: 3, RateWindow: time.Second, DailyLimit: 5})
	tok := e.token(sandbox.CodeRequest{Scope: "opportunities.readonly"})
	call := func() (int, http.Header) {
		resp, _ := e.call(http.MethodGet, pipelinesPath, tok.AccessToken, sandbox.VersionDefault, nil)
		return resp.StatusCode, resp.Header
	}
	hdr := func(h http.Header, k string) int {
		n, err := strconv.Atoi(h.Get(k))
		if err != nil {
			t.Fatalf("header %s = %q", k, h.Get(k))
		}
		return n
	}
	steps := []struct {
		advance             time.Duration
		status              int
		remaining, dailyRem int
	}{
		{0, 200, 2, 4},
		{0, 200, 1, 3},
		{0, 200, 0, 2},
		{0, 429, 0, 2},                      // window full
		{999 * time.Millisecond, 429, 0, 2}, // the first is not yet W old
		{time.Millisecond, 200, 2, 1},       // exactly W old: all three left the window
		{time.Second, 200, 2, 0},
		{time.Second, 429, 3, 0}, // daily limit reached
		{57 * time.Second, 200, 2, 4},
	}
	for i, st := range steps {
		clock.Add(st.advance)
		status, h := call()
		if status != st.status || hdr(h, "X-RateLimit-Remaining") != st.remaining || hdr(h, "X-RateLimit-Daily-Remaining") != st.dailyRem ||
			hdr(h, "X-RateLimit-Max") != 3 || hdr(h, "X-RateLimit-Limit-Daily") != 5 || hdr(h, "X-RateLimit-Interval-Milliseconds") != 1000 {
			t.Fatalf("step %d at %v: status %d headers %v; want %d remaining %d daily %d", i, clock.Now(), status, h, st.status, st.remaining, st.dailyRem)
		}
	}
	if got := clock.Now(); got.Day() != 2 {
		t.Fatalf("the last step should fall on the next UTC day, got %v", got)
	}
}

func TestQuotaOffStillMeasures(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true, RateLimit: 2, RateWindow: time.Hour, DailyLimit: 3})
	tok := e.token(sandbox.CodeRequest{Scope: "opportunities.readonly"})
	for range 5 {
		if resp, body := e.call(http.MethodGet, pipelinesPath, tok.AccessToken, sandbox.VersionDefault, nil); resp.StatusCode != 200 {
			t.Fatalf("quota off: %d %s", resp.StatusCode, body)
		}
	}
	if st := e.sb.Stats().Keys[sandbox.LocationKey(sandbox.DemoLocationID).String()]; st.MaxInWindow != 5 || st.Accepted != 5 {
		t.Errorf("stats %+v, want 5 accepted and 5 in the window", st)
	}
}
