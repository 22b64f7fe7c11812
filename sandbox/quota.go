package sandbox

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// QuotaKey is what upstream counts requests by: the marketplace app and the
// resource (a location or a company). Private Integration Tokens use the app
// "pit".
type QuotaKey struct {
	App      string `json:"app"`
	Resource string `json:"resource"`
}

// String renders the key as "app/resource", the form the admin API uses.
func (k QuotaKey) String() string { return k.App + "/" + k.Resource }

// Arrival is one request as the quota saw it.
type Arrival struct {
	// At is when the quota decided, on the sandbox's clock.
	At time.Time `json:"at"`
	// Accepted is false when the request got a 429 from the quota.
	Accepted bool `json:"accepted"`
}

type keyState struct {
	mu sync.Mutex
	// win holds the accepted arrivals (unix ns) inside the current window,
	// oldest first, from head on. It is a log, not a counter, which is what
	// makes the window exact.
	win      []int64
	head     int
	day      int64 // days since the epoch, UTC, of dayCount
	dayCount int

	accepted, rejected int64
	maxInWindow        int

	// arrivals holds every decision as unix ns, negated when rejected: a
	// pointer-free log the garbage collector never scans, however long.
	// Bounded by Config.MaxArrivals.
	arrivals []int64
}

type quotaState struct {
	cfg       Config
	mu        sync.RWMutex
	keys      map[QuotaKey]*keyState
	served429 atomic.Int64
}

func newQuotaState(cfg Config) *quotaState {
	return &quotaState{cfg: cfg, keys: map[QuotaKey]*keyState{}}
}

func (q *quotaState) reset() {
	q.mu.Lock()
	q.keys = map[QuotaKey]*keyState{}
	q.mu.Unlock()
	q.served429.Store(0)
}

func (q *quotaState) key(k QuotaKey) *keyState {
	q.mu.RLock()
	st, ok := q.keys[k]
	q.mu.RUnlock()
	if ok {
		return st
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if st, ok = q.keys[k]; !ok {
		st = &keyState{}
		q.keys[k] = st
	}
	return st
}

// decision is the quota's verdict on one request, with what the headers
// report.
type decision struct {
	ok             bool
	remaining      int
	dailyRemaining int
}

// admit decides one request. The time is read under the key's lock, so
// the log of every key is in arrival order and the decision is made on the
// very timestamp that is recorded.
func (q *quotaState) admit(k QuotaKey, now func() time.Time) decision {
	st := q.key(k)
	L, D, W := q.cfg.RateLimit, q.cfg.DailyLimit, q.cfg.RateWindow.Nanoseconds()
	st.mu.Lock()
	defer st.mu.Unlock()
	t := now()
	ns := t.UnixNano()
	// A request at t is in the window (t-W, t]; one exactly W old has left.
	for st.head < len(st.win) && st.win[st.head] <= ns-W {
		st.head++
	}
	if st.head > 1024 && st.head > len(st.win)/2 {
		st.win = append(st.win[:0], st.win[st.head:]...)
		st.head = 0
	}
	if day := t.UTC().Unix() / 86400; day != st.day {
		st.day, st.dayCount = day, 0
	}
	inWin := len(st.win) - st.head
	if !q.cfg.QuotaOff && (inWin >= L || st.dayCount >= D) {
		st.rejected++
		st.record(-ns, q.cfg.MaxArrivals)
		return decision{ok: false, remaining: max(0, L-inWin), dailyRemaining: max(0, D-st.dayCount)}
	}
	st.win = append(st.win, ns)
	st.dayCount++
	st.accepted++
	inWin++
	st.maxInWindow = max(st.maxInWindow, inWin)
	st.record(ns, q.cfg.MaxArrivals)
	return decision{ok: true, remaining: max(0, L-inWin), dailyRemaining: max(0, D-st.dayCount)}
}

func (st *keyState) record(a int64, limit int) {
	if len(st.arrivals) >= limit {
		n := copy(st.arrivals, st.arrivals[len(st.arrivals)/2:])
		st.arrivals = st.arrivals[:n]
	}
	st.arrivals = append(st.arrivals, a)
}

// setHeaders writes the five documented rate-limit headers.
func (q *quotaState) setHeaders(h http.Header, d decision) {
	h["X-Ratelimit-Limit-Daily"] = []string{strconv.Itoa(q.cfg.DailyLimit)}
	h["X-Ratelimit-Daily-Remaining"] = []string{strconv.Itoa(d.dailyRemaining)}
	h["X-Ratelimit-Interval-Milliseconds"] = []string{strconv.FormatInt(q.cfg.RateWindow.Milliseconds(), 10)}
	h["X-Ratelimit-Max"] = []string{strconv.Itoa(q.cfg.RateLimit)}
	h["X-Ratelimit-Remaining"] = []string{strconv.Itoa(d.remaining)}
}

// KeyStats are the counters of one quota key.
type KeyStats struct {
	// Accepted and Rejected count the quota's verdicts (rejected = 429).
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	// DailyCount is today's accepted requests (UTC day of the last one).
	DailyCount int `json:"dailyCount"`
	// MaxInWindow is the most accepted requests seen in any window of
	// RateWindow, measured even when the quota is off.
	MaxInWindow int `json:"maxInWindow"`
}

// Stats is a snapshot of the sandbox's counters.
type Stats struct {
	// Keys holds the counters per quota key, by QuotaKey.String().
	Keys map[string]KeyStats `json:"keys"`
	// CodeGrants counts successful authorization_code grants.
	CodeGrants int64 `json:"codeGrants"`
	// RefreshGrants counts successful refresh_token grants.
	RefreshGrants int64 `json:"refreshGrants"`
	// LocationTokens counts successful /oauth/locationToken exchanges.
	LocationTokens int64 `json:"locationTokens"`
	// InvalidGrants counts invalid_grant answers (reused, unknown or
	// expired refresh tokens and codes).
	InvalidGrants int64 `json:"invalidGrants"`
	// Served429 counts every 429 served, from the quota or forced.
	Served429 int64 `json:"served429"`
}

// Stats returns a snapshot of the counters.
func (s *Sandbox) Stats() Stats {
	st := Stats{
		Keys:           map[string]KeyStats{},
		CodeGrants:     s.auth.codeGrants.Load(),
		RefreshGrants:  s.auth.refreshGrants.Load(),
		LocationTokens: s.auth.locationGrants.Load(),
		InvalidGrants:  s.auth.invalidGrants.Load(),
		Served429:      s.quota.served429.Load(),
	}
	s.quota.mu.RLock()
	defer s.quota.mu.RUnlock()
	for k, ks := range s.quota.keys {
		ks.mu.Lock()
		st.Keys[k.String()] = KeyStats{Accepted: ks.accepted, Rejected: ks.rejected, DailyCount: ks.dayCount, MaxInWindow: ks.maxInWindow}
		ks.mu.Unlock()
	}
	return st
}

// Arrivals returns every recorded arrival of a key, accepted and rejected,
// in the order the quota decided them.
func (s *Sandbox) Arrivals(k QuotaKey) []Arrival {
	s.quota.mu.RLock()
	st, ok := s.quota.keys[k]
	s.quota.mu.RUnlock()
	if !ok {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Arrival, len(st.arrivals))
	for i, ns := range st.arrivals {
		if ns < 0 {
			out[i] = Arrival{At: time.Unix(0, -ns), Accepted: false}
		} else {
			out[i] = Arrival{At: time.Unix(0, ns), Accepted: true}
		}
	}
	return out
}

// AcceptedTimes returns the arrival times of a key's accepted requests,
// oldest first: the series a "never more than L in any W" assertion walks.
func (s *Sandbox) AcceptedTimes(k QuotaKey) []time.Time {
	var out []time.Time
	for _, a := range s.Arrivals(k) {
		if a.Accepted {
			out = append(out, a.At)
		}
	}
	return out
}

// LocationKey is the quota key of the default app on a location.
func LocationKey(locationID string) QuotaKey {
	return QuotaKey{App: DefaultAppID, Resource: locationID}
}
