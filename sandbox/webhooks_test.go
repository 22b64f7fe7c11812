package sandbox_test

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hlgate/hlgate/sandbox"
)

// hookSink is a webhook receiver that records every post and answers the
// statuses it is given, in order, then 200.
type hookSink struct {
	mu       sync.Mutex
	bodies   [][]byte
	sigs     []string
	statuses []int
}

func newHookSink(t *testing.T, statuses ...int) (*hookSink, string) {
	t.Helper()
	k := &hookSink{statuses: statuses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		k.bodies = append(k.bodies, b)
		k.sigs = append(k.sigs, r.Header.Get("X-GHL-Signature"))
		code := http.StatusOK
		if len(k.statuses) > 0 {
			code, k.statuses = k.statuses[0], k.statuses[1:]
		}
		k.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return k, srv.URL + "/webhooks/highlevel"
}

// events returns the posted bodies decoded, each checked against its
// signature with the key of the sandbox's PEM.
func (k *hookSink) events(t *testing.T, sb *sandbox.Sandbox) []map[string]any {
	t.Helper()
	blk, _ := pem.Decode([]byte(sb.WebhookPublicKeyPEM()))
	if blk == nil || blk.Type != "PUBLIC KEY" {
		t.Fatalf("WebhookPublicKeyPEM is not a PUBLIC KEY block: %q", sb.WebhookPublicKeyPEM())
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := pub.(ed25519.PublicKey)
	if !ok || !key.Equal(sb.WebhookPublicKey()) {
		t.Fatalf("the PEM's key is not WebhookPublicKey")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []map[string]any
	for i, b := range k.bodies {
		sig, err := base64.StdEncoding.DecodeString(k.sigs[i])
		if err != nil || !ed25519.Verify(key, b, sig) {
			t.Fatalf("post %d: X-GHL-Signature %q does not verify over the raw body %s", i, k.sigs[i], b)
		}
		var m map[string]any
		mustJSON(t, b, &m)
		out = append(out, m)
	}
	return out
}

func flush(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sb.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func ofType(evs []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, ev := range evs {
		if ev["type"] == typ {
			out = append(out, ev)
		}
	}
	return out
}

// A contact's create, update and delete post signed ContactCreate,
// ContactUpdate (+ ContactTagUpdate, the tags changed) and ContactDelete in
// ContactCreate.md's shape, stamped with the sandbox's clock.
func TestWebhooksOfContactWrites(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 5, 4, 9, 30, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now, QuotaOff: true})
	sink, u := newHookSink(t)
	if err := e.sb.SetWebhookURL(u); err != nil {
		t.Fatal(err)
	}
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	resp, body := e.call(http.MethodPost, "/contacts/", tok, sandbox.VersionDefault, map[string]any{
		"locationId": sandbox.DemoLocationID, "firstName": "Ada", "lastName": "Lovelace",
		"email": "ada@example.com", "tags": []string{"vip"}, "source": "webhook test",
	})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create contact: %d %s", resp.StatusCode, body)
	}
	var created struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	mustJSON(t, body, &created)
	id := created.Contact.ID
	flush(t, e.sb)

	evs := sink.events(t, e.sb)
	if got := ofType(evs, "INSTALL"); len(got) != 1 || got[0]["locationId"] != sandbox.DemoLocationID || got[0]["appId"] != sandbox.DefaultAppID {
		t.Errorf("INSTALL of the code: %v", got)
	}
	cc := ofType(evs, "ContactCreate")
	if len(cc) != 1 {
		t.Fatalf("ContactCreate posts: %d of %v", len(cc), evs)
	}
	ev := cc[0]
	for k, want := range map[string]any{
		"type": "ContactCreate", "locationId": sandbox.DemoLocationID, "id": id, "firstName": "Ada", "lastName": "Lovelace",
		"email": "ada@example.com", "source": "webhook test", "dnd": false, "timestamp": "2026-05-04T09:30:00.000Z",
	} {
		if ev[k] != want {
			t.Errorf("ContactCreate %s = %#v, want %#v", k, ev[k], want)
		}
	}
	if tags, _ := ev["tags"].([]any); len(tags) != 1 || tags[0] != "vip" {
		t.Errorf("ContactCreate tags = %#v", ev["tags"])
	}
	for _, k := range []string{"webhookId", "dateAdded", "customFields", "attachments", "name"} {
		if _, ok := ev[k]; !ok {
			t.Errorf("ContactCreate lacks %s: %v", k, ev)
		}
	}
	documented := []string{"type", "locationId", "webhookId", "timestamp", "id", "address1", "city", "state", "companyName",
		"country", "source", "dateAdded", "dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone",
		"postalCode", "tags", "website", "attachments", "assignedTo", "customFields"}
	for k := range ev {
		if !slices.Contains(documented, k) {
			t.Errorf("ContactCreate has %s, which ContactCreate.md does not show", k)
		}
	}

	clock.Add(time.Minute)
	if resp, body := e.call(http.MethodPut, "/contacts/"+id, tok, sandbox.VersionDefault, map[string]any{"tags": []string{"vip", "gold"}}); resp.StatusCode != http.StatusOK {
		t.Fatalf("update contact: %d %s", resp.StatusCode, body)
	}
	if resp, body := e.call(http.MethodDelete, "/contacts/"+id, tok, sandbox.VersionDefault, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("delete contact: %d %s", resp.StatusCode, body)
	}
	flush(t, e.sb)
	evs = sink.events(t, e.sb)
	var types []string
	for _, ev := range evs[2:] {
		types = append(types, ev["type"].(string))
		if ev["id"] != id || ev["timestamp"] != "2026-05-04T09:31:00.000Z" {
			t.Errorf("%s: id %v timestamp %v", ev["type"], ev["id"], ev["timestamp"])
		}
	}
	if want := []string{"ContactUpdate", "ContactTagUpdate", "ContactDelete"}; !slices.Equal(types, want) {
		t.Errorf("events of update and delete: %v, want %v", types, want)
	}
	if del := ofType(evs, "ContactDelete"); len(del) != 1 || del[0]["email"] != "ada@example.com" {
		t.Errorf("ContactDelete carries the deleted contact: %v", del)
	}
	seen := map[any]bool{}
	for _, ev := range evs {
		if seen[ev["webhookId"]] {
			t.Errorf("webhookId %v sent twice", ev["webhookId"])
		}
		seen[ev["webhookId"]] = true
	}
	if st := e.sb.WebhookStats(); st.Sent != int64(len(evs)) || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("stats %+v after %d posts", st, len(evs))
	}
}

// Only a 429 is retried, as HighLevel does; another failure drops the
// event and counts it. A refused write posts nothing.
func TestWebhooksRetryOnly429(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken // before the URL: no INSTALL
	sink, u := newHookSink(t, http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusOK, http.StatusInternalServerError)
	if err := e.sb.SetWebhookURL(u); err != nil {
		t.Fatal(err)
	}
	e.sb.SetWebhookRetryBase(time.Millisecond)
	create := func(email string) {
		t.Helper()
		resp, body := e.call(http.MethodPost, "/contacts/", tok, sandbox.VersionDefault, map[string]any{"locationId": sandbox.DemoLocationID, "email": email})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("create contact: %d %s", resp.StatusCode, body)
		}
		flush(t, e.sb)
	}
	create("retry@example.com")
	if st := e.sb.WebhookStats(); st.Sent != 1 || st.Retried != 2 || st.Dropped != 0 {
		t.Fatalf("after 429, 429, 200: %+v", st)
	}
	create("lost@example.com")
	if st := e.sb.WebhookStats(); st.Sent != 1 || st.Retried != 2 || st.Dropped != 1 || st.LastStatus != http.StatusInternalServerError {
		t.Fatalf("after a 500: %+v (not retried, dropped)", st)
	}
	// A refused write (a duplicate email) fires nothing.
	resp, _ := e.call(http.MethodPost, "/contacts/", tok, sandbox.VersionDefault, map[string]any{"locationId": sandbox.DemoLocationID, "email": "retry@example.com"})
	if resp.StatusCode == http.StatusCreated {
		t.Fatalf("duplicate contact was created")
	}
	flush(t, e.sb)
	sink.mu.Lock()
	n := len(sink.bodies)
	sink.mu.Unlock()
	if n != 4 {
		t.Errorf("%d posts, want 4 (three of the first event, one of the second)", n)
	}
	if evs := sink.events(t, e.sb); evs[0]["webhookId"] != evs[2]["webhookId"] {
		t.Errorf("a retry is the same event: webhookIds %v and %v", evs[0]["webhookId"], evs[2]["webhookId"])
	}
}

// Uninstall revokes the location's tokens at once and posts UNINSTALL.
func TestWebhooksUninstall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Config{QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	sink, u := newHookSink(t)
	if err := e.sb.SetWebhookURL(u); err != nil {
		t.Fatal(err)
	}
	if err := e.sb.Uninstall("", sandbox.DemoLocationID); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.call(http.MethodGet, "/locations/"+sandbox.DemoLocationID, tok, sandbox.VersionDefault, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a call after the uninstall: %d %s, want 401", resp.StatusCode, body)
	}
	flush(t, e.sb)
	evs := sink.events(t, e.sb)
	if len(evs) != 1 || evs[0]["type"] != "UNINSTALL" || evs[0]["locationId"] != sandbox.DemoLocationID || evs[0]["appId"] != sandbox.DefaultAppID {
		t.Errorf("posts %v, want one UNINSTALL of the location", evs)
	}
	if err := e.sb.Uninstall("", sandbox.DemoLocationID); err == nil {
		t.Errorf("a second uninstall succeeded")
	}
}

// Opportunities, appointments and messages fire their documented events:
// a stage change and a status change each their own beside
// OpportunityUpdate, appointments nested under "appointment", a sent
// message as OutboundMessage.
func TestWebhooksOfOpportunitiesAppointmentsAndMessages(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 4, 13, 12, 0, 0, 0, time.UTC)}
	e := newEnv(t, sandbox.Config{Now: clock.Now, QuotaOff: true})
	tok := e.token(sandbox.CodeRequest{}).AccessToken
	sink, u := newHookSink(t)
	if err := e.sb.SetWebhookURL(u); err != nil {
		t.Fatal(err)
	}
	L := sandbox.DemoLocationID
	contact := firstContact(t, e, tok, L)
	call := func(method, path, version string, body any, status int) map[string]any {
		t.Helper()
		resp, b := e.call(method, path, tok, version, body)
		if resp.StatusCode != status {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		var m map[string]any
		mustJSON(t, b, &m)
		return m
	}
	pipes := call(http.MethodGet, "/opportunities/pipelines?locationId="+L, sandbox.VersionDefault, nil, http.StatusOK)
	pipe := pipes["pipelines"].([]any)[0].(map[string]any)
	stages := pipe["stages"].([]any)
	opp := call(http.MethodPost, "/opportunities/", sandbox.VersionDefault, map[string]any{
		"pipelineId": pipe["id"], "locationId": L, "name": "Hook deal", "status": "open", "contactId": contact, "monetaryValue": 10,
		"pipelineStageId": stages[0].(map[string]any)["id"],
	}, http.StatusCreated)["opportunity"].(map[string]any)
	oppID := opp["id"].(string)
	stage2 := stages[1].(map[string]any)["id"]
	call(http.MethodPut, "/opportunities/"+oppID, sandbox.VersionDefault, map[string]any{"pipelineStageId": stage2}, http.StatusOK)
	call(http.MethodPut, "/opportunities/"+oppID+"/status", sandbox.VersionDefault, map[string]any{"status": "won"}, http.StatusOK)
	call(http.MethodDelete, "/opportunities/"+oppID, sandbox.VersionDefault, nil, http.StatusOK)

	cals := call(http.MethodGet, "/calendars/?locationId="+L, sandbox.VersionCalendars, nil, http.StatusOK)
	cal := cals["calendars"].([]any)[0].(map[string]any)["id"]
	start := time.Date(2026, 4, 14, 14, 0, 0, 0, time.UTC)
	appt := call(http.MethodPost, "/calendars/events/appointments", sandbox.VersionCalendars, map[string]any{
		"calendarId": cal, "locationId": L, "contactId": contact, "title": "Hook call",
		"startTime": start.Format(time.RFC3339), "endTime": start.Add(30 * time.Minute).Format(time.RFC3339), "ignoreFreeSlotValidation": true,
	}, http.StatusOK)
	apptID := appt["id"].(string)
	call(http.MethodPut, "/calendars/events/appointments/"+apptID, sandbox.VersionCalendars, map[string]any{"title": "Moved"}, http.StatusOK)
	call(http.MethodDelete, "/calendars/events/"+apptID, sandbox.VersionCalendars, map[string]any{}, http.StatusCreated)

	sent := call(http.MethodPost, "/conversations/messages", "2021-04-15", map[string]any{ // the conversations product's Version
		"type": "SMS", "subType": "SMS", "contactId": contact, "status": "pending", "message": "Hello hooks",
	}, http.StatusOK)
	flush(t, e.sb)

	evs := sink.events(t, e.sb)
	var types []string
	for _, ev := range evs {
		types = append(types, ev["type"].(string))
		if ev["locationId"] != L {
			t.Errorf("%s: locationId %v", ev["type"], ev["locationId"])
		}
	}
	want := []string{"OpportunityCreate", "OpportunityUpdate", "OpportunityStageUpdate", "OpportunityStatusUpdate", "OpportunityDelete",
		"AppointmentCreate", "AppointmentUpdate", "AppointmentDelete", "OutboundMessage"}
	if !slices.Equal(types, want) {
		t.Fatalf("events %v, want %v", types, want)
	}
	if ev := evs[2]; ev["id"] != oppID || ev["pipelineStageId"] != stage2 || ev["contactId"] != contact || ev["dateAdded"] == nil {
		t.Errorf("OpportunityStageUpdate: %v", ev)
	}
	if ev := evs[3]; ev["status"] != "won" {
		t.Errorf("OpportunityStatusUpdate: %v", ev)
	}
	a, _ := evs[6]["appointment"].(map[string]any)
	if a["id"] != apptID || a["title"] != "Moved" || a["calendarId"] != cal {
		t.Errorf("AppointmentUpdate.appointment: %v", evs[6])
	}
	if d, _ := evs[7]["appointment"].(map[string]any); d["id"] != apptID {
		t.Errorf("AppointmentDelete carries the deleted appointment: %v", evs[7])
	}
	if m := evs[8]; m["body"] != "Hello hooks" || m["messageType"] != "SMS" || m["direction"] != "outbound" ||
		m["messageId"] != sent["messageId"] || m["conversationId"] != sent["conversationId"] || m["contactId"] != contact {
		t.Errorf("OutboundMessage: %v (sent %v)", m, sent)
	}
}
