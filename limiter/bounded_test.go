package limiter

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/hlgate/hlgate/internal/redistest"
)

// testNoon is 12:00 UTC of a fixed day. Tests put the limiter's clock
// there (noonOffset), so their days and midnights do not depend on the
// hour they run at.
var testNoon = time.Date(2031, 5, 6, 12, 0, 0, 0, time.UTC)

// noonOffset is the clock offset that puts the limiter's "now" at testNoon.
func noonOffset() time.Duration { return time.Until(testNoon) }

// localKeys counts the Local limiter's per-key entries and the slot entries
// they hold.
func localKeys(l *Local) (keys, entries int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.keys {
		entries += len(k.log) + len(k.free)
	}
	return len(l.keys), entries
}

// The local limiter forgets what it no longer needs: once the clock has
// passed a key's windows its slot entries go (the daily count stays, or
// today's quota would be granted twice), and once the day is over, with
// nothing queued or cooling down, the key goes. A key with a cancelled
// future slot is no exception. A permit of a forgotten key cannot free a
// slot of the key's next life.
func TestLocalStateIsReleased(t *testing.T) {
	t.Parallel()
	const n = 300
	l, err := NewLocal(Config{Limit: 1, Window: 50 * time.Millisecond, Guard: 40 * time.Millisecond, MaxQueueWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	off := noonOffset()
	l.setOffset(off)
	ctx := context.Background()
	key := func(i int) Key { return Key{App: "app", Resource: "loc-" + strconv.Itoa(i)} }
	for i := 0; i < n; i++ {
		if _, err := l.Wait(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A few keys also hold a freed future slot: a queued caller gave up.
	for i := 0; i < 3; i++ {
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := l.Wait(wctx, key(i)); done <- err }()
		waitFor(t, "a queued caller", func() bool { return mustState(t, l, key(i)).Queued == 1 })
		cancel()
		<-done
	}
	stale, err := l.Wait(ctx, key(n)) // a permit its holder keeps past the day
	if err != nil {
		t.Fatal(err)
	}
	if k, e := localKeys(l); k != n+1 || e < n+1 {
		t.Fatalf("before: %d keys, %d entries; want %d keys holding at least %d", k, e, n+1, n+1)
	}

	// Later the same day: every window is over; the counts stay.
	l.setOffset(off + time.Hour)
	if _, err := l.Wait(ctx, Key{App: "app", Resource: "same-day"}); err != nil {
		t.Fatal(err)
	}
	if k, e := localKeys(l); k != n+2 || e != 1 {
		t.Errorf("an hour later: %d keys holding %d slot entries; want %d keys and only the new key's entry", k, e, n+2)
	}
	if st := mustState(t, l, key(7)); st.DailyUsed != 1 {
		t.Errorf("an hour later key 7 counts %d today, want 1", st.DailyUsed)
	}

	// The next day: only the key used since remains.
	l.setOffset(off + 24*time.Hour)
	next, err := l.Wait(ctx, key(n))
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := localKeys(l); k != 1 {
		t.Errorf("next day: %d keys, want 1", k)
	}
	if err := stale.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	if st := mustState(t, l, key(n)); st.InWindow+st.Queued != 1 || st.DailyUsed != 1 {
		t.Errorf("after yesterday's permit was cancelled today's grant %d (seq %d, yesterday's %d) holds %d slots, %d today; want 1 and 1",
			next.Seq, next.Seq, stale.Seq, st.InWindow+st.Queued, st.DailyUsed)
	}
}

func seenLen(r *Redis) int { return r.seen.len() }

// The Redis limiter's per-key memo of the daily count does not grow with
// every key ever used: a new UTC day drops the entries of past days, and
// within a day the size bound drops the least recently stored ones.
func TestRedisSeenIsBounded(t *testing.T) {
	t.Parallel()
	const n = 300
	srv := redistest.Start(t, redistest.Options{})
	r, err := NewRedis(srv.Client(), Config{Limit: 10, Window: 100 * time.Millisecond, Guard: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	off := noonOffset()
	r.setOffset(off)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if _, err := r.Wait(ctx, Key{App: "app", Resource: "loc-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := seenLen(r); got != n {
		t.Fatalf("memo holds %d keys after %d, want %d", got, n, n)
	}
	r.setOffset(off + 24*time.Hour)
	if _, err := r.Wait(ctx, Key{App: "app", Resource: "tomorrow"}); err != nil {
		t.Fatal(err)
	}
	if got := seenLen(r); got != 1 {
		t.Errorf("next day the memo holds %d keys, want 1", got)
	}
}

// Within one day the memo holds at most two generations; the latest keys
// stay, so Observe still skips Redis for them, and a dropped key costs one
// round trip, never a wrong count.
func TestSeenMemoSizeBound(t *testing.T) {
	t.Parallel()
	const half = 50
	m := newSeenMemo(half)
	for i := 0; i < 10*half; i++ {
		m.store("k"+strconv.Itoa(i), dailySeen{day: 7, used: int64(i)})
		if n := m.len(); n > 2*half {
			t.Fatalf("after %d keys the memo holds %d, bound %d", i+1, n, 2*half)
		}
	}
	last := "k" + strconv.Itoa(10*half-1)
	if s, ok := m.load(last, 7); !ok || s.used != 10*half-1 {
		t.Errorf("latest key: %+v, %v; want it remembered", s, ok)
	}
	if _, ok := m.load("k0", 7); ok {
		t.Error("the oldest key is still remembered past the bound")
	}
	// A key stored again moves to the newest generation and survives.
	m.store("k1", dailySeen{day: 7, used: 1})
	for i := 0; i < half; i++ {
		m.store("x"+strconv.Itoa(i), dailySeen{day: 7})
	}
	if _, ok := m.load("k1", 7); !ok {
		t.Error("a key stored again was dropped by the next generation")
	}
	if _, ok := m.load(last, 8); ok || m.len() != 0 {
		t.Errorf("asked about the next day: %d keys remain, want none", m.len())
	}
}
