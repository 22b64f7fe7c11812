package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// sent is one request as it reached the sandbox, body included.
type sent struct {
	method, path, query, contentType string
	body                             []byte
}

// bodyRecorder keeps every request that reached the sandbox, with its body.
type bodyRecorder struct {
	mu  sync.Mutex
	got []sent
}

func (rec *bodyRecorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		rec.mu.Lock()
		rec.got = append(rec.got, sent{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), b})
		rec.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// last is the last request to method and path.
func (rec *bodyRecorder) last(t *testing.T, method, path string) sent {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.got) - 1; i >= 0; i-- {
		if rec.got[i].method == method && rec.got[i].path == path {
			return rec.got[i]
		}
	}
	t.Fatalf("no %s %s reached the sandbox", method, path)
	return sent{}
}

// jsonBody decodes a request body that must be a JSON object.
func (s sent) jsonBody(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if s.contentType != "application/json" || json.Unmarshal(s.body, &m) != nil || m == nil {
		t.Fatalf("%s %s sent %q %s, want a JSON object", s.method, s.path, s.contentType, s.body)
	}
	return m
}

// A contact is enrolled in a workflow and removed from it over gRPC and
// over REST; the sandbox keeps the enrolment, so a second enrolment is
// refused and a removal of a contact not enrolled is NOT_FOUND, and the
// removal's body (a DELETE's) reaches HighLevel as the JSON the document
// declares, not as query parameters.
func TestContactWorkflowEnrolment(t *testing.T) {
	t.Parallel()
	rec := &bodyRecorder{}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: rec.wrap})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)
	const wf = "WorkflowFlow00000001"
	if err := h.sb.PutDocument(loc, "/workflows", json.RawMessage(`{"id":"`+wf+`","name":"Welcome","status":"published","locationId":"`+loc+`"}`)); err != nil {
		t.Fatal(err)
	}
	upstreamPath := "/contacts/" + contact + "/workflow/" + wf
	restPath := "/v1/locations/" + loc + "/contacts/" + contact + "/workflow/" + wf
	const start = "2026-06-23T03:30:00+01:00"

	// gRPC enrols, with a start time; the sandbox stored it.
	if _, err := h.contacts.AddContactToWorkflow(ctx, &hlgatev1.AddContactToWorkflowRequest{
		LocationId: loc, ContactId: contact, WorkflowId: wf, EventStartTime: proto.String(start)}); err != nil {
		t.Fatalf("enrol: %v", err)
	}
	if got := rec.last(t, http.MethodPost, upstreamPath).jsonBody(t); got["eventStartTime"] != start || len(got) != 1 {
		t.Fatalf("enrolment body = %v", got)
	}
	if got := h.sb.EnrolledWorkflows(loc, contact); got[wf] != start || len(got) != 1 {
		t.Fatalf("enrolments after the enrolment = %v", got)
	}
	// A second enrolment, on either transport, is refused and changes nothing.
	if _, err := h.contacts.AddContactToWorkflow(ctx, &hlgatev1.AddContactToWorkflowRequest{LocationId: loc, ContactId: contact, WorkflowId: wf}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("second enrolment over gRPC: %v, want INVALID_ARGUMENT", err)
	}
	if code, _, b := h.rest(http.MethodPost, restPath, "", strings.NewReader(`{}`)); code != http.StatusBadRequest {
		t.Fatalf("second enrolment over REST = %d %s, want 400", code, b)
	}
	if got := h.sb.EnrolledWorkflows(loc, contact); got[wf] != start || len(got) != 1 {
		t.Fatalf("enrolments after the refused enrolments = %v", got)
	}

	// REST removes it: the DELETE's field comes as a query parameter, and
	// goes upstream in the JSON body, not in the query.
	code, _, b := h.rest(http.MethodDelete, restPath+"?eventStartTime="+url.QueryEscape(start), "", nil)
	if code != http.StatusOK || string(b) != "{}" {
		t.Fatalf("removal over REST = %d %s", code, b)
	}
	del := rec.last(t, http.MethodDelete, upstreamPath)
	if got := del.jsonBody(t); got["eventStartTime"] != start || len(got) != 1 || del.query != "" {
		t.Fatalf("removal reached HighLevel as query %q body %v", del.query, got)
	}
	if got := h.sb.EnrolledWorkflows(loc, contact); len(got) != 0 {
		t.Fatalf("enrolments after the removal = %v", got)
	}
	// A contact not enrolled: NOT_FOUND on both transports.
	if code, _, b := h.rest(http.MethodDelete, restPath, "", nil); code != http.StatusNotFound {
		t.Fatalf("removal of a contact not enrolled over REST = %d %s, want 404", code, b)
	}
	if got := rec.last(t, http.MethodDelete, upstreamPath).jsonBody(t); len(got) != 0 {
		t.Fatalf("a removal without fields sent %v, want {}", got)
	}
	if _, err := h.contacts.DeleteContactFromWorkflow(ctx, &hlgatev1.DeleteContactFromWorkflowRequest{LocationId: loc, ContactId: contact, WorkflowId: wf}); status.Code(err) != codes.NotFound {
		t.Fatalf("removal of a contact not enrolled over gRPC: %v, want NOT_FOUND", err)
	}

	// REST enrols again, without a start time; gRPC removes it.
	if code, _, b := h.rest(http.MethodPost, restPath, "", strings.NewReader(`{}`)); code != http.StatusOK || string(b) != "{}" {
		t.Fatalf("enrolment over REST = %d %s", code, b)
	}
	if got := h.sb.EnrolledWorkflows(loc, contact); len(got) != 1 || got[wf] != "" {
		t.Fatalf("enrolments after the REST enrolment = %v", got)
	}
	if _, err := h.contacts.DeleteContactFromWorkflow(ctx, &hlgatev1.DeleteContactFromWorkflowRequest{LocationId: loc, ContactId: contact, WorkflowId: wf}); err != nil {
		t.Fatalf("removal over gRPC: %v", err)
	}
	if got := h.sb.EnrolledWorkflows(loc, contact); len(got) != 0 {
		t.Fatalf("enrolments after the gRPC removal = %v", got)
	}

	// Bad input is refused before HighLevel is called.
	before := h.hits.total("POST /contacts/")
	if _, err := h.contacts.AddContactToWorkflow(ctx, &hlgatev1.AddContactToWorkflowRequest{LocationId: loc, ContactId: contact}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("enrolment without a workflow: %v, want INVALID_ARGUMENT", err)
	}
	if n := h.hits.total("POST /contacts/"); n != before {
		t.Fatalf("a refused enrolment reached HighLevel (%d calls)", n-before)
	}
	// A workflow the location does not have is NOT_FOUND.
	if _, err := h.contacts.AddContactToWorkflow(ctx, &hlgatev1.AddContactToWorkflowRequest{LocationId: loc, ContactId: contact, WorkflowId: "NoSuchWorkflow000001"}); status.Code(err) != codes.NotFound {
		t.Fatalf("enrolment in an unknown workflow: %v, want NOT_FOUND", err)
	}
}

// A contact's campaigns: added and removed over gRPC and REST, a second
// add refused, a removal of a campaign the contact is not in NOT_FOUND,
// and removeAll (a literal beside {campaign_id} in the REST route) empties
// them.
func TestContactCampaigns(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)
	base := "/v1/locations/" + loc + "/contacts/" + contact + "/campaigns/"
	if _, err := h.contacts.AddContactToCampaign(ctx, &hlgatev1.AddContactToCampaignRequest{LocationId: loc, ContactId: contact, CampaignId: "CampaignA"}); err != nil {
		t.Fatalf("add over gRPC: %v", err)
	}
	if code, _, b := h.rest(http.MethodPost, base+"CampaignB", "", strings.NewReader(`{}`)); code != http.StatusOK || string(b) != "{}" {
		t.Fatalf("add over REST = %d %s", code, b)
	}
	if _, err := h.contacts.AddContactToCampaign(ctx, &hlgatev1.AddContactToCampaignRequest{LocationId: loc, ContactId: contact, CampaignId: "CampaignA"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("second add: %v, want INVALID_ARGUMENT", err)
	}
	if got := h.sb.Campaigns(loc, contact); !slices.Equal(got, []string{"CampaignA", "CampaignB"}) {
		t.Fatalf("campaigns = %v", got)
	}
	if code, _, b := h.rest(http.MethodDelete, base+"CampaignA", "", nil); code != http.StatusOK {
		t.Fatalf("remove over REST = %d %s", code, b)
	}
	if _, err := h.contacts.RemoveContactFromCampaign(ctx, &hlgatev1.RemoveContactFromCampaignRequest{LocationId: loc, ContactId: contact, CampaignId: "CampaignA"}); status.Code(err) != codes.NotFound {
		t.Fatalf("remove a campaign the contact is not in: %v, want NOT_FOUND", err)
	}
	if got := h.sb.Campaigns(loc, contact); !slices.Equal(got, []string{"CampaignB"}) {
		t.Fatalf("campaigns after the removal = %v", got)
	}
	if code, _, b := h.rest(http.MethodDelete, base+"removeAll", "", nil); code != http.StatusOK {
		t.Fatalf("remove from every campaign over REST = %d %s", code, b)
	}
	if got := h.sb.Campaigns(loc, contact); len(got) != 0 {
		t.Fatalf("campaigns after removeAll = %v", got)
	}
	if _, err := h.contacts.AddContactToCampaign(ctx, &hlgatev1.AddContactToCampaignRequest{LocationId: loc, ContactId: contact, CampaignId: "CampaignC"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.contacts.RemoveContactFromEveryCampaign(ctx, &hlgatev1.RemoveContactFromEveryCampaignRequest{LocationId: loc, ContactId: contact}); err != nil {
		t.Fatalf("remove from every campaign over gRPC: %v", err)
	}
	if got := h.sb.Campaigns(loc, contact); len(got) != 0 {
		t.Fatalf("campaigns after removeAll over gRPC = %v", got)
	}
	if _, err := h.contacts.RemoveContactFromCampaign(ctx, &hlgatev1.RemoveContactFromCampaignRequest{LocationId: loc, ContactId: contact, CampaignId: "CampaignC"}); status.Code(err) != codes.NotFound {
		t.Fatalf("remove after removeAll: %v, want NOT_FOUND", err)
	}
}

// Followers are removed with a DELETE whose body the document requires:
// over REST they come as repeated query parameters, and on both transports
// they reach HighLevel as the JSON body {"followers": [...]}, with no query.
func TestFollowersRemovalSendsTheBody(t *testing.T) {
	t.Parallel()
	rec := &bodyRecorder{}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: rec.wrap})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)

	added, err := h.contacts.AddFollowersContact(ctx, &hlgatev1.AddFollowersContactRequest{LocationId: loc, ContactId: contact, Followers: []string{"UserA", "UserB"}})
	if err != nil || !slices.Equal(added.GetFollowersAdded(), []string{"UserA", "UserB"}) {
		t.Fatalf("add over gRPC = %v, %v", added, err)
	}
	cpath := "/v1/locations/" + loc + "/contacts/" + contact + "/followers"
	if code, _, b := h.rest(http.MethodPost, cpath, "", strings.NewReader(`{"followers":["UserC","UserA"]}`)); code != http.StatusOK || !slices.Equal(restFollowers(t, b, "followersAdded"), []string{"UserC"}) {
		t.Fatalf("add over REST = %d %s", code, b)
	}
	code, _, b := h.rest(http.MethodDelete, cpath+"?followers=UserA&followers=UserC", "", nil)
	if code != http.StatusOK || !slices.Equal(restFollowers(t, b, "followersRemoved"), []string{"UserA", "UserC"}) {
		t.Fatalf("remove over REST = %d %s", code, b)
	}
	del := rec.last(t, http.MethodDelete, "/contacts/"+contact+"/followers")
	if got := del.jsonBody(t); del.query != "" || len(got) != 1 || !slices.Equal(anyStrings(got["followers"]), []string{"UserA", "UserC"}) {
		t.Fatalf("removal reached HighLevel as query %q body %s", del.query, del.body)
	}
	if got := h.sb.ContactFollowers(loc, contact); !slices.Equal(got, []string{"UserB"}) {
		t.Fatalf("followers after the REST removal = %v", got)
	}
	removed, err := h.contacts.RemoveFollowersContact(ctx, &hlgatev1.RemoveFollowersContactRequest{LocationId: loc, ContactId: contact, Followers: []string{"UserB"}})
	if err != nil || !slices.Equal(removed.GetFollowersRemoved(), []string{"UserB"}) || len(removed.GetFollowers()) != 0 {
		t.Fatalf("remove over gRPC = %v, %v", removed, err)
	}
	if got := rec.last(t, http.MethodDelete, "/contacts/"+contact+"/followers").jsonBody(t); !slices.Equal(anyStrings(got["followers"]), []string{"UserB"}) {
		t.Fatalf("gRPC removal body = %v", got)
	}
	if _, err := h.contacts.RemoveFollowersContact(ctx, &hlgatev1.RemoveFollowersContactRequest{LocationId: loc, ContactId: contact}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("removal without followers: %v, want INVALID_ARGUMENT", err)
	}

	// An opportunity's: isRemoveAllFollowers stays in the query, the
	// followers go in the body.
	opp := firstOpportunityID(t, h)
	if _, err := h.opportunities.AddFollowersOpportunity(ctx, &hlgatev1.AddFollowersOpportunityRequest{LocationId: loc, Id: opp, Followers: []string{"UserA", "UserB"}}); err != nil {
		t.Fatalf("add to an opportunity over gRPC: %v", err)
	}
	opath := "/v1/locations/" + loc + "/opportunities/" + opp + "/followers"
	if code, _, b := h.rest(http.MethodPost, opath, "", strings.NewReader(`{"followers":["UserC"]}`)); code != http.StatusOK {
		t.Fatalf("add to an opportunity over REST = %d %s", code, b)
	}
	if code, _, b := h.rest(http.MethodDelete, opath+"?followers=UserA", "", nil); code != http.StatusOK || !slices.Equal(restFollowers(t, b, "followers"), []string{"UserB", "UserC"}) {
		t.Fatalf("remove from an opportunity over REST = %d %s", code, b)
	}
	all, err := h.opportunities.RemoveFollowersOpportunity(ctx, &hlgatev1.RemoveFollowersOpportunityRequest{LocationId: loc, Id: opp, Followers: []string{"UserB"}, IsRemoveAllFollowers: proto.Bool(true)})
	if err != nil || len(all.GetFollowers()) != 0 || !slices.Equal(all.GetFollowersRemoved(), []string{"UserB", "UserC"}) {
		t.Fatalf("remove all over gRPC = %v, %v", all, err)
	}
	odel := rec.last(t, http.MethodDelete, "/opportunities/"+opp+"/followers")
	if got := odel.jsonBody(t); odel.query != "isRemoveAllFollowers=true" || !slices.Equal(anyStrings(got["followers"]), []string{"UserB"}) {
		t.Fatalf("remove all reached HighLevel as query %q body %s", odel.query, odel.body)
	}
}

// restFollowers reads a list of strings from a REST answer.
func restFollowers(t *testing.T, b []byte, key string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return anyStrings(m[key])
}

// anyStrings reads a decoded JSON array of strings.
func anyStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// firstOpportunityID is an opportunity of the demo location.
func firstOpportunityID(t *testing.T, h *harness) string {
	t.Helper()
	resp, err := h.opportunities.SearchOpportunities(h.ctx(""), &hlgatev1.SearchOpportunitiesRequest{LocationId: sandbox.DemoLocationID, PageSize: 1})
	if err != nil || len(resp.GetOpportunities()) != 1 {
		t.Fatalf("find an opportunity: %v", err)
	}
	return resp.GetOpportunities()[0].GetId()
}

// searchContactIDs is n contacts of the demo location.
func searchContactIDs(t *testing.T, h *harness, n int) []string {
	t.Helper()
	resp, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: int32(n)})
	if err != nil || len(resp.GetContacts()) != n {
		t.Fatalf("find %d contacts: %v", n, err)
	}
	ids := make([]string, n)
	for i, c := range resp.GetContacts() {
		ids[i] = c.GetId()
	}
	return ids
}

// Contacts put in a business over gRPC and REST are the business's
// contacts, walked to the end through page_token with no gap and no
// duplicate; an unknown contact is left out of the answer's ids.
func TestContactsOfABusiness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	ids := searchContactIDs(t, h, 7)
	const biz = "BusinessFlow00000001"
	set, err := h.contacts.AddRemoveContactFromBusiness(ctx, &hlgatev1.AddRemoveContactFromBusinessRequest{LocationId: loc, Ids: append(slices.Clone(ids[:4]), "NoSuchContact0000001"), BusinessId: proto.String(biz)})
	if err != nil || set.GetSuccess() || !slices.Equal(set.GetIds(), ids[:4]) {
		t.Fatalf("business over gRPC = %v, %v; want the 4 known contacts, success false", set, err)
	}
	body, _ := json.Marshal(map[string]any{"ids": ids[4:], "businessId": biz})
	code, _, b := h.rest(http.MethodPost, "/v1/locations/"+loc+"/contacts/bulk/business", "", bytes.NewReader(body))
	if code != http.StatusOK || !slices.Equal(restFollowers(t, b, "ids"), ids[4:]) {
		t.Fatalf("business over REST = %d %s", code, b)
	}
	var got []string
	token, pages := "", 0
	for {
		resp, err := h.contacts.GetContactsByBusinessId(ctx, &hlgatev1.GetContactsByBusinessIdRequest{LocationId: loc, BusinessId: biz, PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		if resp.GetTotalSize() != 7 {
			t.Fatalf("page %d: total_size %d, want 7", pages, resp.GetTotalSize())
		}
		for _, c := range resp.GetContacts() {
			if c.GetBusinessId() != biz {
				t.Fatalf("contact %s of business %q listed for %s", c.GetId(), c.GetBusinessId(), biz)
			}
			got = append(got, c.GetId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages > 7 {
			t.Fatal("the walk does not end")
		}
	}
	if pages != 4 {
		t.Errorf("%d pages of 2 for 7 contacts, want 4", pages)
	}
	if s, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(ids)); !slices.Equal(s, w) {
		t.Fatalf("the walk reached %v, want %v once each", got, ids)
	}
	code, _, b = h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/business/"+biz+"?pageSize=5", "", nil)
	if first := restIDs(t, b, "contacts"); code != http.StatusOK || !slices.Equal(first, got[:5]) {
		t.Fatalf("first page over REST = %d %s, want %v", code, b, got[:5])
	}
	// An empty business id is not read as null: refused.
	if _, err := h.contacts.AddRemoveContactFromBusiness(ctx, &hlgatev1.AddRemoveContactFromBusinessRequest{LocationId: loc, Ids: ids[:1], BusinessId: proto.String("")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("an empty business: %v, want INVALID_ARGUMENT", err)
	}
}

// restIDs reads the ids of a REST answer's list.
func restIDs(t *testing.T, b []byte, key string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	var list []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &m); err != nil || json.Unmarshal(m[key], &list) != nil {
		t.Fatalf("answer %s has no list %s", b, key)
	}
	var out []string
	for _, x := range list {
		out = append(out, x.ID)
	}
	return out
}

// Tags added to and removed from many contacts at once, over gRPC and
// REST, each contact answered on its own line, an unknown one as an error.
func TestBulkContactTags(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	ids := searchContactIDs(t, h, 2)
	resp, err := h.contacts.CreateAssociation(ctx, &hlgatev1.CreateAssociationRequest{LocationId: loc, Type: "add", Contacts: []string{ids[0], ids[1], "NoSuchContact0000001"}, Tags: []string{"Bulk-Flow"}})
	if err != nil || resp.GetErrorCount() != 1 || len(resp.GetResponses()) != 3 {
		t.Fatalf("bulk add = %v, %v", resp, err)
	}
	if r := resp.GetResponses()[0]; r.GetType() != "success" || !slices.Equal(r.GetTagsAdded(), []string{"bulk-flow"}) {
		t.Fatalf("first contact's line = %v", r)
	}
	if r := resp.GetResponses()[2]; r.GetType() != "error" || r.GetContactId() != "NoSuchContact0000001" {
		t.Fatalf("unknown contact's line = %v", r)
	}
	for _, id := range ids {
		c, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if err != nil || !slices.Contains(c.GetContact().GetTags(), "bulk-flow") {
			t.Fatalf("contact %s after the bulk add = %v, %v", id, c, err)
		}
	}
	body, _ := json.Marshal(map[string]any{"contacts": ids[:1], "tags": []string{"bulk-flow"}})
	code, _, b := h.rest(http.MethodPost, "/v1/locations/"+loc+"/contacts/bulk/tags/update/remove", "", bytes.NewReader(body))
	if code != http.StatusOK || !strings.Contains(string(b), `"tagsRemoved":["bulk-flow"]`) {
		t.Fatalf("bulk remove over REST = %d %s", code, b)
	}
	c, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: ids[0]})
	if err != nil || slices.Contains(c.GetContact().GetTags(), "bulk-flow") {
		t.Fatalf("contact after the bulk remove = %v, %v", c, err)
	}
	// The path's type is add or remove (a correction of the document).
	if _, err := h.contacts.CreateAssociation(ctx, &hlgatev1.CreateAssociationRequest{LocationId: loc, Type: "toggle", Contacts: ids, Tags: []string{"x"}}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("bulk type toggle: %v, want INVALID_ARGUMENT", err)
	}
}

// A contact's appointments are the events booked for it, every calendar's,
// over gRPC and REST.
func TestContactAppointments(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true, Now: frozenClock(calendarsClock)}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	cals, err := h.calendars.ListCalendars(ctx, &hlgatev1.ListCalendarsRequest{LocationId: loc})
	if err != nil || len(cals.GetCalendars()) == 0 {
		t.Fatalf("calendars: %v, %v", cals, err)
	}
	byContact := map[string][]string{}
	for _, cal := range cals.GetCalendars() {
		events, err := h.calendars.ListEvents(ctx, &hlgatev1.ListEventsRequest{
			LocationId: loc, StartTime: timestamppb.New(calendarsClock.Add(-24 * time.Hour)), EndTime: timestamppb.New(calendarsClock.Add(30 * 24 * time.Hour)),
			Owner: &hlgatev1.ListEventsRequest_CalendarId{CalendarId: cal.GetId()}, PageSize: 500,
		})
		if err != nil {
			t.Fatalf("events of %s: %v", cal.GetId(), err)
		}
		for _, e := range events.GetEvents() {
			byContact[e.GetContactId()] = append(byContact[e.GetContactId()], e.GetId())
		}
	}
	var contact string
	for c, evs := range byContact {
		if len(evs) > len(byContact[contact]) || len(evs) == len(byContact[contact]) && c < contact {
			contact = c
		}
	}
	if len(byContact[contact]) < 2 {
		t.Fatalf("no contact has two seeded appointments: %v", byContact)
	}
	resp, err := h.contacts.GetAppointmentsForContact(ctx, &hlgatev1.GetAppointmentsForContactRequest{LocationId: loc, ContactId: contact})
	if err != nil {
		t.Fatalf("appointments: %v", err)
	}
	var got []string
	for _, e := range resp.GetEvents() {
		if e.GetContactId() != contact {
			t.Fatalf("event %s of contact %s listed for %s", e.GetId(), e.GetContactId(), contact)
		}
		got = append(got, e.GetId())
	}
	if s, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(byContact[contact])); !slices.Equal(s, w) {
		t.Fatalf("appointments of %s = %v, want %v", contact, s, w)
	}
	code, _, b := h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/"+contact+"/appointments", "", nil)
	if r := restIDs(t, b, "events"); code != http.StatusOK || !slices.Equal(r, got) {
		t.Fatalf("appointments over REST = %d %s", code, b)
	}
	if _, err := h.contacts.GetAppointmentsForContact(ctx, &hlgatev1.GetAppointmentsForContactRequest{LocationId: loc, ContactId: "NoSuchContact0000001"}); status.Code(err) != codes.NotFound {
		t.Fatalf("appointments of an unknown contact: %v, want NOT_FOUND", err)
	}
}

// A task is marked completed and back over gRPC and REST; the task read
// after says so.
func TestTaskCompleted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)
	if err := h.sb.PutDocument(loc, "/contacts/"+contact+"/tasks", json.RawMessage(`{"id":"TaskFlow000000000001","title":"Call back","completed":false,"contactId":"`+contact+`","priority":"high"}`)); err != nil {
		t.Fatal(err)
	}
	done, err := h.contacts.UpdateTaskCompleted(ctx, &hlgatev1.UpdateTaskCompletedRequest{LocationId: loc, ContactId: contact, TaskId: "TaskFlow000000000001", Completed: proto.Bool(true)})
	if err != nil || !done.GetTask().GetCompleted() || done.GetTask().GetTitle() != "Call back" || done.GetTask().GetUnmapped().GetFields()["priority"].GetStringValue() != "high" {
		t.Fatalf("completed over gRPC = %v, %v", done, err)
	}
	read, err := h.contacts.GetTask(ctx, &hlgatev1.GetTaskRequest{LocationId: loc, ContactId: contact, TaskId: "TaskFlow000000000001"})
	if err != nil || !read.GetTask().GetCompleted() {
		t.Fatalf("task after completion = %v, %v", read, err)
	}
	code, _, b := h.rest(http.MethodPut, "/v1/locations/"+loc+"/contacts/"+contact+"/tasks/TaskFlow000000000001/completed", "", strings.NewReader(`{"completed":false}`))
	if code != http.StatusOK || !strings.Contains(string(b), `"completed":false`) {
		t.Fatalf("not completed over REST = %d %s", code, b)
	}
	read, err = h.contacts.GetTask(ctx, &hlgatev1.GetTaskRequest{LocationId: loc, ContactId: contact, TaskId: "TaskFlow000000000001"})
	if err != nil || read.GetTask().GetCompleted() {
		t.Fatalf("task after REST = %v, %v", read, err)
	}
	if _, err := h.contacts.UpdateTaskCompleted(ctx, &hlgatev1.UpdateTaskCompletedRequest{LocationId: loc, ContactId: contact, TaskId: "TaskFlow000000000001"}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("completion without completed: %v, want INVALID_ARGUMENT", err)
	}
	if _, err := h.contacts.UpdateTaskCompleted(ctx, &hlgatev1.UpdateTaskCompletedRequest{LocationId: loc, ContactId: contact, TaskId: "NoSuchTask0000000001", Completed: proto.Bool(true)}); status.Code(err) != codes.NotFound {
		t.Fatalf("completion of an unknown task: %v, want NOT_FOUND", err)
	}
}

// The duplicate search finds a contact by email (any case), else by phone,
// whose + reaches HighLevel encoded; none found is an answer without a
// contact, and a search by neither is refused.
func TestDuplicateContact(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	got, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: firstContactID(t, h)})
	if err != nil || got.GetContact().GetEmail() == "" || !strings.HasPrefix(got.GetContact().GetPhone(), "+") {
		t.Fatalf("contact = %v, %v; want one with an email and a phone", got, err)
	}
	c := got.GetContact()
	byEmail, err := h.contacts.GetDuplicateContact(ctx, &hlgatev1.GetDuplicateContactRequest{LocationId: loc, Email: proto.String(strings.ToUpper(c.GetEmail()))})
	if err != nil || byEmail.GetContact().GetId() != c.GetId() {
		t.Fatalf("duplicate by email = %v, %v; want %s", byEmail, err, c.GetId())
	}
	code, _, b := h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/search/duplicate?number="+url.QueryEscape(c.GetPhone()), "", nil)
	var rest struct {
		Contact struct {
			ID string `json:"id"`
		} `json:"contact"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &rest) != nil || rest.Contact.ID != c.GetId() {
		t.Fatalf("duplicate by number over REST = %d %s, want %s", code, b, c.GetId())
	}
	none, err := h.contacts.GetDuplicateContact(ctx, &hlgatev1.GetDuplicateContactRequest{LocationId: loc, Number: proto.String("+19999999999")})
	if err != nil || none.GetContact() != nil || len(none.GetUnmapped().GetFields()) != 0 {
		t.Fatalf("no duplicate = %v, %v; want an answer without a contact", none, err)
	}
	if _, err := h.contacts.GetDuplicateContact(ctx, &hlgatev1.GetDuplicateContactRequest{LocationId: loc}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a search by neither: %v, want INVALID_ARGUMENT", err)
	}
}
