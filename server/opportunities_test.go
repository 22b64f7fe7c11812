package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hlgate/hlgate/gen/highlevel"
	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/sandbox"
	"github.com/hlgate/hlgate/upstream"
)

// The golden files in testdata/opportunities are HighLevel's JSON, built
// from the official examples of api/openapi.yaml (the property examples of
// Opportunity, OpportunityContact, OpportunitySearchMeta, Pipeline,
// PipelineStage, CreateOpportunityRequest, UpdateOpportunityRequest and
// UpdateOpportunityStatusRequest). custom_fields_opportunity.json has no
// official example: it holds one value of each oneOf variant of
// OpportunityCustomField.fieldValue. The files are written by hand, not
// generated, so there is no -update flag.

func oppGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "opportunities", name))
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	return b
}

// oppSameJSON fails unless got marshals to the same JSON value as the golden
// file (member order and spacing aside).
func oppSameJSON(t *testing.T, got any, golden string) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var g, w any
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatalf("unmarshal sent body: %v", err)
	}
	if err := json.Unmarshal([]byte(golden), &w); err != nil {
		t.Fatalf("unmarshal golden: %v", err)
	}
	if d := cmp.Diff(w, g); d != "" {
		t.Errorf("body sent upstream differs from golden (-want +got):\n%s", d)
	}
}

var oppExampleTime = timestamppb.New(time.Date(2021, 8, 3, 4, 55, 17, 355e6, time.UTC))

// oppExample is hlgate's reading of the official Opportunity example.
func oppExample() *hlgatev1.Opportunity {
	return &hlgatev1.Opportunity{
		Id: "yWQobCRIhRguQtD2llvk", LocationId: "zT46WSCPbudrq4zhW", Name: "testing", MonetaryValue: 500,
		PipelineId: "VDm7RPYC2GLUvdpKmBfC", PipelineStageId: "e93ba61a-53b3-45e7-985a-c7732dbcdb69",
		AssignedTo: "zT46WSCPbudrq4zhWMk6", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN,
		ContactId: "zT46WSCPbudrq4zhWMk6", LostReasonId: "zT46WSCPbudrq4zhWMk6",
		Contact: &hlgatev1.OpportunityContact{
			Id: "byMEV0NQinDhq8ZfiOi2", Name: "John Deo", CompanyName: "Tesla Inc", Email: "john@deo.com", Phone: "+1202-555-0107",
		},
		LastStatusChangeAt: oppExampleTime, LastStageChangeAt: oppExampleTime, LastActionDate: oppExampleTime,
		CreatedAt: oppExampleTime, UpdatedAt: oppExampleTime,
	}
}

func TestOpportunityFromHLGolden(t *testing.T) {
	t.Parallel()
	list := func(xs ...any) *structpb.Value {
		v, err := structpb.NewList(xs)
		if err != nil {
			t.Fatal(err)
		}
		return structpb.NewListValue(v)
	}
	obj := func(m map[string]any) *structpb.Value {
		v, err := structpb.NewStruct(m)
		if err != nil {
			t.Fatal(err)
		}
		return structpb.NewStructValue(v)
	}
	for _, tc := range []struct {
		golden string
		want   *hlgatev1.Opportunity
	}{
		{"get_opportunity.json", oppExample()},
		{"custom_fields_opportunity.json", &hlgatev1.Opportunity{
			Id: "yWQobCRIhRguQtD2llvk", LocationId: "zT46WSCPbudrq4zhW", Name: "testing",
			Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST,
			CustomFields: []*hlgatev1.CustomField{
				{Id: "MgobCB14YMVKuE4Ka8p1", Value: structpb.NewStringValue("9039160788")},
				{Id: "MgobCB14YMVKuE4Ka8p2", Value: obj(map[string]any{"plan": "gold"})},
				{Id: "MgobCB14YMVKuE4Ka8p3", Value: list("test", "test2")},
				{Id: "MgobCB14YMVKuE4Ka8p4", Value: list(map[string]any{"url": "https://example.com/a.pdf"})},
			},
			Followers: []string{"zT46WSCPbudrq4zhWMk6", "082goXVW3lIExEQPOnd3"},
		}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			var res hlgatev1.GetOpportunityResponse
			rep, err := jsonproto.Decode(oppGolden(t, tc.golden), &res)
			if err != nil || len(rep.Lost()) > 0 {
				t.Fatalf("decode: %v (lost %v)", err, rep.Lost())
			}
			if d := cmp.Diff(tc.want, res.GetOpportunity(), protocmp.Transform(), protocmp.IgnoreFields(&hlgatev1.Opportunity{}, "unmapped")); d != "" {
				t.Errorf("decoded opportunity (-want +got):\n%s", d)
			}
		})
	}
}

// The official search answer, through the generic path: its opportunity
// decodes like GetOpportunity's, and meta decides the next page. With
// meta.total reached there is none, although HighLevel repeats the last
// cursor; with more to come the cursor goes back as HighLevel wrote it
// (1625203104328, not 1.625203104328e+12); without a total only a full
// page has a next one.
func TestSearchResultFromHLGolden(t *testing.T) {
	t.Parallel()
	golden := oppGolden(t, "search_opportunities.json")
	var meta map[string]any // what the fake answers as meta; nil: the golden's
	var queries []url.Values
	s := fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.Query())
		var ans map[string]any
		if err := json.Unmarshal(golden, &ans); err != nil {
			t.Fatal(err)
		}
		if meta != nil {
			ans["meta"] = meta
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(ans)
	})
	method := hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName
	search := func(req *hlgatev1.SearchOpportunitiesRequest) *hlgatev1.SearchOpportunitiesResponse {
		t.Helper()
		out, err := callForward(t.Context(), s, method, req)
		if err != nil {
			t.Fatalf("search: %v", err)
		}
		return out.(*hlgatev1.SearchOpportunitiesResponse)
	}
	const loc = "zT46WSCPbudrq4zhW"
	first := search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 1})
	if len(first.GetOpportunities()) != 1 {
		t.Fatalf("golden holds %v", first.GetOpportunities())
	}
	if d := cmp.Diff(oppExample(), first.GetOpportunities()[0], protocmp.Transform(), protocmp.IgnoreFields(&hlgatev1.Opportunity{}, "unmapped")); d != "" {
		t.Errorf("search item (-want +got):\n%s", d)
	}
	if first.GetTotalSize() != 1 || first.GetNextPageToken() != "" {
		t.Errorf("meta.total 1 reached: total %d, next %q", first.GetTotalSize(), first.GetNextPageToken())
	}

	meta = map[string]any{"total": 5, "startAfter": 1625203104328, "startAfterId": "yWQobCRIhRguQtD2llvk"}
	more := search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 1})
	if more.GetTotalSize() != 5 || more.GetNextPageToken() == "" {
		t.Fatalf("meta.total 5: total %d, next %q", more.GetTotalSize(), more.GetNextPageToken())
	}
	search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 1, PageToken: more.GetNextPageToken()})
	if q := queries[len(queries)-1]; q.Get("startAfter") != "1625203104328" || q.Get("startAfterId") != "yWQobCRIhRguQtD2llvk" || q.Get("limit") != "1" || q.Get("location_id") != loc {
		t.Errorf("second page asked with %v", q)
	}

	meta = map[string]any{"startAfter": 1625203104328, "startAfterId": "yWQobCRIhRguQtD2llvk"}
	if short := search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 2}); short.GetNextPageToken() != "" || short.GetTotalSize() != 0 {
		t.Error("short page without total gave a next page")
	}
	if full := search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 1}); full.GetNextPageToken() == "" {
		t.Error("full page without total gave no next page")
	}
	meta = map[string]any{"total": 5, "startAfterId": "yWQobCRIhRguQtD2llvk"}
	if none := search(&hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 1}); none.GetNextPageToken() != "" {
		t.Error("a page without a cursor gave a next page")
	}
}

func TestPipelineGoldenDecode(t *testing.T) {
	t.Parallel()
	var res hlgatev1.ListPipelinesResponse
	rep, err := jsonproto.Decode(oppGolden(t, "list_pipelines.json"), &res)
	if err != nil || len(rep.Lost()) > 0 {
		t.Fatalf("decode: %v (lost %v)", err, rep.Lost())
	}
	want := &hlgatev1.Pipeline{
		Id: "aWdODOBVOlH1RUFKWQke", LocationId: "dsjddjkndadqaja", Name: "new pipeline", ShowInPieChart: true,
		Stages: []*hlgatev1.Stage{{Id: "7915dedc-8f18-44d5-8bc3-77c04e994a10", Name: "New Lead", ShowInFunnel: true, ShowInPieChart: true}},
	}
	if d := cmp.Diff(want, res.GetPipelines()[0], protocmp.Transform(), protocmp.IgnoreFields(&hlgatev1.Pipeline{}, "unmapped")); d != "" {
		t.Errorf("decoded pipeline (-want +got):\n%s", d)
	}
}

// oppFullUpdate is every writable field of the official UpdateOpportunityRequest
// example, plus fields HighLevel's update does not take.
func oppFullUpdate() *hlgatev1.Opportunity {
	return &hlgatev1.Opportunity{
		PipelineId: "bCkKGpDsyPP4peuKowkG", Name: "First Opps", PipelineStageId: "7915dedc-8f18-44d5-8bc3-77c04e994a10",
		Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON, MonetaryValue: 220, AssignedTo: "082goXVW3lIExEQPOnd3",
		CustomFields: []*hlgatev1.CustomField{{Id: "6dvNaf7VhkQ9snc5vnjJ", Value: structpb.NewStringValue("9039160788")}},
		// Output only: ignored by every write.
		Id: "yWQobCRIhRguQtD2llvk", CreatedAt: oppExampleTime, Followers: []string{"zT46WSCPbudrq4zhWMk6"},
	}
}

func TestOpportunityWriteBodiesGolden(t *testing.T) {
	t.Parallel()
	statusBody := func(req *hlgatev1.UpdateOpportunityStatusRequest) (any, error) {
		return wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunityStatus_FullMethodName, req)
	}
	for _, tc := range []struct {
		name   string
		body   func() (any, error)
		golden string // file name, or inline JSON when it starts with '{'
	}{
		{"create", func() (any, error) {
			return wireBody(t, hlgatev1.OpportunitiesService_CreateOpportunity_FullMethodName, &hlgatev1.CreateOpportunityRequest{
				LocationId: "ve9EPM428h8vShlRW1KT",
				Opportunity: &hlgatev1.Opportunity{
					PipelineId: "VDm7RPYC2GLUvdpKmBfC", Name: "First Opps", PipelineStageId: "7915dedc-8f18-44d5-8bc3-77c04e994a10",
					Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: "mTkSCb1UBjb5tk4OvB69",
					MonetaryValue: 220, AssignedTo: "082goXVW3lIExEQPOnd3",
					CustomFields: []*hlgatev1.CustomField{
						{Key: "my_custom_field", Value: structpb.NewStringValue("9039160788")},
						{Id: "6dvNaf7VhkQ9snc5vnjJ", Value: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("test"), structpb.NewStringValue("test2")}})},
						{Id: "6dvNaf7VhkQ9snc5vnjK", Value: structpb.NewStructValue(&structpb.Struct{})},
					},
					// Output only, ignored; the request's location_id wins.
					Id: "ignored", LocationId: "SomeOtherLocation", UpdatedAt: oppExampleTime,
				},
			})
		}, "create_request.json"},
		{"update with every field set and no mask", func() (any, error) {
			return wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk", Opportunity: oppFullUpdate()})
		}, "update_request.json"},
		{"update with every writable path", func() (any, error) {
			return wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{
				LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk", Opportunity: oppFullUpdate(),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "monetary_value", "pipeline_id", "pipeline_stage_id", "assigned_to", "status", "custom_fields", "created_at"}},
			})
		}, "update_request.json"},
		{"update sends only the masked fields", func() (any, error) {
			return wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{
				LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk", Opportunity: oppFullUpdate(),
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name", "status"}},
			})
		}, `{"name":"First Opps","status":"won"}`},
		{"masked default values are sent: clear assignment, zero value", func() (any, error) {
			return wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{
				LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk", Opportunity: &hlgatev1.Opportunity{},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"assigned_to", "monetary_value"}},
			})
		}, `{"assignedTo":"","monetaryValue":0}`},
		{"status lost with reason", func() (any, error) {
			return statusBody(&hlgatev1.UpdateOpportunityStatusRequest{
				LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk",
				Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST, LostReasonId: "CLu7BaljjqrEjBGKTNNe",
			})
		}, "update_status_request.json"},
		{"status open", func() (any, error) {
			return statusBody(&hlgatev1.UpdateOpportunityStatusRequest{
				LocationId: "ve9EPM428h8vShlRW1KT", OpportunityId: "yWQobCRIhRguQtD2llvk", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN,
			})
		}, `{"status":"open"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := tc.body()
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			golden := tc.golden
			if !strings.HasPrefix(golden, "{") {
				golden = string(oppGolden(t, golden))
			}
			oppSameJSON(t, body, golden)
		})
	}
}

// A read written back unchanged, without a mask, sends HighLevel the
// writable keys it read with the same values and JSON types: custom field
// values of every shape (text, object, list of strings, list of files) go
// back as field_value; output-only and read-only keys (id, followers,
// locationId) are left out, never refused.
func TestOpportunityReadWrittenBack(t *testing.T) {
	t.Parallel()
	raw := oppGolden(t, "custom_fields_opportunity.json")
	var read hlgatev1.GetOpportunityResponse
	rep, err := jsonproto.Decode(raw, &read)
	if err != nil || len(rep) > 0 {
		t.Fatalf("decode: %v (report %v)", err, rep)
	}
	body, err := wireBody(t, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{
		LocationId: "zT46WSCPbudrq4zhW", OpportunityId: read.GetOpportunity().GetId(), Opportunity: read.GetOpportunity(),
	})
	if err != nil {
		t.Fatalf("written back: %v", err)
	}
	var example struct {
		Opportunity map[string]any `json:"opportunity"`
	}
	if err := json.Unmarshal(raw, &example); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"name": example.Opportunity["name"], "status": example.Opportunity["status"]}
	var cfs []any
	for _, cf := range example.Opportunity["customFields"].([]any) {
		m := cf.(map[string]any)
		cfs = append(cfs, map[string]any{"id": m["id"], "field_value": m["fieldValue"]})
	}
	want["customFields"] = cfs
	if d := cmp.Diff(want, body); d != "" {
		t.Errorf("written back (-read +sent):\n%s", d)
	}
}

// encodeStatus is an opportunity status as the generic path writes it; an
// error for one HighLevel cannot take.
func encodeStatus(st hlgatev1.OpportunityStatus) (any, error) {
	enc, err := jsonproto.Encode(&hlgatev1.Opportunity{Status: st}, jsonproto.EncodeOptions{Paths: []string{"status"}})
	return enc["status"], err
}

// decodeStatus is an opportunity status as the generic path reads it.
func decodeStatus(t *testing.T, hl string) hlgatev1.OpportunityStatus {
	t.Helper()
	var o hlgatev1.Opportunity
	jsonproto.DecodeMap(map[string]any{"status": hl}, &o)
	return o.GetStatus()
}

func TestOpportunityStatusMapping(t *testing.T) {
	t.Parallel()
	for s, hl := range map[hlgatev1.OpportunityStatus]string{
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN:      "open",
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON:       "won",
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST:      "lost",
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_ABANDONED: "abandoned",
	} {
		if got, err := encodeStatus(s); err != nil || got != hl {
			t.Errorf("to HighLevel %s = %q, %v; want %q", s, got, err, hl)
		}
		if got := decodeStatus(t, hl); got != s {
			t.Errorf("from HighLevel %q = %s, want %s", hl, got, s)
		}
	}
	for _, s := range []hlgatev1.OpportunityStatus{hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED, 99} {
		if got, err := encodeStatus(s); err == nil {
			t.Errorf("to HighLevel %s = %q, want refused", s, got)
		}
	}
	for _, hl := range []string{"all", "", "deleted"} {
		if got := decodeStatus(t, hl); got != hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED {
			t.Errorf("from HighLevel %q = %s, want UNSPECIFIED", hl, got)
		}
	}
	// Search: unspecified is every status, which HighLevel reads from no
	// status at all; a status is sent as HighLevel spells it.
	search := forwards[hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName]
	for s, want := range map[hlgatev1.OpportunityStatus]url.Values{
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_UNSPECIFIED: {"location_id": {"loc"}, "limit": {"50"}},
		hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST:        {"location_id": {"loc"}, "limit": {"50"}, "status": {"lost"}},
	} {
		r, err := firstRequest(search, &hlgatev1.SearchOpportunitiesRequest{LocationId: "loc", Status: s})
		if err != nil {
			t.Fatalf("search with %s: %v", s, err)
		}
		if !cmp.Equal(r.query, want) {
			t.Errorf("search with %s: query %v, want %v", s, r.query, want)
		}
	}
}

// newOpportunityFixture creates a contact with no opportunity (so no
// seeded open opportunity conflicts) and returns it with a seeded
// pipeline.
func newOpportunityFixture(t *testing.T, h *harness, ctx context.Context, email string) (contactID string, pl *hlgatev1.Pipeline) {
	t.Helper()
	ct, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{
		LocationId: sandbox.DemoLocationID,
		Contact:    &hlgatev1.Contact{FirstName: "Opal", LastName: "Deal", Email: email},
	})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	pls, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: sandbox.DemoLocationID})
	if err != nil || len(pls.GetPipelines()) == 0 || len(pls.GetPipelines()[0].GetStages()) < 2 {
		t.Fatalf("ListPipelines: %v %v", err, pls)
	}
	return ct.GetContact().GetId(), pls.GetPipelines()[0]
}

func TestOpportunitiesLifecycleOverGRPC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	contactID, pl := newOpportunityFixture(t, h, ctx, "opal.deal@example.com")

	created, err := h.opportunities.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{
		LocationId: loc,
		Opportunity: &hlgatev1.Opportunity{
			Name: "Opal – implants", PipelineId: pl.GetId(), PipelineStageId: pl.GetStages()[1].GetId(),
			Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: contactID, MonetaryValue: 1250.5,
			AssignedTo:   sandbox.DemoUserID,
			CustomFields: []*hlgatev1.CustomField{{Id: "cfOppBudget000000001", Value: structpb.NewStringValue("high")}},
		},
	})
	if err != nil {
		t.Fatalf("CreateOpportunity: %v", err)
	}
	o := created.GetOpportunity()
	want := &hlgatev1.Opportunity{
		Id: o.GetId(), LocationId: loc, Name: "Opal – implants", PipelineId: pl.GetId(), PipelineStageId: pl.GetStages()[1].GetId(),
		Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: contactID, MonetaryValue: 1250.5, AssignedTo: sandbox.DemoUserID,
		CustomFields: []*hlgatev1.CustomField{{Id: "cfOppBudget000000001", Value: structpb.NewStringValue("high")}},
	}
	ignoreServerSet := protocmp.IgnoreFields(&hlgatev1.Opportunity{}, "contact", "created_at", "updated_at", "last_status_change_at", "last_stage_change_at")
	if o.GetId() == "" || o.GetCreatedAt() == nil {
		t.Fatalf("created opportunity has no id or created_at: %v", o)
	}
	if d := cmp.Diff(want, o, protocmp.Transform(), ignoreServerSet); d != "" {
		t.Fatalf("created (-want +got):\n%s", d)
	}

	got, err := h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: o.GetId()})
	if err != nil {
		t.Fatalf("GetOpportunity: %v", err)
	}
	if d := cmp.Diff(want, got.GetOpportunity(), protocmp.Transform(), ignoreServerSet); d != "" {
		t.Fatalf("got (-want +got):\n%s", d)
	}
	if got.GetOpportunity().GetContact().GetEmail() != "opal.deal@example.com" {
		t.Fatalf("contact summary = %v", got.GetOpportunity().GetContact())
	}

	// Only the masked fields change; name in the message is not sent.
	upd, err := h.opportunities.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{
		LocationId: loc, OpportunityId: o.GetId(),
		Opportunity: &hlgatev1.Opportunity{Name: "Ignored", MonetaryValue: 3000, PipelineStageId: pl.GetStages()[0].GetId()},
		UpdateMask:  &fieldmaskpb.FieldMask{Paths: []string{"monetary_value", "pipeline_stage_id"}},
	})
	if err != nil {
		t.Fatalf("UpdateOpportunity: %v", err)
	}
	want.MonetaryValue, want.PipelineStageId = 3000, pl.GetStages()[0].GetId()
	if d := cmp.Diff(want, upd.GetOpportunity(), protocmp.Transform(), ignoreServerSet); d != "" {
		t.Fatalf("updated (-want +got):\n%s", d)
	}

	if _, err := h.opportunities.UpdateOpportunityStatus(ctx, &hlgatev1.UpdateOpportunityStatusRequest{
		LocationId: loc, OpportunityId: o.GetId(), Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON,
	}); err != nil {
		t.Fatalf("UpdateOpportunityStatus: %v", err)
	}
	got, err = h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: o.GetId()})
	if err != nil {
		t.Fatalf("GetOpportunity after status: %v", err)
	}
	want.Status = hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON
	if d := cmp.Diff(want, got.GetOpportunity(), protocmp.Transform(), ignoreServerSet); d != "" {
		t.Fatalf("after status (-want +got):\n%s", d)
	}
	if got.GetOpportunity().GetLastStatusChangeAt().AsTime().Before(o.GetLastStatusChangeAt().AsTime()) {
		t.Fatalf("last_status_change_at went back: %v → %v", o.GetLastStatusChangeAt(), got.GetOpportunity().GetLastStatusChangeAt())
	}

	// Filtered search: the contact's won opportunities in that pipeline
	// are exactly this one; other statuses find none.
	found, err := h.opportunities.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{
		LocationId: loc, ContactId: contactID, PipelineId: pl.GetId(), Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON,
	})
	if err != nil {
		t.Fatalf("SearchOpportunities: %v", err)
	}
	if len(found.GetOpportunities()) != 1 || found.GetOpportunities()[0].GetId() != o.GetId() || found.GetTotalSize() != 1 || found.GetNextPageToken() != "" {
		t.Fatalf("search = %d opportunities, total %d, token %q", len(found.GetOpportunities()), found.GetTotalSize(), found.GetNextPageToken())
	}
	none, err := h.opportunities.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{
		LocationId: loc, ContactId: contactID, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN,
	})
	if err != nil || len(none.GetOpportunities()) != 0 || none.GetTotalSize() != 0 {
		t.Fatalf("search open = %v, %v", none, err)
	}
	byName, err := h.opportunities.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, Query: "opal – implants"})
	if err != nil || len(byName.GetOpportunities()) != 1 || byName.GetOpportunities()[0].GetId() != o.GetId() {
		t.Fatalf("search by query = %v, %v", byName, err)
	}

	if _, err := h.opportunities.DeleteOpportunity(ctx, &hlgatev1.DeleteOpportunityRequest{LocationId: loc, OpportunityId: o.GetId()}); err != nil {
		t.Fatalf("DeleteOpportunity: %v", err)
	}
	_, err = h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: o.GetId()})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
	_, err = h.opportunities.DeleteOpportunity(ctx, &hlgatev1.DeleteOpportunityRequest{LocationId: loc, OpportunityId: o.GetId()})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
}

// The lost reason travels with UpdateOpportunityStatus, and HighLevel's own
// refusals (here: a second open opportunity of one contact in one
// pipeline) come back as UPSTREAM_REJECTED_REQUEST.
func TestOpportunityLostAndUpstreamRejection(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	contactID, pl := newOpportunityFixture(t, h, ctx, "lost.deal@example.com")
	newOpp := &hlgatev1.Opportunity{Name: "Lost deal", PipelineId: pl.GetId(), Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: contactID}
	created, err := h.opportunities.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: newOpp})
	if err != nil {
		t.Fatalf("CreateOpportunity: %v", err)
	}
	if created.GetOpportunity().GetPipelineStageId() != pl.GetStages()[0].GetId() {
		t.Fatalf("stage = %q, want the pipeline's first", created.GetOpportunity().GetPipelineStageId())
	}
	_, err = h.opportunities.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: newOpp})
	st := wantStatus(t, err, codes.InvalidArgument, ReasonUpstreamRejected)
	if !strings.Contains(st.Message(), "duplicate") {
		t.Fatalf("message = %q, want HighLevel's", st.Message())
	}
	if _, err := h.opportunities.UpdateOpportunityStatus(ctx, &hlgatev1.UpdateOpportunityStatusRequest{
		LocationId: loc, OpportunityId: created.GetOpportunity().GetId(),
		Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST, LostReasonId: "LostReasonPrice00001",
	}); err != nil {
		t.Fatalf("UpdateOpportunityStatus lost: %v", err)
	}
	got, err := h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: created.GetOpportunity().GetId()})
	if err != nil || got.GetOpportunity().GetStatus() != hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST ||
		got.GetOpportunity().GetLostReasonId() != "LostReasonPrice00001" {
		t.Fatalf("after lost: %v, %v", got, err)
	}
}

func TestOpportunitiesOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	contactID, pl := newOpportunityFixture(t, h, ctx, "rest.deal@example.com")
	base := "/v1/locations/" + sandbox.DemoLocationID + "/opportunities"
	type restOpp struct {
		ID              string  `json:"id"`
		Name            string  `json:"name"`
		MonetaryValue   float64 `json:"monetaryValue"`
		Status          string  `json:"status"`
		ContactID       string  `json:"contactId"`
		PipelineStageID string  `json:"pipelineStageId"`
	}
	decode := func(body []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("decode %s: %v", body, err)
		}
	}

	code, _, body := h.rest(http.MethodPost, base, "", strings.NewReader(`{"name":"REST deal","pipelineId":"`+pl.GetId()+
		`","status":"OPPORTUNITY_STATUS_OPEN","contactId":"`+contactID+`","monetaryValue":99.5}`))
	if code != http.StatusOK {
		t.Fatalf("POST opportunity = %d %s", code, body)
	}
	var created struct{ Opportunity restOpp }
	decode(body, &created)
	if created.Opportunity.ID == "" || created.Opportunity.Name != "REST deal" || created.Opportunity.MonetaryValue != 99.5 ||
		created.Opportunity.Status != "OPPORTUNITY_STATUS_OPEN" || created.Opportunity.ContactID != contactID {
		t.Fatalf("POST opportunity body = %s", body)
	}
	id := created.Opportunity.ID

	code, _, body = h.rest(http.MethodPatch, base+"/"+id+"?updateMask=name", "", strings.NewReader(`{"name":"REST deal v2","monetaryValue":1}`))
	var updated struct{ Opportunity restOpp }
	decode(body, &updated)
	if code != http.StatusOK || updated.Opportunity.Name != "REST deal v2" || updated.Opportunity.MonetaryValue != 99.5 {
		t.Fatalf("PATCH opportunity = %d %s", code, body)
	}
	// Without updateMask, the fields set in the body are written.
	code, _, body = h.rest(http.MethodPatch, base+"/"+id, "", strings.NewReader(`{"pipelineStageId":"`+pl.GetStages()[2].GetId()+`"}`))
	decode(body, &updated)
	if code != http.StatusOK || updated.Opportunity.PipelineStageID != pl.GetStages()[2].GetId() || updated.Opportunity.Name != "REST deal v2" {
		t.Fatalf("PATCH without mask = %d %s", code, body)
	}

	code, _, body = h.rest(http.MethodPost, base+"/"+id+":updateStatus", "", strings.NewReader(`{"status":"OPPORTUNITY_STATUS_ABANDONED"}`))
	if code != http.StatusOK || strings.TrimSpace(string(body)) != "{}" {
		t.Fatalf("POST :updateStatus = %d %s", code, body)
	}
	code, _, body = h.rest(http.MethodGet, base+"?"+url.Values{"contactId": {contactID}, "status": {"OPPORTUNITY_STATUS_ABANDONED"}}.Encode(), "", nil)
	var found struct {
		Opportunities []restOpp
		TotalSize     int
	}
	decode(body, &found)
	if code != http.StatusOK || len(found.Opportunities) != 1 || found.Opportunities[0].ID != id || found.TotalSize != 1 {
		t.Fatalf("GET search = %d %s", code, body)
	}

	// Bad input is a 400 that names the field, and a bad enum too.
	code, _, body = h.rest(http.MethodPost, base, "", strings.NewReader(`{"name":"x","pipelineId":"`+pl.GetId()+`","status":"OPPORTUNITY_STATUS_OPEN","contactId":"`+contactID+`","monetaryValue":-1}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "opportunity.monetary_value") {
		t.Fatalf("POST negative value = %d %s", code, body)
	}
	code, _, body = h.rest(http.MethodPost, base+"/"+id+":updateStatus", "", strings.NewReader(`{"status":"OPPORTUNITY_STATUS_OPEN","lostReasonId":"abc"}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "lost_reason_id") {
		t.Fatalf("POST :updateStatus with reason = %d %s", code, body)
	}

	code, _, body = h.rest(http.MethodGet, "/v1/locations/"+sandbox.DemoLocationID+"/pipelines", "", nil)
	var pls struct {
		Pipelines []struct {
			ID     string
			Stages []struct{ ID, Name string }
		}
	}
	decode(body, &pls)
	if code != http.StatusOK || len(pls.Pipelines) != 3 || pls.Pipelines[0].ID != pl.GetId() || len(pls.Pipelines[0].Stages) != len(pl.GetStages()) {
		t.Fatalf("GET pipelines = %d %s", code, body)
	}

	code, _, body = h.rest(http.MethodDelete, base+"/"+id, "", nil)
	if code != http.StatusOK {
		t.Fatalf("DELETE opportunity = %d %s", code, body)
	}
	code, _, _ = h.rest(http.MethodGet, base+"/"+id, "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("GET deleted opportunity = %d, want 404", code)
	}
}

// ListPipelines returns the seeded pipelines with their stages, without
// loss, in id order, paged by hlgate.
func TestListPipelinesPagesSeededPipelines(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID

	// The sandbox's own answer, read past hlgate, decoded the way the
	// generic path decodes (without loss), in the id order hlgate pages in.
	resp, err := h.srv.hl.GetPipelines(upstream.WithSubject(ctx, loc), &highlevel.GetPipelinesParams{LocationID: loc})
	rawBody, err := readUpstream(resp, err)
	if err != nil {
		t.Fatalf("sandbox pipelines: %v", err)
	}
	var raw hlgatev1.ListPipelinesResponse
	if rep, err := jsonproto.Decode(rawBody, &raw); err != nil || len(rep.Lost()) > 0 {
		t.Fatalf("decode the sandbox's pipelines: %v (lost %v)", err, rep.Lost())
	}
	want := raw.GetPipelines()
	slices.SortFunc(want, func(a, b *hlgatev1.Pipeline) int { return strings.Compare(a.GetId(), b.GetId()) })
	sales := slices.IndexFunc(want, func(p *hlgatev1.Pipeline) bool { return p.GetName() == "Sales Pipeline" })
	if len(want) != 3 || sales < 0 || len(want[sales].GetStages()) != 5 || want[sales].GetStages()[4].GetPosition() != 4 {
		t.Fatalf("seeded pipelines = %v", want)
	}

	all, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc})
	if err != nil || all.GetNextPageToken() != "" {
		t.Fatalf("ListPipelines: %v (token %q)", err, all.GetNextPageToken())
	}
	if d := cmp.Diff(want, all.GetPipelines(), protocmp.Transform()); d != "" {
		t.Fatalf("pipelines (-sandbox +hlgate):\n%s", d)
	}

	var paged []*hlgatev1.Pipeline
	req := &hlgatev1.ListPipelinesRequest{LocationId: loc, PageSize: 2}
	for pages := 1; ; pages++ {
		resp, err := h.opportunities.ListPipelines(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if len(resp.GetPipelines()) > 2 {
			t.Fatalf("page %d holds %d pipelines, page_size 2", pages, len(resp.GetPipelines()))
		}
		paged = append(paged, resp.GetPipelines()...)
		if resp.GetNextPageToken() == "" {
			if pages != 2 {
				t.Fatalf("%d pages of 2 for 3 pipelines", pages)
			}
			break
		}
		if pages > 3 {
			t.Fatal("more than 3 pages for 3 pipelines")
		}
		req.PageToken = resp.GetNextPageToken()
		req.PageSize = 1 // page_size may change from page to page
	}
	if d := cmp.Diff(want, paged, protocmp.Transform()); d != "" {
		t.Fatalf("paged pipelines (-sandbox +hlgate):\n%s", d)
	}
}

// sandboxOpportunityTotal asks the sandbox directly (through the upstream
// chain, past hlgate's handlers) how many opportunities match req's filters.
func sandboxOpportunityTotal(t *testing.T, h *harness, ctx context.Context, req *hlgatev1.SearchOpportunitiesRequest) int {
	t.Helper()
	r, err := firstRequest(forwards[hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName], req)
	if err != nil {
		t.Fatal(err)
	}
	r.query.Set("limit", "1")
	b, err := readUpstream(h.srv.send(upstream.WithSubject(ctx, req.GetLocationId()), r))
	var ans struct {
		Meta struct {
			Total *int `json:"total"`
		} `json:"meta"`
	}
	if err != nil || json.Unmarshal(b, &ans) != nil || ans.Meta.Total == nil {
		t.Fatalf("sandbox total: %v %s", err, b)
	}
	return *ans.Meta.Total
}

// A search walked page by page reaches every matching opportunity once: no
// duplicate, no gap, as many as the sandbox counts, each matching the
// filters. The seed gives every tenth opportunity the creation time of the
// one before, so the walk crosses cursor ties.
func TestSearchOpportunitiesWalksEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	pls, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc})
	if err != nil {
		t.Fatalf("ListPipelines: %v", err)
	}
	for _, tc := range []struct {
		name      string
		req       *hlgatev1.SearchOpportunitiesRequest
		firstPage int // page size the first page must have
		minTotal  int
	}{
		{"every opportunity, 37 a page", &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 37}, 37, 300},
		{"open ones, default page size", &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN}, 50, 100},
		{"one pipeline, page size above the maximum", &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PipelineId: pls.GetPipelines()[1].GetId(), PageSize: 1000}, 100, 50},
		{"one user's lost ones, 7 a page", &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, AssignedTo: sandbox.DemoUserID, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_LOST, PageSize: 7}, 7, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := sandboxOpportunityTotal(t, h, ctx, tc.req)
			if want < tc.minTotal {
				t.Fatalf("sandbox has %d matches, the seed promises at least %d", want, tc.minTotal)
			}
			req := proto.Clone(tc.req).(*hlgatev1.SearchOpportunitiesRequest)
			seen := map[string]bool{}
			pages := 0
			for {
				resp, err := h.opportunities.SearchOpportunities(ctx, req)
				if err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				pages++
				n := len(resp.GetOpportunities())
				if pages == 1 && tc.firstPage > 0 && n != min(tc.firstPage, want) {
					t.Fatalf("first page holds %d, want %d", n, min(tc.firstPage, want))
				}
				if n > 100 { // HighLevel's limit (facts file §4)
					t.Fatalf("page of %d, above the maximum", n)
				}
				if int(resp.GetTotalSize()) != want {
					t.Fatalf("total_size %d, sandbox says %d", resp.GetTotalSize(), want)
				}
				for _, o := range resp.GetOpportunities() {
					if seen[o.GetId()] {
						t.Fatalf("opportunity %s returned twice (page %d)", o.GetId(), pages)
					}
					seen[o.GetId()] = true
					if o.GetLocationId() != loc ||
						tc.req.GetStatus() != 0 && o.GetStatus() != tc.req.GetStatus() ||
						tc.req.GetPipelineId() != "" && o.GetPipelineId() != tc.req.GetPipelineId() ||
						tc.req.GetAssignedTo() != "" && o.GetAssignedTo() != tc.req.GetAssignedTo() {
						t.Fatalf("opportunity %v does not match the filters", o)
					}
				}
				if resp.GetNextPageToken() == "" {
					break
				}
				if n == 0 {
					t.Fatalf("empty page %d with a next page token", pages)
				}
				req.PageToken = resp.GetNextPageToken()
				if pages > 400 {
					t.Fatal("more than 400 pages")
				}
			}
			if len(seen) != want {
				t.Fatalf("walked %d distinct opportunities in %d pages, sandbox has %d", len(seen), pages, want)
			}
		})
	}
}

func TestOpportunityPageTokensAreBoundToFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	first, err := h.opportunities.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 10, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v (token %q)", err, first.GetNextPageToken())
	}
	tok := first.GetNextPageToken()
	// The token still works with its own filters and another page size.
	if _, err := h.opportunities.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: 20, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, PageToken: tok}); err != nil {
		t.Fatalf("second page: %v", err)
	}
	contactsTok, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: loc, PageSize: 10})
	if err != nil || contactsTok.GetNextPageToken() == "" {
		t.Fatalf("contacts page: %v", err)
	}
	pipesTok, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc, PageSize: 1})
	if err != nil || pipesTok.GetNextPageToken() == "" {
		t.Fatalf("pipelines page: %v", err)
	}

	before := sandboxRequests(h.sb)
	for name, req := range map[string]*hlgatev1.SearchOpportunitiesRequest{
		"other status":    {LocationId: loc, PageSize: 10, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON, PageToken: tok},
		"status dropped":  {LocationId: loc, PageSize: 10, PageToken: tok},
		"added query":     {LocationId: loc, PageSize: 10, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, Query: "acme", PageToken: tok},
		"other location":  {LocationId: sandbox.OtherLocationID, PageSize: 10, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, PageToken: tok},
		"tampered":        {LocationId: loc, PageSize: 10, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, PageToken: tok[:len(tok)-2] + "AA"},
		"truncated":       {LocationId: loc, Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, PageToken: tok[:10]},
		"garbage":         {LocationId: loc, PageToken: "%%%"},
		"contacts token":  {LocationId: loc, PageToken: contactsTok.GetNextPageToken()},
		"pipelines token": {LocationId: loc, PageToken: pipesTok.GetNextPageToken()},
		"added pipeline":  {LocationId: loc, PipelineId: "SomePipeline", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, PageToken: tok},
	} {
		_, err := h.opportunities.SearchOpportunities(ctx, req)
		st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
		if !strings.Contains(st.Message(), "page_token") {
			t.Errorf("%s: message %q does not name page_token", name, st.Message())
		}
		wantFieldViolation(t, st, "page_token")
	}
	for name, req := range map[string]*hlgatev1.ListPipelinesRequest{
		"other location": {LocationId: sandbox.OtherLocationID, PageToken: pipesTok.GetNextPageToken()},
		"search token":   {LocationId: loc, PageToken: tok},
	} {
		_, err := h.opportunities.ListPipelines(ctx, req)
		st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
		wantFieldViolation(t, st, "page_token")
		_ = name
	}
	if after := sandboxRequests(h.sb); after != before {
		t.Fatalf("requests with bad page tokens reached the sandbox: %d → %d", before, after)
	}
}

// Every invalid request is refused with INVALID_ARGUMENT naming each bad
// field, and none reaches the sandbox.
func TestOpportunitiesValidationNamesEveryField(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	op := h.opportunities
	mask := func(p ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: p} }
	for _, tc := range []struct {
		name   string
		call   func() error
		fields []string
	}{
		{"get without ids", func() error {
			_, err := op.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{})
			return err
		}, []string{"location_id", "opportunity_id"}},
		{"get with a path in the id", func() error {
			_, err := op.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: "../pipelines"})
			return err
		}, []string{"opportunity_id"}},
		{"create with nothing", func() error {
			_, err := op.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc})
			return err
		}, []string{"opportunity"}},
		{"create missing every required field", func() error {
			_, err := op.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: "bad/id", Opportunity: &hlgatev1.Opportunity{MonetaryValue: 5}})
			return err
		}, []string{"location_id", "opportunity.name", "opportunity.pipeline_id", "opportunity.status", "opportunity.contact_id"}},
		{"create with bad values", func() error {
			_, err := op.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: &hlgatev1.Opportunity{
				Name: "   ", PipelineId: "p?x", PipelineStageId: "s s", Status: 42, ContactId: "c#1", MonetaryValue: -0.01,
				AssignedTo: "u/1", Source: "web", LostReasonId: "r1",
				CustomFields: []*hlgatev1.CustomField{
					{Value: structpb.NewStringValue("x")},
					{Key: "k", Value: structpb.NewListValue(&structpb.ListValue{})},
					{Id: "cf3", Value: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("a"), structpb.NewStructValue(&structpb.Struct{})}})},
				},
			}})
			return err
		}, []string{"opportunity.name", "opportunity.pipeline_id", "opportunity.pipeline_stage_id", "opportunity.status", "opportunity.contact_id",
			"opportunity.monetary_value", "opportunity.assigned_to", "opportunity.custom_fields[0].id", "opportunity.custom_fields[2].value"}},
		{"create with a value that is not a number", func() error {
			_, err := op.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: &hlgatev1.Opportunity{
				Name: "n", PipelineId: "p", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: "c", MonetaryValue: math.Inf(1),
			}})
			return err
		}, []string{"opportunity.monetary_value"}},
		{"update with unwritable and unknown paths", func() error {
			_, err := op.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "abc",
				Opportunity: &hlgatev1.Opportunity{ContactId: "c"}, UpdateMask: mask("contact_id", "nonsense", "custom_fields.x")})
			return err
		}, []string{"update_mask"}},
		{"update masking fields at invalid defaults", func() error {
			_, err := op.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "abc",
				Opportunity: &hlgatev1.Opportunity{MonetaryValue: math.NaN()}, UpdateMask: mask("status", "name", "pipeline_id", "pipeline_stage_id", "monetary_value", "custom_fields")})
			return err
		}, []string{"opportunity.status", "opportunity.name", "opportunity.pipeline_id", "opportunity.pipeline_stage_id", "opportunity.monetary_value"}},
		{"update with nothing to change", func() error {
			_, err := op.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "abc",
				Opportunity: &hlgatev1.Opportunity{Id: "abc"}, UpdateMask: mask("id", "created_at")})
			return err
		}, []string{"update_mask"}},
		{"update without opportunity or ids", func() error {
			_, err := op.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{})
			return err
		}, []string{"location_id", "opportunity_id", "opportunity"}},
		{"status unspecified", func() error {
			_, err := op.UpdateOpportunityStatus(ctx, &hlgatev1.UpdateOpportunityStatusRequest{LocationId: loc, OpportunityId: "abc"})
			return err
		}, []string{"status"}},
		{"status with a lost reason but not lost", func() error {
			_, err := op.UpdateOpportunityStatus(ctx, &hlgatev1.UpdateOpportunityStatusRequest{LocationId: loc, OpportunityId: "abc",
				Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON, LostReasonId: "r1"})
			return err
		}, []string{"lost_reason_id"}},
		{"status with a bad lost reason and unknown status", func() error {
			_, err := op.UpdateOpportunityStatus(ctx, &hlgatev1.UpdateOpportunityStatusRequest{OpportunityId: "a b", Status: 7, LostReasonId: "r?"})
			return err
		}, []string{"location_id", "opportunity_id", "status", "lost_reason_id"}},
		{"delete without ids", func() error {
			_, err := op.DeleteOpportunity(ctx, &hlgatev1.DeleteOpportunityRequest{OpportunityId: "x&y=z"})
			return err
		}, []string{"location_id", "opportunity_id"}},
		{"search with bad filters", func() error {
			_, err := op.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{LocationId: "", PipelineId: "a&b", PipelineStageId: "s s",
				ContactId: "c=1", AssignedTo: "u/1", Status: 9, Query: strings.Repeat("q", 1001)})
			return err
		}, []string{"location_id", "pipeline_id", "pipeline_stage_id", "contact_id", "assigned_to", "status", "query"}},
		{"search with a negative page size", func() error {
			_, err := op.SearchOpportunities(ctx, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc, PageSize: -1})
			return err
		}, []string{"page_size"}},
		{"pipelines without location", func() error {
			_, err := op.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{})
			return err
		}, []string{"location_id"}},
		{"pipelines with a negative page size", func() error {
			_, err := op.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc, PageSize: -5})
			return err
		}, []string{"page_size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := sandboxRequests(h.sb)
			st := wantStatus(t, tc.call(), codes.InvalidArgument, ReasonInvalidArgument)
			for _, f := range tc.fields {
				wantFieldViolation(t, st, f)
			}
			if after := sandboxRequests(h.sb); after != before {
				t.Fatalf("invalid request reached the sandbox: %d → %d", before, after)
			}
		})
	}
}

// fakeUpstream answers HighLevel's opportunity paths with fixed bodies, for
// answers the sandbox never gives: a record of another location, an empty
// 2xx body, an unconfirmed write.
func fakeUpstream(t testing.TB, bodies map[string]string) *opportunitiesService {
	t.Helper()
	return &opportunitiesService{s: fakeHL(t, func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.Method+" "+r.URL.Path]
		if !ok {
			t.Errorf("unexpected upstream call %s %s", r.Method, r.URL.Path)
			http.Error(w, `{"message":"unexpected"}`, http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = w.Write([]byte(b))
	})}
}

// callForward calls an RPC of the generic path directly, past gRPC and
// the interceptors.
func callForward(ctx context.Context, s *Server, method string, req proto.Message) (proto.Message, error) {
	f, ok := forwards[method]
	if !ok {
		return nil, fmt.Errorf("%s is not served by the generic path", method)
	}
	return f.call(ctx, s, req)
}

// noTokens satisfies Config.Tokens for services that never touch tokens.
type noTokens struct{ TokenAdmin }

func TestOpportunitiesRefuseOtherLocationsAndUnconfirmedWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const loc, other = "LocationA0000000001", "LocationB0000000002"
	svc := fakeUpstream(t, map[string]string{
		"GET /opportunities/opp1":         `{"opportunity":{"id":"opp1","locationId":"` + other + `"}}`,
		"PUT /opportunities/opp1":         `{"opportunity":{"id":"opp1","locationId":"` + other + `"}}`,
		"GET /opportunities/search":       `{"opportunities":[{"id":"a","locationId":"` + loc + `"},{"id":"b","locationId":"` + other + `"}],"meta":{"total":2}}`,
		"GET /opportunities/pipelines":    `{"pipelines":[{"id":"p1","locationId":"` + other + `","stages":[]}]}`,
		"GET /opportunities/empty":        `{}`,
		"DELETE /opportunities/opp1":      `{"succeded":false}`,
		"PUT /opportunities/opp1/status":  `{}`,
		"POST /opportunities/":            `{}`,
		"GET /opportunities/opp2":         `{"opportunity":{"id":"opp2","locationId":"` + loc + `","status":"open"}}`,
		"DELETE /opportunities/confirmed": `{"succeded":true}`,
	})

	getOpportunity := hlgatev1.OpportunitiesService_GetOpportunity_FullMethodName
	_, err := callForward(ctx, svc.s, getOpportunity, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: "opp1"})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_UpdateOpportunity_FullMethodName, &hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: "opp1", Opportunity: &hlgatev1.Opportunity{Name: "n"}})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_SearchOpportunities_FullMethodName, &hlgatev1.SearchOpportunitiesRequest{LocationId: loc})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_ListPipelines_FullMethodName, &hlgatev1.ListPipelinesRequest{LocationId: loc})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)

	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_DeleteOpportunity_FullMethodName, &hlgatev1.DeleteOpportunityRequest{LocationId: loc, OpportunityId: "opp1"})
	wantStatus(t, err, codes.Aborted, ReasonUpstreamError)
	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_UpdateOpportunityStatus_FullMethodName, &hlgatev1.UpdateOpportunityStatusRequest{LocationId: loc, OpportunityId: "opp1", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_WON})
	wantStatus(t, err, codes.Aborted, ReasonUpstreamError)
	if _, err := callForward(ctx, svc.s, getOpportunity, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: "empty"}); !errors.Is(err, errMissingBody) {
		t.Errorf("empty get body: %v, want errMissingBody", err)
	}
	_, err = callForward(ctx, svc.s, hlgatev1.OpportunitiesService_CreateOpportunity_FullMethodName, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: &hlgatev1.Opportunity{
		Name: "n", PipelineId: "p", Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, ContactId: "c",
	}})
	if !errors.Is(err, errMissingBody) {
		t.Errorf("empty create body: %v, want errMissingBody", err)
	}

	// The same location's record is returned.
	got, err := callForward(ctx, svc.s, getOpportunity, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: "opp2"})
	if err != nil || got.(*hlgatev1.GetOpportunityResponse).GetOpportunity().GetStatus() != hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN {
		t.Errorf("own record: %v, %v", got, err)
	}
	if _, err := callForward(ctx, svc.s, hlgatev1.OpportunitiesService_DeleteOpportunity_FullMethodName, &hlgatev1.DeleteOpportunityRequest{LocationId: loc, OpportunityId: "confirmed"}); err != nil {
		t.Errorf("confirmed delete: %v", err)
	}
}
