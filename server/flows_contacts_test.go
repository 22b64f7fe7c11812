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

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

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
