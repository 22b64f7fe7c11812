package server

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/structpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/internal/jsonproto"
	"github.com/hlgate/hlgate/sandbox"
)

// rewriteAnswers stands between hlgate and the sandbox and edits the JSON
// answers of the requests match selects, to answer as the live API does
// where the sandbox cannot.
func rewriteAnswers(match func(*http.Request) bool, edit func(body map[string]any)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !match(r) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			var body map[string]any
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
				w.WriteHeader(rec.Code)
				_, _ = w.Write(rec.Body.Bytes())
				return
			}
			edit(body)
			b, _ := json.Marshal(body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(b)
		})
	}
}

// liveContact answers GetContact as HighLevel does for contacts with
// Checkbox, Numeric and File custom fields and keys its document does not
// declare (reference facts: custom field values are strings, numbers,
// arrays or objects; some times arrive as epoch ms).
var liveContact = rewriteAnswers(func(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/contacts/") && strings.Count(r.URL.Path, "/") == 2
}, func(body map[string]any) {
	c := body["contact"].(map[string]any)
	c["customFields"] = []any{
		map[string]any{"id": "checkbox", "value": []any{"red", "blue"}},
		map[string]any{"id": "numeric", "value": 42.5},
		map[string]any{"id": "file", "value": map[string]any{"url": "https://example.com/f.pdf", "meta": map[string]any{"size": 7}}},
	}
	c["dateAdded"] = 1796169600000
	c["emailLowerCase"] = "ada@example.com"
	c["visitorId"] = "v-1"
	c["attributionSource"] = map[string]any{"url": "https://example.com", "fbp": "fb.1.2", "adSetId": "as-1"}
	c["loyaltyTier"] = "gold"
	c["opportunityCount"] = 3
})

// liveSearch answers contact searches the same way.
var liveSearch = rewriteAnswers(func(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/contacts/search"
}, func(body map[string]any) {
	for _, c := range body["contacts"].([]any) {
		c.(map[string]any)["customFields"] = []any{map[string]any{"id": "multi", "value": []any{"a", 1.0, true}}}
		c.(map[string]any)["keyword"] = "kw"
		c.(map[string]any)["loyaltyTier"] = "gold"
	}
})

// A contact with custom fields of every type and undeclared keys reads
// without loss over gRPC and REST: values keep their JSON types, the keys no
// field declares arrive in unmapped, and each is counted. Before, such a
// contact failed GetContact with INTERNAL.
func TestGetContactIsLossless(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: liveContact})
	id := firstContactID(t, h)
	resp, err := h.contacts.GetContact(h.ctx(""), &hlgatev1.GetContactRequest{LocationId: sandbox.DemoLocationID, ContactId: id})
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	c := resp.GetContact()
	want := []*hlgatev1.CustomField{
		{Id: "checkbox", Value: structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewStringValue("red"), structpb.NewStringValue("blue")}})},
		{Id: "numeric", Value: structpb.NewNumberValue(42.5)},
		{Id: "file", Value: structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{
			"url":  structpb.NewStringValue("https://example.com/f.pdf"),
			"meta": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"size": structpb.NewNumberValue(7)}}),
		}})},
	}
	if diff := cmp.Diff(want, c.GetCustomFields(), protocmp.Transform()); diff != "" {
		t.Errorf("custom fields (-want +got):\n%s", diff)
	}
	if got := c.GetDateAdded().AsTime().UnixMilli(); got != 1796169600000 {
		t.Errorf("dateAdded sent as epoch ms read as %d", got)
	}
	if a := c.GetAttributionSource(); a.GetUrl() != "https://example.com" || a.GetFbp() != "fb.1.2" {
		t.Errorf("attribution source %v", a)
	}
	// The documented keys the old conversion dropped without a trace have
	// fields now; the sandbox sends the *LowerCase ones itself.
	if c.GetEmailLowerCase() != "ada@example.com" || c.GetVisitorId() != "v-1" || c.GetFirstNameLowerCase() == "" {
		t.Errorf("emailLowerCase %q, visitorId %q, firstNameLowerCase %q", c.GetEmailLowerCase(), c.GetVisitorId(), c.GetFirstNameLowerCase())
	}
	// The keys no document declares are kept, with their JSON types.
	unmapped := c.GetUnmapped().AsMap()
	want2 := map[string]any{"loyaltyTier": "gold", "opportunityCount": 3.0, "attributionSource.adSetId": "as-1"}
	if diff := cmp.Diff(want2, unmapped); diff != "" {
		t.Errorf("unmapped (-want +got):\n%s", diff)
	}
	if n := testutil.ToFloat64(h.srv.metrics.unmapped.WithLabelValues("get-contact", "undeclared", "true")); int(n) != len(unmapped) {
		t.Errorf("undeclared keys counted %v times, want %d (one per kept key)", n, len(unmapped))
	}
	if n := testutil.ToFloat64(h.srv.metrics.unmapped.WithLabelValues("get-contact", "coerced", "true")); n != 1 {
		t.Errorf("coerced values counted %v times, want 1 (dateAdded)", n)
	}

	// The same over REST, in JSON: the values keep their JSON types.
	code, _, body := h.rest(http.MethodGet, "/v1/locations/"+sandbox.DemoLocationID+"/contacts/"+id, "", nil)
	if code != http.StatusOK {
		t.Fatalf("REST GetContact: %d %s", code, body)
	}
	var viaREST hlgatev1.GetContactResponse
	if err := protojson.Unmarshal(body, &viaREST); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(resp, &viaREST, protocmp.Transform()); diff != "" {
		t.Errorf("REST and gRPC differ (-gRPC +REST):\n%s", diff)
	}
	for _, s := range []string{`"value":["red","blue"]`, `"value":42.5`, `"emailLowerCase":"ada@example.com"`, `"loyaltyTier":"gold"`} {
		if !bytes.Contains(bytes.ReplaceAll(body, []byte(" "), nil), []byte(s)) {
			t.Errorf("REST body lacks %s: %s", s, body)
		}
	}
}

// A search walks to its end through page_token with every contact intact:
// polymorphic custom field values, undeclared keys kept, and the cursor
// HighLevel puts on each contact used for paging, not handed to callers as
// contact data.
func TestSearchContactsIsLossless(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}, wrapUpstream: liveSearch})
	seen := map[string]bool{}
	token, pages := "", 0
	for {
		resp, err := h.contacts.SearchContacts(h.ctx(""), &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 200, PageToken: token})
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, c := range resp.GetContacts() {
			if seen[c.GetId()] {
				t.Fatalf("contact %s twice", c.GetId())
			}
			seen[c.GetId()] = true
			vals := c.GetCustomFields()[0].GetValue().GetListValue().GetValues()
			if len(vals) != 3 || vals[0].GetStringValue() != "a" || vals[1].GetNumberValue() != 1 || !vals[2].GetBoolValue() {
				t.Errorf("%s: custom field value %v", c.GetId(), c.GetCustomFields())
			}
			u := c.GetUnmapped().AsMap()
			if c.GetKeyword() != "kw" || u["loyaltyTier"] != "gold" {
				t.Errorf("%s: keyword %q, unmapped %v", c.GetId(), c.GetKeyword(), u)
			}
			if _, ok := u["searchAfter"]; ok {
				t.Errorf("%s: the paging cursor is handed out as contact data", c.GetId())
			}
		}
		if token = resp.GetNextPageToken(); token == "" {
			if int32(len(seen)) != resp.GetTotalSize() {
				t.Fatalf("walked %d contacts, HighLevel counts %d", len(seen), resp.GetTotalSize())
			}
			break
		}
		if pages > 100 {
			t.Fatal("no end after 100 pages")
		}
	}
	if pages < 2 {
		t.Fatalf("%d page(s): the walk did not page", pages)
	}
}

// TestCountUnmappedByKind: countUnmapped adds each finding to the counter
// of its kind and keeping, however many kinds a report mixes.
func TestCountUnmappedByKind(t *testing.T) {
	s := &Server{metrics: NewMetrics()}
	var rep jsonproto.Report
	want := map[string]int{}
	for i := range 12 { // more (kind, kept) pairs than countUnmapped batches
		kind := jsonproto.Kind("kind" + strconv.Itoa(i%10))
		for range i%3 + 1 {
			rep = append(rep, jsonproto.Finding{Kind: kind, Kept: i%2 == 0})
		}
		want[string(kind)+"/"+strconv.FormatBool(i%2 == 0)] += i%3 + 1
	}
	s.countUnmapped(context.Background(), rep)
	for key, n := range want {
		kind, kept, _ := strings.Cut(key, "/")
		if got := testutil.ToFloat64(s.metrics.unmapped.WithLabelValues("unknown", kind, kept)); int(got) != n {
			t.Errorf("%s kept=%s counted %v, want %d", kind, kept, got, n)
		}
	}
}
