package sandbox_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// TestCalendarWindowsIncludeBothEnds pins the sandbox's reading of the
// free-slots and events windows (see opListEvents and freeSlots): both are
// closed, so whatever sits exactly on a boundary is in, and a client that
// promises a half-open window has to drop it itself.
func TestCalendarWindowsIncludeBothEnds(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	clock := &fakeClock{t: time.Date(2026, 4, 13, 12, 0, 0, 0, time.UTC)} // Monday 08:00 EDT
	e := newEnv(t, sandbox.Config{Now: clock.Now})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	resp, body := e.call("GET", "/calendars/?locationId="+sandbox.DemoLocationID, tok, sandbox.VersionCalendars, nil)
	var cals struct {
		Calendars []struct{ ID, Name string }
	}
	mustJSON(t, body, &cals)
	if resp.StatusCode != 200 || len(cals.Calendars) == 0 || cals.Calendars[0].Name != "Sales Call" {
		t.Fatalf("calendars: %d %s", resp.StatusCode, body)
	}
	cal := cals.Calendars[0].ID
	contact := firstContact(t, e, tok, sandbox.DemoLocationID)

	// The window runs from Tuesday 10:00 to Wednesday 10:00, both working
	// slots of the Mon–Fri 9–12, 13–17 calendar.
	from := time.Date(2026, 4, 14, 10, 0, 0, 0, ny)
	to := from.Add(24 * time.Hour)

	// Four events around the ends, placed without the free-slot check.
	book := func(start, end time.Time) string {
		t.Helper()
		resp, body := e.call("POST", "/calendars/events/appointments", tok, sandbox.VersionCalendars, map[string]any{
			"calendarId": cal, "locationId": sandbox.DemoLocationID, "contactId": contact,
			"startTime": start.Format(time.RFC3339), "endTime": end.Format(time.RFC3339), "ignoreFreeSlotValidation": true,
		})
		var got struct{ ID string }
		mustJSON(t, body, &got)
		if resp.StatusCode != 200 || got.ID == "" {
			t.Fatalf("book %v: %d %s", start, resp.StatusCode, body)
		}
		return got.ID
	}
	atEnd := book(to, to.Add(30*time.Minute))
	endsAtStart := book(from.Add(-30*time.Minute), from)
	afterEnd := book(to.Add(time.Second), to.Add(31*time.Minute))
	beforeStart := book(from.Add(-31*time.Minute), from.Add(-time.Second))

	resp, body = e.call("GET", fmt.Sprintf("/calendars/events?locationId=%s&calendarId=%s&startTime=%d&endTime=%d",
		sandbox.DemoLocationID, cal, from.UnixMilli(), to.UnixMilli()), tok, sandbox.VersionCalendars, nil)
	var evs struct{ Events []struct{ ID string } }
	mustJSON(t, body, &evs)
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d %s", resp.StatusCode, body)
	}
	listed := func(id string) bool {
		return slices.ContainsFunc(evs.Events, func(ev struct{ ID string }) bool { return ev.ID == id })
	}
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"starting exactly at endTime", atEnd, true},
		{"ending exactly at startTime", endsAtStart, true},
		{"starting a second after endTime", afterEnd, false},
		{"ending a second before startTime", beforeStart, false},
	} {
		if got := listed(tc.id); got != tc.want {
			t.Errorf("event %s: listed %v, want %v", tc.name, got, tc.want)
		}
	}

	// Free slots: the slot at startDate and the slot at endDate are both in
	// (Wednesday 10:00 is free again once the events on it are deleted).
	for _, id := range []string{atEnd, afterEnd} {
		if resp, body := e.call("DELETE", "/calendars/events/"+id, tok, sandbox.VersionCalendars, map[string]any{}); resp.StatusCode != 201 {
			t.Fatalf("delete: %d %s", resp.StatusCode, body)
		}
	}
	slotsOf := func(from, to time.Time) []string {
		t.Helper()
		resp, body := e.call("GET", fmt.Sprintf("/calendars/%s/free-slots?startDate=%d&endDate=%d", cal, from.UnixMilli(), to.UnixMilli()),
			tok, sandbox.VersionCalendars, nil)
		var days map[string]struct{ Slots []string }
		mustJSON(t, body, &days)
		if resp.StatusCode != 200 {
			t.Fatalf("free slots: %d %s", resp.StatusCode, body)
		}
		var out []string
		for _, d := range days {
			out = append(out, d.Slots...)
		}
		slices.Sort(out)
		return out
	}
	// Each end alone, as a window of no length, holds exactly its own slot
	// (the fixed clock and seed leave both free).
	for _, at := range []time.Time{from, to} {
		if got := slotsOf(at, at); len(got) != 1 || got[0] != at.Format(time.RFC3339) {
			t.Errorf("window [%v, %v]: slots %v, want the one at %v", at, at, got, at)
		}
	}
	got := slotsOf(from, to)
	if len(got) == 0 {
		t.Fatal("no free slot in a working day")
	}
	if first, last := got[0], got[len(got)-1]; first < from.Format(time.RFC3339) || last > to.Format(time.RFC3339) {
		t.Errorf("slots %s … %s outside [%v, %v]", first, last, from, to)
	}
}
