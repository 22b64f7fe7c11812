package limiter

import (
	"context"
	"errors"
	"testing"
	"time"
)

// slowStore answers the post-sleep cool-down read only after a delay, as a
// Redis that went away does while its client retries the dial.
type slowStore struct {
	delay     time.Duration
	cancelled int
}

func (s *slowStore) cancel(context.Context, Key, int64, int64) error { s.cancelled++; return nil }

func (s *slowStore) coolUntil(context.Context, Key) (int64, error) {
	time.Sleep(s.delay)
	return 0, errors.New("unreachable")
}

// A caller that wakes too late for its slot gives it back and queues again
// instead of sending late; a punctual caller keeps its slot.
func TestLateSlotIsGivenBack(t *testing.T) {
	t.Parallel()
	now := time.Now()
	d := decision{status: statusGranted, now: now.UnixMicro(), value: now.Add(5 * time.Millisecond).UnixMicro(), seq: 1}
	key := Key{App: "a", Resource: "r"}

	slow := &slowStore{delay: 80 * time.Millisecond}
	if _, err := finish(context.Background(), d, now, slow, key, 40*time.Millisecond); !errors.Is(err, errCooledDown) {
		t.Fatalf("late caller: err = %v, want it queued again", err)
	}
	if slow.cancelled != 1 {
		t.Fatalf("late slot given back %d times, want 1", slow.cancelled)
	}

	now = time.Now()
	d = decision{status: statusGranted, now: now.UnixMicro(), value: now.Add(5 * time.Millisecond).UnixMicro(), seq: 2}
	fast := &slowStore{}
	if _, err := finish(context.Background(), d, now, fast, key, time.Second); err != nil || fast.cancelled != 0 {
		t.Fatalf("punctual caller: err = %v, cancelled %d", err, fast.cancelled)
	}
}
