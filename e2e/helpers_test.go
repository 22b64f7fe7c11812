//go:build e2e

package e2e

import (
	"math"
	"testing"
	"time"
)

// TestWindowArithmetic pins the window measures the scenarios assert with,
// on arrivals laid out by hand: bursts of 100 every 10.5 s, hlgate's
// pattern under saturation.
func TestWindowArithmetic(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ts []time.Time
	for _, at := range []time.Duration{0, 10500 * time.Millisecond, 21 * time.Second} {
		for i := range 100 {
			ts = append(ts, t0.Add(at+time.Duration(i)*time.Microsecond))
		}
	}
	if got := maxInWindow(ts, 10*time.Second); got != 100 {
		t.Errorf("maxInWindow = %d, want 100", got)
	}
	// One more arrival 9.999 s after the second burst's last puts 101 in a
	// window.
	late := append(append([]time.Time{}, ts[:200]...), ts[199].Add(9999*time.Millisecond))
	if got := maxInWindow(late, 10*time.Second); got != 101 {
		t.Errorf("maxInWindow with a 101st = %d, want 101", got)
	}
	// A window ending exactly 10 s after an arrival no longer holds it.
	edge := []time.Time{t0, t0.Add(10 * time.Second)}
	if got := maxInWindow(edge, 10*time.Second); got != 1 {
		t.Errorf("maxInWindow at the edge = %d, want 1", got)
	}
	// From 10 s to 27 s the window is empty during [10, 10.5) and
	// [20.5, 21): 16 of 17 seconds full.
	got := occupancy(ts, 10*time.Second, t0.Add(10*time.Second), t0.Add(27*time.Second))
	if want := 100 * 16.0 / 17; math.Abs(got-want) > 0.5 {
		t.Errorf("occupancy = %.2f, want %.2f", got, want)
	}
}
