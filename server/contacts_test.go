package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"

	hlgatev1 "github.com/hlgate/hlgate/gen/proto/hlgate/v1"
	"github.com/hlgate/hlgate/sandbox"
)

// wantStatus fails unless err is a status with code and, when reason is not
// empty, an ErrorInfo of that reason in domain hlgate. It returns the status.
func wantStatus(t *testing.T, err error, code codes.Code, reason string) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("error %v is not a gRPC status", err)
	}
	if st.Code() != code {
		t.Fatalf("code = %s (%s), want %s", st.Code(), st.Message(), code)
	}
	if reason == "" {
		return st
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetReason() != reason || info.GetDomain() != ErrorDomain {
				t.Fatalf("ErrorInfo = %s/%s, want %s/%s", info.GetDomain(), info.GetReason(), ErrorDomain, reason)
			}
			return st
		}
	}
	t.Fatalf("status %s has no ErrorInfo (want reason %s)", st.Message(), reason)
	return nil
}

// wantFieldViolation fails unless the status names field in a BadRequest.
func wantFieldViolation(t *testing.T, st *status.Status, field string) {
	t.Helper()
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return
				}
			}
		}
	}
	t.Fatalf("status %q names no violation of %s", st.Message(), field)
}

func TestContactsLifecycleOverGRPC(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	loc := sandbox.DemoLocationID

	created, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{
		LocationId: loc,
		Contact: &hlgatev1.Contact{
			FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com", Phone: "+14155550123",
			Tags: []string{"vip"},
		},
	})
	if err != nil {
		t.Fatalf("CreateContact: %v", err)
	}
	c := created.GetContact()
	if c.GetId() == "" || c.GetFirstName() != "Ada" || c.GetEmail() != "ada@example.com" || c.GetLocationId() != loc {
		t.Fatalf("created contact = %v", c)
	}

	got, err := h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: c.GetId()})
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	if got.GetContact().GetLastName() != "Lovelace" || got.GetContact().GetDateAdded() == nil {
		t.Fatalf("got contact = %v", got.GetContact())
	}

	// Only the masked field changes; first_name in the message is ignored.
	upd, err := h.contacts.UpdateContact(ctx, &hlgatev1.UpdateContactRequest{
		LocationId: loc, ContactId: c.GetId(),
		Contact:    &hlgatev1.Contact{FirstName: "Ignored", City: "London"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"city"}},
	})
	if err != nil {
		t.Fatalf("UpdateContact: %v", err)
	}
	if upd.GetContact().GetCity() != "London" || upd.GetContact().GetFirstName() != "Ada" {
		t.Fatalf("updated contact = %v", upd.GetContact())
	}

	tags, err := h.contacts.AddContactTags(ctx, &hlgatev1.AddContactTagsRequest{LocationId: loc, ContactId: c.GetId(), Tags: []string{"newsletter"}})
	if err != nil {
		t.Fatalf("AddContactTags: %v", err)
	}
	if !contains(tags.GetTags(), "newsletter") || !contains(tags.GetTags(), "vip") {
		t.Fatalf("tags after add = %v", tags.GetTags())
	}
	tags2, err := h.contacts.RemoveContactTags(ctx, &hlgatev1.RemoveContactTagsRequest{LocationId: loc, ContactId: c.GetId(), Tags: []string{"vip"}})
	if err != nil {
		t.Fatalf("RemoveContactTags: %v", err)
	}
	if contains(tags2.GetTags(), "vip") {
		t.Fatalf("tags after remove = %v", tags2.GetTags())
	}

	found, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{
		LocationId: loc,
		Filters: []*hlgatev1.ContactFilter{{
			Field: "email", Operator: hlgatev1.FilterOperator_FILTER_OPERATOR_EQ, Value: structpb.NewStringValue("ada@example.com"),
		}},
	})
	if err != nil {
		t.Fatalf("SearchContacts: %v", err)
	}
	if len(found.GetContacts()) != 1 || found.GetContacts()[0].GetId() != c.GetId() {
		t.Fatalf("search found %d contacts: %v", len(found.GetContacts()), found.GetContacts())
	}

	up, err := h.contacts.UpsertContact(ctx, &hlgatev1.UpsertContactRequest{LocationId: loc, Contact: &hlgatev1.Contact{Email: "ada@example.com", LastName: "King"}})
	if err != nil {
		t.Fatalf("UpsertContact: %v", err)
	}
	if up.GetCreated() || up.GetContact().GetId() != c.GetId() || up.GetContact().GetLastName() != "King" {
		t.Fatalf("upsert = created %v, %v", up.GetCreated(), up.GetContact())
	}

	if _, err := h.contacts.DeleteContact(ctx, &hlgatev1.DeleteContactRequest{LocationId: loc, ContactId: c.GetId()}); err != nil {
		t.Fatalf("DeleteContact: %v", err)
	}
	_, err = h.contacts.GetContact(ctx, &hlgatev1.GetContactRequest{LocationId: loc, ContactId: c.GetId()})
	wantStatus(t, err, codes.NotFound, ReasonNotFound)
}

func TestContactsOverREST(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	base := "/v1/locations/" + sandbox.DemoLocationID + "/contacts"

	code, _, body := h.rest(http.MethodPost, base, "", strings.NewReader(`{"firstName":"Grace","email":"grace@example.com","customFields":[{"id":"cfNickname0000000001","value":"Amazing"}]}`))
	if code != http.StatusOK {
		t.Fatalf("POST contact = %d %s", code, body)
	}
	var created struct {
		Contact struct {
			ID        string `json:"id"`
			FirstName string `json:"firstName"`
		} `json:"contact"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.Contact.ID == "" || created.Contact.FirstName != "Grace" {
		t.Fatalf("POST contact body = %s (%v)", body, err)
	}

	code, _, body = h.rest(http.MethodPatch, base+"/"+created.Contact.ID+"?updateMask=lastName", "", strings.NewReader(`{"lastName":"Hopper"}`))
	if code != http.StatusOK || !strings.Contains(string(body), `"lastName":"Hopper"`) {
		t.Fatalf("PATCH contact = %d %s", code, body)
	}
	code, _, body = h.rest(http.MethodGet, base+"/"+created.Contact.ID, "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"firstName":"Grace"`) {
		t.Fatalf("GET contact = %d %s", code, body)
	}

	// Bad input is a 400 that names the field.
	code, _, body = h.rest(http.MethodPost, base, "", strings.NewReader(`{"email":"not-an-email"}`))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "contact.email") {
		t.Fatalf("POST bad email = %d %s", code, body)
	}
	code, _, body = h.rest(http.MethodDelete, base+"/"+created.Contact.ID, "", nil)
	if code != http.StatusOK {
		t.Fatalf("DELETE contact = %d %s", code, body)
	}
	code, _, _ = h.rest(http.MethodGet, base+"/"+created.Contact.ID, "", nil)
	if code != http.StatusNotFound {
		t.Fatalf("GET deleted contact = %d, want 404", code)
	}
}

// A search walked page by page reaches every contact of the location once:
// no duplicate, no gap.
func TestSearchContactsWalksEveryPage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	req := &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 170}
	seen := map[string]bool{}
	total, pages := 0, 0
	for {
		resp, err := h.contacts.SearchContacts(ctx, req)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		total = int(resp.GetTotalSize())
		for _, c := range resp.GetContacts() {
			if seen[c.GetId()] {
				t.Fatalf("contact %s returned twice", c.GetId())
			}
			seen[c.GetId()] = true
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
		if pages > 100 {
			t.Fatal("more than 100 pages")
		}
	}
	if total < 1000 || len(seen) != total {
		t.Fatalf("walked %d distinct contacts in %d pages, total_size %d", len(seen), pages, total)
	}
}

func TestSearchContactsPageTokenIsBoundToFilters(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	first, err := h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: 10})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v (token %q)", err, first.GetNextPageToken())
	}
	tok := first.GetNextPageToken()
	for name, req := range map[string]*hlgatev1.SearchContactsRequest{
		"other filters": {LocationId: sandbox.DemoLocationID, PageSize: 10, Query: "ada", PageToken: tok},
		"tampered":      {LocationId: sandbox.DemoLocationID, PageSize: 10, PageToken: tok[:len(tok)-2] + "AA"},
		"garbage":       {LocationId: sandbox.DemoLocationID, PageToken: "%%%"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.contacts.SearchContacts(ctx, req)
			st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
			wantFieldViolation(t, st, "page_token")
		})
	}
	_, err = h.contacts.SearchContacts(ctx, &hlgatev1.SearchContactsRequest{LocationId: sandbox.DemoLocationID, PageSize: -1})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "page_size")
}

func TestContactsValidationNamesEveryField(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx := h.ctx("")
	before := sandboxRequests(h.sb)
	_, err := h.contacts.CreateContact(ctx, &hlgatev1.CreateContactRequest{
		LocationId: "bad/id",
		Contact:    &hlgatev1.Contact{Email: "x@", Phone: "12", Timezone: "Mars/Olympus"},
	})
	st := wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument)
	for _, f := range []string{"location_id", "contact.email", "contact.phone", "contact.timezone"} {
		wantFieldViolation(t, st, f)
	}
	_, err = h.contacts.UpdateContact(ctx, &hlgatev1.UpdateContactRequest{
		LocationId: sandbox.DemoLocationID, ContactId: "abc",
		Contact: &hlgatev1.Contact{}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"id", "nonsense"}}, // id is ignored, nonsense is not
	})
	wantFieldViolation(t, wantStatus(t, err, codes.InvalidArgument, ReasonInvalidArgument), "update_mask")
	if after := sandboxRequests(h.sb); after != before {
		t.Fatalf("invalid requests reached the sandbox: %d → %d", before, after)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sandboxRequests counts the resource requests the sandbox has received.
func sandboxRequests(sb *sandbox.Sandbox) int64 {
	var n int64
	for _, k := range sb.Stats().Keys {
		n += k.Accepted + k.Rejected
	}
	return n
}

// ListContactNotes, added by declaration alone (docs/ADDING_AN_OPERATION.md):
// a note HighLevel sends with an undeclared key and in no id order comes
// back whole, in id order, paged, over gRPC and REST.
func TestListContactNotes(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{sandbox: sandbox.Config{QuotaOff: true}})
	ctx, loc := h.ctx(""), sandbox.DemoLocationID
	contact := firstContactID(t, h)
	for _, n := range []string{
		`{"id":"NoteB","body":"second","contactId":"` + contact + `","dateAdded":"2026-01-02T10:00:00.000Z","pinned":true,"mood":"happy"}`,
		`{"id":"NoteA","body":"first","contactId":"` + contact + `","dateAdded":"2026-01-01T10:00:00.000Z","userId":"User1"}`,
	} {
		if err := h.sb.PutDocument(loc, "/contacts/"+contact+"/notes", json.RawMessage(n)); err != nil {
			t.Fatal(err)
		}
	}
	first, err := h.contacts.ListContactNotes(ctx, &hlgatev1.ListContactNotesRequest{LocationId: loc, ContactId: contact, PageSize: 1})
	if err != nil || len(first.GetNotes()) != 1 || first.GetNotes()[0].GetId() != "NoteA" || first.GetNextPageToken() == "" {
		t.Fatalf("first page = %v, %v", first, err)
	}
	second, err := h.contacts.ListContactNotes(ctx, &hlgatev1.ListContactNotesRequest{LocationId: loc, ContactId: contact, PageSize: 1, PageToken: first.GetNextPageToken()})
	if err != nil || len(second.GetNotes()) != 1 || second.GetNextPageToken() != "" {
		t.Fatalf("second page = %v, %v", second, err)
	}
	b := second.GetNotes()[0]
	if b.GetBody() != "second" || !b.GetPinned() || b.GetDateAdded().AsTime().Day() != 2 || b.GetUnmapped().GetFields()["mood"].GetStringValue() != "happy" {
		t.Fatalf("note B = %v", b)
	}
	code, _, body := h.rest(http.MethodGet, "/v1/locations/"+loc+"/contacts/"+contact+"/notes", "", nil)
	if code != http.StatusOK || !strings.Contains(string(body), `"mood":"happy"`) || !strings.Contains(string(body), `"userId":"User1"`) {
		t.Fatalf("GET notes = %d %s", code, body)
	}
}

// TestSearchPageEnvelope: the search answer's envelope is read strictly:
// contacts a list of objects (null entries empty), total an integer, and a
// wrong type is an error naming the member rather than a page with less in
// it.
func TestSearchPageEnvelope(t *testing.T) {
	page, err := searchPage([]byte(`{"contacts":[{"id":"a","searchAfter":[1,"a"]},null],"total":41,"traceId":"x"}`))
	if err != nil {
		t.Fatalf("searchPage: %v", err)
	}
	want := []*hlgatev1.Contact{{Id: "a"}, {}}
	if d := cmp.Diff(want, page.contacts, protocmp.Transform()); d != "" || page.total != 41 || len(page.report) != 0 {
		t.Errorf("searchPage = %+v, want two contacts (a, null: empty), total 41 and nothing reported; contacts (-want +got):\n%s", page, d)
	}
	if page.searchAfter != nil {
		t.Errorf("searchAfter = %v, want none: the last contact is null", page.searchAfter)
	}
	// The cursor is the last contact's.
	page, err = searchPage([]byte(`{"contacts":[{"id":"a","searchAfter":[1,"a"]},{"id":"b","searchAfter":[2,"b"]}],"total":2}`))
	if err != nil {
		t.Fatalf("searchPage: %v", err)
	}
	if d := cmp.Diff([]any{json.Number("2"), "b"}, page.searchAfter); d != "" {
		t.Errorf("searchAfter (-want +got):\n%s", d)
	}
	if page, err := searchPage([]byte(`{"contacts":null}`)); err != nil || len(page.contacts) != 0 || page.total != 0 {
		t.Errorf("searchPage(null contacts) = %+v, %v; want an empty page", page, err)
	}
	for body, want := range map[string]string{
		`[]`:                          "want a JSON object",
		`{"contacts":{}}`:             "contacts: want a list",
		`{"contacts":["a"]}`:          "contacts[0]: want an object",
		`{"contacts":[],"total":1.5}`: "total: want an integer",
		`{"contacts":[],"total":"1"}`: "total: want an integer",
		`{"contacts":[]} x`:           "after top-level value",
	} {
		if _, err := searchPage([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("searchPage(%s) error = %v, want one containing %q", body, err, want)
		}
	}
}
