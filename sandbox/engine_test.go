package sandbox_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hlgate/hlgate/sandbox"
)

// GetCalendar and ListPipelines have no handler of their own: the engine
// serves them from the stored documents, scoped to the token's location,
// and answers a document put by a test byte for byte.
func TestEngineServesOperationsWithoutHandlers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	for _, id := range []string{"get-calendar", "get-pipelines"} {
		if !slices.Contains(e.sb.EngineOperations(), id) {
			t.Fatalf("%s is not served by the engine (engine serves %v)", id, e.sb.EngineOperations())
		}
	}
	if slices.Contains(e.sb.EngineOperations(), "get-contact") {
		t.Fatal("GetContact, which has a handler, is listed as an engine operation")
	}
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	other := e.token(sandbox.CodeRequest{LocationID: sandbox.OtherLocationID}).AccessToken

	// A calendar document with a key no schema declares and members of
	// types the schema does not give them.
	raw := []byte(`{"id":"RawCalendar0000000001","locationId":"` + sandbox.DemoLocationID + `","name":"Raw","calendarType":"event",` +
		`"teamMembers":[],"slotDuration":"30","openHours":[],"isActive":true,"x-undeclared":{"n":[1,"two",null]}}`)
	if err := e.sb.PutDocument(sandbox.DemoLocationID, "/calendars/", raw); err != nil {
		t.Fatal(err)
	}
	resp, body := e.call("GET", "/calendars/RawCalendar0000000001", tok, sandbox.VersionCalendars, nil)
	if resp.StatusCode != 200 || !bytes.Equal(bytes.TrimSpace(body), []byte(`{"calendar":`+string(raw)+`}`)) {
		t.Fatalf("GET the put calendar: %d %s, want it as put", resp.StatusCode, body)
	}
	// Another location's token does not see it: 404 as the hand handlers
	// answer for another location's ids.
	resp, body = e.call("GET", "/calendars/RawCalendar0000000001", other, sandbox.VersionCalendars, nil)
	if resp.StatusCode != 404 || !strings.Contains(string(body), "Calendar not found") {
		t.Fatalf("GET another location's calendar: %d %s, want 404 Calendar not found", resp.StatusCode, body)
	}
	// The hand-written list reads the same collection.
	resp, body = e.call("GET", "/calendars/?locationId="+sandbox.DemoLocationID, tok, sandbox.VersionCalendars, nil)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"x-undeclared":{"n":[1,"two",null]}`)) {
		t.Fatalf("list calendars: %d %s, want the put calendar as put", resp.StatusCode, body)
	}

	// Pipelines: the list answers the stored documents in order, the put one
	// last; a query naming another location is a 403.
	before := e.pipelines(tok)
	odd := []byte(`{"id":"RawPipeline0000000001","name":7,"stages":[],"locationId":"` + sandbox.DemoLocationID + `","color":"#fff"}`)
	if err := e.sb.PutDocument(sandbox.DemoLocationID, "/opportunities/pipelines", odd); err != nil {
		t.Fatal(err)
	}
	resp, body = e.call("GET", "/opportunities/pipelines?locationId="+sandbox.DemoLocationID, tok, sandbox.VersionDefault, nil)
	var list struct {
		Pipelines []json.RawMessage `json:"pipelines"`
	}
	mustJSON(t, body, &list)
	if resp.StatusCode != 200 || len(list.Pipelines) != len(before)+1 || !bytes.Equal(list.Pipelines[len(before)], odd) {
		t.Fatalf("pipelines after a put: %d %s, want %d pipelines ending with %s", resp.StatusCode, body, len(before)+1, odd)
	}
	resp, body = e.call("GET", "/opportunities/pipelines?locationId="+sandbox.OtherLocationID, tok, sandbox.VersionDefault, nil)
	if resp.StatusCode != 403 {
		t.Fatalf("pipelines of another location: %d %s, want 403", resp.StatusCode, body)
	}
	resp, body = e.call("GET", "/opportunities/pipelines?locationId="+sandbox.OtherLocationID, other, sandbox.VersionDefault, nil)
	mustJSON(t, body, &list)
	if resp.StatusCode != 200 || len(list.Pipelines) != 1 {
		t.Fatalf("the other location's own pipelines: %d %s, want its one seeded pipeline", resp.StatusCode, body)
	}

	for _, bad := range []string{`[]`, `{"name":"no id"}`, `{"id":`} {
		if err := e.sb.PutDocument(sandbox.DemoLocationID, "/calendars", []byte(bad)); err == nil {
			t.Errorf("PutDocument(%s) took it", bad)
		}
	}
	if err := e.sb.PutDocument("nope", "/calendars", raw); err == nil {
		t.Error("PutDocument into an unknown location took it")
	}
}
