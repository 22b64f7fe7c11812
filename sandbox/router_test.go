package sandbox

import "testing"

func TestResourceRouterTakesOverlappingPaths(t *testing.T) {
	rr := newResourceRouter()
	for _, r := range []*route{
		{operationID: "free-slots", method: "GET", path: "/calendars/{calendarId}/free-slots"},
		{operationID: "schedule", method: "GET", path: "/calendars/schedules/{id}"},
		{operationID: "calendar", method: "GET", path: "/calendars/{calendarId}"},
		{operationID: "groups", method: "GET", path: "/calendars/groups"},
		{operationID: "list", method: "GET", path: "/contacts/"},
		{operationID: "create", method: "POST", path: "/contacts/"},
	} {
		if err := rr.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := rr.add(&route{operationID: "again", method: "GET", path: "/calendars/groups"}); err == nil {
		t.Error("the same method and template twice was accepted")
	}
	for path, want := range map[string]string{
		"/calendars/schedules/free-slots": "schedule", // the leftmost literal wins
		"/calendars/cal1/free-slots":      "free-slots",
		"/calendars/groups":               "groups",
		"/calendars/cal1":                 "calendar",
		"/contacts/":                      "list",
	} {
		rt, _, _ := rr.find("GET", path)
		if rt == nil || rt.operationID != want {
			t.Errorf("GET %s found %v, want %s", path, rt, want)
		}
	}
	rt, params, _ := rr.find("GET", "/calendars/cal1/free-slots")
	if rt == nil || params["calendarId"] != "cal1" {
		t.Errorf("path parameters = %v", params)
	}
	for _, path := range []string{"/contacts", "/calendars//free-slots", "/calendars/a/b/c"} {
		if rt, _, known := rr.find("GET", path); rt != nil || known {
			t.Errorf("GET %s found %v (known %v), want nothing", path, rt, known)
		}
	}
	if rt, _, known := rr.find("DELETE", "/contacts/"); rt != nil || !known {
		t.Errorf("DELETE /contacts/ found %v (known %v), want a path of another method", rt, known)
	}
}
