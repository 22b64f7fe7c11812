package limiter

import (
	"context"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

var _ Limiter = (*Local)(nil)

// Local is the in-process limiter: the same slot algorithm as Redis, kept
// in memory under a mutex. It is exact for one replica; several replicas
// each running a Local would each grant the full quota, so multi-replica
// deployments use Redis.
type Local struct {
	cfg  Config
	span int64

	// The clock is monotonic (time.Since a fixed base) so a wall-clock step
	// cannot reorder slots; the base's wall time only names the UTC day.
	base   time.Time
	baseUS int64
	// offset (µs) shifts the clock; only tests set it (Config.clockOffset,
	// setOffset).
	offset atomic.Int64

	mu        sync.Mutex
	keys      map[Key]*localKey
	lastSweep int64
	// seq numbers grants across all keys, so a key that was forgotten and
	// used again never repeats a sequence number: a permit of its earlier
	// life can then never cancel a grant of its new one.
	seq int64
}

// localKey is one key's log, the same data the Redis limiter keeps in its
// sorted sets and state hash.
type localKey struct {
	log  []slotEntry // granted slots, ascending by at
	free []slotEntry // future slots freed by a cancellation, ascending by at
	day  int64
	used int64
	cool int64
	last int64 // latest slot ever granted; see reserveScript
}

type slotEntry struct{ at, seq int64 }

// NewLocal returns an in-process limiter.
func NewLocal(cfg Config) (*Local, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	l := &Local{
		cfg:    cfg,
		span:   cfg.span(),
		base:   now,
		baseUS: now.UnixMicro(),
		keys:   make(map[Key]*localKey),
	}
	l.setOffset(cfg.clockOffset)
	return l, nil
}

func (l *Local) now() int64 {
	return l.baseUS + time.Since(l.base).Microseconds() + l.offset.Load()
}

// setOffset shifts the limiter's clock to d after the local clock.
// Test-only: it moves "now" across 00:00 UTC or past a window without
// sleeping.
func (l *Local) setOffset(d time.Duration) { l.offset.Store(d.Microseconds()) }

// Wait reserves the caller's slot and sleeps until it; see Limiter.
func (l *Local) Wait(ctx context.Context, key Key) (Permit, error) {
	if err := key.validate(); err != nil {
		return Permit{}, err
	}
	if err := ctx.Err(); err != nil {
		return Permit{}, err
	}
	return retry(key, l.cfg.ProbeInterval, func() (Permit, error) {
		sent := time.Now()
		d := l.reserve(key, l.cfg.maxWait(ctx))
		return finish(ctx, d, sent, time.Now(), l, key, l.cfg.Guard)
	})
}

// coolUntil reads the key's cool-down; see canceller.
func (l *Local) coolUntil(_ context.Context, key Key, _ uint64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k := l.keys[key]; k != nil {
		return k.cool, nil
	}
	return 0, nil
}

// reserve is the slot algorithm. The Redis script (scripts.go) is a
// line-by-line translation; keep them in step.
//
// Invariant: the set S of granted slots together with the set F of freed
// future slots never holds more than L entries in any half-open interval of
// length W'. It holds because each step keeps it:
//   - a normal grant s (only when F holds nothing at or after now) is at or
//     after every entry of S and at least W' after the L-th latest one, so an
//     interval holding s holds at most L-1 others;
//   - a cancellation moves an entry from S to F: S∪F is unchanged;
//   - re-granting a freed slot moves it back from F to S: S∪F is unchanged;
//   - trimming and dropping freed slots already past only shrink the sets.
//
// The invariant on S (a subset of S∪F) is the guarantee. Why freed slots go
// to the next caller rather than letting later grants move up: removing an
// entry in the middle of S and then granting by the normal rule would place
// the next slot after the last one anyway, so the freed capacity would be
// lost; placing a normal grant into the gap instead could overfill a window
// once the gap's neighbours are counted. Re-granting the exact freed slot
// restores a set that was already valid. The cost is that a slot freed by a
// cancellation goes to the next caller to arrive, ahead of callers already
// sleeping until later slots; none of them is delayed by it.
func (l *Local) reserve(key Key, maxWait int64) decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	k := l.keys[key]
	if k == nil {
		k = &localKey{}
		l.keys[key] = k
	}
	day := floorDiv(now, usPerDay)
	if k.day != day {
		k.day, k.used = day, 0
	}
	if k.used >= l.cfg.Daily {
		return decision{status: statusDaily, now: now, value: (day+1)*usPerDay - now}
	}
	// Entries at or before now-W' can no longer bound a future slot.
	trim := 0
	for trim < len(k.log) && k.log[trim].at <= now-l.span {
		trim++
	}
	k.log = k.log[trim:]

	floor := max(now, k.cool)
	drop := 0
	for drop < len(k.free) && k.free[drop].at < floor {
		drop++
	}
	k.free = append(k.free[:0], k.free[drop:]...)

	var slot int64
	fromFree := len(k.free) > 0
	if fromFree {
		slot = k.free[0].at
	} else {
		slot = max(floor, k.last)
		if n := len(k.log); n >= l.cfg.Limit {
			slot = max(slot, k.log[n-l.cfg.Limit].at+l.span)
		}
	}
	if slot-now > maxWait {
		return decision{status: statusRateLimited, now: now, value: slot - now}
	}
	if fromFree {
		k.free = append(k.free[:0], k.free[1:]...)
	}
	l.seq++
	k.last = max(k.last, slot)
	k.log = insertSorted(k.log, slotEntry{at: slot, seq: l.seq})
	k.used++
	return decision{status: statusGranted, now: now, value: slot, seq: l.seq, day: day}
}

// cancel frees a granted slot; see Permit.Cancel.
func (l *Local) cancel(_ context.Context, key Key, seq, day int64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.keys[key]
	if k == nil {
		return nil
	}
	for i, e := range k.log {
		if e.seq != seq {
			continue
		}
		k.log = append(k.log[:i], k.log[i+1:]...)
		if e.at > l.now() {
			k.free = insertSorted(k.free, e)
		}
		if k.day == day && k.used > 0 {
			k.used--
		}
		return nil
	}
	return nil
}

// Observe applies HighLevel's answer; see Limiter.
func (l *Local) Observe(_ context.Context, key Key, status int, header http.Header) {
	if key.validate() != nil {
		return
	}
	o := parseObservation(status, header, l.cfg.Window, time.Now())
	if o.coolDown <= 0 && o.dailyRemaining < 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	k := l.keys[key]
	if k == nil {
		k = &localKey{}
		l.keys[key] = k
	}
	if o.coolDown > 0 && !(o.unlessFull && l.fullLocked(k, now)) {
		k.cool = max(k.cool, now+o.coolDown.Microseconds())
	}
	if o.dailyRemaining >= 0 {
		day := floorDiv(now, usPerDay)
		if k.day != day {
			k.day, k.used = day, 0
		}
		k.used = max(k.used, l.cfg.Daily-o.dailyRemaining)
	}
}

// fullLocked reports whether k's log holds Limit grants in the last W' up
// to now. l.mu is held.
func (l *Local) fullLocked(k *localKey, now int64) bool {
	n := 0
	for _, e := range k.log {
		if e.at > now-l.span && e.at <= now {
			n++
		}
	}
	return n >= l.cfg.Limit
}

// State reports the key's view; see Limiter.
func (l *Local) State(_ context.Context, key Key) (State, error) {
	if err := key.validate(); err != nil {
		return State{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	st := State{DailyRemaining: l.cfg.Daily}
	k := l.keys[key]
	if k == nil {
		return st, nil
	}
	for _, e := range k.log {
		switch {
		case e.at > now:
			st.Queued++
		case e.at > now-l.span:
			st.InWindow++
		}
	}
	if k.day == floorDiv(now, usPerDay) {
		st.DailyUsed = k.used
		st.DailyRemaining = max(0, l.cfg.Daily-k.used)
	}
	if k.cool > now {
		st.CoolDownUntil = time.UnixMicro(k.cool)
	}
	floor := max(now, k.cool)
	next := int64(-1)
	for _, e := range k.free {
		if e.at >= floor {
			next = e.at
			break
		}
	}
	if next < 0 {
		next = max(floor, k.last)
		if n := len(k.log); n >= l.cfg.Limit {
			next = max(next, k.log[n-l.cfg.Limit].at+l.span)
		}
	}
	st.NextSlotIn = time.Duration(next-now) * time.Microsecond
	return st, nil
}

// sweep forgets what no decision can need any more. It runs at most once
// a minute, under l.mu, so a process that served many keys does not keep
// them all:
//   - slots at or before now-W' can no longer bound a future slot, and
//     freed slots before now can no longer be granted, so they go (the
//     same trimming reserve does, for keys reserve no longer visits);
//   - a key left with no slot, no cool-down and no latest slot ahead goes
//     too once its daily count is of an earlier day or zero. A count of
//     today stays: forgetting it would grant today's quota twice.
func (l *Local) sweep(now int64) {
	if now-l.lastSweep < int64(time.Minute/time.Microsecond) {
		return
	}
	l.lastSweep = now
	today := floorDiv(now, usPerDay)
	for key, k := range l.keys {
		k.log = dropBefore(k.log, now-l.span+1)
		k.free = dropBefore(k.free, now)
		idle := len(k.log) == 0 && len(k.free) == 0 && k.last <= now && k.cool <= now
		if idle && (k.day != today || k.used == 0) {
			delete(l.keys, key)
		}
	}
}

// dropBefore removes the entries of s (ascending by at) before at, and
// releases the array when none is left.
func dropBefore(s []slotEntry, at int64) []slotEntry {
	i := 0
	for i < len(s) && s[i].at < at {
		i++
	}
	if i == len(s) {
		return nil
	}
	return append(s[:0], s[i:]...)
}

// insertSorted inserts e keeping s ascending by at; equal times keep the
// order of insertion.
func insertSorted(s []slotEntry, e slotEntry) []slotEntry {
	i := sort.Search(len(s), func(i int) bool { return s[i].at > e.at })
	s = append(s, slotEntry{})
	copy(s[i+1:], s[i:])
	s[i] = e
	return s
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
