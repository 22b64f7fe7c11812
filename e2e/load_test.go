//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// attempt is one RPC a caller made, with its outcome.
type attempt struct {
	caller, replica int
	start, end      time.Time
	code            codes.Code
	msg             string
	reason          string // ErrorInfo reason, when the error carried one
	domain          string // ErrorInfo domain
	hasRetry        bool   // the error carried RetryInfo
	retryDelay      time.Duration
}

func (a attempt) String() string {
	return fmt.Sprintf("replica%d caller %d at %s: %v reason=%q domain=%q retryInfo=%v(%v): %s",
		a.replica+1, a.caller, a.start.Format("15:04:05.000"), a.code, a.reason, a.domain, a.hasRetry, a.retryDelay, a.msg)
}

// classify fills an attempt from an RPC's error.
func classify(a *attempt, err error) {
	a.end = time.Now()
	if err == nil {
		a.code = codes.OK
		return
	}
	st := status.Convert(err)
	a.code, a.msg = st.Code(), st.Message()
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			a.reason, a.domain = d.GetReason(), d.GetDomain()
		case *errdetails.RetryInfo:
			a.hasRetry = true
			a.retryDelay = d.GetRetryDelay().AsDuration()
		}
	}
}

// withKey adds a caller key to an outgoing context.
func withKey(ctx context.Context, key string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

// backPressure is how a well-behaved caller treats an answer: on an error
// with RetryInfo it sleeps the advised delay (bounded, so the suite's loops
// stay bounded in time) and tries again; on an error without it (a replica
// that is down refuses the connection) it pauses briefly.
func backPressure(ctx context.Context, a attempt) {
	d := 100 * time.Millisecond
	if a.hasRetry && a.retryDelay > 0 {
		d = min(a.retryDelay, 3*time.Second)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// loadSpec describes a closed-loop load: callers, each bound to one replica
// (caller i uses replicas[i % len(replicas)]), each making one call at a
// time until dur has passed since the start.
type loadSpec struct {
	callers  int
	replicas []int
	dur      time.Duration
	// deadline is every attempt's deadline.
	deadline time.Duration
	// op makes one call; n counts the caller's attempts.
	op func(ctx context.Context, caller, replica, n int) error
}

// loadResult holds every attempt of a load, in no particular order.
type loadResult struct {
	start, end time.Time
	attempts   []attempt
}

// maxAttemptsPerCaller bounds every caller's loop in count, whatever the
// durations.
const maxAttemptsPerCaller = 5000

// runLoad runs a load and returns every attempt once every caller has
// finished its last call. Start it in a goroutine to act on processes while
// it runs.
func runLoad(ctx context.Context, spec loadSpec) *loadResult {
	res := &loadResult{start: time.Now()}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for c := range spec.callers {
		r := spec.replicas[c%len(spec.replicas)]
		wg.Go(func() {
			var mine []attempt
			for n := 0; n < maxAttemptsPerCaller && time.Since(res.start) < spec.dur && ctx.Err() == nil; n++ {
				a := attempt{caller: c, replica: r, start: time.Now()}
				actx, cancel := context.WithTimeout(ctx, spec.deadline)
				err := spec.op(actx, c, r, n)
				cancel()
				classify(&a, err)
				mine = append(mine, a)
				if err != nil {
					backPressure(ctx, a)
				}
			}
			mu.Lock()
			res.attempts = append(res.attempts, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.end = time.Now()
	return res
}

// filter returns the attempts for which keep is true.
func (r *loadResult) filter(keep func(attempt) bool) []attempt {
	var out []attempt
	for _, a := range r.attempts {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// summary counts attempts by replica and code, for the log.
func (r *loadResult) summary() string {
	counts := map[string]int{}
	for _, a := range r.attempts {
		counts[fmt.Sprintf("replica%d %v", a.replica+1, a.code)]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%d ", k, counts[k])
	}
	return strings.TrimSpace(b.String())
}

// timeline counts attempts per second of start time and outcome, for the
// log of scenarios that act on processes mid-load.
func (r *loadResult) timeline() string {
	type key struct {
		sec  int
		code codes.Code
	}
	counts := map[key]int{}
	last := 0
	for _, a := range r.attempts {
		k := key{int(a.start.Sub(r.start) / time.Second), a.code}
		counts[k]++
		last = max(last, k.sec)
	}
	var b strings.Builder
	for sec := 0; sec <= last; sec++ {
		fmt.Fprintf(&b, "\n  +%2ds", sec)
		for _, c := range []codes.Code{codes.OK, codes.ResourceExhausted, codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown} {
			if n := counts[key{sec, c}]; n > 0 {
				fmt.Fprintf(&b, " %v=%d", c, n)
			}
		}
	}
	return b.String()
}

// firstFew renders up to n attempts, for failure messages.
func firstFew(as []attempt, n int) string {
	var b strings.Builder
	for i, a := range as {
		if i == n {
			fmt.Fprintf(&b, "\n  … and %d more", len(as)-n)
			break
		}
		b.WriteString("\n  ")
		b.WriteString(a.String())
	}
	return b.String()
}

// maxInWindow is the most accepted arrivals in any window (t-w, t], with t
// an arrival; times must be sorted.
func maxInWindow(ts []time.Time, w time.Duration) int {
	best, lo := 0, 0
	for hi := range ts {
		for !ts[lo].After(ts[hi].Add(-w)) {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// occupancy is the mean over t in [from, to] of the number of arrivals in
// (t-w, t]; ts must be sorted. It is sampled every millisecond.
func occupancy(ts []time.Time, w time.Duration, from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	var sum float64
	n, lo, hi := 0, 0, 0
	for t := from; !t.After(to); t = t.Add(time.Millisecond) {
		for hi < len(ts) && !ts[hi].After(t) {
			hi++
		}
		for lo < hi && !ts[lo].After(t.Add(-w)) {
			lo++
		}
		sum += float64(hi - lo)
		n++
	}
	return sum / float64(n)
}

// between returns the times in [from, to].
func between(ts []time.Time, from, to time.Time) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if !t.Before(from) && !t.After(to) {
			out = append(out, t)
		}
	}
	return out
}

// callOnce runs one logical call to completion the way a well-behaved
// caller does: resend after RESOURCE_EXHAUSTED with RetryInfo (the quota
// said "later", nothing reached HighLevel), at most maxTries times. It
// returns every attempt.
func callOnce(ctx context.Context, caller, replica int, deadline time.Duration, maxTries int, retryable func(attempt) bool, op func(ctx context.Context) error) []attempt {
	var out []attempt
	for range maxTries {
		a := attempt{caller: caller, replica: replica, start: time.Now()}
		actx, cancel := context.WithTimeout(ctx, deadline)
		err := op(actx)
		cancel()
		classify(&a, err)
		out = append(out, a)
		if err == nil || !retryable(a) || ctx.Err() != nil {
			break
		}
		backPressure(ctx, a)
	}
	return out
}

// backPressured is the resend rule for any call: only a quota refusal with
// RetryInfo is resent.
func backPressured(a attempt) bool {
	return a.code == codes.ResourceExhausted && a.hasRetry
}
