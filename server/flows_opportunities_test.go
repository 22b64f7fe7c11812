package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// allOpportunityIDs walks the GET search to the end: every opportunity of
// the demo location.
func allOpportunityIDs(t *testing.T, h *harness) []string {
	t.Helper()
	var ids []string
	token := ""
	for {
		resp, err := h.opportunities.SearchOpportunities(h.ctx(""), &hlgatev1.SearchOpportunitiesRequest{LocationId: sandbox.DemoLocationID, PageSize: 100, PageToken: token})
		if err != nil {
			t.Fatalf("search opportunities: %v", err)
		}
		for _, o := range resp.GetOpportunities() {
			ids = append(ids, o.GetId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			return ids
		}
	}
}

// POST /opportunities/search pages by page number behind page_token: a
// walk with a small page reaches every opportunity once, with no gap and
// no duplicate, the last page carries no token, and total_size is the
// number of matches. REST answers the same first page.
func TestSearchOpportunitiesAdvancedWalksToTheEnd(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	want := allOpportunityIDs(t, h)
	if len(want) < 7 {
		t.Fatalf("the demo location has %d opportunities; the walk needs several pages", len(want))
	}
	details := &hlgatev1.AdditionalDetailsDTO{Notes: proto.Bool(true), Tasks: proto.Bool(false), CalendarEvents: proto.Bool(false), UnReadConversations: proto.Bool(false)}
	var got []string
	token, pages := "", 0
	for {
		resp, err := h.opportunities.SearchOpportunitiesAdvanced(ctx, &hlgatev1.SearchOpportunitiesAdvancedRequest{
			LocationId: loc, Query: proto.String(""), AdditionalDetails: details, PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		if int(resp.GetTotalSize()) != len(want) {
			t.Fatalf("page %d: total_size %d, want %d", pages, resp.GetTotalSize(), len(want))
		}
		if n := len(resp.GetOpportunities()); n == 0 || n > 3 {
			t.Fatalf("page %d has %d opportunities", pages, n)
		}
		for _, o := range resp.GetOpportunities() {
			got = append(got, o.GetId())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
		if pages > len(want) {
			t.Fatal("the walk does not end")
		}
	}
	if wantPages := (len(want) + 2) / 3; pages != wantPages {
		t.Errorf("%d pages, want %d", pages, wantPages)
	}
	sortedGot, sortedWant := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if len(slices.Compact(slices.Clone(sortedGot))) != len(got) {
		t.Fatalf("the walk repeated an opportunity: %v", got)
	}
	if !slices.Equal(sortedGot, sortedWant) {
		t.Fatalf("the walk reached %v, want %v", sortedGot, sortedWant)
	}

	code, _, b := h.rest(http.MethodPost, "/v1/locations/"+loc+"/opportunities/search", "",
		strings.NewReader(`{"query":"","additionalDetails":{"notes":false,"tasks":false,"calendarEvents":false,"unReadConversations":false},"pageSize":3}`))
	var rest struct {
		Opportunities []struct {
			ID string `json:"id"`
		} `json:"opportunities"`
		NextPageToken string `json:"nextPageToken"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &rest) != nil || len(rest.Opportunities) != 3 || rest.Opportunities[0].ID != got[0] || rest.NextPageToken == "" {
		t.Fatalf("POST search over REST = %d %s", code, b)
	}
	// The document requires additionalDetails: refused before HighLevel.
	if _, err := h.opportunities.SearchOpportunitiesAdvanced(ctx, &hlgatev1.SearchOpportunitiesAdvancedRequest{LocationId: loc, Query: proto.String("")}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("search without additionalDetails: %v, want INVALID_ARGUMENT", err)
	}
}

// The upsert matches by id, the only key its body declares: without an id
// it creates (new), with the id of what it created it updates that one
// (not new, no second opportunity), and an id of no opportunity is
// NOT_FOUND rather than a create. Followers follow followersActionType.
func TestUpsertOpportunityMatchesByID(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	pipes, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc})
	if err != nil || len(pipes.GetPipelines()) == 0 {
		t.Fatalf("pipelines: %v, %v", pipes, err)
	}
	pipe := pipes.GetPipelines()[0].GetId()
	before := len(allOpportunityIDs(t, h))

	created, err := h.opportunities.UpsertOpportunity(ctx, &hlgatev1.UpsertOpportunityRequest{LocationId: loc, PipelineId: proto.String(pipe),
		Name: proto.String("Upserted deal"), MonetaryValue: proto.Float64(220), Followers: []string{"UserA"}, IsRemoveAllFollowers: proto.Bool(false), FollowersActionType: proto.String("add")})
	if err != nil || !created.GetNew() {
		t.Fatalf("upsert without id = %v, %v; want a new opportunity", created, err)
	}
	id := created.GetOpportunity().GetFields()["id"].GetStringValue()
	if id == "" || created.GetOpportunity().GetFields()["monetaryValue"].GetNumberValue() != 220 {
		t.Fatalf("created opportunity = %v", created.GetOpportunity())
	}
	if n := len(allOpportunityIDs(t, h)); n != before+1 {
		t.Fatalf("%d opportunities after the create, want %d", n, before+1)
	}

	// REST, with the id: the same opportunity, updated.
	code, _, b := h.rest(http.MethodPost, "/v1/locations/"+loc+"/opportunities/upsert", "", strings.NewReader(
		`{"id":"`+id+`","pipelineId":"`+pipe+`","status":"won","followers":["UserB"],"isRemoveAllFollowers":false,"followersActionType":"add"}`))
	var up struct {
		Opportunity struct {
			ID        string   `json:"id"`
			Name      string   `json:"name"`
			Status    string   `json:"status"`
			Followers []string `json:"followers"`
		} `json:"opportunity"`
		New bool `json:"new"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &up) != nil || up.New || up.Opportunity.ID != id || up.Opportunity.Status != "won" ||
		up.Opportunity.Name != "Upserted deal" || !slices.Equal(up.Opportunity.Followers, []string{"UserA", "UserB"}) {
		t.Fatalf("upsert by id over REST = %d %s", code, b)
	}
	if n := len(allOpportunityIDs(t, h)); n != before+1 {
		t.Fatalf("%d opportunities after the update, want %d", n, before+1)
	}
	// gRPC, with the id: followers removed.
	again, err := h.opportunities.UpsertOpportunity(ctx, &hlgatev1.UpsertOpportunityRequest{LocationId: loc, Id: proto.String(id), PipelineId: proto.String(pipe),
		Followers: []string{"UserA"}, IsRemoveAllFollowers: proto.Bool(false), FollowersActionType: proto.String("remove")})
	if err != nil || again.GetNew() || again.GetOpportunity().GetFields()["id"].GetStringValue() != id {
		t.Fatalf("upsert by id over gRPC = %v, %v", again, err)
	}
	if f := again.GetOpportunity().GetFields()["followers"].GetListValue().AsSlice(); len(f) != 1 || f[0] != "UserB" {
		t.Fatalf("followers after the removal = %v", f)
	}
	if _, err := h.opportunities.UpsertOpportunity(ctx, &hlgatev1.UpsertOpportunityRequest{LocationId: loc, Id: proto.String("NoSuchOpportunity001"), PipelineId: proto.String(pipe),
		Followers: []string{"UserA"}, IsRemoveAllFollowers: proto.Bool(false), FollowersActionType: proto.String("add")}); status.Code(err) != codes.NotFound {
		t.Fatalf("upsert of an unknown id: %v, want NOT_FOUND", err)
	}
	if n := len(allOpportunityIDs(t, h)); n != before+1 {
		t.Fatalf("%d opportunities after the refused upsert, want %d", n, before+1)
	}
	// The document requires followersActionType: refused before HighLevel.
	if _, err := h.opportunities.UpsertOpportunity(ctx, &hlgatev1.UpsertOpportunityRequest{LocationId: loc, PipelineId: proto.String(pipe), Name: proto.String("x"),
		Followers: []string{"UserA"}, IsRemoveAllFollowers: proto.Bool(false)}); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("upsert without followersActionType: %v, want INVALID_ARGUMENT", err)
	}
}

// GET …/opportunities/lost-reason is a literal beside
// …/opportunities/{opportunity_id} in the REST routes: it reaches the lost
// reasons, paged, not the opportunity read.
func TestLostReasonsOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	for _, id := range []string{"LostReason0000000001", "LostReason0000000002", "LostReason0000000003"} {
		if err := h.sb.PutDocument(loc, "/opportunities/lost-reason", json.RawMessage(`{"id":"`+id+`","name":"Too expensive","locationId":"`+loc+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := h.opportunities.GetLostReason(ctx, &hlgatev1.GetLostReasonRequest{LocationId: loc, PageSize: 2})
	if err != nil || len(first.GetLostReasons()) != 2 || first.GetNextPageToken() == "" || first.GetTotalSize() != 3 {
		t.Fatalf("first page = %v, %v", first, err)
	}
	code, _, b := h.rest(http.MethodGet, "/v1/locations/"+loc+"/opportunities/lost-reason?pageSize=2&pageToken="+first.GetNextPageToken(), "", nil)
	var rest struct {
		LostReasons []struct {
			ID string `json:"id"`
		} `json:"lostReasons"`
		NextPageToken string `json:"nextPageToken"`
	}
	if code != http.StatusOK || json.Unmarshal(b, &rest) != nil || len(rest.LostReasons) != 1 || rest.LostReasons[0].ID != "LostReason0000000003" || rest.NextPageToken != "" {
		t.Fatalf("second page over REST = %d %s", code, b)
	}
}
