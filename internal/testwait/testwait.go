// Package testwait polls a condition in tests until it holds, bounded by a
// timer rather than by reading the wall clock, so a test that waits for
// something asynchronous (a follower exiting, a replica seeing a change)
// neither sleeps a fixed time nor depends on the time of day.
package testwait

import (
	"testing"
	"time"
)

// DefaultTimeout bounds a wait when the caller gives none.
const DefaultTimeout = 10 * time.Second

// For polls cond every interval until it returns true, and fails the test
// naming what it waited for when timeout passes first.
func For(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
}

// Until polls cond until it returns true (true) or timeout passes (false).
func Until(timeout time.Duration, cond func() bool) bool {
	expired := time.NewTimer(timeout)
	defer expired.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-expired.C:
			return cond()
		case <-tick.C:
		}
	}
	return true
}
