package tokenstore

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/testwait"
)

// stableGoroutines returns the goroutine count once it stopped changing
// (five equal samples in a row), bounded by a deadline.
func stableGoroutines() int {
	last, same := runtime.NumGoroutine(), 0
	testwait.Until(testwait.DefaultTimeout, func() bool {
		n := runtime.NumGoroutine()
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		return same >= 5
	})
	return last
}

// settledGoroutines waits (bounded) until the process runs at most limit
// goroutines and returns the last count: released followers exit
// asynchronously, so the count is polled, never timed.
func settledGoroutines(limit int) int {
	testwait.Until(testwait.DefaultTimeout, func() bool { return runtime.NumGoroutine() <= limit })
	return runtime.NumGoroutine()
}

// goroutinesByFrame counts the process's goroutines by the first frame of
// their stack outside the runtime, most first: what a failed count above
// is made of.
func goroutinesByFrame() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	counts := map[string]int{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		frame := "?"
		for _, line := range strings.Split(g, "\n")[1:] {
			i := strings.LastIndex(line, "(")
			if i <= 0 || strings.HasPrefix(line, "\t") {
				continue // a file:line, or not a call
			}
			if fn := line[:i]; !strings.HasPrefix(fn, "runtime.") && !strings.HasPrefix(fn, "internal/") {
				frame = fn
				break
			}
		}
		counts[frame]++
	}
	frames := slices.SortedFunc(maps.Keys(counts), func(a, b string) int { return cmp.Or(counts[b]-counts[a], strings.Compare(a, b)) })
	var out strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&out, "%6d %s\n", counts[f], f)
	}
	return out.String()
}

// TestDeletedSubjectsReleaseTheirFollowers imports N PITs on one replica,
// uses them on another (so both cache and follow them), and deletes them:
// every follower is released, on the deleting replica at once and on the
// other when it sees the delete, so the goroutine count returns to where it
// was; a second cycle does not grow it. Not parallel: it counts the
// process's goroutines.
func TestDeletedSubjectsReleaseTheirFollowers(t *testing.T) {
	r := newRig(t, 2, rigOptions{})
	a, b := r.mgrs[0], r.mgrs[1]
	const n = 300
	subject := func(i int) string { return fmt.Sprintf("GoroutineLoc%06d", i) }
	base := stableGoroutines()
	const slack = 20 // the stores' subscriptions start with the first follower
	cycle := func(round int, deleter *Manager) {
		t.Helper()
		for i := 0; i < n; i++ {
			tok := fmt.Sprintf("pit-release-%d-%06d-0123456789", round, i)
			seen.add(tok)
			if _, err := a.ImportPIT(bg(), PIT{Subject: subject(i), Token: tok, UserType: UserTypeLocation}); err != nil {
				t.Fatal(err)
			}
			if _, err := b.Token(bg(), subject(i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := runtime.NumGoroutine(); got < base+2*n {
			t.Fatalf("round %d: %d goroutines with %d subjects cached on 2 replicas, baseline %d: the test cannot see followers", round, got, n, base)
		}
		for i := 0; i < n; i++ {
			if err := deleter.Delete(bg(), subject(i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := settledGoroutines(base + slack); got > base+slack {
			t.Fatalf("round %d: after deleting %d subjects, %d goroutines; baseline %d; the goroutines by where they wait:\n%s", round, n, got, base, goroutinesByFrame())
		}
	}
	cycle(1, a) // deleted by the replica that imported them: b learns it from the store
	cycle(2, b) // and the other way round
	// A follower releases its subject when it has read the deletion, so
	// the last few may still be on their way out (the slack above).
	stillCached := func() []string {
		var left []string
		for i := 0; i < n; i++ {
			for j, m := range r.mgrs {
				if m.cached(subject(i)) != nil {
					left = append(left, fmt.Sprintf("%s on replica %d", subject(i), j))
				}
			}
		}
		return left
	}
	testwait.Until(testwait.DefaultTimeout, func() bool { return len(stillCached()) == 0 })
	if left := stillCached(); len(left) > 0 {
		t.Fatalf("deleted subjects still cached: %s", strings.Join(left, ", "))
	}
}

// countingStore counts reads.
type countingStore struct {
	Store
	gets atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, subject string) (Record, error) {
	s.gets.Add(1)
	return s.Store.Get(ctx, subject)
}

// TestIdleSubjectsAreReleased: a subject nobody asked for within
// IdleRelease is forgotten (cache entry and follower); one in use is kept.
// The released one is read again from the store on its next use — one
// read — and so sees a change made while nobody followed it.
func TestIdleSubjectsAreReleased(t *testing.T) {
	t.Parallel()
	r := newRig(t, 1, rigOptions{})
	rs, err := NewRedisStore(r.redis.Client(), r.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	cs := &countingStore{Store: rs}
	m, err := NewManager(cs, nil, r.config(&Counters{}, func(c *Config) { c.IdleRelease = time.Hour }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	other := r.mgrs[0]
	idle, busy := "IdleLocation00000001", "BusyLocation00000001"
	for _, s := range []string{idle, busy} {
		seen.add("pit-" + s)
		if _, err := other.ImportPIT(bg(), PIT{Subject: s, Token: "pit-" + s, UserType: UserTypeLocation}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Token(bg(), s); err != nil {
			t.Fatal(err)
		}
	}
	r.clk.Advance(59 * time.Minute)
	if _, err := m.Token(bg(), busy); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(2 * time.Minute)
	m.releaseIdle()
	if m.cached(idle) != nil {
		t.Fatal("a subject idle for 61 minutes is still cached (IdleRelease 1h)")
	}
	if m.cached(busy) == nil {
		t.Fatal("a subject used 2 minutes ago was released")
	}
	// Changed while released: nothing follows it here, the next use reads.
	seen.add("pit-second-" + idle)
	if _, err := other.ImportPIT(bg(), PIT{Subject: idle, Token: "pit-second-" + idle, UserType: UserTypeLocation}); err != nil {
		t.Fatal(err)
	}
	before := cs.gets.Load()
	tok, err := m.Token(bg(), idle)
	if err != nil || tok.AccessToken != "pit-second-"+idle {
		t.Fatalf("released subject's next token: %v (the new PIT: %t)", err, tok.AccessToken == "pit-second-"+idle)
	}
	if got := cs.gets.Load() - before; got != 1 {
		t.Fatalf("the released subject's next use cost %d store reads, want 1", got)
	}
	if m.cached(idle) == nil {
		t.Fatal("the subject is not cached again after its use")
	}
}
