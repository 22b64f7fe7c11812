package limiter

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// HighLevel's documented rate-limit response headers
// (reference/highlevel-api-facts.md §8). Retry-After is not documented; it
// is honoured when present because a 429 carrying it is unambiguous.
const (
	headerRemaining      = "X-RateLimit-Remaining"
	headerInterval       = "X-RateLimit-Interval-Milliseconds"
	headerDailyRemaining = "X-RateLimit-Daily-Remaining"
	headerRetryAfter     = "Retry-After"
)

// observation is what a response tells the limiter.
type observation struct {
	// coolDown is how long every replica must hold back, 0 for none.
	coolDown time.Duration
	// unlessFull limits the cool-down to the case where the limiter's own
	// log holds fewer than L grants in the last W' (see parseObservation).
	unlessFull bool
	// dailyRemaining is HighLevel's count of requests left today, -1 when
	// the header is absent or unreadable.
	dailyRemaining int64
}

// parseObservation reads a response. A 429 means HighLevel's window is
// full whatever our own log says (the app may have other clients, or
// HighLevel counts differently), so a cool-down starts: Retry-After when
// given, else the interval HighLevel reports, else one of our windows — the
// stricter reading when nothing says how long.
//
// X-RateLimit-Remaining: 0 on an accepted request starts the same
// cool-down, unless our own log already holds L grants in the last W': then
// HighLevel merely agrees with us (the window is full and the slot rule
// already holds the next request back until it frees), and a cool-down of a
// whole interval would idle the quota. Whether HighLevel's window slides or
// is fixed, it cannot count more than our log unless someone else spends the
// same quota, and that is exactly when our log is not full.
func parseObservation(status int, h http.Header, window time.Duration, now time.Time) observation {
	o := observation{dailyRemaining: -1}
	if v, ok := headerInt(h, headerDailyRemaining); ok && v >= 0 {
		o.dailyRemaining = v
	}
	remaining, hasRemaining := headerInt(h, headerRemaining)
	if status != http.StatusTooManyRequests {
		if !hasRemaining || remaining > 0 {
			return o
		}
		o.unlessFull = true
	}
	if ra := retryAfter(h, now); ra > 0 {
		o.coolDown = ra
	} else if ms, ok := headerInt(h, headerInterval); ok && ms > 0 {
		o.coolDown = time.Duration(ms) * time.Millisecond
	} else {
		o.coolDown = window
	}
	return o
}

func headerInt(h http.Header, name string) (int64, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// retryAfter reads Retry-After as delay-seconds or an HTTP date (RFC 9110
// §10.2.3); 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get(headerRetryAfter))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
