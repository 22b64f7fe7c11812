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

func (s *slowStore) coolUntil(context.Context, Key, uint64) (int64, error) {
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
	if _, err := finish(context.Background(), d, now, now, slow, key, 40*time.Millisecond); !errors.Is(err, errLate) {
		t.Fatalf("late caller: err = %v, want it queued again", err)
	}
	if slow.cancelled != 1 {
		t.Fatalf("late slot given back %d times, want 1", slow.cancelled)
	}

	now = time.Now()
	d = decision{status: statusGranted, now: now.UnixMicro(), value: now.Add(5 * time.Millisecond).UnixMicro(), seq: 2}
	fast := &slowStore{}
	if _, err := finish(context.Background(), d, now, now, fast, key, time.Second); err != nil || fast.cancelled != 0 {
		t.Fatalf("punctual caller: err = %v, cancelled %d", err, fast.cancelled)
	}
}

// failingStore cannot give a slot back, as a Redis that went away.
type failingStore struct{ slowStore }

func (f *failingStore) cancel(context.Context, Key, int64, int64) error {
	f.cancelled++
	return errors.New("unreachable")
}

// A grant at once is late when its decision's round trip took longer than
// the permit's share of the guard band: it is given back and queued again,
// or, when it cannot be given back, refused (fail closed). A prompt one is
// returned with SendBy at the share's end after the request for it left.
func TestLateImmediateGrantIsGivenBack(t *testing.T) {
	t.Parallel()
	const guard = 400 * time.Millisecond
	key := Key{App: "a", Resource: "r"}
	sent := time.Now()
	d := decision{status: statusGranted, now: sent.UnixMicro(), value: sent.UnixMicro(), seq: 1}

	late := &slowStore{}
	received := sent.Add(lateShare(guard) + time.Millisecond)
	if _, err := finish(context.Background(), d, sent, received, late, key, guard); !errors.Is(err, errLate) || late.cancelled != 1 {
		t.Fatalf("late grant: err = %v, given back %d times; want errLate and 1", err, late.cancelled)
	}
	down := &failingStore{}
	_, err := finish(context.Background(), d, sent, received, down, key, guard)
	var le *Error
	if !errors.As(err, &le) || le.Reason != Unavailable || down.cancelled != 1 {
		t.Fatalf("late grant that cannot be given back: err = %v, want UNAVAILABLE", err)
	}

	prompt := &slowStore{}
	p, err := finish(context.Background(), d, sent, sent.Add(lateShare(guard)), prompt, key, guard)
	if err != nil || prompt.cancelled != 0 {
		t.Fatalf("prompt grant: err = %v, given back %d times", err, prompt.cancelled)
	}
	if want := sent.Add(lateShare(guard)); !p.SendBy.Equal(want) {
		t.Errorf("SendBy %s, want %s", p.SendBy, want)
	}
	if !p.Fresh(p.SendBy) || p.Fresh(p.SendBy.Add(time.Nanosecond)) {
		t.Error("Fresh does not end at SendBy")
	}
	if !(Permit{}).Fresh(time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("a Permit with no SendBy is not fresh")
	}
}

// Wait stops queueing again after maxLate late decisions in a row.
func TestLateDecisionsFailClosed(t *testing.T) {
	t.Parallel()
	calls := 0
	_, err := retry(Key{App: "a", Resource: "r"}, time.Second, func() (Permit, error) { calls++; return Permit{}, errLate })
	var le *Error
	if !errors.As(err, &le) || le.Reason != Unavailable || le.RetryAfter != time.Second || calls != maxLate {
		t.Fatalf("after %d late decisions: err = %v, want UNAVAILABLE after %d", calls, err, maxLate)
	}
}
