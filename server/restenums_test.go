package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/sandbox"
)

// REST takes HighLevel's own enum strings ("won", "Lost") as well as the
// proto names, in bodies and in query parameters; answers keep the proto
// names; a value of neither kind is a 400 naming the field and the values
// it takes, as HighLevel spells them.
func TestRESTTakesHighLevelEnumSpellings(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	contactID, pl := newOpportunityFixture(t, h, h.ctx(""), "enum.spellings@example.com")
	base := "/v1/locations/" + sandbox.DemoLocationID + "/opportunities"

	// A body with HighLevel's spelling.
	code, _, body := h.rest(http.MethodPost, base, "", strings.NewReader(`{"name":"Spelled","pipelineId":"`+pl.GetId()+
		`","status":"open","contactId":"`+contactID+`"}`))
	var created struct {
		Opportunity struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"opportunity"`
	}
	if err := json.Unmarshal(body, &created); code != http.StatusOK || err != nil || created.Opportunity.Status != "OPPORTUNITY_STATUS_OPEN" {
		t.Fatalf("POST with status \"open\" = %d %s, want 200 answering OPPORTUNITY_STATUS_OPEN", code, body)
	}
	id := created.Opportunity.ID

	statusOf := func(query string) []string {
		t.Helper()
		code, _, body := h.rest(http.MethodGet, base+"?"+url.Values{"contactId": {contactID}}.Encode()+"&"+query, "", nil)
		var found struct {
			Opportunities []struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"opportunities"`
		}
		if err := json.Unmarshal(body, &found); code != http.StatusOK || err != nil {
			t.Fatalf("GET ?%s = %d %s", query, code, body)
		}
		var out []string
		for _, o := range found.Opportunities {
			if o.ID == id {
				out = append(out, o.Status)
			}
		}
		return out
	}
	for _, tc := range []struct{ sent, query, want string }{
		{"won", "status=won", "OPPORTUNITY_STATUS_WON"},
		{"Lost", "status=LOST", "OPPORTUNITY_STATUS_LOST"},
		{"OPPORTUNITY_STATUS_ABANDONED", "status=abandoned", "OPPORTUNITY_STATUS_ABANDONED"},
		{"open", "status=OPPORTUNITY_STATUS_OPEN", "OPPORTUNITY_STATUS_OPEN"},
	} {
		code, _, body := h.rest(http.MethodPost, base+"/"+id+":updateStatus", "", strings.NewReader(`{"status":"`+tc.sent+`"}`))
		if code != http.StatusOK {
			t.Fatalf(":updateStatus %q = %d %s", tc.sent, code, body)
		}
		if got := statusOf(tc.query); len(got) != 1 || got[0] != tc.want {
			t.Fatalf("after status %q, GET ?%s lists it as %v, want [%s]", tc.sent, tc.query, got, tc.want)
		}
	}

	accepted := "must be one of open, won, lost, abandoned (or the proto names OPPORTUNITY_STATUS_OPEN, OPPORTUNITY_STATUS_WON, OPPORTUNITY_STATUS_LOST, OPPORTUNITY_STATUS_ABANDONED)"
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"body", http.MethodPost, base + "/" + id + ":updateStatus", `{"status":"closed"}`, "status"},
		{"body, not a string", http.MethodPost, base + "/" + id + ":updateStatus", `{"status":true}`, "status"},
		{"query", http.MethodGet, base + "?status=closed", "", "status"},
	} {
		var code int
		var body []byte
		if tc.body != "" {
			code, _, body = h.rest(tc.method, tc.path, "", strings.NewReader(tc.body))
		} else {
			code, _, body = h.rest(tc.method, tc.path, "", nil)
		}
		if code != http.StatusBadRequest {
			t.Fatalf("%s: %d %s, want 400", tc.name, code, body)
		}
		st := restStatus(t, body)
		desc, ok := violation(st, tc.field)
		if !ok || !strings.HasPrefix(desc, accepted) || reasonOf(st) != ReasonInvalidArgument {
			t.Fatalf("%s: %s, want a violation of %s saying %q", tc.name, body, tc.field, accepted)
		}
	}
}

// A body's enum strings are read the same way at every depth and in every
// enum: an appointment's "cancelled" and "noshow", a calendar's
// "round_robin", a filter's "not_eq" inside a list.
func TestRESTBodyEnumSpellings(t *testing.T) {
	t.Parallel()
	m := &restMarshaler{}
	var appt hlgatev1.Appointment
	if err := m.Unmarshal([]byte(`{"appointmentStatus":"cancelled","meetingLocationType":"ms_teams"}`), &appt); err != nil {
		t.Fatal(err)
	}
	if appt.GetAppointmentStatus() != hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_CANCELLED ||
		appt.GetMeetingLocationType() != hlgatev1.MeetingLocationType_MEETING_LOCATION_TYPE_MS_TEAMS {
		t.Errorf("decoded %v", &appt)
	}
	var search hlgatev1.SearchContactsRequest
	if err := m.Unmarshal([]byte(`{"filters":[{"field":"email","operator":"not_eq","value":"a@example.com"}]}`), &search); err != nil {
		t.Fatal(err)
	}
	if got := search.GetFilters()[0].GetOperator(); got != hlgatev1.FilterOperator_FILTER_OPERATOR_NOT_EQ {
		t.Errorf("filters[0].operator = %s", got)
	}
	err := m.Unmarshal([]byte(`{"filters":[{"operator":"nope"}]}`), &search)
	if ie, ok := err.(restInputError); !ok || len(ie) != 1 || ie[0].GetField() != "filters[0].operator" || !strings.Contains(ie[0].GetDescription(), "not_eq") {
		t.Errorf("unknown operator: %v, want a violation of filters[0].operator listing not_eq", err)
	}
	// A body bound to a message field (body: "contact") is a pointer to
	// the field's pointer.
	var dst *hlgatev1.Appointment
	if err := m.Unmarshal([]byte(`{"appointmentStatus":"noshow"}`), &dst); err != nil || dst.GetAppointmentStatus() != hlgatev1.AppointmentStatus_APPOINTMENT_STATUS_NOSHOW {
		t.Errorf("into a field: %v %v", dst, err)
	}
}

// Every value of every hlgate.v1 enum but the zero value is read back from
// HighLevel's spelling of it and from its proto name, so the REST spelling
// needs nothing per enum.
func TestEveryEnumSpellingIsRead(t *testing.T) {
	t.Parallel()
	n := 0
	protoregistry.GlobalTypes.RangeEnums(func(et protoreflect.EnumType) bool {
		ed := et.Descriptor()
		if ed.ParentFile().Package() != "hlgate.v1" {
			return true
		}
		values := ed.Values()
		for i := 0; i < values.Len(); i++ {
			ev := values.Get(i)
			if ev.Number() == 0 {
				continue
			}
			n++
			for _, s := range []string{jsonproto.EnumSpelling(ev), string(ev.Name())} {
				if got, ok := jsonproto.ParseEnum(ed, s); !ok || got != ev {
					t.Errorf("%s: %q reads as %v", ev.FullName(), s, got)
				}
			}
		}
		return true
	})
	if n < 20 {
		t.Fatalf("only %d enum values found in hlgate.v1", n)
	}
}
