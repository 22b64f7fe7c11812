package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// sentBodies records the JSON bodies hlgate sends upstream for one method
// and path prefix, in order.
type sentBodies struct {
	mu     sync.Mutex
	method string
	prefix string
	bodies []map[string]any
}

func (s *sentBodies) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == s.method && strings.HasPrefix(r.URL.Path, s.prefix) {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var m map[string]any
			if err := json.Unmarshal(b, &m); err == nil {
				s.mu.Lock()
				s.bodies = append(s.bodies, m)
				s.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *sentBodies) last(t *testing.T) map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) == 0 {
		t.Fatalf("nothing was sent as %s %s…", s.method, s.prefix)
	}
	return s.bodies[len(s.bodies)-1]
}

// customValues is one value of every custom field data type the sandbox
// seeds for model, keyed by field id, in the JSON type HighLevel keeps it.
func customValues(t *testing.T, sb *sandbox.Sandbox, model string) map[string]*structpb.Value {
	t.Helper()
	list := func(vs ...any) *structpb.Value {
		l, err := structpb.NewList(vs)
		if err != nil {
			t.Fatal(err)
		}
		return structpb.NewListValue(l)
	}
	out := map[string]*structpb.Value{}
	for _, d := range sb.CustomFields(sandbox.DemoLocationID) {
		if d.Model != model {
			continue
		}
		switch d.DataType {
		case sandbox.FieldText:
			out[d.ID] = structpb.NewStringValue("plain text")
		case sandbox.FieldNumerical:
			out[d.ID] = structpb.NewNumberValue(42)
		case sandbox.FieldMonetory:
			out[d.ID] = structpb.NewNumberValue(1234.5)
		case sandbox.FieldCheckbox, sandbox.FieldMultipleOptions:
			out[d.ID] = list(d.PicklistOptions[0], d.PicklistOptions[len(d.PicklistOptions)-1])
		case sandbox.FieldFileUpload:
			out[d.ID] = list(map[string]any{"url": "https://files.example.com/a.pdf", "meta": map[string]any{"size": 1024.0}})
		default:
			t.Fatalf("no test value for data type %s", d.DataType)
		}
	}
	if len(out) < 6 {
		t.Fatalf("the sandbox seeds %d %s custom fields, want one of each of the 6 types", len(out), model)
	}
	return out
}

func customFieldList(vals map[string]*structpb.Value) []*hlgatev1.CustomField {
	var out []*hlgatev1.CustomField
	for id, v := range vals {
		out = append(out, &hlgatev1.CustomField{Id: id, Value: v})
	}
	return out
}

// checkCustomValues fails unless got holds every value of want, by id, with
// the same JSON type and value.
func checkCustomValues(t *testing.T, what string, want map[string]*structpb.Value, got []*hlgatev1.CustomField) {
	t.Helper()
	seen := map[string]*structpb.Value{}
	for _, cf := range got {
		seen[cf.GetId()] = cf.GetValue()
	}
	for id, v := range want {
		if d := cmp.Diff(v, seen[id], protocmp.Transform()); d != "" {
			t.Errorf("%s: custom field %s (-written +read):\n%s", what, id, d)
		}
	}
}

// sameJSONTypes fails unless every custom field value sent upstream has the
// JSON value (and so the type) read.
func sameJSONTypes(t *testing.T, sent map[string]any, read []*hlgatev1.CustomField) {
	t.Helper()
	byID := map[string]any{}
	cfs, _ := sent["customFields"].([]any)
	for _, cf := range cfs {
		m := cf.(map[string]any)
		byID[m["id"].(string)] = m["field_value"]
	}
	for _, cf := range read {
		if d := cmp.Diff(cf.GetValue().AsInterface(), byID[cf.GetId()]); d != "" {
			t.Errorf("custom field %s written back (-read +sent):\n%s", cf.GetId(), d)
		}
	}
}

// A contact with custom fields of every type, read and written back
// unchanged without a mask, over gRPC and over REST: the write succeeds
// (company_name, which the update does not take, is left out, not
// refused), HighLevel receives every value with its JSON type, and the
// contact reads back the same.
func TestContactReadWrittenBack(t *testing.T) {
	t.Parallel()
	sent := &sentBodies{method: http.MethodPut, prefix: "/contacts/"}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: sent.wrap})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	vals := customValues(t, h.sb, "contact")
	created, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{
		FirstName: "Grace", LastName: "Hopper", Email: "grace@example.com", CompanyName: "Navy",
		Tags: []string{"admiral"}, CustomFields: customFieldList(vals),
	}})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	id := created.GetContact().GetId()
	checkCustomValues(t, "create answer", vals, created.GetContact().GetCustomFields())

	t.Run("gRPC", func(t *testing.T) {
		read, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if err != nil {
			t.Fatalf("GetContact: %v", err)
		}
		checkCustomValues(t, "read", vals, read.GetContact().GetCustomFields())
		if read.GetContact().GetCompanyName() != "Navy" {
			t.Fatalf("company_name = %q", read.GetContact().GetCompanyName())
		}
		if _, err := h.contacts.UpdateContact(ctx, &hlgatev1.UpdateContactRequest{LocationId: loc, ContactId: id, Contact: read.GetContact()}); err != nil {
			t.Fatalf("UpdateContact with the contact read: %v", err)
		}
		body := sent.last(t)
		sameJSONTypes(t, body, read.GetContact().GetCustomFields())
		for _, k := range []string{"companyName", "id", "locationId", "dateAdded", "unmapped"} {
			if _, ok := body[k]; ok {
				t.Errorf("the update sent %s, which it does not take", k)
			}
		}
		again, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: id})
		if err != nil {
			t.Fatal(err)
		}
		ignore := protocmp.IgnoreFields(&hlgatev1.Contact{}, "date_updated")
		if d := cmp.Diff(read.GetContact(), again.GetContact(), protocmp.Transform(), ignore); d != "" {
			t.Errorf("read after writing back (-before +after):\n%s", d)
		}
	})

	t.Run("REST", func(t *testing.T) {
		path := "/v1/locations/" + loc + "/contacts/" + id
		code, _, body := h.rest(http.MethodGet, path, "", nil)
		if code != http.StatusOK {
			t.Fatalf("GET contact = %d %s", code, body)
		}
		var got struct {
			Contact json.RawMessage `json:"contact"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		code, _, updated := h.rest(http.MethodPatch, path, "", bytes.NewReader(got.Contact))
		if code != http.StatusOK {
			t.Fatalf("PATCH the contact read = %d %s", code, updated)
		}
		var read hlgatev1.GetContactResponse
		if err := protojsonUnmarshal(body, &read); err != nil {
			t.Fatal(err)
		}
		sameJSONTypes(t, sent.last(t), read.GetContact().GetCustomFields())
		_, _, after := h.rest(http.MethodGet, path, "", nil)
		var again hlgatev1.GetContactResponse
		if err := protojsonUnmarshal(after, &again); err != nil {
			t.Fatal(err)
		}
		ignore := protocmp.IgnoreFields(&hlgatev1.Contact{}, "date_updated")
		if d := cmp.Diff(read.GetContact(), again.GetContact(), protocmp.Transform(), ignore); d != "" {
			t.Errorf("read after writing back over REST (-before +after):\n%s", d)
		}
	})
}

// The same for an opportunity: contact_id, source and lost_reason_id come
// back from a read and are not taken by an update; writing the read back
// leaves them out and succeeds.
func TestOpportunityReadWrittenBackOverGRPCAndREST(t *testing.T) {
	t.Parallel()
	sent := &sentBodies{method: http.MethodPut, prefix: "/opportunities/"}
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: sent.wrap})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID
	contact := firstContactID(t, h)
	pipelines, err := h.opportunities.ListPipelines(ctx, &hlgatev1.ListPipelinesRequest{LocationId: loc})
	if err != nil || len(pipelines.GetPipelines()) == 0 {
		t.Fatalf("ListPipelines: %v", err)
	}
	pl := pipelines.GetPipelines()[0]
	vals := customValues(t, h.sb, "opportunity")
	created, err := h.opportunities.CreateOpportunity(ctx, &hlgatev1.CreateOpportunityRequest{LocationId: loc, Opportunity: &hlgatev1.Opportunity{
		Name: "Implants", PipelineId: pl.GetId(), PipelineStageId: pl.GetStages()[0].GetId(), ContactId: contact,
		Status: hlgatev1.OpportunityStatus_OPPORTUNITY_STATUS_OPEN, MonetaryValue: 5000, CustomFields: customFieldList(vals),
	}})
	if err != nil {
		t.Fatalf("CreateOpportunity: %v", err)
	}
	id := created.GetOpportunity().GetId()
	read, err := h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: id})
	if err != nil {
		t.Fatalf("GetOpportunity: %v", err)
	}
	checkCustomValues(t, "read", vals, read.GetOpportunity().GetCustomFields())
	if _, err := h.opportunities.UpdateOpportunity(ctx, &hlgatev1.UpdateOpportunityRequest{LocationId: loc, OpportunityId: id, Opportunity: read.GetOpportunity()}); err != nil {
		t.Fatalf("UpdateOpportunity with the opportunity read: %v", err)
	}
	body := sent.last(t)
	sameJSONTypes(t, body, read.GetOpportunity().GetCustomFields())
	if _, ok := body["contactId"]; ok {
		t.Error("the update sent contactId, which it does not take")
	}
	path := "/v1/locations/" + loc + "/opportunities/" + id
	code, _, got := h.rest(http.MethodGet, path, "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET opportunity = %d %s", code, got)
	}
	var wrapped struct {
		Opportunity json.RawMessage `json:"opportunity"`
	}
	if err := json.Unmarshal(got, &wrapped); err != nil {
		t.Fatal(err)
	}
	if code, _, b := h.rest(http.MethodPatch, path, "", bytes.NewReader(wrapped.Opportunity)); code != http.StatusOK {
		t.Fatalf("PATCH the opportunity read = %d %s", code, b)
	}
	again, err := h.opportunities.GetOpportunity(ctx, &hlgatev1.GetOpportunityRequest{LocationId: loc, OpportunityId: id})
	if err != nil {
		t.Fatal(err)
	}
	ignore := protocmp.IgnoreFields(&hlgatev1.Opportunity{}, "updated_at", "last_action_date")
	if d := cmp.Diff(read.GetOpportunity(), again.GetOpportunity(), protocmp.Transform(), ignore); d != "" {
		t.Errorf("read after writing back twice (-before +after):\n%s", d)
	}
}

// protojsonUnmarshal reads a gateway answer into m.
func protojsonUnmarshal(b []byte, m proto.Message) error {
	return protojson.Unmarshal(b, m)
}
